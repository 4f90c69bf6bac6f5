//! Benchmarks (FRAME v2), each in its worst case: the set full (or one short of full for an
//! addition), the validator concerned last in it, and, for an offence, active in the session.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::{vec, vec::Vec};

use codec::{Decode, Encode};
use frame_benchmarking::v2::*;
use frame_support::traits::{EnsureOrigin, Get};
use pallet_session::SessionInterface;
use sp_runtime::{traits::TrailingZeroInput, Perbill};
use sp_staking::offence::{OffenceDetails, OnOffenceHandler};

use crate::{pallet::*, Pallet as ValidatorSet};

/// `count` validators, each with session keys (made from its account's bytes, so distinct),
/// planned and active.
fn validators<T: Config>(count: u32) -> Vec<T::AccountId> {
	let set: Vec<T::AccountId> = (0..count).map(|i| account("validator", i, 0)).collect();
	for v in &set {
		with_keys::<T>(v);
	}
	Validators::<T>::put(frame_support::BoundedVec::truncate_from(set.clone()));
	pallet_session::Validators::<T>::put(set.clone());
	set
}

fn with_keys<T: Config>(who: &T::AccountId) {
	// Every key made of the account's bytes: distinct accounts, distinct keys of every type.
	let bytes: Vec<u8> = core::iter::repeat_n(who.encode(), 8).flatten().collect();
	let keys = <T as pallet_session::Config>::Keys::decode(&mut TrailingZeroInput::new(&bytes))
		.unwrap_or_else(|e| panic!("keys decode from zeroes: {e:?}"));
	<pallet_session::Pallet<T> as SessionInterface>::set_keys(who, keys)
		.unwrap_or_else(|e| panic!("set_keys: {e:?}"));
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// The set one short of full; the newcomer has its keys.
	#[benchmark]
	fn add_validator() -> Result<(), BenchmarkError> {
		validators::<T>(T::MaxValidators::get() - 1);
		let newcomer: T::AccountId = account("newcomer", 0, 0);
		with_keys::<T>(&newcomer);
		let origin =
			T::ManagerOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, newcomer.clone());

		assert!(Validators::<T>::get().contains(&newcomer));
		Ok(())
	}

	/// The set full; the last validator removed.
	#[benchmark]
	fn remove_validator() -> Result<(), BenchmarkError> {
		let set = validators::<T>(T::MaxValidators::get());
		let last = set.last().cloned().unwrap_or_else(|| panic!("a set"));
		let origin =
			T::ManagerOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, last.clone());

		assert!(!Validators::<T>::get().contains(&last));
		Ok(())
	}

	/// One offender, last in a full set, active: disabled and removed.
	#[benchmark]
	fn on_offence() {
		let set = validators::<T>(T::MaxValidators::get());
		let last = set.last().cloned().unwrap_or_else(|| panic!("a set"));
		let details = vec![OffenceDetails { offender: (last.clone(), ()), reporters: vec![] }];

		#[block]
		{
			<ValidatorSet<T> as OnOffenceHandler<_, _, _>>::on_offence(
				&details,
				&[Perbill::from_percent(100)],
				0,
			);
		}

		assert!(!Validators::<T>::get().contains(&last));
	}

	impl_benchmark_test_suite!(ValidatorSet, crate::mock::new_test_ext(), crate::mock::Test);
}
