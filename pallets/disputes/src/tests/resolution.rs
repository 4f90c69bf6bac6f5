//! Disputes that arbitration decides: who loses what, who is paid, and that nothing stays held.

use atoma_primitives::commitment::{output_leaf, quorum_commitments};
use atoma_support::{inference::VerificationMode, NodeRegistry as _};
use frame_support::assert_ok;

use super::*;
use crate::{mock::*, Event};

/// Sampling n = 2: the escrow is 2 x (5 + 10) x 2.
const SAMPLING_2_ESCROW: Balance = 60;
/// A cheater's whole collateral, shared 30% user, 20% honest, 20% arbiters, 20% treasury; 10%
/// (plus rounding) burned.
const USER_SHARE: Balance = 3_000;
const HONEST_SHARE: Balance = 2_000;
const ARBITERS_SHARE: Balance = 2_000;
const TREASURY_SHARE: Balance = 2_000;

#[test]
fn sampling_cheater_loses_all_collateral_and_the_user_is_refunded() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let (honest, cheater) = (nodes[0], nodes[1]);
		assert_eq!(held_escrow(USER), SAMPLING_2_ESCROW);
		assert_eq!(reserved(cheater), JOB_COLLATERAL, "held while the dispute runs");
		let user_before = free(USER);
		let honest_before = free(operator(honest));
		let treasury_before = free(TREASURY);

		let arbiters = run_to_draw(id);
		assert_eq!(arbiters.len() as u32, ARBITER_QUORUM);
		assert!(arbiters.iter().all(|a| !nodes.contains(a)), "parties never arbitrate");
		assert!(arbiters.iter().all(|a| reserved(*a) == ARBITER_COLLATERAL));
		let arbiters_before: Vec<Balance> = arbiters.iter().map(|a| free(operator(*a))).collect();
		let v = verdict(&honest_output, 2);
		arbitrate(id, &arbiters, &vec![v.clone(); 3]);

		let root = quorum_commitments(&honest_output, 2).root;
		System::assert_has_event(
			Event::DisputeResolved {
				request: id,
				verdict: Some(v.digest()),
				output_commitment: Some(root),
				honest: vec![honest],
				cheaters: vec![cheater],
				arbiters: arbiters.clone(),
				by_governance: false,
			}
			.into(),
		);
		System::assert_has_event(
			Event::CheaterSlashed { request: id, node: cheater, slashed: NODE_COLLATERAL }.into(),
		);
		assert_eq!(collateral(cheater), 0, "the whole deposit, not only the job's part");
		assert!(!NodeRegistry::is_eligible(cheater, 0), "the cheater takes no more work");
		assert_eq!(collateral(honest), NODE_COLLATERAL);
		assert_eq!(free(USER), user_before + SAMPLING_2_ESCROW + USER_SHARE, "refund + share");
		assert_eq!(free(operator(honest)), honest_before + HONEST_SHARE);
		for (a, before) in arbiters.iter().zip(arbiters_before) {
			assert_eq!(free(operator(*a)), before + ARBITERS_SHARE / 3);
		}
		assert_eq!(free(TREASURY), treasury_before + TREASURY_SHARE);

		// The request ended with the winning output on record; nothing is held any more.
		assert_eq!(held_escrow(USER), 0);
		assert!(pallet_inference::Requests::<Test>::get(id).is_none());
		assert!(crate::Disputes::<Test>::get(id).is_none());
		assert_eq!(crate::Votes::<Test>::iter_prefix(id).count(), 0);
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		assert_eq!((result.output_commitment, result.output_tokens), (root, 4));
		assert_eq!(result.nodes.to_vec(), vec![honest]);
		for node in nodes.iter().chain(&arbiters) {
			assert_eq!(reserved(*node), 0);
		}

		// The honest node can leave: deregister, and withdraw from the next epoch on.
		assert_ok!(NodeRegistry::deregister_node(RuntimeOrigin::signed(operator(honest)), honest));
		run_to_block(1_001);
		assert_ok!(NodeRegistry::withdraw_node(RuntimeOrigin::signed(operator(honest)), honest));
	});
}

#[test]
fn a_lazy_leaf_in_single_mode_is_disputed_and_slashed() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = request(id).nodes[0];
		let real = output(3, 5);
		// The root of the real output, with a leaf that is not its own: a node that copied a
		// root without running the model cannot make the leaf.
		let root = quorum_commitments(&real, 1).root;
		let kind = CommitmentKind::Quorum {
			root,
			leaf: output_leaf(&output(9, 5), 0),
			input_tokens: 5,
			output_tokens: 5,
			trace_root: trace_root_of(&real),
		};
		assert_ok!(commit(id, node, kind));
		assert_eq!(request(id).phase, pallet_inference::Phase::Disputed);

		// The arbiters' output matches no party: a larger round must confirm it.
		let first = run_to_draw(id);
		arbitrate(id, &first, &vec![verdict(&real, 1); 3]);
		assert_eq!(dispute(id).round, 1);
		let second = run_to_draw(id);
		arbitrate(id, &second, &vec![verdict(&real, 1); 6]);
		assert_eq!(collateral(node), 0);
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		assert_eq!(result.output_commitment, root);
		assert!(result.nodes.is_empty(), "no node is credited with the output");
	});
}

#[test]
fn cross_validation_disagreement_is_arbitrated_on_output_digests() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(4, 3);
		let (id, primary, verifier) = disputed_cross_validation(&output(5, 3), &honest_output);
		assert_eq!(dispute(id).leaves(), 0, "Cross-Validation verdicts carry no leaves");
		let arbiters = run_to_draw(id);
		assert!(!arbiters.contains(&primary) && !arbiters.contains(&verifier));

		arbitrate(id, &arbiters, &vec![verdict(&honest_output, 0); 3]);
		assert_eq!(collateral(primary), 0, "the primary revealed the wrong digest");
		assert_eq!(collateral(verifier), NODE_COLLATERAL);
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		let digest = atoma_primitives::commitment::output_digest(&honest_output);
		assert_eq!(result.output_commitment, digest);
		assert_eq!(result.nodes.to_vec(), vec![verifier]);
	});
}

#[test]
fn an_arbiter_in_the_minority_loses_all_its_collateral_too() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[output(2, 4), honest_output.clone()]);
		let arbiters = run_to_draw(id);
		let good = verdict(&honest_output, 2);
		let bad = verdict(&output(2, 4), 2);
		let before: Vec<Balance> = arbiters.iter().map(|a| free(operator(*a))).collect();
		arbitrate(id, &arbiters, &[good.clone(), bad, good]);

		assert_eq!(collateral(nodes[0]), 0);
		assert_eq!(collateral(arbiters[1]), 0, "it sided with the cheater");
		assert_eq!(collateral(nodes[1]), NODE_COLLATERAL);
		// Two cheaters' collateral: each pays the two winning arbiters 2,000 / 2.
		assert_eq!(free(operator(arbiters[0])), before[0] + 2 * ARBITERS_SHARE / 2);
		assert_eq!(free(operator(arbiters[2])), before[2] + 2 * ARBITERS_SHARE / 2);
		System::assert_has_event(
			Event::CheaterSlashed { request: id, node: arbiters[1], slashed: NODE_COLLATERAL }
				.into(),
		);
	});
}

#[test]
fn three_parties_split_by_the_majority_output() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 6);
		let (id, nodes) =
			disputed_sampling(&[honest_output.clone(), output(7, 6), honest_output.clone()]);
		let arbiters = run_to_draw(id);
		let before = free(operator(nodes[0]));
		arbitrate(id, &arbiters, &vec![verdict(&honest_output, 3); 3]);
		assert_eq!(collateral(nodes[1]), 0);
		assert_eq!(collateral(nodes[0]), NODE_COLLATERAL);
		assert_eq!(collateral(nodes[2]), NODE_COLLATERAL);
		assert_eq!(free(operator(nodes[0])), before + HONEST_SHARE / 2, "honest share split");
		let result = pallet_inference::Results::<Test>::get(id).expect("result recorded");
		assert_eq!(result.nodes.to_vec(), vec![nodes[0], nodes[2]]);
	});
}

#[test]
fn a_copied_seal_cannot_be_revealed_and_its_copier_is_slashed() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let arbiters = run_to_draw(id);
		let v = verdict(&honest_output, 2);
		// Arbiter 1 copies arbiter 0's seal from the pool instead of re-executing.
		let copied = seal_of(arbiters[0], &v);
		assert_ok!(vote(id, arbiters[0], copied.clone()));
		assert_ok!(vote(id, arbiters[1], copied));
		assert_ok!(vote(id, arbiters[2], seal_of(arbiters[2], &v)));
		assert_ok!(vote(id, arbiters[0], Vote::Revealed(v.clone())));
		// Whatever it reveals, the seal is bound to arbiter 0's key.
		assert_eq!(
			vote(id, arbiters[1], Vote::Revealed(v.clone())),
			Err(sp_runtime::DispatchError::Other("unauthorized"))
		);
		assert_ok!(vote(id, arbiters[2], Vote::Revealed(v)));
		let DisputePhase::Revealing { deadline } = dispute(id).phase else { panic!("revealing") };
		let before = collateral(arbiters[1]);
		run_to_block(deadline);
		System::assert_has_event(
			Event::ArbiterTimedOut { request: id, arbiter: arbiters[1], slashed: before / 10 }
				.into(),
		);
		// Two of three drawn revealed the same verdict: a majority.
		assert!(crate::Disputes::<Test>::get(id).is_none(), "resolved");
		assert_eq!(reserved(arbiters[1]), 0);
	});
}

#[test]
fn a_cheaters_other_jobs_are_redrawn_once_it_loses() {
	ExtBuilder::default().build_and_execute(|| {
		let honest_output = output(1, 4);
		let (id, nodes) = disputed_sampling(&[honest_output.clone(), output(2, 4)]);
		let cheater = nodes[1];
		let arbiters = run_to_draw(id);

		// Meanwhile the cheater is drawn for another request (every other node is busy then).
		let others: Vec<(NodeId, Balance)> = (0..12)
			.map(NodeId)
			.filter(|n| *n != cheater)
			.map(|n| (n, collateral(n) - reserved(n)))
			.collect();
		for (node, free) in &others {
			assert_ok!(NodeRegistry::reserve_collateral(*node, *free));
		}
		let other = submit_and_select(VerificationMode::Single);
		assert_eq!(request(other).nodes.to_vec(), vec![cheater]);
		for (node, free) in &others {
			NodeRegistry::release_collateral(*node, *free);
		}

		arbitrate(id, &arbiters, &vec![verdict(&honest_output, 2); 3]);
		assert_eq!(collateral(cheater), 0);
		// The next block takes the other job from it, long before that job's deadline.
		next_block();
		let fresh = request(other).nodes[0];
		assert_ne!(fresh, cheater);
		System::assert_has_event(
			pallet_inference::Event::NodeRedrawn {
				request: other,
				replaced: cheater,
				node: fresh,
				deadline: System::block_number() + 5,
			}
			.into(),
		);
		assert_eq!(pallet_inference::Assignments::<Test>::iter_prefix(cheater).count(), 0);
		assert_eq!(pallet_node_registry::Nodes::<Test>::get(cheater).unwrap().pending_jobs, 0);
		assert_ok!(commit(other, fresh, quorum_kind(&output(3, 2), 0, 1)));
		assert!(pallet_inference::Results::<Test>::get(other).is_some());
	});
}
