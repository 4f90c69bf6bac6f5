//! The inference pallet's runtime API: what clients and the node ask the runtime.
//!
//! - `quote`: the escrow a request would hold now (the fee of its maximum).
//! - `min_replication_rate` and `tamper_probability`: the Cross-Validation economics of the
//!   whitepaper's Appendix A (Corollary 1) and the Sampling Consensus tamper bound `r^n`.
//! - `sortition_tasks`: Cross-Validation requests in their commit window, for the node's VRF task
//!   (node obfuscation: each node evaluates its own VRF natively and keeps the proof off chain).
//! - `authorize_input_read` (version 2): whether a node may read a request's by-hash input from
//!   another node's worker (`atoma_primitives::input_read`); the serving worker's node asks it.
//! - `jobs_awaiting_output` and `commit_finished_job` (version 3): the node's job finisher commits
//!   a job the moment its worker finishes it, between blocks (`node/src/job_finisher.rs`). Both
//!   read the node's offchain storage, and the second signs and submits: the node calls them with
//!   the offchain database, keystore and transaction pool extensions registered. Over RPC
//!   (`state_call`) nothing registers them, so there they fail: nobody outside the node reads
//!   its jobs or makes it commit (`node/tests/inference_e2e.rs` checks it).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;

use atoma_support::{
	inference::{InputRead, InputReadRefusal, SortitionTask, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use sp_runtime::{Perbill, Perquintill};

sp_api::decl_runtime_apis! {
	/// The Atoma inference API.
	#[api_version(3)]
	pub trait InferenceApi<Balance> where Balance: codec::Codec {
		/// The escrow of a request for `model` in `echelon` with `input_tokens` and at most
		/// `max_output_tokens`, verified by `mode`, at the echelon's current price; `None` if the
		/// echelon has no price or the fee overflows.
		fn quote(
			model: ModelId,
			echelon: EchelonId,
			input_tokens: u32,
			max_output_tokens: u32,
			mode: VerificationMode,
		) -> Option<Balance>;

		/// The least replication rate that makes honesty the unique Nash equilibrium:
		/// `C / ((1 - r)(R + S))` (whitepaper Corollary 1).
		fn min_replication_rate(cost: Balance, reward: Balance, collateral: Balance, control: Perbill) -> Perquintill;

		/// The probability `r^n` that a party controlling a share `r` of the nodes tampers with an
		/// `n`-node quorum.
		fn tamper_probability(control: Perbill, n: u32) -> Perquintill;

		/// Cross-Validation requests whose commit window is open.
		fn sortition_tasks() -> Vec<SortitionTask>;

		/// Whether the reader of `read` may read the by-hash input it names from another node's
		/// worker: its signature must sign `atoma_primitives::input_read::signing_bytes` at its
		/// timestamp (the caller checks the time against its clock), and the reader must hold a
		/// role in the request (selected, a joined verifier, a duty in its dispute, or a verifier
		/// seat its VRF proof wins). Since version 2.
		fn authorize_input_read(read: InputRead) -> Result<(), InputReadRefusal>;

		/// The jobs this node's off-chain worker handed to its inference worker and still waits
		/// on: `(request, node, worker job id)`, from the node's offchain storage.
		#[api_version(3)]
		fn jobs_awaiting_output() -> Vec<(RequestId, NodeId, Vec<u8>)>;

		/// Commit a finished job now: `job_view` and `output_view` are the worker's
		/// `GET /v1/jobs/{job}` and `GET /v1/outputs/{job}` bodies. Whether a commitment went to
		/// the transaction pool (`false`: the off-chain worker takes it from here).
		#[api_version(3)]
		fn commit_finished_job(
			request: RequestId,
			node: NodeId,
			job: Vec<u8>,
			job_view: Vec<u8>,
			output_view: Vec<u8>,
		) -> bool;
	}
}
