use atoma_support::{inference::VerificationMode, NodeId, NodeRegistry as _};
use frame_support::assert_ok;

use super::*;
use crate::{mock::*, Event, FailureReason, Phase};

#[test]
fn nodes_are_drawn_in_a_later_block_and_reserved() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit(spec(VerificationMode::Sampling { n: 2 }));
		assert_eq!(request(id).phase, Phase::AwaitingSelection);
		next_block();
		let r = request(id);
		let Phase::Executing { deadline } = r.phase else { panic!("executing") };
		assert_eq!(deadline, 2 + 5);
		assert_eq!(r.nodes.len(), 2);
		assert_ne!(r.nodes[0], r.nodes[1]);
		assert_ne!(r.selection_seed, [0; 32]);
		assert_eq!(r.params.seed, crate::selection::sampler_seed(&r.selection_seed));
		System::assert_has_event(
			Event::NodesSelected {
				request: id,
				nodes: r.nodes.to_vec(),
				sampler_seed: r.params.seed,
				deadline,
			}
			.into(),
		);
		for node in r.nodes.iter() {
			assert_eq!(node_record(*node).reserved, JOB_COLLATERAL);
			assert_eq!(node_record(*node).pending_jobs, 1);
		}
		assert!(crate::Deadlines::<Test>::get(deadline).contains(&id));
	});
}

#[test]
fn the_draw_depends_on_the_randomness() {
	let draw_with = |salt: u64| {
		let mut nodes = Vec::new();
		ExtBuilder::default().nodes(8).build_and_execute(|| {
			RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
			let id = submit_and_select(VerificationMode::Sampling { n: 3 });
			nodes = selected(id);
			all_commit(id, &output(1, 3));
		});
		nodes
	};
	let draws: std::collections::BTreeSet<Vec<NodeId>> = (0..6).map(draw_with).collect();
	assert!(draws.len() > 1, "different randomness, different nodes");
}

#[test]
fn selection_without_eligible_nodes_refunds() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		let id = submit(spec(VerificationMode::Single));
		assert_ok!(NodeRegistry::deregister_node(
			RuntimeOrigin::signed(operator(NodeId(0))),
			NodeId(0)
		));
		next_block();
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::NoEligibleNodes,
				refunded: 15 * PRICE,
			}
			.into(),
		);
		assert!(crate::Requests::<Test>::get(id).is_none());
		assert_eq!(held_escrow(USER), 0);
	});
}

#[test]
fn busy_nodes_are_not_drawn_past_their_collateral() {
	// One node with collateral for 10 jobs at most (10_000 / 1_000).
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		for _ in 0..3 {
			submit(spec(VerificationMode::Single));
		}
		next_block();
		assert_eq!(node_record(NodeId(0)).pending_jobs, 3);
		assert!(NodeRegistry::is_eligible(NodeId(0), JOB_COLLATERAL));
	});
}

/// The attack: the author of the block that includes a request knows the randomness its own
/// block hands to the next (its VRF output), so with a draw in the very next block it could
/// include a request only when its accomplice would be drawn. With the runtime's
/// `SelectionDelay` of 2 the draw reads the VRF output of the block after the inclusion: the
/// accomplice wins the requests the author chose to include no more often than any node.
#[test]
fn the_author_that_includes_a_request_cannot_steer_its_draw() {
	let accomplice = NodeId(3);
	// The node a Single request submitted in block 1 draws, with `delay`, under `salt` (each
	// salt: other VRF outputs of the blocks).
	let draw = |delay: u32, salt: u64| {
		SelectionDelay::set(delay);
		let mut drawn = None;
		ExtBuilder::default().nodes(8).build_and_execute(|| {
			RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
			let id = submit(spec(VerificationMode::Single));
			run_to_block(1 + u64::from(delay) - 1);
			assert_eq!(request(id).phase, Phase::AwaitingSelection, "not drawn before its block");
			next_block();
			drawn = Some(selected(id)[0]);
			all_commit(id, &output(1, 2));
		});
		SelectionDelay::set(1);
		drawn.expect("drawn")
	};
	// What the including author knows (the block after its own reads its VRF output) is the
	// draw with a delay of 1: it includes a request only if that names its accomplice.
	let included: Vec<u64> = (0..64).filter(|salt| draw(1, *salt) == accomplice).collect();
	assert!(included.len() >= 4, "the author finds requests to include: {included:?}");
	let won = included.iter().filter(|salt| draw(2, **salt) == accomplice).count();
	println!("the accomplice won {won} of the {} requests the author included", included.len());
	assert!(
		won * 2 < included.len(),
		"with the draw a block later the choice tells the author nothing: {won} of {}",
		included.len()
	);
}

/// The author of the block whose VRF output seeds a draw knows that output in advance; if a
/// subscription made in its block reached the draw, it could steer the draw to its own nodes.
/// The draw index follows subscriptions `IndexDelay` (the runtime's 2) blocks late: a node
/// subscribed in the block before its draw is never drawn. Without the delay it would be.
#[test]
fn a_subscription_made_once_the_randomness_is_known_does_not_reach_the_draw() {
	let late_subscriber_drawn = |index_delay: u32| -> usize {
		let mut drawn = 0;
		for salt in 0..24u64 {
			SelectionDelay::set(2);
			IndexDelay::set(index_delay);
			ExtBuilder::default().nodes(4).build_and_execute(|| {
				RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
				let late = NodeId(3);
				assert_ok!(ModelRegistry::unsubscribe(
					RuntimeOrigin::signed(operator(late)),
					late,
					model()
				));
				run_to_block(4);
				// Submitted in block 4, drawn in block 6 from block 5's randomness ...
				let id = submit(spec(VerificationMode::Sampling { n: 2 }));
				next_block();
				// ... which the author of block 5 knows when it includes this subscription.
				assert_ok!(ModelRegistry::subscribe(
					RuntimeOrigin::signed(operator(late)),
					late,
					model()
				));
				next_block();
				if selected(id).contains(&late) {
					drawn += 1;
				}
				all_commit(id, &output(1, 2));
			});
		}
		SelectionDelay::set(1);
		IndexDelay::set(0);
		drawn
	};
	assert_eq!(late_subscriber_drawn(2), 0, "the index had not taken the subscription yet");
	assert!(late_subscriber_drawn(0) > 0, "an index that follows at once lets it in");
}

/// An operator whose node is busy could, once it knows a draw's randomness, free collateral
/// (top up, or end a job) in the block before the draw to make its node drawable. Collateral
/// gained counts toward new work only `FreeCollateralDelay` (the runtime's 2) blocks later.
#[test]
fn collateral_freed_once_the_randomness_is_known_does_not_reach_the_draw() {
	let busy_node_drawn = |delay: u32| -> usize {
		let mut drawn = 0;
		for salt in 0..24u64 {
			SelectionDelay::set(2);
			FreeCollateralDelay::set(delay);
			ExtBuilder::default().nodes(4).build_and_execute(|| {
				RANDOM_SALT.with(|s| *s.borrow_mut() = salt);
				let busy = NodeId(3);
				assert_ok!(NodeRegistry::reserve_collateral(busy, NODE_COLLATERAL));
				// Submitted in block 1, drawn in block 3 from block 2's randomness ...
				let id = submit(spec(VerificationMode::Sampling { n: 2 }));
				next_block();
				// ... which the author of block 2 knows when the node's job ends in it.
				NodeRegistry::release_collateral(busy, NODE_COLLATERAL);
				next_block();
				if selected(id).contains(&busy) {
					drawn += 1;
				}
				all_commit(id, &output(1, 2));
			});
		}
		SelectionDelay::set(1);
		FreeCollateralDelay::set(0);
		drawn
	};
	assert_eq!(busy_node_drawn(2), 0, "the freed collateral did not count yet");
	assert!(busy_node_drawn(0) > 0, "collateral that counts at once lets the node in");
}

/// Nodes indexed for the model that can no longer take the job when the draw comes (collateral
/// all reserved, or unsubscribed meanwhile) are skipped: too few remain, and the request is
/// refunded.
#[test]
fn nodes_that_cannot_take_the_job_at_the_draw_are_skipped() {
	SelectionDelay::set(2);
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit(spec(VerificationMode::Sampling { n: 2 }));
		next_block();
		assert_ok!(NodeRegistry::reserve_collateral(NodeId(2), NODE_COLLATERAL));
		assert_ok!(ModelRegistry::unsubscribe(
			RuntimeOrigin::signed(operator(NodeId(1))),
			NodeId(1),
			model()
		));
		next_block();
		System::assert_has_event(
			Event::RequestFailed {
				request: id,
				reason: FailureReason::NoEligibleNodes,
				refunded: 2 * 15 * PRICE,
			}
			.into(),
		);
		NodeRegistry::release_collateral(NodeId(2), NODE_COLLATERAL);
	});
	SelectionDelay::set(1);
}
