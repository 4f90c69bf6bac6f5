//! End-to-end: `atoma-node --dev --tmp` produces and finalizes blocks alone, accepts a signed
//! transfer over JSON-RPC, includes and finalizes it, and stops cleanly on SIGTERM. A node started
//! from the end-to-end tests' raw spec of the dev chain has the same genesis, and keeps its
//! compiled runtime where `--wasmtime-cache-dir` says.

mod common;

use std::time::{Duration, Instant};

use atoma_runtime::{AccountId, Balance, BalancesCall, RuntimeCall};
use codec::{Decode, Encode};
use common::{account_storage_key, hex_encode, AccountInfo, NodeProcess, TempDir};
use serde_json::json;
use sp_core::{sr25519, Pair};
use sp_runtime::MultiAddress;

/// Blocks every 3 s: allow for a slow debug-free start on a loaded 2-core machine.
const STARTUP: Duration = Duration::from_secs(180);
const FINALITY: Duration = Duration::from_secs(120);

#[test]
fn dev_node_finalizes_and_settles_a_signed_transfer() {
	let mut node = NodeProcess::start(&["--dev", "--tmp"]);
	// The raw spec the end-to-end tests start their nodes from (`common::dev_spec`) is this
	// chain: the same genesis, name, type and properties. Its node keeps its compiled runtime in
	// a cache directory of its own, which it fills.
	let cache = TempDir::new("dev-chain-wasmtime-cache");
	let mut from_raw_spec = NodeProcess::start(
		&[
			&common::dev_authority_args()[..],
			&["--tmp", "--wasmtime-cache-dir", &cache.path("cache")],
		]
		.concat(),
	);
	node.wait_for_rpc(STARTUP);
	from_raw_spec.wait_for_rpc(STARTUP);
	let rpc = node.rpc();
	assert_eq!(from_raw_spec.rpc().block_hash(0), rpc.block_hash(0), "the same genesis block");
	for method in ["system_chain", "system_chainType", "system_properties"] {
		assert_eq!(from_raw_spec.rpc().call(method, json!([])), rpc.call(method, json!([])));
	}
	let status = from_raw_spec.stop(Duration::from_secs(60));
	assert!(status.success(), "the node of the raw spec exited with {status}");
	let cached: u64 = walk_sizes(&cache.0.join("cache"));
	assert!(cached > 1 << 20, "the compiled runtime is cached: {cached} bytes");

	// The chain advertises its token.
	let properties = rpc.call("system_properties", json!([]));
	assert_eq!(properties["tokenSymbol"], "TOMA");
	assert_eq!(properties["tokenDecimals"], 12);

	// Alice alone produces and finalizes blocks.
	let started = Instant::now();
	rpc.wait_for_finalized(1, STARTUP);
	println!("first finalized block after {:?} of RPC uptime", started.elapsed());

	let alice = sr25519::Pair::from_string("//Alice", None).expect("dev seed");
	let alice_id = AccountId::from(alice.public());
	// A fresh account, so the balance check sees exactly this transfer.
	let recipient = sr25519::Pair::from_string("//AtomaDevChainTest", None).expect("seed");
	let recipient_id = AccountId::from(recipient.public());
	let amount: Balance = 7 * atoma_runtime::currency::UNITS;

	let nonce = common::next_nonce(&rpc, &alice_id);
	let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
		dest: MultiAddress::Id(recipient_id.clone()),
		value: amount,
	});
	let xt = common::sign_call(&rpc, &alice, call, nonce);
	let xt_hex = hex_encode(&xt.encode());

	// The node prices the transaction before submission, like a wallet would ask.
	let fee = rpc.call("payment_queryInfo", json!([xt_hex]));
	assert!(fee["partialFee"].is_string() || fee["partialFee"].is_number(), "fee: {fee}");

	let tx_hash = rpc.call("author_submitExtrinsic", json!([xt_hex]));
	assert!(tx_hash.as_str().is_some_and(|h| h.len() == 66), "tx hash: {tx_hash}");

	// Find the block that includes it.
	let from = rpc.best_number().saturating_sub(1);
	let deadline = Instant::now() + FINALITY;
	let (included_number, included_hash) = 'search: loop {
		let best = rpc.best_number();
		for number in from..=best {
			if let Some(hash) = rpc.block_hash(number) {
				if rpc.block_extrinsics(&hash).contains(&xt_hex) {
					break 'search (number, hash);
				}
			}
		}
		assert!(Instant::now() < deadline, "transfer not included:\n{}", node.log_tail(30));
		std::thread::sleep(Duration::from_millis(500));
	};

	// Wait until that block is final, and check it is the canonical one.
	rpc.wait_for_finalized(included_number, FINALITY);
	assert_eq!(rpc.block_hash(included_number).as_deref(), Some(included_hash.as_str()));

	// The finalized state shows the transfer.
	let finalized_head = rpc.call("chain_getFinalizedHead", json!([]));
	let raw = rpc
		.storage(&account_storage_key(&recipient_id), finalized_head.as_str())
		.expect("the recipient account exists");
	let info = AccountInfo::decode(&mut &raw[..]).expect("AccountInfo decodes");
	assert_eq!(info.data.free, amount);

	let raw = rpc.storage(&account_storage_key(&alice_id), finalized_head.as_str()).expect("alice");
	let alice_info = AccountInfo::decode(&mut &raw[..]).expect("AccountInfo decodes");
	assert_eq!(alice_info.nonce, nonce + 1);

	// Clean shutdown on SIGTERM.
	let status = node.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
}

/// Bytes of the files under `dir`, recursively.
fn walk_sizes(dir: &std::path::Path) -> u64 {
	std::fs::read_dir(dir)
		.into_iter()
		.flatten()
		.flatten()
		.map(|entry| match entry.file_type() {
			Ok(t) if t.is_dir() => walk_sizes(&entry.path()),
			_ => entry.metadata().map(|m| m.len()).unwrap_or(0),
		})
		.sum()
}
