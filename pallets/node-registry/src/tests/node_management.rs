use atoma_support::{EchelonId, NodeId};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Error, Event};

#[test]
fn add_collateral_holds_more() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_ok!(NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 250));
		System::assert_last_event(
			Event::CollateralAdded { node, amount: 250, collateral: MIN_COLLATERAL + 250 }.into(),
		);
		assert_eq!(record(node).collateral, MIN_COLLATERAL + 250);
		assert_eq!(held_collateral(ALICE), MIN_COLLATERAL + 250);
	});
}

#[test]
fn add_collateral_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_noop!(
			NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), NodeId(9), 1),
			Error::<Test>::UnknownNode
		);
		assert_noop!(
			NodeRegistry::add_collateral(RuntimeOrigin::signed(BOB), node, 1),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, INITIAL_BALANCE),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		assert_noop!(
			NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 1),
			Error::<Test>::NodeNotActive
		);
	});
}

#[test]
fn rotate_worker_key_moves_the_index() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		register(BOB, 2);
		assert_ok!(NodeRegistry::rotate_worker_key(
			RuntimeOrigin::signed(ALICE),
			node,
			worker_key(3)
		));
		System::assert_last_event(
			Event::WorkerKeyRotated { node, old: worker_key(1), new: worker_key(3) }.into(),
		);
		assert_eq!(record(node).worker_key, worker_key(3));
		assert_eq!(crate::NodeByWorkerKey::<Test>::get(worker_key(1)), None);
		assert_eq!(crate::NodeByWorkerKey::<Test>::get(worker_key(3)), Some(node));

		assert_noop!(
			NodeRegistry::rotate_worker_key(RuntimeOrigin::signed(ALICE), node, worker_key(2)),
			Error::<Test>::WorkerKeyInUse
		);
		assert_noop!(
			NodeRegistry::rotate_worker_key(RuntimeOrigin::signed(BOB), node, worker_key(4)),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::rotate_worker_key(RuntimeOrigin::signed(ALICE), NodeId(7), worker_key(4)),
			Error::<Test>::UnknownNode
		);
	});
}

#[test]
fn set_url_changes_the_url() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		let url = b"http://10.0.0.7:3000".to_vec();
		assert_ok!(NodeRegistry::set_url(RuntimeOrigin::signed(ALICE), node, url.clone()));
		System::assert_last_event(Event::UrlChanged { node, url: url.clone() }.into());
		assert_eq!(record(node).url.to_vec(), url);

		assert_noop!(
			NodeRegistry::set_url(RuntimeOrigin::signed(ALICE), node, vec![b'h'; 65]),
			Error::<Test>::UrlTooLong
		);
		assert_noop!(
			NodeRegistry::set_url(RuntimeOrigin::signed(ALICE), node, b"worker:3000".to_vec()),
			Error::<Test>::InvalidUrl
		);
		assert_noop!(
			NodeRegistry::set_url(RuntimeOrigin::signed(BOB), node, URL.to_vec()),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::set_url(RuntimeOrigin::signed(ALICE), NodeId(5), URL.to_vec()),
			Error::<Test>::UnknownNode
		);
	});
}

#[test]
fn bid_price_replaces_the_standing_bid() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_ok!(NodeRegistry::bid_price(RuntimeOrigin::signed(ALICE), node, 77));
		System::assert_last_event(
			Event::BidPlaced { node, echelon: EchelonId(0), price_per_token: 77 }.into(),
		);
		assert_eq!(NodeRegistry::standing_bid(node), Some(77));
		assert_eq!(crate::EchelonNodeCount::<Test>::get(EchelonId(0)), 1);
		assert_eq!(NodeRegistry::counted_levels(EchelonId(0)), vec![(77, 1)]);

		assert_noop!(
			NodeRegistry::bid_price(RuntimeOrigin::signed(BOB), node, 1),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			NodeRegistry::bid_price(RuntimeOrigin::signed(ALICE), NodeId(3), 1),
			Error::<Test>::UnknownNode
		);
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		assert_noop!(
			NodeRegistry::bid_price(RuntimeOrigin::signed(ALICE), node, 1),
			Error::<Test>::NodeNotActive
		);
	});
}
