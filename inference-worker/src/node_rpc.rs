//! The worker's one question to its node: may this reader have this input?
//!
//! Other nodes read inputs given by hash from this worker (`GET /v1/inputs/{hash}`,
//! `atoma_primitives::input_read`). Whether a reader holds a role in the request is chain state,
//! which the worker never sees, so it forwards the reader's credentials to the node it is paired
//! with (`--node-rpc-url`), whose `atoma_authorizeInputRead` answers from its best block.

use std::time::Duration;

use atoma_primitives::input_read::InputReadAuth;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::{
	client::legacy::{connect::HttpConnector, Client},
	rt::TokioExecutor,
};
use serde::{Deserialize, Serialize};

/// The node must answer within this.
const NODE_DEADLINE: Duration = Duration::from_secs(5);
/// JSON-RPC error codes of `atoma_authorizeInputRead` that refuse the read itself (the node's
/// `REFUSED` and "invalid params"); any other error is the node's trouble.
const REFUSAL_CODES: [i64; 2] = [7001, -32602];

/// Why a read was not authorized.
#[derive(Debug, PartialEq, Eq)]
pub enum AccessError {
	/// The node refused it: the message says why (no role, a bad signature, stale, ...).
	Refused(String),
	/// The node could not be asked, or failed to answer.
	NodeUnavailable(String),
}

/// A JSON-RPC client of the paired node.
#[derive(Clone)]
pub struct NodeRpc {
	url: String,
	client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for NodeRpc {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("NodeRpc").field("url", &self.url).finish()
	}
}

#[derive(Serialize)]
struct RpcCall<'a> {
	jsonrpc: &'static str,
	id: u32,
	method: &'static str,
	params: [&'a InputReadAuth; 1],
}

#[derive(Deserialize)]
struct RpcReply {
	#[serde(default)]
	error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
	code: i64,
	message: String,
}

impl NodeRpc {
	/// A client of the node's HTTP JSON-RPC endpoint at `url` (e.g. `http://127.0.0.1:9944`).
	pub fn new(url: String) -> Self {
		Self { url, client: Client::builder(TokioExecutor::new()).build_http() }
	}

	/// Ask the node whether the holder of `auth` may read the input.
	pub async fn authorize(&self, auth: &InputReadAuth) -> Result<(), AccessError> {
		let call =
			RpcCall { jsonrpc: "2.0", id: 1, method: "atoma_authorizeInputRead", params: [auth] };
		let body = serde_json::to_vec(&call)
			.map_err(|e| AccessError::NodeUnavailable(format!("encoding the call: {e}")))?;
		let request = hyper::Request::post(&self.url)
			.header(hyper::header::CONTENT_TYPE, "application/json")
			.body(Full::new(Bytes::from(body)))
			.map_err(|e| AccessError::NodeUnavailable(format!("bad node URL: {e}")))?;
		let unavailable = |e: String| AccessError::NodeUnavailable(e);
		let response = tokio::time::timeout(NODE_DEADLINE, self.client.request(request))
			.await
			.map_err(|_| unavailable("the node did not answer in time".to_owned()))?
			.map_err(|e| unavailable(format!("the node is unreachable: {e}")))?;
		let bytes = tokio::time::timeout(NODE_DEADLINE, response.into_body().collect())
			.await
			.map_err(|_| unavailable("the node did not answer in time".to_owned()))?
			.map_err(|e| unavailable(format!("reading the node's answer: {e}")))?
			.to_bytes();
		let reply: RpcReply = serde_json::from_slice(&bytes)
			.map_err(|e| unavailable(format!("the node's answer is not JSON-RPC: {e}")))?;
		match reply.error {
			None => Ok(()),
			Some(e) if REFUSAL_CODES.contains(&e.code) => Err(AccessError::Refused(e.message)),
			Some(e) => Err(unavailable(format!("the node failed: {} ({})", e.message, e.code))),
		}
	}
}
