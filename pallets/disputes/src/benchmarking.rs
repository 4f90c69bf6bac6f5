//! Benchmarks (FRAME v2): opening a dispute, the reveal that decides it, its authorization, a
//! governance decision, and `on_initialize` closing reveal windows; each at its worst case: the
//! most parties, the last (largest) round, arbiters in the minority and late arbiters all
//! slashed. Disputed requests come from the inference pallet's benchmark hook; worker keys live
//! in the benchmark keystore, so votes carry real signatures.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use alloc::vec::Vec;

use atoma_primitives::{
	commitment::{output_digest, output_leaf, sealed_commitment},
	CanonicalOutput, FinishReason,
};
use atoma_support::{
	inference::{Claim, ClaimedOutput, DisputeCase, DisputedRequests},
	worker_key::KEY_TYPE,
	EchelonId, ModelId, NodeId, NodeRegistry, RequestId,
};
use frame_benchmarking::v2::*;
use frame_support::{
	pallet_prelude::Authorize,
	traits::{EnsureOrigin, Get},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::transaction_validity::TransactionSource;

use crate::{pallet::*, round_quorum, types::*};

/// The output the inference hook's party at `position` committed: `position + 1` token ids.
fn party_output(position: u32) -> Vec<u8> {
	let ids: Vec<u32> = (0..position + 1).collect();
	CanonicalOutput::new(&ids, FinishReason::Length).encode_canonical()
}

/// The verdict for party `position`'s output in a quorum of `n`.
fn verdict_for<T: Config>(position: u32, n: u32) -> VerdictOf<T> {
	let o = party_output(position);
	Verdict {
		output_digest: output_digest(&o),
		output_tokens: position + 1,
		leaves: BoundedVec::truncate_from((0..n).map(|i| output_leaf(&o, i)).collect()),
	}
}

fn sign<T: Config>(payload: &VotePayloadOf<T>) -> sp_core::sr25519::Signature {
	let key = T::Nodes::node(payload.node).map(|n| n.worker_key).unwrap_or_else(|| panic!("node"));
	sp_io::crypto::sr25519_sign(KEY_TYPE, &key, &payload.signing_bytes())
		.unwrap_or_else(|| panic!("the keystore holds the key"))
}

fn seal<T: Config>(node: NodeId, verdict: &VerdictOf<T>) -> Vote<T::MaxParties> {
	let key = T::Nodes::node(node).map(|n| n.worker_key).unwrap_or_else(|| panic!("node"));
	Vote::Sealed(sealed_commitment(&verdict.digest(), &key.0))
}

/// The most parties a Sampling request can have in this runtime: the verdict's leaf bound.
fn max_parties<T: Config>() -> u32 {
	T::MaxParties::get()
}

/// A dispute over a request of as many disagreeing nodes as a Sampling quorum can have, in its last (largest) round, its
/// arbiters drawn and every one of them sealed: the honest output is party 0's; all but a
/// minority of the arbiters will find it. Returns the request, its arbiters, and the verdicts
/// they sealed.
fn sealed_last_round<T: Config>() -> (RequestId, Vec<NodeId>, Vec<VerdictOf<T>>) {
	let parties = max_parties::<T>();
	let last = T::MaxRounds::get().saturating_sub(1);
	let quorum = round_quorum(T::ArbiterQuorum::get(), last);
	let user: T::AccountId = whitelisted_caller();
	let id = T::Requests::benchmark_disputed_request(&user, parties, parties + quorum);
	let mut dispute = Disputes::<T>::get(id).unwrap_or_else(|| panic!("disputed"));
	dispute.round = last;
	let at = dispute.phase.ends_at();
	Disputes::<T>::insert(id, dispute);
	frame_system::Pallet::<T>::set_block_number(at);
	Pallet::<T>::do_tick(at);
	let dispute = Disputes::<T>::get(id).unwrap_or_else(|| panic!("drawn"));
	let arbiters = dispute.round_arbiters().to_vec();
	assert_eq!(arbiters.len() as u32, quorum, "enough subscribers for the last round");
	let n = dispute.leaves();
	// The largest minority sides with party 1: those arbiters lose their collateral too.
	let minority = (quorum.saturating_sub(1) / 2) as usize;
	let verdicts: Vec<VerdictOf<T>> = (0..arbiters.len())
		.map(|i| if i < minority { verdict_for::<T>(1, n) } else { verdict_for::<T>(0, n) })
		.collect();
	for (node, verdict) in arbiters.iter().zip(&verdicts) {
		Votes::<T>::insert(id, node, seal::<T>(*node, verdict));
	}
	let deadline = frame_system::Pallet::<T>::block_number() + 5u32.into();
	Disputes::<T>::mutate(id, |d| {
		if let Some(d) = d {
			d.phase = DisputePhase::Revealing { deadline };
		}
	});
	(id, arbiters, verdicts)
}

/// Every arbiter but the one at `skip` reveals.
fn reveal_all_but<T: Config>(
	id: RequestId,
	arbiters: &[NodeId],
	verdicts: &[VerdictOf<T>],
	skip: usize,
) {
	for (i, (node, verdict)) in arbiters.iter().zip(verdicts).enumerate() {
		if i != skip {
			Votes::<T>::insert(id, node, Vote::Revealed(verdict.clone()));
		}
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// Opening a dispute of `MaxParties` parties.
	#[benchmark]
	fn open_dispute() -> Result<(), BenchmarkError> {
		let user: T::AccountId = whitelisted_caller();
		let case = DisputeCase {
			user,
			model: ModelId::default(),
			echelon: EchelonId(0),
			claims: (0..max_parties::<T>())
				.map(|i| Claim {
					node: NodeId(i.into()),
					claim: ClaimedOutput::Digest { digest: [i as u8; 32], output_tokens: i },
				})
				.collect(),
		};

		#[block]
		{
			Pallet::<T>::do_open_dispute(RequestId(u64::MAX), case)
				.map_err(|_| "the dispute opens")?;
		}

		assert!(Disputes::<T>::contains_key(RequestId(u64::MAX)));
		Ok(())
	}

	/// The reveal that completes the last round: the dispute resolves, slashing every cheating
	/// party and the minority of arbiters.
	#[benchmark]
	fn submit_vote() {
		let (id, arbiters, verdicts) = sealed_last_round::<T>();
		let last = arbiters.len() - 1;
		reveal_all_but::<T>(id, &arbiters, &verdicts, last);
		let payload = VotePayload {
			request: id,
			node: arbiters[last],
			vote: Vote::Revealed(verdicts[last].clone()),
		};
		let signature = sign::<T>(&payload);

		#[extrinsic_call]
		_(RawOrigin::Authorized, payload, signature);

		assert!(!Disputes::<T>::contains_key(id), "resolved");
	}

	/// Authorizing a reveal: the signature and the seal it opens.
	#[benchmark]
	fn authorize_submit_vote() -> Result<(), BenchmarkError> {
		let (id, arbiters, verdicts) = sealed_last_round::<T>();
		let payload = VotePayload {
			request: id,
			node: arbiters[0],
			vote: Vote::Revealed(verdicts[0].clone()),
		};
		let signature = sign::<T>(&payload);
		let call = Call::<T>::submit_vote { payload, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the arbiter is authorized")?;
		}
		Ok(())
	}

	/// Governance deciding after the last round, slashing every cheating party and the minority
	/// of arbiters.
	#[benchmark]
	fn resolve_dispute() -> Result<(), BenchmarkError> {
		let (id, arbiters, verdicts) = sealed_last_round::<T>();
		for (node, verdict) in arbiters.iter().zip(&verdicts) {
			Votes::<T>::insert(id, node, Vote::Revealed(verdict.clone()));
		}
		let deadline = frame_system::Pallet::<T>::block_number() + 5u32.into();
		Disputes::<T>::mutate(id, |d| {
			if let Some(d) = d {
				d.phase = DisputePhase::AwaitingGovernance { deadline };
			}
		});
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let n = Disputes::<T>::get(id).map(|d| d.leaves()).unwrap_or_default();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id, Some(verdict_for::<T>(0, n)));

		assert!(!Disputes::<T>::contains_key(id));
		Ok(())
	}

	/// `t` reveal windows of last-round disputes closing in one block, each with one late arbiter
	/// (of the minority, so the majority still holds): slashed, then the round resolves.
	#[benchmark]
	fn on_initialize(t: Linear<0, { T::MaxTimersPerBlock::get().min(4) }>) {
		let mut ids = Vec::new();
		for _ in 0..t {
			let (id, arbiters, verdicts) = sealed_last_round::<T>();
			reveal_all_but::<T>(id, &arbiters, &verdicts, 0);
			ids.push(id);
		}
		let now: BlockNumberFor<T> = frame_system::Pallet::<T>::block_number() + 10u32.into();
		for id in &ids {
			Disputes::<T>::mutate(id, |d| {
				if let Some(d) = d {
					d.phase = DisputePhase::Revealing { deadline: now };
				}
			});
			Timers::<T>::mutate(now, |timers| {
				let _ = timers.try_push(*id);
			});
		}
		frame_system::Pallet::<T>::set_block_number(now);

		#[block]
		{
			Pallet::<T>::do_tick(now);
		}

		assert!(ids.iter().all(|id| !Disputes::<T>::contains_key(id)));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
