//! The off-chain workers' client of the local inference worker's job API (`POST /v1/jobs`,
//! `GET /v1/jobs/{id}`): shared by the inference pallet (executing nodes) and the disputes pallet
//! (arbiters), so both speak to the worker the same way. Every call has a deadline; nothing here
//! waits on inference.

use alloc::{format, string::String, vec::Vec};

use atoma_primitives::{unservable::UnservableReason, CanonicalOutput, FinishReason};
use codec::{Decode, Encode};
use sp_runtime::offchain::{
	http,
	storage::StorageValueRef,
	storage_lock::{StorageLock, Time},
	Duration,
};

use crate::{
	offchain_keys::WORKER_URL_KEY, worker_key::KEY_TYPE, NodeId, NodeRegistry, RequestId,
	WorkerPublic,
};

/// Every HTTP call to the local worker must answer within this.
pub const HTTP_DEADLINE_MS: u64 = 2_000;
/// Longest backoff after repeated failures, in blocks.
pub const MAX_BACKOFF_BLOCKS: u32 = 64;

/// Where one job of this node stands, in its offchain storage.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Debug)]
pub enum JobState {
	/// The local worker runs it as job `job`.
	Running {
		/// The worker's job id.
		job: Vec<u8>,
		/// Failures before this attempt: a failure now backs off longer than the last.
		attempts: u32,
	},
	/// The commitment was submitted (and is sent again until the chain has it); the digest
	/// waits for a reveal (Cross-Validation, and arbiters' verdicts).
	Committed {
		/// `H(O)`.
		output_digest: [u8; 32],
	},
	/// The chain has the reveal: nothing more to do.
	Revealed,
	/// The worker failed or was unreachable: try again from block `retry_at`.
	Backoff {
		/// The block of the next attempt.
		retry_at: u32,
		/// Failures so far.
		attempts: u32,
	},
	/// The worker refused the request itself: the node attested (or voted) "unservable", and
	/// sends it again until the chain has it.
	Unservable {
		/// Why.
		reason: UnservableReason,
	},
}

/// Why the local worker did not take a job.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
	/// The request itself cannot be served: no worker would take it (its error body says why).
	Unservable(UnservableReason),
	/// Anything else (unreachable, busy, failing, or no body to send): try again later.
	Transient,
}

/// A list in offchain storage of the jobs that left entries there, so that the entries can be
/// removed once the jobs end (offchain storage otherwise only grows). Updated by compare-and-set:
/// off-chain worker runs may overlap.
pub struct KeptJobs<Job> {
	key: &'static [u8],
	_job: core::marker::PhantomData<Job>,
}

/// Attempts at a compare-and-set against an overlapping run.
const KEPT_JOBS_RETRIES: usize = 4;

impl<Job: Encode + Decode + PartialEq + Clone> KeptJobs<Job> {
	/// The list kept under `key`.
	pub const fn new(key: &'static [u8]) -> Self {
		Self { key, _job: core::marker::PhantomData }
	}

	/// The jobs in the list.
	pub fn jobs(&self) -> Vec<Job> {
		StorageValueRef::persistent(self.key).get::<Vec<Job>>().ok().flatten().unwrap_or_default()
	}

	/// Note that `job` keeps entries in offchain storage.
	pub fn keep(&self, job: Job) {
		let list = StorageValueRef::persistent(self.key);
		for _ in 0..KEPT_JOBS_RETRIES {
			let added = list.mutate::<Vec<Job>, (), _>(|jobs| {
				let mut jobs = jobs.ok().flatten().unwrap_or_default();
				if !jobs.contains(&job) {
					jobs.push(job.clone());
				}
				Ok(jobs)
			});
			if added.is_ok() {
				return;
			}
		}
	}

	/// Drop the jobs `ended` accepts from the list and `clear` their entries. If an overlapping
	/// run changed the list meanwhile, nothing is cleared: the next run tries again.
	pub fn forget_ended(&self, ended: impl Fn(&Job) -> bool, clear: impl Fn(&Job)) {
		let gone: Vec<Job> = self.jobs().into_iter().filter(|job| ended(job)).collect();
		if gone.is_empty() {
			return;
		}
		let list = StorageValueRef::persistent(self.key);
		let removed = list.mutate::<Vec<Job>, (), _>(|jobs| {
			let mut jobs = jobs.ok().flatten().unwrap_or_default();
			jobs.retain(|job| !gone.contains(job));
			Ok(jobs)
		});
		if removed.is_ok() {
			gone.iter().for_each(clear);
		}
	}
}

/// The local inference worker's URL (written by the node from `--inference-worker-url`) and the
/// worker keys in this node's keystore that belong to registered nodes; `None` when the node is
/// not paired or holds no such key: the off-chain worker has nothing to do.
pub fn paired_worker<AccountId, Balance, Nodes: NodeRegistry<AccountId, Balance>>(
) -> Option<(String, Vec<(NodeId, WorkerPublic)>)> {
	let url = StorageValueRef::persistent(WORKER_URL_KEY).get::<Vec<u8>>().ok().flatten()?;
	let url = String::from_utf8(url).ok()?;
	let local: Vec<(NodeId, WorkerPublic)> = sp_io::crypto::sr25519_public_keys(KEY_TYPE)
		.into_iter()
		.filter_map(|key| Nodes::node_by_worker_key(&key).map(|node| (node, key)))
		.collect();
	(!local.is_empty()).then_some((url, local))
}

/// Run `step` under the storage lock `lock_key`, unless another run of the off-chain worker
/// (they may overlap) holds it: one step per job at a time, so nothing is submitted twice.
pub fn with_job_lock(lock_key: &[u8], step: impl FnOnce()) {
	let mut lock = StorageLock::<Time>::with_deadline(
		lock_key,
		Duration::from_millis(HTTP_DEADLINE_MS.saturating_mul(3)),
	);
	let Ok(guard) = lock.try_lock() else { return };
	step();
	drop(guard);
}

/// The state after the `attempts + 1`-th failure at block `now`: exponential backoff, capped.
pub fn backoff(now: u32, attempts: u32) -> JobState {
	let wait = 1u32.checked_shl(attempts.min(6)).unwrap_or(MAX_BACKOFF_BLOCKS);
	JobState::Backoff {
		retry_at: now.saturating_add(wait.min(MAX_BACKOFF_BLOCKS)),
		attempts: attempts.saturating_add(1),
	}
}

/// `POST /v1/jobs` with the JSON `body` (`None`: the request has no body a worker could take,
/// which is transient here: the chain refuses such requests at submission); returns the job id.
pub fn post_job(url: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>, Refusal> {
	let body = body.ok_or(Refusal::Transient)?;
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_DEADLINE_MS));
	let pending = http::Request::post(&format!("{url}/v1/jobs"), alloc::vec![body])
		.add_header("Content-Type", "application/json")
		.deadline(deadline)
		.send()
		.map_err(|_| Refusal::Transient)?;
	let response = pending
		.try_wait(deadline)
		.map_err(|_| Refusal::Transient)?
		.map_err(|_| Refusal::Transient)?;
	let code = response.code;
	let body: Vec<u8> = response.body().collect();
	let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
	let id = match json.as_ref().and_then(|j| j.get("id")) {
		Some(serde_json::Value::String(s)) => Some(s.as_bytes().to_vec()),
		Some(serde_json::Value::Number(n)) => Some(format!("{n}").into_bytes()),
		_ => None,
	};
	match id {
		Some(id) if code == 200 || code == 202 => Ok(id),
		_ => {
			let refusal = refusal_of(&body);
			log::warn!(
				target: "runtime::offchain-jobs",
				"worker refused a job: HTTP {code}: {refusal:?}"
			);
			Err(refusal)
		},
	}
}

/// What the worker's error body `{"error": {"type", "code"}}` says of a refused job.
pub fn refusal_of(body: &[u8]) -> Refusal {
	let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
	let error = json.as_ref().and_then(|j| j.get("error"));
	let kind = error.and_then(|e| e.get("type")).and_then(|t| t.as_str()).unwrap_or_default();
	let code = error.and_then(|e| e.get("code")).and_then(|c| c.as_str());
	UnservableReason::from_worker_error(kind, code).map_or(Refusal::Transient, Refusal::Unservable)
}

/// Reading an input from peers and uploading it to the local worker ends within this, inside the
/// job lock's deadline ([`with_job_lock`]: 3 × [`HTTP_DEADLINE_MS`]); a relay cut short is tried
/// again the next block.
pub const INPUT_RELAY_DEADLINE_MS: u64 = 4_000;

/// Read the by-hash input `input_hash` of `request` from the first worker of `holders` (the nodes
/// that may have it; `node`, this one, is skipped) that serves it to this node, and upload it to
/// the local worker at `url`. The read goes to each holder's registered URL, signed with the
/// worker key `key` (`atoma_primitives::input_read`), with a Cross-Validation verifier's `vrf`
/// proof; the holder's node checks the role on chain. Whether the local worker has the input now.
#[allow(clippy::too_many_arguments)]
pub fn relay_input<AccountId, Balance, Nodes: NodeRegistry<AccountId, Balance>>(
	url: &str,
	holders: &[NodeId],
	node: NodeId,
	request: RequestId,
	input_hash: &[u8; 32],
	key: &WorkerPublic,
	vrf: Option<&crate::sortition::VrfProof>,
	chain: &crate::worker_key::ChainId,
) -> bool {
	use atoma_primitives::{hash::to_hex, input_read};
	let timestamp = sp_io::offchain::timestamp().unix_millis() / 1_000;
	let message = input_read::signing_bytes(chain, request.0, input_hash, timestamp);
	let Some(signature) = sp_io::crypto::sr25519_sign(KEY_TYPE, key, &message) else {
		return false;
	};
	let (hash_hex, request_id, timestamp) =
		(encode_hash(input_hash), format!("{}", request.0), format!("{timestamp}"));
	let (reader, signature) = (to_hex(&key.0), to_hex(&signature.0));
	let vrf = vrf.map(|proof| to_hex(&proof.0));
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(INPUT_RELAY_DEADLINE_MS));
	let peers =
		holders.iter().filter(|holder| **holder != node).filter_map(|h| Nodes::worker_url(*h));
	for peer in peers {
		let Ok(peer) = core::str::from_utf8(&peer) else { continue };
		let peer_url = format!("{}/v1/inputs/{hash_hex}", peer.trim_end_matches('/'));
		let mut read = http::Request::get(&peer_url)
			.add_header(input_read::HEADER_REQUEST, &request_id)
			.add_header(input_read::HEADER_READER, &reader)
			.add_header(input_read::HEADER_TIMESTAMP, &timestamp)
			.add_header(input_read::HEADER_SIGNATURE, &signature)
			.deadline(deadline);
		if let Some(proof) = &vrf {
			read = read.add_header(input_read::HEADER_VRF_PROOF, proof);
		}
		let Ok(Ok(response)) = read.send().map(|pending| pending.try_wait(deadline)) else {
			continue;
		};
		let Ok(response) = response else { continue };
		if response.code != 200 {
			log::info!(
				target: "runtime::offchain-jobs",
				"{peer} did not serve input {hash_hex} of request {}: HTTP {}",
				request.0,
				response.code
			);
			continue;
		}
		let bytes: Vec<u8> = response.body().collect();
		// The peer is not trusted: only the bytes of the hash on chain are kept.
		if atoma_primitives::hash::hash(&bytes) != *input_hash {
			continue;
		}
		if upload_input(url, &hash_hex, bytes, deadline) {
			return true;
		}
	}
	false
}

/// `PUT /v1/inputs/{hash}` to the local worker by `deadline`; whether it kept the bytes.
fn upload_input(
	url: &str,
	hash_hex: &str,
	bytes: Vec<u8>,
	deadline: sp_core::offchain::Timestamp,
) -> bool {
	let local_url = format!("{url}/v1/inputs/{hash_hex}");
	let put = http::Request::new(&local_url)
		.method(http::Method::Put)
		.body(alloc::vec![bytes])
		.add_header("Content-Type", "application/octet-stream")
		.deadline(deadline)
		.send();
	matches!(put.map(|pending| pending.try_wait(deadline)), Ok(Ok(Ok(r))) if r.code == 201 || r.code == 200)
}

/// `GET /v1/models`: the hash of the worker's execution profile (`atoma_primitives::profile`).
pub fn fetch_profile(url: &str) -> Option<[u8; 32]> {
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_DEADLINE_MS));
	let pending = http::Request::get(&format!("{url}/v1/models")).deadline(deadline).send().ok()?;
	let response = pending.try_wait(deadline).ok()?.ok()?;
	if response.code != 200 {
		return None;
	}
	let body: Vec<u8> = response.body().collect();
	parse_profile(&body)
}

/// The `execution_profile.hash` of a `GET /v1/models` body.
pub fn parse_profile(body: &[u8]) -> Option<[u8; 32]> {
	let json: serde_json::Value = serde_json::from_slice(body).ok()?;
	json.get("execution_profile")?.get("hash")?.as_str().and_then(decode_hash)
}

/// A job the worker has been running for longer than this is taken for hung, and posted again
/// (after a backoff, like any failure). The longest job a worker accepts (`--max-tokens-limit`,
/// 2,048 by default) runs in about a minute on the default model on a 2-core CPU; queued time
/// does not count.
pub const HUNG_JOB_SECS: u64 = 600;

/// Whether a job view says the job has been running (not queued) for more than
/// [`HUNG_JOB_SECS`] at unix time `now_secs` (the worker runs on this node's machine: one clock).
pub fn is_hung(body: &[u8], now_secs: u64) -> bool {
	let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return false };
	let running = json.get("status").and_then(|s| s.as_str()) == Some("running");
	let started = json.get("started_at").and_then(|t| t.as_u64());
	running && started.is_some_and(|t| now_secs.saturating_sub(t) > HUNG_JOB_SECS)
}

/// `GET /v1/jobs/{job}`: pending, failed (or forgotten by a restarted worker, or hung), or done.
pub fn poll_job(url: &str, job: &[u8]) -> Poll {
	let Ok(job) = core::str::from_utf8(job) else { return Poll::Failed };
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_DEADLINE_MS));
	let Ok(pending) = http::Request::get(&format!("{url}/v1/jobs/{job}")).deadline(deadline).send()
	else {
		return Poll::Pending;
	};
	let Ok(Ok(response)) = pending.try_wait(deadline) else { return Poll::Pending };
	match response.code {
		200 => {},
		// The worker restarted and forgot the job: start over.
		404 => return Poll::Failed,
		_ => return Poll::Pending,
	}
	let body: Vec<u8> = response.body().collect();
	let now_secs = sp_io::offchain::timestamp().unix_millis() / 1_000;
	match parse_job(&body) {
		Poll::Pending if is_hung(&body, now_secs) => {
			log::warn!(target: "runtime::offchain-jobs", "job {job} hung: posting it again");
			Poll::Failed
		},
		poll => poll,
	}
}

/// What a finished job gives the chain.
#[derive(Debug, PartialEq, Eq)]
pub struct FinishedJob {
	/// `H(O)`.
	pub output_hash: [u8; 32],
	/// The quorum root for the job's position and quorum size.
	pub root: [u8; 32],
	/// The job's leaf `H(O ‖ node_index)`.
	pub leaf: [u8; 32],
	/// Prompt tokens the worker counted (`usage.prompt_tokens`).
	pub input_tokens: u32,
	/// Tokens generated.
	pub output_tokens: u32,
	/// The canonical output `O`, rebuilt from the token ids and finish reason and checked
	/// against `output_hash`.
	pub canonical_output: Vec<u8>,
	/// The Merkle root of the job's step digests.
	pub trace_root: [u8; 32],
}

/// Where a polled job stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
	/// Queued or running (or the worker did not answer in time).
	Pending,
	/// Failed, or unknown to the worker: start again.
	Failed,
	/// Completed.
	Done(FinishedJob),
}

/// Read a `GET /v1/jobs/{id}` body.
pub fn parse_job(body: &[u8]) -> Poll {
	let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return Poll::Pending };
	match json.get("status").and_then(|s| s.as_str()) {
		Some("completed") => {},
		Some("failed") => return Poll::Failed,
		_ => return Poll::Pending,
	}
	let commitments = json.get("commitments");
	let hash = |field: &str| {
		commitments.and_then(|c| c.get(field)).and_then(|h| h.as_str()).and_then(decode_hash)
	};
	let output = json.get("output");
	let token_ids: Option<Vec<u32>> =
		output.and_then(|o| o.get("token_ids")).and_then(|ids| ids.as_array()).and_then(|ids| {
			ids.iter().map(|id| id.as_u64().and_then(|v| u32::try_from(v).ok())).collect()
		});
	let finish_reason = match output.and_then(|o| o.get("finish_reason")).and_then(|f| f.as_str()) {
		Some("stop") => Some(FinishReason::Stop),
		Some("length") => Some(FinishReason::Length),
		_ => None,
	};
	let input_tokens = json
		.get("usage")
		.and_then(|u| u.get("prompt_tokens"))
		.and_then(|t| t.as_u64())
		.and_then(|t| u32::try_from(t).ok());
	let fields = (hash("output_hash"), hash("root"), hash("leaf"), hash("trace_root"));
	match (fields, token_ids, finish_reason, input_tokens) {
		(
			(Some(output_hash), Some(root), Some(leaf), Some(trace_root)),
			Some(ids),
			Some(reason),
			Some(input_tokens),
		) => {
			let output = CanonicalOutput::new(&ids, reason);
			// A worker whose output does not hash to its own commitment is broken.
			if output.output_hash() != output_hash {
				return Poll::Failed;
			}
			Poll::Done(FinishedJob {
				output_hash,
				root,
				leaf,
				input_tokens,
				output_tokens: ids.len() as u32,
				canonical_output: output.encode_canonical(),
				trace_root,
			})
		},
		_ => Poll::Failed,
	}
}

/// What a node keeps of each job it committed, for a dispute over it: the step digests (it
/// answers bisection turns with their subtree hashes) and the canonical output `O` (it publishes
/// `O` if its side survives the bisection). Written by the inference pallet's off-chain worker
/// before it commits, read by the disputes pallet's.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Debug)]
pub struct JobTrace {
	/// Step digests, one per generated token.
	pub step_digests: Vec<[u8; 32]>,
	/// The canonical output `O`.
	pub canonical_output: Vec<u8>,
	/// Prompt tokens the worker counted.
	pub input_tokens: u32,
}

const TRACE_PREFIX: &[u8] = b"atoma/job-trace/";

/// The offchain-storage key of `node`'s [`JobTrace`] for `request`.
pub fn trace_key(request: RequestId, node: NodeId) -> Vec<u8> {
	[TRACE_PREFIX, &(request, node).encode()].concat()
}

/// A [`JobTrace`] as nodes kept it before they recorded the prompt-token count.
#[derive(Decode)]
struct JobTraceV1 {
	step_digests: Vec<[u8; 32]>,
	canonical_output: Vec<u8>,
}

/// The trace `node` kept for `request`, also one kept by an earlier node version (a node
/// upgraded during a dispute must still answer its bisection turns from it; its prompt-token
/// count is unknown, 0).
pub fn kept_trace(request: RequestId, node: NodeId) -> Option<JobTrace> {
	let raw = sp_io::offchain::local_storage_get(
		sp_core::offchain::StorageKind::PERSISTENT,
		&trace_key(request, node),
	)?;
	JobTrace::decode(&mut &raw[..]).ok().or_else(|| {
		let old = JobTraceV1::decode(&mut &raw[..]).ok()?;
		Some(JobTrace {
			step_digests: old.step_digests,
			canonical_output: old.canonical_output,
			input_tokens: 0,
		})
	})
}

/// `GET /v1/outputs/{job}`: the step digests of a completed job, checked against its trace
/// root, with its canonical output `O`.
pub fn fetch_trace(url: &str, job: &[u8], finished: &FinishedJob) -> Result<JobTrace, ()> {
	let job = core::str::from_utf8(job).map_err(|_| ())?;
	let deadline = sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_DEADLINE_MS));
	let pending = http::Request::get(&format!("{url}/v1/outputs/{job}"))
		.deadline(deadline)
		.send()
		.map_err(|_| ())?;
	let response = pending.try_wait(deadline).map_err(|_| ())?.map_err(|_| ())?;
	if response.code != 200 {
		return Err(());
	}
	let body: Vec<u8> = response.body().collect();
	trace_of(&body, finished).ok_or(())
}

/// The [`JobTrace`] of a finished job from its `GET /v1/outputs/{job}` body: the step digests,
/// checked against the job's trace root, with its canonical output `O`.
/// `None` if the steps do not check out.
pub fn trace_of(output_view: &[u8], finished: &FinishedJob) -> Option<JobTrace> {
	let step_digests = parse_trace(output_view)?;
	// A worker whose steps do not hash to its own trace root, or not one per token, is broken.
	if atoma_primitives::trace::trace_root(&step_digests) != finished.trace_root
		|| step_digests.len() != finished.output_tokens as usize
	{
		return None;
	}
	Some(JobTrace {
		step_digests,
		canonical_output: finished.canonical_output.clone(),
		input_tokens: finished.input_tokens,
	})
}

/// The step digests of a `GET /v1/outputs/{id}` body, in step order.
pub fn parse_trace(body: &[u8]) -> Option<Vec<[u8; 32]>> {
	let json = serde_json::from_slice::<serde_json::Value>(body).ok()?;
	let steps = json.get("trace")?.get("steps")?.as_array()?;
	steps.iter().map(|s| s.get("digest")?.as_str().and_then(decode_hash)).collect()
}

/// 64 hex digits as 32 bytes.
pub fn decode_hash(hex: &str) -> Option<[u8; 32]> {
	atoma_primitives::hash::from_hex(hex)
}

/// 32 bytes as 64 lowercase hex digits.
pub fn encode_hash(hash: &[u8; 32]) -> String {
	atoma_primitives::hash::to_hex(hash)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_refusal_is_unservable_only_when_the_request_is_at_fault() {
		let body = |kind: &str, code: Option<&str>| {
			serde_json::to_vec(&serde_json::json!({
				"error": {"message": "m", "type": kind, "code": code}
			}))
			.unwrap()
		};
		assert_eq!(
			refusal_of(&body("input_not_uploaded", None)),
			Refusal::Unservable(UnservableReason::InputUnavailable)
		);
		assert_eq!(
			refusal_of(&body("validation_error", Some("context_length_exceeded"))),
			Refusal::Unservable(UnservableReason::ExceedsContext)
		);
		assert_eq!(
			refusal_of(&body("validation_error", Some("chat_template_error"))),
			Refusal::Unservable(UnservableReason::InvalidPrompt)
		);
		// The node's own trouble: never a reason to give the request up.
		assert_eq!(refusal_of(&body("queue_full", None)), Refusal::Transient);
		assert_eq!(refusal_of(&body("engine_error", None)), Refusal::Transient);
		assert_eq!(refusal_of(b"<html>bad gateway</html>"), Refusal::Transient);
		assert_eq!(refusal_of(b""), Refusal::Transient);
	}

	#[test]
	fn a_job_running_too_long_is_hung_and_a_queued_one_never() {
		let view = |status: &str, started: Option<u64>| {
			serde_json::to_vec(&serde_json::json!({"status": status, "started_at": started}))
				.unwrap()
		};
		let now = 10_000;
		assert!(is_hung(&view("running", Some(now - HUNG_JOB_SECS - 1)), now));
		assert!(!is_hung(&view("running", Some(now - HUNG_JOB_SECS)), now));
		assert!(!is_hung(&view("queued", None), now));
		assert!(!is_hung(&view("completed", Some(0)), now));
		assert!(!is_hung(b"not json", now));
	}
}
