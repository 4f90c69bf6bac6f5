use atoma_support::{inference::VerificationMode, NodeId};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::transaction_validity::{InvalidTransaction, TransactionValidityError};

use super::*;
use crate::{mock::*, types::CommitmentKind, Error, Event, Phase};

#[test]
fn single_settles_and_pays_node_owner_and_refund() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let o = output(7, 4); // 4 output tokens
		let user_before = free(USER) + held_escrow(USER);
		let owner_before = free(MODEL_OWNER);
		assert_ok!(submit_signed(payload(id, node, quorum_kind(&o, 0, 1))));

		// Fee: (5 + 4) tokens x 2 = 18; owner 10% = 1 (floor of 1.8); node 17; refund 30 - 18.
		let root = atoma_primitives::commitment::quorum_commitments(&o, 1).root;
		System::assert_last_event(
			Event::RequestSettled {
				request: id,
				output_commitment: root,
				output_tokens: 4,
				nodes: vec![node],
				paid_to_nodes: 17,
				paid_to_model_owner: 1,
				refunded: 12,
			}
			.into(),
		);
		assert_eq!(free(USER), user_before - 18);
		assert_eq!(free(MODEL_OWNER), owner_before + 1);
		assert_eq!(pallet_node_registry::Fees::<Test>::get(node).accruing, 17);
		assert_eq!(held_escrow(USER), 0);
		assert_eq!(node_record(node).reserved, 0, "the reservation is released");
		assert!(crate::Requests::<Test>::get(id).is_none());
		let result = crate::Results::<Test>::get(id).expect("result kept");
		assert_eq!((result.output_commitment, result.output_tokens), (root, 4));
		assert_eq!(result.nodes.to_vec(), vec![node]);
	});
}

#[test]
fn sampling_settles_when_all_agree() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 3 });
		let nodes = selected(id);
		let o = output(1, 10);
		for (i, node) in nodes.iter().enumerate().take(2) {
			assert_ok!(submit_signed(payload(id, *node, quorum_kind(&o, i, 3))));
			System::assert_last_event(
				Event::CommitmentSubmitted { request: id, node: *node }.into(),
			);
		}
		assert!(crate::Requests::<Test>::get(id).is_some(), "waits for the third");
		assert_ok!(submit_signed(payload(id, nodes[2], quorum_kind(&o, 2, 3))));
		let settled = inference_events().into_iter().any(|e| {
			matches!(e, Event::RequestSettled { request, paid_to_nodes, paid_to_model_owner, refunded, .. }
				if request == id && paid_to_nodes == 3 * 27 && paid_to_model_owner == 3 * 3 && refunded == 0)
		});
		assert!(settled, "each node earns (5 + 10) x 2 = 30, less 10% for the owner");
	});
}

#[test]
fn disagreement_opens_a_dispute_and_keeps_funds_held() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&output(1, 3), 0, 2))));
		assert_ok!(submit_signed(payload(id, nodes[1], quorum_kind(&output(2, 3), 1, 2))));
		System::assert_last_event(
			Event::RequestDisputed { request: id, nodes: nodes.clone() }.into(),
		);
		assert_eq!(request(id).phase, Phase::Disputed);
		assert_eq!(held_escrow(USER), 2 * 15 * PRICE);
		assert_eq!(node_record(nodes[0]).reserved, JOB_COLLATERAL);
		// A disputed request does not time out.
		run_to_block(20);
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn a_leaf_that_does_not_match_the_root_is_a_disagreement() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(1, 3);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&o, 0, 2))));
		// The lazy node copies the root but cannot make its own leaf without O.
		let CommitmentKind::Quorum { root, output_tokens, trace_root, .. } = quorum_kind(&o, 1, 2)
		else {
			unreachable!()
		};
		let lazy = CommitmentKind::Quorum {
			root,
			leaf: [0xEE; 32],
			input_tokens: 5,
			output_tokens,
			trace_root,
		};
		assert_ok!(submit_signed(payload(id, nodes[1], lazy)));
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn differing_token_counts_are_a_disagreement() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(1, 3);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&o, 0, 2))));
		let CommitmentKind::Quorum { root, leaf, trace_root, .. } = quorum_kind(&o, 1, 2) else {
			unreachable!()
		};
		assert_ok!(submit_signed(payload(
			id,
			nodes[1],
			CommitmentKind::Quorum { root, leaf, input_tokens: 5, output_tokens: 10, trace_root }
		)));
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn the_same_tokens_from_another_trace_are_a_disagreement() {
	// A node that ran a cheaper model (fewer layers, lower precision) may still pick the same
	// tokens; its logits, hence its trace, differ: Sampling does not settle on it.
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(1, 3);
		assert_ok!(submit_signed(payload(id, nodes[0], quorum_kind(&o, 0, 2))));
		let CommitmentKind::Quorum { root, leaf, output_tokens, .. } = quorum_kind(&o, 1, 2) else {
			unreachable!()
		};
		let cheaper = CommitmentKind::Quorum {
			root,
			leaf,
			input_tokens: 5,
			output_tokens,
			trace_root: [0xCC; 32],
		};
		assert_ok!(submit_signed(payload(id, nodes[1], cheaper)));
		assert_eq!(request(id).phase, Phase::Disputed);
	});
}

#[test]
fn commitment_errors() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let pending = submit(spec(VerificationMode::Single));
		let o = output(1, 2);
		let commit = |p: crate::types::CommitmentPayload, signer: NodeId| {
			let sig = sign(&p, signer);
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
		};
		assert_noop!(
			commit(payload(pending, NodeId(0), quorum_kind(&o, 0, 1)), NodeId(0)),
			Error::<Test>::NotExecuting
		);
		next_block();
		let id = pending;
		let node = selected(id)[0];
		let other = (0..3).map(NodeId).find(|n| *n != node).unwrap();
		assert_noop!(
			commit(payload(atoma_support::RequestId(99), node, quorum_kind(&o, 0, 1)), node),
			Error::<Test>::UnknownRequest
		);
		assert_noop!(
			commit(payload(id, NodeId(42), quorum_kind(&o, 0, 1)), node),
			Error::<Test>::UnknownNode
		);
		assert_noop!(
			commit(payload(id, node, quorum_kind(&o, 0, 1)), other),
			Error::<Test>::BadSignature
		);
		assert_noop!(
			commit(payload(id, other, quorum_kind(&o, 0, 1)), other),
			Error::<Test>::NotSelected
		);
		assert_noop!(
			commit(payload(id, node, sealed_kind(id, node, &o, false)), node),
			Error::<Test>::WrongCommitmentKind
		);
		assert_noop!(commit(payload(id, node, reveal_kind(&o)), node), Error::<Test>::NotRevealing);
		assert_noop!(
			Inference::submit_commitment(
				RuntimeOrigin::signed(USER),
				payload(id, node, quorum_kind(&o, 0, 1)),
				sign(&payload(id, node, quorum_kind(&o, 0, 1)), node)
			),
			sp_runtime::DispatchError::BadOrigin
		);

		// Two nodes of a Sampling quorum: one commits, and cannot commit again.
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		assert_ok!(commit(payload(id, nodes[0], quorum_kind(&o, 0, 2)), nodes[0]));
		assert_noop!(
			commit(payload(id, nodes[0], quorum_kind(&o, 0, 2)), nodes[0]),
			Error::<Test>::AlreadyCommitted
		);
	});
}

#[test]
fn the_pool_accepts_only_valid_commitments() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let p = payload(id, node, quorum_kind(&output(1, 2), 0, 1));
		let (valid, _) = authorize(&p, &sign(&p, node)).expect("valid");
		assert_eq!(valid.provides.len(), 1);
		assert_eq!(valid.longevity, 5, "until the window closes at block 7");
		assert!(valid.priority > 0);

		let other = (0..3).map(NodeId).find(|n| *n != node).unwrap();
		assert_eq!(
			authorize(&p, &sign(&p, other)),
			Err(TransactionValidityError::Invalid(InvalidTransaction::BadProof))
		);
		let forged = payload(id, other, quorum_kind(&output(1, 2), 0, 1));
		assert!(matches!(
			authorize(&forged, &sign(&forged, other)),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(_)))
		));
		assert_ok!(submit_signed(p.clone()));
		// Replays are rejected once the request has settled.
		assert!(authorize(&p, &sign(&p, node)).is_err());
	});
}

#[test]
fn commitments_after_the_deadline_are_rejected() {
	ExtBuilder::default().nodes(1).build_and_execute(|| {
		let id = submit(spec(VerificationMode::Single));
		next_block();
		let node = selected(id)[0];
		let p = payload(id, node, quorum_kind(&output(1, 2), 0, 1));
		// At the deadline block itself the window closes (on_initialize runs first): the late
		// node is slashed; with no one to replace it the request is refunded.
		run_to_block(7);
		assert!(crate::Requests::<Test>::get(id).is_none());
		assert!(authorize(&p, &sign(&p, node)).is_err());
	});
}

#[test]
fn a_commitment_signed_for_another_chain_is_refused() {
	use sp_core::Pair;
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let p = payload(id, node, quorum_kind(&output(1, 2), 0, 1));
		// The same key serves a testnet with another genesis: its signature there is no good here.
		let mut elsewhere = Inference::chain_id();
		elsewhere[0] ^= 1;
		let sig = pair_of(node).sign(&p.signing_bytes(&elsewhere));
		assert_noop!(
			Inference::submit_commitment(
				frame_system::RawOrigin::Authorized.into(),
				p.clone(),
				sig
			),
			crate::Error::<Test>::BadSignature
		);
		assert_ok!(submit_signed(p));
	});
}

/// The fee is charged on the prompt tokens the nodes counted, not on the user's declaration:
/// declaring high only holds more escrow for a while (the rest is refunded).
#[test]
fn the_fee_is_charged_on_the_prompt_tokens_the_nodes_counted() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(1, 3);
		for (i, node) in nodes.iter().enumerate() {
			let mut kind = quorum_kind(&o, i, 2);
			if let crate::types::CommitmentKind::Quorum { input_tokens, .. } = &mut kind {
				// Declared 5; the prompt had 2.
				*input_tokens = 2;
			}
			assert_ok!(submit_signed(payload(id, *node, kind)));
		}
		// (2 prompt + 3 generated) x PRICE each, the model owner's 10% out of it.
		let fee = (2 + 3) * PRICE;
		System::assert_has_event(
			crate::Event::RequestSettled {
				request: id,
				output_commitment: atoma_primitives::commitment::quorum_commitments(&o, 2).root,
				output_tokens: 3,
				nodes: nodes.clone(),
				paid_to_nodes: 2 * (fee - fee / 10),
				paid_to_model_owner: 2 * (fee / 10),
				refunded: 2 * 15 * PRICE - 2 * fee,
			}
			.into(),
		);
	});
}

/// The attack: declare fewer prompt tokens than the prompt has, to pay for less than the nodes
/// run. A count above the declaration is refused (the honest worker refuses the job, and the
/// nodes attest `InputTokensAboveDeclared`: the request ends with a refund less a small fee).
#[test]
fn prompt_tokens_above_the_declaration_are_never_charged_short() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let o = output(1, 3);
		let mut kind = quorum_kind(&o, 0, 1);
		if let crate::types::CommitmentKind::Quorum { input_tokens, .. } = &mut kind {
			*input_tokens = 6;
		}
		let p = payload(id, node, kind);
		let sig = sign(&p, node);
		assert!(authorize(&p, &sig).is_err());
		assert_noop!(
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig),
			Error::<Test>::InputTokensAboveDeclared
		);
		let reason = crate::UnservableReason::InputTokensAboveDeclared;
		assert_ok!(submit_signed(payload(id, node, crate::CommitmentKind::Unservable { reason })));
		assert!(crate::Requests::<Test>::get(id).is_none());
		System::assert_has_event(
			crate::Event::RequestUnservable {
				request: id,
				reason,
				nodes: vec![node],
				paid_to_nodes: 5 * PRICE,
				refunded: 15 * PRICE - 5 * PRICE,
			}
			.into(),
		);
	});
}

/// A commitment that leaves its request waiting pays for itself alone; the one that settles it
/// pays the declared weight (settlement and all). A block therefore holds many more commitments
/// than the declared weight alone would let in (`scripts/bench-load.sh`).
#[test]
fn only_the_commitment_that_concludes_a_request_pays_for_the_conclusion() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let o = output(3, 4);
		let commit = |index: usize| {
			let p = payload(id, nodes[index], quorum_kind(&o, index, 2));
			let sig = sign(&p, p.node);
			// Its authorization checked no VRF proof: the difference comes back.
			let (_, unspent) = authorize(&p, &sig).expect("authorized");
			assert_eq!(
				unspent,
				<() as crate::WeightInfo>::authorize_submit_commitment()
					- <() as crate::WeightInfo>::authorize_submit_commitment_quorum()
			);
			Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), p, sig)
		};
		let first = commit(0).expect("the first commitment is accepted");
		assert_eq!(
			first.actual_weight,
			Some(<() as crate::WeightInfo>::submit_commitment_quorum_pending())
		);
		assert!(matches!(request(id).phase, Phase::Executing { .. }));
		let last = commit(1).expect("the last commitment is accepted");
		assert_eq!(last.actual_weight, None, "the settling commitment pays its declared weight");
		assert!(crate::Results::<Test>::contains_key(id));
		// The pending weights are far below the declared one.
		let call = crate::Call::<Test>::submit_commitment {
			payload: payload(id, nodes[0], quorum_kind(&o, 0, 2)),
			signature: sign(&payload(id, nodes[0], quorum_kind(&o, 0, 2)), nodes[0]),
		};
		let declared =
			frame_support::dispatch::GetDispatchInfo::get_dispatch_info(&call).call_weight;
		assert!(
			<() as crate::WeightInfo>::submit_commitment_pending().ref_time() * 4
				< declared.ref_time()
		);
		assert!(
			<() as crate::WeightInfo>::submit_commitment_quorum_pending().ref_time()
				< <() as crate::WeightInfo>::submit_commitment_pending().ref_time()
		);
	});
}
