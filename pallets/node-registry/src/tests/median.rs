//! The standing bids and the incrementally kept median: exact against
//! `atoma_support::fees::median` over random changes, updated by every input of whether a bid
//! counts, deaf to bids that do not count, and O(1) at the boundary.

use atoma_support::{fees::median, fuzz::Rng, EchelonId, NodeId, NodeRegistry as _, SlashSplit};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::Mutate, GetStorageVersion, OnRuntimeUpgrade, StorageVersion},
};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Bids, EchelonNodeCount, Error, Event, MedianCursors, PriceLevels};

const ECHELON: EchelonId = EchelonId(0);

/// The price the boundary fixes from `prices`, as the full computation gives it.
fn full_median(prices: &[Balance]) -> Option<Balance> {
	median(&mut prices.to_vec())
}

/// Whether the node's bid counts, recomputed from scratch.
fn counts(node: NodeId) -> bool {
	crate::Nodes::<Test>::get(node).is_some_and(|r| {
		r.status == crate::NodeStatus::Active
			&& r.collateral >= MIN_COLLATERAL
			&& !ServingNothing::get().contains(&node)
	})
}

/// The counted bids of echelon 0, recomputed from every node's record and bid.
fn counted_prices() -> Vec<Balance> {
	Bids::<Test>::iter()
		.filter(|(node, bid)| bid.echelon == ECHELON && counts(*node))
		.map(|(_, bid)| bid.price)
		.collect()
}

/// A funded operator of its own, so that thousands of nodes need no shared balance.
fn operator(i: u32) -> AccountId {
	let who = 1_000 + AccountId::from(i);
	Balances::set_balance(&who, 10 * MIN_COLLATERAL);
	who
}

fn register_as(who: AccountId, key: u32, collateral: Balance, price: Balance) -> NodeId {
	let node = NodeId(crate::NextNodeId::<Test>::get());
	let mut raw = [0u8; 32];
	raw[..4].copy_from_slice(&key.to_le_bytes());
	raw[31] = 0xee;
	assert_ok!(NodeRegistry::register_node(
		RuntimeOrigin::signed(who),
		ECHELON,
		sp_core::sr25519::Public::from_raw(raw),
		URL.to_vec(),
		collateral,
		price,
	));
	node
}

/// Random counts and uncounts, with duplicates, in two echelons: after each the incremental
/// median equals the full one, and the levels are the multiset's.
#[test]
fn the_incremental_median_equals_the_full_median() {
	ExtBuilder::default().build().execute_with(|| {
		let mut rng = Rng::new(0x3ed1a);
		let echelons = [EchelonId(0), EchelonId(1)];
		let mut model: [Vec<Balance>; 2] = [Vec::new(), Vec::new()];
		for step in 0..6_000 {
			let which = rng.below(2) as usize;
			let echelon = echelons[which];
			let bids = &mut model[which];
			// Mostly a narrow range, so that prices repeat; now and then an extreme.
			let price = match rng.below(10) {
				0 => rng.edgy(u64::MAX),
				_ => rng.below(if step % 1_000 < 500 { 12 } else { 400 }),
			};
			let remove =
				!bids.is_empty() && (rng.below(100) < if step % 2_000 < 1_000 { 35 } else { 60 });
			if remove {
				let i = rng.below(bids.len() as u64) as usize;
				let old = bids.swap_remove(i);
				NodeRegistry::uncount(echelon, NodeRegistry::price_key(old));
				// Half the time a re-bid: the same bid at a new price.
				if rng.one_in(2) {
					bids.push(price);
					NodeRegistry::count(echelon, NodeRegistry::price_key(price));
				}
			} else {
				bids.push(price);
				NodeRegistry::count(echelon, NodeRegistry::price_key(price));
			}
			for (echelon, bids) in echelons.iter().zip(model.iter()) {
				let got = NodeRegistry::counted_median(*echelon);
				assert_eq!(got.map(|(p, _)| p), full_median(bids), "step {step}: {bids:?}");
				assert_eq!(got.map_or(0, |(_, n)| n as usize), bids.len());
			}
			if step % 97 == 0 {
				for (echelon, bids) in echelons.iter().zip(model.iter()) {
					let mut sorted = bids.clone();
					sorted.sort_unstable();
					sorted.dedup();
					let levels: Vec<Balance> = NodeRegistry::counted_levels(*echelon)
						.into_iter()
						.map(|(p, _)| p)
						.collect();
					assert_eq!(levels, sorted, "levels in price order, one per distinct price");
				}
			}
		}
		// Emptied, nothing is left behind.
		for (echelon, bids) in echelons.iter().zip(model.iter()) {
			for price in bids {
				NodeRegistry::uncount(*echelon, NodeRegistry::price_key(*price));
			}
			assert_eq!(NodeRegistry::counted_median(*echelon), None);
			assert!(MedianCursors::<Test>::get(echelon).is_none());
			assert_eq!(PriceLevels::<Test>::iter_prefix(echelon).count(), 0);
		}
	});
}

/// Odd and even counts with duplicates at the middle, checked by hand.
#[test]
fn the_median_of_a_few_bids() {
	ExtBuilder::default().build().execute_with(|| {
		let add = |p: Balance| NodeRegistry::count(ECHELON, NodeRegistry::price_key(p));
		let remove = |p: Balance| NodeRegistry::uncount(ECHELON, NodeRegistry::price_key(p));
		let now = || NodeRegistry::counted_median(ECHELON);
		assert_eq!(now(), None);
		add(10);
		assert_eq!(now(), Some((10, 1)));
		add(21);
		assert_eq!(now(), Some((15, 2)), "mean of the middle two, rounded down");
		add(21);
		assert_eq!(now(), Some((21, 3)));
		add(5);
		assert_eq!(now(), Some((15, 4)));
		add(21);
		assert_eq!(now(), Some((21, 5)));
		remove(21);
		remove(21);
		assert_eq!(now(), Some((10, 3)));
		remove(10);
		assert_eq!(now(), Some((13, 2)));
		remove(5);
		remove(21);
		assert_eq!(now(), None);
	});
}

/// Thousands of nodes bid random prices; some stop serving, are slashed below `MinCollateral`,
/// deregister, withdraw or bid again. At each boundary the price is the full median of the bids
/// that count, and the invariants hold.
#[test]
fn many_nodes_bidding_random_prices_fix_the_full_median() {
	ExtBuilder::default().build().execute_with(|| {
		MaxNodesPerEchelon::set(10_000);
		let mut rng = Rng::new(0xb1d5);
		let mut nodes = Vec::new();
		for i in 0..2_000u32 {
			let price = rng.below(1_000);
			nodes.push((operator(i), register_as(operator(i), i, MIN_COLLATERAL, price)));
		}
		for round in 0..3u32 {
			let mut idle = ServingNothing::get();
			for _ in 0..300 {
				let (who, node) = *rng.pick(&nodes);
				match rng.below(6) {
					0 => idle.push(node),
					1 => idle.retain(|n| *n != node),
					2 => {
						let _ = NodeRegistry::slash(
							node,
							Perbill::from_percent(rng.below(100) as u32),
							&SlashSplit::treasury_only(Perbill::one()),
						);
					},
					3 => {
						let _ = NodeRegistry::add_collateral(
							RuntimeOrigin::signed(who),
							node,
							MIN_COLLATERAL / 2,
						);
					},
					4 => {
						let _ = NodeRegistry::deregister_node(RuntimeOrigin::signed(who), node);
						let _ = NodeRegistry::withdraw_node(RuntimeOrigin::signed(who), node);
					},
					_ => {
						let _ = NodeRegistry::bid_price(
							RuntimeOrigin::signed(who),
							node,
							rng.below(1_000),
						);
					},
				}
			}
			set_serving_nothing(idle);
			let expected = counted_prices();
			run_to_next_epoch();
			let epoch = round + 1;
			assert!(expected.len() > 1_000, "most bids still count: {}", expected.len());
			let price = full_median(&expected).expect("bids count");
			assert_eq!(NodeRegistry::price_per_token(ECHELON), Some(price));
			System::assert_has_event(
				Event::PriceFixed {
					echelon: ECHELON,
					epoch,
					price_per_token: price,
					bids: expected.len() as u32,
				}
				.into(),
			);
			NodeRegistry::do_try_state().expect("invariants hold");
		}
	});
}

/// A flood of extreme bids from nodes that do not serve, hold too little or are leaving: none
/// is counted, and the price stays the median of the real nodes' bids.
#[test]
fn a_flood_of_bids_that_do_not_count_moves_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		MaxNodesPerEchelon::set(10_000);
		for (i, price) in [10, 12, 14].into_iter().enumerate() {
			register_as(operator(i as u32), i as u32, MIN_COLLATERAL, price);
		}
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(ECHELON), Some(12));

		let mut idle = Vec::new();
		for i in 10..1_510u32 {
			let who = operator(i);
			let node = register_as(who, i, MIN_COLLATERAL, 1_000_000 + Balance::from(i));
			match i % 3 {
				0 => idle.push(node),
				1 => {
					assert_ok!(NodeRegistry::slash(
						node,
						Perbill::from_percent(1),
						&SlashSplit::treasury_only(Perbill::one()),
					));
				},
				_ => {
					assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(who), node));
				},
			}
			// Re-bidding changes nothing either.
			let _ = NodeRegistry::bid_price(RuntimeOrigin::signed(who), node, u64::MAX);
		}
		set_serving_nothing(idle);
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(ECHELON), Some(12), "the flood moved nothing");
		System::assert_has_event(
			Event::PriceFixed { echelon: ECHELON, epoch: 2, price_per_token: 12, bids: 3 }.into(),
		);
		assert_eq!(NodeRegistry::counted_levels(ECHELON), vec![(10, 1), (12, 1), (14, 1)]);
		NodeRegistry::do_try_state().expect("invariants hold");
	});
}

/// The model registry's `serving_changed` moves a node's bid in and out of the count, with the
/// price it bid meanwhile.
#[test]
fn serving_changed_counts_and_uncounts_the_bid() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register_with(ALICE, 1, MIN_COLLATERAL, 30);
		assert!(Bids::<Test>::get(node).is_some_and(|b| b.counted), "it serves (the mock's rule)");
		set_serving_nothing(vec![node]);
		assert!(Bids::<Test>::get(node).is_some_and(|b| !b.counted));
		assert_eq!(NodeRegistry::counted_median(ECHELON), None);
		assert_ok!(NodeRegistry::bid_price(RuntimeOrigin::signed(ALICE), node, 40));
		assert_eq!(NodeRegistry::counted_median(ECHELON), None, "a bid of a node serving nothing");
		set_serving_nothing(vec![]);
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((40, 1)));
		// Told twice, nothing changes.
		NodeRegistry::serving_changed(node);
		assert_eq!(NodeRegistry::counted_levels(ECHELON), vec![(40, 1)]);
	});
}

/// A slash below `MinCollateral` uncounts the bid; collateral added back counts it again.
#[test]
fn collateral_below_the_minimum_uncounts_the_bid_until_topped_up() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register_with(ALICE, 1, MIN_COLLATERAL, 30);
		register_with(BOB, 2, MIN_COLLATERAL, 50);
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((40, 2)));
		assert_ok!(NodeRegistry::slash(
			node,
			Perbill::from_percent(10),
			&SlashSplit::treasury_only(Perbill::one())
		));
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((50, 1)));
		assert_ok!(NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 50));
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((50, 1)), "still below");
		assert_ok!(NodeRegistry::add_collateral(RuntimeOrigin::signed(ALICE), node, 50));
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((40, 2)));
	});
}

/// A node takes a slot in its echelon from registration to deregistration; withdrawal changes
/// nothing more.
#[test]
fn deregistration_frees_the_echelon_slot() {
	ExtBuilder::default().build_and_execute(|| {
		let nodes: Vec<NodeId> =
			[ALICE, BOB, CHARLIE, DAVE].iter().map(|who| register(*who, *who as u8)).collect();
		assert_eq!(EchelonNodeCount::<Test>::get(ECHELON), 4);
		assert_noop!(
			NodeRegistry::register_node(
				RuntimeOrigin::signed(ALICE),
				ECHELON,
				worker_key(9),
				URL.to_vec(),
				MIN_COLLATERAL,
				PRICE
			),
			Error::<Test>::EchelonFull
		);
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), nodes[0]));
		assert_eq!(EchelonNodeCount::<Test>::get(ECHELON), 3);
		assert_eq!(Bids::<Test>::get(nodes[0]), None);
		run_to_next_epoch();
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(ALICE), nodes[0]));
		assert_eq!(EchelonNodeCount::<Test>::get(ECHELON), 3);
		register(ALICE, 9);
		assert_eq!(EchelonNodeCount::<Test>::get(ECHELON), 4);
	});
}

/// The boundary's weight does not depend on how many nodes an echelon may hold.
#[test]
fn the_boundary_weight_does_not_depend_on_the_echelon_size() {
	ExtBuilder::default().build_and_execute(|| {
		let now = crate::NextEpochStart::<Test>::get();
		let small = NodeRegistry::start_next_epoch(now);
		MaxNodesPerEchelon::set(10_000);
		let large = NodeRegistry::start_next_epoch(now + EPOCH);
		assert_eq!(small, large);
	});
}

/// A chain at version 1 kept one bid list per echelon: the upgrade moves each bid to its node,
/// counts the nodes and builds the counted bids, once.
#[test]
fn the_upgrade_splits_the_echelon_bid_lists() {
	use crate::migrations::v2::{EchelonBids, MigrateV1ToV2};
	ExtBuilder::default().build_and_execute(|| {
		let a = register_with(ALICE, 1, MIN_COLLATERAL, 30);
		let b = register_with(BOB, 2, MIN_COLLATERAL, 10);
		let c = register_with(CHARLIE, 3, MIN_COLLATERAL, 20);
		let idle = register_with(DAVE, 4, MIN_COLLATERAL, 99);
		set_serving_nothing(vec![idle]);
		let expected = (
			NodeRegistry::counted_levels(ECHELON),
			MedianCursors::<Test>::get(ECHELON),
			Bids::<Test>::iter().collect::<Vec<_>>(),
		);
		// The version 1 layout: the bid lists alone.
		let _ = Bids::<Test>::clear(u32::MAX, None);
		let _ = PriceLevels::<Test>::clear(u32::MAX, None);
		let _ = MedianCursors::<Test>::clear(u32::MAX, None);
		let _ = EchelonNodeCount::<Test>::clear(u32::MAX, None);
		EchelonBids::<Test>::insert(ECHELON, vec![(a, 30), (b, 10), (c, 20), (idle, 99)]);
		StorageVersion::new(1).put::<NodeRegistry>();

		MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(NodeRegistry::on_chain_storage_version(), 2);
		assert_eq!(EchelonBids::<Test>::iter().count(), 0);
		assert_eq!(EchelonNodeCount::<Test>::get(ECHELON), 4);
		assert_eq!(
			(
				NodeRegistry::counted_levels(ECHELON),
				MedianCursors::<Test>::get(ECHELON),
				Bids::<Test>::iter().collect::<Vec<_>>(),
			),
			expected
		);
		assert_eq!(NodeRegistry::counted_median(ECHELON), Some((20, 3)));

		// Once only.
		EchelonBids::<Test>::insert(ECHELON, vec![(a, 1)]);
		MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(NodeRegistry::standing_bid(a), Some(30));
		EchelonBids::<Test>::remove(ECHELON);
	});
}
