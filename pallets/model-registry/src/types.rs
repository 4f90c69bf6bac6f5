//! Records kept by the model registry.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{EchelonId, ModelId, ModelStatus, ModelSummary, NodeId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// A registered model.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxSourceLen, MaxEchelons))]
#[allow(clippy::multiple_bound_locations)]
pub struct ModelRecord<
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxSourceLen: Get<u32>,
	MaxEchelons: Get<u32>,
> {
	/// The account that registered the model, posted its deposit and earns `owner_share`.
	pub owner: AccountId,
	/// Merkle root of the weights file (`atoma_primitives::weights::weights_root`, 1 MiB chunks).
	pub weights_root: [u8; 32],
	/// Hash of the tokenizer (`atoma_primitives::tokenizer::tokenizer_hash`).
	pub tokenizer_hash: [u8; 32],
	/// Where to get the weights (a URL or package reference), at most `MaxSourceLen` bytes.
	pub source: BoundedVec<u8, MaxSourceLen>,
	/// The owner's share of every fee paid for the model.
	pub owner_share: Perbill,
	/// The deposit held on `owner` under `HoldReason::ModelDeposit`.
	pub deposit: Balance,
	/// Pending, approved or suspended.
	pub status: ModelStatus,
	/// The echelons in which at least one node is subscribed: where removal clears the index.
	pub echelons: BoundedVec<EchelonId, MaxEchelons>,
}

impl<
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		MaxSourceLen: Get<u32>,
		MaxEchelons: Get<u32>,
	> ModelRecord<AccountId, Balance, MaxSourceLen, MaxEchelons>
{
	/// What other pallets may see of the model.
	pub fn summary(&self) -> ModelSummary<AccountId> {
		ModelSummary {
			owner: self.owner.clone(),
			owner_share: self.owner_share,
			status: self.status,
			weights_root: self.weights_root,
			// Kept beside the record (`ContextLengths`); the registry fills it in.
			context_length: None,
		}
	}
}

/// A change of the draw index, queued when a subscription begins or ends and applied at `due`
/// (or later, when earlier blocks were full), in the order queued: the index replays the
/// subscriptions' history `IndexDelay` blocks late.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct IndexChange<BlockNumber> {
	/// The node subscribed or unsubscribed.
	pub node: NodeId,
	/// The model.
	pub model: ModelId,
	/// The node's echelon.
	pub echelon: EchelonId,
	/// `true`: the node enters the index; `false`: it leaves.
	pub join: bool,
	/// The first block that may apply the change.
	pub due: BlockNumber,
}
