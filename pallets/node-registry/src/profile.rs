//! Execution profiles (protocol §3): nodes of an echelon are compared bit for bit, so where
//! governance pins the echelon's profile (`Echelon::execution_profile`), only nodes whose worker
//! runs it are drawn. The node's off-chain worker reads its worker's profile (`GET /v1/models`)
//! and declares it on chain, signed by the worker key, whenever it changes; a node whose worker
//! differs is refused (not drawn, and told why in its log), never slashed for it.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{
	offchain_jobs, offchain_keys::PROFILE_STATUS_KEY, worker_key::KEY_TYPE, NodeId, WorkerPublic,
};
use frame_support::{ensure, pallet_prelude::*};
use frame_system::{
	offchain::{CreateAuthorizedTransaction, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{
	offchain::storage::StorageValueRef,
	traits::{Verify, Zero},
	transaction_validity::{
		InvalidTransaction, TransactionPriority, TransactionValidityWithRefund, ValidTransaction,
	},
	SaturatedConversion,
};

use crate::{pallet::*, types::ProfileDeclaration};

/// The off-chain worker reads its worker's profile every this many blocks.
pub const PROFILE_CHECK_EVERY: u32 = 10;
/// A declaration is valid in the pool for this many blocks after the block it was read in.
pub const DECLARATION_LONGEVITY: u32 = 10;

impl<T: Config> Pallet<T> {
	/// The chain every worker-key signature of this pallet binds: its genesis hash.
	pub fn chain_id() -> atoma_support::worker_key::ChainId {
		atoma_support::worker_key::chain_id(frame_system::Pallet::<T>::block_hash(
			BlockNumberFor::<T>::zero(),
		))
	}

	/// Whether `node` may be drawn in `echelon` as far as profiles go: the echelon pins none,
	/// or the node declared the pinned one.
	pub fn runs_pinned_profile(node: NodeId, pinned: Option<[u8; 32]>) -> bool {
		match pinned {
			None => true,
			Some(profile) => NodeProfiles::<T>::get(node).is_some_and(|(p, _)| p == profile),
		}
	}

	/// Check a declaration against the chain state; the named error says what is wrong.
	pub(crate) fn check_declaration(
		declaration: &ProfileDeclarationOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> Result<(), Error<T>> {
		let record = Nodes::<T>::get(declaration.node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(
			signature.verify(
				declaration.signing_bytes(&Self::chain_id()).as_slice(),
				&record.worker_key
			),
			Error::<T>::BadSignature
		);
		let now = frame_system::Pallet::<T>::block_number();
		let newer =
			NodeProfiles::<T>::get(declaration.node).is_none_or(|(_, at)| declaration.at > at);
		ensure!(newer && declaration.at <= now, Error::<T>::StaleDeclaration);
		Ok(())
	}

	/// `#[pallet::authorize]` of `declare_profile`: valid once per (node, block read in) for
	/// `DECLARATION_LONGEVITY` blocks.
	pub(crate) fn authorize_profile(
		declaration: &ProfileDeclarationOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> TransactionValidityWithRefund {
		Self::check_declaration(declaration, signature).map_err(|e| match e {
			Error::<T>::BadSignature => InvalidTransaction::BadProof,
			Error::<T>::StaleDeclaration => InvalidTransaction::Stale,
			_ => InvalidTransaction::Call,
		})?;
		let validity = ValidTransaction::with_tag_prefix("atoma-profile")
			.priority(TransactionPriority::MAX / 4)
			.and_provides((declaration.node, declaration.at))
			.longevity(DECLARATION_LONGEVITY.into())
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	pub(crate) fn do_declare_profile(
		declaration: ProfileDeclarationOf<T>,
		signature: sp_core::sr25519::Signature,
	) -> DispatchResult {
		Self::check_declaration(&declaration, &signature)?;
		let ProfileDeclaration { node, profile, at } = declaration;
		NodeProfiles::<T>::insert(node, (profile, at));
		let pinned = Nodes::<T>::get(node)
			.and_then(|r| Echelons::<T>::get(r.echelon))
			.and_then(|e| e.pinned_profile());
		let matches = pinned.is_none_or(|p| p == profile);
		Self::deposit_event(Event::ProfileDeclared { node, profile, matches });
		Ok(())
	}

	/// The off-chain worker's part: every `PROFILE_CHECK_EVERY` blocks, read the local worker's
	/// profile; declare it for each of this node's nodes whose declaration differs, and say in
	/// the log when it is not the echelon's.
	pub(crate) fn check_worker_profile(now: BlockNumberFor<T>) {
		let now: u32 = now.saturated_into();
		if !now.is_multiple_of(PROFILE_CHECK_EVERY) {
			return;
		}
		let Some((url, local)) =
			offchain_jobs::paired_worker::<T::AccountId, BalanceOf<T>, Pallet<T>>()
		else {
			return;
		};
		let Some(profile) = offchain_jobs::fetch_profile(&url) else {
			log::warn!(target: crate::LOG_TARGET, "no execution profile from the worker at {url}");
			return;
		};
		let mut status = alloc::vec::Vec::new();
		for (node, key) in local {
			let Some(record) = Nodes::<T>::get(node) else { continue };
			let pinned = Echelons::<T>::get(record.echelon).and_then(|e| e.pinned_profile());
			status.push((node, profile, pinned));
			if let Some(pinned) = pinned.filter(|p| *p != profile) {
				log::error!(
					target: crate::LOG_TARGET,
					"node {}: the worker's execution profile {} is not echelon {}'s ({}): the \
					 node is not drawn until they match (precision, device, kernel tier, batch \
					 policy and build: see the worker's GET /v1/models)",
					node.0,
					offchain_jobs::encode_hash(&profile),
					record.echelon.0,
					offchain_jobs::encode_hash(&pinned),
				);
			}
			if NodeProfiles::<T>::get(node).is_some_and(|(p, _)| p == profile) {
				continue;
			}
			let declaration = ProfileDeclaration { node, profile, at: now.into() };
			Self::submit_declaration(declaration, &key);
		}
		StorageValueRef::persistent(PROFILE_STATUS_KEY).set(&status);
	}

	fn submit_declaration(declaration: ProfileDeclarationOf<T>, key: &WorkerPublic) {
		let Some(signature) = sp_io::crypto::sr25519_sign(
			KEY_TYPE,
			key,
			&declaration.signing_bytes(&Self::chain_id()),
		) else {
			return;
		};
		let call = Call::<T>::declare_profile { declaration, signature };
		let xt =
			<T as CreateAuthorizedTransaction<Call<T>>>::create_authorized_transaction(call.into());
		let _ = SubmitTransaction::<T, Call<T>>::submit_transaction(xt);
	}
}
