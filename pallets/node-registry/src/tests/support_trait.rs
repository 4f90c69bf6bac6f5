//! The `atoma_support::NodeRegistry` surface other pallets use.

use atoma_support::{NodeId, NodeRegistry as _, SlashOutcome, SlashSplit};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Error, Event};

#[test]
fn eligibility_needs_an_active_node_with_free_collateral() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register_with(ALICE, 1, MIN_COLLATERAL + 100, PRICE);
		assert!(!NodeRegistry::is_eligible(node, 0), "not before its first epoch");
		run_to_next_epoch();
		assert!(NodeRegistry::is_eligible(node, MIN_COLLATERAL + 100));
		assert!(!NodeRegistry::is_eligible(node, MIN_COLLATERAL + 101));
		assert!(!NodeRegistry::is_eligible(NodeId(9), 0));
		assert_ok!(NodeRegistry::reserve_collateral(node, 600));
		assert!(NodeRegistry::is_eligible(node, 500));
		assert!(!NodeRegistry::is_eligible(node, 501));
	});
}

#[test]
fn reservations_count_jobs_and_bound_free_collateral() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_ok!(NodeRegistry::reserve_collateral(node, 400));
		System::assert_last_event(Event::CollateralReserved { node, amount: 400 }.into());
		assert_ok!(NodeRegistry::reserve_collateral(node, 600));
		assert_eq!((record(node).reserved, record(node).pending_jobs), (1_000, 2));
		assert_noop!(
			NodeRegistry::reserve_collateral(node, 1),
			Error::<Test>::InsufficientFreeCollateral
		);
		assert_noop!(NodeRegistry::reserve_collateral(NodeId(5), 1), Error::<Test>::UnknownNode);

		NodeRegistry::release_collateral(node, 400);
		System::assert_last_event(Event::CollateralReleased { node, amount: 400 }.into());
		assert_eq!((record(node).reserved, record(node).pending_jobs), (600, 1));
		NodeRegistry::release_collateral(node, 600);
		assert_eq!((record(node).reserved, record(node).pending_jobs), (0, 0));
	});
}

#[test]
fn a_slash_is_split_and_the_rest_burned() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register_with(ALICE, 1, 10_000, PRICE);
		register(BOB, 2);
		assert_ok!(NodeRegistry::reserve_collateral(node, 9_000));
		let issuance = pallet_balances::TotalIssuance::<Test>::get();
		let (user, bob, charlie, dave, treasury) =
			(free(USER), free(BOB), free(CHARLIE), free(DAVE), free(TREASURY));
		let split = SlashSplit {
			user: Some(USER),
			user_share: Perbill::from_percent(40),
			honest: vec![BOB, CHARLIE],
			honest_share: Perbill::from_percent(20),
			arbiters: vec![DAVE],
			arbiters_share: Perbill::from_percent(10),
			treasury_share: Perbill::from_percent(10),
		};

		let outcome =
			NodeRegistry::slash(node, Perbill::from_percent(50), &split).expect("slashed");
		assert_eq!(
			outcome,
			SlashOutcome {
				slashed: 5_000,
				to_user: 2_000,
				to_honest: 1_000,
				to_arbiters: 500,
				to_treasury: 500,
				burned: 1_000
			}
		);
		assert_eq!(free(USER), user + 2_000);
		assert_eq!((free(BOB), free(CHARLIE)), (bob + 500, charlie + 500));
		assert_eq!((free(DAVE), free(TREASURY)), (dave + 500, treasury + 500));
		assert_eq!(pallet_balances::TotalIssuance::<Test>::get(), issuance - 1_000);
		System::assert_last_event(
			Event::CollateralSlashed { node, slashed: 5_000, burned: 1_000, collateral: 5_000 }
				.into(),
		);
		let r = record(node);
		assert_eq!(
			(r.collateral, r.reserved),
			(5_000, 5_000),
			"reservations shrink with the stake"
		);
		assert_eq!(held_collateral(ALICE), 5_000);
	});
}

#[test]
fn a_slash_below_the_minimum_makes_the_node_ineligible() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		run_to_next_epoch();
		let split = SlashSplit::treasury_only(Perbill::from_percent(50));
		assert_ok!(NodeRegistry::slash(node, Perbill::from_percent(10), &split));
		assert_eq!(record(node).collateral, 900);
		assert!(!NodeRegistry::is_eligible(node, 0));
		// Topping up restores it.
		assert_ok!(NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 100));
		assert!(NodeRegistry::is_eligible(node, 0));
	});
}

#[test]
fn a_payment_that_cannot_be_made_is_burned() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		// PAUPER has no account; a share of 0 (1% of 10) cannot create one (ED is 1) - but 1%
		// of 100 can; honest shares with no honest nodes are burned.
		let split = SlashSplit {
			user: Some(PAUPER),
			user_share: Perbill::from_percent(50),
			honest: vec![],
			honest_share: Perbill::from_percent(50),
			arbiters: vec![],
			arbiters_share: Perbill::zero(),
			treasury_share: Perbill::zero(),
		};
		let outcome =
			NodeRegistry::slash(node, Perbill::from_percent(10), &split).expect("slashed");
		assert_eq!((outcome.slashed, outcome.to_user, outcome.burned), (100, 50, 50));
		assert_eq!(free(PAUPER), 50);
	});
}

#[test]
fn slash_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		let mut split = SlashSplit::treasury_only(Perbill::from_percent(90));
		split.user_share = Perbill::from_percent(20);
		assert_noop!(
			NodeRegistry::slash(node, Perbill::from_percent(10), &split),
			Error::<Test>::InvalidSlashSplit
		);
		let split = SlashSplit::treasury_only(Perbill::one());
		assert_noop!(
			NodeRegistry::slash(NodeId(3), Perbill::from_percent(10), &split),
			Error::<Test>::UnknownNode
		);
	});
}

#[test]
fn accrue_fee_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_noop!(NodeRegistry::accrue_fee(NodeId(4), &USER, 1), Error::<Test>::UnknownNode);
		assert_noop!(
			NodeRegistry::accrue_fee(node, &PAUPER, 1),
			Error::<Test>::InsufficientFeeBalance
		);
		assert_noop!(
			NodeRegistry::accrue_fee(node, &USER, INITIAL_BALANCE + 1),
			Error::<Test>::InsufficientFeeBalance
		);
	});
}

#[test]
fn summaries_and_lookups() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		let summary = NodeRegistry::node(node).expect("known");
		assert_eq!(summary.operator, ALICE);
		assert!(summary.active);
		assert_eq!(summary.active_from, 1);
		assert_eq!(NodeRegistry::node_by_worker_key(&worker_key(1)), Some(node));
		assert_eq!(NodeRegistry::node_by_worker_key(&worker_key(2)), None);
		assert!(NodeRegistry::node(NodeId(1)).is_none());
	});
}
