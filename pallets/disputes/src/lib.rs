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

mod arbitration;
mod authorize;
#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
pub mod migrations;
#[cfg(test)]
mod mock;
pub mod offchain;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use pallet::*;
pub use types::{
	Bisection, BisectionPayload, Dismissal, Dispute, DisputePhase, Game, OutputPayload, StepCheck,
	StepClaim, StepVerdict, Verdict, Vote, VotePayload,
};
pub use weights::WeightInfo;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::disputes";

/// The arbiter quorum of round `round`: `base x 2^round`, saturating.
pub fn round_quorum(base: u32, round: u32) -> u32 {
	1u32.checked_shl(round).map_or(u32::MAX, |factor| base.saturating_mul(factor))
}

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{
		inference::{DisputeCase, DisputedRequests},
		ModelRegistry, NodeId, NodeRegistry, RequestId,
	};
	use frame_support::{
		pallet_prelude::*,
		traits::{fungible::Inspect, Randomness},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	use super::{
		types::{BisectionPayload, Dismissal, Dispute, OutputPayload, Verdict, Vote, VotePayload},
		WeightInfo,
	};

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A verdict of this runtime: at most `MaxParties` leaves.
	pub type VerdictOf<T> = Verdict<<T as Config>::MaxParties>;

	/// A vote payload of this runtime.
	pub type VotePayloadOf<T> = VotePayload<<T as Config>::MaxParties>;

	/// An output publication of this runtime.
	pub type OutputPayloadOf<T> = OutputPayload<<T as Config>::MaxOutputLen>;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config:
		frame_system::Config + frame_system::offchain::CreateAuthorizedTransaction<Call<Self>>
	{
		/// The chain's currency (for its balance type; collateral moves through `Nodes`).
		type Currency: Inspect<Self::AccountId>;

		/// Nodes: eligibility, collateral reservations for arbiters, slashing.
		type Nodes: NodeRegistry<Self::AccountId, BalanceOf<Self>>;

		/// Models: the subscribers arbiters are drawn from.
		type Models: ModelRegistry<Self::AccountId>;

		/// The disputed requests: concluded with a full refund once the dispute ends.
		type Requests: DisputedRequests<Self::AccountId>;

		/// Randomness for arbiter draws: BABE's VRF output of the parent block in the runtime,
		/// read `DrawDelay` blocks after the dispute opened.
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Decides disputes that no arbitration round settled (root in this runtime; a
		/// collective later).
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Arbiters drawn in round 0; round `r` draws `ArbiterQuorum x 2^r`.
		#[pallet::constant]
		type ArbiterQuorum: Get<u32>;

		/// Arbitration rounds before governance decides.
		#[pallet::constant]
		type MaxRounds: Get<u32>;

		/// Blocks between a round's start and its draw: the randomness of the draw block is
		/// unknown when the round starts, even to the author of that block.
		#[pallet::constant]
		type DrawDelay: Get<u32>;

		/// Blocks arbiters have to re-execute and seal their verdicts.
		#[pallet::constant]
		type CommitWindow: Get<u32>;

		/// Blocks arbiters have to reveal after the commit window.
		#[pallet::constant]
		type RevealWindow: Get<u32>;

		/// Blocks governance has to decide before the dispute is dismissed.
		#[pallet::constant]
		type GovernanceWindow: Get<u32>;

		/// Blocks each side of a bisection has to answer a turn.
		#[pallet::constant]
		type BisectionWindow: Get<u32>;

		/// Blocks the surviving parties of a one-step check have to publish the output.
		#[pallet::constant]
		type OutputWindow: Get<u32>;

		/// The longest canonical output (bytes) survivors may publish. Disputes over longer
		/// outputs skip bisection: their arbiters re-execute the whole request.
		#[pallet::constant]
		type MaxOutputLen: Get<u32>;

		/// Collateral reserved on each arbiter until the dispute ends.
		#[pallet::constant]
		type ArbiterCollateral: Get<BalanceOf<Self>>;

		/// The share of its collateral an arbiter loses when it misses a window.
		#[pallet::constant]
		type ArbiterTimeoutSlash: Get<Perbill>;

		/// The treasury's share of an arbiter's timeout slash (the rest is burned).
		#[pallet::constant]
		type ArbiterTimeoutTreasuryShare: Get<Perbill>;

		/// The user's share of a cheater's collateral.
		#[pallet::constant]
		type CheaterUserShare: Get<Perbill>;

		/// The honest parties' share of a cheater's collateral (split equally).
		#[pallet::constant]
		type CheaterHonestShare: Get<Perbill>;

		/// The winning arbiters' share of a cheater's collateral (split equally).
		#[pallet::constant]
		type CheaterArbitersShare: Get<Perbill>;

		/// The treasury's share of a cheater's collateral; what no share takes is burned.
		#[pallet::constant]
		type CheaterTreasuryShare: Get<Perbill>;

		/// Parties of one dispute at most (the inference pallet's largest execution count); also
		/// the most leaves a verdict carries.
		#[pallet::constant]
		type MaxParties: Get<u32>;

		/// Arbiters of one dispute at most, over all rounds: at least
		/// `ArbiterQuorum x (2^MaxRounds - 1)`.
		#[pallet::constant]
		type MaxArbiters: Get<u32>;

		/// Dispute phases ending in one block at most; bounds `on_initialize`. A full block
		/// pushes a phase end a few blocks later.
		#[pallet::constant]
		type MaxTimersPerBlock: Get<u32>;

		/// Weights of this pallet's calls and hooks, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Disputes in progress, by the disputed request.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageMap<_, Twox64Concat, RequestId, Dispute<T>>;

	/// What each node has to do in open disputes: `(node, request)` for every party and every
	/// arbiter still drawn. Each off-chain worker reads its own nodes' entries here, so it finds
	/// every dispute it is part of however many are open.
	#[pallet::storage]
	pub type Duties<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NodeId, Twox64Concat, RequestId, ()>;

	/// Arbiters' votes, by dispute and arbiter (every round's; cleared when the dispute ends).
	#[pallet::storage]
	pub type Votes<T: Config> =
		StorageDoubleMap<_, Twox64Concat, RequestId, Twox64Concat, NodeId, Vote<T::MaxParties>>;

	/// Disputes whose phase ends in a block.
	#[pallet::storage]
	pub type Timers<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<RequestId, T::MaxTimersPerBlock>,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The parties of `request` disagree. Its first phase ends at block `draw_at`: the
		/// arbiters' draw, or a bisection's first turn (`BisectionStarted`); the dispute ends by
		/// `final_deadline` whatever happens.
		DisputeOpened {
			request: RequestId,
			parties: Vec<NodeId>,
			draw_at: BlockNumberFor<T>,
			final_deadline: BlockNumberFor<T>,
		},
		/// Arbiters of `round` were drawn; they seal their verdicts until `deadline`.
		ArbitersDrawn {
			request: RequestId,
			round: u32,
			arbiters: Vec<NodeId>,
			deadline: BlockNumberFor<T>,
		},
		/// An arbiter sealed its verdict.
		VerdictSealed { request: RequestId, arbiter: NodeId },
		/// The round's arbiters reveal until `deadline`.
		RevealStarted { request: RequestId, deadline: BlockNumberFor<T> },
		/// An arbiter revealed its verdict.
		VerdictRevealed { request: RequestId, arbiter: NodeId, verdict: [u8; 32] },
		/// An arbiter missed a window and lost `slashed` of its collateral.
		ArbiterTimedOut { request: RequestId, arbiter: NodeId, slashed: BalanceOf<T> },
		/// No verdict of the round won a majority matching a party: the next, larger round is
		/// drawn at `draw_at`.
		DisputeEscalated { request: RequestId, round: u32, draw_at: BlockNumberFor<T> },
		/// Arbitration is exhausted: the governance origin decides until `deadline`.
		AwaitingGovernance { request: RequestId, deadline: BlockNumberFor<T> },
		/// A node whose commitment or verdict differs from the winning output lost all its
		/// collateral (`slashed`).
		CheaterSlashed { request: RequestId, node: NodeId, slashed: BalanceOf<T> },
		/// The dispute was decided: `verdict` (a verdict digest; `None` when every party was
		/// convicted) won; `honest` parties and `arbiters` that found it were paid from the
		/// `cheaters`' collateral, and the user was refunded in full.
		DisputeResolved {
			request: RequestId,
			verdict: Option<[u8; 32]>,
			output_commitment: Option<[u8; 32]>,
			honest: Vec<NodeId>,
			cheaters: Vec<NodeId>,
			arbiters: Vec<NodeId>,
			by_governance: bool,
		},
		/// The dispute ended without a winning output: the user was refunded, nobody slashed and
		/// every hold released.
		DisputeDismissed { request: RequestId, reason: Dismissal },
		/// Two traces of `steps` steps disagree: their parties bisect them, one turn per tree
		/// level, each turn answered by `deadline`.
		BisectionStarted { request: RequestId, steps: u32, deadline: BlockNumberFor<T> },
		/// A side answered the turn at `(level, index)`.
		BisectionAnswered { request: RequestId, node: NodeId, level: u32, index: u32 },
		/// The walk went down to `(level, index)`: the next turn is answered by `deadline`.
		BisectionTurn { request: RequestId, level: u32, index: u32, deadline: BlockNumberFor<T> },
		/// The traces first differ at `step`: arbiters drawn at `draw_at` compute it.
		StepCheckStarted { request: RequestId, step: u32, draw_at: BlockNumberFor<T> },
		/// `nodes` were proven wrong: they lose all their collateral when the dispute ends.
		PartiesConvicted { request: RequestId, nodes: Vec<NodeId>, reason: Conviction },
		/// The surviving parties publish the output by `deadline`.
		AwaitingOutput { request: RequestId, deadline: BlockNumberFor<T> },
		/// A surviving party published the output whose digest is `output_digest`.
		OutputPublished { request: RequestId, node: NodeId, output_digest: [u8; 32] },
	}

	/// Why parties were convicted.
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
	pub enum Conviction {
		/// Their trace's step (or the prefix it agreed on) differs from the arbiters' one-step
		/// verdict.
		WrongStep,
		/// Their side did not answer a bisection turn.
		NoAnswer,
		/// No survivor published the output.
		NoOutput,
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No dispute is open for this request.
		UnknownDispute,
		/// A dispute is open for this request already.
		DisputeExists,
		/// A dispute needs at least one party with a claim.
		NoParties,
		/// More parties than `MaxParties`.
		TooManyParties,
		/// No free timer slot for the dispute's next phase.
		TimersFull,
		/// No node has this id.
		UnknownNode,
		/// The signature is not the node's worker key's over the payload.
		BadSignature,
		/// The node is not an arbiter of the dispute's current round.
		NotArbiter,
		/// The dispute is not in its commit window.
		NotCommitting,
		/// The dispute is not in its reveal window.
		NotRevealing,
		/// The arbiter sealed already.
		AlreadySealed,
		/// The arbiter has no sealed verdict to reveal.
		NotSealed,
		/// The arbiter revealed already.
		AlreadyRevealed,
		/// The verdict does not open the arbiter's seal.
		RevealMismatch,
		/// The verdict carries a different number of leaves than the dispute's quorum.
		MalformedVerdict,
		/// The dispute is not waiting for governance.
		NotAwaitingGovernance,
		/// The dispute is not in a bisection turn.
		NotBisecting,
		/// The node is not an unconvicted party of a bisected trace.
		NotASide,
		/// The answer names another node of the walk than the current one.
		StaleTurn,
		/// The node's side answered this turn already.
		AlreadyAnswered,
		/// The children do not hash to the side's node.
		AnswerMismatch,
		/// The dispute is not waiting for the output.
		NotAwaitingOutput,
		/// The node is not a surviving party.
		NotASurvivor,
		/// The bytes are not a canonical output of the survivors' token count.
		MalformedOutput,
		/// The reveal is of the other kind than the round's game (a whole output or one step).
		WrongVerdictKind,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::do_tick(now)
		}

		/// Arbitrate with this node's worker keys through the local inference worker (see
		/// [`crate::offchain`]).
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now)
		}

		fn integrity_test() {
			assert!(T::ArbiterQuorum::get() >= 1, "ArbiterQuorum must be at least 1");
			assert!(T::MaxRounds::get() >= 1, "MaxRounds must be at least 1");
			assert!(T::DrawDelay::get() >= 1, "DrawDelay: the draw must follow the opening");
			assert!(T::CommitWindow::get() >= 1, "CommitWindow must be at least 1 block");
			assert!(T::RevealWindow::get() >= 1, "RevealWindow must be at least 1 block");
			assert!(T::GovernanceWindow::get() >= 1, "GovernanceWindow must be at least 1 block");
			assert!(T::BisectionWindow::get() >= 1, "BisectionWindow must be at least 1 block");
			assert!(T::OutputWindow::get() >= 1, "OutputWindow must be at least 1 block");
			let all_rounds = (0..T::MaxRounds::get())
				.map(|r| super::round_quorum(T::ArbiterQuorum::get(), r))
				.fold(0u32, |sum, q| sum.saturating_add(q));
			assert!(T::MaxArbiters::get() >= all_rounds, "MaxArbiters must hold every round");
			let split = atoma_support::SlashSplit::<T::AccountId> {
				user: None,
				user_share: T::CheaterUserShare::get(),
				honest: Vec::new(),
				honest_share: T::CheaterHonestShare::get(),
				arbiters: Vec::new(),
				arbiters_share: T::CheaterArbitersShare::get(),
				treasury_share: T::CheaterTreasuryShare::get(),
			};
			assert!(split.is_valid(), "the cheater shares must add up to at most 100%");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// An arbiter's sealed verdict, or its reveal, signed by the arbiter's worker key. An
		/// unsigned, authorized transaction sent by the arbiter's off-chain worker; it pays no
		/// fee.
		///
		/// - `payload.vote`: `Sealed(sealed_commitment(verdict digest, worker key))` in the commit
		///   window; `Revealed(verdict)` in the reveal window, opening the seal.
		/// - `signature`: the arbiter's worker key over `payload.signing_bytes(chain_id)`.
		///
		/// Valid once per arbiter and kind, inside the window. Emits `VerdictSealed` (and
		/// `RevealStarted` once every arbiter of the round has sealed) or `VerdictRevealed`
		/// (and the round's tally once every arbiter has revealed: `DisputeResolved`,
		/// `DisputeEscalated` or `AwaitingGovernance`).
		#[pallet::call_index(0)]
		#[pallet::authorize(|_source, payload: &VotePayloadOf<T>, signature: &sp_core::sr25519::Signature| {
			Pallet::<T>::authorize_vote(payload, signature)
		})]
		pub fn submit_vote(
			origin: OriginFor<T>,
			payload: VotePayloadOf<T>,
			signature: sp_core::sr25519::Signature,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_submit_vote(payload, signature)
		}

		/// Decide a dispute that arbitration could not settle.
		///
		/// - `origin`: the governance origin.
		/// - `verdict`: the true output, as an arbiter would report it (its leaves must match the
		///   dispute's quorum); every party and arbiter whose commitment differs loses all its
		///   collateral. `None`: no fault found; the user is refunded and nobody is slashed.
		///
		/// Only while the dispute awaits governance. Emits `DisputeResolved` or
		/// `DisputeDismissed`.
		#[pallet::call_index(1)]
		pub fn resolve_dispute(
			origin: OriginFor<T>,
			request: RequestId,
			verdict: Option<VerdictOf<T>>,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_resolve_by_governance(request, verdict)
		}

		/// A side's answer to a bisection turn: the two children of the current node of its
		/// trace tree, signed by the worker key of one of the side's parties. An unsigned,
		/// authorized transaction sent by the party's off-chain worker; it pays no fee.
		///
		/// - `payload.level`, `payload.index`: the current node of the walk.
		/// - `payload.left`, `payload.right`: its children; they must hash to the side's node.
		///
		/// Once per side and turn, before the turn's deadline. Emits `BisectionAnswered`, and
		/// when both sides have answered `BisectionTurn` or, at the first differing step,
		/// `StepCheckStarted`.
		#[pallet::call_index(2)]
		#[pallet::authorize(|_source, payload: &BisectionPayload, signature: &sp_core::sr25519::Signature| {
			Pallet::<T>::authorize_bisection(payload, signature)
		})]
		pub fn submit_bisection(
			origin: OriginFor<T>,
			payload: BisectionPayload,
			signature: sp_core::sr25519::Signature,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_submit_bisection(payload, signature)
		}

		/// A surviving party's publication of the output `O` after a one-step check, signed by
		/// its worker key (authorized, fee-less, from its off-chain worker).
		///
		/// - `payload.output`: the canonical output, of the survivors' committed token count.
		///
		/// Only while the dispute awaits the output. The dispute is resolved with `O`:
		/// survivors whose commitment is `O`'s are honest, the rest cheaters. Emits
		/// `OutputPublished` and `DisputeResolved`.
		#[pallet::call_index(3)]
		#[pallet::authorize(|_source, payload: &OutputPayloadOf<T>, signature: &sp_core::sr25519::Signature| {
			Pallet::<T>::authorize_output(payload, signature)
		})]
		pub fn submit_output(
			origin: OriginFor<T>,
			payload: OutputPayloadOf<T>,
			signature: sp_core::sr25519::Signature,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_submit_output(payload, signature)
		}
	}

	impl<T: Config> atoma_support::inference::DisputeManager<T::AccountId> for Pallet<T> {
		fn open_dispute(request: RequestId, case: DisputeCase<T::AccountId>) -> DispatchResult {
			Self::do_open_dispute(request, case)
		}

		fn open_dispute_weight() -> Weight {
			T::WeightInfo::open_dispute()
		}

		fn has_duty(request: RequestId, node: NodeId) -> bool {
			Duties::<T>::contains_key(node, request)
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
