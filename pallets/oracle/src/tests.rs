//! Each call's success path and errors, each outcome the inference pallet can report, and the
//! deposit's life. Every test runs under `ExtBuilder::build_and_execute`, which checks the
//! invariants and the funds afterwards.

use atoma_primitives::{
	commitment::quorum_commitments, CanonicalOutput, FinishReason, SamplingParams,
};
use atoma_support::{
	inference::{
		DisputeOutcome, DisputedRequests, InferenceOutcome, OnInferenceOutcome, RequestInput,
		VerificationMode,
	},
	ModelId, NodeId, RequestId,
};
use frame_support::{
	assert_noop, assert_ok,
	pallet_prelude::Authorize,
	traits::fungible::{InspectHold, Mutate},
	weights::Weight,
};
use sp_core::Pair;
use sp_runtime::transaction_validity::TransactionSource;

use crate::{mock::*, Answer, Error, Event, HoldReason, Question, Questions, CALLER_TAG};

const OTHER: AccountId = 3;

fn next_request() -> RequestId {
	RequestId(pallet_inference::NextRequestId::<Test>::get())
}

/// `USER` asks in `mode`; returns the request answering it.
fn ask(mode: VerificationMode) -> RequestId {
	let id = next_request();
	assert_ok!(Oracle::ask(RuntimeOrigin::signed(USER), spec(mode)));
	id
}

fn deposit_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::QuestionDeposit.into(), &who)
}

fn answer(id: RequestId) -> Answer<Test> {
	Questions::<Test>::get(id).expect("question kept").answer
}

fn oracle_events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Oracle(e) => Some(e),
			_ => None,
		})
		.collect()
}

fn selected(id: RequestId) -> Vec<NodeId> {
	pallet_inference::Requests::<Test>::get(id).expect("in flight").nodes.to_vec()
}

/// A canonical output of `tokens` token ids starting at `first`.
fn output(first: u32, tokens: u32) -> Vec<u8> {
	let ids: Vec<u32> = (first..first + tokens).collect();
	CanonicalOutput::new(&ids, FinishReason::Stop).encode_canonical()
}

/// `node`, at `position` of a quorum of `n`, commits to `output` through the authorized
/// transaction its off-chain worker would send, signed with its worker key.
fn commit(id: RequestId, node: NodeId, position: usize, n: usize, output: &[u8]) {
	let ids = atoma_primitives::output::decode_canonical(output).expect("canonical").0;
	let steps: Vec<[u8; 32]> = (0u32..)
		.zip(ids.iter())
		.map(|(step, id)| atoma_primitives::trace::step_digest(step, *id, &[]))
		.collect();
	let q = quorum_commitments(output, n as u32);
	let payload = pallet_inference::CommitmentPayload {
		request: id,
		node,
		kind: pallet_inference::CommitmentKind::Quorum {
			root: q.root,
			leaf: q.leaves[position],
			input_tokens: 5,
			output_tokens: ids.len() as u32,
			trace_root: atoma_primitives::trace::trace_root(&steps),
		},
	};
	let signature = pair_of(node).sign(&payload.signing_bytes(&Inference::chain_id()));
	let call =
		pallet_inference::Call::<Test>::submit_commitment { payload: payload.clone(), signature };
	assert!(call.authorize(TransactionSource::External).expect("authorizable").is_ok());
	assert_ok!(Inference::submit_commitment(
		frame_system::RawOrigin::Authorized.into(),
		payload,
		signature
	));
}

#[test]
fn a_question_is_answered_with_the_settled_commitment_and_forgotten() {
	ExtBuilder::default().build_and_execute(|| {
		let free = Balances::free_balance(USER);
		let id = ask(VerificationMode::Sampling { n: 2 });
		assert_eq!(deposit_held(USER), QUESTION_DEPOSIT);
		assert_eq!(
			Questions::<Test>::get(id),
			Some(Question { asker: USER, deposit: QUESTION_DEPOSIT, answer: Answer::Pending })
		);
		assert_eq!(
			pallet_inference::Requests::<Test>::get(id).map(|r| r.caller),
			Some(Some(CALLER_TAG)),
			"the request is the pallet's"
		);
		next_block();
		let nodes = selected(id);
		let o = output(1, 4);
		for (position, node) in nodes.iter().enumerate() {
			commit(id, *node, position, 2, &o);
		}

		let settled = Answer::Settled {
			output_commitment: quorum_commitments(&o, 2).root,
			output_tokens: 4,
			nodes: nodes.clone().try_into().expect("within the bound"),
		};
		assert_eq!(answer(id), settled);
		assert_ok!(Oracle::forget(RuntimeOrigin::signed(USER), id));
		assert_eq!(Questions::<Test>::get(id), None);
		assert_eq!(deposit_held(USER), 0);
		assert_eq!(
			oracle_events(),
			vec![
				Event::Asked { request: id, asker: USER, deposit: QUESTION_DEPOSIT },
				Event::Answered { request: id, answer: settled },
				Event::Forgotten { request: id, asker: USER, released: QUESTION_DEPOSIT },
			]
		);
		// The asker paid the request's fees, and got the deposit back.
		let settlement = pallet_inference::Results::<Test>::get(id).expect("settled");
		assert_eq!(settlement.owner, USER);
		assert!(Balances::free_balance(USER) < free);
	});
}

#[test]
fn a_request_that_times_out_answers_failed() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		let id = ask(VerificationMode::Single);
		next_block();
		// Its only node never commits: the window closes, no node is left to redraw.
		run_to_block(12);
		assert_eq!(answer(id), Answer::Failed);
		assert!(!pallet_inference::Requests::<Test>::contains_key(id));
		assert_ok!(Oracle::forget(RuntimeOrigin::signed(USER), id));
		assert_eq!(deposit_held(USER), 0);
	});
}

#[test]
fn a_disputed_answer_waits_for_the_dispute_to_conclude() {
	ExtBuilder::default().build_and_execute(|| {
		let id = ask(VerificationMode::Sampling { n: 2 });
		next_block();
		let nodes = selected(id);
		let (honest, cheat) = (output(1, 4), output(9, 4));
		commit(id, nodes[0], 0, 2, &honest);
		commit(id, nodes[1], 1, 2, &cheat);
		assert_eq!(answer(id), Answer::Disputed);
		assert_noop!(
			Oracle::forget(RuntimeOrigin::signed(USER), id),
			Error::<Test>::AnswerNotFinal
		);

		// The disputes pallet concludes it for the honest node's output.
		let root = quorum_commitments(&honest, 2).root;
		assert_ok!(<Inference as DisputedRequests<AccountId>>::conclude_dispute(
			id,
			DisputeOutcome {
				output_commitment: Some(root),
				output_tokens: 4,
				honest: vec![nodes[0]]
			},
		));
		assert_eq!(
			answer(id),
			Answer::Settled {
				output_commitment: root,
				output_tokens: 4,
				nodes: vec![nodes[0]].try_into().expect("within the bound"),
			}
		);
		assert_ok!(Oracle::forget(RuntimeOrigin::signed(USER), id));
	});
}

#[test]
fn a_dispute_that_no_output_wins_answers_failed() {
	ExtBuilder::default().build_and_execute(|| {
		let id = ask(VerificationMode::Sampling { n: 2 });
		next_block();
		let nodes = selected(id);
		commit(id, nodes[0], 0, 2, &output(1, 4));
		commit(id, nodes[1], 1, 2, &output(9, 4));
		assert_ok!(<Inference as DisputedRequests<AccountId>>::conclude_dispute(
			id,
			DisputeOutcome { output_commitment: None, output_tokens: 0, honest: vec![] },
		));
		assert_eq!(answer(id), Answer::Failed);
		assert_ok!(Oracle::forget(RuntimeOrigin::signed(USER), id));
	});
}

#[test]
fn ask_holds_the_deposit_or_fails_with_nothing_held() {
	ExtBuilder::default().build_and_execute(|| {
		// No funds at all.
		assert_noop!(
			Oracle::ask(RuntimeOrigin::signed(PAUPER), spec(VerificationMode::Single)),
			Error::<Test>::CannotHoldDeposit
		);
		// Enough for the deposit, not for the request's escrow: the inference pallet refuses
		// it, and the deposit's hold is undone with it.
		assert_ok!(Balances::transfer(
			&USER,
			&OTHER,
			QUESTION_DEPOSIT + 10,
			frame_support::traits::tokens::Preservation::Expendable
		));
		assert_noop!(
			Oracle::ask(RuntimeOrigin::signed(OTHER), spec(VerificationMode::Single)),
			pallet_inference::Error::<Test>::InsufficientBalance
		);
		assert_eq!(deposit_held(OTHER), 0);
	});
}

#[test]
fn ask_takes_the_inference_pallets_checks() {
	ExtBuilder::default().build_and_execute(|| {
		let mut unknown = spec(VerificationMode::Single);
		unknown.model = ModelId::from_name(b"no-such-model").expect("valid id");
		assert_noop!(
			Oracle::ask(RuntimeOrigin::signed(USER), unknown),
			pallet_inference::Error::<Test>::UnknownModel
		);
		let mut empty = spec(VerificationMode::Single);
		empty.input = RequestInput::Inline(Vec::new());
		assert_noop!(
			Oracle::ask(RuntimeOrigin::signed(USER), empty),
			pallet_inference::Error::<Test>::EmptyInput
		);
		let mut hot = spec(VerificationMode::Single);
		hot.params = SamplingParams { temperature_milli: u32::MAX, ..hot.params };
		assert_noop!(
			Oracle::ask(RuntimeOrigin::signed(USER), hot),
			pallet_inference::Error::<Test>::InvalidParams
		);
		assert_noop!(
			Oracle::ask(RuntimeOrigin::none(), spec(VerificationMode::Single)),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn forget_is_the_askers_once_the_answer_is_final() {
	ExtBuilder::default().build_and_execute(|| {
		assert_noop!(
			Oracle::forget(RuntimeOrigin::signed(USER), RequestId(42)),
			Error::<Test>::UnknownQuestion
		);
		let id = ask(VerificationMode::Single);
		assert_noop!(
			Oracle::forget(RuntimeOrigin::signed(USER), id),
			Error::<Test>::AnswerNotFinal
		);
		next_block();
		let node = selected(id)[0];
		commit(id, node, 0, 1, &output(1, 2));
		// Somebody else cannot take the asker's deposit back, nor remove its answer.
		assert_noop!(Oracle::forget(RuntimeOrigin::signed(OTHER), id), Error::<Test>::NotAsker);
		assert_ok!(Oracle::forget(RuntimeOrigin::signed(USER), id));
		assert_noop!(
			Oracle::forget(RuntimeOrigin::signed(USER), id),
			Error::<Test>::UnknownQuestion
		);
	});
}

#[test]
fn other_callers_and_user_requests_leave_questions_alone() {
	ExtBuilder::default().build_and_execute(|| {
		let id = ask(VerificationMode::Single);
		// Another pallet's outcome for the same id is not this pallet's to record.
		let weight =
			<Oracle as OnInferenceOutcome>::on_outcome(*b"another!", id, &InferenceOutcome::Failed);
		assert_eq!(weight, Weight::zero());
		assert_eq!(answer(id), Answer::Pending);
		// A user's own request is no question.
		let user_request = next_request();
		assert_ok!(Inference::submit_request(
			RuntimeOrigin::signed(USER),
			spec(VerificationMode::Single)
		));
		next_block();
		commit(user_request, selected(user_request)[0], 0, 1, &output(1, 2));
		assert_eq!(Questions::<Test>::get(user_request), None);
		assert_eq!(Questions::<Test>::iter().count(), 1);
	});
}
