//! Records kept by the disputes pallet: the dispute lifecycle, arbiters' votes and what they sign.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_primitives::commitment::{commitment_root, verdict_digest};
use atoma_support::{
	inference::{Claim, ClaimedOutput},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;

use crate::Config;

/// Where a dispute is in its life. Each phase ends at its block (processed in that block's
/// `on_initialize`), or earlier when every arbiter of the round has acted.
///
/// ```text
/// open ─► AwaitingDraw ─(fresh randomness)─► Committing ─all sealed / deadline─► Revealing
///            ▲                                   │ none drawn                      │
///            │ no majority, rounds left          ▼                                 ▼
///            └──────────────────────────── tally of revealed verdicts ◄────────────┘
///                                              │ majority that matches a party (or of a
///                                              │ later round) ─► resolved:
///                                              │   cheaters lose all collateral, user refunded
///                                              └ no majority, last round ─► AwaitingGovernance
///                                                   governance decides, or at its deadline:
///                                                   dismissed (refund, nobody slashed)
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
}

impl<BlockNumber: Copy> DisputePhase<BlockNumber> {
	/// The block at which the phase ends unless something happens first.
	pub fn ends_at(&self) -> BlockNumber {
		match *self {
			Self::AwaitingDraw { at } => at,
			Self::Committing { deadline }
			| Self::Revealing { deadline }
			| Self::AwaitingGovernance { deadline } => deadline,
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

/// The domain tag of signed arbiter votes: the signature covers `(tag, payload)`.
pub const VOTE_SIGNING_TAG: &[u8] = b"atoma/arbiter-vote/v1";

impl<MaxLeaves: Get<u32>> VotePayload<MaxLeaves> {
	/// The bytes the worker key signs.
	pub fn signing_bytes(&self) -> alloc::vec::Vec<u8> {
		(VOTE_SIGNING_TAG, self).encode()
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
}
