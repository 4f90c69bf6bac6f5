//! Storage migrations of the model registry.

#![cfg_attr(not(test), deny(clippy::expect_used))]

/// Version 2: the subscriber lists (`Subscribers`, one bounded vector per model and echelon,
/// read whole by every draw) become the draw index (`IndexLen`, `IndexedNodes`,
/// `IndexPositions`) and the counts `SubscriberCount`. The old lists held at most 128 nodes each
/// and a chain has few models, so the migration runs in one block.
pub mod v2 {
	use alloc::vec::Vec;

	use atoma_support::{EchelonId, ModelId, NodeId};
	use frame_support::{
		pallet_prelude::*, storage_alias, traits::UncheckedOnRuntimeUpgrade, weights::Weight,
	};

	use crate::pallet::{Config, IndexLen, IndexPositions, IndexedNodes, Pallet, SubscriberCount};

	/// The subscriber lists of version 1.
	#[storage_alias]
	pub type Subscribers<T: Config> = StorageDoubleMap<
		Pallet<T>,
		Blake2_128Concat,
		ModelId,
		Twox64Concat,
		EchelonId,
		Vec<NodeId>,
		ValueQuery,
	>;

	/// Moves every subscriber list into the index, in list order.
	pub struct UncheckedMigrateToV2<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for UncheckedMigrateToV2<T> {
		fn on_runtime_upgrade() -> Weight {
			let mut moved = 0u64;
			let lists: Vec<_> = Subscribers::<T>::drain().collect();
			for (model, echelon, nodes) in lists {
				let mut len = 0u32;
				for node in nodes {
					IndexedNodes::<T>::insert((&model, echelon, len), node);
					IndexPositions::<T>::insert(node, &model, (echelon, len));
					len = len.saturating_add(1);
				}
				if len > 0 {
					IndexLen::<T>::insert(&model, echelon, len);
					SubscriberCount::<T>::insert(&model, echelon, len);
				}
				moved = moved.saturating_add(u64::from(len));
			}
			T::DbWeight::get().reads_writes(moved.saturating_add(1), moved.saturating_mul(2))
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// [`UncheckedMigrateToV2`], run only on a chain at storage version 1.
	pub type MigrateToV2<T> = frame_support::migrations::VersionedMigration<
		1,
		2,
		UncheckedMigrateToV2<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}

#[cfg(test)]
mod tests {
	use atoma_support::{EchelonId, NodeId};
	use frame_support::{
		traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion},
		BoundedVec,
	};

	use super::v2;
	use crate::{mock::*, pallet::*, tests::approved};

	#[test]
	fn version_1_subscriber_lists_become_the_draw_index() {
		crate::tests::setup().build_and_execute(|| {
			let model = approved("m");
			let bounded_models = |models: &[&atoma_support::ModelId]| {
				BoundedVec::truncate_from(models.iter().map(|m| (*m).clone()).collect())
			};
			// The state a version-1 chain left: lists only, no index.
			v2::Subscribers::<Test>::insert(&model, EchelonId(0), vec![NodeId(0), NodeId(1)]);
			NodeSubscriptions::<Test>::insert(NodeId(1), bounded_models(&[&model]));
			NodeSubscriptions::<Test>::insert(NodeId(0), bounded_models(&[&model]));
			Models::<Test>::mutate(&model, |r| {
				r.as_mut().map(|r| r.echelons.try_push(EchelonId(0)).ok());
			});
			StorageVersion::new(1).put::<Pallet<Test>>();

			v2::MigrateToV2::<Test>::on_runtime_upgrade();

			assert_eq!(Pallet::<Test>::on_chain_storage_version(), 2);
			assert_eq!(Pallet::<Test>::indexed_nodes(&model, EchelonId(0)), [NodeId(0), NodeId(1)]);
			assert_eq!(SubscriberCount::<Test>::get(&model, EchelonId(0)), 2);
			assert!(!v2::Subscribers::<Test>::contains_key(&model, EchelonId(0)));
			Pallet::<Test>::do_try_state().expect("consistent after the migration");
			// Run again: a no-op.
			v2::MigrateToV2::<Test>::on_runtime_upgrade();
			assert_eq!(SubscriberCount::<Test>::get(&model, EchelonId(0)), 2);
		});
	}
}
