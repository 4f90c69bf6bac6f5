//! The worker key: an sr25519 key of its own key type (`atom`), kept in the operator's node
//! keystore. The off-chain worker signs commitments with it and the node signs VRF sortition
//! proofs with it; the operator registers its public half in the node record and may rotate it.
//!
//! Insert it with `atoma-node key insert --key-type atom --scheme sr25519 ...` or the
//! `author_insertKey` RPC.

use sp_core::crypto::KeyTypeId;

/// The keystore key type of worker keys.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"atom");

mod app {
	use sp_application_crypto::{app_crypto, sr25519};
	app_crypto!(sr25519, super::KEY_TYPE);
}

/// The worker key as an application key (typed by [`KEY_TYPE`]).
pub use app::{Pair as WorkerPair, Public as WorkerAppPublic, Signature as WorkerSignature};
