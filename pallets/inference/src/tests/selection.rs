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
