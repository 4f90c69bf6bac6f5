use atoma_support::inference::{OutputDestination, VerificationMode};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Error, Event};

fn settle_on_chain(mode: VerificationMode, o: &[u8]) -> atoma_support::RequestId {
	let mut s = spec(mode);
	s.destination = OutputDestination::OnChain;
	let id = submit(s);
	next_block();
	match mode {
		VerificationMode::CrossValidation { .. } => {
			let primary = selected(id)[0];
			assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, o, false))));
			run_to_block(System::block_number() + 5);
			assert_ok!(submit_signed(payload(id, primary, reveal_kind(o))));
		},
		_ => all_commit(id, o),
	}
	assert!(crate::Results::<Test>::get(id).is_some());
	id
}

#[test]
fn a_matching_output_is_published() {
	ExtBuilder::default().build_and_execute(|| {
		let o = output(4, 3);
		for mode in [
			VerificationMode::Single,
			VerificationMode::Sampling { n: 2 },
			VerificationMode::CrossValidation { n: 1, p: Perbill::zero() },
		] {
			let id = settle_on_chain(mode, &o);
			assert_noop!(
				Inference::publish_output(RuntimeOrigin::signed(USER), id, output(5, 3)),
				Error::<Test>::OutputMismatch
			);
			assert_ok!(Inference::publish_output(RuntimeOrigin::signed(USER), id, o.clone()));
			System::assert_last_event(
				Event::OutputPublished { request: id, bytes: o.len() as u32 }.into(),
			);
			assert_eq!(crate::Outputs::<Test>::get(id).map(|b| b.to_vec()), Some(o.clone()));
			assert_noop!(
				Inference::publish_output(RuntimeOrigin::signed(USER), id, o.clone()),
				Error::<Test>::AlreadyPublished
			);
		}
	});
}

#[test]
fn publish_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let pending = submit(spec(VerificationMode::Single));
		assert_noop!(
			Inference::publish_output(RuntimeOrigin::signed(USER), pending, output(1, 1)),
			Error::<Test>::NotSettled
		);
		next_block();
		all_commit(pending, &output(1, 1));
		assert_noop!(
			Inference::publish_output(RuntimeOrigin::signed(USER), pending, output(1, 1)),
			Error::<Test>::NotOnChainDestination
		);
		let id = settle_on_chain(VerificationMode::Single, &output(1, 1));
		assert_noop!(
			Inference::publish_output(RuntimeOrigin::signed(USER), id, vec![0; 257]),
			Error::<Test>::OutputTooLarge
		);
	});
}

#[test]
fn results_and_outputs_expire_after_their_retention() {
	ExtBuilder::default().build_and_execute(|| {
		let o = output(4, 3);
		let id = settle_on_chain(VerificationMode::Single, &o);
		let settled = System::block_number();
		run_to_block(settled + 5);
		assert_ok!(Inference::publish_output(RuntimeOrigin::signed(USER), id, o.clone()));

		// OutputRetention = 20 blocks from publication.
		run_to_block(settled + 5 + 19);
		assert!(crate::Outputs::<Test>::get(id).is_some());
		run_to_block(settled + 5 + 20);
		assert!(crate::Outputs::<Test>::get(id).is_none(), "the output is gone");
		System::assert_has_event(Event::Pruned { results: 0, outputs: 1 }.into());
		assert!(crate::Results::<Test>::get(id).is_some(), "the receipt can still be checked");

		// ResultRetention = 50 blocks from settlement.
		run_to_block(settled + 50);
		assert!(crate::Results::<Test>::get(id).is_none());
		System::assert_has_event(Event::Pruned { results: 1, outputs: 0 }.into());
		assert_noop!(
			Inference::publish_output(RuntimeOrigin::signed(USER), id, o),
			Error::<Test>::NotSettled
		);
		assert_eq!(crate::Expiries::<Test>::iter().count(), 0);
	});
}

#[test]
fn pruning_takes_at_most_max_pruned_per_block() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		MaxPendingSelections::set(8);
		let ids: Vec<_> = (0..3).map(|_| submit(spec(VerificationMode::Single))).collect();
		next_block();
		let settled = System::block_number();
		for id in &ids {
			all_commit(*id, &output(1, 2));
		}
		run_to_block(settled + 50);
		// MaxPrunedPerBlock = 2: two now, the third in the next block.
		assert_eq!(ids.iter().filter(|id| crate::Results::<Test>::get(**id).is_some()).count(), 1);
		next_block();
		assert!(ids.iter().all(|id| crate::Results::<Test>::get(*id).is_none()));
	});
}

/// The fee-less path nodes publish by: the output itself is the proof, so anything but the
/// settled output of an on-chain request, still unpublished, is refused at the pool.
#[test]
fn a_publication_is_authorized_for_the_settled_output_only() {
	use frame_support::traits::Authorize;
	use sp_runtime::transaction_validity::{InvalidTransaction, TransactionSource};
	let authorize = |request, output: Vec<u8>| {
		crate::Call::<Test>::publish_output { request, output }
			.authorize(TransactionSource::External)
			.expect("publish_output is authorizable")
			.map(|_| ())
	};
	let code = |e: Error<Test>| Err(InvalidTransaction::Custom(e.as_u8()).into());
	ExtBuilder::default().build_and_execute(|| {
		let o = output(4, 3);
		let pending = submit(spec(VerificationMode::Single));
		assert_eq!(authorize(pending, o.clone()), code(Error::<Test>::NotSettled));
		next_block();
		all_commit(pending, &o);
		assert_eq!(authorize(pending, o.clone()), code(Error::<Test>::NotOnChainDestination));

		let id = settle_on_chain(VerificationMode::Sampling { n: 2 }, &o);
		assert_eq!(authorize(id, output(5, 3)), code(Error::<Test>::OutputMismatch));
		assert_eq!(authorize(id, vec![0; 257]), code(Error::<Test>::OutputTooLarge));
		assert_eq!(authorize(id, o.clone()), Ok(()));
		// Neither unsigned nor root may call it: only a signed or an authorized origin.
		assert_noop!(
			Inference::publish_output(RuntimeOrigin::none(), id, o.clone()),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_ok!(Inference::publish_output(
			frame_system::RawOrigin::Authorized.into(),
			id,
			o.clone()
		));
		assert_eq!(authorize(id, o), Err(InvalidTransaction::Stale.into()));
	});
}
