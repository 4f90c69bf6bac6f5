//! Adding the pallet to a running chain: its first open epoch is the node registry's current
//! one (genesis does the same on a new chain). Without this, the first block would close epoch 0
//! and walk every epoch since.

use frame_support::{
	migrations::VersionedMigration,
	traits::{Get, UncheckedOnRuntimeUpgrade},
	weights::Weight,
};

use crate::{Config, OpenEpoch, Pallet, PayoutHead};

/// Opens the registry's current epoch; nothing is minted until governance sets a schedule.
pub struct OpenCurrentEpoch<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for OpenCurrentEpoch<T> {
	fn on_runtime_upgrade() -> Weight {
		let epoch = T::CurrentEpoch::get();
		OpenEpoch::<T>::put(epoch);
		PayoutHead::<T>::put(epoch);
		T::DbWeight::get().reads_writes(1, 2)
	}
}

/// The pallet's first migration: from no storage (version 0) to version 1.
pub type InitializeEmission<T> =
	VersionedMigration<0, 1, OpenCurrentEpoch<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
