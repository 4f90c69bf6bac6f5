use atoma_support::{inference::VerificationMode, NodeId};
use frame_support::{assert_noop, assert_ok, traits::Get};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, types::CommitmentKind, Error, Event, FailureReason, Phase};

fn cv(n: u32, percent: u32) -> VerificationMode {
	VerificationMode::CrossValidation { n, p: Perbill::from_percent(percent) }
}

/// The nodes other than the primary.
fn others(id: atoma_support::RequestId, count: u64) -> Vec<NodeId> {
	let primary = selected(id)[0];
	(0..count).map(NodeId).filter(|n| *n != primary).collect()
}

#[test]
fn with_p_one_every_other_node_verifies_and_all_are_paid() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		assert_eq!(request(id).sortition_threshold, u128::MAX);
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(5, 6);

		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		System::assert_has_event(Event::VerifierJoined { request: id, node: verifier }.into());
		assert_eq!(node_record(verifier).reserved, JOB_COLLATERAL);

		// The escrow pays one verifier and it joined: nobody else may, so the reveal starts at
		// once instead of at the window's end.
		let reveal_until = System::block_number() + 3;
		assert_eq!(request(id).phase, Phase::Revealing { deadline: reveal_until });
		System::assert_last_event(
			Event::RevealStarted { request: id, deadline: reveal_until }.into(),
		);
		assert_noop!(
			submit_signed(payload(id, primary, reveal_kind(&output(9, 9)))),
			sp_runtime::DispatchError::Other("unauthorized")
		);
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		assert_ok!(submit_signed(payload(id, verifier, reveal_kind(&o))));
		let digest = atoma_primitives::commitment::output_digest(&o);
		System::assert_last_event(
			Event::RequestSettled {
				request: id,
				output_commitment: digest,
				output_tokens: 6,
				nodes: vec![primary, verifier],
				// (5 + 6) x 2 = 22 each; owner 10% = 2 each.
				paid_to_nodes: 2 * 20,
				paid_to_model_owner: 2 * 2,
				refunded: 2 * 15 * PRICE - 44,
			}
			.into(),
		);
	});
}

#[test]
fn with_p_zero_no_proof_selects_a_verifier() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(cv(2, 0));
		assert_eq!(request(id).sortition_threshold, 0);
		let primary = selected(id)[0];
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		for verifier in others(id, 3) {
			let p = payload(id, verifier, sealed_kind(id, verifier, &o, true));
			let sig = sign(&p, verifier);
			assert_noop!(
				Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
				Error::<Test>::NotSelected
			);
		}
		run_to_block(7);
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		// Settled by the primary alone: one execution paid, the rest refunded.
		assert_eq!(crate::Results::<Test>::get(id).map(|r| r.nodes.to_vec()), Some(vec![primary]));
	});
}

#[test]
fn a_vrf_proof_must_be_the_nodes_own_and_present() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(cv(2, 100));
		let o = output(1, 2);
		let [a, b] = others(id, 3)[..] else { panic!("two others") };
		let commit = |node: NodeId, kind: CommitmentKind| {
			let p = payload(id, node, kind);
			let sig = sign(&p, node);
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
		};
		let primary = selected(id)[0];
		assert_ok!(commit(primary, sealed_kind(id, primary, &o, false)));
		// No proof.
		assert_noop!(commit(a, sealed_kind(id, a, &o, false)), Error::<Test>::NotSelected);
		// Another node's proof.
		let CommitmentKind::Sealed { sealed, output_tokens, trace_root, .. } =
			sealed_kind(id, a, &o, false)
		else {
			unreachable!()
		};
		let stolen = CommitmentKind::Sealed {
			sealed,
			input_tokens: 5,
			output_tokens,
			trace_root,
			vrf: Some(vrf_proof(id, b)),
		};
		assert_noop!(commit(a, stolen), Error::<Test>::NotSelected);
		// Garbage bytes.
		let garbage = CommitmentKind::Sealed {
			sealed,
			input_tokens: 5,
			output_tokens,
			trace_root,
			vrf: Some(atoma_support::sortition::VrfProof([7; 96])),
		};
		assert_noop!(commit(a, garbage), Error::<Test>::NotSelected);
		assert_ok!(commit(a, sealed_kind(id, a, &o, true)));
		assert_noop!(commit(a, sealed_kind(id, a, &o, true)), Error::<Test>::AlreadyCommitted);
	});
}

#[test]
fn reveal_errors() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(1, 2);
		let reveal = |node: NodeId, out: &[u8]| {
			let p = payload(id, node, reveal_kind(out));
			let sig = sign(&p, node);
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
		};
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_noop!(reveal(primary, &o), Error::<Test>::NotRevealing);
		run_to_block(7);
		assert_noop!(
			submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))),
			sp_runtime::DispatchError::Other("unauthorized")
		);
		assert_noop!(reveal(verifier, &o), Error::<Test>::NotCommitted);
		assert_noop!(reveal(primary, &output(2, 2)), Error::<Test>::RevealMismatch);
	});
}

#[test]
fn disagreeing_digests_are_disputed() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let (good, bad) = (output(1, 2), output(3, 2));
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &bad, false))));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &good, true))));
		// The only paid seat is taken: the reveal starts at once.
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&bad))));
		assert_ok!(submit_signed(payload(id, verifier, reveal_kind(&good))));
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn a_verifier_that_does_not_reveal_is_slashed_and_the_rest_settle() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		run_to_block(10);
		System::assert_has_event(
			Event::NodeTimedOut { request: id, node: verifier, slashed: 1_000 }.into(),
		);
		assert_eq!(crate::Results::<Test>::get(id).map(|r| r.nodes.to_vec()), Some(vec![primary]));
		assert_eq!(node_record(verifier).reserved, 0);
	});
}

#[test]
fn a_primary_that_does_not_commit_is_replaced_and_one_that_does_not_reveal_fails_the_request() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(cv(1, 0));
		let first = selected(id)[0];
		run_to_block(7);
		let second = selected(id)[0];
		assert_ne!(first, second);
		System::assert_has_event(
			Event::NodeRedrawn { request: id, replaced: first, node: second, deadline: 12 }.into(),
		);
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, second, sealed_kind(id, second, &o, false))));
		run_to_block(12);
		run_to_block(15);
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::PrimaryDidNotReveal,
				refunded: 2 * 15 * PRICE,
			}
			.into(),
		);
	});
}

#[cfg(feature = "runtime-benchmarks")]
#[test]
fn benchmark_vrf_vector_verifies() {
	use crate::benchmarking::{BENCH_VRF_PROOF, BENCH_VRF_SEED, BENCH_VRF_SURI};
	let pair = sp_core::sr25519::Pair::from_string(BENCH_VRF_SURI, None).unwrap();
	let proof = atoma_support::sortition::VrfProof(BENCH_VRF_PROOF).to_signature().unwrap();
	assert!(atoma_support::sortition::verified_score(
		&pair.public(),
		&BENCH_VRF_SEED,
		atoma_support::RequestId(0),
		&proof
	)
	.is_some());
}

#[test]
fn at_most_max_quorum_verifiers_join() {
	ExtBuilder::default().nodes(5).build_and_execute(|| {
		let id = submit_and_select(cv(3, 100));
		// p x n / candidates = 3/4: force everyone in to reach the bound deterministically.
		crate::Requests::<Test>::mutate(id, |r| {
			if let Some(r) = r {
				r.sortition_threshold = u128::MAX;
			}
		});
		let o = output(1, 2);
		let primary = selected(id)[0];
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		let verifiers = others(id, 5);
		for v in &verifiers[..3] {
			assert_ok!(submit_signed(payload(id, *v, sealed_kind(id, *v, &o, true))));
		}
		let last = verifiers[3];
		let p = payload(id, last, sealed_kind(id, last, &o, true));
		let sig = sign(&p, last);
		// The third seat closed the commit window: a fourth verifier is too late.
		assert!(matches!(request(id).phase, Phase::Revealing { .. }));
		assert_noop!(
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
			Error::<Test>::NotExecuting
		);
	});
}

#[test]
fn a_node_reveals_once() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		let p = payload(id, primary, reveal_kind(&o));
		let sig = sign(&p, primary);
		assert_noop!(
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
			Error::<Test>::AlreadyRevealed
		);
	});
}

#[test]
fn verifier_seats_stop_at_what_the_escrow_pays() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		// n = 1: the escrow pays the primary and one verifier.
		let id = submit_and_select(cv(1, 100));
		crate::Requests::<Test>::mutate(id, |r| {
			if let Some(r) = r {
				r.sortition_threshold = u128::MAX;
			}
		});
		let o = output(1, 2);
		let primary = selected(id)[0];
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		let verifiers = others(id, 3);
		assert_ok!(submit_signed(payload(
			id,
			verifiers[0],
			sealed_kind(id, verifiers[0], &o, true)
		)));
		let p = payload(id, verifiers[1], sealed_kind(id, verifiers[1], &o, true));
		let sig = sign(&p, verifiers[1]);
		// The one paid seat is taken, so the commit window closed: nobody else joins. (Were it
		// still open, the seat check would refuse `TooManyVerifiers`; see the input-read tests.)
		assert!(matches!(request(id).phase, Phase::Revealing { .. }));
		assert_noop!(
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
			Error::<Test>::NotExecuting
		);
	});
}

#[test]
fn a_worker_key_newer_than_the_request_cannot_verify() {
	use sp_core::{crypto::VrfSecret, Pair};
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let verifier = others(id, 2)[0];
		// The seed is public now: the operator tries keys until one wins, and rotates to it.
		let ground = sp_core::sr25519::Pair::from_string("//ground", None).unwrap();
		assert_ok!(NodeRegistry::rotate_worker_key(
			RuntimeOrigin::signed(OPERATOR_BASE + verifier.0),
			verifier,
			ground.public(),
		));
		let o = output(1, 2);
		let seed = request(id).selection_seed;
		let proof = atoma_support::sortition::VrfProof::from_signature(
			&ground.vrf_sign(&atoma_support::sortition::vrf_sign_data(&seed, id)),
		);
		let kind = CommitmentKind::Sealed {
			sealed: atoma_primitives::commitment::sealed_commitment(
				&atoma_primitives::commitment::output_digest(&o),
				&ground.public().0,
			),
			input_tokens: 5,
			output_tokens: 2,
			trace_root: trace_root_of(&o),
			vrf: Some(proof),
		};
		let p = payload(id, verifier, kind);
		let sig = ground.sign(&p.signing_bytes(&Inference::chain_id()));
		assert_noop!(
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
			Error::<Test>::WorkerKeyTooNew
		);
	});
}

#[test]
fn a_p_below_the_echelons_nash_bound_is_refused() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		// No economics set: no floor.
		assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), spec(cv(1, 1))));
		// Governance: one token costs 4 to compute here, and one party may hold half the nodes.
		assert_ok!(NodeRegistry::set_echelon_security(
			RuntimeOrigin::root(),
			atoma_support::EchelonId(0),
			4,
			Perbill::from_percent(50),
		));
		// 15 tokens: C = 60, R = 30 (price 2), S = JOB_COLLATERAL = 1,000:
		// p >= 60 / (0.5 x 1,030) = 11.65%.
		let mut below = spec(cv(1, 11));
		below.params.seed = 1;
		assert_noop!(
			Inference::submit_request(RuntimeOrigin::signed(USER), below),
			Error::<Test>::ReplicationBelowFloor
		);
		assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), spec(cv(1, 12))));
		// The runtime API gives the same floor.
		let floor = atoma_support::nash::min_replication_rate(
			60,
			30,
			JOB_COLLATERAL as u128,
			Perbill::from_percent(50),
		);
		assert_eq!(floor.deconstruct() / 1_000_000_000_000_000 / 10, 11, "{floor:?}");
	});
}

/// The primary must not learn that it is verified before its own commitment is in: a verifier's
/// commitment (which names it) is refused until then, by the pool and by the chain.
#[test]
fn a_verifier_cannot_commit_before_the_primary() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(3, 4);
		let early = payload(id, verifier, sealed_kind(id, verifier, &o, true));
		let sig = sign(&early, verifier);
		assert!(authorize(&early, &sig).is_err(), "the pool refuses it: nobody sees it");
		assert_noop!(
			Inference::submit_commitment(
				frame_system::RawOrigin::Authorized.into(),
				early.clone(),
				sig
			),
			Error::<Test>::PrimaryNotCommitted
		);
		assert!(request(id).verifiers.is_empty());
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(early));
		assert_eq!(request(id).verifiers.to_vec(), vec![verifier]);
	});
}

/// A primary that commits in the last block of its window would leave verifiers (who commit
/// after it) no time, and escape verification: the window is extended for them.
#[test]
fn a_primary_that_commits_late_leaves_verifiers_time() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(1, 100));
		let primary = selected(id)[0];
		let verifier = others(id, 2)[0];
		let o = output(3, 4);
		let Phase::Executing { deadline } = request(id).phase else { panic!("executing") };
		run_to_block(deadline - 1);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		let window: u32 = <Test as crate::Config>::VerifierWindow::get();
		let extended = deadline - 1 + u64::from(window);
		assert_eq!(request(id).phase, Phase::Executing { deadline: extended });
		System::assert_has_event(
			Event::CommitWindowExtended { request: id, deadline: extended }.into(),
		);
		// The old deadline passes without closing the window.
		run_to_block(deadline + 1);
		assert!(matches!(request(id).phase, Phase::Executing { .. }));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		assert!(matches!(request(id).phase, Phase::Revealing { .. }));
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		assert_ok!(submit_signed(payload(id, verifier, reveal_kind(&o))));
		assert!(crate::Results::<Test>::get(id).is_some_and(|r| r.nodes.len() == 2));
	});
}

/// Verifiers may join until the window closes, so the request waits for it while a seat the
/// escrow pays for is free; the moment the last one is taken, the reveal starts.
#[test]
fn the_window_closes_when_the_last_paid_seat_is_taken() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(cv(2, 100));
		let primary = selected(id)[0];
		let [first, second] = others(id, 3)[..] else { panic!("two other nodes") };
		let o = output(2, 3);
		let Phase::Executing { deadline } = request(id).phase else { panic!("executing") };
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(payload(id, first, sealed_kind(id, first, &o, true))));
		// One seat is still free: the window stays open.
		next_block();
		assert_eq!(request(id).phase, Phase::Executing { deadline });
		assert_ok!(submit_signed(payload(id, second, sealed_kind(id, second, &o, true))));
		let reveal_until = System::block_number() + 3;
		assert!(reveal_until < deadline + 3, "sooner than at the window's end");
		assert_eq!(request(id).phase, Phase::Revealing { deadline: reveal_until });
		System::assert_last_event(
			Event::RevealStarted { request: id, deadline: reveal_until }.into(),
		);
		for node in [primary, first, second] {
			assert_ok!(submit_signed(payload(id, node, reveal_kind(&o))));
		}
		assert!(crate::Results::<Test>::get(id).is_some_and(|r| r.nodes.len() == 3));
		// The commit window's own deadline passes harmlessly.
		run_to_block(deadline + 1);
		assert!(crate::Results::<Test>::get(id).is_some());
	});
}

/// The primary's commitment (its window made longer for verifiers) and a verifier joining while a
/// seat remains leave the request waiting and pay `submit_commitment_pending`; the verifier that
/// takes the last seat starts the reveal and pays the declared weight.
#[test]
fn commitments_that_leave_the_request_waiting_pay_the_pending_weight() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(cv(2, 100));
		let o = output(1, 2);
		let primary = selected(id)[0];
		let commit = |node: NodeId, vrf: bool| {
			let p = payload(id, node, sealed_kind(id, node, &o, vrf));
			let sig = sign(&p, node);
			let (_, unspent) = authorize(&p, &sig).expect("authorized");
			// Only quorum commitments get their authorization's VRF part back.
			assert_eq!(unspent, frame_support::weights::Weight::zero());
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
				.expect("accepted")
				.actual_weight
		};
		let pending = Some(<() as crate::WeightInfo>::submit_commitment_pending());
		assert_eq!(commit(primary, false), pending);
		let [a, b] = others(id, 3)[..] else { panic!("two others") };
		assert_eq!(commit(a, true), pending);
		assert!(matches!(request(id).phase, Phase::Executing { .. }));
		assert_eq!(commit(b, true), None);
		assert!(matches!(request(id).phase, Phase::Revealing { .. }));
	});
}
