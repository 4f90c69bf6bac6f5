//! Standing bids and each echelon's median, kept incrementally (protocol §2-3).
//!
//! A bid *counts* toward its echelon's price while its node is active, holds at least
//! `MinCollateral` and serves a model ([`Pallet::bid_counts`]). The counted bids of an echelon are
//! a multiset of prices kept in [`PriceLevels`]: one entry per distinct price with its
//! multiplicity, keyed so that storage iterates them in price order, each linked to the next lower
//! one. [`MedianCursors`] points at the level holding the lower median (the bid of index
//! `(total - 1) / 2`) with the number of bids below it. A bid that joins or leaves changes one
//! level (plus the links of one neighbour when a level appears or disappears) and moves the
//! cursor by at most one level, so every change costs a constant number of storage operations
//! whatever the echelon's size, and the boundary reads each echelon's median in one or two reads.
//!
//! Every input of [`Pallet::bid_counts`] that changes calls [`Pallet::refresh_bid`] (or sets the
//! bid itself): registration, bids, deregistration, withdrawal, added or slashed collateral, and
//! the model registry's `serving_changed` when a node's first subscription begins or its last
//! ends.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{fees::median, EchelonId, NodeId};
use frame_support::{
	defensive,
	traits::{Contains, Get},
};
use sp_runtime::{traits::Zero, SaturatedConversion};

use crate::{
	pallet::*,
	types::{MedianCursor, NodeStatus, PriceKey, PriceLevel, StandingBid},
};

/// How many levels the cursor may move after one change. One is always enough (a change moves
/// the lower median's index by at most one); the cap only keeps a corrupted structure from
/// looping.
const MAX_CURSOR_STEPS: u32 = 4;

#[cfg(feature = "runtime-benchmarks")]
#[frame_support::storage_alias]
/// Benchmarks only: every node counts as serving a model. A benchmark cannot subscribe nodes to
/// models (that is another pallet), yet must measure bids that count; the subscription is still
/// read (`ServingNodes::contains`), so the measured cost is the real one plus this read.
pub(crate) type BenchmarkEveryNodeServes<T: Config> =
	StorageValue<Pallet<T>, bool, frame_support::pallet_prelude::ValueQuery>;

impl<T: Config> Pallet<T> {
	/// Whether the bid of `node`, whose record is `record`, counts toward its echelon's price:
	/// the node is active, holds at least `MinCollateral` and serves at least one model.
	///
	/// The node's `active_from` needs no check: every registered node has
	/// `active_from <= current epoch + 1` (registration sets it to the next epoch), and the
	/// counted bids are read only at a boundary, for the epoch that boundary starts, so by then
	/// every node registered is active. Nothing else reads them.
	pub(crate) fn bid_counts(node: NodeId, record: &NodeRecordOf<T>) -> bool {
		let serving = T::ServingNodes::contains(&node);
		#[cfg(feature = "runtime-benchmarks")]
		let serving = serving || BenchmarkEveryNodeServes::<T>::get();
		record.status == NodeStatus::Active
			&& record.collateral >= T::MinCollateral::get()
			&& serving
	}

	/// Place `price` as the standing bid of `node`, whose record is `record` (written or about to
	/// be), counted if [`Self::bid_counts`] says so.
	pub(crate) fn place_bid(node: NodeId, record: &NodeRecordOf<T>, price: BalanceOf<T>) {
		let counted = Self::bid_counts(node, record);
		Self::set_bid(node, Some(StandingBid { echelon: record.echelon, price, counted }));
	}

	/// Remove the standing bid of `node`, if any, and uncount it.
	pub(crate) fn remove_bid(node: NodeId) {
		Self::set_bid(node, None);
	}

	/// Recompute whether the standing bid of `node` counts, after one of its inputs changed
	/// (collateral, status, subscriptions), and put the echelon's counted bids right. A node
	/// without a bid (leaving or withdrawn) has nothing to count.
	pub(crate) fn refresh_bid(node: NodeId) {
		let Some(bid) = Bids::<T>::get(node) else { return };
		let counted = Nodes::<T>::get(node).is_some_and(|record| Self::bid_counts(node, &record));
		if counted != bid.counted {
			Self::set_bid(node, Some(StandingBid { counted, ..bid }));
		}
	}

	/// Replace the standing bid of `node` with `new` and move its price in or out of the
	/// echelon's counted bids accordingly.
	fn set_bid(node: NodeId, new: Option<StandingBidOf<T>>) {
		let old = Bids::<T>::get(node);
		let counted = |bid: Option<StandingBidOf<T>>| {
			bid.filter(|b| b.counted).map(|b| (b.echelon, Self::price_key(b.price)))
		};
		let (was, is) = (counted(old), counted(new));
		if was != is {
			if let Some((echelon, key)) = was {
				Self::uncount(echelon, key);
			}
			if let Some((echelon, key)) = is {
				Self::count(echelon, key);
			}
		}
		match new {
			Some(bid) => Bids::<T>::insert(node, bid),
			None => Bids::<T>::remove(node),
		}
	}

	/// `price` as a key of [`PriceLevels`]. Prices are compared as `u128`: exact for any balance
	/// type up to 128 bits (this chain's is `u128`).
	pub(crate) fn price_key(price: BalanceOf<T>) -> PriceKey {
		price.saturated_into::<u128>().to_be_bytes()
	}

	/// The price a key of [`PriceLevels`] stands for.
	pub(crate) fn key_price(key: PriceKey) -> BalanceOf<T> {
		u128::from_be_bytes(key).saturated_into()
	}

	/// The lowest price level of `echelon` above `key` (which need not be a level): one
	/// `next_key`.
	fn level_after(echelon: EchelonId, key: PriceKey) -> Option<PriceKey> {
		let from = PriceLevels::<T>::hashed_key_for(echelon, key);
		PriceLevels::<T>::iter_key_prefix_from(echelon, from).next()
	}

	/// The highest price level of `echelon` below `key`. Where `key` is not a level (it was just
	/// removed), that is the lower link of the next level up, or the highest level if there is
	/// none: removal relinks both.
	fn level_before(echelon: EchelonId, key: PriceKey, highest: PriceKey) -> Option<PriceKey> {
		if let Some(level) = PriceLevels::<T>::get(echelon, key) {
			return level.prev;
		}
		match Self::level_after(echelon, key) {
			Some(next) => PriceLevels::<T>::get(echelon, next).and_then(|level| level.prev),
			None => (highest < key).then_some(highest),
		}
	}

	/// Add one counted bid at `key` to `echelon`.
	pub(crate) fn count(echelon: EchelonId, key: PriceKey) {
		let cursor = MedianCursors::<T>::get(echelon);
		match PriceLevels::<T>::get(echelon, key) {
			Some(mut level) => {
				level.count = level.count.saturating_add(1);
				PriceLevels::<T>::insert(echelon, key, level);
			},
			None => {
				// A new level: it takes the lower link of the level above it (or links to the
				// highest level, if it is the new highest), and becomes that level's lower link.
				let prev = match Self::level_after(echelon, key) {
					Some(next) => {
						let Some(mut above) = PriceLevels::<T>::get(echelon, next) else {
							defensive!("a level found by iteration can be read");
							return;
						};
						let prev = above.prev;
						above.prev = Some(key);
						PriceLevels::<T>::insert(echelon, next, above);
						prev
					},
					None => cursor.map(|c| c.highest),
				};
				PriceLevels::<T>::insert(echelon, key, PriceLevel { count: 1, prev });
			},
		}
		let cursor = match cursor {
			None => MedianCursor { total: 1, below: 0, median: key, highest: key },
			Some(mut c) => {
				c.total = c.total.saturating_add(1);
				if key < c.median {
					c.below = c.below.saturating_add(1);
				}
				c.highest = c.highest.max(key);
				c
			},
		};
		Self::settle(echelon, cursor);
	}

	/// Remove one counted bid at `key` from `echelon`.
	pub(crate) fn uncount(echelon: EchelonId, key: PriceKey) {
		let (Some(mut cursor), Some(mut level)) =
			(MedianCursors::<T>::get(echelon), PriceLevels::<T>::get(echelon, key))
		else {
			defensive!("an uncounted bid was counted");
			return;
		};
		if level.count > 1 {
			level.count = level.count.saturating_sub(1);
			PriceLevels::<T>::insert(echelon, key, level);
		} else {
			// The level goes: the level above it (or the highest mark) takes its lower link.
			PriceLevels::<T>::remove(echelon, key);
			match Self::level_after(echelon, key) {
				Some(next) => PriceLevels::<T>::mutate(echelon, next, |above| {
					if let Some(above) = above {
						above.prev = level.prev;
					}
				}),
				None => {
					if let Some(prev) = level.prev {
						cursor.highest = prev;
					}
				},
			}
		}
		cursor.total = cursor.total.saturating_sub(1);
		if cursor.total.is_zero() {
			MedianCursors::<T>::remove(echelon);
			return;
		}
		if key < cursor.median {
			cursor.below = cursor.below.saturating_sub(1);
		}
		Self::settle(echelon, cursor);
	}

	/// Move `cursor` to the level holding the lower median, `(total - 1) / 2`, and store it.
	/// After one change that is the same level or a neighbour.
	fn settle(echelon: EchelonId, mut cursor: MedianCursor) {
		let target = cursor.total.saturating_sub(1) / 2;
		for _ in 0..MAX_CURSOR_STEPS {
			let count = PriceLevels::<T>::get(echelon, cursor.median).map_or(0, |l| l.count);
			let next_below = cursor.below.saturating_add(count);
			let step = if target < cursor.below {
				Self::level_before(echelon, cursor.median, cursor.highest).map(|prev| {
					let count = PriceLevels::<T>::get(echelon, prev).map_or(0, |l| l.count);
					(prev, cursor.below.saturating_sub(count))
				})
			} else if target >= next_below {
				Self::level_after(echelon, cursor.median).map(|next| (next, next_below))
			} else {
				MedianCursors::<T>::insert(echelon, cursor);
				return;
			};
			let Some((median, below)) = step else { break };
			cursor.median = median;
			cursor.below = below;
		}
		defensive!("the median cursor settles in one step");
		MedianCursors::<T>::insert(echelon, cursor);
	}

	/// The median of `echelon`'s counted bids (as [`atoma_support::fees::median`] computes it)
	/// and how many bids count; `None` while none does. At most two reads and one `next_key`.
	pub(crate) fn counted_median(echelon: EchelonId) -> Option<(BalanceOf<T>, u32)> {
		let cursor = MedianCursors::<T>::get(echelon)?;
		let lower = Self::key_price(cursor.median);
		if cursor.total % 2 == 1 {
			return Some((lower, cursor.total));
		}
		// An even count: the mean of the lower median and the next bid up, which is at the same
		// price unless the lower median is the last bid of its level.
		let count = PriceLevels::<T>::get(echelon, cursor.median).map_or(0, |l| l.count);
		let upper_index = cursor.total / 2;
		let upper = if upper_index < cursor.below.saturating_add(count) {
			lower
		} else {
			match Self::level_after(echelon, cursor.median) {
				Some(next) => Self::key_price(next),
				None => {
					defensive!("an even count has a bid above the lower median");
					lower
				},
			}
		};
		let price = median(&mut [lower, upper]).unwrap_or(lower);
		Some((price, cursor.total))
	}

	/// Check the counted bids against a recomputation from [`Bids`] and the node records.
	#[cfg(any(test, feature = "std", feature = "try-runtime"))]
	pub(crate) fn check_counted_bids() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::{collections::btree_map::BTreeMap, vec::Vec};
		use frame_support::ensure;
		let mut nodes = BTreeMap::<EchelonId, u32>::new();
		let mut expected = BTreeMap::<EchelonId, BTreeMap<PriceKey, u32>>::new();
		for (node, record) in Nodes::<T>::iter() {
			let bid = Bids::<T>::get(node);
			match record.status {
				NodeStatus::Active => {
					let bid = bid.ok_or("an active node has a bid")?;
					ensure!(bid.echelon == record.echelon, "a bid in the wrong echelon");
					ensure!(
						bid.counted == Self::bid_counts(node, &record),
						"a bid counted out of date"
					);
					let n = nodes.entry(record.echelon).or_default();
					*n = n.saturating_add(1);
					if bid.counted {
						let level = expected
							.entry(record.echelon)
							.or_default()
							.entry(Self::price_key(bid.price))
							.or_default();
						*level = level.saturating_add(1);
					}
				},
				NodeStatus::Leaving { .. } => ensure!(bid.is_none(), "a leaving node has no bid"),
			}
		}
		for node in Bids::<T>::iter_keys() {
			ensure!(Nodes::<T>::contains_key(node), "a bid of an unknown node");
		}
		for (echelon, count) in EchelonNodeCount::<T>::iter() {
			ensure!(Echelons::<T>::contains_key(echelon), "nodes counted in an unknown echelon");
			ensure!(count <= T::MaxNodesPerEchelon::get(), "an echelon holds too many nodes");
			ensure!(nodes.get(&echelon).copied().unwrap_or(0) == count, "node count out of date");
		}
		for (echelon, count) in &nodes {
			ensure!(EchelonNodeCount::<T>::get(echelon) == *count, "node count out of date");
		}
		let mut stored = BTreeMap::<EchelonId, Vec<(PriceKey, PriceLevel)>>::new();
		for (echelon, key, level) in PriceLevels::<T>::iter() {
			stored.entry(echelon).or_default().push((key, level));
		}
		ensure!(stored.keys().eq(expected.keys()), "counted prices in the wrong echelons");
		ensure!(
			MedianCursors::<T>::iter_keys().count() == expected.len(),
			"a cursor per echelon with counted bids"
		);
		for (echelon, levels) in &expected {
			let mut got = stored.remove(echelon).unwrap_or_default();
			got.sort_by_key(|(key, _)| *key);
			ensure!(got.len() == levels.len(), "counted price levels differ");
			let mut prev = None;
			let (mut total, mut below) = (0u32, None);
			let cursor =
				MedianCursors::<T>::get(echelon).ok_or("an echelon with bids has a cursor")?;
			for ((key, level), (want_key, want_count)) in got.iter().zip(levels.iter()) {
				ensure!(key == want_key && level.count == *want_count, "counted prices differ");
				ensure!(level.prev == prev, "a price level's lower link is wrong");
				if *key == cursor.median {
					below = Some(total);
				}
				prev = Some(*key);
				total = total.saturating_add(level.count);
			}
			ensure!(cursor.total == total, "the cursor's total is wrong");
			ensure!(Some(cursor.highest) == prev, "the cursor's highest level is wrong");
			ensure!(below == Some(cursor.below), "the cursor's count below is wrong");
			let target = total.saturating_sub(1) / 2;
			let count = levels.get(&cursor.median).copied().unwrap_or(0);
			ensure!(
				cursor.below <= target && target < cursor.below.saturating_add(count),
				"the cursor is not at the median"
			);
			let mut prices: Vec<BalanceOf<T>> = levels
				.iter()
				.flat_map(|(key, count)| {
					core::iter::repeat_n(Self::key_price(*key), *count as usize)
				})
				.collect();
			ensure!(
				Self::counted_median(*echelon).map(|(price, _)| price) == median(&mut prices),
				"the incremental median differs from the full one"
			);
		}
		Ok(())
	}
}

#[cfg(test)]
impl<T: Config> Pallet<T> {
	/// The counted price levels of `echelon` in storage order, which is price order.
	pub(crate) fn counted_levels(echelon: EchelonId) -> alloc::vec::Vec<(BalanceOf<T>, u32)> {
		PriceLevels::<T>::iter_prefix(echelon)
			.map(|(key, level)| (Self::key_price(key), level.count))
			.collect()
	}
}
