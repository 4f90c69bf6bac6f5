use atoma_support::{inference::VerificationMode, NodeId, NodeRegistry as _};
use frame_support::assert_ok;

use super::*;
use crate::{mock::*, Event, FailureReason, Phase};

#[test]
fn a_late_node_is_slashed_and_replaced() {
	ExtBuilder::default().nodes(4).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(3, 5);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&o, 0, 2))));
		let late = nodes[1];
		let (user, treasury) = (free(USER), free(TREASURY));

		run_to_block(7);
		// 10% of 10,000: 50% to the user, 30% to the treasury, 20% burned.
		System::assert_has_event(
			Event::NodeTimedOut { request: id, node: late, slashed: 1_000 }.into(),
		);
		assert_eq!(free(USER), user + 500);
		assert_eq!(free(TREASURY), treasury + 300);
		assert_eq!(node_record(late).collateral, NODE_COLLATERAL - 1_000);
		assert_eq!(node_record(late).reserved, 0);

		let r = request(id);
		let fresh = r.nodes[1];
		assert!(fresh != late && fresh != nodes[0]);
		assert_eq!(r.excluded.to_vec(), vec![late]);
		assert_eq!(r.phase, Phase::Executing { deadline: 12 });
		System::assert_has_event(
			Event::NodeRedrawn { request: id, replaced: late, node: fresh, deadline: 12 }.into(),
		);
		// The committed node keeps its commitment; the fresh node completes the quorum.
		assert_ok!(submit_signed(payload(id, fresh, quorum_kind(&o, 1, 2))));
		assert!(crate::Results::<Test>::get(id).is_some());
	});
}

#[test]
fn too_many_timeouts_refund_the_user() {
	ExtBuilder::default().nodes(5).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		// MaxRedraws = 2: two replacements, then a refund.
		run_to_block(7);
		run_to_block(12);
		assert_eq!(request(id).excluded.len(), 2);
		run_to_block(17);
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::TimedOut,
				refunded: 15 * PRICE,
			}
			.into(),
		);
		assert!(crate::Requests::<Test>::get(id).is_none());
		assert_eq!(held_escrow(USER), 0);
		for n in 0..5 {
			assert_eq!(node_record(NodeId(n)).reserved, 0);
		}
	});
}

#[test]
fn without_a_replacement_the_user_is_refunded() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&output(1, 1), 0, 2))));
		run_to_block(7);
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::NoEligibleNodes,
				refunded: 2 * 15 * PRICE,
			}
			.into(),
		);
		assert_eq!(node_record(nodes[0]).reserved, 0, "the honest node is released");
		assert_eq!(crate::Commitments::<Test>::iter_prefix(id).count(), 0);
	});
}

#[test]
fn a_replacement_is_drawn_with_randomness_unknown_when_the_node_went_late() {
	// The same request and the same late node, with different randomness at the redraw block:
	// a node cannot tell in advance which node would replace it.
	let mut replacements = std::collections::BTreeSet::new();
	for salt in 0..8 {
		ExtBuilder::default().nodes(6).build_and_execute(|| {
			let id = submit_and_select(VerificationMode::Single);
			let late = selected(id)[0];
			RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
			run_to_block(7);
			let fresh = request(id).nodes[0];
			assert_ne!(fresh, late);
			replacements.insert(fresh);
			all_commit(id, &output(1, 2));
		});
	}
	assert!(replacements.len() > 1, "the replacement depends on the redraw block's randomness");
}

/// With the runtime's `SelectionDelay` of 2, replacements are drawn a block after the window
/// closes, from randomness whoever decided who is late (the node, or an author censoring its
/// commitment in the last block) did not know; nodes that cannot take the job then are skipped.
#[test]
fn replacements_are_drawn_a_block_after_the_deadline() {
	SelectionDelay::set(2);
	ExtBuilder::default().nodes(4).build_and_execute(|| {
		let id = submit(spec(VerificationMode::Sampling { n: 2 }));
		run_to_block(3);
		let nodes = selected(id);
		let Phase::Executing { deadline } = request(id).phase else { panic!("executing") };
		// Node positions 0 commits; position 1 goes late.
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&output(1, 2), 0, 2))));
		let outsiders: Vec<NodeId> = (0..4).map(NodeId).filter(|n| !nodes.contains(n)).collect();
		// One node outside the quorum has no free collateral: it cannot be drawn.
		assert_ok!(NodeRegistry::reserve_collateral(outsiders[0], NODE_COLLATERAL));
		run_to_block(deadline);
		System::assert_has_event(Event::RedrawScheduled { request: id, at: deadline + 1 }.into());
		assert_eq!(request(id).phase, Phase::Redrawing { at: deadline + 1 });
		assert_eq!(request(id).nodes.to_vec(), nodes, "the late node keeps its position");
		assert!(request(id).excluded.contains(&nodes[1]));
		// No commitment is taken meanwhile, not even from the late node.
		assert!(submit_signed(payload(id, nodes[1], quorum_kind(&output(1, 2), 1, 2))).is_err());
		run_to_block(deadline + 1);
		let r = request(id);
		assert_eq!(r.nodes[0], nodes[0], "the committed node keeps its place and commitment");
		assert_eq!(r.nodes[1], outsiders[1], "the one node that can take the job");
		assert!(matches!(r.phase, Phase::Executing { .. }));
		assert_ok!(submit_signed(payload(id, r.nodes[1], quorum_kind(&output(1, 2), 1, 2))));
		assert!(crate::Results::<Test>::get(id).is_some());
		NodeRegistry::release_collateral(outsiders[0], NODE_COLLATERAL);
	});
	SelectionDelay::set(1);
}

/// A redraw that finds no node able to take the job at the draw refunds the user;
/// the late node, released already, is not released twice.
#[test]
fn a_pending_redraw_without_candidates_left_refunds() {
	SelectionDelay::set(2);
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let id = submit(spec(VerificationMode::Single));
		run_to_block(3);
		let late = selected(id)[0];
		let other = (0..2).map(NodeId).find(|n| *n != late).unwrap();
		let Phase::Executing { deadline } = request(id).phase else { panic!("executing") };
		run_to_block(deadline);
		assert_eq!(request(id).phase, Phase::Redrawing { at: deadline + 1 });
		assert_ok!(NodeRegistry::reserve_collateral(other, NODE_COLLATERAL));
		run_to_block(deadline + 1);
		assert!(crate::Requests::<Test>::get(id).is_none());
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::NoEligibleNodes,
				refunded: 15 * PRICE,
			}
			.into(),
		);
		assert_eq!(node_record(late).reserved, 0);
		NodeRegistry::release_collateral(other, NODE_COLLATERAL);
		assert_eq!(node_record(other).reserved, 0);
	});
	SelectionDelay::set(1);
}
