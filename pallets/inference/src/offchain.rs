//! The off-chain worker (protocol §10): it pairs this node's worker keys with the local inference
//! worker.
//!
//! Each block it looks for requests whose nodes include a node of a worker key in this node's
//! keystore (or, for Cross-Validation, whose VRF sortition selected one: the node's sortition task
//! leaves the proof in offchain storage). For each it drives a small state machine kept in
//! persistent offchain storage, one step per block, never waiting on inference:
//!
//! ```text
//! (none) ─POST /v1/jobs─► Running { job } ─GET /v1/jobs/{job}: completed─► commitment submitted
//!    ▲                        │ failed / unreachable                          ─► Committed { digest }
//!    └── Backoff { retry_at } ◄┘                                  reveal window ─► Revealed
//! ```
//!
//! Before committing, the node fetches the job's steps (`GET /v1/outputs/{job}`), checks them
//! against the trace root it commits, and keeps them with the output in offchain storage
//! (`atoma_support::offchain_jobs::JobTrace`): a dispute's bisection asks for them.
//!
//! Commitments are signed with the worker key and sent as authorized, fee-less transactions.
//! Every HTTP call has a deadline; a per-(request, node) storage lock stops two overlapping runs
//! from submitting twice; failures back off exponentially.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::commitment::sealed_commitment;
use atoma_support::{
	inference::VerificationMode,
	offchain_jobs::{
		backoff, encode_hash, fetch_trace, paired_worker, poll_job, post_job, trace_key,
		with_job_lock, Poll,
	},
	sortition::VrfProof,
	worker_key::KEY_TYPE,
	NodeId, RequestId, WorkerPublic,
};
use codec::Encode;
use frame_system::{
	offchain::{CreateAuthorizedTransaction, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{offchain::storage::StorageValueRef, SaturatedConversion};

use crate::{
	pallet::*,
	types::{Commitment, CommitmentKind, CommitmentPayload, Phase, Request, StoredInput},
};

pub use atoma_support::offchain_jobs::JobState;
pub use atoma_support::offchain_keys::{proof_key, PROOF_PREFIX, WORKER_URL_KEY};
const JOB_PREFIX: &[u8] = b"atoma/job/";
const LOCK_PREFIX: &[u8] = b"atoma/job-lock/";
/// Requests examined per run at most.
const MAX_REQUESTS_PER_RUN: usize = 64;

fn job_key(request: RequestId, node: NodeId) -> Vec<u8> {
	let mut out = JOB_PREFIX.to_vec();
	out.extend((request, node).encode());
	out
}

/// How this node takes part in a request.
pub(crate) enum Role {
	/// Public position `index` of `quorum`.
	Public { index: u32, quorum: u32 },
	/// A Cross-Validation verifier proven by `proof`.
	Verifier { proof: VrfProof },
}

impl<T: Config + CreateAuthorizedTransaction<Call<T>>> Pallet<T> {
	/// One run of the off-chain worker at block `now`.
	pub fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some((url, local)) = paired_worker::<T::AccountId, BalanceOf<T>, T::Nodes>() else {
			return;
		};
		let now: u32 = now.saturated_into();
		for (id, request) in Requests::<T>::iter().take(MAX_REQUESTS_PER_RUN) {
			for (node, key) in &local {
				let Some(role) = Self::role_of(id, &request, *node, key) else { continue };
				let lock_key = [LOCK_PREFIX, &(id, node).encode()].concat();
				with_job_lock(&lock_key, || Self::step(&url, now, id, &request, *node, key, role));
			}
		}
	}

	fn role_of(
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
	) -> Option<Role> {
		if let Some(index) = request.nodes.iter().position(|n| *n == node) {
			return Some(Role::Public { index: index as u32, quorum: request.nodes.len() as u32 });
		}
		if !matches!(request.mode, VerificationMode::CrossValidation { .. }) {
			return None;
		}
		let proof =
			StorageValueRef::persistent(&proof_key(id, key)).get::<VrfProof>().ok().flatten()?;
		Some(Role::Verifier { proof })
	}

	fn step(
		url: &str,
		now: u32,
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
		role: Role,
	) {
		let store_key = job_key(id, node);
		let store = StorageValueRef::persistent(&store_key);
		let state = store.get::<JobState>().ok().flatten();
		let on_chain = Commitments::<T>::get(id, node);
		match (request.phase, state) {
			(Phase::Executing { .. }, _) if on_chain.is_some() => {},
			(Phase::Executing { .. }, None) => {
				Self::start_job(url, now, id, request, &role, &store)
			},
			(Phase::Executing { .. }, Some(JobState::Backoff { retry_at, attempts }))
				if now >= retry_at =>
			{
				match Self::job_body(request, &role).ok_or(()).and_then(|body| post_job(url, body))
				{
					Ok(job) => store.set(&JobState::Running { job }),
					Err(()) => store.set(&backoff(now, attempts)),
				}
			},
			(Phase::Executing { .. }, Some(JobState::Running { job })) => {
				match poll_job(url, &job) {
					Poll::Pending => {},
					Poll::Failed => store.set(&backoff(now, 0)),
					Poll::Done(done) => {
						// Keep the steps before committing to their root: in a dispute this node
						// answers bisection turns from them, even if its worker restarted since.
						let Ok(trace) = fetch_trace(url, &job, &done) else {
							return store.set(&backoff(now, 0));
						};
						StorageValueRef::persistent(&trace_key(id, node)).set(&trace);
						let digest = done.output_hash;
						let kind = match (&role, request.mode) {
							(_, VerificationMode::CrossValidation { .. }) => {
								CommitmentKind::Sealed {
									sealed: sealed_commitment(&digest, &key.0),
									output_tokens: done.output_tokens,
									trace_root: done.trace_root,
									vrf: match role {
										Role::Verifier { proof } => Some(proof),
										Role::Public { .. } => None,
									},
								}
							},
							_ => CommitmentKind::Quorum {
								root: done.root,
								leaf: done.leaf,
								output_tokens: done.output_tokens,
								trace_root: done.trace_root,
							},
						};
						if Self::submit(CommitmentPayload { request: id, node, kind }, key) {
							store.set(&JobState::Committed { output_digest: digest });
						}
					},
				}
			},
			(Phase::Revealing { .. }, Some(JobState::Committed { output_digest })) => {
				let revealed =
					matches!(on_chain, Some(Commitment::Sealed { revealed: Some(_), .. }));
				if revealed
					|| Self::submit(
						CommitmentPayload {
							request: id,
							node,
							kind: CommitmentKind::Reveal { output_digest },
						},
						key,
					) {
					store.set(&JobState::Revealed);
				}
			},
			_ => {},
		}
	}

	fn start_job(
		url: &str,
		now: u32,
		_id: RequestId,
		request: &Request<T>,
		role: &Role,
		store: &StorageValueRef,
	) {
		match Self::job_body(request, role).ok_or(()).and_then(|body| post_job(url, body)) {
			Ok(job) => store.set(&JobState::Running { job }),
			Err(()) => store.set(&backoff(now, 0)),
		}
	}

	/// Sign `payload` with the worker key and submit it as an authorized transaction.
	fn submit(payload: CommitmentPayload, key: &WorkerPublic) -> bool {
		let Some(signature) = sp_io::crypto::sr25519_sign(KEY_TYPE, key, &payload.signing_bytes())
		else {
			return false;
		};
		let call = Call::<T>::submit_commitment { payload, signature };
		let xt = T::create_authorized_transaction(call.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt).is_ok()
	}

	/// The job body for the worker: the prompt (inline: a JSON list of chat messages, or plain
	/// text; by hash: `input_hash`, the bytes the user uploaded to the worker), the sampling
	/// parameters with the chain's sampler seed, and the node's quorum position.
	pub(crate) fn job_body(request: &Request<T>, role: &Role) -> Option<Vec<u8>> {
		let (index, quorum) = match role {
			Role::Public { index, quorum } => (*index, *quorum),
			Role::Verifier { .. } => (0, 1),
		};
		let p = &request.params;
		let mut body = serde_json::json!({
			"model": core::str::from_utf8(request.model.as_bytes()).ok()?,
			"max_tokens": p.max_output_tokens,
			"temperature_milli": p.temperature_milli,
			"top_k": p.top_k,
			"top_p_milli": p.top_p_milli,
			"seed": p.seed,
			"node_index": index,
			"quorum_size": quorum,
		});
		let (field, value) = match &request.input {
			StoredInput::Inline(bytes) => {
				let text = core::str::from_utf8(bytes).ok()?;
				match serde_json::from_str::<serde_json::Value>(text) {
					Ok(messages @ serde_json::Value::Array(_)) => ("messages", messages),
					_ => ("prompt", serde_json::Value::String(text.into())),
				}
			},
			StoredInput::Hash(hash) => ("input_hash", serde_json::Value::String(encode_hash(hash))),
		};
		body.as_object_mut()?.insert(field.into(), value);
		serde_json::to_vec(&body).ok()
	}
}
