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
mod epochs;
mod median;
pub mod migrations;
#[cfg(test)]
mod mock;
mod profile;
mod registry_impl;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use pallet::*;
pub use types::{Echelon, FeeLedger, NodeRecord, NodeStatus};
pub use weights::WeightInfo;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::node-registry";

/// The benchmarks measure echelons of `10^s` nodes for `s` in `1..=MAX_ECHELON_SCALE`, i.e. 10
/// to 10,000 nodes (`--steps 4`). No call's cost depends on an echelon's size, which the flat
/// weights show; calls and the epoch boundary are charged at the largest size measured.
pub const MAX_ECHELON_SCALE: u32 = 4;

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{EchelonId, EpochIndex, NodeId, OnNodeDeregistered, WorkerPublic};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			Contains,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	use super::{
		types::{MedianCursor, PriceKey, PriceLevel, StandingBid},
		Echelon, FeeLedger, NodeRecord, WeightInfo,
	};

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A node record as this runtime stores it.
	pub type NodeRecordOf<T> =
		NodeRecord<<T as frame_system::Config>::AccountId, BalanceOf<T>, <T as Config>::MaxUrlLen>;
	/// An echelon as this runtime stores it.
	pub type EchelonOf<T> = Echelon<<T as Config>::MaxDeviceNameLen>;
	/// A genesis node: (operator, echelon, worker key, URL, collateral, price per token).
	pub type GenesisNode<AccountId, Balance> =
		(AccountId, u32, WorkerPublic, Vec<u8>, Balance, Balance);
	/// A standing bid as this runtime stores it.
	pub type StandingBidOf<T> = StandingBid<BalanceOf<T>>;
	/// A profile declaration of this runtime.
	pub type ProfileDeclarationOf<T> = crate::types::ProfileDeclaration<BlockNumberFor<T>>;

	/// Version 2 keeps each node's bid in [`Bids`] and each echelon's counted bids in
	/// [`PriceLevels`] and [`MedianCursors`] instead of one bid list per echelon
	/// ([`crate::migrations::v2`]).
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config:
		frame_system::Config + frame_system::offchain::CreateAuthorizedTransaction<Call<Self>>
	{
		/// The chain's currency. Collateral and fees are held with the fungible hold traits.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's [`HoldReason`].
		type RuntimeHoldReason: From<HoldReason>;

		/// Governance: registers and updates echelons and sets the epoch length.
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The least collateral a node must hold to register and to be selected, in the
		/// currency's smallest unit.
		#[pallet::constant]
		type MinCollateral: Get<BalanceOf<Self>>;

		/// The shortest epoch governance may set, in blocks. At least 1.
		#[pallet::constant]
		type MinEpochLength: Get<BlockNumberFor<Self>>;

		/// The longest worker URL, in bytes.
		#[pallet::constant]
		type MaxUrlLen: Get<u32>;

		/// The longest echelon device name, in bytes.
		#[pallet::constant]
		type MaxDeviceNameLen: Get<u32>;

		/// How many echelons governance may register. Bounds the work of an epoch boundary.
		#[pallet::constant]
		type MaxEchelons: Get<u32>;

		/// How many active nodes (each with a standing bid) one echelon may hold. No operation
		/// visits an echelon's nodes one by one (the median is kept incrementally), so this bounds
		/// only storage, not the work of a call or of an epoch boundary.
		#[pallet::constant]
		type MaxNodesPerEchelon: Get<u32>;

		/// Blocks before collateral added to a node, or released from a job, counts toward
		/// taking new work: at least 2 where draws use the parent block's randomness, so that an
		/// operator who learns it (the parent's author) cannot free collateral (top up, end a
		/// job) to make its node drawable. Taking work away is immediate. 0 frees at once.
		#[pallet::constant]
		type FreeCollateralDelay: Get<u32>;

		/// The account that receives the treasury's share of slashes.
		type TreasuryAccount: Get<Self::AccountId>;

		/// Told when a node is deregistered (the model registry ends its subscriptions).
		type OnNodeDeregistered: OnNodeDeregistered;

		/// Told when a node is slashed (the emission pallet forfeits its work of the epoch).
		type OnNodeSlashed: atoma_support::OnNodeSlashed;

		/// Nodes that serve at least one model (the model registry's subscriptions). Only the
		/// bids of active nodes among them count toward an echelon's price, so nodes that serve
		/// nothing cannot move it.
		type ServingNodes: Contains<NodeId>;

		/// Weights of this pallet's calls and hooks, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Collateral of an execution node; slashable.
		NodeCollateral,
		/// Fees a node has earned and not yet claimed.
		NodeFees,
	}

	/// The length of an epoch, in blocks. A change takes effect at the next boundary.
	#[pallet::storage]
	pub type EpochLength<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	/// The index of the current epoch; epoch 0 starts at genesis.
	#[pallet::storage]
	pub type CurrentEpoch<T: Config> = StorageValue<_, EpochIndex, ValueQuery>;

	/// The block that starts the next epoch.
	#[pallet::storage]
	pub type NextEpochStart<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	/// Registered echelons; at most `MaxEchelons`.
	#[pallet::storage]
	pub type Echelons<T: Config> = CountedStorageMap<_, Twox64Concat, EchelonId, EchelonOf<T>>;

	/// The id the next echelon gets.
	#[pallet::storage]
	pub type NextEchelonId<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Each echelon's Cross-Validation economics, set by governance: the native cost of one
	/// token on its hardware and the largest share `r` of its nodes one party is assumed to
	/// control. Requests whose `p` is below the Nash bound they give are refused.
	#[pallet::storage]
	pub type EchelonSecurity<T: Config> =
		StorageMap<_, Twox64Concat, EchelonId, (BalanceOf<T>, Perbill)>;

	/// The block from which each node's current worker key holds (its registration or its last
	/// rotation; absent for genesis nodes). Verifier sortition accepts only keys older than the
	/// request, so a key cannot be ground against a seed already drawn.
	#[pallet::storage]
	pub type WorkerKeySince<T: Config> = StorageMap<_, Twox64Concat, NodeId, BlockNumberFor<T>>;

	/// Collateral added to a node or released from its jobs lately, which does not count toward
	/// new work before `until` (`FreeCollateralDelay`).
	#[pallet::storage]
	pub type FreshCollateral<T: Config> = StorageMap<
		_,
		Twox64Concat,
		NodeId,
		crate::types::FreshCollateral<BlockNumberFor<T>, BalanceOf<T>>,
	>;

	/// Each echelon's price per token in the current epoch, fixed at the last boundary as the
	/// median of the standing bids. Absent while the echelon has never had a bid.
	#[pallet::storage]
	pub type EchelonPrices<T: Config> = StorageMap<_, Twox64Concat, EchelonId, BalanceOf<T>>;

	/// Each active node's standing bid: the last price it bid. Leaving nodes have none.
	#[pallet::storage]
	pub type Bids<T: Config> = StorageMap<_, Twox64Concat, NodeId, StandingBidOf<T>>;

	/// How many active nodes each echelon holds (at most `MaxNodesPerEchelon`). A node takes its
	/// slot at registration and frees it at deregistration: a leaving node has no bid, serves
	/// nothing and costs nothing at a boundary, and its collateral stays held until it withdraws.
	#[pallet::storage]
	pub type EchelonNodeCount<T: Config> = StorageMap<_, Twox64Concat, EchelonId, u32, ValueQuery>;

	/// Each echelon's counted bids (those of active nodes with at least `MinCollateral` that
	/// serve a model), as distinct prices with their multiplicity. The `Identity` hasher on the
	/// big-endian price makes storage iterate an echelon's levels in price order, so the next
	/// higher price is one `next_key` away; [`PriceLevel::prev`] links the next lower one. Keys
	/// are 16 bytes, so the trie below an echelon is at most 32 nibbles deep whatever the prices.
	#[pallet::storage]
	pub type PriceLevels<T: Config> =
		StorageDoubleMap<_, Twox64Concat, EchelonId, Identity, PriceKey, PriceLevel>;

	/// Where each echelon's median stands among its counted bids; moved a step at most by each
	/// counted bid that joins or leaves, so the boundary reads the median in O(1) per echelon.
	#[pallet::storage]
	pub type MedianCursors<T: Config> = StorageMap<_, Twox64Concat, EchelonId, MedianCursor>;

	/// Registered nodes, until they withdraw.
	#[pallet::storage]
	pub type Nodes<T: Config> = StorageMap<_, Twox64Concat, NodeId, NodeRecordOf<T>>;

	/// The id the next node gets.
	#[pallet::storage]
	pub type NextNodeId<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// The node each worker key belongs to. A key serves one node at a time.
	#[pallet::storage]
	pub type NodeByWorkerKey<T: Config> = StorageMap<_, Blake2_128Concat, WorkerPublic, NodeId>;

	/// Each node's fee ledger.
	#[pallet::storage]
	pub type Fees<T: Config> =
		StorageMap<_, Twox64Concat, NodeId, FeeLedger<BalanceOf<T>>, ValueQuery>;

	/// The execution profile each node's worker last reported (`declare_profile`), and the block
	/// it was read in. Where its echelon pins a profile, only nodes that declared it are drawn.
	#[pallet::storage]
	pub type NodeProfiles<T: Config> =
		StorageMap<_, Twox64Concat, NodeId, ([u8; 32], BlockNumberFor<T>)>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A node was registered; it may be selected from epoch `active_from`.
		NodeRegistered {
			node: NodeId,
			operator: T::AccountId,
			echelon: EchelonId,
			worker_key: WorkerPublic,
			collateral: BalanceOf<T>,
			price_per_token: BalanceOf<T>,
			active_from: EpochIndex,
		},
		/// The operator added `amount` to the node's collateral, which is now `collateral`.
		CollateralAdded { node: NodeId, amount: BalanceOf<T>, collateral: BalanceOf<T> },
		/// The node's worker key changed.
		WorkerKeyRotated { node: NodeId, old: WorkerPublic, new: WorkerPublic },
		/// The node's worker URL changed.
		UrlChanged { node: NodeId, url: Vec<u8> },
		/// The node bid `price_per_token` for the next epoch of its echelon.
		BidPlaced { node: NodeId, echelon: EchelonId, price_per_token: BalanceOf<T> },
		/// The node was deregistered in epoch `epoch`: it gets no new work.
		NodeDeregistered { node: NodeId, epoch: EpochIndex },
		/// The node left for good: `collateral` and `fees` went back to `operator`.
		NodeWithdrawn {
			node: NodeId,
			operator: T::AccountId,
			collateral: BalanceOf<T>,
			fees: BalanceOf<T>,
		},
		/// The operator claimed `amount` of fees earned in ended epochs.
		FeesClaimed { node: NodeId, operator: T::AccountId, amount: BalanceOf<T> },
		/// A fee was credited to the node for `epoch`.
		FeeAccrued { node: NodeId, epoch: EpochIndex, amount: BalanceOf<T> },
		/// `amount` of the node's collateral was reserved for a job.
		CollateralReserved { node: NodeId, amount: BalanceOf<T> },
		/// `amount` of the node's collateral was released from a job.
		CollateralReleased { node: NodeId, amount: BalanceOf<T> },
		/// The node was slashed `slashed`, of which `burned` was burned and the rest paid out.
		CollateralSlashed {
			node: NodeId,
			slashed: BalanceOf<T>,
			burned: BalanceOf<T>,
			collateral: BalanceOf<T>,
		},
		/// Governance registered an echelon.
		EchelonRegistered { echelon: EchelonId, spec: EchelonOf<T> },
		/// Governance updated an echelon.
		EchelonUpdated { echelon: EchelonId, spec: EchelonOf<T> },
		/// A node declared the execution profile its worker runs; `matches` says whether it is
		/// its echelon's (or the echelon pins none): a node that does not match is not drawn.
		ProfileDeclared { node: NodeId, profile: [u8; 32], matches: bool },
		/// Governance set the echelon's Cross-Validation economics.
		EchelonSecuritySet { echelon: EchelonId, cost_per_token: BalanceOf<T>, control: Perbill },
		/// Governance set the epoch length; it applies from the next boundary.
		EpochLengthSet { blocks: BlockNumberFor<T> },
		/// Epoch `epoch` began at block `first_block`.
		EpochStarted { epoch: EpochIndex, first_block: BlockNumberFor<T> },
		/// The echelon's price for `epoch` was fixed as the median of `bids` standing bids (those
		/// of nodes active in `epoch`, with at least `MinCollateral`, serving a model).
		PriceFixed {
			echelon: EchelonId,
			epoch: EpochIndex,
			price_per_token: BalanceOf<T>,
			bids: u32,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No node has this id.
		UnknownNode,
		/// The caller is not the node's operator.
		NotNodeOperator,
		/// No echelon has this id.
		UnknownEchelon,
		/// `MaxEchelons` echelons are registered already.
		TooManyEchelons,
		/// The echelon holds `MaxNodesPerEchelon` nodes already.
		EchelonFull,
		/// The collateral offered is below `MinCollateral`.
		CollateralBelowMinimum,
		/// The operator's free balance cannot cover the collateral.
		InsufficientBalance,
		/// The worker key already belongs to a node.
		WorkerKeyInUse,
		/// The URL is longer than `MaxUrlLen`.
		UrlTooLong,
		/// The URL does not start with `http://` or `https://`.
		InvalidUrl,
		/// The device name is empty or longer than `MaxDeviceNameLen`.
		InvalidDeviceName,
		/// An echelon needs at least one device.
		ZeroDeviceCount,
		/// The node has been deregistered; only withdrawal and fee claims remain.
		NodeNotActive,
		/// The node must be deregistered before it can withdraw.
		NodeStillActive,
		/// The node still has work in progress.
		WorkPending,
		/// The node may withdraw from the epoch after its deregistration and its last work.
		ExitEpochNotReached,
		/// The node has no fees from ended epochs.
		NoFeesToClaim,
		/// The epoch length is below `MinEpochLength`.
		EpochLengthTooShort,
		/// An adversary controlling the whole echelon leaves no `p` that works: `control` must
		/// be below 100%.
		ControlTooHigh,
		/// The node's free collateral cannot cover the reservation.
		InsufficientFreeCollateral,
		/// The shares of a slash add up to more than 100%.
		InvalidSlashSplit,
		/// The payer's free balance cannot cover the fee.
		InsufficientFeeBalance,
		/// The signature is not the node's current worker key's.
		BadSignature,
		/// The declaration is not newer than the node's last one, or is from a future block.
		StaleDeclaration,
	}

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Epoch length in blocks (defaults to `MinEpochLength` when 0).
		pub epoch_length: BlockNumberFor<T>,
		/// Echelons to register: (device, device count, memory per device in MiB, profile hash).
		pub echelons: Vec<(Vec<u8>, u32, u64, [u8; 32])>,
		/// Nodes to register, active from epoch 0: (operator, echelon, worker key, URL,
		/// collateral, price per token).
		pub nodes: Vec<GenesisNode<T::AccountId, BalanceOf<T>>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			Pallet::<T>::build_genesis(self)
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			if now < NextEpochStart::<T>::get() {
				return T::DbWeight::get().reads(1);
			}
			Self::start_next_epoch(now)
		}

		/// Keep the chain told of the execution profile of this node's worker (`crate::profile`).
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::check_worker_profile(now)
		}

		fn integrity_test() {
			assert!(!T::MinEpochLength::get().is_zero(), "MinEpochLength must be at least 1");
			assert!(T::MaxEchelons::get() > 0, "MaxEchelons must be at least 1");
			assert!(T::MaxNodesPerEchelon::get() > 0, "MaxNodesPerEchelon must be at least 1");
			assert!(!T::MinCollateral::get().is_zero(), "MinCollateral must be above zero");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Register an execution node.
		///
		/// - `origin`: signed by the operator, who posts the collateral and receives the fees.
		/// - `echelon`: a registered echelon that holds fewer than `MaxNodesPerEchelon` active
		///   nodes (a deregistered node frees its slot).
		/// - `worker_key`: the sr25519 public key in the node's keystore (key type `atom`); not in
		///   use by another node.
		/// - `url`: the public `http://` or `https://` URL of the node's inference worker, at most
		///   `MaxUrlLen` bytes.
		/// - `collateral`: at least `MinCollateral`, held from the operator's free balance.
		/// - `price_per_token`: the node's first bid, counted from the next boundary once the node
		///   serves a model.
		///
		/// The node may be selected from the next epoch. Emits `NodeRegistered`.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::register_node(crate::MAX_ECHELON_SCALE))]
		pub fn register_node(
			origin: OriginFor<T>,
			echelon: EchelonId,
			worker_key: WorkerPublic,
			url: Vec<u8>,
			collateral: BalanceOf<T>,
			price_per_token: BalanceOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_register_node(operator, echelon, worker_key, url, collateral, price_per_token)
				.map(|_| ())
		}

		/// Add collateral to a node.
		///
		/// - `origin`: signed by the node's operator.
		/// - `amount`: held from the operator's free balance.
		///
		/// Emits `CollateralAdded`.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::add_collateral(crate::MAX_ECHELON_SCALE))]
		pub fn add_collateral(
			origin: OriginFor<T>,
			node: NodeId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_add_collateral(operator, node, amount)
		}

		/// Replace the node's worker key, e.g. after moving the node to a new machine.
		///
		/// - `origin`: signed by the node's operator.
		/// - `new_key`: not in use by any node.
		///
		/// Emits `WorkerKeyRotated`.
		#[pallet::call_index(2)]
		pub fn rotate_worker_key(
			origin: OriginFor<T>,
			node: NodeId,
			new_key: WorkerPublic,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_rotate_worker_key(operator, node, new_key)
		}

		/// Change the public URL of the node's inference worker.
		///
		/// - `origin`: signed by the node's operator.
		/// - `url`: `http://` or `https://`, at most `MaxUrlLen` bytes.
		///
		/// Emits `UrlChanged`.
		#[pallet::call_index(3)]
		pub fn set_url(origin: OriginFor<T>, node: NodeId, url: Vec<u8>) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_set_url(operator, node, url)
		}

		/// Bid a price per token for the next epoch. It stands until the node bids again; at each
		/// boundary the echelon's price becomes the median of the standing bids.
		///
		/// - `origin`: signed by the operator of an active node.
		/// - `price_per_token`: in the currency's smallest unit.
		///
		/// Emits `BidPlaced`.
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::bid_price(crate::MAX_ECHELON_SCALE))]
		pub fn bid_price(
			origin: OriginFor<T>,
			node: NodeId,
			price_per_token: BalanceOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_bid_price(operator, node, price_per_token)
		}

		/// Deregister a node: it gets no new work from now on, its bid is withdrawn and its model
		/// subscriptions end. Collateral and fees can be withdrawn with `withdraw_node` from the
		/// epoch after both this one and the node's last work.
		///
		/// - `origin`: signed by the node's operator.
		///
		/// Emits `NodeDeregistered`.
		#[pallet::call_index(5)]
		#[pallet::weight(
			<T as Config>::WeightInfo::deregister_node(crate::MAX_ECHELON_SCALE)
				.saturating_add(T::OnNodeDeregistered::max_weight())
		)]
		pub fn deregister_node(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_deregister_node(operator, node)
		}

		/// Release a deregistered node's collateral and all its fees to the operator, and remove
		/// the node.
		///
		/// - `origin`: signed by the node's operator.
		///
		/// Fails while work is pending or before the exit epoch. Emits `NodeWithdrawn`.
		#[pallet::call_index(6)]
		#[pallet::weight(<T as Config>::WeightInfo::withdraw_node(crate::MAX_ECHELON_SCALE))]
		pub fn withdraw_node(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_withdraw_node(operator, node)
		}

		/// Release the fees the node earned in ended epochs to the operator's free balance.
		///
		/// - `origin`: signed by the node's operator.
		///
		/// Emits `FeesClaimed`.
		#[pallet::call_index(7)]
		pub fn claim_fees(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Self::do_claim_fees(operator, node)
		}

		/// Register a hardware echelon.
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - `device`: accelerator model name, 1 to `MaxDeviceNameLen` bytes.
		/// - `device_count`: devices per node, at least 1.
		/// - `memory_mib`: memory per device, in MiB.
		/// - `execution_profile`: hash of worker build, numeric format and batch policy.
		///
		/// Emits `EchelonRegistered`.
		#[pallet::call_index(8)]
		pub fn register_echelon(
			origin: OriginFor<T>,
			device: Vec<u8>,
			device_count: u32,
			memory_mib: u64,
			execution_profile: [u8; 32],
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			let spec = Self::echelon_spec(device, device_count, memory_mib, execution_profile)?;
			Self::do_register_echelon(spec).map(|_| ())
		}

		/// Update a registered echelon's description. Nodes stay in it.
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - the other parameters as in `register_echelon`.
		///
		/// Emits `EchelonUpdated`.
		#[pallet::call_index(9)]
		pub fn update_echelon(
			origin: OriginFor<T>,
			echelon: EchelonId,
			device: Vec<u8>,
			device_count: u32,
			memory_mib: u64,
			execution_profile: [u8; 32],
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			let spec = Self::echelon_spec(device, device_count, memory_mib, execution_profile)?;
			Self::do_update_echelon(echelon, spec)
		}

		/// Set the epoch length; the current epoch keeps its end, the next ones use `blocks`.
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - `blocks`: at least `MinEpochLength`.
		///
		/// Emits `EpochLengthSet`.
		#[pallet::call_index(10)]
		pub fn set_epoch_length(origin: OriginFor<T>, blocks: BlockNumberFor<T>) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(blocks >= T::MinEpochLength::get(), Error::<T>::EpochLengthTooShort);
			EpochLength::<T>::put(blocks);
			Self::deposit_event(Event::EpochLengthSet { blocks });
			Ok(())
		}

		/// Set an echelon's Cross-Validation economics: the native cost of one token on its
		/// hardware (`C` per token) and the largest share of its nodes one party is assumed to
		/// control (`r`). Cross-Validation requests in the echelon must then ask for a `p` above
		/// the Nash bound `C / ((1 - r)(R + S))` (`atoma_support::nash`).
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - `control`: below 100%.
		///
		/// Emits `EchelonSecuritySet`.
		#[pallet::call_index(11)]
		pub fn set_echelon_security(
			origin: OriginFor<T>,
			echelon: EchelonId,
			cost_per_token: BalanceOf<T>,
			control: Perbill,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(Echelons::<T>::contains_key(echelon), Error::<T>::UnknownEchelon);
			ensure!(control < Perbill::one(), Error::<T>::ControlTooHigh);
			EchelonSecurity::<T>::insert(echelon, (cost_per_token, control));
			Self::deposit_event(Event::EchelonSecuritySet { echelon, cost_per_token, control });
			Ok(())
		}

		/// Declare the execution profile a node's worker runs, signed by the node's worker key.
		/// An unsigned, authorized transaction: the off-chain worker sends it when the worker's
		/// profile (`GET /v1/models`) differs from the one on chain, and pays no fee.
		///
		/// - `declaration.at`: the block the profile was read in; newer than the node's last
		///   declaration and not in the future (`StaleDeclaration`).
		/// - `signature`: the node's worker key over `declaration.signing_bytes(chain_id)`.
		///
		/// Where the node's echelon pins a profile, the node is drawn only while its declared
		/// profile is that one: an honest node on other hardware is refused, never slashed.
		/// Emits `ProfileDeclared`.
		#[pallet::call_index(12)]
		#[pallet::authorize(|_source, declaration: &ProfileDeclarationOf<T>, signature: &sp_core::sr25519::Signature| {
			Pallet::<T>::authorize_profile(declaration, signature)
		})]
		pub fn declare_profile(
			origin: OriginFor<T>,
			declaration: ProfileDeclarationOf<T>,
			signature: sp_core::sr25519::Signature,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_declare_profile(declaration, signature)
		}
	}

	impl<T: Config> Pallet<T> {
		/// The standing bid of `node`, if it has one.
		pub fn standing_bid(node: NodeId) -> Option<BalanceOf<T>> {
			Bids::<T>::get(node).map(|bid| bid.price)
		}

		/// The fees of `node` that can be claimed now.
		pub fn claimable_fees(node: NodeId) -> BalanceOf<T> {
			Fees::<T>::get(node).rolled_to(CurrentEpoch::<T>::get()).claimable
		}

		/// The first block of the next epoch, for clients that wait for a boundary.
		pub fn next_epoch_start() -> BlockNumberFor<T> {
			NextEpochStart::<T>::get()
		}

		pub(crate) fn saturating_epoch_after(epoch: EpochIndex) -> EpochIndex {
			epoch.saturating_add(1)
		}
	}
}
