//! What the off-chain worker found out about this node's inference worker, as Prometheus
//! metrics: `atoma_worker_profile_matches{node}` is 1 while the worker runs the execution profile
//! its echelon pins (or the echelon pins none) and 0 while the node is refused for running
//! another (the log says which parts differ: see the node registry's off-chain worker).

use std::sync::Arc;

use atoma_runtime::opaque::Block;
use atoma_support::{offchain_keys::PROFILE_STATUS_KEY, NodeId};
use codec::Decode;
use futures::StreamExt;
use sc_client_api::{Backend, BlockchainEvents};
use sp_core::offchain::{OffchainStorage, STORAGE_PREFIX};
use substrate_prometheus_endpoint::{register, GaugeVec, Opts, Registry, U64};

/// Follow the best chain and keep the gauge in step with the off-chain worker's findings.
pub async fn run<C, B>(client: Arc<C>, backend: Arc<B>, registry: Option<Registry>)
where
	C: BlockchainEvents<Block> + Send + Sync + 'static,
	B: Backend<Block> + 'static,
{
	let Some(registry) = registry else { return };
	let opts = Opts::new(
		"atoma_worker_profile_matches",
		"1 while the node's inference worker runs its echelon's execution profile (or the echelon \
		 pins none), 0 while the node is not drawn for running another",
	);
	let gauge = match GaugeVec::<U64>::new(opts, &["node"]).and_then(|g| register(g, &registry)) {
		Ok(gauge) => gauge,
		Err(e) => {
			log::warn!(target: "atoma", "worker metrics not registered: {e}");
			return;
		},
	};
	let Some(storage) = backend.offchain_storage() else { return };
	let mut imports = client.import_notification_stream();
	while let Some(notification) = imports.next().await {
		if !notification.is_new_best {
			continue;
		}
		let Some(raw) = storage.get(STORAGE_PREFIX, PROFILE_STATUS_KEY) else { continue };
		let Ok(status) = Vec::<(NodeId, [u8; 32], Option<[u8; 32]>)>::decode(&mut &raw[..]) else {
			continue;
		};
		for (node, profile, pinned) in status {
			let matches = pinned.is_none_or(|pinned| pinned == profile);
			gauge.with_label_values(&[&node.0.to_string()]).set(u64::from(matches));
		}
	}
}
