//! # Atoma support: what the chain's pallets know of each other
//!
//! The node registry, the model registry and the inference pallet are separate pallets that never
//! depend on each other's crates. They meet here, through small traits that the runtime wires
//! together:
//!
//! * [`NodeRegistry`]: epochs, nodes, echelon prices, collateral reservations, slashing and fee
//!   accrual (implemented by `pallet-node-registry`);
//! * [`ModelRegistry`]: models, their owners' fee shares, and the index of nodes subscribed to a
//!   (model, echelon) pair (implemented by `pallet-model-registry`);
//! * [`OnNodeDeregistered`]: how the model registry learns that a node left, so its subscriptions
//!   end at once;
//! * [`WorkLedger`] and [`OnNodeSlashed`]: how the emission pallet learns of verified work (from
//!   the inference pallet's settlements) and of slashes (from the node registry), to share each
//!   epoch's emission by work;
//! * [`ModelReview`] and [`ReviewedModels`]: how a newly registered model waits for model
//!   validators to attest it, and how their review approves or removes it.
//!
//! The ids that cross pallet boundaries ([`NodeId`], [`EchelonId`], [`ModelId`], [`EpochIndex`])
//! and the worker key type ([`worker_key`]) live here too, so every pallet and the node use the
//! same definitions.

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects,
		clippy::panic
	)
)]
#![warn(missing_docs)]

extern crate alloc;

pub mod draw;
pub mod fees;
// Test code (a seeded generator for fuzz tests): the runtime's no-panic lints do not apply.
#[cfg(feature = "test-utils")]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
pub mod fuzz;
pub mod ids;
pub mod inference;
pub mod nash;
pub mod offchain_jobs;
pub mod offchain_keys;
pub mod slashing;
pub mod sortition;
// Test code (a node registry for other pallets' tests): the runtime's lints do not apply.
#[cfg(feature = "test-utils")]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
pub mod stand_in_nodes;
pub mod worker_key;

use alloc::vec::Vec;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::weights::Weight;
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, DispatchResult, Perbill};

pub use ids::{EchelonId, EpochIndex, ModelId, NodeId, RequestId, MAX_MODEL_ID_LEN};
pub use slashing::{SlashOutcome, SlashSplit};

/// The public half of a node's worker key, as stored on chain.
pub type WorkerPublic = sp_core::sr25519::Public;

/// What other pallets may read about an execution node.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct NodeSummary<AccountId, Balance> {
	/// The account that registered the node, posts its collateral and receives its fees.
	pub operator: AccountId,
	/// The hardware class the node serves in.
	pub echelon: EchelonId,
	/// The sr25519 key its off-chain worker signs commitments and VRF proofs with.
	pub worker_key: WorkerPublic,
	/// Collateral held for the node.
	pub collateral: Balance,
	/// The part of `collateral` reserved for work in progress.
	pub reserved: Balance,
	/// `false` once the operator has deregistered the node: it takes no new work.
	pub active: bool,
	/// The first epoch in which the node may be selected.
	pub active_from: EpochIndex,
}

/// The node registry as the other pallets see it.
pub trait NodeRegistry<AccountId, Balance> {
	/// The index of the current epoch.
	fn current_epoch() -> EpochIndex;

	/// A node's record, if it is registered.
	fn node(node: NodeId) -> Option<NodeSummary<AccountId, Balance>>;

	/// The node whose current worker key is `key`.
	fn node_by_worker_key(key: &WorkerPublic) -> Option<NodeId>;

	/// The public URL of `node`'s inference worker (where users upload inputs given by hash,
	/// and other nodes read them: `atoma_primitives::input_read`).
	fn worker_url(node: NodeId) -> Option<Vec<u8>>;

	/// The block from which `node`'s current worker key holds: its registration or its last key
	/// rotation (0 for nodes of the genesis). A VRF proof made with a key chosen after a seed was
	/// drawn could have been ground against it, so sortition accepts only keys older than the
	/// request.
	fn worker_key_since(node: NodeId) -> u64;

	/// Whether governance has registered `echelon`.
	fn echelon_exists(echelon: EchelonId) -> bool;

	/// The economics governance set for `echelon`'s Cross-Validation floor: the native cost of
	/// one token on its hardware, and the largest share of its nodes one party is assumed to
	/// control (`r`). `None` while unset: no floor.
	fn echelon_security(echelon: EchelonId) -> Option<(Balance, sp_runtime::Perbill)>;

	/// The price per token of `echelon` in the current epoch, fixed at the last epoch boundary;
	/// `None` while no node of the echelon has ever bid.
	fn price_per_token(echelon: EchelonId) -> Option<Balance>;

	/// Whether `node` may be selected for new work now: registered, not deregistered, active
	/// since an earlier epoch boundary, holding at least the minimum collateral, with at least
	/// `free_collateral` not yet reserved for other work, and running its echelon's execution
	/// profile where the echelon pins one.
	fn is_eligible(node: NodeId, free_collateral: Balance) -> bool;

	/// Whether `node`'s worker declared an execution profile other than the one its echelon
	/// pins: it is never drawn, and may not subscribe to models.
	fn runs_other_profile(node: NodeId) -> bool;

	/// Reserve `amount` of the node's collateral for one job in progress. The node cannot be
	/// withdrawn until every reservation is released.
	fn reserve_collateral(node: NodeId, amount: Balance) -> DispatchResult;

	/// Release a reservation made with [`Self::reserve_collateral`], when its job has ended.
	fn release_collateral(node: NodeId, amount: Balance);

	/// Slash `share` of the node's collateral and pay it out as `split` says; what no one
	/// receives is burned.
	fn slash(
		node: NodeId,
		share: Perbill,
		split: &SlashSplit<AccountId>,
	) -> Result<SlashOutcome<Balance>, DispatchError>;

	/// Move `amount` from `payer`'s free balance to the node's operator, held as fees of the
	/// current epoch. They can be claimed once the epoch has ended.
	fn accrue_fee(node: NodeId, payer: &AccountId, amount: Balance) -> DispatchResult;

	/// The model registry calls this when `node`'s first subscription begins or its last ends:
	/// only nodes that serve a model count toward their echelon's price, so the node's bid joins
	/// or leaves the price. Constant cost, whatever the echelon's size.
	fn serving_changed(node: NodeId);

	/// Register an eligible node for `operator` (funding it as needed), for other pallets'
	/// benchmarks.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_node(operator: &AccountId, echelon: Option<EchelonId>) -> NodeId;

	/// Give `node` the worker key `key`, for other pallets' benchmarks that sign with it.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_set_worker_key(node: NodeId, key: WorkerPublic);
}

/// Lifecycle of a model in the registry.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub enum ModelStatus {
	/// Registered, waiting for governance approval. Not servable.
	Pending,
	/// Approved: nodes may subscribe and users may request it.
	Approved,
	/// Suspended after enough weights-mismatch reports. Not servable until approved again.
	Suspended,
}

/// What other pallets may read about a model.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct ModelSummary<AccountId> {
	/// The account that registered the model and receives its share of fees.
	pub owner: AccountId,
	/// The owner's share of every fee paid for the model.
	pub owner_share: Perbill,
	/// Where the model is in its lifecycle.
	pub status: ModelStatus,
	/// The weights Merkle root (`atoma_primitives::weights::weights_root`).
	pub weights_root: [u8; 32],
	/// The most tokens one job may hold, prompt and output together, on the workers that
	/// serve the model; `None` while governance has not set it.
	pub context_length: Option<u32>,
}

/// The model registry as the other pallets see it.
pub trait ModelRegistry<AccountId> {
	/// A model's record, if it is registered.
	fn model(model: &ModelId) -> Option<ModelSummary<AccountId>>;

	/// How many positions the draw index of (`model`, `echelon`) holds. Draws pick positions
	/// below it ([`draw::draw_indexed`]) and read only those: constant cost at any size.
	///
	/// The index follows subscriptions `IndexDelay` blocks late: no one who knows a block's
	/// randomness (its parent's author) can still change the index that block draws from.
	fn indexed_count(model: &ModelId, echelon: EchelonId) -> u32;

	/// The node at `position` of the draw index of (`model`, `echelon`), if `position` is below
	/// [`Self::indexed_count`].
	fn indexed_node(model: &ModelId, echelon: EchelonId, position: u32) -> Option<NodeId>;

	/// Whether `node` is subscribed to `model` now (the index may still list it for
	/// `IndexDelay` blocks after it unsubscribed: draws check this too).
	fn is_subscribed(node: NodeId, model: &ModelId) -> bool;

	/// Register and approve a model and subscribe `nodes` to it, indexed at once, for other
	/// pallets' benchmarks.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_model(nodes: &[NodeId]) -> ModelId;

	/// How many nodes may subscribe to one model in one echelon, for other pallets' benchmarks
	/// at scale.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_max_subscribers() -> u32;
}

/// Called by the node registry when an operator deregisters a node.
pub trait OnNodeDeregistered {
	/// React to `node` leaving; returns the weight used.
	fn on_node_deregistered(node: NodeId) -> Weight;

	/// The most [`Self::on_node_deregistered`] can weigh; charged up front by the caller.
	fn max_weight() -> Weight;
}

impl OnNodeDeregistered for () {
	fn on_node_deregistered(_node: NodeId) -> Weight {
		Weight::zero()
	}

	fn max_weight() -> Weight {
		Weight::zero()
	}
}

/// Told of verified work: the emission schedule pays execution nodes by the tokens of the
/// requests they settled (never more than the fees they earned), and model owners by the tokens
/// of their models' settled requests.
pub trait WorkLedger<Balance> {
	/// The nodes of `paid` settled one request of `model` that held `tokens` tokens (prompt and
	/// output), each earning the fee beside it: each node did the whole job, so each is credited
	/// `tokens` and its fee, and the model `tokens` once. Called only when a request settles by
	/// agreement, never for failed or disputed ones.
	fn record_settled_work(model: &ModelId, paid: &[(NodeId, Balance)], tokens: u64);

	/// The most [`Self::record_settled_work`] can weigh for `nodes` nodes; charged by the caller.
	fn record_weight(nodes: u32) -> Weight;
}

impl<Balance> WorkLedger<Balance> for () {
	fn record_settled_work(_model: &ModelId, _paid: &[(NodeId, Balance)], _tokens: u64) {}

	fn record_weight(_nodes: u32) -> Weight {
		Weight::zero()
	}
}

/// Called by the node registry whenever it slashes a node's collateral.
pub trait OnNodeSlashed {
	/// React to `node` being slashed (its work of the current epoch is forfeited).
	fn on_node_slashed(node: NodeId);

	/// The most [`Self::on_node_slashed`] can weigh.
	fn weight() -> Weight;
}

impl OnNodeSlashed for () {
	fn on_node_slashed(_node: NodeId) {}

	fn weight() -> Weight {
		Weight::zero()
	}
}

/// The review a newly registered model waits for (implemented by `pallet-model-validators`):
/// model validators check its weights root, tokenizer hash, licence and originality off chain
/// and attest it; a quorum of attestations approves it.
pub trait ModelReview<AccountId> {
	/// `owner` registered `model`: open its review, taking the review fee from `owner`.
	/// `Ok(true)`: the model stays pending until its review approves it; `Ok(false)`: there is
	/// no review, and governance approves the model.
	fn open_review(model: &ModelId, owner: &AccountId) -> Result<bool, DispatchError>;

	/// Whether `model` waits for its review: governance cannot approve it meanwhile.
	fn under_review(model: &ModelId) -> bool;

	/// `model` was removed: close its review if one is open (the fee goes back to the owner)
	/// and forget who attested it.
	fn model_removed(model: &ModelId);

	/// The most [`Self::open_review`] can weigh; charged by the caller.
	fn open_weight() -> Weight;

	/// The most [`Self::model_removed`] can weigh; charged by the caller.
	fn removed_weight() -> Weight;
}

/// No review: governance approves every model.
impl<AccountId> ModelReview<AccountId> for () {
	fn open_review(_model: &ModelId, _owner: &AccountId) -> Result<bool, DispatchError> {
		Ok(false)
	}

	fn under_review(_model: &ModelId) -> bool {
		false
	}

	fn model_removed(_model: &ModelId) {}

	fn open_weight() -> Weight {
		Weight::zero()
	}

	fn removed_weight() -> Weight {
		Weight::zero()
	}
}

/// What model validators attest: the registered record's facts.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct ReviewedModel<AccountId> {
	/// The account that registered the model and paid for its review.
	pub owner: AccountId,
	/// The weights Merkle root.
	pub weights_root: [u8; 32],
	/// The tokenizer hash.
	pub tokenizer_hash: [u8; 32],
	/// Where the model is in its lifecycle.
	pub status: ModelStatus,
}

/// The model registry as the model review sees it (implemented by `pallet-model-registry`).
pub trait ReviewedModels<AccountId> {
	/// The facts validators attest of `model`, if it is registered.
	fn reviewed_model(model: &ModelId) -> Option<ReviewedModel<AccountId>>;

	/// The review of `model` reached its quorum: the pending model becomes approved.
	fn approve_reviewed(model: &ModelId) -> DispatchResult;

	/// Remove `model`: its review expired, or governance found it copied or malicious. With
	/// `forfeit_to`, the owner's registration deposit goes to that account instead of back to
	/// the owner.
	fn remove_reviewed(model: &ModelId, forfeit_to: Option<&AccountId>) -> DispatchResult;

	/// The most [`Self::approve_reviewed`] can weigh.
	fn approve_weight() -> Weight;

	/// The most [`Self::remove_reviewed`] can weigh.
	fn remove_weight() -> Weight;

	/// Register a model of `owner` (funded here) that waits for its review, for benchmarks.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_pending_model(owner: &AccountId, index: u32) -> ModelId;
}
