//! Epoch boundaries (protocol §2-3): the epoch counter advances and each echelon's price for the
//! new epoch is fixed as the median of the standing bids of its real nodes: active in the new
//! epoch, holding at least `MinCollateral`, and serving at least one model. A flood of bids from
//! nodes that registered and serve nothing, or were slashed, or are leaving, moves nothing.
//!
//! The work is bounded: at most `MaxEchelons` echelons, each with at most `MaxNodesPerEchelon`
//! bids kept in one storage value, so a boundary reads `MaxEchelons` bid lists, each bidder's
//! record and subscriptions, and writes as many prices. Its weight comes from the
//! `on_epoch_boundary` benchmark.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_support::{fees::median, EpochIndex, NodeId};
use frame_support::{
	pallet_prelude::*,
	traits::{Contains, Get},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, types::NodeStatus, WeightInfo};

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
		T::WeightInfo::on_epoch_boundary(echelons, T::MaxNodesPerEchelon::get())
	}

	/// Fix every echelon's price for `epoch` from the standing bids that count
	/// ([`Self::bid_counts`]); an echelon without such bids keeps its last price. Returns the
	/// number of echelons visited.
	pub(crate) fn fix_prices(epoch: EpochIndex) -> u32 {
		Self::fix_prices_counting(epoch, Self::bid_counts)
	}

	/// Fix every echelon's price for `epoch` from the standing bids of the nodes `counts`
	/// accepts. Returns the number of echelons visited.
	pub(crate) fn fix_prices_counting(
		epoch: EpochIndex,
		counts: impl Fn(NodeId, EpochIndex) -> bool,
	) -> u32 {
		let mut visited = 0u32;
		for echelon in Echelons::<T>::iter_keys() {
			visited = visited.saturating_add(1);
			let bids = EchelonBids::<T>::get(echelon);
			let mut prices: Vec<BalanceOf<T>> = bids
				.iter()
				.filter(|(node, _)| counts(*node, epoch))
				.map(|(_, price)| *price)
				.collect();
			let counted = prices.len() as u32;
			if let Some(price_per_token) = median(&mut prices) {
				EchelonPrices::<T>::insert(echelon, price_per_token);
				Self::deposit_event(Event::PriceFixed {
					echelon,
					epoch,
					price_per_token,
					bids: counted,
				});
			}
		}
		visited
	}

	/// Whether `node`'s bid counts toward its echelon's price in `epoch`: the node is active by
	/// then, holds at least `MinCollateral` and serves at least one model.
	fn bid_counts(node: NodeId, epoch: EpochIndex) -> bool {
		let active = Nodes::<T>::get(node).is_some_and(|record| {
			record.status == NodeStatus::Active
				&& record.active_from <= epoch
				&& record.collateral >= T::MinCollateral::get()
		});
		active && T::ServingNodes::contains(&node)
	}
}
