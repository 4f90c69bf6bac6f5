//! Benchmarks (FRAME v2) at the worst case of each path: every payment minted into an existing
//! account, every validator paid, every recorded node new to the epoch.

use alloc::vec::Vec;

use atoma_support::{OnNodeSlashed, WorkLedger};
use frame_benchmarking::v2::*;
use frame_support::traits::{EnsureOrigin, Get, Hooks};
use sp_runtime::{
	traits::{One, Saturating},
	Perbill,
};

use crate::{pallet::*, BenchmarkHelper};

/// A schedule whose parts pay every recipient well above any existential deposit.
fn generous<T: Config>() -> ScheduleOf<T> {
	Schedule {
		per_epoch: BalanceOf::<T>::from(u32::MAX).saturating_mul(1_000_000u32.into()),
		decay: Perbill::from_percent(1),
		validators_share: Perbill::from_percent(10),
		model_owners_share: Perbill::from_percent(10),
	}
}

/// `count` nodes, each with a fee above any share it could earn (the cap never binds).
fn paid_nodes<T: Config>(count: u32) -> Vec<(atoma_support::NodeId, BalanceOf<T>)> {
	(0..count).map(|i| (T::BenchmarkHelper::node(i), generous::<T>().per_epoch)).collect()
}

/// `count` nodes with work in the open epoch on one model.
fn nodes_with_work<T: Config>(count: u32) -> Vec<atoma_support::NodeId> {
	let paid = paid_nodes::<T>(count);
	let model = T::BenchmarkHelper::model();
	Pallet::<T>::record_settled_work(&model, &paid, 1_000);
	paid.into_iter().map(|(node, _)| node).collect()
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn set_schedule() -> Result<(), BenchmarkError> {
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, generous::<T>());
		assert_eq!(NextEmission::<T>::get(), generous::<T>().per_epoch);
		Ok(())
	}

	/// A block that closes nothing and has nothing to pay.
	#[benchmark]
	fn on_initialize_idle() {
		T::BenchmarkHelper::set_registry_epoch(OpenEpoch::<T>::get());
		#[block]
		{
			Pallet::<T>::on_initialize(One::one());
		}
	}

	/// Closing an epoch with `v` validators to pay.
	#[benchmark]
	fn close_epoch(v: Linear<0, { T::MaxValidators::get() }>) {
		CurrentSchedule::<T>::put(generous::<T>());
		NextEmission::<T>::put(generous::<T>().per_epoch);
		T::BenchmarkHelper::set_validators(v);
		nodes_with_work::<T>(1);
		let open = OpenEpoch::<T>::get();
		T::BenchmarkHelper::set_registry_epoch(open.saturating_add(1));
		#[block]
		{
			Pallet::<T>::close_epoch_if_ended();
		}
		assert!(Payouts::<T>::contains_key(open));
	}

	/// Paying `n` nodes of a closed epoch, then its model owner and the treasury's rest.
	#[benchmark]
	fn pay_nodes(n: Linear<1, { T::MaxPayoutsPerBlock::get() }>) {
		CurrentSchedule::<T>::put(generous::<T>());
		NextEmission::<T>::put(generous::<T>().per_epoch);
		T::BenchmarkHelper::set_validators(0);
		nodes_with_work::<T>(n);
		let open = OpenEpoch::<T>::get();
		T::BenchmarkHelper::set_registry_epoch(open.saturating_add(1));
		Pallet::<T>::close_epoch_if_ended();
		#[block]
		{
			Pallet::<T>::pay_some(n.saturating_add(2));
		}
		assert!(!Payouts::<T>::contains_key(open));
	}

	/// Paying the owners of `n` models of a closed epoch (one node's work), then the treasury.
	#[benchmark]
	fn pay_owners(n: Linear<1, { T::MaxPayoutsPerBlock::get() }>) {
		CurrentSchedule::<T>::put(generous::<T>());
		NextEmission::<T>::put(generous::<T>().per_epoch);
		T::BenchmarkHelper::set_validators(0);
		let paid = paid_nodes::<T>(1);
		for _ in 0..n {
			Pallet::<T>::record_settled_work(&T::BenchmarkHelper::model(), &paid, 1_000);
		}
		let open = OpenEpoch::<T>::get();
		T::BenchmarkHelper::set_registry_epoch(open.saturating_add(1));
		Pallet::<T>::close_epoch_if_ended();
		#[block]
		{
			Pallet::<T>::pay_some(n.saturating_add(2));
		}
		assert!(!Payouts::<T>::contains_key(open));
	}

	/// Recording one settlement of `n` nodes, each new to the epoch.
	#[benchmark]
	fn record_work(n: Linear<1, 64>) {
		let paid = paid_nodes::<T>(n);
		let model = T::BenchmarkHelper::model();
		#[block]
		{
			Pallet::<T>::record_settled_work(&model, &paid, 1_000);
		}
		assert_eq!(Totals::<T>::get(OpenEpoch::<T>::get()).node_tokens, u64::from(n) * 1_000);
	}

	/// Forfeiting a slashed node's work of the epoch.
	#[benchmark]
	fn forfeit() {
		let nodes = nodes_with_work::<T>(1);
		let node = nodes.first().copied().unwrap_or_default();
		#[block]
		{
			Pallet::<T>::on_node_slashed(node);
		}
		assert_eq!(Totals::<T>::get(OpenEpoch::<T>::get()).node_tokens, 0);
	}

	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build(),
		crate::mock::Test
	);
}
