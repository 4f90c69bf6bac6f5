use frame_support::{
	assert_noop, assert_ok,
	traits::{KeyOwnerProofSystem, OnRuntimeUpgrade},
};
use sp_runtime::{key_types::DUMMY, traits::BadOrigin, Perbill};
use sp_staking::offence::{OffenceDetails, OnOffenceHandler};

use crate::{mock::*, Error, Event, PlanChanged, Validators};

fn planned() -> Vec<AccountId> {
	Validators::<Test>::get().into_inner()
}

fn events() -> Vec<Event<Test>> {
	System::read_events_for_pallet::<Event<Test>>()
}

fn report(offender: AccountId, session: u32) {
	let details = [OffenceDetails { offender: (offender, ()), reporters: vec![] }];
	<ValidatorSet as OnOffenceHandler<_, _, _>>::on_offence(
		&details,
		&[Perbill::from_percent(100)],
		session,
	);
}

fn disabled() -> Vec<AccountId> {
	let active = Session::validators();
	Session::disabled_validators().into_iter().map(|i| active[i as usize]).collect()
}

#[test]
fn genesis_plans_and_activates_the_listed_validators() {
	new_test_ext().execute_with(|| {
		assert_eq!(planned(), GENESIS_VALIDATORS.to_vec());
		assert_eq!(Session::validators(), GENESIS_VALIDATORS.to_vec());
		assert!(!PlanChanged::<Test>::get());
		for session in [0, 1] {
			let root = pallet_session::historical::HistoricalSessions::<Test>::get(session);
			assert_eq!(root.map(|(_, count)| count), Some(4), "session {session}'s root");
		}
	});
}

#[test]
fn an_unchanged_set_is_not_handed_over_again() {
	new_test_ext().execute_with(|| {
		run_to_session(3);
		assert_eq!(Session::validators(), GENESIS_VALIDATORS.to_vec());
		assert!(events().iter().all(|e| !matches!(e, Event::ValidatorSetPlanned { .. })));
	});
}

#[test]
fn an_added_validator_validates_from_the_session_after_the_next_boundary() {
	new_test_ext().execute_with(|| {
		with_keys(5);
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 5));
		assert_eq!(events(), vec![Event::ValidatorAdded { validator: 5 }]);
		assert_eq!(planned(), vec![1, 2, 3, 4, 5]);
		assert!(!Session::validators().contains(&5));

		run_to_session(1);
		assert!(events().contains(&Event::ValidatorSetPlanned { session: 2, validators: 5 }));
		assert!(!Session::validators().contains(&5), "queued, not yet active");
		run_to_session(2);
		assert_eq!(Session::validators(), vec![1, 2, 3, 4, 5]);
	});
}

#[test]
fn add_validator_checks_origin_keys_duplicates_and_the_bound() {
	new_test_ext().execute_with(|| {
		with_keys(5);
		assert_noop!(ValidatorSet::add_validator(RuntimeOrigin::signed(5), 5), BadOrigin);
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 6),
			Error::<Test>::NoSessionKeys
		);
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 2),
			Error::<Test>::AlreadyValidator
		);
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 5));
		with_keys(6);
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 6));
		assert_eq!(planned().len() as u32, MAX_VALIDATORS);
		with_keys(7);
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 7),
			Error::<Test>::TooManyValidators
		);
	});
}

#[test]
fn a_removed_validator_stops_after_the_next_boundary() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 3));
		assert_eq!(events(), vec![Event::ValidatorRemoved { validator: 3 }]);
		assert_eq!(planned(), vec![1, 2, 4]);
		run_to_session(1);
		assert!(Session::validators().contains(&3), "still active for the queued session");
		run_to_session(2);
		assert_eq!(Session::validators(), vec![1, 2, 4]);
	});
}

#[test]
fn remove_validator_checks_origin_membership_and_the_minimum() {
	new_test_ext().execute_with(|| {
		assert_noop!(ValidatorSet::remove_validator(RuntimeOrigin::signed(1), 2), BadOrigin);
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 9),
			Error::<Test>::NotValidator
		);
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 4));
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 3));
		assert_eq!(planned().len() as u32, MIN_VALIDATORS);
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 2),
			Error::<Test>::TooFewValidators
		);
	});
}

#[test]
fn an_offender_is_disabled_at_once_and_removed_at_the_boundary() {
	new_test_ext().execute_with(|| {
		report(2, 0);
		assert_eq!(events(), vec![Event::OffenderRemoved { validator: 2, session: 0 }]);
		assert_eq!(disabled(), vec![2], "four validators: one may be disabled");
		assert_eq!(planned(), vec![1, 3, 4]);

		// Reported again for the same session: nothing more to remove.
		report(2, 0);
		assert!(events().contains(&Event::OffenderKept { validator: 2, session: 0 }));

		run_to_session(2);
		assert_eq!(Session::validators(), vec![1, 3, 4]);
		assert!(disabled().is_empty(), "disabling lasts the session");
	});
}

#[test]
fn an_offender_stays_when_the_set_is_at_its_minimum() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 4));
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 3));
		report(1, 0);
		assert!(events().contains(&Event::OffenderKept { validator: 1, session: 0 }));
		assert_eq!(planned(), vec![1, 2]);
		// Still disabled for the rest of the session: the four active validators allow one.
		assert_eq!(disabled(), vec![1]);
	});
}

#[test]
fn disabling_stops_at_a_third_of_the_active_set() {
	new_test_ext().execute_with(|| {
		report(1, 0);
		report(2, 0);
		assert_eq!(disabled(), vec![1], "(4 - 1) / 3 = 1 of 4 may be disabled");
		assert_eq!(planned(), vec![3, 4], "both leave at the boundary");
	});
}

#[test]
fn key_ownership_is_provable_for_the_sessions_kept_and_no_older() {
	new_test_ext().execute_with(|| {
		let key = (DUMMY, UintAuthorityIdBytes::of(3));
		let proof = Historical::prove(key.clone()).expect("validator 3 has keys");
		assert_eq!(proof.session, 0);
		assert_eq!(Historical::check_proof(key.clone(), proof.clone()), Some((3, ())));
		assert_eq!(
			Historical::check_proof((DUMMY, UintAuthorityIdBytes::of(5)), proof.clone()),
			None
		);

		// Genesis stored the root of sessions 0 and 1, and unchanged sessions carry it on:
		// session 0's proof holds after it ended.
		run_to_session(2);
		assert_eq!(Historical::check_proof(key.clone(), proof.clone()), Some((3, ())));
		run_to_session(HISTORY_DEPTH + 2);
		assert_eq!(Historical::check_proof(key, proof), None, "session 0 was pruned");
		let kept = pallet_session::historical::HistoricalSessions::<Test>::iter().count() as u32;
		assert!(kept <= HISTORY_DEPTH + 1, "{kept} roots kept");
	});
}

#[test]
fn the_migration_plans_the_active_set_once() {
	new_test_ext().execute_with(|| {
		Validators::<Test>::kill();
		crate::migrations::InitializeFromSession::<Test>::on_runtime_upgrade();
		assert_eq!(planned(), GENESIS_VALIDATORS.to_vec());
		assert!(PlanChanged::<Test>::get(), "handed over at the next boundary");
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 4));
		crate::migrations::InitializeFromSession::<Test>::on_runtime_upgrade();
		assert_eq!(planned(), vec![1, 2, 3], "a planned set is left alone");
	});
}

/// The raw bytes of a `UintAuthorityId` key, as the historical pallet indexes them.
struct UintAuthorityIdBytes;

impl UintAuthorityIdBytes {
	fn of(who: AccountId) -> Vec<u8> {
		codec::Encode::encode(&sp_runtime::testing::UintAuthorityId(who))
	}
}

#[test]
fn a_plan_without_any_session_keys_is_not_handed_over() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 4));
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 3));
		// The two left purge their keys: a session of them would have no authority.
		for who in [1, 2] {
			assert_ok!(Session::purge_keys(RuntimeOrigin::signed(who)));
		}
		run_to_session(2);
		// The current set stays (the session pallet drops its keyless members itself).
		assert_eq!(Session::validators(), vec![3, 4]);
		assert!(PlanChanged::<Test>::get(), "the plan waits");

		with_keys(2);
		run_to_session(4);
		assert_eq!(Session::validators(), vec![2], "the keyless validator is left out");
	});
}
