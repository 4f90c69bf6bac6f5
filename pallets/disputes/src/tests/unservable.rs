//! Disputes over "unservable" attestations: a node that claims a request cannot be served while
//! another serves it. The arbiters try it: if they can run it, the false claim loses like any
//! cheat; if they cannot either (a by-hash input the user uploaded to some nodes only), nobody
//! can be shown wrong: the user is refunded and nobody is slashed.

use atoma_primitives::unservable::UnservableReason;
use atoma_support::inference::{ClaimedOutput, VerificationMode};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Dismissal, Event, Game, Verdict};

/// Sampling n = 2: node 0 commits `output`, node 1 attests `reason`.
fn output_against_attestation(
	output: &[u8],
	reason: UnservableReason,
) -> (atoma_support::RequestId, NodeId, NodeId) {
	let id = submit_and_select(VerificationMode::Sampling { n: 2 });
	let nodes = request(id).nodes.to_vec();
	assert_ok!(commit(id, nodes[0], quorum_kind(output, 0, 2)));
	let pallet_inference::Phase::Executing { deadline } = request(id).phase else {
		panic!("executing")
	};
	// "Input unavailable" counts from the middle of the window on.
	run_to_block(deadline - 2);
	assert_ok!(commit(id, nodes[1], CommitmentKind::Unservable { reason }));
	assert!(crate::Disputes::<Test>::contains_key(id), "the disagreement opened a dispute");
	(id, nodes[0], nodes[1])
}

#[test]
fn an_attestation_has_no_trace_so_the_arbiters_run_the_whole_request() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, _, claimer) =
			output_against_attestation(&output(1, 4), UnservableReason::InputUnavailable);
		let d = dispute(id);
		assert_eq!(d.game, Game::Full);
		let claim = d.claims.iter().find(|c| c.node == claimer).expect("a party");
		assert_eq!(
			claim.claim,
			ClaimedOutput::Unservable { reason: UnservableReason::InputUnavailable }
		);
	});
}

#[test]
fn a_false_unservable_claim_loses_all_its_collateral() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, honest, liar) =
			output_against_attestation(&honest_output, UnservableReason::InvalidPrompt);
		let arbiters = run_to_draw(id);
		arbitrate(id, &arbiters, &vec![verdict(&honest_output, 2); 3]);
		let resolved = dispute_events().into_iter().find_map(|e| match e {
			Event::DisputeResolved { honest, cheaters, .. } => Some((honest, cheaters)),
			_ => None,
		});
		assert_eq!(resolved, Some((vec![honest], vec![liar])));
		assert_eq!(collateral(liar), 0);
		assert_eq!(collateral(honest), NODE_COLLATERAL);
	});
}

/// The selective-upload attack: the user uploads its by-hash input to one selected node only,
/// hoping the other is slashed for not serving it. The other attests "unavailable"; the arbiters
/// cannot get the input either; the dispute is dismissed: full refund, nobody slashed.
#[test]
fn when_the_arbiters_cannot_serve_it_either_nobody_is_slashed() {
	ExtBuilder::default().build_and_execute(|| {
		let user_before = free(USER);
		let (id, served, attested) =
			output_against_attestation(&output(1, 4), UnservableReason::InputUnavailable);
		let arbiters = run_to_draw(id);
		let unavailable = Verdict::unservable(UnservableReason::InputUnavailable);
		assert_eq!(unavailable.unservable_reason(), Some(UnservableReason::InputUnavailable));
		arbitrate(id, &arbiters, &vec![unavailable; 3]);

		System::assert_has_event(
			Event::DisputeDismissed {
				request: id,
				reason: Dismissal::Unservable(UnservableReason::InputUnavailable),
			}
			.into(),
		);
		for node in [served, attested].iter().chain(&arbiters) {
			assert_eq!(collateral(*node), NODE_COLLATERAL, "nobody is slashed");
			assert_eq!(reserved(*node), 0, "every reservation is released");
		}
		assert_eq!(free(USER), user_before, "the user gets its whole escrow back, and no more");
		assert_eq!(held_escrow(USER), 0);
		assert!(crate::Disputes::<Test>::get(id).is_none());
		assert!(pallet_inference::Requests::<Test>::get(id).is_none());
	});
}

/// In a one-step check the arbiters compute a step of the request: one that cannot get the input
/// says so instead of timing out (and losing collateral for a user's choice).
#[test]
fn an_unservable_verdict_is_accepted_in_a_step_check_and_a_malformed_one_is_not() {
	ExtBuilder::default().build_and_execute(|| {
		// Two outputs of different lengths: checked at the shorter one's end (outputs short
		// enough to publish on chain, or the arbiters would run the whole request).
		PublishableOutputLen::set(4_096);
		let (id, _) = disputed_sampling(&[output(1, 3), output(1, 5)]);
		assert!(matches!(dispute(id).game, Game::StepCheck(_)), "{:?}", dispute(id).game);
		let arbiters = run_to_draw(id);
		let unavailable = Verdict::unservable(UnservableReason::InputUnavailable);
		// Tokens or leaves beside an unservable digest make it an output verdict, of the wrong
		// kind for a step check.
		let mut malformed = unavailable.clone();
		malformed.output_tokens = 1;
		assert_eq!(malformed.unservable_reason(), None);
		assert_ok!(vote(id, arbiters[0], seal_of(arbiters[0], &malformed)));
		for a in &arbiters[1..] {
			assert_ok!(vote(id, *a, seal_of(*a, &unavailable)));
		}
		assert_noop!(
			vote(id, arbiters[0], crate::types::Vote::Revealed(malformed)),
			sp_runtime::DispatchError::Other("unauthorized")
		);
		for a in &arbiters[1..] {
			assert_ok!(vote(id, *a, crate::types::Vote::Revealed(unavailable.clone())));
		}
		// Two of three is a majority once the window closes.
		let DisputePhase::Revealing { deadline } = dispute(id).phase else { panic!("revealing") };
		run_to_block(deadline);
		System::assert_has_event(
			Event::DisputeDismissed {
				request: id,
				reason: Dismissal::Unservable(UnservableReason::InputUnavailable),
			}
			.into(),
		);
	});
}

/// An arbiter whose worker lacks a by-hash input reads it from a party's worker: its duty in the
/// dispute is its role, checked on chain by the party's node. A node with no duty may not read.
#[test]
fn the_parties_and_arbiters_of_a_dispute_may_read_its_input() {
	use atoma_support::inference::{DisputedRequests, InputRead, InputReadRefusal, RequestInput};
	ExtBuilder::default().build_and_execute(|| {
		let hash = sp_io::hashing::blake2_256(b"uploaded to the parties");
		let mut s = spec(VerificationMode::Sampling { n: 2 });
		s.input = RequestInput::Hash(hash);
		let id = RequestId(pallet_inference::NextRequestId::<Test>::get());
		assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), s));
		next_block();
		let parties = request(id).nodes.to_vec();
		let honest = output(1, 4);
		assert_ok!(commit(id, parties[0], quorum_kind(&honest, 0, 2)));
		assert_ok!(commit(id, parties[1], quorum_kind(&output(2, 4), 1, 2)));
		assert_eq!(Inference::input_holders(id), Some((hash, parties.clone())));
		let arbiters = run_to_draw(id);
		let read = |node: NodeId| {
			let now = 1_700_000_000;
			let message = atoma_primitives::input_read::signing_bytes(
				&Inference::chain_id(),
				id.0,
				&hash,
				now,
			);
			let signature = pair_of(node).sign(&message);
			Inference::authorize_input_read(&InputRead {
				request: id,
				input_hash: hash,
				reader: pair_of(node).public(),
				timestamp: now,
				signature,
				vrf: None,
			})
		};
		for node in arbiters.iter().chain(&parties) {
			assert_eq!(read(*node), Ok(()), "{node:?} has a duty");
		}
		let outsider = (0..12)
			.map(NodeId)
			.find(|n| !arbiters.contains(n) && !parties.contains(n))
			.expect("12 nodes");
		assert_eq!(read(outsider), Err(InputReadRefusal::NoRole));
		arbitrate(id, &arbiters, &vec![verdict(&honest, 2); arbiters.len()]);
		assert!(!crate::Disputes::<Test>::contains_key(id), "resolved");
	});
}
