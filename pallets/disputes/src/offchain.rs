//! The disputes pallet's off-chain worker (protocol §9), for parties and arbiters.
//!
//! **Parties.** When one of this node's worker keys is a party of a bisection, it answers each
//! turn with the two children of the current node, hashed from the step digests it kept when it
//! committed (`atoma_support::offchain_jobs::JobTrace`); when its side survives a one-step
//! check, it publishes the output `O` it kept.
//!
//! **Arbiters.** When one of this node's worker keys is an arbiter of a dispute's current
//! round, it re-executes the disputed request through the local inference worker (up to the
//! bisected step only, for a one-step check), seals its verdict, and reveals it in the reveal
//! window.
//!
//! It finds its disputes through the chain's index of duties (`Duties`: parties and drawn
//! arbiters), never a scan of the open disputes.
//!
//! One step per block per (dispute, round, arbiter), never waiting on inference, with its state
//! in persistent offchain storage (the same job client and states as the executing nodes',
//! `atoma_support::offchain_jobs`):
//!
//! ```text
//! (none) ─POST /v1/jobs─► Running { job } ─completed─► verdict stored, seal submitted
//!    ▲                        │ failed                  ─► Committed { verdict digest }
//!    └── Backoff { retry_at } ◄┘       reveal window: reveal sent until on chain ─► Revealed
//! ```

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::{
	bisection::{children, node_hash, prefix_digest, recompute_prefix, Children, TreeNode},
	commitment::sealed_commitment,
	unservable::UnservableReason,
};
use atoma_support::{
	inference::DisputedRequests,
	offchain_jobs::{
		backoff, fetch_trace, kept_trace, paired_worker, poll_job, post_job, relay_input,
		with_job_lock, FinishedJob, JobState, KeptJobs, Poll, Refusal,
	},
	worker_key::KEY_TYPE,
	NodeId, RequestId, WorkerPublic,
};
use codec::Encode;
use frame_support::BoundedVec;
use frame_system::{offchain::SubmitTransaction, pallet_prelude::BlockNumberFor};
use sp_runtime::{offchain::storage::StorageValueRef, SaturatedConversion};

use crate::{
	pallet::*,
	types::{
		BisectionPayload, Dispute, DisputePhase, Game, OutputPayload, StepCheck, StepVerdict,
		Verdict, Vote, VotePayload,
	},
};

const JOB_PREFIX: &[u8] = b"atoma/arbiter-job/";
const VERDICT_PREFIX: &[u8] = b"atoma/arbiter-verdict/";
const LOCK_PREFIX: &[u8] = b"atoma/arbiter-lock/";

/// The offchain-storage key of `node`'s job state for `round` of the dispute over `request`.
pub fn job_key(request: RequestId, round: u32, node: NodeId) -> Vec<u8> {
	[JOB_PREFIX, &(request, round, node).encode()].concat()
}

fn verdict_key(request: RequestId, round: u32, node: NodeId) -> Vec<u8> {
	[VERDICT_PREFIX, &(request, round, node).encode()].concat()
}

fn lock_key(request: RequestId, node: NodeId) -> Vec<u8> {
	[LOCK_PREFIX, &(request, node).encode()].concat()
}

/// The arbiter jobs that left state in offchain storage (SCALE `Vec<(RequestId, round,
/// NodeId)>`), so that it can be removed once the node's duty in the dispute has ended.
pub const KEPT_ARBITER_JOBS_KEY: &[u8] = b"atoma/kept-arbiter-jobs";
const KEPT_ARBITER_JOBS: KeptJobs<(RequestId, u32, NodeId)> = KeptJobs::new(KEPT_ARBITER_JOBS_KEY);

impl<T: Config> Pallet<T> {
	/// One run of the arbiter's off-chain worker at block `now`.
	pub fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some((url, local)) = paired_worker::<T::AccountId, BalanceOf<T>, T::Nodes>() else {
			return;
		};
		let now: u32 = now.saturated_into();
		for (node, key) in &local {
			for id in Duties::<T>::iter_key_prefix(node) {
				let Some(dispute) = Disputes::<T>::get(id) else { continue };
				if dispute.is_party(*node) {
					Self::party_step(id, &dispute, *node, key);
					continue;
				}
				if !dispute.round_arbiters().contains(node) {
					continue;
				}
				with_job_lock(&lock_key(id, *node), || {
					Self::arbiter_step(&url, now, id, &dispute, *node, key)
				});
			}
		}
		// An arbiter's state outlives its duty only until the next run.
		KEPT_ARBITER_JOBS.forget_ended(
			|(id, _, node)| !Duties::<T>::contains_key(node, id),
			|(id, round, node)| {
				StorageValueRef::persistent(&job_key(*id, *round, *node)).clear();
				StorageValueRef::persistent(&verdict_key(*id, *round, *node)).clear();
				StorageValueRef::persistent(&lock_key(*id, *node)).clear();
			},
		);
	}

	/// A party's part: answer the bisection turn for its side, or publish the output once its
	/// side survived. The transaction pool keeps one answer per side and turn, so repeating an
	/// answer in later blocks (until the chain has it) is harmless.
	fn party_step(id: RequestId, dispute: &Dispute<T>, node: NodeId, key: &WorkerPublic) {
		let Some(trace) = kept_trace(id, node) else { return };
		match (&dispute.phase, &dispute.game) {
			(DisputePhase::Bisecting { .. }, Game::Bisection(bisection)) => {
				let Some(side) = dispute.side_of(node, &bisection.traces) else { return };
				if bisection.answers.get(side).is_some_and(Option::is_some) {
					return;
				}
				let steps = bisection.traces[0].1;
				let here = TreeNode { level: bisection.level, index: bisection.index };
				let Children::Pair(left, right) = children(steps, here) else { return };
				let digests = &trace.step_digests;
				let (Some(left), Some(right)) =
					(node_hash(digests, steps, left), node_hash(digests, steps, right))
				else {
					return;
				};
				let payload = BisectionPayload {
					request: id,
					node,
					level: here.level,
					index: here.index,
					left,
					right,
				};
				let Some(signature) = Self::sign(key, &payload.signing_bytes(&Self::chain_id()))
				else {
					return;
				};
				Self::submit(Call::<T>::submit_bisection { payload, signature });
			},
			(DisputePhase::AwaitingOutput { .. }, _) => {
				if !dispute.survivors().any(|c| c.node == node) {
					return;
				}
				let output = BoundedVec::truncate_from(trace.canonical_output);
				let payload: OutputPayloadOf<T> = OutputPayload { request: id, node, output };
				let Some(signature) = Self::sign(key, &payload.signing_bytes(&Self::chain_id()))
				else {
					return;
				};
				Self::submit(Call::<T>::submit_output { payload, signature });
			},
			_ => {},
		}
	}

	/// What an arbiter reports of a finished job: the whole output, or for a one-step check
	/// the bisected step and its own hashes of the agreed prefix.
	fn verdict_of_job(
		url: &str,
		job: &[u8],
		done: &FinishedJob,
		dispute: &Dispute<T>,
	) -> Option<Vote<T::MaxParties>> {
		match &dispute.game {
			Game::StepCheck(check) => {
				let trace = fetch_trace(url, job, done).ok()?;
				Some(Vote::RevealedStep(Self::step_verdict(check, &trace.step_digests)))
			},
			_ => Self::verdict_of_output(dispute, &done.canonical_output).map(Vote::Revealed),
		}
	}

	/// The one-step verdict of honest decoding whose step digests are `digests` (steps
	/// `0..=check.step`, fewer if decoding ended earlier).
	pub fn step_verdict(check: &StepCheck, digests: &[[u8; 32]]) -> StepVerdict {
		let ranges: Vec<(u32, u32)> = check.agreed.iter().map(|(s, l, _)| (*s, *l)).collect();
		// Too few steps to cover the agreed prefix: decoding ended inside it, so no side's
		// prefix is honest; the zero digest matches no prefix.
		let prefix = recompute_prefix(digests, &ranges).map_or([0u8; 32], |p| prefix_digest(&p));
		StepVerdict {
			step: check.step,
			step_digest: digests.get(check.step as usize).copied(),
			prefix,
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
		// A one-step check decodes steps `0..=k` only.
		let limit = match &dispute.game {
			Game::StepCheck(check) => Some(check.step.saturating_add(1)),
			_ => None,
		};
		// Keep the verdict for the reveal, and seal it.
		let seal_verdict = |verdict: Vote<T::MaxParties>| {
			let digest = verdict.revealed_digest().unwrap_or_default();
			verdict_store.set(&verdict);
			let seal = Vote::Sealed(sealed_commitment(&digest, &key.0));
			if Self::submit_vote_tx(VotePayload { request: id, node, vote: seal }, key) {
				store.set(&JobState::Committed { output_digest: digest });
			}
		};
		// Post the job. A by-hash input the worker lacks is read from a party's worker first,
		// and the job posted again the next block. A worker that refuses the request itself (an
		// input no party serves, a prompt past the context) gives the arbiter its verdict:
		// "unservable".
		let post = |attempts: u32| match post_job(url, T::Requests::arbitration_job(id, limit)) {
			Ok(job) => store.set(&JobState::Running { job, attempts }),
			Err(Refusal::Unservable(UnservableReason::InputUnavailable))
				if Self::relay_input(url, id, node, key) =>
			{
				store.set(&JobState::Backoff { retry_at: now.saturating_add(1), attempts })
			},
			Err(Refusal::Unservable(reason)) => {
				seal_verdict(Vote::Revealed(Verdict::unservable(reason)))
			},
			Err(Refusal::Transient) => store.set(&backoff(now, attempts)),
		};
		match (dispute.phase, store.get::<JobState>().ok().flatten()) {
			(DisputePhase::Committing { .. }, _) if on_chain.is_some() => {},
			(DisputePhase::Committing { .. }, None) => {
				KEPT_ARBITER_JOBS.keep((id, dispute.round, node));
				post(0)
			},
			(DisputePhase::Committing { .. }, Some(JobState::Backoff { retry_at, attempts }))
				if now >= retry_at =>
			{
				post(attempts)
			},
			(DisputePhase::Committing { .. }, Some(JobState::Running { job, attempts })) => {
				match poll_job(url, &job) {
					Poll::Pending => {},
					Poll::Failed => store.set(&backoff(now, attempts)),
					Poll::Done(done) => match Self::verdict_of_job(url, &job, &done, dispute) {
						Some(verdict) => seal_verdict(verdict),
						None => store.set(&backoff(now, attempts)),
					},
				}
			},
			// Sealed here but not on chain: the transaction was dropped before inclusion; send it
			// again (the pool refuses a copy of one it still holds).
			(DisputePhase::Committing { .. }, Some(JobState::Committed { output_digest })) => {
				let seal = Vote::Sealed(sealed_commitment(&output_digest, &key.0));
				Self::submit_vote_tx(VotePayload { request: id, node, vote: seal }, key);
			},
			(DisputePhase::Revealing { .. }, Some(JobState::Committed { .. })) => {
				if on_chain.is_some_and(|v| v.revealed_digest().is_some()) {
					store.set(&JobState::Revealed);
					return;
				}
				let Some(reveal) = verdict_store.get::<Vote<T::MaxParties>>().ok().flatten() else {
					return;
				};
				// Sent every block until the chain has it: a reveal dropped from the pool would
				// cost this arbiter its timeout slash.
				Self::submit_vote_tx(VotePayload { request: id, node, vote: reveal }, key);
			},
			_ => {},
		}
	}

	/// Read the disputed request's by-hash input from a party's worker, proving this node's duty
	/// (`atoma_primitives::input_read`); whether the local worker has it now.
	fn relay_input(url: &str, id: RequestId, node: NodeId, key: &WorkerPublic) -> bool {
		let Some((hash, holders)) = T::Requests::input_holders(id) else { return false };
		relay_input::<T::AccountId, BalanceOf<T>, T::Nodes>(
			url,
			&holders,
			node,
			id,
			&hash,
			key,
			None,
			&Self::chain_id(),
		)
	}

	/// Sign `payload` with the worker key and submit it as an authorized transaction.
	fn submit_vote_tx(payload: VotePayloadOf<T>, key: &WorkerPublic) -> bool {
		let Some(signature) = Self::sign(key, &payload.signing_bytes(&Self::chain_id())) else {
			return false;
		};
		Self::submit(Call::<T>::submit_vote { payload, signature })
	}

	fn sign(key: &WorkerPublic, bytes: &[u8]) -> Option<sp_core::sr25519::Signature> {
		sp_io::crypto::sr25519_sign(KEY_TYPE, key, bytes)
	}

	/// Submit `call` as an authorized transaction.
	fn submit(call: Call<T>) -> bool {
		let xt = T::create_authorized_transaction(call.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt).is_ok()
	}
}
