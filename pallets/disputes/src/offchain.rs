//! The arbiter's off-chain worker (protocol §9): when one of this node's worker keys is an
//! arbiter of a dispute's current round, it re-executes the disputed request through the local
//! inference worker, seals its verdict, and reveals it in the reveal window.
//!
//! One step per block per (dispute, round, arbiter), never waiting on inference, with its state
//! in persistent offchain storage (the same job client and states as the executing nodes',
//! `atoma_support::offchain_jobs`):
//!
//! ```text
//! (none) ─POST /v1/jobs─► Running { job } ─completed─► verdict stored, seal submitted
//!    ▲                        │ failed                  ─► Committed { verdict digest }
//!    └── Backoff { retry_at } ◄┘                     reveal window ─► Revealed
//! ```

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::commitment::{output_leaf, sealed_commitment};
use atoma_support::{
	inference::DisputedRequests,
	offchain_jobs::{backoff, paired_worker, poll_job, post_job, with_job_lock, JobState, Poll},
	worker_key::KEY_TYPE,
	NodeId, RequestId, WorkerPublic,
};
use codec::Encode;
use frame_support::BoundedVec;
use frame_system::{offchain::SubmitTransaction, pallet_prelude::BlockNumberFor};
use sp_runtime::{offchain::storage::StorageValueRef, SaturatedConversion};

use crate::{
	pallet::*,
	types::{Dispute, DisputePhase, Verdict, Vote, VotePayload},
};

const JOB_PREFIX: &[u8] = b"atoma/arbiter-job/";
const VERDICT_PREFIX: &[u8] = b"atoma/arbiter-verdict/";
const LOCK_PREFIX: &[u8] = b"atoma/arbiter-lock/";
/// Disputes examined per run at most.
const MAX_DISPUTES_PER_RUN: usize = 32;

/// The offchain-storage key of `node`'s job state for `round` of the dispute over `request`.
pub fn job_key(request: RequestId, round: u32, node: NodeId) -> Vec<u8> {
	[JOB_PREFIX, &(request, round, node).encode()].concat()
}

fn verdict_key(request: RequestId, round: u32, node: NodeId) -> Vec<u8> {
	[VERDICT_PREFIX, &(request, round, node).encode()].concat()
}

impl<T: Config> Pallet<T> {
	/// One run of the arbiter's off-chain worker at block `now`.
	pub fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some((url, local)) = paired_worker::<T::AccountId, BalanceOf<T>, T::Nodes>() else {
			return;
		};
		let now: u32 = now.saturated_into();
		for (id, dispute) in Disputes::<T>::iter().take(MAX_DISPUTES_PER_RUN) {
			for (node, key) in &local {
				if !dispute.round_arbiters().contains(node) {
					continue;
				}
				let lock_key = [LOCK_PREFIX, &(id, node).encode()].concat();
				with_job_lock(&lock_key, || {
					Self::arbiter_step(&url, now, id, &dispute, *node, key)
				});
			}
		}
	}

	fn arbiter_step(
		url: &str,
		now: u32,
		id: RequestId,
		dispute: &Dispute<T>,
		node: NodeId,
		key: &WorkerPublic,
	) {
		let store_key = job_key(id, dispute.round, node);
		let store = StorageValueRef::persistent(&store_key);
		let verdict_store_key = verdict_key(id, dispute.round, node);
		let verdict_store = StorageValueRef::persistent(&verdict_store_key);
		let on_chain = Votes::<T>::get(id, node);
		let post = || T::Requests::arbitration_job(id).ok_or(()).and_then(|b| post_job(url, b));
		match (dispute.phase, store.get::<JobState>().ok().flatten()) {
			(DisputePhase::Committing { .. }, _) if on_chain.is_some() => {},
			(DisputePhase::Committing { .. }, None) => match post() {
				Ok(job) => store.set(&JobState::Running { job }),
				Err(()) => store.set(&backoff(now, 0)),
			},
			(DisputePhase::Committing { .. }, Some(JobState::Backoff { retry_at, attempts }))
				if now >= retry_at =>
			{
				match post() {
					Ok(job) => store.set(&JobState::Running { job }),
					Err(()) => store.set(&backoff(now, attempts)),
				}
			},
			(DisputePhase::Committing { .. }, Some(JobState::Running { job })) => {
				match poll_job(url, &job) {
					Poll::Pending => {},
					Poll::Failed => store.set(&backoff(now, 0)),
					Poll::Done(done) => {
						let leaves = (0..dispute.leaves())
							.map(|i| output_leaf(&done.canonical_output, i))
							.collect();
						let verdict: VerdictOf<T> = Verdict {
							output_digest: done.output_hash,
							output_tokens: done.output_tokens,
							leaves: BoundedVec::truncate_from(leaves),
						};
						let digest = verdict.digest();
						verdict_store.set(&verdict);
						let seal = Vote::Sealed(sealed_commitment(&digest, &key.0));
						if Self::submit_vote_tx(VotePayload { request: id, node, vote: seal }, key)
						{
							store.set(&JobState::Committed { output_digest: digest });
						}
					},
				}
			},
			(DisputePhase::Revealing { .. }, Some(JobState::Committed { .. })) => {
				if matches!(on_chain, Some(Vote::Revealed(_))) {
					store.set(&JobState::Revealed);
					return;
				}
				let Some(verdict) = verdict_store.get::<VerdictOf<T>>().ok().flatten() else {
					return;
				};
				let reveal = Vote::Revealed(verdict);
				if Self::submit_vote_tx(VotePayload { request: id, node, vote: reveal }, key) {
					store.set(&JobState::Revealed);
				}
			},
			_ => {},
		}
	}

	/// Sign `payload` with the worker key and submit it as an authorized transaction.
	fn submit_vote_tx(payload: VotePayloadOf<T>, key: &WorkerPublic) -> bool {
		let Some(signature) = sp_io::crypto::sr25519_sign(KEY_TYPE, key, &payload.signing_bytes())
		else {
			return false;
		};
		let call = Call::<T>::submit_vote { payload, signature };
		let xt = T::create_authorized_transaction(call.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt).is_ok()
	}
}
