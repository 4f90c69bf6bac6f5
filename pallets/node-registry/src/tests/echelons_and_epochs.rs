use atoma_support::{EchelonId, NodeRegistry as _};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

use super::*;
use crate::{mock::*, Error, Event};

fn register_echelon(device: &[u8], count: u32) -> sp_runtime::DispatchResult {
	NodeRegistry::register_echelon(RuntimeOrigin::root(), device.to_vec(), count, 81_920, [9; 32])
}

#[test]
fn governance_registers_echelons() {
	ExtBuilder::default().without_echelons().build_and_execute(|| {
		assert_ok!(register_echelon(b"H100-SXM", 8));
		let echelon = crate::Echelons::<Test>::get(EchelonId(0)).expect("registered");
		assert_eq!(echelon.device.to_vec(), b"H100-SXM".to_vec());
		assert_eq!((echelon.device_count, echelon.memory_mib), (8, 81_920));
		System::assert_last_event(
			Event::EchelonRegistered { echelon: EchelonId(0), spec: echelon }.into(),
		);
		assert!(NodeRegistry::echelon_exists(EchelonId(0)));
		assert!(!NodeRegistry::echelon_exists(EchelonId(1)));
	});
}

#[test]
fn register_echelon_errors() {
	ExtBuilder::default().without_echelons().build_and_execute(|| {
		assert_noop!(
			NodeRegistry::register_echelon(
				RuntimeOrigin::signed(ALICE),
				b"x".to_vec(),
				1,
				1,
				[0; 32]
			),
			DispatchError::BadOrigin
		);
		assert_noop!(register_echelon(b"", 1), Error::<Test>::InvalidDeviceName);
		assert_noop!(register_echelon(&[b'x'; 17], 1), Error::<Test>::InvalidDeviceName);
		assert_noop!(register_echelon(b"A100", 0), Error::<Test>::ZeroDeviceCount);
		for _ in 0..3 {
			assert_ok!(register_echelon(b"A100", 1));
		}
		assert_noop!(register_echelon(b"A100", 1), Error::<Test>::TooManyEchelons);
	});
}

#[test]
fn governance_updates_echelons() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register(ALICE, 1);
		assert_ok!(NodeRegistry::update_echelon(
			RuntimeOrigin::root(),
			EchelonId(0),
			b"cpu-arm64".to_vec(),
			2,
			8_192,
			[3; 32]
		));
		let echelon = crate::Echelons::<Test>::get(EchelonId(0)).expect("registered");
		System::assert_last_event(
			Event::EchelonUpdated { echelon: EchelonId(0), spec: echelon.clone() }.into(),
		);
		assert_eq!(echelon.execution_profile, [3; 32]);
		assert_eq!(record(node).echelon, EchelonId(0), "nodes stay in the echelon");

		assert_noop!(
			NodeRegistry::update_echelon(
				RuntimeOrigin::root(),
				EchelonId(5),
				b"x".to_vec(),
				1,
				1,
				[0; 32]
			),
			Error::<Test>::UnknownEchelon
		);
		assert_noop!(
			NodeRegistry::update_echelon(
				RuntimeOrigin::root(),
				EchelonId(0),
				b"x".to_vec(),
				0,
				1,
				[0; 32]
			),
			Error::<Test>::ZeroDeviceCount
		);
		assert_noop!(
			NodeRegistry::update_echelon(
				RuntimeOrigin::signed(ALICE),
				EchelonId(0),
				b"x".to_vec(),
				1,
				1,
				[0; 32]
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn epochs_start_every_epoch_length_blocks() {
	ExtBuilder::default().build_and_execute(|| {
		assert_eq!(NodeRegistry::current_epoch(), 0);
		run_to_block(EPOCH - 1);
		assert_eq!(NodeRegistry::current_epoch(), 0);
		run_to_block(EPOCH);
		assert_eq!(NodeRegistry::current_epoch(), 1);
		System::assert_has_event(Event::EpochStarted { epoch: 1, first_block: EPOCH }.into());
		run_to_block(2 * EPOCH);
		System::assert_has_event(Event::EpochStarted { epoch: 2, first_block: 2 * EPOCH }.into());
	});
}

#[test]
fn set_epoch_length_applies_from_the_next_boundary() {
	ExtBuilder::default().build_and_execute(|| {
		assert_ok!(NodeRegistry::set_epoch_length(RuntimeOrigin::root(), 4));
		System::assert_last_event(Event::EpochLengthSet { blocks: 4 }.into());
		assert_eq!(NodeRegistry::next_epoch_start(), EPOCH, "the current epoch keeps its end");
		run_to_block(EPOCH);
		assert_eq!(NodeRegistry::next_epoch_start(), EPOCH + 4);
		run_to_block(EPOCH + 4);
		assert_eq!(NodeRegistry::current_epoch(), 2);

		assert_noop!(
			NodeRegistry::set_epoch_length(RuntimeOrigin::root(), 1),
			Error::<Test>::EpochLengthTooShort
		);
		assert_noop!(
			NodeRegistry::set_epoch_length(RuntimeOrigin::signed(ALICE), 5),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn the_price_is_the_median_of_standing_bids_fixed_at_the_boundary() {
	ExtBuilder::default().build_and_execute(|| {
		let echelon = EchelonId(0);
		assert_eq!(NodeRegistry::price_per_token(echelon), None, "no bids yet");
		let a = register_with(ALICE, 1, MIN_COLLATERAL, 10);
		register_with(BOB, 2, MIN_COLLATERAL, 40);
		register_with(CHARLIE, 3, MIN_COLLATERAL, 25);
		assert_eq!(NodeRegistry::price_per_token(echelon), None, "bids count from the boundary");

		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(25));
		System::assert_has_event(
			Event::PriceFixed { echelon, epoch: 1, price_per_token: 25, bids: 3 }.into(),
		);

		// A new bid during epoch 1 is for epoch 2.
		assert_ok!(NodeRegistry::bid_price(RuntimeOrigin::signed(ALICE), a, 100));
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(25));
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(40));

		// With an even count the price is the mean of the two middle bids.
		register_with(DAVE, 4, MIN_COLLATERAL, 30);
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(35));

		// Nodes without a new bid keep their last one; leaving nodes stop counting.
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), a));
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(30));
	});
}

#[test]
fn an_echelon_without_bids_keeps_its_last_price() {
	ExtBuilder::default().build_and_execute(|| {
		let node = register_with(ALICE, 1, MIN_COLLATERAL, 12);
		run_to_next_epoch();
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(ALICE), node));
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(EchelonId(0)), Some(12));
	});
}

#[test]
fn bids_of_nodes_that_serve_nothing_or_hold_nothing_leave_the_price_alone() {
	use atoma_support::{NodeRegistry as _, SlashSplit};
	ExtBuilder::default().build_and_execute(|| {
		let echelon = EchelonId(0);
		register_with(ALICE, 1, MIN_COLLATERAL, 10);
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(10));

		// A flood of high bids: two nodes that subscribe to no model, one slashed to nothing.
		let idle = register_with(BOB, 2, MIN_COLLATERAL, 1_000);
		let also_idle = register_with(CHARLIE, 3, MIN_COLLATERAL, 1_000);
		let slashed = register_with(DAVE, 4, MIN_COLLATERAL, 1_000);
		set_serving_nothing(vec![idle, also_idle]);
		assert_ok!(NodeRegistry::slash(
			slashed,
			sp_runtime::Perbill::one(),
			&SlashSplit::treasury_only(sp_runtime::Perbill::one())
		));
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(10), "the flood moved nothing");
		System::assert_has_event(
			Event::PriceFixed { echelon, epoch: 2, price_per_token: 10, bids: 1 }.into(),
		);

		// Once they serve a model, their bids count.
		set_serving_nothing(vec![]);
		run_to_next_epoch();
		assert_eq!(NodeRegistry::price_per_token(echelon), Some(1_000));
		System::assert_has_event(
			Event::PriceFixed { echelon, epoch: 3, price_per_token: 1_000, bids: 3 }.into(),
		);
	});
}

#[test]
fn governance_sets_an_echelons_cross_validation_economics() {
	use sp_runtime::Perbill;
	ExtBuilder::default().build_and_execute(|| {
		let echelon = EchelonId(0);
		assert_eq!(NodeRegistry::echelon_security(echelon), None);
		let set = |origin, echelon, control| {
			NodeRegistry::set_echelon_security(origin, echelon, 4, control)
		};
		assert_noop!(
			set(RuntimeOrigin::signed(ALICE), echelon, Perbill::from_percent(50)),
			DispatchError::BadOrigin
		);
		assert_noop!(
			set(RuntimeOrigin::root(), EchelonId(9), Perbill::from_percent(50)),
			Error::<Test>::UnknownEchelon
		);
		assert_noop!(
			set(RuntimeOrigin::root(), echelon, Perbill::one()),
			Error::<Test>::ControlTooHigh
		);
		assert_ok!(set(RuntimeOrigin::root(), echelon, Perbill::from_percent(50)));
		System::assert_last_event(
			Event::EchelonSecuritySet {
				echelon,
				cost_per_token: 4,
				control: Perbill::from_percent(50),
			}
			.into(),
		);
		assert_eq!(NodeRegistry::echelon_security(echelon), Some((4, Perbill::from_percent(50))));
	});
}
