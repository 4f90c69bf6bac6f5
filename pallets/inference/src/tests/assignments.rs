//! The index of each node's jobs (`Assignments`), and what happens to the jobs of a node that
//! lost all its collateral in a dispute: they are taken from it in the next blocks instead of
//! waiting for their deadlines on a node with nothing at stake.

use atoma_support::{
	inference::{DisputedRequests, VerificationMode},
	NodeId, NodeRegistry as _, RequestId, SlashSplit,
};
use frame_support::assert_ok;
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Assignments, ConvictedNodes, Event, FailureReason, Phase};

fn jobs_of(node: NodeId) -> Vec<RequestId> {
	let mut jobs: Vec<RequestId> = Assignments::<Test>::iter_key_prefix(node).collect();
	jobs.sort();
	jobs
}

/// What the disputes pallet does to a cheater: take all its collateral, then hand its jobs back.
fn convict(node: NodeId) {
	assert_ok!(NodeRegistry::slash(
		node,
		Perbill::one(),
		&SlashSplit::treasury_only(Perbill::one())
	));
	<Inference as DisputedRequests<AccountId>>::redraw_jobs_of_convicted(node);
}

#[test]
fn every_job_is_indexed_until_it_ends() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		for node in selected(id) {
			assert_eq!(jobs_of(node), vec![id]);
		}
		all_commit(id, &output(1, 3));
		assert_eq!(Assignments::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_convicted_nodes_open_jobs_get_fresh_nodes_and_its_commitments_go() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		// A disputed request: the convicted node's part in it is the dispute's to decide.
		let disputed = submit_and_select(VerificationMode::Sampling { n: 2 });
		let d = selected(disputed);
		assert_ok!(submit_signed(payload(disputed, d[0], quorum_kind(&output(1, 3), 0, 2))));
		assert_ok!(submit_signed(payload(disputed, d[1], quorum_kind(&output(7, 3), 1, 2))));
		assert_eq!(request(disputed).phase, Phase::Disputed);

		let open = submit_and_select(VerificationMode::Sampling { n: 2 });
		let o = selected(open);
		// Two of three nodes each: the requests share a node.
		let convicted = *o.iter().find(|n| d.contains(n)).expect("a shared node");
		let honest = *o.iter().find(|n| **n != convicted).expect("two nodes");
		let fresh = NodeId((0..3).find(|i| !o.contains(&NodeId(*i))).expect("a third node"));
		let out = output(4, 2);
		let position = |node: NodeId| o.iter().position(|n| *n == node).expect("selected");
		assert_ok!(submit_signed(payload(
			open,
			convicted,
			quorum_kind(&out, position(convicted), 2)
		)));
		assert_eq!(jobs_of(convicted), {
			let mut both = vec![disputed, open];
			both.sort();
			both
		});

		convict(convicted);
		assert_eq!(ConvictedNodes::<Test>::get().len(), 1);
		// A full commit window (timeout 5) from the next block, where the job is taken.
		let deadline = System::block_number() + 1 + 5;
		next_block();
		System::assert_has_event(
			Event::NodeRedrawn { request: open, replaced: convicted, node: fresh, deadline }.into(),
		);
		let r = request(open);
		assert!(r.nodes.contains(&fresh) && !r.nodes.contains(&convicted));
		assert_eq!(r.excluded.to_vec(), vec![convicted]);
		assert!(crate::Commitments::<Test>::get(open, convicted).is_none(), "its commitment went");
		// The disputed request keeps it: one job left (its collateral is gone, so is `reserved`).
		assert_eq!(jobs_of(convicted), vec![disputed]);
		assert_eq!(request(disputed).phase, Phase::Disputed);
		assert_eq!(node_record(convicted).pending_jobs, 1);
		assert!(ConvictedNodes::<Test>::get().is_empty());

		// The fresh node takes the convicted node's position; the request settles without it.
		let slot = request(open).nodes.iter().position(|n| *n == fresh).expect("redrawn");
		assert_ok!(submit_signed(payload(open, fresh, quorum_kind(&out, slot, 2))));
		let other = request(open).nodes.iter().position(|n| *n == honest).expect("kept");
		assert_ok!(submit_signed(payload(open, honest, quorum_kind(&out, other, 2))));
		let result = crate::Results::<Test>::get(open).expect("settled");
		assert!(!result.nodes.contains(&convicted));
	});
}

#[test]
fn a_convicted_verifier_is_dropped_before_the_reveal() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		// Two paid seats, one taken: the commit window stays open until its deadline.
		let mode = VerificationMode::CrossValidation { n: 2, p: Perbill::from_percent(100) };
		let id = submit_and_select(mode);
		let primary = selected(id)[0];
		let verifier = NodeId(if primary.0 == 0 { 1 } else { 0 });
		let o = output(5, 6);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		assert_eq!(jobs_of(verifier), vec![id]);

		convict(verifier);
		next_block();
		System::assert_has_event(Event::VerifierDropped { request: id, node: verifier }.into());
		assert!(request(id).verifiers.is_empty());
		assert_eq!(node_record(verifier).pending_jobs, 0);

		run_to_block(7);
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		assert_eq!(crate::Results::<Test>::get(id).expect("settled").nodes.to_vec(), vec![primary]);
	});
}

#[test]
fn a_convicted_nodes_jobs_are_taken_a_few_a_block_and_refunded_without_other_nodes() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		MaxPendingSelections::set(8);
		let ids: Vec<RequestId> = (0..5).map(|_| submit(spec(VerificationMode::Single))).collect();
		// Three selections a block.
		next_block();
		next_block();
		assert_eq!(jobs_of(NodeId(0)), ids);

		convict(NodeId(0));
		let user = free(USER);
		next_block();
		// MaxSelectionsPerBlock = 3 jobs a block; no other node can take them: refunded now.
		let failed = |id: RequestId| {
			System::events().iter().any(|e| {
				e.event
					== Event::RequestFailed {
						request: id,
						reason: FailureReason::NoEligibleNodes,
						refunded: 15 * PRICE,
					}
					.into()
			})
		};
		assert_eq!(ids.iter().filter(|id| failed(**id)).count(), 3);
		assert_eq!(ConvictedNodes::<Test>::get().len(), 1, "two jobs left for the next block");
		next_block();
		assert!(ids.iter().all(|id| failed(*id)));
		assert!(ConvictedNodes::<Test>::get().is_empty());
		assert_eq!(free(USER), user + 5 * 15 * PRICE);
		assert_eq!(node_record(NodeId(0)).pending_jobs, 0);
		assert!(jobs_of(NodeId(0)).is_empty());
	});
}

#[test]
fn the_upgrade_indexes_the_jobs_in_flight() {
	use frame_support::traits::{
		GetStorageVersion, OnRuntimeUpgrade, StorageVersion, UncheckedOnRuntimeUpgrade,
	};
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		// A chain at version 1 had no index.
		let _ = Assignments::<Test>::clear(u32::MAX, None);
		StorageVersion::new(1).put::<Inference>();
		crate::migrations::v2::MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(Inference::on_chain_storage_version(), 2);
		for node in selected(id) {
			assert_eq!(jobs_of(node), vec![id]);
		}
		// Once only.
		let _ = Assignments::<Test>::clear(u32::MAX, None);
		crate::migrations::v2::MigrateV1ToV2::<Test>::on_runtime_upgrade();
		assert_eq!(Assignments::<Test>::iter().count(), 0);
		crate::migrations::v2::IndexAssignments::<Test>::on_runtime_upgrade();
		all_commit(id, &output(1, 2));
	});
}

/// Commitments made before version 3 have no prompt-token count: the upgrade gives them the
/// request's declaration, and the request settles as it would have.
#[test]
fn the_upgrade_gives_commitments_in_flight_their_declared_input_tokens() {
	use crate::migrations::v3::{MigrateV2ToV3, OldCommitment};
	use codec::Encode;
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(1, 2);
		let q = atoma_primitives::commitment::quorum_commitments(&o, 2);
		// Node 0 committed under version 2.
		let old = OldCommitment::Quorum {
			root: q.root,
			leaf: q.leaves[0],
			output_tokens: 2,
			trace_root: trace_root_of(&o),
		};
		let key = crate::Commitments::<Test>::hashed_key_for(id, nodes[0]);
		frame_support::storage::unhashed::put_raw(&key, &old.encode());
		StorageVersion::new(2).put::<Inference>();
		assert!(crate::Commitments::<Test>::get(id, nodes[0]).is_none(), "undecodable before");
		MigrateV2ToV3::<Test>::on_runtime_upgrade();
		assert_eq!(Inference::on_chain_storage_version(), 3);
		assert_eq!(
			crate::Commitments::<Test>::get(id, nodes[0]),
			Some(crate::types::Commitment::Quorum {
				root: q.root,
				leaf: q.leaves[0],
				input_tokens: 5,
				output_tokens: 2,
				trace_root: trace_root_of(&o),
			})
		);
		assert_ok!(submit_signed(payload(id, nodes[1], quorum_kind(&o, 1, 2))));
		assert!(crate::Results::<Test>::get(id).is_some());
	});
}
