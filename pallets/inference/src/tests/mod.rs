//! Unit tests, one file per flow. Each runs under `ExtBuilder::build_and_execute`.

mod assignments;
mod callers;
mod cross_validation;
mod fuzz;
mod input_read;
mod offchain;
mod publish;
mod sampling;
mod selection;
mod submission;
mod timeouts;
mod unservable;

use atoma_primitives::{
	commitment::{output_digest, quorum_commitments, sealed_commitment},
	CanonicalOutput, FinishReason,
};
use atoma_support::{
	inference::{RequestSpec, VerificationMode},
	sortition::{self, VrfProof},
	NodeId, RequestId,
};
use frame_support::{assert_ok, pallet_prelude::Authorize};
use sp_core::{crypto::VrfSecret, Pair};
use sp_runtime::transaction_validity::{TransactionSource, TransactionValidityWithRefund};

use crate::{
	mock::*,
	types::{CommitmentKind, CommitmentPayload},
	Call,
};

/// The step digests of `output` as a worker recording no logits would report them.
pub fn trace_of(output: &[u8]) -> Vec<[u8; 32]> {
	let ids = atoma_primitives::output::decode_canonical(output).unwrap().0;
	(0u32..)
		.zip(ids)
		.map(|(step, id)| atoma_primitives::trace::step_digest(step, id, &[]))
		.collect()
}

/// The trace root of `output` (see [`trace_of`]).
pub fn trace_root_of(output: &[u8]) -> [u8; 32] {
	atoma_primitives::trace::trace_root(&trace_of(output))
}

/// A canonical output with `tokens` token ids starting at `first`.
pub fn output(first: u32, tokens: u32) -> Vec<u8> {
	let ids: Vec<u32> = (first..first + tokens).collect();
	CanonicalOutput::new(&ids, FinishReason::Stop).encode_canonical()
}

pub fn submit(spec: RequestSpec) -> RequestId {
	let id = RequestId(crate::NextRequestId::<Test>::get());
	assert_ok!(Inference::submit_request(RuntimeOrigin::signed(USER), spec));
	id
}

/// Submit and move to the next block, where the nodes are drawn.
pub fn submit_and_select(mode: VerificationMode) -> RequestId {
	let id = submit(spec(mode));
	next_block();
	assert!(matches!(request(id).phase, crate::Phase::Executing { .. }), "selected");
	id
}

pub fn request(id: RequestId) -> crate::Request<Test> {
	crate::Requests::<Test>::get(id).expect("request in flight")
}

pub fn selected(id: RequestId) -> Vec<NodeId> {
	request(id).nodes.to_vec()
}

pub fn payload(id: RequestId, node: NodeId, kind: CommitmentKind) -> CommitmentPayload {
	CommitmentPayload { request: id, node, kind }
}

pub fn sign(payload: &CommitmentPayload, node: NodeId) -> sp_core::sr25519::Signature {
	pair_of(node).sign(&payload.signing_bytes(&Inference::chain_id()))
}

pub fn authorize(
	payload: &CommitmentPayload,
	sig: &sp_core::sr25519::Signature,
) -> TransactionValidityWithRefund {
	let call = Call::<Test>::submit_commitment { payload: payload.clone(), signature: *sig };
	call.authorize(TransactionSource::External).expect("the call is authorizable")
}

/// Submit a signed commitment as the authorized transaction would.
pub fn submit_signed(payload: CommitmentPayload) -> sp_runtime::DispatchResult {
	let sig = sign(&payload, payload.node);
	authorize(&payload, &sig).map_err(|_| sp_runtime::DispatchError::Other("unauthorized"))?;
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
		output_tokens: atoma_primitives::output::decode_canonical(output).unwrap().0.len() as u32,
		trace_root: trace_root_of(output),
	}
}

/// Every selected node commits to `output` at its position.
pub fn all_commit(id: RequestId, output: &[u8]) {
	let nodes = selected(id);
	for (i, node) in nodes.iter().enumerate() {
		assert_ok!(submit_signed(payload(id, *node, quorum_kind(output, i, nodes.len()))));
	}
}

/// The sealed commitment of `node` to `output`, with a VRF proof when `vrf`.
pub fn sealed_kind(id: RequestId, node: NodeId, output: &[u8], vrf: bool) -> CommitmentKind {
	let digest = output_digest(output);
	let key = pair_of(node).public().0;
	CommitmentKind::Sealed {
		sealed: sealed_commitment(&digest, &key),
		input_tokens: 5,
		output_tokens: atoma_primitives::output::decode_canonical(output).unwrap().0.len() as u32,
		trace_root: trace_root_of(output),
		vrf: vrf.then(|| vrf_proof(id, node)),
	}
}

/// The node's real VRF proof for the request's sortition.
pub fn vrf_proof(id: RequestId, node: NodeId) -> VrfProof {
	let seed = crate::Requests::<Test>::get(id).map(|r| r.selection_seed).unwrap_or_default();
	VrfProof::from_signature(&pair_of(node).vrf_sign(&sortition::vrf_sign_data(&seed, id)))
}

pub fn reveal_kind(output: &[u8]) -> CommitmentKind {
	CommitmentKind::Reveal { output_digest: output_digest(output) }
}

pub fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

pub fn held_escrow(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&crate::HoldReason::RequestEscrow.into(), &who)
}

pub fn node_record(node: NodeId) -> pallet_node_registry::pallet::NodeRecordOf<Test> {
	pallet_node_registry::Nodes::<Test>::get(node).expect("node exists")
}

pub fn operator(node: NodeId) -> AccountId {
	OPERATOR_BASE + node.0
}

pub fn inference_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Inference(e) => Some(e),
			_ => None,
		})
		.collect()
}
