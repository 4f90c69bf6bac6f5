//! The dispute's timeline: fresh randomness for draws, late arbiters, escalation to a larger
//! round and to governance, and the final deadline that releases every hold.

use atoma_support::NodeId;
use frame_support::{assert_noop, assert_ok};

use super::*;
use crate::{mock::*, Dismissal, Error, Event};

#[test]
fn arbiters_are_drawn_after_the_opening_with_randomness_unknown_then() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, nodes) = disputed_sampling(&[output(1, 4), output(2, 4)]);
		let opened = System::block_number();
		let d = dispute(id);
		assert_eq!(d.phase, DisputePhase::AwaitingDraw { at: opened + DRAW_DELAY });
		assert!(d.arbiters.is_empty(), "nobody is drawn in the block that opened it");
		System::assert_has_event(
			Event::DisputeOpened {
				request: id,
				parties: nodes.clone(),
				draw_at: opened + DRAW_DELAY,
				final_deadline: d.final_deadline,
			}
			.into(),
		);
		// The draw depends on the randomness of the draw block: the same dispute drawn with
		// other randomness gets other arbiters.
		let drawn = frame_support::storage::with_transaction(|| {
			let drawn = run_to_draw(id);
			sp_runtime::TransactionOutcome::Rollback(Ok::<_, sp_runtime::DispatchError>(drawn))
		})
		.unwrap();
		let other = (1..20u64)
			.map(|salt| {
				RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
				frame_support::storage::with_transaction(|| {
					let drawn = run_to_draw(id);
					sp_runtime::TransactionOutcome::Rollback(Ok::<_, sp_runtime::DispatchError>(
						drawn,
					))
				})
				.unwrap()
			})
			.any(|d| d != drawn);
		assert!(other, "the draw follows the draw block's randomness");
		RANDOM_SALT.with(|s| *s.borrow_mut() = 0);
		let arbiters = run_to_draw(id);
		assert!(arbiters.iter().all(|a| !nodes.contains(a)));
		let DisputePhase::Committing { deadline } = dispute(id).phase else { panic!("committing") };
		assert_eq!(deadline, opened + DRAW_DELAY + COMMIT_WINDOW);
	});
}

#[test]
fn no_majority_escalates_to_a_larger_round_that_decides() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let first = run_to_draw(id);
		let good = verdict(&honest_output, 2);
		// One verdict each: no majority of three.
		arbitrate(
			id,
			&first,
			&[good.clone(), verdict(&output(2, 4), 2), verdict(&output(3, 4), 2)],
		);
		let d = dispute(id);
		assert_eq!(d.round, 1);
		System::assert_has_event(
			Event::DisputeEscalated {
				request: id,
				round: 1,
				draw_at: System::block_number() + DRAW_DELAY,
			}
			.into(),
		);
		let second = run_to_draw(id);
		assert_eq!(second.len() as u32, 2 * ARBITER_QUORUM, "round 1 draws twice as many");
		assert!(second.iter().all(|a| !first.contains(a) && !nodes.contains(a)));
		arbitrate(id, &second, &vec![good; 6]);

		assert_eq!(collateral(nodes[1]), 0);
		assert_eq!(collateral(first[1]), 0, "a first-round arbiter that was wrong");
		assert_eq!(collateral(first[2]), 0);
		assert_eq!(collateral(first[0]), NODE_COLLATERAL);
		let resolved = dispute_events().into_iter().find_map(|e| match e {
			Event::DisputeResolved { arbiters, .. } => Some(arbiters),
			_ => None,
		});
		let mut paid = vec![first[0]];
		paid.extend(&second);
		assert_eq!(resolved, Some(paid), "every arbiter that found the output is paid");
	});
}

#[test]
fn arbiters_that_do_not_seal_are_slashed_and_a_larger_round_replaces_them() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let late = run_to_draw(id);
		let DisputePhase::Committing { deadline } = dispute(id).phase else { panic!("committing") };
		run_to_block(deadline);
		for a in &late {
			System::assert_has_event(
				Event::ArbiterTimedOut { request: id, arbiter: *a, slashed: NODE_COLLATERAL / 10 }
					.into(),
			);
			assert_eq!(reserved(*a), 0);
		}
		assert_eq!(dispute(id).round, 1);
		assert_eq!(dispute(id).excluded.to_vec(), late);
		let second = run_to_draw(id);
		assert!(second.iter().all(|a| !late.contains(a)), "late arbiters are not drawn again");
		arbitrate(id, &second, &vec![verdict(&honest_output, 2); 6]);
		assert_eq!(collateral(nodes[1]), 0);
	});
}

#[test]
fn an_arbiter_that_seals_but_does_not_reveal_is_slashed() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let arbiters = run_to_draw(id);
		let v = verdict(&honest_output, 2);
		for a in &arbiters {
			assert_ok!(vote(id, *a, seal_of(*a, &v)));
		}
		System::assert_has_event(
			Event::RevealStarted { request: id, deadline: System::block_number() + REVEAL_WINDOW }
				.into(),
		);
		assert_ok!(vote(id, arbiters[0], Vote::Revealed(v.clone())));
		assert_ok!(vote(id, arbiters[1], Vote::Revealed(v)));
		run_to_block(System::block_number() + REVEAL_WINDOW);
		System::assert_has_event(
			Event::ArbiterTimedOut {
				request: id,
				arbiter: arbiters[2],
				slashed: NODE_COLLATERAL / 10,
			}
			.into(),
		);
		assert!(crate::Disputes::<Test>::get(id).is_none(), "two of three decided");
	});
}

/// Neither round reaches a majority (the arbiters split): governance decides. The honest output
/// is party 0's.
fn to_governance() -> (RequestId, Vec<NodeId>, Vec<u8>) {
	let honest_output = output(1, 4);
	let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
	let split = |arbiters: usize| -> Vec<crate::pallet::VerdictOf<Test>> {
		(0..arbiters).map(|i| verdict(&output(1 + (i % 3) as u32, 4), 2)).collect()
	};
	let first = run_to_draw(id);
	arbitrate(id, &first, &split(3));
	assert_eq!(dispute(id).round, 1, "one verdict each: no majority");
	let second = run_to_draw(id);
	arbitrate(id, &second, &split(6));
	let DisputePhase::AwaitingGovernance { deadline } = dispute(id).phase else {
		panic!("awaiting governance")
	};
	System::assert_has_event(Event::AwaitingGovernance { request: id, deadline }.into());
	(id, nodes, honest_output)
}

#[test]
fn a_verdict_matching_no_party_needs_a_larger_round_to_confirm_it() {
	ExtBuilder::default().build_and_execute(|| {
		// Both parties committed something other than what the model outputs.
		let (id, nodes) = disputed_sampling(&[output(5, 4), output(2, 4)]);
		let truth = verdict(&output(1, 4), 2);
		let first = run_to_draw(id);
		arbitrate(id, &first, &vec![truth.clone(); 3]);
		assert_eq!(dispute(id).round, 1, "not trusted on one round");
		let second = run_to_draw(id);
		arbitrate(id, &second, &vec![truth; 6]);
		assert!(crate::Disputes::<Test>::get(id).is_none());
		assert_eq!(collateral(nodes[0]), 0);
		assert_eq!(collateral(nodes[1]), 0);
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		assert!(result.nodes.is_empty());
	});
}

#[test]
fn governance_decides_what_arbitration_could_not() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, nodes, honest_output) = to_governance();
		assert_ok!(Disputes::resolve_dispute(
			RuntimeOrigin::root(),
			id,
			Some(verdict(&honest_output, 2))
		));
		// Party 1 and the arbiters that found something else lose; the rest are paid.
		assert_eq!(collateral(nodes[0]), NODE_COLLATERAL);
		assert_eq!(collateral(nodes[1]), 0);
		let winners = dispute_events().into_iter().find_map(|e| match e {
			Event::DisputeResolved { by_governance: true, arbiters, cheaters, .. } => {
				Some((arbiters.len(), cheaters.len()))
			},
			_ => None,
		});
		// Verdicts cycle through three outputs: 1 of 3 and 2 of 6 arbiters found the truth.
		assert_eq!(winners, Some((3, 1 + 6)));
		assert_eq!(held_escrow(USER), 0);
	});
}

#[test]
fn governance_finding_no_fault_refunds_and_slashes_nobody() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, nodes, _) = to_governance();
		let user_before = free(USER);
		assert_ok!(Disputes::resolve_dispute(RuntimeOrigin::root(), id, None));
		System::assert_last_event(
			Event::DisputeDismissed { request: id, reason: Dismissal::NoFaultFound }.into(),
		);
		assert_eq!(free(USER), user_before + 60, "the whole escrow back");
		assert!(nodes.iter().all(|n| collateral(*n) == NODE_COLLATERAL && reserved(*n) == 0));
		assert!(pallet_inference::Results::<Test>::get(id).is_none());
	});
}

#[test]
fn an_undecided_dispute_is_dismissed_by_its_final_deadline_releasing_every_hold() {
	ExtBuilder::default().build_and_execute(|| {
		let (id, nodes, _) = to_governance();
		let final_deadline = dispute(id).final_deadline;
		let DisputePhase::AwaitingGovernance { deadline } = dispute(id).phase else {
			panic!("awaiting governance")
		};
		assert!(deadline <= final_deadline);
		run_to_block(deadline);
		System::assert_last_event(
			Event::DisputeDismissed { request: id, reason: Dismissal::DeadlinePassed }.into(),
		);
		assert_eq!(held_escrow(USER), 0);
		for (node, _) in pallet_node_registry::Nodes::<Test>::iter() {
			assert_eq!(reserved(node), 0, "no hold outlives the dispute");
		}
		assert!(nodes.iter().all(|n| collateral(*n) == NODE_COLLATERAL));
		assert_noop!(
			Disputes::resolve_dispute(RuntimeOrigin::root(), id, None),
			Error::<Test>::UnknownDispute
		);
	});
}

#[test]
fn without_eligible_arbiters_the_dispute_goes_to_governance_and_then_ends() {
	ExtBuilder::default().nodes(2).build_and_execute(|| {
		let (id, _) = disputed_sampling(&[output(1, 4), output(2, 4)]);
		let opened = System::block_number();
		assert!(run_to_draw(id).is_empty());
		assert_eq!(dispute(id).round, 1);
		assert!(run_to_draw(id).is_empty());
		let DisputePhase::AwaitingGovernance { deadline } = dispute(id).phase else {
			panic!("awaiting governance")
		};
		run_to_block(deadline);
		assert!(crate::Disputes::<Test>::get(id).is_none());
		assert!(System::block_number() <= opened + crate::Pallet::<Test>::max_duration() as u64);
	});
}
