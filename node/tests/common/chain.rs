//! Reading and writing the chain over JSON-RPC, for the end-to-end tests: storage keys of the
//! pallets' maps and signed submissions.

use atoma_support::{NodeId, RequestId};
use codec::Encode;
use serde_json::json;
use sp_core::sr25519;

use super::{hex_encode, Rpc};

pub fn value_key(pallet: &[u8], item: &[u8]) -> Vec<u8> {
	let mut key = sp_crypto_hashing::twox_128(pallet).to_vec();
	key.extend(sp_crypto_hashing::twox_128(item));
	key
}

/// Submit `call` signed by `signer` and wait until it is in a block.
pub fn submit(rpc: &Rpc, signer: &sr25519::Pair, call: atoma_runtime::RuntimeCall, nonce: u32) {
	let xt = super::sign_call(rpc, signer, call, nonce);
	rpc.call("author_submitExtrinsic", json!([hex_encode(&xt.encode())]));
}

/// `Inference::Results` storage key of `request`: twox128 ++ twox128 ++ twox64_concat.
pub fn result_key(request: RequestId) -> String {
	let mut key = sp_crypto_hashing::twox_128(b"Inference").to_vec();
	key.extend(sp_crypto_hashing::twox_128(b"Results"));
	let encoded = request.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// `Inference::Requests` storage key of `request`.
pub fn request_key(request: RequestId) -> String {
	let mut key = value_key(b"Inference", b"Requests");
	let encoded = request.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// `NodeRegistry::Nodes` storage key of `node`.
pub fn node_key(node: NodeId) -> String {
	let mut key = value_key(b"NodeRegistry", b"Nodes");
	let id = node.encode();
	key.extend(sp_crypto_hashing::twox_64(&id));
	key.extend(id);
	hex_encode(&key)
}

/// `System::Account` storage key of `who`.
pub fn account_key(who: &atoma_runtime::AccountId) -> String {
	let mut key = value_key(b"System", b"Account");
	let encoded = who.encode();
	key.extend(sp_crypto_hashing::blake2_128(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// `Disputes::Disputes` storage key of the dispute over `request`.
pub fn dispute_key(request: RequestId) -> String {
	let mut key = value_key(b"Disputes", b"Disputes");
	let encoded = request.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}
