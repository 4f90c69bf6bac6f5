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

/// What a worker-key signature binds besides its payload: the chain's genesis hash, so that a
/// commitment, vote or answer signed for one chain (a testnet, a fork with its own genesis) is
/// never valid on another where the same key serves. Each signed payload's bytes are
/// `SCALE(tag, chain, payload)`.
pub type ChainId = [u8; 32];

/// The [`ChainId`] of a genesis hash (`frame_system`'s block hash of block 0).
pub fn chain_id(genesis_hash: impl AsRef<[u8]>) -> ChainId {
	let mut id = [0u8; 32];
	for (slot, byte) in id.iter_mut().zip(genesis_hash.as_ref()) {
		*slot = *byte;
	}
	id
}
