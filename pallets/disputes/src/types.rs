//! Records kept by the disputes pallet: the dispute lifecycle, arbiters' votes and what they sign.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_primitives::{
	bisection::{prefix_digest, step_verdict_digest},
	commitment::{commitment_root, verdict_digest},
	unservable::{unservable_digest, UnservableReason},
};
use atoma_support::{
	inference::{Claim, ClaimedOutput},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::{ConstU32, Get},
	BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;

use crate::Config;

/// Where a dispute is in its life. Each phase ends at its block (processed in that block's
/// `on_initialize`), or earlier when every arbiter of the round has acted.
///
/// ```text
///        two traces of equal length: Bisecting ─(one turn per tree level)─┐
///        two traces of other lengths ──────────────────────────────────┐ │
/// open ─► AwaitingDraw ◄───────────────── one-step check at step k ◄──┴─┘
///            │
///            ─(fresh randomness)─► Committing ─all sealed / deadline─► Revealing
///            ▲                                   │ none drawn                      │
///            │ no majority, rounds left          ▼                                 ▼
///            └──────────────────────────── tally of revealed verdicts ◄────────────┘
///                                              │ majority that matches a party (or of a
///                                              │ later round) ─► resolved:
///                                              │   cheaters lose all collateral, user refunded
///                                              └ no majority, last round ─► AwaitingGovernance
///                                                   governance decides, or at its deadline:
///                                                   dismissed (refund, nobody slashed)
///
/// after a one-step check (or a side that stopped answering): the losing side is convicted;
/// AwaitingOutput: a survivor publishes O ─► resolved with O (survivors that did not commit to
/// it are cheaters too); nobody publishes ─► resolved without an output, survivors convicted
/// ```
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
pub enum DisputePhase<BlockNumber> {
	/// Arbiters of the current round are drawn in `on_initialize` of block `at`, with
	/// randomness nobody knew when the dispute opened or the round ended.
	AwaitingDraw {
		/// The block of the draw.
		at: BlockNumber,
	},
	/// The round's arbiters re-execute the request and commit sealed verdicts until `deadline`.
	Committing {
		/// The block whose `on_initialize` closes the window: seals count before it.
		deadline: BlockNumber,
	},
	/// Arbiters that sealed reveal their verdicts until `deadline`.
	Revealing {
		/// The block whose `on_initialize` closes the window: reveals count before it.
		deadline: BlockNumber,
	},
	/// No arbitration round produced a majority: the governance origin decides until
	/// `deadline`, after which the dispute is dismissed.
	AwaitingGovernance {
		/// The block at which an undecided dispute is dismissed.
		deadline: BlockNumber,
	},
	/// A bisection turn: both sides reveal the children of the current node until `deadline`;
	/// a side that does not loses.
	Bisecting {
		/// The block whose `on_initialize` closes the turn: answers count before it.
		deadline: BlockNumber,
	},
	/// The one-step check convicted the other side: a surviving party publishes the output `O`
	/// until `deadline`, which decides who of the survivors committed to it.
	AwaitingOutput {
		/// The block whose `on_initialize` closes the window.
		deadline: BlockNumber,
	},
}

impl<BlockNumber: Copy> DisputePhase<BlockNumber> {
	/// The block at which the phase ends unless something happens first.
	pub fn ends_at(&self) -> BlockNumber {
		match *self {
			Self::AwaitingDraw { at } => at,
			Self::Committing { deadline }
			| Self::Revealing { deadline }
			| Self::AwaitingGovernance { deadline }
			| Self::Bisecting { deadline }
			| Self::AwaitingOutput { deadline } => deadline,
		}
	}
}

/// What an arbiter found by re-executing the disputed request: the output digest `H(O)`, the
/// token count, and for a Single or Sampling quorum of `n` the leaves `H(O ‖ i)`, `i < n`, that
/// the chain compares with each party's commitment (empty for Cross-Validation, whose parties
/// revealed `H(O)` itself).
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
#[scale_info(skip_type_params(MaxLeaves))]
pub struct Verdict<MaxLeaves: Get<u32>> {
	/// `H(O)` of the re-executed output.
	pub output_digest: [u8; 32],
	/// Tokens generated.
	pub output_tokens: u32,
	/// `H(O ‖ i)` for each quorum position (Single, Sampling); empty for Cross-Validation.
	pub leaves: BoundedVec<[u8; 32], MaxLeaves>,
}

impl<MaxLeaves: Get<u32>> Verdict<MaxLeaves> {
	/// `atoma_primitives::commitment::verdict_digest` of this verdict: what arbiters seal and what
	/// the tally groups by.
	pub fn digest(&self) -> [u8; 32] {
		verdict_digest(&self.output_digest, self.output_tokens, &self.leaves)
	}

	/// Whether `claim` is what an honest node would have committed if this verdict's output is
	/// the true one.
	pub fn matches(&self, claim: &Claim) -> bool {
		claim.claim.matches(&self.output_digest, self.output_tokens, &self.leaves)
	}

	/// The verdict of an arbiter that could not serve the request either (its worker has no
	/// copy of a by-hash input, or refuses the prompt): `unservable_digest(reason)`, no tokens,
	/// no leaves. A majority of these dismisses the dispute (refund, nobody slashed).
	pub fn unservable(reason: UnservableReason) -> Self {
		Self {
			output_digest: unservable_digest(reason),
			output_tokens: 0,
			leaves: BoundedVec::new(),
		}
	}

	/// The reason, if this is the verdict [`Self::unservable`] of one.
	pub fn unservable_reason(&self) -> Option<UnservableReason> {
		UnservableReason::ALL.into_iter().find(|reason| *self == Self::unservable(*reason))
	}

	/// The output commitment a settled request records for this output: the quorum root of the
	/// leaves (Single, Sampling) or `H(O)` (Cross-Validation).
	pub fn output_commitment(&self) -> [u8; 32] {
		if self.leaves.is_empty() {
			self.output_digest
		} else {
			commitment_root(&self.leaves)
		}
	}
}

/// A dispute in progress, keyed by the disputed request.
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
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Dispute<T: Config> {
	/// The request's owner: refunded in full, paid the user's share of cheaters' collateral.
	pub user: T::AccountId,
	/// The model arbiters re-execute.
	pub model: ModelId,
	/// The echelon arbiters come from (the parties' hardware class).
	pub echelon: EchelonId,
	/// The parties and what each committed.
	pub claims: BoundedVec<Claim, T::MaxParties>,
	/// The block the dispute opened in.
	pub opened_at: BlockNumberFor<T>,
	/// No hold outlives this block: by then the dispute has been resolved or dismissed.
	pub final_deadline: BlockNumberFor<T>,
	/// The arbitration round, from 0; round `r` draws `ArbiterQuorum x 2^r` arbiters.
	pub round: u32,
	/// Where it is.
	pub phase: DisputePhase<BlockNumberFor<T>>,
	/// Arbiters of every round so far that have not timed out, in draw order; each has
	/// `ArbiterCollateral` reserved until the dispute ends.
	pub arbiters: BoundedVec<NodeId, T::MaxArbiters>,
	/// Where the current round's arbiters start in `arbiters`.
	pub round_start: u32,
	/// How many arbiters the current round drew: a verdict needs more than half of them.
	pub round_drawn: u32,
	/// Nodes never to be drawn again for this dispute: arbiters that timed out.
	pub excluded: BoundedVec<NodeId, T::MaxArbiters>,
	/// What the arbiters decide: the whole output, or one step after a bisection.
	pub game: Game,
	/// Parties already proven wrong (by the one-step check, or for not answering): they lose all
	/// their collateral when the dispute ends, whatever else is decided.
	pub convicted: BoundedVec<NodeId, T::MaxParties>,
	/// The one-step verdict the arbiters agreed on ([`StepVerdict::digest`]), once they have.
	pub step_verdict: Option<[u8; 32]>,
}

impl<T: Config> Dispute<T> {
	/// The current round's arbiters (still in good standing).
	pub fn round_arbiters(&self) -> &[NodeId] {
		self.arbiters.get(self.round_start as usize..).unwrap_or(&[])
	}

	/// How many leaves a verdict carries: the quorum size for Single and Sampling, 0 for
	/// Cross-Validation.
	pub fn leaves(&self) -> u32 {
		match self.claims.first().map(|c| &c.claim) {
			Some(ClaimedOutput::Quorum { n, .. }) => *n,
			_ => 0,
		}
	}

	/// Whether `node` is a party of the dispute.
	pub fn is_party(&self, node: NodeId) -> bool {
		self.claims.iter().any(|c| c.node == node)
	}

	/// The parties not convicted yet.
	pub fn survivors(&self) -> impl Iterator<Item = &Claim> {
		self.claims.iter().filter(|c| !self.convicted.contains(&c.node))
	}

	/// The side of a bisection `node` answers for: the index of its trace in `traces`.
	pub fn side_of(&self, node: NodeId, traces: &[Trace; 2]) -> Option<usize> {
		let claim = self.claims.iter().find(|c| c.node == node)?;
		if self.convicted.contains(&node) {
			return None;
		}
		traces.iter().position(|t| *t == claim.claim.trace())
	}
}

/// A committed trace: its root and its number of steps.
pub type Trace = ([u8; 32], u32);

/// Subtrees left of the bisected step that both sides agreed on: `(first step, steps, hash)`,
/// in the order the walk agreed them; at most one per tree level.
pub type AgreedRanges = BoundedVec<(u32, u32, [u8; 32]), ConstU32<32>>;

/// What the arbiters of a dispute decide.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub enum Game {
	/// They re-execute the whole request and report its output ([`Verdict`]): more than two
	/// traces disagree, or the output is too long to publish on chain.
	Full,
	/// The two sides walk their trace trees down to the first step where they differ.
	Bisection(Bisection),
	/// They compute the request up to one step and report it ([`StepVerdict`]).
	StepCheck(StepCheck),
}

/// A bisection in progress between the parties of two traces of the same length (sides 0 and
/// 1; any party of a side may answer for it).
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct Bisection {
	/// The two traces.
	pub traces: [Trace; 2],
	/// The node of the walk (`atoma_primitives::bisection`): an inner node with two children.
	pub level: u32,
	/// Its index in its level.
	pub index: u32,
	/// Each side's hash of that node: they differ.
	pub hashes: [[u8; 32]; 2],
	/// Each side's children of that node, once revealed in this turn.
	pub answers: [Option<([u8; 32], [u8; 32])>; 2],
	/// What both sides agreed on so far.
	pub agreed: AgreedRanges,
}

/// What a side claims of the bisected step.
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
pub enum StepClaim {
	/// This digest, proven against its trace root by the walk.
	Digest([u8; 32]),
	/// Its trace ends before this step (it has exactly `step` steps).
	Ends,
	/// Its trace goes on past this step (its digest is not checked).
	Continues,
}

impl StepClaim {
	/// Whether an honest decode whose step is `honest` (`None`: decoding ended before it) agrees.
	pub fn holds(&self, honest: Option<&[u8; 32]>) -> bool {
		match (self, honest) {
			(Self::Digest(d), Some(h)) => d == h,
			(Self::Ends, None) | (Self::Continues, Some(_)) => true,
			_ => false,
		}
	}
}

/// The one-step check after a bisection: the step, both sides' claims of it, and the prefix
/// they agreed on.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct StepCheck {
	/// The two traces, as in the bisection.
	pub traces: [Trace; 2],
	/// The step `k`: arbiters compute steps `0..=k`.
	pub step: u32,
	/// What each side claims of step `k`.
	pub claims: [StepClaim; 2],
	/// The agreed subtrees left of `k` (empty when the traces differ in length).
	pub agreed: AgreedRanges,
}

impl StepCheck {
	/// `atoma_primitives::bisection::prefix_digest` of the agreed subtrees.
	pub fn prefix(&self) -> [u8; 32] {
		let agreed: alloc::vec::Vec<_> = self.agreed.iter().copied().collect();
		prefix_digest(&agreed)
	}

	/// Whether `side`'s trace agrees with an arbiters' step verdict: the agreed prefix is honest
	/// and so is its claim of the step.
	pub fn side_holds(&self, side: usize, verdict: &StepVerdict) -> bool {
		verdict.step == self.step
			&& verdict.prefix == self.prefix()
			&& self.claims.get(side).is_some_and(|c| c.holds(verdict.step_digest.as_ref()))
	}
}

/// What an arbiter found at the bisected step by decoding the request up to it.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct StepVerdict {
	/// The step.
	pub step: u32,
	/// Its digest, or `None` when decoding ended before it.
	pub step_digest: Option<[u8; 32]>,
	/// `prefix_digest` of the arbiter's own hashes of the agreed subtrees.
	pub prefix: [u8; 32],
}

impl StepVerdict {
	/// `atoma_primitives::bisection::step_verdict_digest`: what the arbiter seals.
	pub fn digest(&self) -> [u8; 32] {
		step_verdict_digest(self.step, self.step_digest.as_ref(), &self.prefix)
	}
}

/// A side's answer to a bisection turn: the two children of the current node.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct BisectionPayload {
	/// The disputed request.
	pub request: RequestId,
	/// The answering party.
	pub node: NodeId,
	/// The node of the walk it answers for (a stale answer names another).
	pub level: u32,
	/// Its index.
	pub index: u32,
	/// Its left child's hash.
	pub left: [u8; 32],
	/// Its right child's hash.
	pub right: [u8; 32],
}

/// The domain tag of signed bisection answers.
pub const BISECTION_SIGNING_TAG: &[u8] = b"atoma/bisection-answer/v2";

impl BisectionPayload {
	/// The bytes the worker key signs on the chain `chain` (its genesis hash).
	pub fn signing_bytes(&self, chain: &atoma_support::worker_key::ChainId) -> alloc::vec::Vec<u8> {
		(BISECTION_SIGNING_TAG, chain, self).encode()
	}
}

/// A surviving party's publication of the output `O`.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxLen))]
pub struct OutputPayload<MaxLen: Get<u32>> {
	/// The disputed request.
	pub request: RequestId,
	/// The publishing party.
	pub node: NodeId,
	/// The canonical output `O` (`atoma_primitives::output`).
	pub output: BoundedVec<u8, MaxLen>,
}

/// The domain tag of signed output publications.
pub const OUTPUT_SIGNING_TAG: &[u8] = b"atoma/dispute-output/v2";

impl<MaxLen: Get<u32>> OutputPayload<MaxLen> {
	/// The bytes the worker key signs on the chain `chain` (its genesis hash).
	pub fn signing_bytes(&self, chain: &atoma_support::worker_key::ChainId) -> alloc::vec::Vec<u8> {
		(OUTPUT_SIGNING_TAG, chain, self).encode()
	}
}

/// An arbiter's vote: sealed first, revealed after every arbiter of the round has sealed or the
/// commit window closed.
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
#[scale_info(skip_type_params(MaxLeaves))]
pub enum Vote<MaxLeaves: Get<u32>> {
	/// `sealed_commitment(verdict digest, worker key)`.
	Sealed([u8; 32]),
	/// The verdict, once revealed (it opens the seal).
	Revealed(Verdict<MaxLeaves>),
	/// A one-step verdict, once revealed (it opens the seal).
	RevealedStep(StepVerdict),
}

impl<MaxLeaves: Get<u32>> Vote<MaxLeaves> {
	/// The digest a revealed vote opens its seal with; `None` for a seal.
	pub fn revealed_digest(&self) -> Option<[u8; 32]> {
		match self {
			Self::Sealed(_) => None,
			Self::Revealed(verdict) => Some(verdict.digest()),
			Self::RevealedStep(verdict) => Some(verdict.digest()),
		}
	}
}

/// What an arbiter's worker key signs, and the authorized call carries.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxLeaves))]
pub struct VotePayload<MaxLeaves: Get<u32>> {
	/// The disputed request.
	pub request: RequestId,
	/// The arbiter.
	pub node: NodeId,
	/// Its seal or its reveal.
	pub vote: Vote<MaxLeaves>,
}

/// The domain tag of signed arbiter votes: the signature covers `(tag, chain, payload)`.
pub const VOTE_SIGNING_TAG: &[u8] = b"atoma/arbiter-vote/v2";

impl<MaxLeaves: Get<u32>> VotePayload<MaxLeaves> {
	/// The bytes the worker key signs on the chain `chain` (its genesis hash).
	pub fn signing_bytes(&self, chain: &atoma_support::worker_key::ChainId) -> alloc::vec::Vec<u8> {
		(VOTE_SIGNING_TAG, chain, self).encode()
	}
}

/// Why a dispute ended without a winning output.
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
pub enum Dismissal {
	/// The governance origin found no fault.
	NoFaultFound,
	/// Governance did not decide before the final deadline.
	DeadlinePassed,
	/// A majority of the arbiters could not serve the request either (e.g. a by-hash input the
	/// user uploaded to some nodes only): nobody can be shown wrong.
	Unservable(UnservableReason),
}
