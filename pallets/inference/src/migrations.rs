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

/// Version 3: commitments carry the prompt tokens the node counted (`input_tokens`; fees are
/// charged on them). Commitments of requests in flight at the upgrade were made without: they
/// take the request's declared count, which is what their fee was to be charged on.
pub mod v3 {
	use codec::{Decode, Encode};
	use frame_support::{
		migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
	};

	use crate::{types::Commitment, Commitments, Config, Pallet, Requests};

	/// A commitment as version 2 stored it.
	#[derive(Encode, Decode)]
	pub enum OldCommitment {
		/// Single and Sampling.
		Quorum { root: [u8; 32], leaf: [u8; 32], output_tokens: u32, trace_root: [u8; 32] },
		/// Cross-Validation.
		Sealed {
			sealed: [u8; 32],
			output_tokens: u32,
			trace_root: [u8; 32],
			revealed: Option<[u8; 32]>,
		},
	}

	/// Rewrite every commitment with its request's declared input tokens. Commitments exist only
	/// for requests in flight: one block takes them.
	pub struct AddInputTokens<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for AddInputTokens<T> {
		fn on_runtime_upgrade() -> Weight {
			let mut count = 0u64;
			Commitments::<T>::translate::<OldCommitment, _>(|id, _node, old| {
				count = count.saturating_add(1);
				let input_tokens = Requests::<T>::get(id).map_or(0, |r| r.input_tokens);
				Some(match old {
					OldCommitment::Quorum { root, leaf, output_tokens, trace_root } => {
						Commitment::Quorum { root, leaf, input_tokens, output_tokens, trace_root }
					},
					OldCommitment::Sealed { sealed, output_tokens, trace_root, revealed } => {
						Commitment::Sealed {
							sealed,
							input_tokens,
							output_tokens,
							trace_root,
							revealed,
						}
					},
				})
			});
			T::DbWeight::get().reads_writes(count.saturating_mul(2), count)
		}
	}

	/// [`AddInputTokens`], run once, from storage version 2 to 3.
	pub type MigrateV2ToV3<T> = VersionedMigration<
		2,
		3,
		AddInputTokens<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}

/// Version 4: draws read the model registry's draw index instead of candidate lists frozen per
/// request (`SelectionCandidates`), which are dropped. They existed only for requests awaiting
/// a draw (at most `MaxPendingSelections`, and those redrawing): one block clears them.
pub mod v4 {
	use frame_support::{
		migrations::VersionedMigration, pallet_prelude::*, storage_alias,
		traits::UncheckedOnRuntimeUpgrade,
	};

	use crate::{Config, Pallet};

	/// The frozen candidate lists of version 3.
	#[storage_alias]
	pub type SelectionCandidates<T: Config> =
		StorageMap<Pallet<T>, Twox64Concat, atoma_support::RequestId, alloc::vec::Vec<u8>>;

	/// Removes every frozen candidate list.
	pub struct DropFrozenCandidates<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for DropFrozenCandidates<T> {
		fn on_runtime_upgrade() -> Weight {
			let removed = SelectionCandidates::<T>::clear(u32::MAX, None).backend;
			T::DbWeight::get().writes(u64::from(removed).saturating_add(1))
		}
	}

	/// [`DropFrozenCandidates`], run once, from storage version 3 to 4.
	pub type MigrateV3ToV4<T> = VersionedMigration<
		3,
		4,
		DropFrozenCandidates<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;

	#[cfg(test)]
	mod tests {
		use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};

		use super::*;
		use crate::mock::*;

		#[test]
		fn frozen_candidate_lists_are_dropped() {
			new_test_ext().execute_with(|| {
				StorageVersion::new(3).put::<Pallet<Test>>();
				for id in 0..5 {
					SelectionCandidates::<Test>::insert(atoma_support::RequestId(id), vec![1u8; 8]);
				}
				MigrateV3ToV4::<Test>::on_runtime_upgrade();
				assert_eq!(SelectionCandidates::<Test>::iter_keys().count(), 0);
				assert_eq!(Pallet::<Test>::on_chain_storage_version(), 4);
			});
		}
	}
}
