//! Storage migrations, newest last.

/// Version 1 indexes each node's part in open disputes in [`crate::Duties`]. The off-chain
/// worker finds its disputes only there, so a chain upgraded with disputes open must index them,
/// or their parties would not answer and their arbiters would not vote.
pub mod v1 {
	use frame_support::{
		migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
	};

	use crate::{Config, Disputes, Duties, Pallet};

	/// Index the parties and drawn arbiters of every open dispute (at most `MaxParties +
	/// MaxArbiters` each; open disputes are few, each bounded by its final deadline).
	pub struct IndexDuties<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for IndexDuties<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut reads, mut writes) = (0u64, 0u64);
			for (id, dispute) in Disputes::<T>::iter() {
				reads = reads.saturating_add(1);
				for node in dispute.claims.iter().map(|c| &c.node).chain(dispute.arbiters.iter()) {
					Duties::<T>::insert(node, id, ());
					writes = writes.saturating_add(1);
				}
			}
			T::DbWeight::get().reads_writes(reads, writes)
		}
	}

	/// [`IndexDuties`], run once, from storage version 0 to 1.
	pub type MigrateV0ToV1<T> =
		VersionedMigration<0, 1, IndexDuties<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}
