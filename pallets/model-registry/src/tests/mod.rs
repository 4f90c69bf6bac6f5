//! Unit tests, one file per concern, each under `ExtBuilder::build_and_execute`.

mod draw_index;
mod fuzz;
mod registration;
mod subscriptions;

use atoma_support::ModelId;
use frame_support::assert_ok;
use sp_runtime::Perbill;

use crate::mock::*;

pub const ROOT: [u8; 32] = [0xAB; 32];
pub const TOKENIZER: [u8; 32] = [0xCD; 32];

pub fn id(name: &str) -> ModelId {
	ModelId::from_name(name.as_bytes()).expect("valid id")
}

/// Register `name` by OWNER and approve it.
pub fn approved(name: &str) -> ModelId {
	assert_ok!(ModelRegistry::register_model(
		RuntimeOrigin::signed(OWNER),
		name.as_bytes().to_vec(),
		ROOT,
		TOKENIZER,
		b"https://example.org/w.gguf".to_vec(),
		Perbill::from_percent(10),
	));
	assert_ok!(ModelRegistry::approve_model(RuntimeOrigin::root(), id(name)));
	id(name)
}

pub fn held_deposit(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&crate::HoldReason::ModelDeposit.into(), &who)
}

pub fn setup() -> ExtBuilder {
	reset_nodes();
	ExtBuilder::default()
}

/// The draw index of (`model`, `echelon`) once every queued change has been applied.
pub fn indexed(model: &ModelId, echelon: atoma_support::EchelonId) -> Vec<atoma_support::NodeId> {
	settle_index();
	ModelRegistry::indexed_nodes(model, echelon)
}
