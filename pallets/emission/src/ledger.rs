//! Recording verified work and forfeits in the open epoch (told by the inference pallet and the
//! node registry through `atoma_support`), and what it would earn if the epoch closed now.

use atoma_support::{ModelId, NodeId, OnNodeSlashed, WorkLedger};
use frame_support::pallet_prelude::*;
use sp_runtime::{
	helpers_128bit::multiply_by_rational_with_rounding,
	traits::{Saturating, UniqueSaturatedFrom, UniqueSaturatedInto},
	Rounding,
};

use crate::{pallet::*, WeightInfo};

impl<T: Config> WorkLedger<BalanceOf<T>> for Pallet<T> {
	fn record_settled_work(model: &ModelId, paid: &[(NodeId, BalanceOf<T>)], tokens: u64) {
		let epoch = OpenEpoch::<T>::get();
		let mut counted = 0u64;
		let mut fees = BalanceOf::<T>::default();
		for (node, fee) in paid {
			fees = fees.saturating_add(*fee);
			WorkOf::<T>::mutate(epoch, node, |work| {
				let work = work.get_or_insert_with(Default::default);
				// A node slashed in the epoch earns nothing more in it.
				if !work.forfeited {
					work.tokens = work.tokens.saturating_add(tokens);
					work.fees = work.fees.saturating_add(*fee);
					counted = counted.saturating_add(tokens);
				}
			});
		}
		ModelUse::<T>::mutate(epoch, model, |used| {
			used.tokens = used.tokens.saturating_add(tokens);
			used.fees = used.fees.saturating_add(fees);
		});
		Totals::<T>::mutate(epoch, |totals| {
			totals.node_tokens = totals.node_tokens.saturating_add(counted);
			totals.model_tokens = totals.model_tokens.saturating_add(tokens);
		});
	}

	fn record_weight(nodes: u32) -> Weight {
		T::WeightInfo::record_work(nodes)
	}
}

impl<T: Config> OnNodeSlashed for Pallet<T> {
	fn on_node_slashed(node: NodeId) {
		let epoch = OpenEpoch::<T>::get();
		let mut lost = 0u64;
		WorkOf::<T>::mutate(epoch, node, |work| {
			let work = work.get_or_insert_with(Default::default);
			lost = core::mem::take(&mut work.tokens);
			work.fees = Default::default();
			work.forfeited = true;
		});
		if lost > 0 {
			Totals::<T>::mutate(epoch, |totals| {
				totals.node_tokens = totals.node_tokens.saturating_sub(lost)
			});
		}
		Self::deposit_event(Event::WorkForfeited { epoch, node, tokens: lost });
	}

	fn weight() -> Weight {
		T::WeightInfo::forfeit()
	}
}

impl<T: Config> Pallet<T> {
	/// `part` shared by `tokens` out of `total`, rounded down (the remainder goes to the
	/// treasury when the epoch is paid).
	pub(crate) fn share_of(part: BalanceOf<T>, tokens: u64, total: u64) -> BalanceOf<T> {
		let part: u128 = part.unique_saturated_into();
		multiply_by_rational_with_rounding(
			part,
			u128::from(tokens.min(total)),
			u128::from(total),
			Rounding::Down,
		)
		.map(BalanceOf::<T>::unique_saturated_from)
		.unwrap_or_default()
	}

	/// The parts of `emission` under `schedule`: (validators, model owners, nodes).
	pub(crate) fn parts(
		emission: BalanceOf<T>,
		schedule: &ScheduleOf<T>,
	) -> (BalanceOf<T>, BalanceOf<T>, BalanceOf<T>) {
		let validators = schedule.validators_share.mul_floor(emission);
		let owners = schedule.model_owners_share.mul_floor(emission);
		let nodes = emission.saturating_sub(validators).saturating_sub(owners);
		(validators, owners, nodes)
	}

	/// What `work` earns of `nodes_part` shared by `total` tokens: its share, at most its fees.
	pub(crate) fn node_reward(
		nodes_part: BalanceOf<T>,
		work: &NodeWorkOf<T>,
		total: u64,
	) -> BalanceOf<T> {
		if work.forfeited {
			return Default::default();
		}
		Self::share_of(nodes_part, work.tokens, total).min(work.fees)
	}

	/// What a model's `used` earns its owner of `owners_part` shared by `total` tokens: its
	/// share, at most the fees its requests paid.
	pub(crate) fn owner_reward(
		owners_part: BalanceOf<T>,
		used: &ModelUsageOf<T>,
		total: u64,
	) -> BalanceOf<T> {
		Self::share_of(owners_part, used.tokens, total).min(used.fees)
	}

	/// `node`'s share of the open epoch's nodes' part, if the epoch closed now.
	pub(crate) fn expected_reward_of(node: NodeId) -> BalanceOf<T> {
		let epoch = OpenEpoch::<T>::get();
		let work = WorkOf::<T>::get(epoch, node).unwrap_or_default();
		let (_, _, nodes) = Self::parts(NextEmission::<T>::get(), &CurrentSchedule::<T>::get());
		Self::node_reward(nodes, &work, Totals::<T>::get(epoch).node_tokens)
	}

	/// `model`'s settled tokens in the open epoch and its owner's share if it closed now.
	pub(crate) fn usage_of(model: &ModelId) -> (u64, BalanceOf<T>) {
		let epoch = OpenEpoch::<T>::get();
		let used = ModelUse::<T>::get(epoch, model);
		let (_, owners, _) = Self::parts(NextEmission::<T>::get(), &CurrentSchedule::<T>::get());
		(used.tokens, Self::owner_reward(owners, &used, Totals::<T>::get(epoch).model_tokens))
	}
}
