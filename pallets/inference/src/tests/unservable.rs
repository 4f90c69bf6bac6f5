//! Requests no node can serve: the selected nodes attest it, and when they agree the request ends
//! with a refund and nobody is slashed (issue: a user must not be able to make an honest node lose
//! collateral with a request it cannot run, nor profit from it).

use atoma_support::{inference::VerificationMode, NodeId};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::Perbill;

use super::*;
use crate::{
	mock::*,
	types::{CommitmentKind, UnservableReason},
	Error, Event, Phase,
};

fn unservable(reason: UnservableReason) -> CommitmentKind {
	CommitmentKind::Unservable { reason }
}

fn commit(p: crate::types::CommitmentPayload) -> sp_runtime::DispatchResult {
	let sig = sign(&p, p.node);
	Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
		.map(|_| ())
		.map_err(|e| e.error)
}

#[test]
fn a_quorum_that_agrees_ends_the_request_with_a_refund_and_slashes_nobody() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let user_before = free(USER);
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let collateral: Vec<Balance> = nodes.iter().map(|n| node_record(*n).collateral).collect();
		let escrow = request(id).escrow;

		for node in &nodes {
			assert_ok!(submit_signed(payload(
				id,
				*node,
				unservable(UnservableReason::ExceedsContext)
			)));
			System::assert_has_event(
				Event::UnservableAttested {
					request: id,
					node: *node,
					reason: UnservableReason::ExceedsContext,
				}
				.into(),
			);
		}

		// Each node is paid the fee of the 5 declared input tokens (5 x PRICE), nothing more.
		let fee = 5 * PRICE;
		System::assert_last_event(
			Event::RequestUnservable {
				request: id,
				reason: UnservableReason::ExceedsContext,
				nodes: nodes.clone(),
				paid_to_nodes: 2 * fee,
				refunded: escrow - 2 * fee,
			}
			.into(),
		);
		assert!(crate::Requests::<Test>::get(id).is_none());
		assert!(crate::Results::<Test>::get(id).is_none(), "no output is recorded");
		assert_eq!(free(USER), user_before - 2 * fee, "the user pays only the attestation fees");
		assert_eq!(held_escrow(USER), 0);
		for (node, before) in nodes.iter().zip(collateral) {
			let record = node_record(*node);
			assert_eq!(record.collateral, before, "nobody is slashed");
			assert_eq!(record.reserved, 0, "reservations are released");
			assert!(!crate::Assignments::<Test>::contains_key(node, id));
		}
		assert!(!inference_events().iter().any(|e| matches!(e, Event::NodeTimedOut { .. })));
	});
}

/// The attack: a request naming an input by hash that the user never uploads. Before, the
/// selected node could not run it, timed out and lost collateral to the user. Now it attests, and
/// the user gets back its escrow less the node's fee: the attack costs the attacker.
#[test]
fn a_never_uploaded_input_costs_the_node_nothing_and_the_user_a_fee() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let user_before = free(USER);
		let mut s = spec(VerificationMode::Single);
		s.input = atoma_support::inference::RequestInput::Hash([7; 32]);
		let id = submit(s);
		next_block();
		let node = selected(id)[0];
		let collateral = node_record(node).collateral;
		let Phase::Executing { deadline } = request(id).phase else { panic!("executing") };
		assert_eq!(request(id).attest_unavailable_from(), Some(deadline - 2));

		// Too early: the user may still be uploading to the selected worker.
		let early = payload(id, node, unservable(UnservableReason::InputUnavailable));
		assert!(authorize(&early, &sign(&early, node)).is_err());
		assert_noop!(commit(early.clone()), Error::<Test>::TooEarlyToAttest);

		run_to_block(deadline - 2);
		assert_ok!(submit_signed(early));
		assert!(crate::Requests::<Test>::get(id).is_none());
		assert_eq!(
			node_record(node).collateral,
			collateral,
			"the honest node keeps its collateral"
		);
		assert_eq!(free(USER), user_before - 5 * PRICE, "the attacker pays, never profits");
		// The window's end finds nothing to punish.
		run_to_block(deadline + 1);
		assert!(!inference_events().iter().any(|e| matches!(e, Event::NodeTimedOut { .. })));
	});
}

/// A node that claims "unservable" while another serves the request disagrees with it: a
/// dispute decides (and convicts the false claim if the arbiters can run the request).
#[test]
fn an_attestation_against_an_output_or_another_reason_is_disputed() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let o = output(1, 3);
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&o, 0, 2))));
		assert_ok!(submit_signed(payload(
			id,
			nodes[1],
			unservable(UnservableReason::InvalidPrompt)
		)));
		assert_eq!(request(id).phase, Phase::Disputed);
		System::assert_last_event(
			Event::RequestDisputed { request: id, nodes: nodes.clone() }.into(),
		);

		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		assert_ok!(submit_signed(payload(
			id,
			nodes[0],
			unservable(UnservableReason::InvalidPrompt)
		)));
		assert_ok!(submit_signed(payload(
			id,
			nodes[1],
			unservable(UnservableReason::ExceedsContext)
		)));
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn attestation_errors() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let outsider = (0..3).map(NodeId).find(|n| !nodes.contains(n)).unwrap();
		let reason = UnservableReason::ExceedsContext;
		assert_noop!(commit(payload(id, outsider, unservable(reason))), Error::<Test>::NotSelected);
		assert_ok!(commit(payload(id, nodes[0], unservable(reason))));
		// Once per node, and never beside an output.
		assert_noop!(
			commit(payload(id, nodes[0], unservable(reason))),
			Error::<Test>::AlreadyCommitted
		);
		assert_noop!(
			commit(payload(id, nodes[0], quorum_kind(&output(1, 2), 0, 2))),
			Error::<Test>::AlreadyCommitted
		);
		// The pool holds one first commitment per node: an attestation and an output share a tag.
		let out = payload(id, nodes[1], quorum_kind(&output(1, 2), 1, 2));
		let att = payload(id, nodes[1], unservable(reason));
		let tags = |p: &crate::types::CommitmentPayload| {
			authorize(p, &sign(p, p.node)).unwrap().0.provides
		};
		assert_eq!(tags(&out), tags(&att));
	});
}

fn cv(percent: u32) -> VerificationMode {
	VerificationMode::CrossValidation { n: 1, p: Perbill::from_percent(percent) }
}

#[test]
fn a_cross_validation_primary_alone_ends_the_request_at_the_windows_end() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(0));
		let primary = selected(id)[0];
		let verifier = (0..2).map(NodeId).find(|n| *n != primary).unwrap();
		// A verifier does not attest: it simply does not join.
		assert_noop!(
			commit(payload(id, verifier, unservable(UnservableReason::ExceedsContext))),
			Error::<Test>::NotSelected
		);
		assert_ok!(submit_signed(payload(
			id,
			primary,
			unservable(UnservableReason::ExceedsContext)
		)));
		// Verifiers may still join until the window closes.
		assert_eq!(request(id).phase, Phase::Executing { deadline: 7 });
		run_to_block(7);
		System::assert_has_event(
			Event::RequestUnservable {
				request: id,
				reason: UnservableReason::ExceedsContext,
				nodes: vec![primary],
				paid_to_nodes: 5 * PRICE,
				refunded: request_escrow_of(id) - 5 * PRICE,
			}
			.into(),
		);
		assert!(crate::Requests::<Test>::get(id).is_none());
	});
}

#[test]
fn a_verifier_that_serves_what_the_primary_called_unservable_disputes_it() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(cv(100));
		let primary = selected(id)[0];
		let verifier = (0..2).map(NodeId).find(|n| *n != primary).unwrap();
		let o = output(4, 5);
		assert_ok!(submit_signed(payload(
			id,
			primary,
			unservable(UnservableReason::InvalidPrompt)
		)));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		// The only paid seat is taken: the reveal starts at once.
		assert!(matches!(request(id).phase, Phase::Revealing { .. }));
		// The primary's attestation needs no reveal: the verifier's reveal concludes.
		assert_ok!(submit_signed(payload(id, verifier, reveal_kind(&o))));
		assert_eq!(request(id).phase, Phase::Disputed);
		System::assert_last_event(
			Event::RequestDisputed { request: id, nodes: vec![primary, verifier] }.into(),
		);
	});
}

/// The escrow a request held, from its `RequestSubmitted` event.
fn request_escrow_of(id: atoma_support::RequestId) -> Balance {
	inference_events()
		.into_iter()
		.find_map(|e| match e {
			Event::RequestSubmitted { request, escrow, .. } if request == id => Some(escrow),
			_ => None,
		})
		.expect("submitted")
}
