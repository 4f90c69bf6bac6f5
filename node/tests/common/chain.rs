//! Reading and writing the chain over JSON-RPC, for the end-to-end tests: storage keys of the
//! pallets' maps and signed submissions.

use atoma_support::{NodeId, RequestId};
use codec::Encode;
use serde_json::json;
use sp_core::sr25519;

use super::{hex_encode, Rpc};

/// The storage key of a plain value: `twox128(pallet) ++ twox128(item)`.
pub fn value_key(pallet: &[u8], item: &[u8]) -> Vec<u8> {
	let mut key = sp_crypto_hashing::twox_128(pallet).to_vec();
	key.extend(sp_crypto_hashing::twox_128(item));
	key
}

/// The storage key (hex) of a `Twox64Concat` map entry.
fn twox64_map_key(pallet: &[u8], item: &[u8], map_key: impl Encode) -> String {
	let mut key = value_key(pallet, item);
	let encoded = map_key.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// Submit `call`, signed by `signer` with `nonce`, to the node's transaction pool.
pub fn submit(rpc: &Rpc, signer: &sr25519::Pair, call: atoma_runtime::RuntimeCall, nonce: u32) {
	let xt = super::sign_call(rpc, signer, call, nonce);
	rpc.call("author_submitExtrinsic", json!([hex_encode(&xt.encode())]));
}

/// `Inference::Results` storage key of `request`.
pub fn result_key(request: RequestId) -> String {
	twox64_map_key(b"Inference", b"Results", request)
}

/// `Inference::Outputs` storage key of `request` (outputs published on chain).
pub fn output_key(request: RequestId) -> String {
	twox64_map_key(b"Inference", b"Outputs", request)
}

/// `Inference::Requests` storage key of `request`.
pub fn request_key(request: RequestId) -> String {
	twox64_map_key(b"Inference", b"Requests", request)
}

/// `NodeRegistry::Nodes` storage key of `node`.
pub fn node_key(node: NodeId) -> String {
	twox64_map_key(b"NodeRegistry", b"Nodes", node)
}

/// `ModelRegistry::IndexPositions` storage key of (`node`, `model`): present once the node is in
/// the model's draw index (`IndexDelay` blocks after it subscribed).
pub fn indexed_key(node: NodeId, model: &atoma_support::ModelId) -> String {
	let mut key = value_key(b"ModelRegistry", b"IndexPositions");
	let encoded = node.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	let encoded = model.encode();
	key.extend(sp_crypto_hashing::blake2_128(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// `Disputes::Disputes` storage key of the dispute over `request`.
pub fn dispute_key(request: RequestId) -> String {
	twox64_map_key(b"Disputes", b"Disputes", request)
}

/// `System::Account` storage key of `who`.
pub fn account_key(who: &atoma_runtime::AccountId) -> String {
	let mut key = value_key(b"System", b"Account");
	let encoded = who.encode();
	key.extend(sp_crypto_hashing::blake2_128(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}
