//! Node obfuscation, the node's half (protocol §6): for every Cross-Validation request in its
//! commit window, evaluate the VRF sortition natively with each worker key in the keystore, and
//! hand the proofs of the keys it selects to the off-chain worker through offchain storage.
//!
//! The runtime cannot VRF-sign (there is no host function for it), so this runs in the node,
//! next to the keystore. A node learns only its own selection: the proof is written to this
//! node's local offchain database, never gossiped, until the off-chain worker attaches it to the
//! sealed commitment it submits. The runtime verifies it with the same
//! `atoma_support::sortition` functions.

use std::sync::Arc;

use atoma_inference_runtime_api::InferenceApi;
use atoma_runtime::{opaque::Block, Balance};
use atoma_support::{
	inference::SortitionTask,
	sortition::{self, VrfProof},
	worker_key::KEY_TYPE,
	RequestId, WorkerPublic,
};
use codec::Encode;
use futures::StreamExt;
use sc_client_api::{Backend, BlockchainEvents};
use sp_api::ProvideRuntimeApi;
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use sp_keystore::Keystore;

/// Where the off-chain worker finds a proof (`atoma/sortition-proof/ ‖ request ‖ worker key`, in
/// the persistent offchain storage).
use atoma_support::offchain_keys::{proof_key, VERIFIER_SEATS_KEY};

/// The proofs of the keystore's worker keys that `tasks` select.
pub fn selected_proofs(
	keystore: &dyn Keystore,
	tasks: &[SortitionTask],
) -> Vec<(RequestId, WorkerPublic, VrfProof)> {
	let keys = keystore.sr25519_public_keys(KEY_TYPE);
	let mut proofs = Vec::new();
	for task in tasks {
		let data = sortition::vrf_sign_data(&task.seed, task.request);
		for key in &keys {
			let Ok(Some(signature)) = keystore.sr25519_vrf_sign(KEY_TYPE, key, &data) else {
				continue;
			};
			let selected = sortition::verified_score(key, &task.seed, task.request, &signature)
				.is_some_and(|score| sortition::is_selected(score, task.threshold));
			if selected {
				proofs.push((task.request, *key, VrfProof::from_signature(&signature)));
			}
		}
	}
	proofs
}

/// Pair the node with its inference worker: record `--inference-worker-url` where the off-chain
/// worker reads it, and with `--alice` & co. (dev chains) put the dev seed's worker key in the
/// keystore, as those flags do for session keys.
pub fn pair_worker<B: Backend<Block>>(
	backend: &B,
	keystore: &dyn Keystore,
	config: &sc_service::Configuration,
	atoma: &crate::cli::AtomaParams,
) -> Result<(), sc_service::Error> {
	if let Some(seed) = &config.dev_key_seed {
		keystore
			.sr25519_generate_new(KEY_TYPE, Some(seed))
			.map_err(|e| sc_service::Error::Other(format!("worker key from {seed}: {e}")))?;
	}
	let Some(url) = &atoma.inference_worker_url else { return Ok(()) };
	let url = url.trim_end_matches('/');
	if !(url.starts_with("http://") || url.starts_with("https://")) {
		return Err(sc_service::Error::Other(format!(
			"--inference-worker-url must start with http:// or https://, got {url}"
		)));
	}
	let mut storage = backend
		.offchain_storage()
		.ok_or_else(|| sc_service::Error::Other("the backend has no offchain storage".into()))?;
	storage.set(
		STORAGE_PREFIX,
		atoma_support::offchain_keys::WORKER_URL_KEY,
		&url.as_bytes().to_vec().encode(),
	);
	log::info!(target: "atoma", "paired with the inference worker at {url}");
	Ok(())
}

/// Follow the best chain; at each new best block, prove this node's selections.
pub async fn run<C, B>(client: Arc<C>, backend: Arc<B>, keystore: Arc<dyn Keystore>)
where
	C: ProvideRuntimeApi<Block> + BlockchainEvents<Block> + Send + Sync + 'static,
	C::Api: InferenceApi<Block, Balance>,
	B: Backend<Block> + 'static,
{
	let Some(mut storage) = backend.offchain_storage() else {
		log::warn!(target: "atoma::sortition", "no offchain storage: VRF sortition is off");
		return;
	};
	let mut imports = client.import_notification_stream();
	while let Some(notification) = imports.next().await {
		if !notification.is_new_best || keystore.sr25519_public_keys(KEY_TYPE).is_empty() {
			continue;
		}
		let tasks = match client.runtime_api().sortition_tasks(notification.hash) {
			Ok(tasks) => tasks,
			Err(e) => {
				log::debug!(target: "atoma::sortition", "sortition_tasks failed: {e}");
				continue;
			},
		};
		let proofs = selected_proofs(&*keystore, &tasks);
		// The off-chain worker finds its verifier seats here (public jobs are on chain).
		let seats: Vec<(RequestId, WorkerPublic)> =
			proofs.iter().map(|(request, key, _)| (*request, *key)).collect();
		storage.set(STORAGE_PREFIX, VERIFIER_SEATS_KEY, &seats.encode());
		for (request, key, proof) in proofs {
			let storage_key = proof_key(request, &key);
			if storage.get(STORAGE_PREFIX, &storage_key).is_none() {
				storage.set(STORAGE_PREFIX, &storage_key, &proof.encode());
				log::info!(
					target: "atoma::sortition",
					"worker key {key} is a verifier of request {}",
					request.0
				);
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use atoma_support::{EchelonId, ModelId, NodeId};
	use sp_keystore::testing::MemoryKeystore;

	fn task(threshold: u128) -> SortitionTask {
		SortitionTask {
			request: RequestId(4),
			seed: [3; 32],
			threshold,
			model: ModelId::from_name(b"m").unwrap(),
			echelon: EchelonId(0),
			primary: NodeId(0),
		}
	}

	#[test]
	fn selected_keys_get_proofs_the_runtime_accepts() {
		let keystore = MemoryKeystore::new();
		let alice = keystore.sr25519_generate_new(KEY_TYPE, Some("//Alice")).unwrap();
		let bob = keystore.sr25519_generate_new(KEY_TYPE, Some("//Bob")).unwrap();
		// A key of another type is never used.
		keystore.sr25519_generate_new(sp_core::crypto::key_types::BABE, Some("//Charlie")).unwrap();

		let proofs = selected_proofs(&keystore, &[task(u128::MAX)]);
		assert_eq!(proofs.len(), 2);
		for (request, key, proof) in &proofs {
			assert!([alice, bob].contains(key));
			let signature = proof.to_signature().unwrap();
			assert!(sortition::verified_score(key, &[3; 32], *request, &signature).is_some());
		}
		assert!(selected_proofs(&keystore, &[task(0)]).is_empty());
		assert_ne!(proof_key(RequestId(4), &alice), proof_key(RequestId(4), &bob));
	}
}
