//! Every call of the pallet with random arguments and origins, a few thousand times: no call
//! panics, every failure is a named error that changes nothing, and the invariants hold after
//! each call (`build_and_execute` checks the issuance rule at the end).

use atoma_support::{
	fuzz::{dispatch_checked, Rng},
	EchelonId, NodeId,
};

use crate::{mock::*, Call};

const CASES: usize = 3_000;

/// A random call; its node is mostly one of `signer`'s, so that success paths are reached too.
fn random_call(rng: &mut Rng, signer: AccountId) -> Call<Test> {
	let own: Vec<NodeId> = crate::Nodes::<Test>::iter()
		.filter(|(_, record)| record.operator == signer)
		.map(|(node, _)| node)
		.collect();
	let node = match own.is_empty() || rng.one_in(3) {
		true => NodeId(rng.below(7)),
		false => *rng.pick(&own),
	};
	let amount = rng.edgy(3 * MIN_COLLATERAL) as Balance;
	let url = match rng.below(3) {
		0 => b"https://worker.example".to_vec(),
		1 => b"http://10.0.0.1:8080/".to_vec(),
		_ => rng.bytes(80),
	};
	let device = rng.bytes(20);
	match rng.below(13) {
		0 => Call::register_node {
			echelon: EchelonId(rng.below(4) as u32),
			worker_key: worker_key(rng.below(9) as u8),
			url,
			collateral: amount,
			price_per_token: rng.edgy(1_000) as Balance,
		},
		1 => Call::add_collateral { node, amount },
		2 => Call::rotate_worker_key { node, new_key: worker_key(rng.below(9) as u8) },
		3 => Call::set_url { node, url },
		4 => Call::bid_price { node, price_per_token: rng.edgy(u64::MAX) as Balance },
		5 => Call::deregister_node { node },
		6 => Call::withdraw_node { node },
		7 => Call::claim_fees { node },
		8 => Call::register_echelon {
			device,
			device_count: rng.edgy(16) as u32,
			memory_mib: rng.edgy(1 << 20),
			execution_profile: [rng.below(3) as u8; 32],
		},
		9 => Call::update_echelon {
			echelon: EchelonId(rng.below(4) as u32),
			device,
			device_count: rng.edgy(16) as u32,
			memory_mib: rng.edgy(1 << 20),
			execution_profile: [rng.below(3) as u8; 32],
		},
		10 => Call::set_epoch_length { blocks: rng.edgy(40) },
		// Test worker keys have no secret: every signature is someone else's.
		11 => Call::declare_profile {
			declaration: crate::types::ProfileDeclaration {
				node,
				profile: [rng.below(3) as u8; 32],
				at: rng.edgy(40),
			},
			signature: sp_core::sr25519::Signature::from_raw([rng.below(256) as u8; 64]),
		},
		_ => Call::set_echelon_security {
			echelon: EchelonId(rng.below(4) as u32),
			cost_per_token: rng.edgy(100) as Balance,
			control: sp_runtime::Perbill::from_percent(rng.edgy(100) as u32),
		},
	}
}

#[test]
fn random_calls_never_panic_and_failures_change_nothing() {
	ExtBuilder::default().build_and_execute(|| {
		let mut rng = Rng::new(0x006e_0de5);
		let accounts = [ALICE, BOB, CHARLIE, DAVE, PAUPER];
		let mut succeeded = 0;
		for _ in 0..CASES {
			let signer = *rng.pick(&accounts);
			let origin = match rng.below(10) {
				0 => RuntimeOrigin::root(),
				1 => RuntimeOrigin::none(),
				2 => frame_system::RawOrigin::Authorized.into(),
				_ => RuntimeOrigin::signed(signer),
			};
			let call = RuntimeCall::NodeRegistry(random_call(&mut rng, signer));
			if dispatch_checked(call, origin) {
				succeeded += 1;
			}
			if rng.one_in(8) {
				run_to_block(System::block_number() + 1);
			}
			NodeRegistry::do_try_state().expect("invariants hold after every call");
		}
		// The generator reaches the success paths too, not only the errors.
		assert!(succeeded >= 100, "only {succeeded} of {CASES} calls succeeded");
	});
}
