use atoma_support::{
	inference::{RequestInput, VerificationMode},
	EchelonId, ModelId,
};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Error, Event, Phase};

#[test]
fn submission_escrows_the_maximum_fee() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit(spec(VerificationMode::Sampling { n: 2 }));
		// 2 executions x (5 input + 10 output tokens) x price 2.
		let escrow = 2 * 15 * PRICE;
		System::assert_last_event(
			Event::RequestSubmitted {
				request: id,
				owner: USER,
				model: model(),
				echelon: EchelonId(0),
				mode: VerificationMode::Sampling { n: 2 },
				escrow,
			}
			.into(),
		);
		assert_eq!(held_escrow(USER), escrow);
		assert_eq!(request(id).phase, Phase::AwaitingSelection);
		assert!(request(id).nodes.is_empty(), "nodes are drawn in a later block");
		// Cross-Validation escrows the primary and every possible verifier.
		submit(spec(VerificationMode::CrossValidation { n: 2, p: Perbill::from_percent(1) }));
		assert_eq!(held_escrow(USER), escrow + 3 * 15 * PRICE);
	});
}

#[test]
fn submission_errors() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let submit_err = |s| Inference::submit_request(RuntimeOrigin::signed(USER), s);
		let mut s = spec(VerificationMode::Single);
		s.model = ModelId::from_name(b"unknown").unwrap();
		assert_noop!(submit_err(s), Error::<Test>::UnknownModel);

		assert_ok!(ModelRegistry::register_model(
			RuntimeOrigin::signed(MODEL_OWNER),
			b"pending".to_vec(),
			[0; 32],
			[0; 32],
			vec![],
			Perbill::zero()
		));
		let mut s = spec(VerificationMode::Single);
		s.model = ModelId::from_name(b"pending").unwrap();
		assert_noop!(submit_err(s), Error::<Test>::ModelNotServable);

		let mut s = spec(VerificationMode::Single);
		s.echelon = EchelonId(3);
		assert_noop!(submit_err(s), Error::<Test>::NoPriceForEchelon);

		let mut s = spec(VerificationMode::Single);
		s.input = RequestInput::Inline(vec![b'x'; 65]);
		assert_noop!(submit_err(s), Error::<Test>::InputTooLarge);
		let mut s = spec(VerificationMode::Single);
		s.input = RequestInput::Inline(vec![]);
		assert_noop!(submit_err(s), Error::<Test>::EmptyInput);
		// The attack of issue 12: four bytes that are not UTF-8 made an honest node time out and
		// paid the requester its slash. Refused at submission: nothing held, nobody drawn.
		let mut s = spec(VerificationMode::Single);
		s.input = RequestInput::Inline(vec![0xff, 0xfe, 0xc3, 0x28]);
		assert_noop!(submit_err(s), Error::<Test>::InputNotUtf8);
		// A job that cannot fit the model's context would fail on every worker.
		let mut s = spec(VerificationMode::Single);
		s.input_tokens = CONTEXT_LENGTH - s.params.max_output_tokens + 1;
		assert_noop!(submit_err(s), Error::<Test>::ExceedsContextLength);
		let mut s = spec(VerificationMode::Single);
		s.input_tokens = CONTEXT_LENGTH - s.params.max_output_tokens;
		assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), s));
		// The same attack with a conversation no worker serves (a role it refuses, an image part,
		// no message at all): refused too.
		for chat in [
			&br#"[{"role":"tool","content":"x"}]"#[..],
			br#"[{"role":"user","content":[{"type":"image_url"}]}]"#,
			b"[]",
		] {
			let mut s = spec(VerificationMode::Single);
			s.input = RequestInput::Inline(chat.to_vec());
			assert_noop!(submit_err(s), Error::<Test>::InvalidChatMessages);
		}

		let mut s = spec(VerificationMode::Single);
		s.params.top_p_milli = 0;
		assert_noop!(submit_err(s), Error::<Test>::InvalidParams);

		for mode in [
			VerificationMode::Sampling { n: 1 },
			VerificationMode::Sampling { n: 4 },
			VerificationMode::CrossValidation { n: 0, p: Perbill::one() },
			VerificationMode::CrossValidation { n: 4, p: Perbill::one() },
		] {
			assert_noop!(submit_err(spec(mode)), Error::<Test>::InvalidQuorum);
		}
		let mut s = spec(VerificationMode::Single);
		s.timeout = 1;
		assert_noop!(submit_err(s.clone()), Error::<Test>::InvalidTimeout);
		s.timeout = 51;
		assert_noop!(submit_err(s), Error::<Test>::InvalidTimeout);

		assert_noop!(
			submit_err(spec(VerificationMode::Sampling { n: 3 })),
			Error::<Test>::TooFewEligibleNodes
		);
		assert_noop!(
			Inference::submit_request(
				RuntimeOrigin::signed(PAUPER),
				spec(VerificationMode::Single)
			),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn no_eligible_nodes_is_an_error() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		assert_ok!(NodeRegistry::deregister_node(
			RuntimeOrigin::signed(operator(atoma_support::NodeId(0))),
			atoma_support::NodeId(0)
		));
		assert_noop!(
			Inference::submit_request(RuntimeOrigin::signed(USER), spec(VerificationMode::Single)),
			Error::<Test>::NoEligibleNodes
		);
	});
}

#[test]
fn a_fee_that_overflows_is_an_error() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		assert_ok!(NodeRegistry::bid_price(
			RuntimeOrigin::signed(operator(atoma_support::NodeId(0))),
			atoma_support::NodeId(0),
			u64::MAX / 2
		));
		run_to_block(1_000);
		assert_noop!(
			Inference::submit_request(RuntimeOrigin::signed(USER), spec(VerificationMode::Single)),
			Error::<Test>::FeeOverflow
		);
	});
}

#[test]
fn the_selection_queue_is_bounded() {
	ExtBuilder::default().build_and_execute(|| {
		for _ in 0..4 {
			submit(spec(VerificationMode::Single));
		}
		assert_noop!(
			Inference::submit_request(RuntimeOrigin::signed(USER), spec(VerificationMode::Single)),
			Error::<Test>::TooManyPendingRequests
		);
		// Three are drawn per block; the queue makes room.
		next_block();
		assert_eq!(crate::PendingSelections::<Test>::get().len(), 1);
		submit(spec(VerificationMode::Single));
	});
}
