use atoma_support::{NodeId, NodeRegistry as _};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Error, Event, NodeStatus};

fn deregistered() -> Vec<NodeId> {
	DEREGISTERED.with(|d| d.borrow().clone())
}

#[test]
fn deregister_stops_new_work_at_once() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		run_to_next_epoch();
		assert!(NodeRegistry::is_eligible(node, 0));

		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		System::assert_last_event(Event::NodeDeregistered { node, epoch: 1 }.into());
		assert_eq!(record(node).status, NodeStatus::Leaving { since: 1 });
		assert!(!NodeRegistry::is_eligible(node, 0));
		assert_eq!(NodeRegistry::standing_bid(node), None);
		assert_eq!(deregistered(), vec![node], "the model registry is told");
		// The collateral stays held until withdrawal.
		assert_eq!(held_collateral(ALICE), MIN_COLLATERAL);

		assert_noop!(
			NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::NodeNotActive
		);
	});
}

#[test]
fn deregister_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_noop!(
			NodeRegistry::deregister_node(RuntimeOrigin::signed(BOB), node),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), NodeId(4)),
			Error::<Test>::UnknownNode
		);
	});
}

#[test]
fn withdraw_returns_collateral_and_fees_after_the_exit_epoch() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		run_to_next_epoch();
		assert_ok!(NodeRegistry::accrue_fee(node, &USER, 300));
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::NodeStillActive
		);
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::ExitEpochNotReached
		);
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(BOB), node),
			Error::<Test>::NotNodeOperator
		);
		run_to_next_epoch();

		let before = free(ALICE);
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node));
		System::assert_last_event(
			Event::NodeWithdrawn { node, operator: ALICE, collateral: MIN_COLLATERAL, fees: 300 }
				.into(),
		);
		assert_eq!(free(ALICE), before + MIN_COLLATERAL + 300);
		assert_eq!(held_collateral(ALICE), 0);
		assert_eq!(held_fees(ALICE), 0);
		assert!(crate::Nodes::<Test>::get(node).is_none());
		assert_eq!(crate::NodeByWorkerKey::<Test>::get(worker_key(1)), None);
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::UnknownNode
		);
		// The worker key may serve a new node.
		register(BOB, 1);
	});
}

#[test]
fn withdraw_waits_for_pending_work_and_the_epoch_after_it() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		run_to_next_epoch();
		assert_ok!(NodeRegistry::reserve_collateral(node, 100));
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		run_to_next_epoch();
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::WorkPending
		);
		// The job ends in epoch 2: the node may leave from epoch 3.
		NodeRegistry::release_collateral(node, 100);
		assert_noop!(
			NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::ExitEpochNotReached
		);
		run_to_next_epoch();
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node));
	});
}

#[test]
fn fees_are_claimable_once_their_epoch_has_ended() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		run_to_next_epoch();
		let user_before = free(USER);
		assert_ok!(NodeRegistry::accrue_fee(node, &USER, 120));
		System::assert_last_event(Event::FeeAccrued { node, epoch: 1, amount: 120 }.into());
		assert_eq!(free(USER), user_before - 120);
		assert_eq!(held_fees(ALICE), 120);
		assert_noop!(
			NodeRegistry::claim_fees(RuntimeOrigin::signed(ALICE), node),
			Error::<Test>::NoFeesToClaim
		);

		run_to_next_epoch();
		assert_ok!(NodeRegistry::accrue_fee(node, &USER, 80));
		assert_eq!(NodeRegistry::claimable_fees(node), 120);
		assert_noop!(
			NodeRegistry::claim_fees(RuntimeOrigin::signed(BOB), node),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::claim_fees(RuntimeOrigin::signed(ALICE), NodeId(8)),
			Error::<Test>::UnknownNode
		);
		let before = free(ALICE);
		assert_ok!(NodeRegistry::claim_fees(RuntimeOrigin::signed(ALICE), node));
		System::assert_last_event(Event::FeesClaimed { node, operator: ALICE, amount: 120 }.into());
		assert_eq!(free(ALICE), before + 120);
		assert_eq!(held_fees(ALICE), 80, "this epoch's fees stay held");

		run_to_next_epoch();
		assert_ok!(NodeRegistry::claim_fees(RuntimeOrigin::signed(ALICE), node));
		assert_eq!(held_fees(ALICE), 0);
	});
}

#[test]
fn a_leaving_node_still_claims_fees() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_ok!(NodeRegistry::accrue_fee(node, &USER, 50));
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		run_to_next_epoch();
		assert_ok!(NodeRegistry::claim_fees(RuntimeOrigin::signed(ALICE), node));
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node));
		System::assert_last_event(
			Event::NodeWithdrawn { node, operator: ALICE, collateral: MIN_COLLATERAL, fees: 0 }
				.into(),
		);
	});
}

/// Collateral a node gains (a top-up, a job's reservation released) counts toward new work
/// only `FreeCollateralDelay` blocks later: the author who knows the next draw's randomness
/// cannot make its busy or short node drawable. Losing free collateral counts at once.
#[test]
fn collateral_gained_counts_toward_new_work_only_after_the_delay() {
	ExtBuilder::default().build_and_execute(|| {
		FreeCollateralDelay::set(2);
		let node = register(ALICE, 1);
		run_to_next_epoch();
		assert!(NodeRegistry::is_eligible(node, MIN_COLLATERAL));
		assert_ok!(NodeRegistry::reserve_collateral(node, MIN_COLLATERAL));
		assert!(!NodeRegistry::is_eligible(node, 1), "reserved at once");

		// The job ends: the collateral is free for new work two blocks later.
		let now = System::block_number();
		NodeRegistry::release_collateral(node, MIN_COLLATERAL);
		assert_eq!(record(node).reserved, 0);
		assert!(!NodeRegistry::is_eligible(node, 1));
		run_to_block(now + 1);
		assert!(!NodeRegistry::is_eligible(node, 1));
		run_to_block(now + 2);
		assert!(NodeRegistry::is_eligible(node, MIN_COLLATERAL));

		// A top-up: neither the extra free collateral nor the minimum it restores counts yet.
		let now = System::block_number();
		assert_ok!(NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 500));
		assert!(NodeRegistry::is_eligible(node, MIN_COLLATERAL));
		assert!(!NodeRegistry::is_eligible(node, MIN_COLLATERAL + 1));
		run_to_block(now + 2);
		assert!(NodeRegistry::is_eligible(node, MIN_COLLATERAL + 500));
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		run_to_next_epoch();
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), node));
		assert!(crate::FreshCollateral::<Test>::get(node).is_none(), "nothing left behind");
	});
}
