//! Execution profiles: where an echelon pins one, only nodes whose worker declared it are drawn;
//! a node whose worker runs another is refused, never slashed. Declarations are signed by the
//! worker key and cannot be replayed; the off-chain worker keeps them current.

use std::sync::Arc;

use atoma_support::{worker_key::KEY_TYPE, EchelonId, NodeId, NodeRegistry as _};
use codec::{Decode, Encode};
use frame_support::{assert_noop, assert_ok, pallet_prelude::Authorize, traits::Hooks};
use sp_core::{
	offchain::{
		testing::{PendingRequest, TestOffchainExt, TestTransactionPoolExt},
		OffchainDbExt, OffchainWorkerExt, StorageKind, TransactionPoolExt,
	},
	sr25519, Pair,
};
use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
use sp_runtime::transaction_validity::TransactionSource;

use super::*;
use crate::{mock::*, types::ProfileDeclaration, Call, Error, Event};

const PINNED: [u8; 32] = [5; 32];

fn pair(seed: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{seed}"), None).unwrap()
}

/// A node of `operator` whose worker key is `pair`'s, active now.
fn node_with_key(operator: AccountId, pair: &sr25519::Pair) -> NodeId {
	let node = NodeId(crate::NextNodeId::<Test>::get());
	assert_ok!(NodeRegistry::register_node(
		RuntimeOrigin::signed(operator),
		EchelonId(0),
		pair.public(),
		URL.to_vec(),
		MIN_COLLATERAL,
		PRICE,
	));
	run_to_block(System::block_number() + EPOCH);
	node
}

fn pin(profile: [u8; 32]) {
	assert_ok!(NodeRegistry::update_echelon(
		RuntimeOrigin::root(),
		EchelonId(0),
		b"cpu-x86_64".to_vec(),
		1,
		16_384,
		profile
	));
}

fn declaration(node: NodeId, profile: [u8; 32], at: u64) -> crate::ProfileDeclarationOf<Test> {
	ProfileDeclaration { node, profile, at }
}

fn declare(
	d: crate::ProfileDeclarationOf<Test>,
	signer: &sr25519::Pair,
) -> sp_runtime::DispatchResult {
	let signature = signer.sign(&d.signing_bytes(&NodeRegistry::chain_id()));
	NodeRegistry::declare_profile(frame_system::RawOrigin::Authorized.into(), d, signature)
}

#[test]
fn only_nodes_that_run_the_pinned_profile_are_drawn() {
	ExtBuilder::default().build_and_execute(|| {
		let (a, b) = (pair("a"), pair("b"));
		let (node_a, node_b) = (node_with_key(ALICE, &a), node_with_key(BOB, &b));
		// Not pinned: any worker.
		assert!(NodeRegistry::is_eligible(node_a, 0) && NodeRegistry::is_eligible(node_b, 0));

		pin(PINNED);
		assert!(!NodeRegistry::is_eligible(node_a, 0), "nothing declared yet");
		let now = System::block_number();
		assert_ok!(declare(declaration(node_a, PINNED, now), &a));
		System::assert_last_event(
			Event::ProfileDeclared { node: node_a, profile: PINNED, matches: true }.into(),
		);
		// Node b's worker runs on other hardware: refused, and says so on chain.
		assert_ok!(declare(declaration(node_b, [6; 32], now), &b));
		System::assert_last_event(
			Event::ProfileDeclared { node: node_b, profile: [6; 32], matches: false }.into(),
		);
		assert!(NodeRegistry::is_eligible(node_a, 0));
		assert!(!NodeRegistry::is_eligible(node_b, 0));
		assert!(
			NodeRegistry::runs_other_profile(node_b) && !NodeRegistry::runs_other_profile(node_a)
		);
		// Refused, not punished: its collateral is whole and it can leave.
		assert_eq!(crate::Nodes::<Test>::get(node_b).unwrap().collateral, MIN_COLLATERAL);

		// Its operator fixes the worker; the next declaration makes it eligible again.
		run_to_block(now + 1);
		assert_ok!(declare(declaration(node_b, PINNED, now + 1), &b));
		assert!(NodeRegistry::is_eligible(node_b, 0));
	});
}

#[test]
fn declaration_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let a = pair("a");
		let node = node_with_key(ALICE, &a);
		let now = System::block_number();
		assert_noop!(declare(declaration(NodeId(99), PINNED, now), &a), Error::<Test>::UnknownNode);
		assert_noop!(
			declare(declaration(node, PINNED, now), &pair("intruder")),
			Error::<Test>::BadSignature
		);
		assert_noop!(
			declare(declaration(node, PINNED, now + 1), &a),
			Error::<Test>::StaleDeclaration
		);
		assert_ok!(declare(declaration(node, PINNED, now), &a));
		// The same block again, or an older declaration replayed.
		assert_noop!(declare(declaration(node, [6; 32], now), &a), Error::<Test>::StaleDeclaration);
		assert_noop!(
			NodeRegistry::declare_profile(
				RuntimeOrigin::signed(ALICE),
				declaration(node, PINNED, now),
				a.sign(b"x")
			),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn the_pool_accepts_only_valid_declarations() {
	ExtBuilder::default().build_and_execute(|| {
		let a = pair("a");
		let node = node_with_key(ALICE, &a);
		let now = System::block_number();
		let authorize = |d: crate::ProfileDeclarationOf<Test>, signer: &sr25519::Pair| {
			let signature = signer.sign(&d.signing_bytes(&NodeRegistry::chain_id()));
			Call::<Test>::declare_profile { declaration: d, signature }
				.authorize(TransactionSource::External)
				.expect("authorizable")
		};
		let valid = authorize(declaration(node, PINNED, now), &a).expect("valid");
		assert_eq!(valid.0.provides, vec![("atoma-profile", (node, now)).encode()]);
		assert!(authorize(declaration(node, PINNED, now), &pair("intruder")).is_err());
		assert!(authorize(declaration(node, PINNED, now + 1), &a).is_err());
	});
}

/// The off-chain worker reads its worker's profile every `PROFILE_CHECK_EVERY` blocks and
/// declares it when the chain has another (or none); it leaves what it found for the node's
/// metrics.
#[test]
fn the_off_chain_worker_declares_its_workers_profile() {
	let mut ext = ExtBuilder::default().build();
	let (offchain, offchain_state) = TestOffchainExt::new();
	let (pool, pool_state) = TestTransactionPoolExt::new();
	let keystore = MemoryKeystore::new();
	keystore.sr25519_generate_new(KEY_TYPE, Some("//a")).unwrap();
	ext.register_extension(OffchainDbExt::new(offchain.clone()));
	ext.register_extension(OffchainWorkerExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt::new(Arc::new(keystore)));
	ext.execute_with(|| {
		let a = pair("a");
		let node = node_with_key(ALICE, &a);
		pin(PINNED);
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			atoma_support::offchain_keys::WORKER_URL_KEY,
			&b"http://worker.test".to_vec().encode(),
		);
		let models = |hash: [u8; 32]| PendingRequest {
			method: "GET".into(),
			uri: "http://worker.test/v1/models".into(),
			response: Some(
				serde_json::json!({"object": "list", "data": [],
					"execution_profile": {"hash": hex::encode(hash)}})
				.to_string()
				.into_bytes(),
			),
			sent: true,
			..Default::default()
		};
		// Not a checking block: nothing asked.
		NodeRegistry::offchain_worker(21);
		assert!(pool_state.read().transactions.is_empty());

		System::set_block_number(30);
		offchain_state.write().expect_request(models([6; 32]));
		NodeRegistry::offchain_worker(30);
		let tx = pool_state.write().transactions.pop().expect("a declaration");
		let xt =
			frame_system::mocking::MockUncheckedExtrinsic::<Test>::decode(&mut &tx[..]).unwrap();
		let RuntimeCall::NodeRegistry(Call::declare_profile { declaration, signature }) =
			xt.function
		else {
			panic!("not a declaration")
		};
		assert_eq!(
			declaration,
			crate::types::ProfileDeclaration { node, profile: [6; 32], at: 30 }
		);
		assert_ok!(NodeRegistry::declare_profile(
			frame_system::RawOrigin::Authorized.into(),
			declaration,
			signature
		));
		assert!(!NodeRegistry::is_eligible(node, 0), "refused: another profile");
		let status = sp_io::offchain::local_storage_get(
			StorageKind::PERSISTENT,
			atoma_support::offchain_keys::PROFILE_STATUS_KEY,
		)
		.map(|v| Vec::<(NodeId, [u8; 32], Option<[u8; 32]>)>::decode(&mut &v[..]).unwrap());
		assert_eq!(status, Some(vec![(node, [6; 32], Some(PINNED))]));

		// Unchanged: nothing declared again.
		System::set_block_number(40);
		offchain_state.write().expect_request(models([6; 32]));
		NodeRegistry::offchain_worker(40);
		assert!(pool_state.read().transactions.is_empty());
	});
}
