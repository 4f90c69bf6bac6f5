//! Storage migrations, newest last.

/// Version 2 replaces each echelon's bid list (`EchelonBids`, scanned whole by every bid and at
/// every boundary) with a bid per node ([`crate::Bids`]), a node count per echelon
/// ([`crate::EchelonNodeCount`]) and the counted bids kept as an incremental median
/// ([`crate::PriceLevels`], [`crate::MedianCursors`]).
pub mod v2 {
	use alloc::vec::Vec;

	use atoma_support::{EchelonId, NodeId};
	use frame_support::{
		migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
	};

	use crate::{pallet::BalanceOf, types::NodeStatus, Config, EchelonNodeCount, Nodes, Pallet};

	/// The version 1 bid lists: (node, price per token) per echelon, one per active node. Their
	/// bound was `MaxNodesPerEchelon` = 256 in this chain's runtime; decoded without one.
	#[frame_support::storage_alias]
	pub type EchelonBids<T: Config> =
		StorageMap<Pallet<T>, Twox64Concat, EchelonId, Vec<(NodeId, BalanceOf<T>)>, ValueQuery>;

	/// Move every version 1 bid of an active node to its node, count the node in its echelon,
	/// and count the bid toward the echelon's median where it counts now. At most `MaxEchelons`
	/// (32) lists of 256 bids each: one block takes them.
	pub struct SplitEchelonBids<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for SplitEchelonBids<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut reads, mut writes) = (0u64, 0u64);
			for (echelon, bids) in EchelonBids::<T>::drain() {
				reads = reads.saturating_add(1);
				writes = writes.saturating_add(1);
				let mut nodes = EchelonNodeCount::<T>::get(echelon);
				for (node, price) in bids {
					// Version 1 kept bids of active nodes of their echelon only; anything else is
					// dropped rather than counted.
					reads = reads.saturating_add(1);
					let Some(record) = Nodes::<T>::get(node) else { continue };
					if record.status != NodeStatus::Active || record.echelon != echelon {
						continue;
					}
					// The bid, the subscription, and the median: a level, its neighbour, the
					// cursor (reads and writes of `count` with its settling step).
					Pallet::<T>::place_bid(node, &record, price);
					nodes = nodes.saturating_add(1);
					reads = reads.saturating_add(8);
					writes = writes.saturating_add(4);
				}
				EchelonNodeCount::<T>::insert(echelon, nodes);
				writes = writes.saturating_add(1);
			}
			T::DbWeight::get().reads_writes(reads, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// [`SplitEchelonBids`], run once, from storage version 1 to 2.
	pub type MigrateV1ToV2<T> = VersionedMigration<
		1,
		2,
		SplitEchelonBids<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
