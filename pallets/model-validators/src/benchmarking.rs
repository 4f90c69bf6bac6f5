//! Benchmarks (FRAME v2), one per call and per hook the model registry calls, each in its worst
//! case. Models come from the registry through `ReviewedModels::benchmark_pending_model`, so in
//! the runtime the approval and removal the calls cause are measured with the real registry.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use atoma_support::{ModelId, ModelReview, ReviewedModels};
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, EnsureOrigin, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::{Bounded, Saturating};

use crate::{pallet::*, Pallet as ModelValidators};

fn fund<T: Config>(who: &T::AccountId) {
	let plenty =
		T::ValidatorBond::get().saturating_add(T::ReviewFee::get()).saturating_mul(100u32.into());
	T::Currency::set_balance(who, plenty);
}

/// The `i`th reviewing validator, bonded.
fn validator<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("validator", i, 0);
	fund::<T>(&who);
	ModelValidators::<T>::do_register(who.clone()).unwrap_or_else(|e| panic!("register: {e:?}"));
	who
}

/// A pending model under review, with a fresh owner.
fn model_under_review<T: Config>(i: u32) -> ModelId {
	let owner: T::AccountId = account("owner", i, 0);
	fund::<T>(&owner);
	let model = T::Models::benchmark_pending_model(&owner, i);
	assert!(Reviews::<T>::contains_key(&model), "the registry opened no review");
	model
}

/// `count` validators attest `model` (none reaching the quorum unless `count` does).
fn attest_by<T: Config>(model: &ModelId, count: u32) {
	for i in 0..count {
		let who = validator::<T>(i);
		ModelValidators::<T>::do_attest(who, model.clone(), [1; 32], [2; 32])
			.unwrap_or_else(|e| panic!("attest: {e:?}"));
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_validator() {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Validators::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn unbond() {
		let caller = validator::<T>(0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Validators::<T>::get(&caller).is_some_and(|v| v.unbonded_at.is_some()));
	}

	#[benchmark]
	fn withdraw_bond() {
		let caller = validator::<T>(0);
		ModelValidators::<T>::do_unbond(caller.clone()).unwrap_or_else(|e| panic!("{e:?}"));
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		frame_system::Pallet::<T>::set_block_number(later);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(!Validators::<T>::contains_key(&caller));
	}

	/// The attestation that reaches the highest quorum: the model is approved and the fee paid
	/// to `MaxQuorum` attesters.
	#[benchmark]
	fn attest() {
		let quorum = T::MaxQuorum::get();
		Quorum::<T>::put(quorum);
		let model = model_under_review::<T>(0);
		attest_by::<T>(&model, quorum - 1);
		let last = validator::<T>(quorum);

		#[extrinsic_call]
		_(RawOrigin::Signed(last), model.clone(), [1; 32], [2; 32]);

		assert!(!Reviews::<T>::contains_key(&model));
		assert_eq!(Attesters::<T>::get(&model).map(|a| a.len() as u32), Some(quorum));
	}

	/// Expiring a review with the most attesters short of the highest quorum.
	#[benchmark]
	fn expire_review() {
		let quorum = T::MaxQuorum::get();
		Quorum::<T>::put(quorum);
		let model = model_under_review::<T>(0);
		attest_by::<T>(&model, quorum - 1);
		let deadline =
			Reviews::<T>::get(&model).map(|r| r.deadline).unwrap_or_else(Bounded::max_value);
		frame_system::Pallet::<T>::set_block_number(deadline.saturating_add(1u32.into()));
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), model.clone());

		assert!(T::Models::reviewed_model(&model).is_none());
	}

	/// Condemning a model approved by `a` attesters.
	#[benchmark]
	fn slash_attesters(a: Linear<1, { T::MaxQuorum::get() }>) -> Result<(), BenchmarkError> {
		Quorum::<T>::put(a);
		let model = model_under_review::<T>(0);
		attest_by::<T>(&model, a);
		assert!(Attesters::<T>::contains_key(&model));
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model.clone());

		assert!(T::Models::reviewed_model(&model).is_none());
		assert!(
			Validators::<T>::iter_values().filter(|v| v.unbonded_at.is_some()).count() as u32 >= a
		);
		Ok(())
	}

	#[benchmark]
	fn set_quorum() -> Result<(), BenchmarkError> {
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let quorum = T::MaxQuorum::get();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, quorum);

		assert_eq!(Quorum::<T>::get(), quorum);
		Ok(())
	}

	/// The registry opening a review as a model is registered.
	#[benchmark]
	fn open_review() {
		let owner: T::AccountId = account("owner", 0, 0);
		fund::<T>(&owner);
		let model = ModelId::from_name(b"bench-open-review").unwrap_or_else(|| panic!("model id"));

		#[block]
		{
			let _ = ModelValidators::<T>::open_review(&model, &owner);
		}

		assert!(Reviews::<T>::contains_key(&model));
	}

	/// The registry telling the review that a model under review was removed: the fee is
	/// refunded.
	#[benchmark]
	fn close_review() {
		let owner: T::AccountId = account("owner", 0, 0);
		fund::<T>(&owner);
		let model = ModelId::from_name(b"bench-close-review").unwrap_or_else(|| panic!("model id"));
		ModelValidators::<T>::open_review(&model, &owner).unwrap_or_else(|e| panic!("{e:?}"));
		Attesters::<T>::insert(&model, AttestersOf::<T>::default());

		#[block]
		{
			ModelValidators::<T>::model_removed(&model);
		}

		assert!(!Reviews::<T>::contains_key(&model));
	}

	impl_benchmark_test_suite!(
		ModelValidators,
		crate::mock::ExtBuilder::default().without_validators().build(),
		crate::mock::Test
	);
}
