//! Every call of the pallet with random arguments and origins, a few thousand times: no call
//! panics, every failure is a named error that changes nothing, and the invariants hold after
//! each call (`build_and_execute` checks issuance at the end).

use atoma_support::{
	fuzz::{dispatch_checked, Rng},
	NodeId,
};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Call};

const CASES: usize = 3_000;
const NAMES: [&str; 4] = ["m", "n", "smollm2", "o"];

fn random_model(rng: &mut Rng) -> ModelId {
	match rng.one_in(6) {
		// A name no one registered (or not a valid id at all, which cannot be built: use "zz").
		true => id("zz"),
		false => id(rng.pick::<&str>(&NAMES[..])),
	}
}

fn random_call(rng: &mut Rng) -> Call<Test> {
	let node = NodeId(rng.below(4));
	let model = random_model(rng);
	match rng.below(8) {
		0 => Call::register_model {
			model: match rng.one_in(4) {
				true => rng.bytes(40),
				false => rng.pick(&NAMES[..]).as_bytes().to_vec(),
			},
			weights_root: [rng.below(2) as u8; 32],
			tokenizer_hash: [rng.below(2) as u8; 32],
			source: rng.bytes(40),
			owner_share: Perbill::from_percent(rng.edgy(30) as u32),
		},
		1 => Call::approve_model { model },
		2 => Call::remove_model { model },
		3 => Call::subscribe { node, model },
		4 => Call::unsubscribe { node, model },
		5 => Call::report_weights_mismatch { node, model },
		6 => Call::set_context_length { model, tokens: rng.edgy(8_192) as u32 },
		_ => Call::retract_mismatch_report { node, model },
	}
}

#[test]
fn random_calls_never_panic_and_failures_change_nothing() {
	setup().build_and_execute(|| {
		let mut rng = Rng::new(0x0030_de15);
		let accounts = [OWNER, ALICE, BOB, PAUPER];
		let mut succeeded = 0;
		for _ in 0..CASES {
			let origin = match rng.below(8) {
				0 | 1 => RuntimeOrigin::root(),
				2 => RuntimeOrigin::none(),
				_ => RuntimeOrigin::signed(*rng.pick(&accounts)),
			};
			if dispatch_checked(RuntimeCall::ModelRegistry(random_call(&mut rng)), origin) {
				succeeded += 1;
			}
			ModelRegistry::do_try_state().expect("invariants hold after every call");
			// Blocks pass too: the index catches up and removed models are cleared.
			if rng.one_in(3) {
				run_to_block(System::block_number() + 1);
				ModelRegistry::do_try_state().expect("invariants hold after every block");
			}
		}
		// The generator reaches the success paths too, not only the errors.
		assert!(succeeded >= 100, "only {succeeded} of {CASES} calls succeeded");
	});
}
