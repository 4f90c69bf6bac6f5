//! Unit tests, one file per flow. Each runs under `ExtBuilder::build_and_execute`, which checks
//! the funds invariants and that every reservation matches the work in flight.

mod bisection;
mod errors;
mod offchain;
mod resolution;
mod rounds;
mod simulation;
mod unservable;

use atoma_primitives::{
	commitment::{output_digest, output_leaf, quorum_commitments, sealed_commitment},
	CanonicalOutput, FinishReason,
};
use atoma_support::{
	inference::VerificationMode,
	sortition::{self, VrfProof},
	NodeId, RequestId,
};
use frame_support::{assert_ok, pallet_prelude::Authorize, BoundedVec};
use pallet_inference::{CommitmentKind, CommitmentPayload};
use sp_core::{crypto::VrfSecret, Pair};
use sp_runtime::{transaction_validity::TransactionSource, DispatchResult};

use crate::{mock::*, pallet::VerdictOf, types::Vote, Call, DisputePhase, VotePayload};

/// A canonical output with `tokens` token ids starting at `first`.
pub fn output(first: u32, tokens: u32) -> Vec<u8> {
	let ids: Vec<u32> = (first..first + tokens).collect();
	CanonicalOutput::new(&ids, FinishReason::Stop).encode_canonical()
}

fn tokens_of(output: &[u8]) -> u32 {
	atoma_primitives::output::decode_canonical(output).unwrap().0.len() as u32
}

/// The step digests of `output` as a worker recording no logits would report them: step `i`
/// depends on token `i` only.
pub fn trace_of(output: &[u8]) -> Vec<[u8; 32]> {
	let ids = atoma_primitives::output::decode_canonical(output).unwrap().0;
	(0u32..)
		.zip(ids)
		.map(|(step, id)| atoma_primitives::trace::step_digest(step, id, &[]))
		.collect()
}

pub fn trace_root_of(output: &[u8]) -> [u8; 32] {
	atoma_primitives::trace::trace_root(&trace_of(output))
}

/// Submit a request of `mode` as `USER` and move to the block where its nodes are drawn.
pub fn submit_and_select(mode: VerificationMode) -> RequestId {
	let id = RequestId(pallet_inference::NextRequestId::<Test>::get());
	assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), spec(mode)));
	next_block();
	id
}

pub fn request(id: RequestId) -> pallet_inference::Request<Test> {
	pallet_inference::Requests::<Test>::get(id).expect("request in flight")
}

/// A signed, authorized commitment of `node` to the inference pallet.
pub fn commit(id: RequestId, node: NodeId, kind: CommitmentKind) -> DispatchResult {
	let payload = CommitmentPayload { request: id, node, kind };
	let sig = pair_of(node).sign(&payload.signing_bytes(&Disputes::chain_id()));
	Inference::submit_commitment(frame_system::RawOrigin::Authorized.into(), payload, sig)
		.map(|_| ())
		.map_err(|e| e.error)
}

/// The quorum commitment of the node at `position` for `output` in a quorum of `n`.
pub fn quorum_kind(output: &[u8], position: usize, n: usize) -> CommitmentKind {
	let q = quorum_commitments(output, n as u32);
	CommitmentKind::Quorum {
		root: q.root,
		leaf: q.leaves[position],
		input_tokens: 5,
		output_tokens: tokens_of(output),
		trace_root: trace_root_of(output),
	}
}

/// A Sampling request whose node at position `i` commits `outputs[i]`: disputed when they differ.
pub fn disputed_sampling(outputs: &[Vec<u8>]) -> (RequestId, Vec<NodeId>) {
	let n = outputs.len();
	let id = submit_and_select(VerificationMode::Sampling { n: n as u32 });
	let nodes = request(id).nodes.to_vec();
	for (i, node) in nodes.iter().enumerate() {
		assert_ok!(commit(id, *node, quorum_kind(&outputs[i], i, n)));
	}
	assert!(crate::Disputes::<Test>::contains_key(id), "the disagreement opened a dispute");
	(id, nodes)
}

/// A Cross-Validation request (p = 100% of n = 3) whose primary reveals `primary_output` and
/// whose first verifier chosen by sortition reveals `verifier_output`.
pub fn disputed_cross_validation(
	primary_output: &[u8],
	verifier_output: &[u8],
) -> (RequestId, NodeId, NodeId) {
	let mode = VerificationMode::CrossValidation { n: 3, p: sp_runtime::Perbill::one() };
	let id = submit_and_select(mode);
	let (primary, seed, threshold) = {
		let r = request(id);
		(r.nodes[0], r.selection_seed, r.sortition_threshold)
	};
	let proof = |node: NodeId| {
		VrfProof::from_signature(&pair_of(node).vrf_sign(&sortition::vrf_sign_data(&seed, id)))
	};
	let verifier = pallet_node_registry::Nodes::<Test>::iter_keys()
		.filter(|n| *n != primary)
		.find(|n| {
			let key = pair_of(*n).public();
			let sig = proof(*n).to_signature().expect("a valid proof");
			sortition::verified_score(&key, &seed, id, &sig)
				.is_some_and(|score| sortition::is_selected(score, threshold))
		})
		.expect("sortition selects a verifier among 11 nodes at 3/11 each");
	let sealed = |node: NodeId, o: &[u8], vrf: bool| CommitmentKind::Sealed {
		sealed: sealed_commitment(&output_digest(o), &pair_of(node).public().0),
		input_tokens: 5,
		output_tokens: tokens_of(o),
		trace_root: trace_root_of(o),
		vrf: vrf.then(|| proof(node)),
	};
	assert_ok!(commit(id, primary, sealed(primary, primary_output, false)));
	assert_ok!(commit(id, verifier, sealed(verifier, verifier_output, true)));
	let pallet_inference::Phase::Executing { deadline } = request(id).phase else {
		panic!("executing")
	};
	run_to_block(deadline);
	let reveal = |o: &[u8]| CommitmentKind::Reveal { output_digest: output_digest(o) };
	assert_ok!(commit(id, primary, reveal(primary_output)));
	assert_ok!(commit(id, verifier, reveal(verifier_output)));
	assert!(crate::Disputes::<Test>::contains_key(id), "the disagreement opened a dispute");
	(id, primary, verifier)
}

pub fn dispute(id: RequestId) -> crate::Dispute<Test> {
	crate::Disputes::<Test>::get(id).expect("dispute open")
}

/// Advance to the dispute's draw and return the round's arbiters.
pub fn run_to_draw(id: RequestId) -> Vec<NodeId> {
	let DisputePhase::AwaitingDraw { at } = dispute(id).phase else { panic!("awaiting a draw") };
	run_to_block(at);
	dispute(id).round_arbiters().to_vec()
}

/// The verdict an honest arbiter reports for `output` in a dispute whose quorum is `n` (0 for
/// Cross-Validation).
pub fn verdict(output: &[u8], n: u32) -> VerdictOf<Test> {
	crate::Verdict {
		output_digest: output_digest(output),
		output_tokens: tokens_of(output),
		leaves: BoundedVec::truncate_from((0..n).map(|i| output_leaf(output, i)).collect()),
	}
}

pub fn seal_of(
	node: NodeId,
	verdict: &VerdictOf<Test>,
) -> Vote<<Test as crate::Config>::MaxParties> {
	Vote::Sealed(sealed_commitment(&verdict.digest(), &pair_of(node).public().0))
}

pub fn vote_payload(
	id: RequestId,
	node: NodeId,
	vote: Vote<<Test as crate::Config>::MaxParties>,
) -> crate::pallet::VotePayloadOf<Test> {
	VotePayload { request: id, node, vote }
}

/// Authorize `payload` signed by `signer` as the transaction pool would.
pub fn authorize_vote(
	payload: &crate::pallet::VotePayloadOf<Test>,
	signer: NodeId,
) -> sp_runtime::transaction_validity::TransactionValidityWithRefund {
	let signature = pair_of(signer).sign(&payload.signing_bytes(&Disputes::chain_id()));
	let call = Call::<Test>::submit_vote { payload: payload.clone(), signature };
	call.authorize(TransactionSource::External).expect("the call is authorizable")
}

/// Submit a vote signed by its own arbiter, authorized first like the real transaction.
pub fn vote(
	id: RequestId,
	node: NodeId,
	vote: Vote<<Test as crate::Config>::MaxParties>,
) -> DispatchResult {
	let payload = vote_payload(id, node, vote);
	authorize_vote(&payload, node).map_err(|_| sp_runtime::DispatchError::Other("unauthorized"))?;
	let signature = pair_of(node).sign(&payload.signing_bytes(&Disputes::chain_id()));
	Disputes::submit_vote(frame_system::RawOrigin::Authorized.into(), payload, signature)
}

/// Every arbiter `arbiters[i]` seals `verdicts[i]`; then (the reveal starts when all have sealed)
/// each reveals.
pub fn arbitrate(id: RequestId, arbiters: &[NodeId], verdicts: &[VerdictOf<Test>]) {
	for (node, v) in arbiters.iter().zip(verdicts) {
		assert_ok!(vote(id, *node, seal_of(*node, v)));
	}
	for (node, v) in arbiters.iter().zip(verdicts) {
		assert_ok!(vote(id, *node, Vote::Revealed(v.clone())));
	}
}

pub fn collateral(node: NodeId) -> Balance {
	pallet_node_registry::Nodes::<Test>::get(node).expect("node exists").collateral
}

pub fn reserved(node: NodeId) -> Balance {
	pallet_node_registry::Nodes::<Test>::get(node).expect("node exists").reserved
}

pub fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

pub fn held_escrow(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&pallet_inference::HoldReason::RequestEscrow.into(), &who)
}

pub fn operator(node: NodeId) -> AccountId {
	OPERATOR_BASE + node.0
}

pub fn dispute_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Disputes(e) => Some(e),
			_ => None,
		})
		.collect()
}
