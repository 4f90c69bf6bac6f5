//! The draw index: dense positions, swap-remove, `IndexDelay` blocks late, in order, bounded
//! work per block, and removed models cleared over blocks.

use atoma_support::{EchelonId, ModelRegistry as _, NodeId};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Error, Event, IndexPositions, IndexQueueBounds, Unindexing};

fn subscribe(who: AccountId, node: u64, model: &ModelId) -> sp_runtime::DispatchResult {
	ModelRegistry::subscribe(RuntimeOrigin::signed(who), NodeId(node), model.clone())
}

fn unsubscribe(who: AccountId, node: u64, model: &ModelId) -> sp_runtime::DispatchResult {
	ModelRegistry::unsubscribe(RuntimeOrigin::signed(who), NodeId(node), model.clone())
}

fn count(model: &ModelId) -> u32 {
	ModelRegistry::indexed_count(model, EchelonId(0))
}

#[test]
fn the_index_follows_subscriptions_two_blocks_late() {
	setup().build_and_execute(|| {
		let model = approved("m");
		// Block 1: subscribed now, drawable from block 3.
		assert_ok!(subscribe(ALICE, 0, &model));
		assert!(ModelRegistry::is_subscribed(NodeId(0), &model));
		assert_eq!(count(&model), 0);
		run_to_block(2);
		assert_eq!(count(&model), 0, "the author of block 2 knows block 3's randomness");
		run_to_block(3);
		assert_eq!(count(&model), 1);
		assert_eq!(ModelRegistry::indexed_node(&model, EchelonId(0), 0), Some(NodeId(0)));
		System::assert_has_event(
			Event::NodeIndexed {
				node: NodeId(0),
				model: model.clone(),
				echelon: EchelonId(0),
				position: 0,
			}
			.into(),
		);
		// Unsubscribed at block 3: no longer subscribed, still indexed until block 5.
		assert_ok!(unsubscribe(ALICE, 0, &model));
		assert!(!ModelRegistry::is_subscribed(NodeId(0), &model));
		run_to_block(4);
		assert_eq!(count(&model), 1);
		run_to_block(5);
		assert_eq!(count(&model), 0);
		System::assert_has_event(
			Event::NodeUnindexed { node: NodeId(0), model: model.clone(), echelon: EchelonId(0) }
				.into(),
		);
	});
}

#[test]
fn a_leaver_is_replaced_by_the_last_node() {
	setup().build_and_execute(|| {
		let model = approved("m");
		add_node(3, ALICE, 0);
		for node in [0, 1, 3] {
			assert_ok!(subscribe(ALICE, node, &model));
		}
		assert_eq!(indexed(&model, EchelonId(0)), [NodeId(0), NodeId(1), NodeId(3)]);
		assert_ok!(unsubscribe(ALICE, 0, &model));
		assert_eq!(indexed(&model, EchelonId(0)), [NodeId(3), NodeId(1)]);
		assert_eq!(IndexPositions::<Test>::get(NodeId(3), &model), Some((EchelonId(0), 0)));
		assert_eq!(IndexPositions::<Test>::get(NodeId(0), &model), None);
		// The last one leaves: nothing moves.
		assert_ok!(unsubscribe(ALICE, 1, &model));
		assert_eq!(indexed(&model, EchelonId(0)), [NodeId(3)]);
	});
}

#[test]
fn changes_replay_in_order_and_a_full_block_only_delays_them() {
	setup().build_and_execute(|| {
		let model = approved("m");
		add_node(3, ALICE, 0);
		// Block 1: join, leave and join again of node 0, and two more joins: five changes, three
		// a block (`MaxIndexChangesPerBlock`).
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_ok!(unsubscribe(ALICE, 0, &model));
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_ok!(subscribe(ALICE, 3, &model));
		run_to_block(3);
		assert_eq!(IndexQueueBounds::<Test>::get(), (3, 5), "two changes wait for block 4");
		assert_eq!(ModelRegistry::indexed_nodes(&model, EchelonId(0)), [NodeId(0)]);
		run_to_block(4);
		assert_eq!(
			ModelRegistry::indexed_nodes(&model, EchelonId(0)),
			[NodeId(0), NodeId(1), NodeId(3)]
		);
		// Leave and join in consecutive blocks end subscribed and indexed once.
		assert_ok!(unsubscribe(ALICE, 1, &model));
		run_to_block(5);
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_eq!(indexed(&model, EchelonId(0)).len(), 3);
	});
}

#[test]
fn a_removed_models_index_is_cleared_over_blocks() {
	setup().build_and_execute(|| {
		let model = approved("m");
		add_node(3, ALICE, 0);
		add_node(4, BOB, 1);
		for (who, node) in [(ALICE, 0), (ALICE, 1), (ALICE, 3), (BOB, 2), (BOB, 4)] {
			assert_ok!(subscribe(who, node, &model));
		}
		settle_index();
		// One more subscription still queued when the model goes.
		add_node(5, BOB, 1);
		assert_ok!(subscribe(BOB, 5, &model));
		SERVING_CHANGES.with(|c| c.borrow_mut().clear());

		assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
		System::assert_last_event(
			Event::ModelRemoved { model: model.clone(), unsubscribed: 6 }.into(),
		);
		assert!(!ModelRegistry::is_subscribed(NodeId(0), &model), "no subscription counts");
		// The id is taken until the index is gone.
		assert_noop!(
			ModelRegistry::register_model(
				RuntimeOrigin::signed(OWNER),
				b"m".to_vec(),
				ROOT,
				TOKENIZER,
				vec![],
				sp_runtime::Perbill::zero()
			),
			Error::<Test>::ModelExists
		);
		// Three entries a block.
		let now = System::block_number();
		run_to_block(now + 1);
		let left = ModelRegistry::indexed_count(&model, EchelonId(0))
			+ ModelRegistry::indexed_count(&model, EchelonId(1));
		assert_eq!(left, 2);
		settle_index();
		assert!(Unindexing::<Test>::get().is_empty());
		for node in 0..6 {
			assert!(crate::NodeSubscriptions::<Test>::get(NodeId(node)).is_empty());
		}
		// Every node's last subscription ended: the node registry heard of each.
		let mut told = SERVING_CHANGES.with(|c| c.borrow().clone());
		told.sort();
		assert_eq!(told, (0..6).map(NodeId).collect::<Vec<_>>());
		assert_eq!(approved("m"), model, "the id is free again");
		assert!(ModelRegistry::indexed_nodes(&model, EchelonId(0)).is_empty());
	});
}

#[test]
fn removals_wait_when_too_many_models_are_being_cleared() {
	setup().build_and_execute(|| {
		let models: Vec<ModelId> =
			(0..=crate::MAX_MODELS_UNINDEXING).map(|i| approved(&format!("m{i}"))).collect();
		for model in models.iter().take(crate::MAX_MODELS_UNINDEXING as usize) {
			assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
		}
		let last = models.last().unwrap().clone();
		assert_noop!(
			ModelRegistry::remove_model(RuntimeOrigin::root(), last.clone()),
			Error::<Test>::TooManyModelsUnindexing
		);
		run_to_block(System::block_number() + 1);
		assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), last));
	});
}

#[test]
fn the_node_registry_hears_when_a_node_starts_and_stops_serving() {
	setup().build_and_execute(|| {
		let (a, b) = (approved("a"), approved("b"));
		assert_ok!(subscribe(ALICE, 0, &a));
		assert_ok!(subscribe(ALICE, 0, &b));
		assert_ok!(unsubscribe(ALICE, 0, &a));
		assert_eq!(SERVING_CHANGES.with(|c| c.borrow().clone()), [NodeId(0)]);
		assert_ok!(unsubscribe(ALICE, 0, &b));
		assert_eq!(SERVING_CHANGES.with(|c| c.borrow().clone()), [NodeId(0), NodeId(0)]);
	});
}

#[test]
fn with_no_delay_the_index_changes_at_once() {
	setup().build_and_execute(|| {
		IndexDelay::set(0);
		let model = approved("m");
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_eq!(count(&model), 1);
		assert_ok!(unsubscribe(ALICE, 0, &model));
		assert_eq!(count(&model), 0);
	});
}
