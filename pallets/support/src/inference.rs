//! What an inference request is, for the inference pallet and for other pallets that request
//! inference through it (this chain's smart-contract requests, whitepaper §2.4).

use alloc::vec::Vec;

use atoma_primitives::SamplingParams;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::weights::Weight;
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, DispatchResult, Perbill};

use crate::{EchelonId, ModelId, NodeId, RequestId};

/// How many nodes execute a request and how their outputs are compared (protocol §5).
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
pub enum VerificationMode {
	/// One node, no verification: native cost.
	Single,
	/// Sampling Consensus: `n` nodes drawn publicly; settles when all `n` commitments agree.
	Sampling {
		/// Quorum size, at least 2.
		n: u32,
	},
	/// Cross-Validation: one primary drawn publicly, and in expectation `p x n` verifiers chosen
	/// privately by VRF sortition (node obfuscation).
	CrossValidation {
		/// Verifier quorum size, at least 1.
		n: u32,
		/// Replication rate.
		p: Perbill,
	},
}

impl VerificationMode {
	/// The most nodes that may execute the request (and be paid).
	pub fn max_executions(&self) -> u32 {
		match self {
			Self::Single => 1,
			Self::Sampling { n } => *n,
			Self::CrossValidation { n, .. } => n.saturating_add(1),
		}
	}

	/// How many nodes are drawn publicly at selection.
	pub fn public_nodes(&self) -> u32 {
		match self {
			Self::Single | Self::CrossValidation { .. } => 1,
			Self::Sampling { n } => *n,
		}
	}
}

/// Where the output goes (protocol §5).
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
pub enum OutputDestination {
	/// Published on chain after settlement (small outputs), checked against the commitments.
	OnChain,
	/// Kept by the executing workers for the user to fetch with its proof.
	Worker,
}

/// The input of a request.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum RequestInput {
	/// The prompt bytes (UTF-8), carried in the transaction; bounded by the pallet's
	/// `MaxInputLen`.
	Inline(Vec<u8>),
	/// Only the blake2-256 hash of the prompt; the user uploads the bytes to the selected workers,
	/// which check the hash.
	Hash([u8; 32]),
}

/// Everything a request names, as another pallet submits it.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct RequestSpec {
	/// The model to run.
	pub model: ModelId,
	/// The echelon whose nodes run it.
	pub echelon: EchelonId,
	/// The prompt, inline or by hash.
	pub input: RequestInput,
	/// Tokens in the prompt, as the model's tokenizer counts them (the fee is charged on them).
	pub input_tokens: u32,
	/// Sampling parameters; `seed` is replaced by the chain's sampler seed at selection.
	pub params: SamplingParams,
	/// Single, Sampling or Cross-Validation.
	pub mode: VerificationMode,
	/// Blocks each selected node has to commit.
	pub timeout: u32,
	/// Where the output goes.
	pub destination: OutputDestination,
}

/// A pallet that asked for inference identifies itself with an 8-byte tag (like a `PalletId`);
/// the runtime routes outcomes by it.
pub type CallerTag = [u8; 8];

/// How a request ended.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum InferenceOutcome {
	/// The nodes agreed: `output_commitment` is the quorum root (Single, Sampling) or the output
	/// digest `H(O)` (Cross-Validation); `nodes` executed it.
	Settled {
		/// The quorum root or `H(O)`.
		output_commitment: [u8; 32],
		/// Tokens generated.
		output_tokens: u32,
		/// The executing nodes.
		nodes: Vec<NodeId>,
	},
	/// No result: the escrow was refunded.
	Failed,
	/// The nodes disagreed: a dispute decides.
	Disputed,
}

/// Other pallets request inference through this (implemented by the inference pallet).
pub trait InferenceRequester<AccountId> {
	/// Submit `spec`, paid and escrowed by `payer`; `caller` is told the outcome through
	/// [`OnInferenceOutcome`].
	fn request_inference(
		payer: &AccountId,
		spec: RequestSpec,
		caller: CallerTag,
	) -> Result<RequestId, DispatchError>;
}

/// Told when a request submitted by a pallet ends (configured in the inference pallet).
pub trait OnInferenceOutcome {
	/// `request` of `caller` ended with `outcome`; returns the weight used.
	fn on_outcome(caller: CallerTag, request: RequestId, outcome: &InferenceOutcome) -> Weight;
}

impl OnInferenceOutcome for () {
	fn on_outcome(_: CallerTag, _: RequestId, _: &InferenceOutcome) -> Weight {
		Weight::zero()
	}
}

/// Opens a dispute over disagreeing commitments (implemented by the disputes pallet).
pub trait DisputeManager {
	/// The nodes of `request` disagree; the request stays disputed, escrow held, until the
	/// dispute resolves.
	fn open_dispute(request: RequestId, parties: &[NodeId]) -> DispatchResult;
}

/// Without a disputes pallet a disputed request simply waits, funds held.
impl DisputeManager for () {
	fn open_dispute(_: RequestId, _: &[NodeId]) -> DispatchResult {
		Ok(())
	}
}

/// A Cross-Validation request in its commit window: what a node needs to evaluate its VRF
/// sortition (served to the node by the inference runtime API).
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct SortitionTask {
	/// The request.
	pub request: RequestId,
	/// Its selection seed (the VRF input, with the request id).
	pub seed: [u8; 32],
	/// Scores at most this select the node (see [`crate::sortition::is_selected`]).
	pub threshold: u128,
	/// The model to run.
	pub model: ModelId,
	/// The echelon whose nodes may verify.
	pub echelon: EchelonId,
	/// The primary, which cannot verify itself.
	pub primary: NodeId,
}
