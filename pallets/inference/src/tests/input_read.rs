//! Who may read a by-hash input from another node's worker (`authorize_input_read`, asked by the
//! serving worker's node): each attempt by a node without a role in the request is refused, with
//! the reason named.

use atoma_support::inference::{InputRead, InputReadRefusal, RequestInput};
use sp_core::Pair;
use sp_runtime::Perbill;

use super::*;

const INPUT: &[u8] = b"a prompt uploaded off chain";
const NOW: u64 = 1_700_000_000;

fn by_hash(mode: VerificationMode) -> RequestId {
	let mut s = spec(mode);
	s.input = RequestInput::Hash(sp_io::hashing::blake2_256(INPUT));
	let id = submit(s);
	next_block();
	id
}

/// `node` asks to read `hash` of `id`, signing with `signer`'s key at `NOW`.
fn read_as(
	id: RequestId,
	hash: [u8; 32],
	node: NodeId,
	signer: NodeId,
	vrf: Option<VrfProof>,
) -> Result<(), InputReadRefusal> {
	let message =
		atoma_primitives::input_read::signing_bytes(&Inference::chain_id(), id.0, &hash, NOW);
	let signature = pair_of(signer).sign(&message);
	Inference::authorize_input_read(&InputRead {
		request: id,
		input_hash: hash,
		reader: pair_of(node).public(),
		timestamp: NOW,
		signature,
		vrf,
	})
}

fn every_node_wins_a_seat(id: RequestId) {
	crate::Requests::<Test>::mutate(id, |r| {
		if let Some(r) = r {
			r.sortition_threshold = u128::MAX;
		}
	});
}

fn read(id: RequestId, node: NodeId) -> Result<(), InputReadRefusal> {
	read_as(id, sp_io::hashing::blake2_256(INPUT), node, node, None)
}

#[test]
fn a_selected_node_reads_and_a_node_without_a_role_does_not() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = by_hash(VerificationMode::Sampling { n: 2 });
		let nodes = selected(id);
		let outsider = (0..3).map(NodeId).find(|n| !nodes.contains(n)).unwrap();
		// The node the user skipped reads from the one it uploaded to.
		assert_eq!(read(id, nodes[1]), Ok(()));
		assert_eq!(read(id, outsider), Err(InputReadRefusal::NoRole));
		// An outsider cannot borrow a selected node's key without its signature.
		assert_eq!(
			read_as(id, sp_io::hashing::blake2_256(INPUT), nodes[0], outsider, None),
			Err(InputReadRefusal::BadSignature)
		);
		// A signature for another time does not verify.
		let hash = sp_io::hashing::blake2_256(INPUT);
		let message =
			atoma_primitives::input_read::signing_bytes(&Inference::chain_id(), id.0, &hash, NOW);
		let signature = pair_of(nodes[0]).sign(&message);
		assert_eq!(
			Inference::authorize_input_read(&InputRead {
				request: id,
				input_hash: hash,
				reader: pair_of(nodes[0]).public(),
				timestamp: NOW + 1,
				signature,
				vrf: None
			}),
			Err(InputReadRefusal::BadSignature)
		);
		// Only the request's own input, and only requests in flight.
		assert_eq!(
			read_as(id, [9; 32], nodes[0], nodes[0], None),
			Err(InputReadRefusal::NotThisInput)
		);
		assert_eq!(read(RequestId(99), nodes[0]), Err(InputReadRefusal::UnknownRequest));
		// A key no node holds.
		let stranger = sp_core::sr25519::Pair::from_string("//stranger", None).unwrap();
		let signature = stranger.sign(&message);
		assert_eq!(
			Inference::authorize_input_read(&InputRead {
				request: id,
				input_hash: hash,
				reader: stranger.public(),
				timestamp: NOW,
				signature,
				vrf: None
			}),
			Err(InputReadRefusal::UnknownReader)
		);
		all_commit(id, &output(1, 1));
		assert_eq!(read(id, nodes[0]), Err(InputReadRefusal::UnknownRequest), "settled");
	});
}

#[test]
fn an_inline_input_is_never_served_by_hash() {
	ExtBuilder::default().build_and_execute(|| {
		let id = submit_and_select(VerificationMode::Single);
		let node = selected(id)[0];
		let hash = sp_io::hashing::blake2_256(b"hello");
		assert_eq!(read_as(id, hash, node, node, None), Err(InputReadRefusal::NotThisInput));
		all_commit(id, &output(1, 1));
	});
}

/// A verifier proves its seat with its VRF proof, and only once the primary has committed: a
/// read before would tell the primary that it is verified.
#[test]
fn a_verifier_reads_after_the_primary_committed_and_only_with_a_winning_proof() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = by_hash(VerificationMode::CrossValidation { n: 1, p: Perbill::from_percent(100) });
		every_node_wins_a_seat(id);
		let hash = sp_io::hashing::blake2_256(INPUT);
		let primary = selected(id)[0];
		let verifier = (0..3).map(NodeId).find(|n| *n != primary).unwrap();
		let proof = vrf_proof(id, verifier);
		assert_eq!(
			read_as(id, hash, verifier, verifier, Some(proof)),
			Err(InputReadRefusal::PrimaryNotCommitted)
		);
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		assert_eq!(read_as(id, hash, verifier, verifier, Some(proof)), Ok(()));
		// No proof, or another node's proof, is no seat.
		assert_eq!(read_as(id, hash, verifier, verifier, None), Err(InputReadRefusal::NoRole));
		let other = (0..3).map(NodeId).find(|n| *n != primary && *n != verifier).unwrap();
		assert_eq!(
			read_as(id, hash, verifier, verifier, Some(vrf_proof(id, other))),
			Err(InputReadRefusal::NoRole)
		);
		assert_ok!(submit_signed(payload(id, verifier, sealed_kind(id, verifier, &o, true))));
		// A joined verifier keeps its role without the proof.
		assert_eq!(read_as(id, hash, verifier, verifier, None), Ok(()));
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		assert_ok!(submit_signed(payload(id, verifier, reveal_kind(&o))));
	});
}

/// A verifier seat beyond what the escrow pays is no seat: such a node may not read either.
#[test]
fn a_verifier_over_the_seats_the_escrow_pays_cannot_read() {
	ExtBuilder::default().nodes(3).build_and_execute(|| {
		let id = by_hash(VerificationMode::CrossValidation { n: 1, p: Perbill::from_percent(100) });
		every_node_wins_a_seat(id);
		let hash = sp_io::hashing::blake2_256(INPUT);
		let primary = selected(id)[0];
		let verifiers: Vec<NodeId> = (0..3).map(NodeId).filter(|n| *n != primary).collect();
		let o = output(1, 2);
		assert_ok!(submit_signed(payload(id, primary, sealed_kind(id, primary, &o, false))));
		let first = verifiers[0];
		assert_ok!(submit_signed(payload(id, first, sealed_kind(id, first, &o, true))));
		let late = verifiers[1];
		assert_eq!(
			read_as(id, hash, late, late, Some(vrf_proof(id, late))),
			Err(InputReadRefusal::NoRole)
		);
		assert_ok!(submit_signed(payload(id, primary, reveal_kind(&o))));
		assert_ok!(submit_signed(payload(id, first, reveal_kind(&o))));
	});
}
