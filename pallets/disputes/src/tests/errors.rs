//! Every error of every call, each in a test that triggers it, and how the authorization maps
//! them for the transaction pool.

use atoma_support::{
	inference::{Claim, ClaimedOutput, DisputeCase, DisputeManager},
	EchelonId, NodeId, RequestId,
};
use frame_support::{assert_noop, assert_ok, BoundedVec};
use sp_core::Pair;
use sp_runtime::transaction_validity::{InvalidTransaction, TransactionValidityError};

use super::*;
use crate::{mock::*, Error};

fn case(parties: u64) -> DisputeCase<AccountId> {
	DisputeCase {
		user: USER,
		model: model(),
		echelon: EchelonId(0),
		claims: (0..parties)
			.map(|i| Claim {
				node: NodeId(i),
				claim: ClaimedOutput::Digest {
					digest: [i as u8; 32],
					output_tokens: 1,
					trace_root: [i as u8; 32],
				},
			})
			.collect(),
	}
}

/// A request id no dispute has: it only takes up timer slots.
const FILLER: u64 = 1_000;

/// Take every free timer slot a phase ending at `at` could slip into.
fn fill_timers(at: u64) {
	for slip in 0..crate::arbitration::MAX_TIMER_SLIP as u64 {
		crate::Timers::<Test>::mutate(
			at + slip,
			|t| while t.try_push(RequestId(FILLER)).is_ok() {},
		);
	}
}

/// Drop `id` from the timer slots after `at`.
fn unfill_timers(at: u64, id: RequestId) {
	for slip in 0..crate::arbitration::MAX_TIMER_SLIP as u64 {
		crate::Timers::<Test>::mutate(at + slip, |t| t.retain(|r| *r != id));
	}
}

#[test]
fn open_dispute_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, _) = disputed_sampling(&[output(1, 2), output(2, 2)]);
		assert_noop!(Disputes::open_dispute(id, case(2)), Error::<Test>::DisputeExists);
		assert_noop!(Disputes::open_dispute(RequestId(77), case(0)), Error::<Test>::NoParties);
		assert_noop!(Disputes::open_dispute(RequestId(77), case(5)), Error::<Test>::TooManyParties);
		// Fill every timer slot a new dispute could use.
		let at = System::block_number() + DRAW_DELAY;
		fill_timers(at);
		assert_noop!(Disputes::open_dispute(RequestId(77), case(1)), Error::<Test>::TimersFull);
		unfill_timers(at, RequestId(FILLER));
		assert_ok!(Disputes::open_dispute(RequestId(77), case(1)));
		// Not a real request: end it so the invariants hold (the inference pallet has none).
		crate::Disputes::<Test>::remove(RequestId(77));
		let stale: Vec<_> =
			crate::Duties::<Test>::iter_keys().filter(|(_, r)| *r == RequestId(77)).collect();
		for (node, request) in stale {
			crate::Duties::<Test>::remove(node, request);
		}
		unfill_timers(at, RequestId(77));
	});
}

#[test]
fn a_disagreement_the_dispute_manager_refuses_is_refunded_not_stranded() {
	ExtBuilder::default().build_and_execute(|| {
		let at = System::block_number() + 1 + DRAW_DELAY;
		fill_timers(at);
		let id = submit_and_select(atoma_support::inference::VerificationMode::Sampling { n: 2 });
		let nodes = request(id).nodes.to_vec();
		assert_ok!(commit(id, nodes[0], quorum_kind(&output(1, 2), 0, 2)));
		assert_ok!(commit(id, nodes[1], quorum_kind(&output(2, 2), 1, 2)));
		assert!(crate::Disputes::<Test>::get(id).is_none());
		assert!(pallet_inference::Requests::<Test>::get(id).is_none(), "ended");
		assert_eq!(held_escrow(USER), 0, "refunded");
		assert!(nodes.iter().all(|n| reserved(*n) == 0));
		unfill_timers(at, RequestId(FILLER));
	});
}

#[test]
fn submit_vote_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let v = verdict(&honest_output, 2);
		let stranger = NodeId(0);
		let check = |payload: &crate::pallet::VotePayloadOf<Test>, signer: NodeId| {
			let signature = pair_of(signer).sign(&payload.signing_bytes(&Disputes::chain_id()));
			Disputes::check_vote(payload, &signature)
				.map(|_| ())
				.map_err(sp_runtime::DispatchError::from)
		};

		let seal = |n: NodeId| vote_payload(id, n, seal_of(n, &v));
		assert_eq!(
			check(&vote_payload(RequestId(9), nodes[0], seal_of(nodes[0], &v)), nodes[0]),
			Err(Error::<Test>::UnknownDispute.into())
		);
		assert_eq!(check(&seal(NodeId(999)), nodes[0]), Err(Error::<Test>::UnknownNode.into()));
		// Before the draw nobody is an arbiter.
		assert_eq!(check(&seal(nodes[0]), nodes[0]), Err(Error::<Test>::NotArbiter.into()));

		let arbiters = run_to_draw(id);
		let (a, b, c) = (arbiters[0], arbiters[1], arbiters[2]);
		assert_eq!(check(&seal(a), b), Err(Error::<Test>::BadSignature.into()));
		assert_eq!(
			check(&seal(nodes[1]), nodes[1]),
			Err(Error::<Test>::NotArbiter.into()),
			"a party"
		);
		let _ = stranger;
		assert_eq!(
			check(&vote_payload(id, a, Vote::Revealed(v.clone())), a),
			Err(Error::<Test>::NotRevealing.into())
		);
		assert_ok!(vote(id, a, seal_of(a, &v)));
		assert_eq!(check(&seal(a), a), Err(Error::<Test>::AlreadySealed.into()));
		assert_ok!(vote(id, b, seal_of(b, &v)));
		let DisputePhase::Committing { deadline } = dispute(id).phase else { panic!("committing") };
		run_to_block(deadline);
		// c was late: slashed and out of the round.
		assert_eq!(check(&seal(c), c), Err(Error::<Test>::NotArbiter.into()));
		assert_eq!(check(&seal(a), a), Err(Error::<Test>::NotCommitting.into()));

		let reveal = |n: NodeId, verdict: &crate::pallet::VerdictOf<Test>| {
			vote_payload(id, n, Vote::Revealed(verdict.clone()))
		};
		let short = crate::Verdict { leaves: BoundedVec::new(), ..v.clone() };
		assert_eq!(check(&reveal(a, &short), a), Err(Error::<Test>::MalformedVerdict.into()));
		assert_eq!(
			check(&reveal(a, &verdict(&output(7, 4), 2)), a),
			Err(Error::<Test>::RevealMismatch.into())
		);
		assert_ok!(vote(id, a, Vote::Revealed(v.clone())));
		assert_eq!(check(&reveal(a, &v), a), Err(Error::<Test>::AlreadyRevealed.into()));
		// The window closes at its deadline block.
		let DisputePhase::Revealing { deadline } = dispute(id).phase else { panic!("revealing") };
		System::set_block_number(deadline);
		assert_eq!(check(&reveal(b, &v), b), Err(Error::<Test>::NotRevealing.into()));
		System::set_block_number(deadline - 1);
		assert_ok!(vote(id, b, Vote::Revealed(v)));
		assert!(crate::Disputes::<Test>::get(id).is_none(), "two of three found the output");
	});
}

#[test]
fn a_vote_without_its_seal_is_refused() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let arbiters = run_to_draw(id);
		let v = verdict(&honest_output, 2);
		assert_ok!(vote(id, arbiters[0], seal_of(arbiters[0], &v)));
		assert_ok!(vote(id, arbiters[1], seal_of(arbiters[1], &v)));
		let DisputePhase::Committing { deadline } = dispute(id).phase else { panic!("committing") };
		// Close the window by hand without the late arbiter's slash: it is still an arbiter of
		// the round but never sealed.
		crate::Disputes::<Test>::mutate(id, |d| {
			d.as_mut().unwrap().phase = DisputePhase::Revealing { deadline }
		});
		let payload = vote_payload(id, arbiters[2], Vote::Revealed(v.clone()));
		let signature = pair_of(arbiters[2]).sign(&payload.signing_bytes(&Disputes::chain_id()));
		assert_eq!(
			Disputes::check_vote(&payload, &signature)
				.map(|_| ())
				.map_err(sp_runtime::DispatchError::from),
			Err(Error::<Test>::NotSealed.into())
		);
		crate::Disputes::<Test>::mutate(id, |d| {
			d.as_mut().unwrap().phase = DisputePhase::Committing { deadline }
		});
	});
}

#[test]
fn authorization_maps_errors_for_the_pool() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let arbiters = run_to_draw(id);
		let v = verdict(&honest_output, 2);
		let seal = vote_payload(id, arbiters[0], seal_of(arbiters[0], &v));
		assert_eq!(
			authorize_vote(&seal, arbiters[1]),
			Err(TransactionValidityError::Invalid(InvalidTransaction::BadProof))
		);
		let (valid, _) = authorize_vote(&seal, arbiters[0]).expect("valid");
		assert_eq!(valid.priority, u64::MAX / 2);
		assert!(valid.longevity >= 1 && valid.longevity <= COMMIT_WINDOW);
		assert_ok!(vote(id, arbiters[0], seal_of(arbiters[0], &v)));
		assert_eq!(
			authorize_vote(&seal, arbiters[0]),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Stale)),
			"a replay"
		);
		let party = vote_payload(id, request_parties(id)[0], seal_of(arbiters[0], &v));
		assert_eq!(
			authorize_vote(&party, request_parties(id)[0]),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(
				Error::<Test>::NotArbiter.as_u8()
			)))
		);
	});
}

fn request_parties(id: RequestId) -> Vec<NodeId> {
	dispute(id).claims.iter().map(|c| c.node).collect()
}

#[test]
fn resolve_dispute_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let v = verdict(&honest_output, 2);
		assert_noop!(
			Disputes::resolve_dispute(RuntimeOrigin::signed(USER), id, Some(v.clone())),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Disputes::resolve_dispute(RuntimeOrigin::root(), RequestId(9), None),
			Error::<Test>::UnknownDispute
		);
		assert_noop!(
			Disputes::resolve_dispute(RuntimeOrigin::root(), id, Some(v.clone())),
			Error::<Test>::NotAwaitingGovernance
		);
		crate::Disputes::<Test>::mutate(id, |d| {
			let d = d.as_mut().unwrap();
			let at = d.phase.ends_at();
			d.phase = DisputePhase::AwaitingGovernance { deadline: at };
		});
		assert_noop!(
			Disputes::resolve_dispute(RuntimeOrigin::root(), id, Some(verdict(&honest_output, 3))),
			Error::<Test>::MalformedVerdict
		);
		assert_ok!(Disputes::resolve_dispute(RuntimeOrigin::root(), id, Some(v)));
	});
}

#[test]
fn the_upgrade_indexes_the_duties_of_open_disputes() {
	use frame_support::traits::{
		GetStorageVersion, OnRuntimeUpgrade, StorageVersion, UncheckedOnRuntimeUpgrade,
	};
	ExtBuilder::default().build_and_execute(|| {
		let (id, nodes) = disputed_sampling(&[output(1, 2), output(2, 2)]);
		let arbiters = run_to_draw(id);
		let _ = crate::Duties::<Test>::clear(u32::MAX, None);
		StorageVersion::new(0).put::<Disputes>();
		crate::migrations::v1::MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(Disputes::on_chain_storage_version(), 1);
		for node in nodes.iter().chain(&arbiters) {
			assert!(crate::Duties::<Test>::contains_key(node, id));
		}
		// Once only.
		let _ = crate::Duties::<Test>::clear(u32::MAX, None);
		crate::migrations::v1::MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(crate::Duties::<Test>::iter().count(), 0);
		crate::migrations::v1::IndexDuties::<Test>::on_runtime_upgrade();
	});
}
