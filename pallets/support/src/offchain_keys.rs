//! Keys of the node's offchain storage that the node and the off-chain worker share.

use alloc::vec::Vec;

use codec::Encode;

use crate::{RequestId, WorkerPublic};

/// The inference worker's base URL (SCALE `Vec<u8>`), written by the node from
/// `--inference-worker-url`, read by the off-chain worker.
pub const WORKER_URL_KEY: &[u8] = b"atoma/worker-url";

/// Prefix of the VRF sortition proofs the node's sortition task writes for the off-chain worker.
pub const PROOF_PREFIX: &[u8] = b"atoma/sortition-proof/";

/// The key of the proof of `key` for `request`: `PROOF_PREFIX ‖ SCALE(request) ‖ public key`.
pub fn proof_key(request: RequestId, key: &WorkerPublic) -> Vec<u8> {
	let mut out = PROOF_PREFIX.to_vec();
	out.extend(request.encode());
	out.extend_from_slice(&key.0);
	out
}

/// The Cross-Validation requests in their commit window whose sortition selects one of this
/// node's worker keys, as of the best block (SCALE `Vec<(RequestId, WorkerPublic)>`): rewritten
/// by the node's sortition task on every new best block, read by the off-chain worker, which
/// finds its public jobs on chain (`Assignments`) and its secret verifier seats only here.
pub const VERIFIER_SEATS_KEY: &[u8] = b"atoma/verifier-seats";

/// What the node registry's off-chain worker last found of this node's inference worker (SCALE
/// `Vec<(NodeId, worker's execution profile, echelon's pinned profile)>`): read by the node for
/// its `atoma_worker_profile_matches` metric.
pub const PROFILE_STATUS_KEY: &[u8] = b"atoma/profile-status";
