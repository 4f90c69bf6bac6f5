//! The draw index: for each (model, echelon), the subscribed nodes at dense positions
//! `0..IndexLen`, so that a draw picks uniform positions and reads only those
//! (`atoma_support::draw::draw_indexed`). Joining appends; leaving moves the last node into the
//! leaver's position (swap-remove). Every operation is a constant number of storage accesses, at
//! 10 subscribers or 10,000.
//!
//! **Why the index runs late.** A draw in block `B` uses the VRF output of block `B - 1`, which
//! that block's author knew while building it. If a subscription made in `B - 1` changed the
//! index `B` draws from, that author could grind its own sybils in and out (each changes the
//! count, so every position) until the draw favoured them. So a subscription's change reaches the
//! index `IndexDelay` (>= 2) blocks later, replayed in the order made (a queue, never reordered;
//! a busy block only delays it more). Until then draws also check the subscription itself, which
//! only lets an operator take its own nodes out of a draw, never put them in (see
//! `draw_indexed`).
//!
//! **Removed models.** Removal costs the same at any size: the model joins `Unindexing`, and
//! each block clears up to `MaxIndexChangesPerBlock` of its index entries (ending those
//! subscriptions) until none is left, nor any subscription still waiting to join.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{EchelonId, ModelId, NodeId};
use frame_support::{pallet_prelude::*, traits::DefensiveSaturating};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

use crate::{pallet::*, types::IndexChange, WeightInfo};

impl<T: Config> Pallet<T> {
	/// Record that `node` joins or leaves the index of (`model`, `echelon`): applied now with an
	/// `IndexDelay` of 0 and at genesis, else queued for `IndexDelay` blocks from now.
	pub(crate) fn queue_index_change(node: NodeId, model: ModelId, echelon: EchelonId, join: bool) {
		let now = frame_system::Pallet::<T>::block_number();
		let delay = T::IndexDelay::get();
		let (head, tail) = IndexQueueBounds::<T>::get();
		// Applied at once only when nothing waits: the index replays changes in order.
		if (delay == 0 || now.is_zero()) && head == tail {
			let due = now;
			Self::apply_index_change(IndexChange { node, model, echelon, join, due });
			return;
		}
		let due = now.saturating_add(delay.into());
		IndexQueue::<T>::insert(tail, IndexChange { node, model, echelon, join, due });
		IndexQueueBounds::<T>::put((head, tail.saturating_add(1)));
	}

	/// Apply the queued changes due by `now`, then clear removed models' entries, at most
	/// `MaxIndexChangesPerBlock` in all. Returns the weight used.
	pub(crate) fn update_index(now: BlockNumberFor<T>) -> Weight {
		let budget = T::MaxIndexChangesPerBlock::get();
		let (mut head, tail) = IndexQueueBounds::<T>::get();
		let mut applied = 0u32;
		while head < tail && applied < budget {
			let Some(change) = IndexQueue::<T>::get(head) else {
				// A gap cannot happen (queued at `tail`, taken at `head`): skip it.
				head = head.defensive_saturating_add(1);
				continue;
			};
			if change.due > now {
				break;
			}
			IndexQueue::<T>::remove(head);
			head = head.saturating_add(1);
			applied = applied.saturating_add(1);
			Self::apply_index_change(change);
		}
		if applied > 0 {
			IndexQueueBounds::<T>::put((head, tail));
		}
		let mut cleared = 0u32;
		while applied.saturating_add(cleared) < budget && Self::unindex_one() {
			cleared = cleared.saturating_add(1);
		}
		T::WeightInfo::apply_index_changes(applied)
			.saturating_add(T::WeightInfo::unindex_subscriptions(cleared))
	}

	/// Apply one change: join appends the node unless it is indexed already; leave swap-removes
	/// it if it is indexed. A join for a model that was removed meanwhile ends the subscription
	/// instead (the model's clearing waits for it).
	pub(crate) fn apply_index_change(change: IndexChange<BlockNumberFor<T>>) {
		let IndexChange { node, model, echelon, join, .. } = change;
		if !join {
			if let Some((indexed_in, position)) = IndexPositions::<T>::get(node, &model) {
				Self::remove_at(&model, indexed_in, position);
			}
			return;
		}
		if !Models::<T>::contains_key(&model) || Self::is_unindexing(&model) {
			Self::forget_subscription(node, &model, echelon);
			return;
		}
		if IndexPositions::<T>::contains_key(node, &model) {
			return;
		}
		let position = IndexLen::<T>::get(&model, echelon);
		// Subscriptions are counted against `MaxSubscribersPerModel`, and the index replays
		// them in order: it can never be longer than the count was.
		if position >= T::MaxSubscribersPerModel::get() {
			frame_support::defensive!("the draw index would pass MaxSubscribersPerModel");
			return;
		}
		IndexedNodes::<T>::insert((&model, echelon, position), node);
		IndexPositions::<T>::insert(node, &model, (echelon, position));
		IndexLen::<T>::insert(&model, echelon, position.saturating_add(1));
		Self::deposit_event(Event::NodeIndexed { node, model, echelon, position });
	}

	/// Remove the entry at `position` of (`model`, `echelon`): the last entry moves into it.
	fn remove_at(model: &ModelId, echelon: EchelonId, position: u32) {
		let len = IndexLen::<T>::get(model, echelon);
		let Some(last) = len.checked_sub(1) else { return };
		let Some(node) = IndexedNodes::<T>::take((model, echelon, position)) else { return };
		IndexPositions::<T>::remove(node, model);
		if position != last {
			if let Some(moved) = IndexedNodes::<T>::take((model, echelon, last)) {
				IndexedNodes::<T>::insert((model, echelon, position), moved);
				IndexPositions::<T>::insert(moved, model, (echelon, position));
			}
		}
		if last == 0 {
			IndexLen::<T>::remove(model, echelon);
		} else {
			IndexLen::<T>::insert(model, echelon, last);
		}
		Self::deposit_event(Event::NodeUnindexed { node, model: model.clone(), echelon });
	}

	/// Clear one index entry of the oldest removed model, ending that subscription, or drop the
	/// model from `Unindexing` once nothing of it is left. Returns `false` when there was
	/// nothing to do now: no removed model, or only subscriptions still queued to join, which
	/// end as their changes are applied.
	pub(crate) fn unindex_one() -> bool {
		let mut queue = Unindexing::<T>::get();
		let Some((model, echelons)) = queue.first().cloned() else { return false };
		for echelon in echelons.iter().copied() {
			let len = IndexLen::<T>::get(&model, echelon);
			let Some(last) = len.checked_sub(1) else { continue };
			match IndexedNodes::<T>::get((&model, echelon, last)) {
				Some(node) => {
					Self::remove_at(&model, echelon, last);
					Self::forget_subscription(node, &model, echelon);
				},
				None => {
					frame_support::defensive!("a hole in the draw index");
					IndexLen::<T>::insert(&model, echelon, last);
				},
			}
			return true;
		}
		if echelons.iter().any(|echelon| SubscriberCount::<T>::get(&model, echelon) > 0) {
			return false;
		}
		queue.retain(|(m, _)| *m != model);
		Unindexing::<T>::put(queue);
		true
	}

	/// Whether `model` was removed and its index is still being cleared.
	pub(crate) fn is_unindexing(model: &ModelId) -> bool {
		Unindexing::<T>::get().iter().any(|(m, _)| m == model)
	}

	/// The nodes of the draw index of (`model`, `echelon`), in position order. Reads the whole
	/// index: for tests and off-chain callers, never for a call's own work.
	pub fn indexed_nodes(model: &ModelId, echelon: EchelonId) -> alloc::vec::Vec<NodeId> {
		(0..IndexLen::<T>::get(model, echelon))
			.filter_map(|position| IndexedNodes::<T>::get((model, echelon, position)))
			.collect()
	}
}
