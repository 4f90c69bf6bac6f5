use atoma_support::{EchelonId, NodeId, NodeRegistry as _};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

use super::*;
use crate::{mock::*, Error, Event, NodeStatus};

#[test]
fn register_node_holds_collateral_and_serves_from_the_next_epoch() {
	ExtBuilder::default().build_and_execute(|| {
		assert_ok!(NodeRegistry::register_node(
			RuntimeOrigin::signed(ALICE),
			EchelonId(0),
			worker_key(1),
			URL.to_vec(),
			MIN_COLLATERAL + 500,
			PRICE,
		));
		let node = NodeId(0);
		System::assert_last_event(
			Event::NodeRegistered {
				node,
				operator: ALICE,
				echelon: EchelonId(0),
				worker_key: worker_key(1),
				collateral: MIN_COLLATERAL + 500,
				price_per_token: PRICE,
				active_from: 1,
			}
			.into(),
		);
		assert_eq!(held_collateral(ALICE), MIN_COLLATERAL + 500);
		assert_eq!(free(ALICE), INITIAL_BALANCE - MIN_COLLATERAL - 500);
		let r = record(node);
		assert_eq!((r.operator, r.status, r.active_from), (ALICE, NodeStatus::Active, 1));
		assert_eq!(r.url.to_vec(), URL.to_vec());
		assert_eq!(crate::NodeByWorkerKey::<Test>::get(worker_key(1)), Some(node));
		assert_eq!(NodeRegistry::standing_bid(node), Some(PRICE));

		assert!(!<NodeRegistry as atoma_support::NodeRegistry<_, _>>::is_eligible(node, 0));
		run_to_next_epoch();
		assert!(<NodeRegistry as atoma_support::NodeRegistry<_, _>>::is_eligible(node, 0));
		assert_eq!(NodeRegistry::current_epoch(), 1);
	});
}

#[test]
fn node_ids_count_up() {
	ExtBuilder::default().build_and_execute(|| {
		assert_eq!(register(ALICE, 1), NodeId(0));
		assert_eq!(register(ALICE, 2), NodeId(1));
		assert_eq!(register(BOB, 3), NodeId(2));
		assert_eq!(held_collateral(ALICE), 2 * MIN_COLLATERAL);
	});
}

#[test]
fn register_node_rejects_bad_input() {
	ExtBuilder::default().build_and_execute(|| {
		let reg = |who, echelon, key: u8, url: &[u8], collateral| {
			NodeRegistry::register_node(
				RuntimeOrigin::signed(who),
				EchelonId(echelon),
				worker_key(key),
				url.to_vec(),
				collateral,
				PRICE,
			)
		};
		assert_noop!(reg(ALICE, 7, 1, URL, MIN_COLLATERAL), Error::<Test>::UnknownEchelon);
		assert_noop!(
			reg(ALICE, 0, 1, URL, MIN_COLLATERAL - 1),
			Error::<Test>::CollateralBelowMinimum
		);
		assert_noop!(reg(ALICE, 0, 1, &[b'h'; 65], MIN_COLLATERAL), Error::<Test>::UrlTooLong);
		assert_noop!(reg(ALICE, 0, 1, b"ftp://x", MIN_COLLATERAL), Error::<Test>::InvalidUrl);
		assert_noop!(reg(ALICE, 0, 1, b"http://", MIN_COLLATERAL), Error::<Test>::InvalidUrl);
		assert_noop!(reg(PAUPER, 0, 1, URL, MIN_COLLATERAL), Error::<Test>::InsufficientBalance);
		assert_noop!(reg(ALICE, 0, 1, URL, INITIAL_BALANCE), Error::<Test>::InsufficientBalance);
		assert_noop!(
			NodeRegistry::register_node(
				RuntimeOrigin::none(),
				EchelonId(0),
				worker_key(1),
				URL.to_vec(),
				MIN_COLLATERAL,
				PRICE
			),
			DispatchError::BadOrigin
		);

		register(ALICE, 1);
		assert_noop!(reg(BOB, 0, 1, URL, MIN_COLLATERAL), Error::<Test>::WorkerKeyInUse);
	});
}

#[test]
fn an_echelon_holds_at_most_max_nodes() {
	ExtBuilder::default().build_and_execute(|| {
		for key in 1..=4 {
			register(ALICE, key);
		}
		assert_noop!(
			NodeRegistry::register_node(
				RuntimeOrigin::signed(BOB),
				EchelonId(0),
				worker_key(9),
				URL.to_vec(),
				MIN_COLLATERAL,
				PRICE
			),
			Error::<Test>::EchelonFull
		);
		// Leaving frees a place.
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), NodeId(0)));
		register(BOB, 9);
	});
}

#[test]
fn genesis_nodes_serve_at_once_and_fix_the_first_price() {
	ExtBuilder::default()
		.with_genesis_node(ALICE, 10)
		.with_genesis_node(BOB, 30)
		.with_genesis_node(CHARLIE, 20)
		.build_and_execute(|| {
			assert!(<NodeRegistry as atoma_support::NodeRegistry<_, _>>::is_eligible(NodeId(0), 0));
			assert_eq!(NodeRegistry::price_per_token(EchelonId(0)), Some(20));
			assert_eq!(held_collateral(BOB), MIN_COLLATERAL);
			assert_eq!(NodeRegistry::current_epoch(), 0);
		});
}
