//! An equivocating validator on a live network: the committed `local` spec's three validators,
//! and a second node running with Charlie's keys. Both Charlies author in Charlie's slots, so the
//! honest nodes import two of his blocks for one slot; their BABE import detects it and reports
//! it (a key-ownership proof from the runtime API, a bare transaction through the pool), the
//! offences pallet records the offence and the validator set removes Charlie from the next plan.
//!
//! The twins may also cast conflicting GRANDPA votes, which is an offence of its own; the test
//! requires the BABE offence, which only a report with both blocks' seals proves (the node's
//! `babe_seal` import wrapper: without it every BABE report fails in the runtime).

mod common;

use std::time::{Duration, Instant};

use atoma_runtime::{AccountId, RuntimeEvent};
use codec::Decode;
use common::{hex_encode, start_local_validators, storage_prefix, TempDir};
use sp_keyring::Sr25519Keyring;

/// The kinds of offence reported in blocks `1..=best` (`Offences::Offence` events).
fn offence_kinds(rpc: &common::Rpc) -> Vec<[u8; 16]> {
	let events_key = hex_encode(&storage_prefix("System", "Events"));
	let mut kinds = Vec::new();
	for number in 1..=rpc.best_number() {
		let Some(hash) = rpc.block_hash(number) else { continue };
		let Some(raw) = rpc.storage(&events_key, Some(&hash)) else { continue };
		let events =
			Vec::<frame_system::EventRecord<RuntimeEvent, sp_core::H256>>::decode(&mut &raw[..])
				.expect("events decode");
		kinds.extend(events.into_iter().filter_map(|record| match record.event {
			RuntimeEvent::Offences(pallet_offences::Event::Offence { kind, .. }) => Some(kind),
			_ => None,
		}));
	}
	kinds
}

/// The planned validator set (`ValidatorSet::Validators`) at the best block.
fn planned(rpc: &common::Rpc) -> Vec<AccountId> {
	let raw = rpc
		.storage(&hex_encode(&storage_prefix("ValidatorSet", "Validators")), None)
		.expect("a planned set");
	Vec::<AccountId>::decode(&mut &raw[..]).expect("accounts")
}

#[test]
fn a_validator_that_signs_two_blocks_for_one_slot_is_removed() {
	let base = TempDir::new("equivocation");
	// Bob, Charlie, and Charlie's twin: the same session keys in a second keystore.
	let (alice, others) = start_local_validators(
		&base,
		&[("bob", "--bob"), ("charlie", "--charlie"), ("charlie-twin", "--charlie")],
	);

	let rpc = alice.rpc();
	let charlie = Sr25519Keyring::Charlie.to_account_id();
	assert!(planned(&rpc).contains(&charlie));

	// Charlie authors about a third of the slots (3 s each): the twins collide within a few of
	// them, and the report waits for a block of its reporter (its transaction is local only).
	let babe_offence = |kinds: &[[u8; 16]]| kinds.contains(b"babe:equivocatio");
	let deadline = Instant::now() + Duration::from_secs(240);
	loop {
		let kinds = offence_kinds(&rpc);
		if !planned(&rpc).contains(&charlie) && babe_offence(&kinds) {
			break;
		}
		assert!(
			Instant::now() < deadline,
			"Charlie was not removed for a BABE equivocation (offences: {:?}); Alice's log:\n{}",
			kinds.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>(),
			alice.log_tail(60)
		);
		std::thread::sleep(Duration::from_secs(3));
	}
	assert_eq!(
		planned(&rpc),
		vec![Sr25519Keyring::Alice.to_account_id(), Sr25519Keyring::Bob.to_account_id()]
	);

	// The chain goes on: Alice and Bob are two of three, enough for GRANDPA.
	let target = rpc.best_number() + 2;
	rpc.wait_for_finalized(target, Duration::from_secs(120));

	for node in others {
		node.stop(Duration::from_secs(60));
	}
	assert!(alice.stop(Duration::from_secs(60)).success());
}
