//! Disputes between two traces: the parties bisect them down to one step, arbiters compute only
//! that step, the wrong side is convicted and a survivor publishes the output. Each test performs
//! an attack (a tampered token, a cheaper model, a lazy copier, a silent party, a wrong
//! publication) and checks that it loses.

use atoma_primitives::{
	bisection::{children, depth, node_hash, Children, TreeNode},
	commitment::quorum_commitments,
	CanonicalOutput, FinishReason,
};
use atoma_support::{inference::VerificationMode, NodeRegistry as _};
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{
	mock::*, Bisection, BisectionPayload, Conviction, Error, Event, Game, OutputPayload,
	StepVerdict,
};

/// An output of `tokens` ids, `ids[i] = 100 + i` except the `(position, id)` replacements.
fn output_with(tokens: u32, replaced: &[(usize, u32)]) -> Vec<u8> {
	let mut ids: Vec<u32> = (0..tokens).map(|i| 100 + i).collect();
	for (position, id) in replaced {
		ids[*position] = *id;
	}
	CanonicalOutput::new(&ids, FinishReason::Stop).encode_canonical()
}

/// The commitment of the node at `position` of `n` to `output`, with the trace `digests`.
fn traced_kind(output: &[u8], digests: &[[u8; 32]], position: usize, n: usize) -> CommitmentKind {
	let q = quorum_commitments(output, n as u32);
	CommitmentKind::Quorum {
		root: q.root,
		leaf: q.leaves[position],
		input_tokens: 5,
		output_tokens: digests.len() as u32,
		trace_root: atoma_primitives::trace::trace_root(digests),
	}
}

/// A Sampling request whose node `i` commits `kinds[i]`; returns it and its nodes.
fn disputed_with(kinds: Vec<CommitmentKind>) -> (RequestId, Vec<NodeId>) {
	PublishableOutputLen::set(4_096);
	let id = submit_and_select(VerificationMode::Sampling { n: kinds.len() as u32 });
	let nodes = request(id).nodes.to_vec();
	for (node, kind) in nodes.iter().zip(kinds) {
		assert_ok!(commit(id, *node, kind));
	}
	assert!(crate::Disputes::<Test>::contains_key(id), "the disagreement opened a dispute");
	(id, nodes)
}

/// An honest party (node 0 of the quorum) and a cheater (node 1) whose output and trace
/// replace one token of the honest `tokens`-token output.
struct Sides {
	id: RequestId,
	nodes: Vec<NodeId>,
	honest_output: Vec<u8>,
	tampered: Vec<u8>,
	honest_trace: Vec<[u8; 32]>,
	tampered_trace: Vec<[u8; 32]>,
}

fn honest_against_tampered(tokens: u32, replaced: (usize, u32)) -> Sides {
	let honest_output = output_with(tokens, &[]);
	let tampered = output_with(tokens, &[replaced]);
	let (honest_trace, tampered_trace) = (trace_of(&honest_output), trace_of(&tampered));
	let (id, nodes) = disputed_with(vec![
		traced_kind(&honest_output, &honest_trace, 0, 2),
		traced_kind(&tampered, &tampered_trace, 1, 2),
	]);
	Sides { id, nodes, honest_output, tampered, honest_trace, tampered_trace }
}

fn bisection(id: RequestId) -> Bisection {
	match dispute(id).game {
		Game::Bisection(b) => b,
		other => panic!("not bisecting: {other:?}"),
	}
}

/// `node`'s signed answer to the current turn, from its step digests.
fn answer_payload(id: RequestId, node: NodeId, digests: &[[u8; 32]]) -> BisectionPayload {
	let b = bisection(id);
	let steps = b.traces[0].1;
	let here = TreeNode { level: b.level, index: b.index };
	let Children::Pair(left, right) = children(steps, here) else { panic!("an inner node") };
	BisectionPayload {
		request: id,
		node,
		level: b.level,
		index: b.index,
		left: node_hash(digests, steps, left).unwrap(),
		right: node_hash(digests, steps, right).unwrap(),
	}
}

/// Submit `payload` signed by `signer`, authorized first like the real transaction.
fn submit_answer(payload: BisectionPayload, signer: NodeId) -> DispatchResult {
	let signature = pair_of(signer).sign(&payload.signing_bytes(&Disputes::chain_id()));
	let call = Call::<Test>::submit_bisection { payload: payload.clone(), signature };
	call.authorize(TransactionSource::External)
		.expect("authorizable")
		.map_err(|_| sp_runtime::DispatchError::Other("unauthorized"))?;
	Disputes::submit_bisection(frame_system::RawOrigin::Authorized.into(), payload, signature)
}

/// Both sides answer every turn until the walk reaches a step; returns the turns taken.
fn bisect(id: RequestId, sides: [(NodeId, &[[u8; 32]]); 2]) -> u32 {
	let mut turns = 0;
	while matches!(dispute(id).game, Game::Bisection(_)) {
		for (node, digests) in sides {
			assert_ok!(submit_answer(answer_payload(id, node, digests), node));
		}
		turns += 1;
		next_block();
	}
	turns
}

fn step_check(id: RequestId) -> crate::StepCheck {
	match dispute(id).game {
		Game::StepCheck(check) => check,
		other => panic!("not a step check: {other:?}"),
	}
}

/// Every arbiter `arbiters[i]` seals and reveals the one-step verdict of `digests[i]` (its own
/// honest or lying decode, steps `0..=k`).
fn check_step(id: RequestId, arbiters: &[NodeId], digests: &[&[[u8; 32]]]) {
	let check = step_check(id);
	let verdicts: Vec<StepVerdict> =
		digests.iter().map(|d| Disputes::step_verdict(&check, d)).collect();
	for (node, v) in arbiters.iter().zip(&verdicts) {
		let seal = sealed_commitment(&v.digest(), &pair_of(*node).public().0);
		assert_ok!(vote(id, *node, Vote::Sealed(seal)));
	}
	for (node, v) in arbiters.iter().zip(&verdicts) {
		assert_ok!(vote(id, *node, Vote::RevealedStep(v.clone())));
	}
}

/// `node` publishes `output`. The dispatch repeats the authorization's checks, so a refused
/// publication fails with the named error; a valid one is authorized first like the real
/// transaction.
fn publish(id: RequestId, node: NodeId, output: &[u8]) -> DispatchResult {
	let payload =
		OutputPayload { request: id, node, output: BoundedVec::truncate_from(output.to_vec()) };
	let signature = pair_of(node).sign(&payload.signing_bytes(&Disputes::chain_id()));
	if Disputes::check_output(&payload, &signature).is_ok() {
		let call = Call::<Test>::submit_output { payload: payload.clone(), signature };
		assert!(call.authorize(TransactionSource::External).expect("authorizable").is_ok());
	}
	Disputes::submit_output(frame_system::RawOrigin::Authorized.into(), payload, signature)
}

fn resolved_event(id: RequestId) -> Event<Test> {
	dispute_events()
		.into_iter()
		.find(|e| matches!(e, Event::DisputeResolved { request, .. } if *request == id))
		.expect("resolved")
}

#[test]
fn a_tampered_token_is_bisected_to_its_step_and_the_cheater_loses_everything() {
	ExtBuilder::default().build_and_execute(|| {
		let Sides { id, nodes, honest_output, tampered, honest_trace, tampered_trace } =
			honest_against_tampered(10, (6, 7));
		let (honest, cheater) = (nodes[0], nodes[1]);
		let user_before = free(USER);

		let turns = bisect(id, [(honest, &honest_trace), (cheater, &tampered_trace)]);
		assert!(turns <= depth(10), "{turns} turns for 10 steps");
		let check = step_check(id);
		assert_eq!(check.step, 6, "the first step where the traces differ");
		let covered: u32 = check.agreed.iter().map(|(_, len, _)| len).sum();
		assert_eq!(covered, 6, "everything before it is agreed");

		// Arbiters decode steps 0..=6 only.
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..7];
		check_step(id, &arbiters, &[mine, mine, mine]);
		System::assert_has_event(
			Event::PartiesConvicted {
				request: id,
				nodes: vec![cheater],
				reason: Conviction::WrongStep,
			}
			.into(),
		);
		assert!(matches!(dispute(id).phase, DisputePhase::AwaitingOutput { .. }));

		// The cheater may not publish; the honest survivor does.
		assert_noop!(publish(id, cheater, &tampered), Error::<Test>::NotASurvivor);
		assert_ok!(publish(id, honest, &honest_output));
		let Event::DisputeResolved {
			honest: paid,
			cheaters,
			arbiters: winners,
			output_commitment,
			..
		} = resolved_event(id)
		else {
			unreachable!()
		};
		assert_eq!((paid, cheaters), (vec![honest], vec![cheater]));
		assert_eq!(winners, arbiters);
		assert_eq!(output_commitment, Some(quorum_commitments(&honest_output, 2).root));
		assert_eq!(collateral(cheater), 0, "the whole deposit");
		assert!(!NodeRegistry::is_eligible(cheater, 0));
		assert_eq!(collateral(honest), NODE_COLLATERAL);
		assert!(free(USER) > user_before, "refunded, and paid the user's share");
		assert_eq!(held_escrow(USER), 0);
		assert!(nodes.iter().chain(&arbiters).all(|n| reserved(*n) == 0), "every hold released");
	});
}

#[test]
fn a_cheaper_model_with_the_same_tokens_is_caught_at_step_zero() {
	ExtBuilder::default().build_and_execute(|| {
		let o = output_with(8, &[]);
		let honest_trace = trace_of(&o);
		// Other logits at every step: the same tokens, another trace.
		let cheaper_trace: Vec<[u8; 32]> = (0..8u32)
			.map(|i| atoma_primitives::trace::step_digest(i, 100 + i, &[(100 + i, 1)]))
			.collect();
		let (id, nodes) = disputed_with(vec![
			traced_kind(&o, &cheaper_trace, 0, 2),
			traced_kind(&o, &honest_trace, 1, 2),
		]);
		let (cheater, honest) = (nodes[0], nodes[1]);
		bisect(id, [(cheater, &cheaper_trace), (honest, &honest_trace)]);
		assert_eq!(step_check(id).step, 0, "arbiters run the prefill and one step");
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..1];
		check_step(id, &arbiters, &[mine, mine, mine]);
		assert_ok!(publish(id, honest, &o));
		// Its leaf matches the output, but its trace was proven wrong.
		let Event::DisputeResolved { honest: paid, cheaters, .. } = resolved_event(id) else {
			unreachable!()
		};
		assert_eq!((paid, cheaters), (vec![honest], vec![cheater]));
		assert_eq!(collateral(cheater), 0);
	});
}

#[test]
fn a_side_that_stops_answering_loses() {
	ExtBuilder::default().build_and_execute(|| {
		let Sides { id, nodes, honest_output, honest_trace, tampered_trace, .. } =
			honest_against_tampered(10, (9, 1));
		let (honest, cheater) = (nodes[0], nodes[1]);
		// First turn answered by both, the second by the honest side only.
		for (node, digests) in [(honest, &honest_trace), (cheater, &tampered_trace)] {
			assert_ok!(submit_answer(answer_payload(id, node, digests), node));
		}
		assert_ok!(submit_answer(answer_payload(id, honest, &honest_trace), honest));
		let DisputePhase::Bisecting { deadline } = dispute(id).phase else { panic!("a turn") };
		run_to_block(deadline);
		System::assert_has_event(
			Event::PartiesConvicted {
				request: id,
				nodes: vec![cheater],
				reason: Conviction::NoAnswer,
			}
			.into(),
		);
		assert_ok!(publish(id, honest, &honest_output));
		assert_eq!(collateral(cheater), 0);
		assert_eq!(collateral(honest), NODE_COLLATERAL);
	});
}

#[test]
fn traces_of_other_lengths_are_checked_where_the_shorter_ends() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output_with(9, &[]);
		// Stops early, claiming the model ended there.
		let short = output_with(5, &[]);
		let (honest_trace, short_trace) = (trace_of(&honest_output), trace_of(&short));
		let (id, nodes) = disputed_with(vec![
			traced_kind(&honest_output, &honest_trace, 0, 2),
			traced_kind(&short, &short_trace, 1, 2),
		]);
		let check = step_check(id);
		assert_eq!(check.step, 5, "no bisection: the check is at the shorter trace's end");
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..6];
		check_step(id, &arbiters, &[mine, mine, mine]);
		assert_ok!(publish(id, nodes[0], &honest_output));
		let Event::DisputeResolved { honest, cheaters, .. } = resolved_event(id) else {
			unreachable!()
		};
		assert_eq!((honest, cheaters), (vec![nodes[0]], vec![nodes[1]]));
	});
}

#[test]
fn a_wrong_prefix_both_sides_agreed_on_convicts_both_after_a_larger_round() {
	ExtBuilder::default().build_and_execute(|| {
		// Both colluders replaced step 2; they then differ at step 7.
		let a = output_with(10, &[(2, 1)]);
		let b = output_with(10, &[(2, 1), (7, 1)]);
		let honest_trace = trace_of(&output_with(10, &[]));
		let (a_trace, b_trace) = (trace_of(&a), trace_of(&b));
		let (id, nodes) =
			disputed_with(vec![traced_kind(&a, &a_trace, 0, 2), traced_kind(&b, &b_trace, 1, 2)]);
		bisect(id, [(nodes[0], &a_trace), (nodes[1], &b_trace)]);
		assert_eq!(step_check(id).step, 7);
		// One round's word is not enough to convict every party: a larger round is drawn.
		let first = run_to_draw(id);
		let mine = &honest_trace[..8];
		check_step(id, &first, &[mine, mine, mine]);
		assert_eq!(dispute(id).round, 1);
		let second = run_to_draw(id);
		assert_eq!(second.len() as u32, 2 * ARBITER_QUORUM);
		check_step(id, &second, &vec![mine; second.len()]);
		let Event::DisputeResolved { honest, cheaters, output_commitment, .. } = resolved_event(id)
		else {
			unreachable!()
		};
		assert!(honest.is_empty() && output_commitment.is_none());
		assert!(nodes.iter().all(|n| cheaters.contains(n) && collateral(*n) == 0));
		assert_eq!(held_escrow(USER), 0, "refunded in full");
	});
}

#[test]
fn a_lazy_copier_on_the_winning_side_is_caught_by_the_published_output() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output_with(6, &[]);
		let tampered = output_with(6, &[(3, 1)]);
		let (honest_trace, tampered_trace) = (trace_of(&honest_output), trace_of(&tampered));
		let CommitmentKind::Quorum { root, output_tokens, trace_root, .. } =
			traced_kind(&honest_output, &honest_trace, 1, 3)
		else {
			unreachable!()
		};
		// The copier takes the honest node's root and trace root; its own leaf it cannot make.
		let copier = CommitmentKind::Quorum {
			root,
			leaf: [0xEE; 32],
			input_tokens: 5,
			output_tokens,
			trace_root,
		};
		let (id, nodes) = disputed_with(vec![
			traced_kind(&honest_output, &honest_trace, 0, 3),
			copier,
			traced_kind(&tampered, &tampered_trace, 2, 3),
		]);
		bisect(id, [(nodes[0], &honest_trace), (nodes[2], &tampered_trace)]);
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..4];
		check_step(id, &arbiters, &[mine, mine, mine]);
		// The copier cannot publish an output that matches its own commitment.
		assert_noop!(publish(id, nodes[1], &honest_output), Error::<Test>::MalformedOutput);
		assert_ok!(publish(id, nodes[0], &honest_output));
		let Event::DisputeResolved { honest, cheaters, .. } = resolved_event(id) else {
			unreachable!()
		};
		assert_eq!(honest, vec![nodes[0]]);
		assert_eq!(cheaters, vec![nodes[2], nodes[1]]);
	});
}

#[test]
fn survivors_committed_to_different_outputs_go_to_full_arbitration() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output_with(6, &[]);
		let other = output_with(6, &[(0, 5)]);
		let tampered = output_with(6, &[(3, 1)]);
		let (honest_trace, tampered_trace) = (trace_of(&honest_output), trace_of(&tampered));
		// Node 1 copied the honest trace root but committed to another output.
		let (id, nodes) = disputed_with(vec![
			traced_kind(&honest_output, &honest_trace, 0, 3),
			traced_kind(&other, &honest_trace, 1, 3),
			traced_kind(&tampered, &tampered_trace, 2, 3),
		]);
		bisect(id, [(nodes[0], &honest_trace), (nodes[2], &tampered_trace)]);
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..4];
		check_step(id, &arbiters, &[mine, mine, mine]);
		assert_eq!(dispute(id).game, Game::Full, "no publication can decide between them");
		let second = run_to_draw(id);
		arbitrate(id, &second, &vec![verdict(&honest_output, 3); second.len()]);
		let Event::DisputeResolved { honest, cheaters, arbiters: paid, .. } = resolved_event(id)
		else {
			unreachable!()
		};
		assert_eq!(honest, vec![nodes[0]]);
		assert_eq!(cheaters, vec![nodes[2], nodes[1]]);
		assert!(arbiters.iter().chain(&second).all(|a| paid.contains(a)), "both rounds paid");
	});
}

#[test]
fn survivors_that_publish_nothing_lose_too() {
	ExtBuilder::default().build_and_execute(|| {
		let Sides { id, nodes, honest_trace, tampered_trace, .. } =
			honest_against_tampered(3, (1, 1));
		bisect(id, [(nodes[0], &honest_trace), (nodes[1], &tampered_trace)]);
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..2];
		check_step(id, &arbiters, &[mine, mine, mine]);
		let DisputePhase::AwaitingOutput { deadline } = dispute(id).phase else {
			panic!("awaiting the output")
		};
		run_to_block(deadline);
		System::assert_has_event(
			Event::PartiesConvicted {
				request: id,
				nodes: vec![nodes[0]],
				reason: Conviction::NoOutput,
			}
			.into(),
		);
		assert!(nodes.iter().all(|n| collateral(*n) == 0));
		assert!(arbiters.iter().all(|a| reserved(*a) == 0 && collateral(*a) == NODE_COLLATERAL));
		assert_eq!(held_escrow(USER), 0);
	});
}

#[test]
fn bisection_answer_errors() {
	ExtBuilder::default().build_and_execute(|| {
		let Sides { id, nodes, honest_output, honest_trace, tampered_trace, .. } =
			honest_against_tampered(10, (6, 7));
		let check = |payload: &BisectionPayload, signer: NodeId| {
			let signature = pair_of(signer).sign(&payload.signing_bytes(&Disputes::chain_id()));
			Disputes::check_bisection(payload, &signature)
				.map(|_| ())
				.map_err(sp_runtime::DispatchError::from)
		};
		let good = answer_payload(id, nodes[0], &honest_trace);
		let outsider = NodeId(11);
		assert_eq!(
			check(&BisectionPayload { request: RequestId(99), ..good.clone() }, nodes[0]),
			Err(Error::<Test>::UnknownDispute.into())
		);
		assert_eq!(check(&good, nodes[1]), Err(Error::<Test>::BadSignature.into()));
		assert_eq!(
			check(&BisectionPayload { node: outsider, ..good.clone() }, outsider),
			Err(Error::<Test>::NotASide.into())
		);
		assert_eq!(
			check(&BisectionPayload { level: 0, ..good.clone() }, nodes[0]),
			Err(Error::<Test>::StaleTurn.into())
		);
		// The other side's children do not hash to this side's node.
		let theirs = answer_payload(id, nodes[1], &tampered_trace);
		assert_eq!(
			check(&BisectionPayload { node: nodes[0], ..theirs }, nodes[0]),
			Err(Error::<Test>::AnswerMismatch.into())
		);
		assert_ok!(submit_answer(good.clone(), nodes[0]));
		assert_noop!(
			submit_answer(good.clone(), nodes[0]),
			sp_runtime::DispatchError::Other("unauthorized")
		);
		assert_eq!(check(&good, nodes[0]), Err(Error::<Test>::AlreadyAnswered.into()));
		// Output publications are refused outside their window.
		let payload = OutputPayload {
			request: id,
			node: nodes[0],
			output: BoundedVec::truncate_from(honest_output),
		};
		let signature = pair_of(nodes[0]).sign(&payload.signing_bytes(&Disputes::chain_id()));
		assert_eq!(
			Disputes::check_output(&payload, &signature)
				.map(|_| ())
				.map_err(sp_runtime::DispatchError::from),
			Err(Error::<Test>::NotAwaitingOutput.into())
		);
		// After the turn's deadline nothing is accepted.
		let DisputePhase::Bisecting { deadline } = dispute(id).phase else { panic!("a turn") };
		run_to_block(deadline);
		assert!(!matches!(dispute(id).phase, DisputePhase::Bisecting { .. }));
		let late = BisectionPayload { node: nodes[1], ..good };
		assert_eq!(check(&late, nodes[1]), Err(Error::<Test>::NotBisecting.into()));
	});
}

#[test]
fn a_published_output_must_match_the_publishers_commitment() {
	ExtBuilder::default().build_and_execute(|| {
		let Sides { id, nodes, honest_output, honest_trace, tampered_trace, .. } =
			honest_against_tampered(4, (2, 1));
		bisect(id, [(nodes[0], &honest_trace), (nodes[1], &tampered_trace)]);
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..3];
		check_step(id, &arbiters, &[mine, mine, mine]);
		// Garbage, another output of the right length, and the right output of another length.
		assert_noop!(publish(id, nodes[0], b"not an output"), Error::<Test>::MalformedOutput);
		assert_noop!(
			publish(id, nodes[0], &output_with(4, &[(0, 9)])),
			Error::<Test>::MalformedOutput
		);
		assert_noop!(publish(id, nodes[0], &output_with(5, &[])), Error::<Test>::MalformedOutput);
		assert_ok!(publish(id, nodes[0], &honest_output));
		assert!(!crate::Disputes::<Test>::contains_key(id));
	});
}

#[test]
fn cross_validation_sides_bisect_and_the_surviving_verifier_publishes() {
	ExtBuilder::default().build_and_execute(|| {
		PublishableOutputLen::set(4_096);
		let honest_output = output(4, 3);
		let cheat = output(5, 3);
		let (id, primary, verifier) = disputed_cross_validation(&cheat, &honest_output);
		let (cheat_trace, honest_trace) = (trace_of(&cheat), trace_of(&honest_output));
		bisect(id, [(primary, &cheat_trace), (verifier, &honest_trace)]);
		assert_eq!(step_check(id).step, 0, "every token differs");
		let arbiters = run_to_draw(id);
		let mine = &honest_trace[..1];
		check_step(id, &arbiters, &[mine, mine, mine]);
		assert_noop!(publish(id, primary, &cheat), Error::<Test>::NotASurvivor);
		assert_ok!(publish(id, verifier, &honest_output));
		assert_eq!(collateral(primary), 0, "the primary's trace was wrong at step 0");
		assert_eq!(collateral(verifier), NODE_COLLATERAL);
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		assert_eq!(result.output_commitment, output_digest(&honest_output));
		assert_eq!(result.nodes.to_vec(), vec![verifier]);
	});
}
