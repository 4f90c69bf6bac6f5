use atoma_support::{EchelonId, ModelRegistry as _, ModelStatus, NodeId};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Error, Event};

fn subscribe(
	who: AccountId,
	node: u64,
	model: &atoma_support::ModelId,
) -> sp_runtime::DispatchResult {
	ModelRegistry::subscribe(RuntimeOrigin::signed(who), NodeId(node), model.clone())
}

#[test]
fn subscribe_indexes_the_node_under_its_echelon() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_ok!(subscribe(ALICE, 0, &model));
		System::assert_last_event(
			Event::NodeSubscribed { node: NodeId(0), model: model.clone(), echelon: EchelonId(0) }
				.into(),
		);
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_ok!(subscribe(BOB, 2, &model));
		assert_eq!(indexed(&model, EchelonId(0)), vec![NodeId(0), NodeId(1)]);
		assert_eq!(indexed(&model, EchelonId(1)), vec![NodeId(2)]);
		assert!(ModelRegistry::is_subscribed(NodeId(1), &model));
		assert_eq!(
			crate::Models::<Test>::get(&model).unwrap().echelons.to_vec(),
			vec![EchelonId(0), EchelonId(1)]
		);
	});
}

#[test]
fn subscribe_errors() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_noop!(subscribe(ALICE, 9, &model), Error::<Test>::UnknownNode);
		assert_noop!(subscribe(BOB, 0, &model), Error::<Test>::NotNodeOperator);
		assert_noop!(subscribe(ALICE, 0, &id("nope")), Error::<Test>::UnknownModel);
		assert_ok!(ModelRegistry::register_model(
			RuntimeOrigin::signed(OWNER),
			b"pending".to_vec(),
			ROOT,
			TOKENIZER,
			vec![],
			sp_runtime::Perbill::zero()
		));
		assert_noop!(subscribe(ALICE, 0, &id("pending")), Error::<Test>::ModelNotApproved);
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_noop!(subscribe(ALICE, 0, &model), Error::<Test>::AlreadySubscribed);

		// MaxSubscriptionsPerNode = 2.
		let (a, b) = (approved("a"), approved("b"));
		assert_ok!(subscribe(ALICE, 0, &a));
		assert_noop!(subscribe(ALICE, 0, &b), Error::<Test>::TooManySubscriptions);

		// MaxSubscribersPerModel = 3 per echelon.
		add_node(3, ALICE, 0);
		add_node(4, ALICE, 0);
		assert_ok!(subscribe(ALICE, 1, &b));
		assert_ok!(subscribe(ALICE, 3, &b));
		assert_ok!(subscribe(ALICE, 4, &b));
		add_node(5, ALICE, 0);
		assert_noop!(subscribe(ALICE, 5, &b), Error::<Test>::TooManySubscribers);

		// MaxEchelonsPerModel = 2.
		assert_ok!(subscribe(BOB, 2, &b));
		add_node(6, BOB, 5);
		assert_noop!(subscribe(BOB, 6, &b), Error::<Test>::TooManyEchelons);

		deregister(NodeId(5));
		assert_noop!(subscribe(ALICE, 5, &model), Error::<Test>::NodeNotActive);

		// A node whose worker declared another profile than its echelon pins.
		add_node(7, ALICE, 0);
		OTHER_PROFILE.with(|n| n.borrow_mut().push(NodeId(7)));
		assert_noop!(subscribe(ALICE, 7, &model), Error::<Test>::ProfileMismatch);
		OTHER_PROFILE.with(|n| n.borrow_mut().clear());
		assert_ok!(subscribe(ALICE, 7, &model));
	});
}

#[test]
fn unsubscribe_ends_one_subscription() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_noop!(
			ModelRegistry::unsubscribe(RuntimeOrigin::signed(BOB), NodeId(0), model.clone()),
			Error::<Test>::NotNodeOperator
		);
		assert_noop!(
			ModelRegistry::unsubscribe(RuntimeOrigin::signed(ALICE), NodeId(9), model.clone()),
			Error::<Test>::UnknownNode
		);
		assert_ok!(ModelRegistry::unsubscribe(
			RuntimeOrigin::signed(ALICE),
			NodeId(0),
			model.clone()
		));
		System::assert_last_event(
			Event::NodeUnsubscribed {
				node: NodeId(0),
				model: model.clone(),
				echelon: EchelonId(0),
			}
			.into(),
		);
		assert_eq!(indexed(&model, EchelonId(0)), vec![NodeId(1)]);
		assert_noop!(
			ModelRegistry::unsubscribe(RuntimeOrigin::signed(ALICE), NodeId(0), model.clone()),
			Error::<Test>::NotSubscribed
		);
		// The last subscriber of an echelon takes the echelon off the model's list.
		assert_ok!(ModelRegistry::unsubscribe(
			RuntimeOrigin::signed(ALICE),
			NodeId(1),
			model.clone()
		));
		assert!(crate::Models::<Test>::get(&model).unwrap().echelons.is_empty());
	});
}

#[test]
fn deregistration_ends_every_subscription_of_the_node() {
	setup().build_and_execute(|| {
		let (a, b) = (approved("a"), approved("b"));
		assert_ok!(subscribe(ALICE, 0, &a));
		assert_ok!(subscribe(ALICE, 0, &b));
		assert_ok!(subscribe(ALICE, 1, &a));
		deregister(NodeId(0));
		assert_eq!(indexed(&a, EchelonId(0)), vec![NodeId(1)]);
		assert!(indexed(&b, EchelonId(0)).is_empty());
		assert!(crate::NodeSubscriptions::<Test>::get(NodeId(0)).is_empty());
	});
}

#[test]
fn enough_mismatch_reports_suspend_the_model() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_ok!(subscribe(BOB, 2, &model));

		assert_ok!(ModelRegistry::report_weights_mismatch(
			RuntimeOrigin::signed(ALICE),
			NodeId(0),
			model.clone()
		));
		System::assert_has_event(
			Event::WeightsMismatchReported { node: NodeId(0), model: model.clone(), reports: 1 }
				.into(),
		);
		assert!(!ModelRegistry::is_subscribed(NodeId(0), &model), "the reporter is unsubscribed");
		assert_eq!(ModelRegistry::model(&model).map(|m| m.status), Some(ModelStatus::Approved));

		// Re-subscribing does not allow a second report from the same node.
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_noop!(
			ModelRegistry::report_weights_mismatch(
				RuntimeOrigin::signed(ALICE),
				NodeId(0),
				model.clone()
			),
			Error::<Test>::AlreadyReported
		);

		assert_ok!(ModelRegistry::report_weights_mismatch(
			RuntimeOrigin::signed(BOB),
			NodeId(2),
			model.clone()
		));
		System::assert_last_event(
			Event::ModelSuspended { model: model.clone(), reports: 2 }.into(),
		);
		assert_eq!(ModelRegistry::model(&model).map(|m| m.status), Some(ModelStatus::Suspended));
		assert_noop!(subscribe(BOB, 2, &model), Error::<Test>::ModelNotApproved);
		assert_noop!(
			ModelRegistry::report_weights_mismatch(
				RuntimeOrigin::signed(ALICE),
				NodeId(1),
				model.clone()
			),
			Error::<Test>::ModelNotApproved
		);

		// Governance re-approves: the reports were false, and their bonds pay the owner.
		let owner_before = free(OWNER);
		assert_eq!((held_bond(ALICE), held_bond(BOB)), (BOND, BOND));
		assert_ok!(ModelRegistry::approve_model(RuntimeOrigin::root(), model.clone()));
		assert!(crate::MismatchReports::<Test>::get(&model).is_empty());
		assert_eq!((held_bond(ALICE), held_bond(BOB)), (0, 0));
		assert_eq!(free(OWNER), owner_before + 2 * BOND);
		System::assert_has_event(
			Event::ReportBondForfeited { node: NodeId(2), model, owner: OWNER, bond: BOND }.into(),
		);
	});
}

const BOND: Balance = 50;

fn held_bond(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&crate::HoldReason::MismatchBond.into(), &who)
}

fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

fn report(who: AccountId, node: u64, model: &atoma_support::ModelId) -> sp_runtime::DispatchResult {
	ModelRegistry::report_weights_mismatch(RuntimeOrigin::signed(who), NodeId(node), model.clone())
}

#[test]
fn a_sybil_cannot_suspend_a_model_alone() {
	setup().build_and_execute(|| {
		let model = approved("m");
		for node in [0, 1] {
			assert_ok!(subscribe(ALICE, node, &model));
		}
		assert_ok!(report(ALICE, 0, &model));
		// Threshold 2, but both nodes are ALICE's: reports count per operator.
		assert_noop!(report(ALICE, 1, &model), Error::<Test>::OperatorAlreadyReported);
		// A node that no longer serves cannot report either.
		assert_ok!(subscribe(BOB, 2, &model));
		set_active(NodeId(2), false);
		assert_noop!(report(BOB, 2, &model), Error::<Test>::ReporterNotActive);
		// Nor one whose operator cannot post the bond.
		add_node(3, PAUPER, 0);
		assert_ok!(subscribe(PAUPER, 3, &model));
		assert_noop!(report(PAUPER, 3, &model), Error::<Test>::InsufficientBond);
		assert_eq!(ModelRegistry::model(&model).map(|m| m.status), Some(ModelStatus::Approved));
		assert_eq!(held_bond(ALICE), BOND);
	});
}

#[test]
fn a_removed_model_returns_the_bonds_and_a_report_can_be_retracted_before_a_suspension() {
	setup().build_and_execute(|| {
		let model = approved("m");
		assert_ok!(subscribe(ALICE, 0, &model));
		assert_ok!(subscribe(BOB, 2, &model));
		assert_ok!(report(ALICE, 0, &model));
		let retract = |who, node| {
			ModelRegistry::retract_mismatch_report(
				RuntimeOrigin::signed(who),
				NodeId(node),
				model.clone(),
			)
		};
		assert_noop!(retract(BOB, 0), Error::<Test>::NotNodeOperator);
		assert_noop!(retract(BOB, 2), Error::<Test>::NotReported);
		assert_ok!(retract(ALICE, 0));
		System::assert_last_event(
			Event::MismatchReportRetracted { node: NodeId(0), model: model.clone() }.into(),
		);
		assert_eq!(held_bond(ALICE), 0);
		assert!(crate::MismatchReports::<Test>::get(&model).is_empty());

		// Reported again (by another operator too): suspended; no retracting now.
		assert_ok!(subscribe(ALICE, 1, &model));
		assert_ok!(report(ALICE, 1, &model));
		assert_ok!(report(BOB, 2, &model));
		assert_noop!(retract(ALICE, 1), Error::<Test>::ModelNotApproved);
		// Governance removes the model: the reporters were right, their bonds come back.
		let (alice, bob) = (free(ALICE), free(BOB));
		assert_ok!(ModelRegistry::remove_model(RuntimeOrigin::root(), model.clone()));
		assert_eq!((held_bond(ALICE), held_bond(BOB)), (0, 0));
		assert_eq!((free(ALICE), free(BOB)), (alice + BOND, bob + BOND));
		assert_eq!(crate::ReportBonds::<Test>::iter().count(), 0);
	});
}

#[test]
fn report_errors() {
	setup().build_and_execute(|| {
		let model = approved("m");
		let report = |who, node, model: &atoma_support::ModelId| {
			ModelRegistry::report_weights_mismatch(
				RuntimeOrigin::signed(who),
				NodeId(node),
				model.clone(),
			)
		};
		assert_noop!(report(ALICE, 9, &model), Error::<Test>::UnknownNode);
		assert_noop!(report(BOB, 0, &model), Error::<Test>::NotNodeOperator);
		assert_noop!(report(ALICE, 0, &id("nope")), Error::<Test>::UnknownModel);
		assert_noop!(report(ALICE, 0, &model), Error::<Test>::NotSubscribed);
	});
}

#[test]
fn a_node_serves_while_it_holds_a_subscription() {
	use frame_support::traits::Contains;
	type Serving = crate::ServingNodes<Test>;
	setup().build_and_execute(|| {
		let model = approved("m");
		assert!(!Serving::contains(&NodeId(0)), "registered, subscribed to nothing");
		assert_ok!(subscribe(ALICE, 0, &model));
		assert!(Serving::contains(&NodeId(0)));
		assert!(!Serving::contains(&NodeId(1)));
		assert_ok!(ModelRegistry::unsubscribe(RuntimeOrigin::signed(ALICE), NodeId(0), model));
		assert!(!Serving::contains(&NodeId(0)));
	});
}
