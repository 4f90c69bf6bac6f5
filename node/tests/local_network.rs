//! A three-validator network from the committed `local` spec: Alice, Bob and Charlie connect,
//! author blocks and finalize them together (GRANDPA needs all three of three); then the network
//! upgrades its runtime through governance (no sudo key on this chain) and keeps finalizing.

mod common;

use std::time::{Duration, Instant};

use atoma_runtime::{AccountId, RuntimeCall};
use codec::{Decode, Encode};
use common::{
	account_storage_key, hex_encode, start_local_validators, storage_prefix, AccountInfo, Rpc,
	TempDir,
};
use serde_json::json;
use sp_core::{sr25519, Pair, H256};
use sp_runtime::traits::{BlakeTwo256, Hash};

const INCLUSION: Duration = Duration::from_secs(90);

fn dev_pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).expect("dev seed")
}

/// Signs and submits `call`, then waits until the best block includes it (the signer's nonce in
/// the best block's state moved past it). Whether its dispatch succeeded is for the caller to
/// check in the state.
fn send(rpc: &Rpc, signer: &sr25519::Pair, call: RuntimeCall) {
	let who = AccountId::from(signer.public());
	let nonce = common::next_nonce(rpc, &who);
	let xt = common::sign_call(rpc, signer, call, nonce);
	rpc.call("author_submitExtrinsic", json!([hex_encode(&xt.encode())]));
	let deadline = Instant::now() + INCLUSION;
	loop {
		let included = rpc.storage(&account_storage_key(&who), None).is_some_and(|raw| {
			AccountInfo::decode(&mut &raw[..]).is_ok_and(|info| info.nonce > nonce)
		});
		if included {
			return;
		}
		assert!(Instant::now() < deadline, "not included within {INCLUSION:?}");
		std::thread::sleep(Duration::from_millis(500));
	}
}

/// Carries `call` through a collective with two of its three members (Alice proposes, both vote,
/// Alice closes); `wrap` makes the collective's call of the chosen house.
fn motion<I: 'static>(
	rpc: &Rpc,
	call: RuntimeCall,
	index: u32,
	wrap: impl Fn(pallet_collective::Call<atoma_runtime::Runtime, I>) -> RuntimeCall,
) where
	atoma_runtime::Runtime: pallet_collective::Config<I, Proposal = RuntimeCall>,
{
	use frame_support::dispatch::GetDispatchInfo;
	let (alice, bob) = (dev_pair("Alice"), dev_pair("Bob"));
	let proposal_hash = BlakeTwo256::hash_of(&call);
	let proposal_weight_bound = call.get_dispatch_info().call_weight;
	let length_bound = call.encoded_size() as u32;
	let proposal = Box::new(call);
	send(
		rpc,
		&alice,
		wrap(pallet_collective::Call::propose { threshold: 2, proposal, length_bound }),
	);
	// Proposing is not voting: the proposer votes too.
	for voter in [&alice, &bob] {
		let vote = pallet_collective::Call::vote { proposal: proposal_hash, index, approve: true };
		send(rpc, voter, wrap(vote));
	}
	let close = pallet_collective::Call::close {
		proposal_hash,
		index,
		proposal_weight_bound,
		length_bound,
	};
	send(rpc, &alice, wrap(close));
}

fn spec_version(rpc: &Rpc) -> u64 {
	rpc.call("state_getRuntimeVersion", json!([]))["specVersion"].as_u64().expect("specVersion")
}

/// The upgrade of docs/governance.md on a live network: the technical committee whitelists
/// `system.authorize_upgrade(hash)`, the council dispatches it as root, and an account that is in
/// neither house submits the code.
fn upgrade_through_governance(rpc: &Rpc) {
	let code = atoma_runtime::next_release::code().expect("the next release's code");
	let authorize = RuntimeCall::System(frame_system::Call::authorize_upgrade {
		code_hash: BlakeTwo256::hash(&code),
	});
	let authorize_hash: H256 = BlakeTwo256::hash_of(&authorize);

	motion(
		rpc,
		RuntimeCall::Whitelist(pallet_whitelist::Call::whitelist_call {
			call_hash: authorize_hash,
		}),
		0,
		RuntimeCall::TechnicalCommittee,
	);
	let mut whitelisted = storage_prefix("Whitelist", "WhitelistedCall");
	whitelisted.extend(sp_crypto_hashing::twox_64(authorize_hash.as_bytes()));
	whitelisted.extend(authorize_hash.as_bytes());
	assert!(rpc.storage(&hex_encode(&whitelisted), None).is_some(), "the call is whitelisted");

	let dispatch =
		RuntimeCall::Whitelist(pallet_whitelist::Call::dispatch_whitelisted_call_with_preimage {
			call: Box::new(authorize),
		});
	motion(rpc, dispatch, 0, RuntimeCall::Council);
	let authorized = hex_encode(&storage_prefix("System", "AuthorizedUpgrade"));
	assert!(rpc.storage(&authorized, None).is_some(), "the upgrade is authorized");

	let before = spec_version(rpc);
	send(
		rpc,
		&dev_pair("Dave"),
		RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code: code.clone() }),
	);
	let stored = rpc.storage(&hex_encode(sp_core::storage::well_known_keys::CODE), None);
	assert!(stored.as_deref() == Some(&code[..]), "the new code is stored");
	assert_eq!(spec_version(rpc), before + 1);
}

#[test]
fn three_validators_produce_and_finalize_blocks() {
	let base = TempDir::new("local-network");
	let (alice, others) =
		start_local_validators(&base, &[("bob", "--bob"), ("charlie", "--charlie")]);

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

	// The runtime upgrade, through both houses; all three switch to the new code and keep
	// finalizing with it.
	let rpc = alice.rpc();
	let version = atoma_runtime::VERSION.spec_version as u64;
	assert_eq!(spec_version(&rpc), version);
	upgrade_through_governance(&rpc);
	let target = rpc.best_number() + 3;
	for node in std::iter::once(&alice).chain(others.iter()) {
		node.rpc().wait_for_finalized(target, Duration::from_secs(180));
		let finalized = node.rpc().call("chain_getFinalizedHead", json!([]));
		let at = node.rpc().call("state_getRuntimeVersion", json!([finalized]));
		assert_eq!(at["specVersion"].as_u64(), Some(version + 1), "finalized with the new code");
	}

	for node in others {
		assert!(node.stop(Duration::from_secs(60)).success());
	}
	assert!(alice.stop(Duration::from_secs(60)).success());
}
