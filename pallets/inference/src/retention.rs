//! How long settled requests stay on chain: a result (`Results`, what a receipt is checked
//! against) for `ResultRetention` blocks, an output published on chain (`Outputs`, up to
//! `MaxOutputLen` bytes) for `OutputRetention` blocks. Each kind expires through a FIFO queue:
//! entries are pushed with a fixed period from the current block, so the queue is in expiry order
//! and `on_initialize` pops at most `MaxPrunedPerBlock` expired entries of each kind per block.

use atoma_support::RequestId;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, types::Expiring};

impl<T: Config> Pallet<T> {
	/// Schedule `kind` of request `id`, written in this block, to expire after its retention.
	pub fn expire_later(kind: Expiring, id: RequestId) {
		let retention = match kind {
			Expiring::Result => T::ResultRetention::get(),
			Expiring::Output => T::OutputRetention::get(),
		};
		let at = frame_system::Pallet::<T>::block_number().saturating_add(retention.into());
		ExpiryQueue::<T>::mutate(kind, |(_, next)| {
			Expiries::<T>::insert(kind, *next, (id, at));
			*next = next.saturating_add(1);
		});
	}

	/// Remove the results and outputs that expired by `now`, at most `MaxPrunedPerBlock` of
	/// each kind (a removed result takes its output with it). Returns how many of each.
	pub(crate) fn prune_expired(now: BlockNumberFor<T>) -> (u32, u32) {
		let results = Self::prune(Expiring::Result, now);
		let outputs = Self::prune(Expiring::Output, now);
		if results > 0 || outputs > 0 {
			Self::deposit_event(Event::Pruned { results, outputs });
		}
		(results, outputs)
	}

	fn prune(kind: Expiring, now: BlockNumberFor<T>) -> u32 {
		let (mut first, next) = ExpiryQueue::<T>::get(kind);
		let mut pruned = 0u32;
		while first < next && pruned < T::MaxPrunedPerBlock::get() {
			match Expiries::<T>::get(kind, first) {
				Some((_, at)) if at > now => break,
				Some((id, _)) => {
					Outputs::<T>::remove(id);
					if kind == Expiring::Result {
						Results::<T>::remove(id);
					}
				},
				// A hole cannot happen (entries are written in order); skip it all the same.
				None => {},
			}
			Expiries::<T>::remove(kind, first);
			first = first.saturating_add(1);
			pruned = pruned.saturating_add(1);
		}
		ExpiryQueue::<T>::insert(kind, (first, next));
		pruned
	}
}
