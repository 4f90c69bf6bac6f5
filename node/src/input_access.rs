//! `atoma_authorizeInputRead`: the node's answer to its own inference worker, asked whether
//! another node may read an input given by hash (`atoma_primitives::input_read`).
//!
//! The worker serves `GET /v1/inputs/{hash}` but cannot see the chain; it forwards the reader's
//! credentials here. The node checks the timestamp against its clock, and the runtime checks the
//! signature and the reader's role in the request at the best block
//! (`InferenceApi::authorize_input_read`). Safe to expose: it reads state and answers yes or no.

use std::{
	sync::Arc,
	time::{SystemTime, UNIX_EPOCH},
};

use atoma_inference_runtime_api::InferenceApi;
use atoma_primitives::{
	hash::from_hex,
	input_read::{InputReadAuth, MAX_CLOCK_SKEW_SECS},
};
use atoma_runtime::{opaque::Block, Balance};
use atoma_support::{inference::InputRead, sortition::VrfProof, RequestId};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::sr25519;

/// The credentials are malformed (JSON-RPC "invalid params").
pub const MALFORMED: i32 = -32602;
/// The read is refused: its message names why (stale, or the runtime's `InputReadRefusal`).
pub const REFUSED: i32 = 7001;
/// The runtime could not be asked.
pub const RUNTIME_ERROR: i32 = 7002;

/// The input-access RPC.
#[rpc(server)]
pub trait InputAccessApi {
	/// `Ok(())` when the reader may read the input; an error whose message says why not.
	#[method(name = "atoma_authorizeInputRead")]
	fn authorize_input_read(&self, read: InputReadAuth) -> RpcResult<()>;
}

/// Answers [`InputAccessApiServer`] from the client's best block.
pub struct InputAccess<C> {
	client: Arc<C>,
}

impl<C> InputAccess<C> {
	/// Answer from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

/// Decode `read`; `Err` names the malformed field.
pub fn decode(read: &InputReadAuth) -> Result<InputRead, &'static str> {
	Ok(InputRead {
		request: RequestId(read.request.parse().map_err(|_| "request")?),
		input_hash: from_hex(&read.input_hash).ok_or("inputHash")?,
		reader: sr25519::Public::from_raw(from_hex(&read.reader).ok_or("reader")?),
		timestamp: read.timestamp.parse().map_err(|_| "timestamp")?,
		signature: sr25519::Signature::from_raw(from_hex(&read.signature).ok_or("signature")?),
		vrf: match &read.vrf_proof {
			Some(proof) => Some(VrfProof(from_hex(proof).ok_or("vrfProof")?)),
			None => None,
		},
	})
}

fn refused(message: String) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(REFUSED, message, None::<()>)
}

impl<C> InputAccessApiServer for InputAccess<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: InferenceApi<Block, Balance>,
{
	fn authorize_input_read(&self, read: InputReadAuth) -> RpcResult<()> {
		let read = decode(&read).map_err(|field| {
			ErrorObjectOwned::owned(MALFORMED, format!("malformed {field}"), None::<()>)
		})?;
		let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
		if now.abs_diff(read.timestamp) > MAX_CLOCK_SKEW_SECS {
			return Err(refused(format!(
				"Stale: signed at {}, more than {MAX_CLOCK_SKEW_SECS} s from this node's clock ({now})",
				read.timestamp
			)));
		}
		let best = self.client.info().best_hash;
		let verdict = self
			.client
			.runtime_api()
			.authorize_input_read(best, read)
			.map_err(|e| ErrorObjectOwned::owned(RUNTIME_ERROR, e.to_string(), None::<()>))?;
		verdict.map_err(|refusal| refused(format!("{refusal:?}")))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn read() -> InputReadAuth {
		InputReadAuth {
			request: "7".into(),
			input_hash: "11".repeat(32),
			reader: "22".repeat(32),
			timestamp: "1000".into(),
			signature: "33".repeat(64),
			vrf_proof: Some("44".repeat(96)),
		}
	}

	#[test]
	fn credentials_decode_and_a_malformed_field_is_named() {
		let decoded = decode(&read()).unwrap();
		assert_eq!(decoded.request, RequestId(7));
		assert_eq!(decoded.input_hash, [0x11; 32]);
		assert_eq!(decoded.vrf, Some(VrfProof([0x44; 96])));
		let field = |edit: fn(&mut InputReadAuth)| {
			let mut bad = read();
			edit(&mut bad);
			decode(&bad).unwrap_err()
		};
		assert_eq!(field(|r| r.request = "x".into()), "request");
		assert_eq!(field(|r| r.input_hash = "11".into()), "inputHash");
		assert_eq!(field(|r| r.reader = "zz".repeat(32)), "reader");
		assert_eq!(field(|r| r.timestamp = "-1".into()), "timestamp");
		assert_eq!(field(|r| r.signature = "33".repeat(63)), "signature");
		assert_eq!(field(|r| r.vrf_proof = Some("44".into())), "vrfProof");
	}
}
