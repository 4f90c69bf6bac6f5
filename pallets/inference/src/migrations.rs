//! Storage migrations, newest last.

/// Version 2 indexes each node's jobs in [`crate::Assignments`] and lets results and outputs
/// expire. The off-chain worker finds its jobs only in the index, so a chain upgraded with
/// requests in flight must index them, or their nodes would miss them and be slashed as late.
pub mod v2 {
	use frame_support::{
		migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
	};

	use crate::{types::Expiring, Assignments, Config, Outputs, Pallet, Requests, Results};

	/// Index the nodes and verifiers of every request in flight, and schedule the expiry of the
	/// results and outputs already on chain (version 2 keeps them for a retention period, from
	/// the upgrade for these). Reads each request, result and output once: a young chain holds
	/// few, so one block takes them.
	pub struct IndexAssignments<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for IndexAssignments<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut reads, mut writes) = (0u64, 0u64);
			for (id, request) in Requests::<T>::iter() {
				reads = reads.saturating_add(1);
				for node in request.nodes.iter().chain(request.verifiers.iter()) {
					Assignments::<T>::insert(node, id, ());
					writes = writes.saturating_add(1);
				}
			}
			for id in Results::<T>::iter_keys() {
				Pallet::<T>::expire_later(Expiring::Result, id);
				reads = reads.saturating_add(2);
				writes = writes.saturating_add(2);
			}
			for id in Outputs::<T>::iter_keys() {
				Pallet::<T>::expire_later(Expiring::Output, id);
				reads = reads.saturating_add(2);
				writes = writes.saturating_add(2);
			}
			T::DbWeight::get().reads_writes(reads, writes)
		}
	}

	/// [`IndexAssignments`], run once, from storage version 1 to 2.
	pub type MigrateV1ToV2<T> = VersionedMigration<
		1,
		2,
		IndexAssignments<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
