//! Commitments leave the moment jobs finish (protocol §10).
//!
//! The off-chain worker starts a job in the run of the block that selects the node (`POST
//! /v1/jobs`), and never waits on inference: its runs share a thread pool as large as the core
//! count. Left alone, it would see the job finished only in the next block's run, and the
//! commitment would reach a block one slot later than it could. This task closes that gap: every
//! [`POLL_INTERVAL`] it asks the runtime which jobs this node's workers are running
//! (`InferenceApi::jobs_awaiting_output`), polls those jobs on the worker, and hands each finished
//! one to `InferenceApi::commit_finished_job`. The runtime checks it as the off-chain worker
//! would, keeps its steps for disputes, and signs and submits the commitment, all within this call.
//! The calls run with the same extensions the off-chain worker gets: the offchain database, the
//! keystore and the transaction pool.
//!
//! Everything that goes wrong here (a worker that does not answer, a job that failed, an `https`
//! worker URL, which this poller does not speak) is left to the off-chain worker, which handles
//! it as before, a block later.

use std::{sync::Arc, time::Duration};

use atoma_inference_runtime_api::InferenceApi;
use atoma_runtime::{opaque::Block, Balance};
use atoma_support::offchain_keys::WORKER_URL_KEY;
use codec::Decode;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{
	client::legacy::{connect::HttpConnector, Client},
	rt::TokioExecutor,
};
use sc_client_api::Backend;
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_core::offchain::{storage::OffchainDb, OffchainDbExt, OffchainStorage, STORAGE_PREFIX};
use sp_keystore::{KeystoreExt, KeystorePtr};

/// How often the running jobs are polled: the delay it adds between a job's end and its
/// commitment reaching the pool.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// A worker must answer a poll within this.
const HTTP_DEADLINE: Duration = Duration::from_secs(2);

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// `GET url`: the body of a 200 answer.
async fn get(client: &HttpClient, url: &str) -> Option<Vec<u8>> {
	let uri: hyper::Uri = url.parse().ok()?;
	let response = tokio::time::timeout(HTTP_DEADLINE, client.get(uri)).await.ok()?.ok()?;
	if response.status() != hyper::StatusCode::OK {
		return None;
	}
	let body = tokio::time::timeout(HTTP_DEADLINE, response.into_body().collect()).await.ok()?;
	Some(body.ok()?.to_bytes().to_vec())
}

/// Whether a `GET /v1/jobs/{id}` body says the job completed (the runtime checks the rest).
fn completed(job_view: &[u8]) -> bool {
	serde_json::from_slice::<serde_json::Value>(job_view)
		.is_ok_and(|view| view.get("status").and_then(|s| s.as_str()) == Some("completed"))
}

/// Poll this node's running jobs and commit each as soon as it finishes.
pub async fn run<C, B>(
	client: Arc<C>,
	backend: Arc<B>,
	keystore: KeystorePtr,
	pool: OffchainTransactionPoolFactory<Block>,
) where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: InferenceApi<Block, Balance>,
	B: Backend<Block> + 'static,
{
	let Some(storage) = backend.offchain_storage() else {
		log::warn!(target: "atoma::jobs", "no offchain storage: commitments wait for the next block");
		return;
	};
	let http: HttpClient = Client::builder(TokioExecutor::new()).build_http();
	let mut ticks = tokio::time::interval(POLL_INTERVAL);
	ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	loop {
		ticks.tick().await;
		let Some(url) = storage
			.get(STORAGE_PREFIX, WORKER_URL_KEY)
			.and_then(|raw| Vec::<u8>::decode(&mut &raw[..]).ok())
			.and_then(|url| String::from_utf8(url).ok())
			.filter(|url| url.starts_with("http://"))
		else {
			continue;
		};
		let best = client.info().best_hash;
		let runtime = || {
			let mut api = client.runtime_api();
			api.register_extension(OffchainDbExt::new(OffchainDb::new(storage.clone())));
			api.register_extension(KeystoreExt(keystore.clone()));
			api.register_extension(pool.offchain_transaction_pool(best));
			api
		};
		// A runtime before version 3 has no such calls: nothing to do until it is upgraded.
		let Ok(jobs) = runtime().jobs_awaiting_output(best) else { continue };
		for (request, node, job) in jobs {
			let Ok(id) = String::from_utf8(job.clone()) else { continue };
			let Some(job_view) = get(&http, &format!("{url}/v1/jobs/{id}")).await else { continue };
			if !completed(&job_view) {
				continue;
			}
			let Some(output_view) = get(&http, &format!("{url}/v1/outputs/{id}")).await else {
				continue;
			};
			match runtime().commit_finished_job(best, request, node, job, job_view, output_view) {
				Ok(true) => log::info!(
					target: "atoma::jobs",
					"node {} committed request {} as its job finished",
					node.0,
					request.0
				),
				Ok(false) => {},
				Err(e) => log::debug!(target: "atoma::jobs", "commit_finished_job failed: {e}"),
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn only_a_completed_job_is_handed_over() {
		assert!(completed(br#"{"status":"completed","output":{}}"#));
		assert!(!completed(br#"{"status":"running"}"#));
		assert!(!completed(br#"{"status":"failed"}"#));
		assert!(!completed(b"<html>"));
	}
}
