//! Storage migrations.

use frame_support::{pallet_prelude::*, traits::OnRuntimeUpgrade};

use crate::{Config, PlanChanged, Validators};

/// A chain that adds this pallet by a runtime upgrade has no planned set yet: take the session
/// pallet's active validators, so that the first change the origin makes adds to them instead of
/// replacing them, and hand them over at the next boundary, so that the historical session
/// pallet (new too) stores a root to carry forward. Idempotent (the set never empties:
/// `MinValidators` is at least 1), so it can stay in the runtime's migrations without a storage
/// version.
pub struct InitializeFromSession<T>(core::marker::PhantomData<T>);

impl<T: Config> OnRuntimeUpgrade for InitializeFromSession<T> {
	fn on_runtime_upgrade() -> Weight {
		if Validators::<T>::exists() {
			return T::DbWeight::get().reads(1);
		}
		let active = pallet_session::Validators::<T>::get();
		let planned = BoundedVec::<_, T::MaxValidators>::truncate_from(active);
		log::info!(target: "runtime::validator-set", "planned set initialized with {} validators", planned.len());
		Validators::<T>::put(planned);
		PlanChanged::<T>::put(true);
		T::DbWeight::get().reads_writes(2, 2)
	}
}
