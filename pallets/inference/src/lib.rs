#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
// No panics and no unchecked arithmetic in runtime code; `expect_used` is denied per module
// because FRAME's macros expand to `expect` calls (see pallet-node-registry).
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

mod authorize;
#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
mod dispatch;
mod hooks;
pub mod migrations;
#[cfg(test)]
mod mock;
pub mod offchain;
mod retention;
pub mod selection;
mod settlement;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use pallet::*;
pub use types::{
	Commitment, CommitmentKind, CommitmentPayload, FailureReason, Phase, Request, UnservableReason,
};
pub use weights::WeightInfo;

/// The scale component of the `*_at_scale` benchmarks at its largest: 10^4 subscribers of a
/// model, the runtime's bound. Draws and settlement are charged at it.
pub const MAX_SCALE: u32 = 4;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::inference";

/// The most nodes that can execute one request: `MaxQuorum` verifiers plus the primary.
pub struct MaxExecutionsOf<T>(core::marker::PhantomData<T>);
impl<T: Config> frame_support::traits::Get<u32> for MaxExecutionsOf<T> {
	fn get() -> u32 {
		<T::MaxQuorum as frame_support::traits::Get<u32>>::get().saturating_add(1)
	}
}

/// Convicted nodes whose jobs wait to be redrawn at most. A resolution convicts at most the
/// disputes pallet's parties and arbiters (30 in this runtime); a node that does not fit keeps
/// its jobs until their deadlines, where it is late like any node that does not commit.
pub type MaxConvictedQueue = frame_support::traits::ConstU32<128>;

/// The most nodes one request may exclude after timeouts: `MaxRedraws` rounds of `MaxQuorum`.
pub struct MaxExcludedOf<T>(core::marker::PhantomData<T>);
impl<T: Config> frame_support::traits::Get<u32> for MaxExcludedOf<T> {
	fn get() -> u32 {
		<T::MaxRedraws as frame_support::traits::Get<u32>>::get()
			.saturating_mul(<T::MaxQuorum as frame_support::traits::Get<u32>>::get())
	}
}

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{
		inference::{
			DisputeManager, InferenceOutcome, OnInferenceOutcome, RequestSpec, VerificationMode,
		},
		EchelonId, ModelId, ModelRegistry, NodeId, NodeRegistry, RequestId,
	};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			Randomness,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{traits::CheckedMul, Perbill};

	use super::{
		types::{
			Commitment, CommitmentPayload, FailureReason, Request, RequestResult, UnservableReason,
		},
		MaxExecutionsOf, WeightInfo,
	};

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(4);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config:
		frame_system::Config + frame_system::offchain::CreateAuthorizedTransaction<Call<Self>>
	{
		/// The chain's currency; escrows are held with the fungible hold traits.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's [`HoldReason`].
		type RuntimeHoldReason: From<HoldReason>;

		/// Nodes: eligibility, prices, collateral reservations, slashing and fees.
		type Nodes: NodeRegistry<Self::AccountId, BalanceOf<Self>>;

		/// Models: status, owner shares and the subscriber index selection draws from.
		type Models: ModelRegistry<Self::AccountId>;

		/// Randomness for node selection: BABE's VRF output of the parent block
		/// (`pallet_babe::ParentBlockRandomness`) in the runtime. `None` (no VRF output yet)
		/// falls back to the parent block hash.
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Opens disputes over disagreeing commitments; they come back through
		/// [`atoma_support::inference::DisputedRequests`].
		type Disputes: DisputeManager<Self::AccountId>;

		/// Told how requests submitted by other pallets end.
		type OnOutcome: OnInferenceOutcome;

		/// Told of each request settled by agreement: its nodes' and its model's tokens, which
		/// share the epoch's emission (`pallet-emission` in the runtime).
		type WorkLedger: atoma_support::WorkLedger<BalanceOf<Self>>;

		/// The longest inline input, in bytes.
		#[pallet::constant]
		type MaxInputLen: Get<u32>;

		/// The longest output published on chain, in bytes.
		#[pallet::constant]
		type MaxOutputLen: Get<u32>;

		/// The largest quorum: `n` of Sampling, and of Cross-Validation verifiers.
		#[pallet::constant]
		type MaxQuorum: Get<u32>;

		/// The shortest timeout a request may ask for, in blocks.
		#[pallet::constant]
		type MinTimeout: Get<u32>;

		/// The longest timeout a request may ask for, in blocks.
		#[pallet::constant]
		type MaxTimeout: Get<u32>;

		/// Blocks Cross-Validation nodes have to reveal after the commit window.
		#[pallet::constant]
		type RevealWindow: Get<u32>;

		/// The fewest blocks a Cross-Validation commit window stays open after the primary's
		/// commitment, for verifiers (who may commit only after it) to join. Size it to a
		/// verifier's work after that commitment: a block to see it, reading a by-hash input, and
		/// the echelon's generation time. The window closes sooner once every verifier seat the
		/// escrow pays for is taken.
		#[pallet::constant]
		type VerifierWindow: Get<u32>;

		/// How many times one request may replace its late nodes before it is refunded.
		#[pallet::constant]
		type MaxRedraws: Get<u32>;

		/// Collateral reserved on each executing node for the duration of a job.
		#[pallet::constant]
		type JobCollateral: Get<BalanceOf<Self>>;

		/// The share of its collateral a node loses when it misses a deadline.
		#[pallet::constant]
		type TimeoutSlash: Get<Perbill>;

		/// The user's share of a timeout slash.
		#[pallet::constant]
		type TimeoutUserShare: Get<Perbill>;

		/// The treasury's share of a timeout slash (the rest is burned).
		#[pallet::constant]
		type TimeoutTreasuryShare: Get<Perbill>;

		/// Requests awaiting selection at most; bounds the queue.
		#[pallet::constant]
		type MaxPendingSelections: Get<u32>;

		/// Requests selected per block at most; bounds `on_initialize`.
		#[pallet::constant]
		type MaxSelectionsPerBlock: Get<u32>;

		/// Blocks from a request's inclusion to its draw, at least 1. The draw's randomness is
		/// BABE's VRF output of the draw block's parent: with 2 (the runtime's), that is the block
		/// after the inclusion, whose output neither the submitter nor the author that included
		/// the request knew.
		#[pallet::constant]
		type SelectionDelay: Get<u32>;

		/// Deadlines falling in one block at most; bounds `on_initialize`. A full block pushes a
		/// deadline a few blocks later.
		#[pallet::constant]
		type MaxDeadlinesPerBlock: Get<u32>;

		/// Blocks a settled request's result (`Results`: what a receipt is checked against) stays
		/// on chain after settlement.
		#[pallet::constant]
		type ResultRetention: Get<u32>;

		/// Blocks an output published on chain (`Outputs`, up to `MaxOutputLen` bytes) stays
		/// after its publication; at most `ResultRetention`.
		#[pallet::constant]
		type OutputRetention: Get<u32>;

		/// Results and outputs pruned per block at most, each; bounds `on_initialize`.
		#[pallet::constant]
		type MaxPrunedPerBlock: Get<u32>;

		/// Weights of this pallet's calls and hooks, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The escrowed maximum fee of a request.
		RequestEscrow,
	}

	/// The id the next request gets.
	#[pallet::storage]
	pub type NextRequestId<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Requests in flight (awaiting selection, executing, revealing or disputed).
	#[pallet::storage]
	pub type Requests<T: Config> = StorageMap<_, Twox64Concat, RequestId, Request<T>>;

	/// Requests waiting for selection in a later block, oldest first.
	#[pallet::storage]
	pub type PendingSelections<T: Config> =
		StorageValue<_, BoundedVec<RequestId, T::MaxPendingSelections>, ValueQuery>;

	/// Requests whose commit or reveal window ends in a block.
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<RequestId, T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	/// Commitments by request and node.
	#[pallet::storage]
	pub type Commitments<T: Config> =
		StorageDoubleMap<_, Twox64Concat, RequestId, Twox64Concat, NodeId, Commitment>;

	/// The jobs of each node: `(node, request)` for every node drawn for a request in flight and
	/// every verifier that joined one, until the request ends or the node leaves it. The off-chain
	/// worker finds its own jobs here, and a convicted node's jobs are found here to be redrawn.
	#[pallet::storage]
	pub type Assignments<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NodeId, Twox64Concat, RequestId, ()>;

	/// Nodes that lost all their collateral in a dispute and whose jobs in flight are still to be
	/// taken from them, each with the last request looked at; worked off in `on_initialize`, at
	/// most `MaxSelectionsPerBlock` jobs a block.
	#[pallet::storage]
	pub type ConvictedNodes<T: Config> = StorageValue<
		_,
		BoundedVec<(NodeId, Option<RequestId>), crate::MaxConvictedQueue>,
		ValueQuery,
	>;

	/// Settled requests: what a user needs to check an output.
	#[pallet::storage]
	pub type Results<T: Config> = StorageMap<_, Twox64Concat, RequestId, RequestResult<T>>;

	/// When results and outputs expire, oldest first: `(kind, position)` → `(request, block)`.
	/// Both kinds are kept for a fixed period from insertion, so each queue is in expiry order.
	#[pallet::storage]
	pub type Expiries<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		crate::types::Expiring,
		Twox64Concat,
		u64,
		(RequestId, BlockNumberFor<T>),
	>;

	/// The `(first, next)` positions of each expiry queue.
	#[pallet::storage]
	pub type ExpiryQueue<T: Config> =
		StorageMap<_, Twox64Concat, crate::types::Expiring, (u64, u64), ValueQuery>;

	/// Outputs published on chain (`OutputDestination::OnChain`), checked against the result.
	#[pallet::storage]
	pub type Outputs<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, BoundedVec<u8, T::MaxOutputLen>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A request was submitted and `escrow` held; nodes are drawn in a later block.
		RequestSubmitted {
			request: RequestId,
			owner: T::AccountId,
			model: ModelId,
			echelon: EchelonId,
			mode: VerificationMode,
			escrow: BalanceOf<T>,
		},
		/// Nodes were drawn publicly (Cross-Validation: the primary). They commit until
		/// `deadline`, sampling with `sampler_seed`.
		NodesSelected {
			request: RequestId,
			nodes: Vec<NodeId>,
			sampler_seed: u64,
			deadline: BlockNumberFor<T>,
		},
		/// A node committed to its output.
		CommitmentSubmitted { request: RequestId, node: NodeId },
		/// A Cross-Validation verifier proved its private selection and committed.
		VerifierJoined { request: RequestId, node: NodeId },
		/// The Cross-Validation commit window closed; committed nodes reveal until `deadline`.
		RevealStarted { request: RequestId, deadline: BlockNumberFor<T> },
		/// A Cross-Validation node revealed its output digest.
		DigestRevealed { request: RequestId, node: NodeId },
		/// The nodes agreed. `output_commitment` is the quorum root (Single, Sampling: check an
		/// output `O` with `commitment_root(leaves of O)`) or `H(O)` (Cross-Validation).
		RequestSettled {
			request: RequestId,
			output_commitment: [u8; 32],
			output_tokens: u32,
			nodes: Vec<NodeId>,
			paid_to_nodes: BalanceOf<T>,
			paid_to_model_owner: BalanceOf<T>,
			refunded: BalanceOf<T>,
		},
		/// The commitments disagree: a dispute is open; funds stay held.
		RequestDisputed { request: RequestId, nodes: Vec<NodeId> },
		/// A node missed its deadline and lost `slashed` of its collateral.
		NodeTimedOut { request: RequestId, node: NodeId, slashed: BalanceOf<T> },
		/// Results and outputs older than their retention were removed in this block.
		Pruned { results: u32, outputs: u32 },
		/// A Cross-Validation verifier that lost its collateral in a dispute was dropped from
		/// the request before the commit window closed; its reservation was released.
		VerifierDropped { request: RequestId, node: NodeId },
		/// Late or convicted nodes of the request were released; their replacements are drawn in
		/// block `at`.
		RedrawScheduled { request: RequestId, at: BlockNumberFor<T> },
		/// A convicted node was released from a request whose redraw is pending; the draw
		/// replaces it too.
		NodeReleased { request: RequestId, node: NodeId },
		/// A fresh node replaces a late or convicted one; the window now ends at `deadline`.
		NodeRedrawn {
			request: RequestId,
			replaced: NodeId,
			node: NodeId,
			deadline: BlockNumberFor<T>,
		},
		/// The request ended without a result; `refunded` went back to the owner.
		RequestFailed { request: RequestId, reason: FailureReason, refunded: BalanceOf<T> },
		/// The output of a settled request was published on chain.
		OutputPublished { request: RequestId, bytes: u32 },
		/// A dispute over the request ended: the whole escrow (`refunded`) went back to the
		/// owner and every reservation was released. `output_commitment` is the winning output
		/// (recorded in `Results` like a settlement), or `None` when no output won.
		DisputeConcluded {
			request: RequestId,
			output_commitment: Option<[u8; 32]>,
			honest: Vec<NodeId>,
			refunded: BalanceOf<T>,
		},
		/// The Cross-Validation primary committed late: verifiers, who commit after it, have
		/// until `deadline` (`VerifierWindow` blocks from the primary's commitment).
		CommitWindowExtended { request: RequestId, deadline: BlockNumberFor<T> },
		/// A selected node attested that the request cannot be served.
		UnservableAttested { request: RequestId, node: NodeId, reason: UnservableReason },
		/// Every selected node attested the same reason: the request ended without a result and
		/// nobody was slashed. Each node was paid the fee of the declared input tokens
		/// (`paid_to_nodes` in all); the rest of the escrow (`refunded`) went back to the owner.
		RequestUnservable {
			request: RequestId,
			reason: UnservableReason,
			nodes: Vec<NodeId>,
			paid_to_nodes: BalanceOf<T>,
			refunded: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The model is not registered.
		UnknownModel,
		/// The model is pending approval or suspended.
		ModelNotServable,
		/// The echelon has no price yet (no node has bid) or does not exist.
		NoPriceForEchelon,
		/// No node is eligible for the model in the echelon.
		NoEligibleNodes,
		/// Fewer nodes are eligible than the verification mode needs.
		TooFewEligibleNodes,
		/// The inline input is longer than `MaxInputLen`.
		InputTooLarge,
		/// The inline input is empty.
		EmptyInput,
		/// The sampling parameters are out of range.
		InvalidParams,
		/// Sampling needs 2 to `MaxQuorum` nodes; Cross-Validation 1 to `MaxQuorum` verifiers.
		InvalidQuorum,
		/// The timeout is outside `MinTimeout..=MaxTimeout`.
		InvalidTimeout,
		/// The fee does not fit in a balance.
		FeeOverflow,
		/// The owner's free balance cannot cover the escrow.
		InsufficientBalance,
		/// `MaxPendingSelections` requests are waiting already; try again in a few blocks.
		TooManyPendingRequests,
		/// No request has this id (or it has ended).
		UnknownRequest,
		/// No node has this id.
		UnknownNode,
		/// The signature is not the node's worker key's over the payload.
		BadSignature,
		/// The node was not selected for the request (or its VRF proof does not select it).
		NotSelected,
		/// The node committed already.
		AlreadyCommitted,
		/// The request is not in its commit window.
		NotExecuting,
		/// The commitment's kind does not fit the request's mode or phase.
		WrongCommitmentKind,
		/// The request's `n` verifiers (what its escrow pays) committed already.
		TooManyVerifiers,
		/// The request is not in its reveal window.
		NotRevealing,
		/// The node has no sealed commitment to reveal.
		NotCommitted,
		/// The node revealed already.
		AlreadyRevealed,
		/// The digest does not open the node's sealed commitment.
		RevealMismatch,
		/// The request has not settled.
		NotSettled,
		/// The request's output goes to the workers, not on chain.
		NotOnChainDestination,
		/// The output was published already.
		AlreadyPublished,
		/// The output is longer than `MaxOutputLen`.
		OutputTooLarge,
		/// The output does not match the settled commitment.
		OutputMismatch,
		/// The request is not disputed.
		NotDisputed,
		/// The inline input is not UTF-8 text: no node could serve it as a prompt.
		InputNotUtf8,
		/// The inline input is a JSON array (a conversation) that no worker serves: empty, a
		/// message that is not an object, a role other than system, user or assistant, or
		/// content other than text (`atoma_primitives::prompt`).
		InvalidChatMessages,
		/// Cross-Validation's `p` is below the echelon's Nash bound: cheating would pay.
		ReplicationBelowFloor,
		/// The declared input tokens plus `max_output_tokens` exceed the model's context length.
		ExceedsContextLength,
		/// The verifier's worker key was registered or rotated after the request was submitted:
		/// it could have been chosen to win the request's sortition.
		WorkerKeyTooNew,
		/// "Input unavailable" is attested before the middle of the commit window: the user may
		/// still be uploading the input to the selected workers.
		TooEarlyToAttest,
		/// A Cross-Validation verifier commits only after the primary: until then nothing on
		/// chain may tell the primary that it is being verified.
		PrimaryNotCommitted,
		/// The commitment counts more prompt tokens than the request declared (and its escrow
		/// pays for): the node must attest `InputTokensAboveDeclared` instead.
		InputTokensAboveDeclared,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::do_tick(now)
		}

		/// Pair this node's worker keys with the local inference worker (see [`crate::offchain`]).
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now)
		}

		fn integrity_test() {
			assert!(T::MaxQuorum::get() >= 2, "MaxQuorum must allow Sampling with 2 nodes");
			assert!(T::MinTimeout::get() >= 1, "MinTimeout must be at least 1 block");
			assert!(T::MinTimeout::get() <= T::MaxTimeout::get(), "MinTimeout <= MaxTimeout");
			assert!(T::RevealWindow::get() >= 1, "RevealWindow must be at least 1 block");
			assert!(T::VerifierWindow::get() >= 1, "VerifierWindow must be at least 1 block");
			assert!(T::MaxSelectionsPerBlock::get() >= 1, "MaxSelectionsPerBlock >= 1");
			assert!(T::SelectionDelay::get() >= 1, "a draw comes after the submission block");
			assert!(
				T::OutputRetention::get() <= T::ResultRetention::get(),
				"an output outliving its result could no longer be checked"
			);
			assert!(T::MaxPrunedPerBlock::get() >= 1, "MaxPrunedPerBlock >= 1");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Submit an inference request; the fee of the maximum is held until settlement.
		///
		/// - `origin`: signed by the payer.
		/// - `spec.model`: an approved model with eligible nodes in `spec.echelon`.
		/// - `spec.input`: inline (1 to `MaxInputLen` bytes of UTF-8: plain text, or a JSON chat
		///   conversation a worker serves) or a blake2-256 hash.
		/// - `spec.params`: valid sampling parameters; `max_output_tokens` bounds the fee.
		/// - `spec.mode`: `Single`, `Sampling { n }` with `2 <= n <= MaxQuorum`, or
		///   `CrossValidation { n, p }` with `1 <= n <= MaxQuorum`.
		/// - `spec.timeout`: blocks per commit window, `MinTimeout..=MaxTimeout`.
		///
		/// Escrow: `max executions x (input + max output tokens) x price`. Emits
		/// `RequestSubmitted`; nodes are drawn in a later block (`NodesSelected`).
		#[pallet::call_index(0)]
		pub fn submit_request(origin: OriginFor<T>, spec: RequestSpec) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_submit_request(owner, spec, None).map(|_| ())
		}

		/// Submit a commitment, signed by a selected node's worker key. An unsigned, authorized
		/// transaction: the off-chain worker sends it and pays no fee.
		///
		/// - `payload.kind`: `Quorum` for Single and Sampling nodes; `Sealed` for the
		///   Cross-Validation primary and verifiers (verifiers attach their VRF proof); `Reveal`
		///   in the Cross-Validation reveal window; `Unservable` instead of an output, from a
		///   selected node that found the request cannot be served (`InputUnavailable` from the
		///   middle of the window on, else `TooEarlyToAttest`).
		/// - `signature`: the node's worker key over `payload.signing_bytes(chain_id)`.
		///
		/// Valid once per node and kind, before the window ends. Emits `CommitmentSubmitted`,
		/// `VerifierJoined`, `DigestRevealed` or `UnservableAttested`, and `RequestSettled`,
		/// `RequestUnservable` (every node attested the same reason) or `RequestDisputed` when
		/// the last commitment arrives.
		#[pallet::call_index(1)]
		#[pallet::weight(
			T::WeightInfo::submit_commitment()
				.max(T::WeightInfo::settle_at_scale(crate::MAX_SCALE))
				.saturating_add(T::Disputes::open_dispute_weight())
				.saturating_add(T::OnOutcome::max_weight())
				.saturating_add(crate::Pallet::<T>::work_ledger_weight())
		)]
		#[pallet::authorize(|_source, payload: &CommitmentPayload, signature: &sp_core::sr25519::Signature| {
			Pallet::<T>::authorize_commitment(payload, signature)
		})]
		pub fn submit_commitment(
			origin: OriginFor<T>,
			payload: CommitmentPayload,
			signature: sp_core::sr25519::Signature,
		) -> DispatchResultWithPostInfo {
			frame_system::ensure_authorized(origin)?;
			let quorum = matches!(payload.kind, crate::types::CommitmentKind::Quorum { .. });
			let concluded = Self::do_submit_commitment(payload, signature)?;
			// The declared weight is the commitment that concludes its request (settlement, a
			// dispute, the outcome hook). Most commitments leave their request waiting for the
			// others and pay for themselves alone, so a block holds many more of them.
			Ok(match (concluded, quorum) {
				(true, _) => None,
				(false, true) => Some(T::WeightInfo::submit_commitment_quorum_pending()),
				(false, false) => Some(T::WeightInfo::submit_commitment_pending()),
			}
			.into())
		}

		/// Publish the output of a settled request whose destination is `OnChain`.
		///
		/// - `origin`: signed by anyone (the owner, say), or authorized: the off-chain workers of
		///   the nodes that settled the request send it fee-less as soon as it settles, and the
		///   pool keeps the first copy (the fastest node's); the output itself is the proof.
		/// - `output`: the canonical output `O`, at most `MaxOutputLen` bytes; it must match the
		///   settled commitment (the quorum root over its leaves, or `H(O)`).
		///
		/// Emits `OutputPublished`.
		#[pallet::call_index(2)]
		#[pallet::authorize(|_source, request: &RequestId, output: &Vec<u8>| {
			Pallet::<T>::authorize_publication(*request, output)
		})]
		pub fn publish_output(
			origin: OriginFor<T>,
			request: RequestId,
			output: Vec<u8>,
		) -> DispatchResult {
			match origin.into() {
				Ok(frame_system::RawOrigin::Signed(_) | frame_system::RawOrigin::Authorized) => {},
				_ => return Err(DispatchError::BadOrigin),
			}
			Self::do_publish_output(request, output)
		}
	}

	impl<T: Config> Pallet<T> {
		/// Tell the caller pallet, if any, how its request ended.
		pub(crate) fn notify(
			request: RequestId,
			caller: Option<[u8; 8]>,
			outcome: InferenceOutcome,
		) {
			if let Some(caller) = caller {
				T::OnOutcome::on_outcome(caller, request, &outcome);
			}
		}
	}

	/// Requests from other pallets (this chain's smart-contract requests).
	impl<T: Config> atoma_support::inference::InferenceRequester<T::AccountId> for Pallet<T> {
		fn request_inference(
			payer: &T::AccountId,
			spec: RequestSpec,
			caller: [u8; 8],
		) -> Result<RequestId, DispatchError> {
			Self::do_submit_request(payer.clone(), spec, Some(caller))
		}

		fn in_flight(request: RequestId) -> bool {
			Requests::<T>::contains_key(request)
		}

		#[cfg(feature = "runtime-benchmarks")]
		fn benchmark_worst_case_spec(payer: &T::AccountId) -> RequestSpec {
			crate::benchmarking::worst_case_submission::<T>(payer)
		}
	}

	impl<T: Config> Pallet<T> {
		/// The most nodes one request may pay.
		pub fn max_executions() -> u32 {
			MaxExecutionsOf::<T>::get()
		}

		/// The escrow a request would hold now (runtime API `quote`).
		pub fn quote(
			model: &ModelId,
			echelon: EchelonId,
			input_tokens: u32,
			max_output_tokens: u32,
			mode: VerificationMode,
		) -> Option<BalanceOf<T>> {
			let servable = T::Models::model(model)
				.is_some_and(|m| m.status == atoma_support::ModelStatus::Approved);
			if !servable {
				return None;
			}
			let price = T::Nodes::price_per_token(echelon)?;
			atoma_support::fees::request_fee(input_tokens, max_output_tokens, price)?
				.checked_mul(&mode.max_executions().into())
		}

		/// Cross-Validation requests in their commit window (runtime API `sortition_tasks`).
		pub fn sortition_tasks() -> Vec<atoma_support::inference::SortitionTask> {
			Requests::<T>::iter()
				.filter_map(|(id, r)| match (r.mode, r.phase, r.nodes.first()) {
					(
						VerificationMode::CrossValidation { .. },
						crate::Phase::Executing { .. },
						Some(primary),
					) if r.sortition_threshold > 0 => Some(atoma_support::inference::SortitionTask {
						request: id,
						seed: r.selection_seed,
						threshold: r.sortition_threshold,
						model: r.model.clone(),
						echelon: r.echelon,
						primary: *primary,
					}),
					_ => None,
				})
				.collect()
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The chain every worker-key signature of this pallet binds: its genesis hash.
	pub fn chain_id() -> atoma_support::worker_key::ChainId {
		use sp_runtime::traits::Zero;
		atoma_support::worker_key::chain_id(frame_system::Pallet::<T>::block_hash(
			frame_system::pallet_prelude::BlockNumberFor::<T>::zero(),
		))
	}
}
