//! The committed chain specs in `chain-spec/` are current and usable with `--chain <file>`.

mod common;

use std::time::Duration;

use common::{committed_spec, run_subcommand, NodeProcess, TempDir};
use serde_json::Value;

fn read_json(path: &std::path::Path) -> Value {
	let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
	serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The committed plain specs carry the same genesis patch, names and token properties as the
/// node's built-in ones; run `scripts/generate-chain-specs.sh` when this fails.
#[test]
fn committed_plain_specs_match_the_presets() {
	for (chain, file) in [("local", "local.json"), ("testnet-template", "testnet-template.json")] {
		let fresh: Value =
			serde_json::from_str(&run_subcommand(&["export-chain-spec", "--chain", chain]))
				.expect("export-chain-spec prints JSON");
		let committed = read_json(&committed_spec(file));
		for field in ["name", "id", "chainType", "protocolId", "properties"] {
			assert_eq!(committed[field], fresh[field], "{file}: {field} is stale");
		}
		assert_eq!(
			committed["genesis"]["runtimeGenesis"]["patch"],
			fresh["genesis"]["runtimeGenesis"]["patch"],
			"{file}: genesis patch is stale; run scripts/generate-chain-specs.sh"
		);
		assert_eq!(committed["properties"]["tokenSymbol"], "TOMA");
	}
}

/// The raw spec is what the plain spec converts to.
#[test]
fn committed_raw_specs_match_their_plain_specs() {
	for name in ["local", "testnet-template"] {
		let plain = committed_spec(&format!("{name}.json"));
		let converted: Value = serde_json::from_str(&run_subcommand(&[
			"export-chain-spec",
			"--chain",
			&plain.to_string_lossy(),
			"--raw",
		]))
		.expect("raw spec is JSON");
		let committed = read_json(&committed_spec(&format!("{name}-raw.json")));
		assert_eq!(committed["genesis"], converted["genesis"], "{name}-raw.json is stale");
	}
}

/// `--chain <raw spec file>` starts a validator that authors blocks.
#[test]
fn a_validator_starts_from_the_committed_raw_spec() {
	let base = TempDir::new("raw-spec");
	let spec = committed_spec("local-raw.json");
	let spec = spec.to_string_lossy();
	let mut node = NodeProcess::start(&[
		"--chain",
		&spec,
		"--alice",
		// Alone, Alice would wait for peers before authoring; this test only needs her blocks.
		"--force-authoring",
		// Validators of non-dev chains must be given a network key; a throwaway one is fine here.
		"--unsafe-force-node-key-generation",
		"--base-path",
		&base.path("alice"),
	]);
	node.wait_for_rpc(Duration::from_secs(120));
	let rpc = node.rpc();
	let chain = rpc.call("system_chain", serde_json::json!([]));
	assert_eq!(chain, "Atoma Local Testnet");

	let deadline = std::time::Instant::now() + Duration::from_secs(120);
	while rpc.best_number() < 1 {
		assert!(std::time::Instant::now() < deadline, "no block authored:\n{}", node.log_tail(30));
		std::thread::sleep(Duration::from_millis(500));
	}
	assert!(node.stop(Duration::from_secs(60)).success());
}
