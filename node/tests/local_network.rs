//! A three-validator network from the committed `local` spec: Alice, Bob and Charlie connect,
//! author blocks and finalize them together (GRANDPA needs all three of three).

mod common;

use std::time::{Duration, Instant};

use common::{committed_spec, run_subcommand, NodeProcess, TempDir};
use serde_json::json;

#[test]
fn three_validators_produce_and_finalize_blocks() {
	let base = TempDir::new("local-network");
	let spec = committed_spec("local-raw.json").to_string_lossy().into_owned();

	// Alice gets a fixed node key so the others can name her as their boot node.
	let alice_key = base.path("alice.key");
	run_subcommand(&["key", "generate-node-key", "--file", &alice_key]);
	let alice_peer_id =
		run_subcommand(&["key", "inspect-node-key", "--file", &alice_key]).trim().to_owned();

	let mut alice = NodeProcess::start(&[
		"--chain",
		&spec,
		"--alice",
		"--base-path",
		&base.path("alice"),
		"--node-key-file",
		&alice_key,
	]);
	alice.wait_for_rpc(Duration::from_secs(120));
	let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", alice.p2p_port, alice_peer_id);

	let mut others = Vec::new();
	for name in ["bob", "charlie"] {
		let mut node = NodeProcess::start(&[
			"--chain",
			&spec,
			&format!("--{name}"),
			"--base-path",
			&base.path(name),
			"--bootnodes",
			&bootnode,
			// Validators of non-dev chains must be given a network key; a throwaway one is fine.
			"--unsafe-force-node-key-generation",
		]);
		node.wait_for_rpc(Duration::from_secs(120));
		others.push(node);
	}

	// Every node sees both others.
	let deadline = Instant::now() + Duration::from_secs(120);
	for node in std::iter::once(&alice).chain(others.iter()) {
		loop {
			let health = node.rpc().call("system_health", json!([]));
			if health["peers"].as_u64().unwrap_or(0) >= 2 {
				break;
			}
			assert!(Instant::now() < deadline, "peers did not connect: {health}");
			std::thread::sleep(Duration::from_millis(500));
		}
	}

	// Finality advances on all three and they agree on the finalized chain.
	let target = 3;
	for node in std::iter::once(&alice).chain(others.iter()) {
		node.rpc().wait_for_finalized(target, Duration::from_secs(180));
	}
	let hashes: Vec<_> = std::iter::once(&alice)
		.chain(others.iter())
		.map(|node| node.rpc().block_hash(target))
		.collect();
	assert!(hashes.windows(2).all(|pair| pair[0] == pair[1]), "forked finality: {hashes:?}");

	// All three run as authorities.
	for node in std::iter::once(&alice).chain(others.iter()) {
		assert_eq!(node.rpc().call("system_nodeRoles", json!([])), json!(["Authority"]));
	}

	for node in others {
		assert!(node.stop(Duration::from_secs(60)).success());
	}
	assert!(alice.stop(Duration::from_secs(60)).success());
}
