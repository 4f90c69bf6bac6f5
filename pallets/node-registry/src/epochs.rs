//! Epoch boundaries (protocol §2-3): the epoch counter advances and each echelon's price for the
//! new epoch is fixed as the median of the standing bids of its real nodes: active in the new
//! epoch, holding at least `MinCollateral`, and serving at least one model. A flood of bids from
//! nodes that registered and serve nothing, or were slashed, or are leaving, moves nothing.
//!
//! The work is bounded by `MaxEchelons` alone: the counted bids and their median are kept
//! incrementally as bids change (`crate::median`), so a boundary reads each echelon's median in
//! one or two reads, whatever the number of its nodes, and writes as many prices. Its weight comes
//! from the `on_epoch_boundary` benchmark.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::{collections::btree_map::BTreeMap, vec::Vec};

use atoma_support::{fees::median, EchelonId, EpochIndex};
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, WeightInfo, MAX_ECHELON_SCALE};

impl<T: Config> Pallet<T> {
	/// Start the epoch after the current one at block `now`; returns the weight used.
	pub(crate) fn start_next_epoch(now: BlockNumberFor<T>) -> Weight {
		let epoch = Self::saturating_epoch_after(CurrentEpoch::<T>::get());
		CurrentEpoch::<T>::put(epoch);
		let length = EpochLength::<T>::get().max(T::MinEpochLength::get());
		NextEpochStart::<T>::put(now.saturating_add(length));
		Self::deposit_event(Event::EpochStarted { epoch, first_block: now });
		let echelons = Self::fix_prices(epoch);
		log::debug!(target: crate::LOG_TARGET, "epoch {epoch} began at block {now:?}");
		// The echelons' sizes do not matter: charged at the largest size benchmarked.
		T::WeightInfo::on_epoch_boundary(echelons, MAX_ECHELON_SCALE)
	}

	/// Fix every echelon's price for `epoch` from the standing bids that count
	/// ([`Self::bid_counts`]), read from the incrementally kept median; an echelon without such
	/// bids keeps its last price. Returns the number of echelons visited.
	pub(crate) fn fix_prices(epoch: EpochIndex) -> u32 {
		let mut visited = 0u32;
		for echelon in Echelons::<T>::iter_keys() {
			visited = visited.saturating_add(1);
			if let Some((price_per_token, bids)) = Self::counted_median(echelon) {
				Self::set_price(echelon, epoch, price_per_token, bids);
			}
		}
		visited
	}

	/// Fix the genesis prices from all genesis bids: the genesis nodes are the chain spec's own,
	/// and the model registry's subscriptions may be built after this pallet's genesis. Genesis
	/// only: it reads every bid.
	pub(crate) fn fix_genesis_prices() {
		let mut prices = BTreeMap::<EchelonId, Vec<BalanceOf<T>>>::new();
		for bid in Bids::<T>::iter_values() {
			prices.entry(bid.echelon).or_default().push(bid.price);
		}
		for (echelon, mut prices) in prices {
			let bids = prices.len() as u32;
			if let Some(price_per_token) = median(&mut prices) {
				Self::set_price(echelon, 0, price_per_token, bids);
			}
		}
	}

	fn set_price(echelon: EchelonId, epoch: EpochIndex, price_per_token: BalanceOf<T>, bids: u32) {
		EchelonPrices::<T>::insert(echelon, price_per_token);
		Self::deposit_event(Event::PriceFixed { echelon, epoch, price_per_token, bids });
	}
}
