use atoma_support::inference::{InferenceOutcome, VerificationMode};
use frame_support::assert_ok;

use super::*;
use crate::mock::*;

#[test]
fn a_pallet_requests_inference_and_hears_the_outcome() {
	ExtBuilder::default().build_and_execute(|| {
		let id = atoma_support::RequestId(crate::NextRequestId::<Test>::get());
		assert_ok!(TestCaller::ask(
			RuntimeOrigin::signed(USER),
			spec(VerificationMode::Sampling { n: 2 })
		));
		assert_eq!(request(id).caller, Some(test_caller::TAG));
		next_block();
		let nodes = selected(id);
		let o = output(1, 4);
		all_commit(id, &o);
		let root = atoma_primitives::commitment::quorum_commitments(&o, 2).root;
		assert_eq!(
			test_caller::Outcomes::<Test>::get(id),
			Some(InferenceOutcome::Settled { output_commitment: root, output_tokens: 4, nodes })
		);
	});
}

#[test]
fn a_pallet_hears_failures_too() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		let id = atoma_support::RequestId(crate::NextRequestId::<Test>::get());
		assert_ok!(TestCaller::ask(RuntimeOrigin::signed(USER), spec(VerificationMode::Single)));
		next_block();
		run_to_block(7);
		assert_eq!(test_caller::Outcomes::<Test>::get(id), Some(InferenceOutcome::Failed));
	});
}

#[test]
fn user_requests_do_not_call_back() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		all_commit(id, &output(1, 1));
		assert_eq!(test_caller::Outcomes::<Test>::iter().count(), 0);
	});
}

#[test]
fn the_callers_work_is_charged_where_a_request_may_end() {
	use atoma_support::inference::OnInferenceOutcome;
	use frame_support::dispatch::GetDispatchInfo;
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let p = payload(id, node, quorum_kind(&output(1, 2), 0, 1));
		let signature = sign(&p, node);
		let declared =
			crate::Call::<Test>::submit_commitment { payload: p, signature }.get_dispatch_info();
		let caller = <TestCaller as OnInferenceOutcome>::max_weight();
		assert!(caller.ref_time() > 0, "the test caller's work has a weight");
		assert!(
			declared
				.call_weight
				.all_gte(<() as crate::WeightInfo>::submit_commitment().saturating_add(caller)),
			"a settling commitment pays for the caller's callback: {declared:?}"
		);
	});
}
