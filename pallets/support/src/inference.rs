//! What an inference request is, for the inference pallet and for other pallets that request
//! inference through it (this chain's smart-contract requests, whitepaper §2.4).

use alloc::vec::Vec;

use atoma_primitives::{
	unservable::{unservable_digest, UnservableReason},
	SamplingParams,
};
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

	/// Whether `request` is still in flight: awaiting selection, executing or disputed. A request
	/// that is not has ended, and its caller has been told how.
	fn in_flight(request: RequestId) -> bool;

	/// For callers' benchmarks: a request `payer` can afford that costs
	/// [`Self::request_inference`] its worst case (the largest inline input and quorum, every
	/// candidate node checked), with the nodes and model it needs set up.
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_worst_case_spec(payer: &AccountId) -> RequestSpec;
}

/// Told when a request submitted by a pallet ends (configured in the inference pallet).
pub trait OnInferenceOutcome {
	/// `request` of `caller` ended with `outcome`; returns the weight used, at most
	/// [`Self::max_weight`].
	fn on_outcome(caller: CallerTag, request: RequestId, outcome: &InferenceOutcome) -> Weight;

	/// The most one [`Self::on_outcome`] can weigh: the inference pallet charges it wherever a
	/// request may end (a settling commitment, a closing window, a concluded dispute).
	fn max_weight() -> Weight;
}

impl OnInferenceOutcome for () {
	fn on_outcome(_: CallerTag, _: RequestId, _: &InferenceOutcome) -> Weight {
		Weight::zero()
	}

	fn max_weight() -> Weight {
		Weight::zero()
	}
}

/// What one party of a dispute committed to (protocol §9).
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub enum ClaimedOutput {
	/// Single or Sampling: the node's `(root, leaf)` at its 0-based `position` in a quorum of
	/// `n`.
	Quorum {
		/// The node's quorum position.
		position: u32,
		/// The quorum size, bound into the root.
		n: u32,
		/// The quorum root it committed.
		root: [u8; 32],
		/// Its leaf `H(O ‖ position)`.
		leaf: [u8; 32],
		/// Tokens it says it generated.
		output_tokens: u32,
		/// The root of its trace (`atoma_primitives::trace`): one step digest per token.
		trace_root: [u8; 32],
	},
	/// Cross-Validation: the output digest `H(O)` it revealed.
	Digest {
		/// `H(O)`.
		digest: [u8; 32],
		/// Tokens it says it generated.
		output_tokens: u32,
		/// The root of its trace.
		trace_root: [u8; 32],
	},
	/// Any mode: it attested that nobody can serve the request. Its "output" is
	/// `atoma_primitives::unservable::unservable_digest(reason)`, with no tokens and no trace.
	Unservable {
		/// Why.
		reason: UnservableReason,
	},
}

impl ClaimedOutput {
	/// Whether this claim is what a node running the model honestly would have committed, given
	/// the winning verdict: the output digest `H(O)`, the token count and the quorum leaves
	/// `H(O ‖ i)` of `O` (one per quorum position; empty for Cross-Validation).
	pub fn matches(&self, digest: &[u8; 32], tokens: u32, leaves: &[[u8; 32]]) -> bool {
		match self {
			Self::Quorum { position, n, root, leaf, output_tokens, .. } => {
				*output_tokens == tokens
					&& leaves.len() == *n as usize
					&& leaves.get(*position as usize) == Some(leaf)
					&& atoma_primitives::commitment::root_matches_leaves(root, leaves)
			},
			Self::Digest { digest: claimed, output_tokens, .. } => {
				*output_tokens == tokens && claimed == digest
			},
			Self::Unservable { reason } => tokens == 0 && *digest == unservable_digest(*reason),
		}
	}

	/// The output this claim stands for: the quorum root, `H(O)`, or the digest of its
	/// "unservable" reason. Claims of one output have equal values.
	pub fn output(&self) -> [u8; 32] {
		match self {
			Self::Quorum { root, .. } => *root,
			Self::Digest { digest, .. } => *digest,
			Self::Unservable { reason } => unservable_digest(*reason),
		}
	}

	/// Whether this is an "unservable" attestation, which has no trace to bisect.
	pub fn is_unservable(&self) -> bool {
		matches!(self, Self::Unservable { .. })
	}

	/// The trace it committed: its root and its number of steps (the claimed token count).
	pub fn trace(&self) -> ([u8; 32], u32) {
		match self {
			Self::Quorum { trace_root, output_tokens, .. }
			| Self::Digest { trace_root, output_tokens, .. } => (*trace_root, *output_tokens),
			// No steps, and a root no trace has: an attestation is never bisected.
			Self::Unservable { reason } => (unservable_digest(*reason), 0),
		}
	}
}

/// A party of a dispute and its claim.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct Claim {
	/// The node.
	pub node: NodeId,
	/// What it committed to.
	pub claim: ClaimedOutput,
}

/// Everything the disputes pallet needs to know of a disagreement when it opens.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct DisputeCase<AccountId> {
	/// The request's owner: refunded in full, and paid the user's share of the cheaters'
	/// collateral.
	pub user: AccountId,
	/// The model the request ran; arbiters serve it.
	pub model: ModelId,
	/// The echelon the request ran in; arbiters come from it.
	pub echelon: EchelonId,
	/// Every node that committed, with what it committed.
	pub claims: Vec<Claim>,
}

/// Opens a dispute over disagreeing commitments (implemented by the disputes pallet).
pub trait DisputeManager<AccountId> {
	/// The committed nodes of `request` disagree; the request stays disputed, escrow and
	/// reservations held, until the dispute concludes it through [`DisputedRequests`].
	fn open_dispute(request: RequestId, case: DisputeCase<AccountId>) -> DispatchResult;

	/// The most [`Self::open_dispute`] can weigh; charged by the caller.
	fn open_dispute_weight() -> Weight;

	/// Whether `node` has a duty in the dispute over `request` (a party or an arbiter): it may
	/// read the request's by-hash input from a party's worker to re-execute it.
	fn has_duty(request: RequestId, node: NodeId) -> bool;
}

/// Without a disputes pallet a disputed request simply waits, funds held (tests of the inference
/// pallet alone).
impl<AccountId> DisputeManager<AccountId> for () {
	fn open_dispute(_: RequestId, _: DisputeCase<AccountId>) -> DispatchResult {
		Ok(())
	}

	fn open_dispute_weight() -> Weight {
		Weight::zero()
	}

	fn has_duty(_: RequestId, _: NodeId) -> bool {
		false
	}
}

/// How a dispute ended, for the request it was about.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct DisputeOutcome {
	/// The winning output's commitment, as a settled request records it: the quorum root
	/// (Single, Sampling) or `H(O)` (Cross-Validation). `None`: no output won (governance found
	/// no fault, or the dispute ran out of time).
	pub output_commitment: Option<[u8; 32]>,
	/// Tokens of the winning output.
	pub output_tokens: u32,
	/// The parties whose claims match the winning output.
	pub honest: Vec<NodeId>,
}

/// The disputed requests, as the disputes pallet concludes them (implemented by the inference
/// pallet).
pub trait DisputedRequests<AccountId> {
	/// End the disputed `request`: refund its escrow in full, release every party's reservation,
	/// record the winning output (if any) and tell the caller pallet. Slashing is the disputes
	/// pallet's. Fails if `request` is not disputed.
	fn conclude_dispute(request: RequestId, outcome: DisputeOutcome) -> DispatchResult;

	/// The most [`Self::conclude_dispute`] can weigh.
	fn conclude_dispute_weight() -> Weight;

	/// `node` lost all its collateral in a dispute: take its other jobs from it. Jobs still in
	/// their commit window get fresh nodes in later blocks, so the users whose requests it held
	/// wait for no deadline and no output rests on a node with nothing at stake. Queues the node
	/// (one storage read and write).
	fn redraw_jobs_of_convicted(node: NodeId);

	/// The job an arbiter's off-chain worker posts to its inference worker to re-execute the
	/// disputed `request` (the JSON body of `POST /v1/jobs`: the request's prompt, parameters
	/// and sampler seed), generating at most `max_output_tokens` (the request's own limit when
	/// `None` or larger: a one-step check after bisection stops at the bisected step); `None` if
	/// `request` is not disputed. Off-chain only.
	fn arbitration_job(request: RequestId, max_output_tokens: Option<u32>) -> Option<Vec<u8>>;

	/// The hash of the disputed `request`'s input, when it was given by hash, and the nodes
	/// whose workers may have it (those the request selected): an arbiter whose worker lacks the
	/// input reads it from one of them. Off-chain only.
	fn input_holders(request: RequestId) -> Option<([u8; 32], Vec<NodeId>)>;

	/// For the disputes pallet's benchmarks: `subscribers` fresh eligible nodes serving a fresh
	/// model, and a request of `user` run by `parties` of them whose commitments all disagree, so
	/// that it is disputed ([`DisputeManager::open_dispute`] has been called).
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_disputed_request(user: &AccountId, parties: u32, subscribers: u32) -> RequestId;
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

/// A read of a request's by-hash input from a peer's worker, as the serving node asks the runtime
/// to authorize it (`atoma_primitives::input_read`).
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct InputRead {
	/// The request.
	pub request: RequestId,
	/// The input's hash.
	pub input_hash: [u8; 32],
	/// The reader's worker key.
	pub reader: crate::WorkerPublic,
	/// Unix seconds when the reader signed (the serving node checks them against its clock).
	pub timestamp: u64,
	/// The reader's signature of `atoma_primitives::input_read::signing_bytes`.
	pub signature: sp_core::sr25519::Signature,
	/// A Cross-Validation verifier's VRF sortition proof.
	pub vrf: Option<crate::sortition::VrfProof>,
}

/// Why a node may not read a request's by-hash input from a peer's worker (inference runtime API
/// `authorize_input_read`; `atoma_primitives::input_read`).
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum InputReadRefusal {
	/// No such request in flight.
	UnknownRequest,
	/// The request's input is inline, or has another hash.
	NotThisInput,
	/// The signature does not verify under the reader's key for this chain.
	BadSignature,
	/// The reader's key is no registered node's current worker key.
	UnknownReader,
	/// The reader holds no role in the request: not selected, not a verifier with a winning
	/// VRF proof, no duty in its dispute.
	NoRole,
	/// A verifier may read only once the primary's commitment is on chain: its read would tell
	/// the primary that it is verified.
	PrimaryNotCommitted,
}
