#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
// No panics and no unchecked arithmetic in runtime code. `expect_used` is denied per module
// (`dispatch`, `registry_impl`, ...) rather than here: FRAME's storage and genesis macros expand
// to `expect` calls whose proofs live in frame-support.
#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects,
		clippy::panic
	)
)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
mod dispatch;
mod index;
pub mod migrations;
#[cfg(test)]
mod mock;
mod registry_impl;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use pallet::*;
pub use registry_impl::ServingNodes;
pub use types::{IndexChange, ModelRecord};
pub use weights::WeightInfo;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::model-registry";

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{EchelonId, ModelId, ModelReview, NodeId, NodeRegistry};
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, InspectHold, Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	use super::{dispatch::Admission, IndexChange, ModelRecord, WeightInfo};

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A model record as this runtime stores it.
	pub type ModelRecordOf<T> = ModelRecord<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		<T as Config>::MaxSourceLen,
		<T as Config>::MaxEchelonsPerModel,
	>;
	/// A genesis model: (id, owner, weights root, tokenizer hash, source, owner share).
	pub type GenesisModel<AccountId> = (Vec<u8>, AccountId, [u8; 32], [u8; 32], Vec<u8>, Perbill);
	/// A change of the draw index, as queued.
	pub type IndexChangeOf<T> = IndexChange<BlockNumberFor<T>>;
	/// Removed models whose draw index is being cleared: (model, echelons left to clear).
	pub type UnindexingOf<T> = BoundedVec<
		(ModelId, BoundedVec<EchelonId, <T as Config>::MaxEchelonsPerModel>),
		ConstU32<MAX_MODELS_UNINDEXING>,
	>;

	/// The scale component of the benchmarks at its largest: 10^4 subscribers. The weights
	/// are flat in it (docs/benchmarks.md); calls are charged at it.
	pub const MAX_SCALE: u32 = 4;

	/// How many removed models may wait for their index to be cleared at once.
	pub const MAX_MODELS_UNINDEXING: u32 = 16;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The chain's currency; model deposits are held with the fungible hold traits.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's [`HoldReason`].
		type RuntimeHoldReason: From<HoldReason>;

		/// The node registry: node operators, echelons and activity.
		type Nodes: NodeRegistry<Self::AccountId, BalanceOf<Self>>;

		/// Approves pending models that wait for no review, and re-approves suspended ones.
		type ApproveOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The review a newly registered model waits for: model validators attest it, and a
		/// quorum approves it (`pallet-model-validators`). `()`: no review, governance approves.
		type Review: ModelReview<Self::AccountId>;

		/// Removes models.
		type RemoveOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The deposit a model's owner posts at registration, returned on removal.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;

		/// The largest share of fees a model owner may ask for.
		#[pallet::constant]
		type MaxOwnerShare: Get<Perbill>;

		/// The longest weights source (URL or package reference), in bytes.
		#[pallet::constant]
		type MaxSourceLen: Get<u32>;

		/// How many nodes may subscribe to one model in one echelon. Draws cost the same at any
		/// number (`atoma_support::draw::draw_indexed`).
		#[pallet::constant]
		type MaxSubscribersPerModel: Get<u32>;

		/// How many blocks after a subscription begins or ends the draw index follows: at least
		/// 2 where draws use the parent block's randomness, so that the author who knows it
		/// cannot change the index the draw reads. 0 updates the index at once (tests).
		#[pallet::constant]
		type IndexDelay: Get<u32>;

		/// How many index changes (queued ones, and entries of removed models) one block applies
		/// at most; the rest wait for the next block.
		#[pallet::constant]
		type MaxIndexChangesPerBlock: Get<u32>;

		/// In how many echelons one model may have subscribers.
		#[pallet::constant]
		type MaxEchelonsPerModel: Get<u32>;

		/// How many models one node may subscribe to.
		#[pallet::constant]
		type MaxSubscriptionsPerNode: Get<u32>;

		/// Distinct weights-mismatch reports that suspend a model. At least 1.
		#[pallet::constant]
		type MismatchThreshold: Get<u32>;

		/// The bond a weights-mismatch report holds from the reporting operator. Returned when
		/// the model is removed (or the report retracted before a suspension); paid to the model's
		/// owner when governance re-approves the model (the report was false).
		#[pallet::constant]
		type MismatchBond: Get<BalanceOf<Self>>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit of a registered model.
		ModelDeposit,
		/// The bond of a weights-mismatch report.
		MismatchBond,
	}

	/// Registered models.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, ModelRecordOf<T>>;

	/// How many nodes are subscribed to each (model, echelon) now; bounded by
	/// `MaxSubscribersPerModel`.
	#[pallet::storage]
	pub type SubscriberCount<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, ModelId, Twox64Concat, EchelonId, u32, ValueQuery>;

	/// The length of the draw index of each (model, echelon): positions `0..len` are filled.
	/// It follows [`SubscriberCount`] `IndexDelay` blocks late.
	#[pallet::storage]
	pub type IndexLen<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, ModelId, Twox64Concat, EchelonId, u32, ValueQuery>;

	/// The draw index: (model, echelon, position) → node. A node that leaves is replaced by
	/// the last one (swap-remove), so positions stay dense and a draw reads only what it picks.
	#[pallet::storage]
	pub type IndexedNodes<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, ModelId>,
			NMapKey<Twox64Concat, EchelonId>,
			NMapKey<Twox64Concat, u32>,
		),
		NodeId,
	>;

	/// Where each indexed node sits: (node, model) → (echelon, position).
	#[pallet::storage]
	pub type IndexPositions<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NodeId, Blake2_128Concat, ModelId, (EchelonId, u32)>;

	/// Index changes waiting for their block, first in first out: sequence number → change.
	#[pallet::storage]
	pub type IndexQueue<T: Config> = StorageMap<_, Twox64Concat, u64, IndexChangeOf<T>>;

	/// The sequence numbers of the oldest queued index change and of the next one to queue.
	#[pallet::storage]
	pub type IndexQueueBounds<T: Config> = StorageValue<_, (u64, u64), ValueQuery>;

	/// Removed models whose draw index is still being cleared, oldest first. A model id cannot
	/// be registered again until its index is gone.
	#[pallet::storage]
	pub type Unindexing<T: Config> = StorageValue<_, UnindexingOf<T>, ValueQuery>;

	/// The models each node is subscribed to.
	#[pallet::storage]
	pub type NodeSubscriptions<T: Config> = StorageMap<
		_,
		Twox64Concat,
		NodeId,
		BoundedVec<ModelId, T::MaxSubscriptionsPerNode>,
		ValueQuery,
	>;

	/// Nodes that reported a weights mismatch for a model since it was last approved.
	#[pallet::storage]
	pub type MismatchReports<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		ModelId,
		BoundedVec<NodeId, T::MismatchThreshold>,
		ValueQuery,
	>;

	/// The context length of each model, in tokens (prompt and output together), as its
	/// workers serve it: the inference pallet refuses requests that cannot fit.
	#[pallet::storage]
	pub type ContextLengths<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, u32>;

	/// The bond behind each weights-mismatch report: (model, reporting node) → (operator, bond).
	#[pallet::storage]
	pub type ReportBonds<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		ModelId,
		Twox64Concat,
		NodeId,
		(T::AccountId, BalanceOf<T>),
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered and waits for approval.
		ModelRegistered {
			model: ModelId,
			owner: T::AccountId,
			weights_root: [u8; 32],
			tokenizer_hash: [u8; 32],
			owner_share: Perbill,
			deposit: BalanceOf<T>,
		},
		/// The model was approved (by its review's quorum, or by governance): nodes may
		/// subscribe and users request it.
		ModelApproved { model: ModelId },
		/// The model was removed (by governance, or as its review expired or condemned it); its
		/// `unsubscribed` subscriptions end as its index is cleared, over the next blocks (each
		/// with `NodeUnsubscribed`).
		ModelRemoved { model: ModelId, unsubscribed: u32 },
		/// The removed model was condemned as copied or malicious: its owner's deposit went to
		/// `to` instead of back to the owner.
		DepositForfeited {
			model: ModelId,
			owner: T::AccountId,
			to: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// The model was suspended after `reports` weights-mismatch reports.
		ModelSuspended { model: ModelId, reports: u32 },
		/// The node subscribed to the model in its echelon.
		NodeSubscribed { node: NodeId, model: ModelId, echelon: EchelonId },
		/// The node's subscription to the model ended.
		NodeUnsubscribed { node: NodeId, model: ModelId, echelon: EchelonId },
		/// The node entered the model's draw index in its echelon (`IndexDelay` blocks after
		/// it subscribed) at `position`.
		NodeIndexed { node: NodeId, model: ModelId, echelon: EchelonId, position: u32 },
		/// The node left the model's draw index in its echelon.
		NodeUnindexed { node: NodeId, model: ModelId, echelon: EchelonId },
		/// The node reported that the model's weights do not match the registered root; the
		/// model has `reports` reports since its last approval.
		WeightsMismatchReported { node: NodeId, model: ModelId, reports: u32 },
		/// Governance set the model's context length.
		ContextLengthSet { model: ModelId, tokens: u32 },
		/// The operator withdrew its node's report before the model was suspended; its bond
		/// was released.
		MismatchReportRetracted { node: NodeId, model: ModelId },
		/// Governance re-approved the model: the report was false and its bond went to the
		/// model's owner.
		ReportBondForfeited {
			node: NodeId,
			model: ModelId,
			owner: T::AccountId,
			bond: BalanceOf<T>,
		},
		/// The model was removed: the report's bond went back to its operator.
		ReportBondReturned {
			node: NodeId,
			model: ModelId,
			operator: T::AccountId,
			bond: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The model id is empty, longer than 64 bytes, or has characters other than lowercase
		/// ASCII letters, digits, `-`, `_` and `.`.
		InvalidModelId,
		/// A model with this id is registered already.
		ModelExists,
		/// No model has this id.
		UnknownModel,
		/// The weights source is longer than `MaxSourceLen`.
		SourceTooLong,
		/// The owner's share is above `MaxOwnerShare`.
		OwnerShareTooHigh,
		/// The owner's free balance cannot cover the deposit.
		InsufficientBalance,
		/// The model is approved already.
		AlreadyApproved,
		/// The model waits for its review by model validators: only their quorum approves it.
		UnderReview,
		/// The model is not approved (pending or suspended).
		ModelNotApproved,
		/// No node has this id.
		UnknownNode,
		/// The caller is not the node's operator.
		NotNodeOperator,
		/// The node has been deregistered.
		NodeNotActive,
		/// The node is subscribed to the model already.
		AlreadySubscribed,
		/// The node is not subscribed to the model.
		NotSubscribed,
		/// The model has `MaxSubscribersPerModel` subscribers in this echelon.
		TooManySubscribers,
		/// The node has `MaxSubscriptionsPerNode` subscriptions.
		TooManySubscriptions,
		/// The model has subscribers in `MaxEchelonsPerModel` echelons.
		TooManyEchelons,
		/// The node reported this model already.
		AlreadyReported,
		/// Another node of the same operator reported this model already: reports count per
		/// operator.
		OperatorAlreadyReported,
		/// The node is not active in the current epoch (new, leaving, or short of collateral):
		/// only nodes that serve may report.
		ReporterNotActive,
		/// The operator's free balance cannot cover `MismatchBond`.
		InsufficientBond,
		/// The node has no standing report on this model.
		NotReported,
		/// A context length must be at least 2 tokens (one of prompt, one of output).
		ContextTooShort,
		/// The node's worker declared an execution profile other than the one its echelon pins.
		ProfileMismatch,
		/// `MAX_MODELS_UNINDEXING` removed models are still having their index cleared; try
		/// again in a few blocks.
		TooManyModelsUnindexing,
	}

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Approved models: (id, owner, weights root, tokenizer hash, source, owner share).
		pub models: Vec<GenesisModel<T::AccountId>>,
		/// Subscriptions: (node id, model id). The nodes come from the node registry's genesis.
		pub subscriptions: Vec<(u64, Vec<u8>)>,
		/// Context lengths: (model id, tokens).
		pub context_lengths: Vec<(Vec<u8>, u32)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			Pallet::<T>::build_genesis(self)
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MismatchThreshold::get() > 0, "MismatchThreshold must be at least 1");
			assert!(T::MaxSubscribersPerModel::get() > 0, "MaxSubscribersPerModel must be >= 1");
			assert!(T::MaxIndexChangesPerBlock::get() > 0, "MaxIndexChangesPerBlock must be >= 1");
		}

		/// Apply the index changes that are due, then clear removed models' index entries,
		/// `MaxIndexChangesPerBlock` in all at most.
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::update_index(now)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Register a model; it waits for its review by model validators (`Review`), or for
		/// governance approval where there is no review.
		///
		/// - `origin`: signed by the owner, who posts `ModelDeposit` (and the review's fee).
		/// - `model`: the id, 1 to 64 bytes of `[a-z0-9._-]`, not yet registered.
		/// - `weights_root`: Merkle root of the weights file (`atoma-worker weights-root FILE`).
		/// - `tokenizer_hash`: hash of the tokenizer (printed by the same command).
		/// - `source`: where to get the weights, at most `MaxSourceLen` bytes.
		/// - `owner_share`: the owner's share of fees, at most `MaxOwnerShare`.
		///
		/// Emits `ModelRegistered` (and the review's own event).
		#[pallet::call_index(0)]
		#[pallet::weight(
			<T as Config>::WeightInfo::register_model().saturating_add(T::Review::open_weight())
		)]
		pub fn register_model(
			origin: OriginFor<T>,
			model: Vec<u8>,
			weights_root: [u8; 32],
			tokenizer_hash: [u8; 32],
			source: Vec<u8>,
			owner_share: Perbill,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_register_model(
				Admission::Reviewed,
				owner,
				model,
				weights_root,
				tokenizer_hash,
				source,
				owner_share,
			)
			.map(|_| ())
		}

		/// Approve a suspended model (its mismatch reports were false), or a pending one that
		/// waits for no review; clears its mismatch reports.
		///
		/// - `origin`: `ApproveOrigin`.
		/// - the model is not under review: a model validators review is approved by their
		///   quorum alone.
		///
		/// Emits `ModelApproved`.
		#[pallet::call_index(1)]
		pub fn approve_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::ApproveOrigin::ensure_origin(origin)?;
			ensure!(!T::Review::under_review(&model), Error::<T>::UnderReview);
			Self::do_approve_model(model)
		}

		/// Remove a model: it can no longer be requested, the deposit goes back to the owner
		/// (with the fee of a review still open), and its subscriptions end as the following blocks clear its draw index
		/// (`MaxIndexChangesPerBlock` entries a block), whatever their number.
		///
		/// - `origin`: `RemoveOrigin`.
		/// - fewer than `MAX_MODELS_UNINDEXING` removed models are still being cleared.
		///
		/// Emits `ModelRemoved`, then `NodeUnsubscribed` for each subscription as it is cleared.
		#[pallet::call_index(2)]
		#[pallet::weight(
			<T as Config>::WeightInfo::remove_model(MAX_SCALE)
				.saturating_add(T::Review::removed_weight())
		)]
		pub fn remove_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::RemoveOrigin::ensure_origin(origin)?;
			Self::do_remove_model(model, None)
		}

		/// Subscribe a node to an approved model, in the node's echelon.
		///
		/// - `origin`: signed by the operator of an active node.
		///
		/// Emits `NodeSubscribed`.
		#[pallet::call_index(3)]
		#[pallet::weight(<T as Config>::WeightInfo::subscribe(MAX_SCALE))]
		pub fn subscribe(origin: OriginFor<T>, node: NodeId, model: ModelId) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_subscribe(operator, node, model)
		}

		/// End a node's subscription to a model.
		///
		/// - `origin`: signed by the node's operator.
		///
		/// Emits `NodeUnsubscribed`.
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::unsubscribe(MAX_SCALE))]
		pub fn unsubscribe(origin: OriginFor<T>, node: NodeId, model: ModelId) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_unsubscribe(operator, node, model)
		}

		/// Report that the published weights of a model do not match its registered root. The
		/// node is unsubscribed; at `MismatchThreshold` reports of distinct operators the model
		/// is suspended. The report holds `MismatchBond` from the operator: returned when the
		/// model is removed, paid to the model's owner when governance re-approves it.
		///
		/// - `origin`: signed by the operator of a node active in the current epoch and
		///   subscribed to the approved model; no other node of the operator reported it.
		///
		/// Emits `WeightsMismatchReported`, `NodeUnsubscribed`, and `ModelSuspended` at the
		/// threshold.
		#[pallet::call_index(5)]
		pub fn report_weights_mismatch(
			origin: OriginFor<T>,
			node: NodeId,
			model: ModelId,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_report_weights_mismatch(operator, node, model)
		}

		/// Withdraw a node's weights-mismatch report while the model is still approved; the
		/// bond is released. (Once the model is suspended, the report stands until governance
		/// decides.) The node's subscription is not restored.
		///
		/// - `origin`: signed by the operator who made the report.
		///
		/// Emits `MismatchReportRetracted`.
		#[pallet::call_index(6)]
		pub fn retract_mismatch_report(
			origin: OriginFor<T>,
			node: NodeId,
			model: ModelId,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_retract_mismatch_report(operator, node, model)
		}

		/// Set a model's context length: the most tokens one job may hold, prompt and output
		/// together, on the workers that serve it. Requests that cannot fit are refused at
		/// submission instead of timing out every node drawn for them.
		///
		/// - `origin`: `ApproveOrigin`.
		/// - `tokens`: at least 2.
		///
		/// Emits `ContextLengthSet`.
		#[pallet::call_index(7)]
		pub fn set_context_length(
			origin: OriginFor<T>,
			model: ModelId,
			tokens: u32,
		) -> DispatchResult {
			T::ApproveOrigin::ensure_origin(origin)?;
			ensure!(Models::<T>::contains_key(&model), Error::<T>::UnknownModel);
			ensure!(tokens >= 2, Error::<T>::ContextTooShort);
			ContextLengths::<T>::insert(&model, tokens);
			Self::deposit_event(Event::ContextLengthSet { model, tokens });
			Ok(())
		}
	}
}
