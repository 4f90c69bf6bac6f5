//! Benchmarks (FRAME v2): opening a dispute, the reveal that decides it, its authorization, a
//! governance decision, and `on_initialize` closing reveal windows; each at its worst case: the
//! most parties, the last (largest) round, arbiters in the minority and late arbiters all
//! slashed. Disputed requests come from the inference pallet's benchmark hook; worker keys live
//! in the benchmark keystore, so votes carry real signatures.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use alloc::vec::Vec;

use atoma_primitives::{
	bisection::inner_node,
	commitment::{commitment_root, output_digest, output_leaf, sealed_commitment},
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
	sp_io::crypto::sr25519_sign(KEY_TYPE, &key, &payload.signing_bytes(&Pallet::<T>::chain_id()))
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

/// A dispute of two parties in a bisection turn over two-step traces that differ in their second
/// step, side 0 having answered: side 1's answer completes the turn and reaches the step, which
/// starts the one-step check. Returns side 1's signed answer.
fn bisecting<T: Config>() -> (RequestId, BisectionPayload, sp_core::sr25519::Signature) {
	let user: T::AccountId = whitelisted_caller();
	let id = T::Requests::benchmark_disputed_request(&user, 2, 2);
	let mut dispute = Disputes::<T>::get(id).unwrap_or_else(|| panic!("disputed"));
	let steps = |last: u8| [[1u8; 32], [last; 32]];
	let (a, b) = (steps(2), steps(3));
	let traces = [(inner_node(&a[0], &a[1]), 2), (inner_node(&b[0], &b[1]), 2)];
	for (claim, (root, tokens)) in dispute.claims.iter_mut().zip(traces) {
		if let ClaimedOutput::Quorum { trace_root, output_tokens, .. } = &mut claim.claim {
			*trace_root = root;
			*output_tokens = tokens;
		}
	}
	let parties: Vec<NodeId> = dispute.claims.iter().map(|c| c.node).collect();
	dispute.game = Game::Bisection(Bisection {
		traces,
		level: 1,
		index: 0,
		hashes: [traces[0].0, traces[1].0],
		answers: [Some((a[0], a[1])), None],
		agreed: Default::default(),
	});
	let deadline = frame_system::Pallet::<T>::block_number() + 5u32.into();
	dispute.phase = DisputePhase::Bisecting { deadline };
	Disputes::<T>::insert(id, dispute);
	let payload = BisectionPayload {
		request: id,
		node: parties[1],
		level: 1,
		index: 0,
		left: b[0],
		right: b[1],
	};
	let key = T::Nodes::node(parties[1]).map(|n| n.worker_key).unwrap_or_else(|| panic!("node"));
	let signature = sp_io::crypto::sr25519_sign(
		KEY_TYPE,
		&key,
		&payload.signing_bytes(&Pallet::<T>::chain_id()),
	)
	.unwrap_or_else(|| panic!("the keystore holds the key"));
	(id, payload, signature)
}

/// A dispute of `MaxParties` parties awaiting the output after a one-step check that convicted
/// all but two: the survivors committed to the largest publishable output. Returns party 0's
/// signed publication; it resolves the dispute, slashing every convicted party.
fn awaiting_output<T: Config>() -> (RequestId, OutputPayloadOf<T>, sp_core::sr25519::Signature) {
	let parties = max_parties::<T>();
	let user: T::AccountId = whitelisted_caller();
	let id = T::Requests::benchmark_disputed_request(&user, parties, parties);
	let mut dispute = Disputes::<T>::get(id).unwrap_or_else(|| panic!("disputed"));
	let ids: Vec<u32> = (0..Pallet::<T>::max_publishable_tokens()).collect();
	let o = CanonicalOutput::new(&ids, FinishReason::Length).encode_canonical();
	let n = dispute.leaves();
	let leaves: Vec<[u8; 32]> = (0..n).map(|i| output_leaf(&o, i)).collect();
	let root = commitment_root(&leaves);
	for (i, claim) in dispute.claims.iter_mut().enumerate() {
		if let ClaimedOutput::Quorum { root: r, leaf, output_tokens, trace_root, .. } =
			&mut claim.claim
		{
			*r = root;
			*leaf = leaves[i];
			*output_tokens = ids.len() as u32;
			*trace_root = [if i < 2 { 0 } else { 1 }; 32];
		}
	}
	let convicted: Vec<NodeId> = dispute.claims.iter().skip(2).map(|c| c.node).collect();
	dispute.convicted = BoundedVec::truncate_from(convicted);
	let deadline = frame_system::Pallet::<T>::block_number() + 5u32.into();
	dispute.phase = DisputePhase::AwaitingOutput { deadline };
	let publisher = dispute.claims[0].node;
	Disputes::<T>::insert(id, dispute);
	let payload: OutputPayloadOf<T> =
		OutputPayload { request: id, node: publisher, output: BoundedVec::truncate_from(o) };
	let key = T::Nodes::node(publisher).map(|n| n.worker_key).unwrap_or_else(|| panic!("node"));
	let signature = sp_io::crypto::sr25519_sign(
		KEY_TYPE,
		&key,
		&payload.signing_bytes(&Pallet::<T>::chain_id()),
	)
	.unwrap_or_else(|| panic!("the keystore holds the key"));
	(id, payload, signature)
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
					claim: ClaimedOutput::Digest {
						digest: [i as u8; 32],
						output_tokens: i,
						trace_root: [i as u8; 32],
					},
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

	/// The answer that completes a bisection turn and reaches a step: the one-step check starts.
	#[benchmark]
	fn submit_bisection() {
		let (id, payload, signature) = bisecting::<T>();

		#[extrinsic_call]
		_(RawOrigin::Authorized, payload, signature);

		let game = Disputes::<T>::get(id).map(|d| d.game);
		assert!(matches!(game, Some(Game::StepCheck(_))), "the walk reached a step");
	}

	/// Authorizing a bisection answer: the signature and the children's hash.
	#[benchmark]
	fn authorize_submit_bisection() -> Result<(), BenchmarkError> {
		let (_, payload, signature) = bisecting::<T>();
		let call = Call::<T>::submit_bisection { payload, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the party is authorized")?;
		}
		Ok(())
	}

	/// Publishing the largest output: decoded, hashed for every leaf, then the resolution.
	#[benchmark]
	fn submit_output() {
		let (id, payload, signature) = awaiting_output::<T>();

		#[extrinsic_call]
		_(RawOrigin::Authorized, payload, signature);

		assert!(!Disputes::<T>::contains_key(id), "resolved");
	}

	/// Authorizing the largest publication: the signature over it and the output's checks.
	#[benchmark]
	fn authorize_submit_output() -> Result<(), BenchmarkError> {
		let (_, payload, signature) = awaiting_output::<T>();
		let call = Call::<T>::submit_output { payload, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the survivor is authorized")?;
		}
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
