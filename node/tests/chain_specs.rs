//! The committed chain specs in `chain-spec/` are current and usable with `--chain <file>`, and a
//! testnet's spec made by the key ceremony (`scripts/testnet-spec.py`) brings its validators
//! together through its boot nodes alone.

mod common;

use std::{path::PathBuf, process::Command, time::Duration};

use common::{committed_spec, free_port, node_binary, run_subcommand, NodeProcess, TempDir};
use serde_json::{json, Value};

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

/// One validator of the ceremony: what it keeps (secret phrases, network key) and what it sends
/// (public keys, boot node address).
struct CeremonyValidator {
	babe: Value,
	grandpa: Value,
	node_key: String,
	peer_id: String,
	p2p_port: u16,
	rpc_port: u16,
}

impl CeremonyValidator {
	fn generate(base: &TempDir, i: usize) -> Self {
		let key = |scheme: &str| -> Value {
			let out =
				run_subcommand(&["key", "generate", "--scheme", scheme, "--output-type", "json"]);
			serde_json::from_str(&out).expect("key generate prints JSON")
		};
		let node_key = base.path(&format!("node-{i}.key"));
		run_subcommand(&["key", "generate-node-key", "--file", &node_key]);
		let peer_id =
			run_subcommand(&["key", "inspect-node-key", "--file", &node_key]).trim().to_owned();
		CeremonyValidator {
			babe: key("sr25519"),
			grandpa: key("ed25519"),
			node_key,
			peer_id,
			p2p_port: free_port(),
			rpc_port: free_port(),
		}
	}

	fn account(&self) -> &str {
		self.babe["ss58Address"].as_str().expect("an address")
	}

	fn boot_node(&self) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.p2p_port, self.peer_id)
	}

	/// The entry the validator sends to the coordinator: public keys only.
	fn public(&self) -> Value {
		json!({
			"account": self.account(),
			"babe": self.babe["ss58Address"],
			"grandpa": self.grandpa["ss58Address"],
			"bootNode": self.boot_node(),
		})
	}
}

fn ceremony(validators: &[Value], accounts: &[&str]) -> Value {
	json!({
		"name": "Atoma Ceremony Test",
		"id": "atoma_ceremony_test",
		"validators": validators,
		"council": accounts,
		"technicalCommittee": accounts,
		"modelValidators": accounts,
		"modelValidatorQuorum": 2,
		"balances": accounts.iter().map(|a| json!([a, 1_000_000_000_000_000_000u128])).collect::<Vec<_>>(),
	})
}

/// Runs `scripts/testnet-spec.py` on `ceremony`; returns its exit status's success and stderr.
fn testnet_spec(base: &TempDir, ceremony: &Value, out: &str) -> (bool, String) {
	let file = base.path("ceremony.json");
	std::fs::write(&file, ceremony.to_string()).expect("the ceremony file is writable");
	let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/testnet-spec.py");
	let output = Command::new("python3")
		.arg(script)
		.args([&file, "--out", out, "--node-bin"])
		.arg(node_binary())
		.output()
		.expect("python3 runs (scripts/install-deps.sh installs it)");
	(output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The key ceremony of `docs/chain-specs.md` on one machine: three validators make their own
/// keys, `scripts/testnet-spec.py` turns their public keys and boot nodes into a spec, and the
/// nodes, started from its raw form with no `--bootnodes` and no mDNS, find each other through
/// the spec's boot nodes alone and finalize (GRANDPA with three voters needs all three).
#[test]
fn a_testnet_from_the_key_ceremony_finds_its_peers_and_finalizes() {
	let base = TempDir::new("ceremony");
	let validators: Vec<CeremonyValidator> =
		(0..3).map(|i| CeremonyValidator::generate(&base, i)).collect();
	let accounts: Vec<&str> = validators.iter().map(CeremonyValidator::account).collect();
	let public: Vec<Value> = validators.iter().map(CeremonyValidator::public).collect();
	let out = base.path("spec");
	let (ok, stderr) = testnet_spec(&base, &ceremony(&public, &accounts), &out);
	assert!(ok, "testnet-spec.py failed: {stderr}");

	let raw = format!("{out}/atoma_ceremony_test-raw.json");
	let spec = read_json(std::path::Path::new(&raw));
	let boot_nodes: Vec<String> = validators.iter().map(CeremonyValidator::boot_node).collect();
	assert_eq!(spec["bootNodes"], json!(boot_nodes));
	assert_eq!(spec["chainType"], "Live");

	let mut nodes = Vec::new();
	for (i, v) in validators.iter().enumerate() {
		let base_path = base.path(&format!("validator-{i}"));
		for (scheme, key_type, key) in
			[("sr25519", "babe", &v.babe), ("ed25519", "gran", &v.grandpa)]
		{
			let phrase = key["secretPhrase"].as_str().expect("a secret phrase");
			run_subcommand(&[
				"key",
				"insert",
				"--base-path",
				&base_path,
				"--chain",
				&raw,
				"--scheme",
				scheme,
				"--key-type",
				key_type,
				"--suri",
				phrase,
			]);
		}
		let args = [
			"--chain",
			&raw,
			"--validator",
			"--base-path",
			&base_path,
			"--node-key-file",
			&v.node_key,
		];
		nodes.push(NodeProcess::start_on_ports(&args, v.rpc_port, v.p2p_port));
	}
	for node in nodes.iter_mut() {
		node.wait_for_rpc(Duration::from_secs(120));
	}
	for node in &nodes {
		let rpc = node.rpc();
		assert_eq!(rpc.call("system_chain", json!([])), "Atoma Ceremony Test");
		let deadline = std::time::Instant::now() + Duration::from_secs(180);
		while rpc.finalized_number() < 2 {
			assert!(
				std::time::Instant::now() < deadline,
				"no finality from the ceremony's spec:\n{}",
				node.log_tail(40)
			);
			std::thread::sleep(Duration::from_millis(500));
		}
		let peers = rpc.call("system_health", json!([]))["peers"].as_u64();
		assert_eq!(peers, Some(2), "each validator found the other two");
	}
	for node in nodes {
		assert!(node.stop(Duration::from_secs(60)).success());
	}
}

/// The ceremony refuses what would make the testnet unsafe or unbootable: a development key
/// (anyone can sign with //Alice), a boot node without its peer id, a validator named twice.
#[test]
fn the_key_ceremony_refuses_development_keys_and_bad_boot_nodes() {
	let base = TempDir::new("ceremony-refusals");
	let validators: Vec<CeremonyValidator> =
		(0..2).map(|i| CeremonyValidator::generate(&base, i)).collect();
	let accounts: Vec<&str> = validators.iter().map(CeremonyValidator::account).collect();
	let out = base.path("spec");
	let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

	let mut with_alice = validators[1].public();
	with_alice["babe"] = json!(alice);
	let mut no_peer_id = validators[1].public();
	no_peer_id["bootNode"] = json!(format!("/ip4/127.0.0.1/tcp/{}", validators[1].p2p_port));
	for (case, second, council, expected) in [
		("a development session key", with_alice, accounts.clone(), "development key //Alice"),
		("a development council member", validators[1].public(), vec![alice], "//Alice"),
		("a boot node without a peer id", no_peer_id, accounts.clone(), "/p2p/<peer id>"),
		("a validator twice", validators[0].public(), accounts.clone(), "also validator 0"),
	] {
		let mut c = ceremony(&[validators[0].public(), second], &accounts);
		c["council"] = json!(council);
		let (ok, stderr) = testnet_spec(&base, &c, &out);
		assert!(!ok, "{case}: accepted");
		assert!(stderr.contains(expected), "{case}: {stderr}");
		assert!(
			!std::path::Path::new(&format!("{out}/atoma_ceremony_test-raw.json")).exists(),
			"{case}: a spec was written"
		);
	}
	// The same validators, correctly named, pass.
	let public: Vec<Value> = validators.iter().map(CeremonyValidator::public).collect();
	let (ok, stderr) = testnet_spec(&base, &ceremony(&public, &accounts), &out);
	assert!(ok, "{stderr}");
}
