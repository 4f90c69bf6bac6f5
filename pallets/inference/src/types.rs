//! Records kept by the inference pallet: the request lifecycle and the commitments.

#![cfg_attr(not(test), deny(clippy::expect_used))]

pub use atoma_primitives::unservable::UnservableReason;
use atoma_primitives::SamplingParams;
use atoma_support::sortition::VrfProof;
use atoma_support::{
	inference::{CallerTag, OutputDestination, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::Saturating;

use crate::{pallet::BalanceOf, Config};

/// Where a request is in its life.
///
/// ```text
/// submit ─► AwaitingSelection ─(a later block)─► Executing { deadline } ─all agree─► settled
///                                                   │   │                 └─disagree─► Disputed
///                                                   │   └─ deadline: late nodes slashed, redrawn
///                                                   │      (or refund after MaxRedraws)
///                                                   └─ Cross-Validation, deadline: Revealing
///                                                      { deadline } ─► settled / Disputed
/// ```
/// Settled and failed requests leave `Requests`; a `RequestResult` remains.
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
pub enum Phase<BlockNumber> {
	/// Submitted; nodes are drawn in a later block.
	AwaitingSelection,
	/// Selected nodes run the request and commit until `deadline`.
	Executing {
		/// The block whose `on_initialize` closes the window: commitments count before it.
		deadline: BlockNumber,
	},
	/// Cross-Validation: the commit window closed; committed nodes reveal their output digest
	/// until `deadline`.
	Revealing {
		/// The block whose `on_initialize` closes the window: reveals count before it.
		deadline: BlockNumber,
	},
	/// The commitments disagree; a dispute decides. Funds stay held.
	Disputed,
	/// Late (or convicted) nodes were slashed and released; their replacements are drawn in
	/// `on_initialize` of block `at` (`SelectionDelay - 1` blocks later), from candidates frozen
	/// when the window closed, with randomness nobody had then. The nodes to replace stay in
	/// `nodes` (their quorum positions) and are in `excluded`.
	Redrawing {
		/// The block of the draw.
		at: BlockNumber,
	},
}

/// The input as stored: inline bytes or only their hash.
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
#[scale_info(skip_type_params(MaxLen))]
pub enum StoredInput<MaxLen: Get<u32>> {
	/// The prompt bytes.
	Inline(BoundedVec<u8, MaxLen>),
	/// Only the blake2-256 hash; the bytes go to the selected workers off chain.
	Hash([u8; 32]),
}

/// A request in flight.
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
pub struct Request<T: Config> {
	/// Who pays: the escrow is held on this account.
	pub owner: T::AccountId,
	/// The pallet that submitted it, told the outcome; `None` for a user's request.
	pub caller: Option<CallerTag>,
	/// The model to run.
	pub model: ModelId,
	/// The echelon whose nodes run it.
	pub echelon: EchelonId,
	/// The prompt, inline or by hash.
	pub input: StoredInput<T::MaxInputLen>,
	/// Tokens in the prompt.
	pub input_tokens: u32,
	/// Sampling parameters; `seed` is the chain's sampler seed from selection on.
	pub params: SamplingParams,
	/// Single, Sampling or Cross-Validation.
	pub mode: VerificationMode,
	/// Blocks each selected node has to commit.
	pub timeout: u32,
	/// Where the output goes.
	pub destination: OutputDestination,
	/// The echelon's price per token when the request was submitted.
	pub price_per_token: BalanceOf<T>,
	/// Held on `owner` under `HoldReason::RequestEscrow`: the fee of the maximum.
	pub escrow: BalanceOf<T>,
	/// The block of submission.
	pub submitted_at: BlockNumberFor<T>,
	/// Where the request is.
	pub phase: Phase<BlockNumberFor<T>>,
	/// The selection seed, from chain randomness and the request id; also the VRF input of
	/// Cross-Validation sortition. Zero until selection.
	pub selection_seed: [u8; 32],
	/// Publicly drawn nodes, by quorum position (Cross-Validation: the primary alone).
	pub nodes: BoundedVec<NodeId, T::MaxQuorum>,
	/// Cross-Validation verifiers that committed, in commit order.
	pub verifiers: BoundedVec<NodeId, T::MaxQuorum>,
	/// Cross-Validation sortition threshold (see `atoma_support::sortition`).
	pub sortition_threshold: u128,
	/// Nodes that timed out on this request; never drawn for it again.
	pub excluded: BoundedVec<NodeId, crate::MaxExcludedOf<T>>,
	/// Rounds of replacements so far; at most `MaxRedraws`.
	pub redraws: u32,
}

impl<T: Config> Request<T> {
	/// The first block in which a node may attest that the request's input is unavailable: the
	/// middle of the commit window (the user uploads a by-hash input to the selected workers
	/// once it sees them). `None` outside a commit window.
	pub fn attest_unavailable_from(&self) -> Option<BlockNumberFor<T>> {
		match self.phase {
			Phase::Executing { deadline } => {
				let half: BlockNumberFor<T> = (self.timeout / 2).into();
				Some(deadline.saturating_sub(half))
			},
			_ => None,
		}
	}
}

/// A node's commitment to its output.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub enum Commitment {
	/// Single and Sampling: `(root, leaf_i)` of `atoma_primitives::commitment`.
	Quorum {
		/// The quorum root.
		root: [u8; 32],
		/// This node's leaf `H(O ‖ i)`.
		leaf: [u8; 32],
		/// Prompt tokens the node's worker counted (at most the declared count).
		input_tokens: u32,
		/// Tokens generated.
		output_tokens: u32,
		/// The Merkle root of its step digests (`atoma_primitives::trace`), one per token.
		trace_root: [u8; 32],
	},
	/// Cross-Validation: a sealed digest, and the digest once revealed.
	Sealed {
		/// `sealed_commitment(H(O), worker key)`.
		sealed: [u8; 32],
		/// Prompt tokens the node's worker counted (at most the declared count).
		input_tokens: u32,
		/// Tokens generated.
		output_tokens: u32,
		/// The Merkle root of its step digests.
		trace_root: [u8; 32],
		/// `H(O)`, once revealed.
		revealed: Option<[u8; 32]>,
	},
	/// The node attests that nobody can serve the request ([`UnservableReason`]).
	Unservable {
		/// Why.
		reason: UnservableReason,
	},
}

impl Commitment {
	/// Whether the commitment still waits for its reveal (a Cross-Validation seal): every other
	/// commitment is final as it stands.
	pub fn awaits_reveal(&self) -> bool {
		matches!(self, Self::Sealed { revealed: None, .. })
	}

	/// The reason, if this is an "unservable" attestation.
	pub fn unservable(&self) -> Option<UnservableReason> {
		match self {
			Self::Unservable { reason } => Some(*reason),
			_ => None,
		}
	}
}

/// What a worker key signs, and the authorized call carries.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct CommitmentPayload {
	/// The request.
	pub request: RequestId,
	/// The committing node.
	pub node: NodeId,
	/// What it commits.
	pub kind: CommitmentKind,
}

/// The domain tag of signed commitment payloads: the signature covers `(tag, chain, payload)`.
pub const COMMITMENT_SIGNING_TAG: &[u8] = b"atoma/commitment-payload/v3";

impl CommitmentPayload {
	/// The bytes the worker key signs on the chain `chain` (its genesis hash).
	pub fn signing_bytes(&self, chain: &atoma_support::worker_key::ChainId) -> alloc::vec::Vec<u8> {
		(COMMITMENT_SIGNING_TAG, chain, self).encode()
	}
}

/// The kinds of commitment.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum CommitmentKind {
	/// Single or Sampling: `(root, leaf_i)` at the node's quorum position.
	Quorum {
		/// The quorum root.
		root: [u8; 32],
		/// The node's leaf.
		leaf: [u8; 32],
		/// Prompt tokens its worker counted: the fee is charged on them. At most the declared
		/// count (a worker refuses a prompt with more, and the node attests it unservable).
		input_tokens: u32,
		/// Tokens generated.
		output_tokens: u32,
		/// The Merkle root of its step digests: a dispute bisects disagreeing traces.
		trace_root: [u8; 32],
	},
	/// Cross-Validation, primary or verifier: the sealed digest. A verifier proves its private
	/// selection with its VRF signature over the request's selection seed.
	Sealed {
		/// `sealed_commitment(H(O), worker key)`.
		sealed: [u8; 32],
		/// Prompt tokens its worker counted: the fee is charged on them (at most the declared
		/// count).
		input_tokens: u32,
		/// Tokens generated.
		output_tokens: u32,
		/// The Merkle root of its step digests. It tells a copier nothing of `H(O)`.
		trace_root: [u8; 32],
		/// The sortition proof; required of verifiers, ignored for the primary.
		vrf: Option<VrfProof>,
	},
	/// Cross-Validation, after the commit window: the output digest `H(O)`.
	Reveal {
		/// `H(O)`.
		output_digest: [u8; 32],
	},
	/// A selected node (any mode; never a Cross-Validation verifier, which simply does not join)
	/// attests that the request cannot be served: its input was never uploaded to the node's
	/// worker, its prompt does not fit the context or has more tokens than declared, or the model
	/// refuses it. `InputUnavailable` counts only from the middle of the commit window on, so
	/// that a user has time to upload to the selected workers.
	Unservable {
		/// Why.
		reason: UnservableReason,
	},
}

/// What remains of a settled request: what a user needs to check an output against the chain.
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
pub struct RequestResult<T: Config> {
	/// The request's owner.
	pub owner: T::AccountId,
	/// How it was verified.
	pub mode: VerificationMode,
	/// The quorum root (Single, Sampling) or the output digest `H(O)` (Cross-Validation).
	pub output_commitment: [u8; 32],
	/// Tokens generated.
	pub output_tokens: u32,
	/// The nodes that executed and were paid, by quorum position (Cross-Validation: primary
	/// first).
	pub nodes: BoundedVec<NodeId, crate::MaxExecutionsOf<T>>,
	/// The sampler seed the nodes used.
	pub sampler_seed: u64,
	/// Where the output goes.
	pub destination: OutputDestination,
	/// The block of settlement.
	pub settled_at: BlockNumberFor<T>,
}

/// Why a request ended without a result.
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
pub enum FailureReason {
	/// Too few eligible nodes at selection or for a redraw.
	NoEligibleNodes,
	/// Nodes timed out more than `MaxRedraws` times.
	TimedOut,
	/// No deadline slot was free.
	Overloaded,
	/// The Cross-Validation primary did not reveal.
	PrimaryDidNotReveal,
	/// The commitments disagreed but no dispute could be opened (the dispute manager was full):
	/// everyone is released and the user refunded rather than funds held with nothing to end it.
	DisputeUnavailable,
}

/// What expires after a retention period.
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
pub enum Expiring {
	/// A settled request's `RequestResult` (and its output, if still published).
	Result,
	/// An output published on chain.
	Output,
}
