//! Sampling Consensus commitments.

use atoma_primitives::commitment::{
	commitment_root, node_commitment, output_leaf, quorum_commitments, root_matches_leaves,
	verify_node_commitment, CommitmentError, NodeCommitment,
};
use atoma_primitives::hash::hash;
use atoma_primitives::output::{CanonicalOutput, FinishReason};
use codec::{Decode, Encode, MaxEncodedLen};

fn output(tokens: &[u32]) -> Vec<u8> {
	CanonicalOutput::new(tokens, FinishReason::Stop).encode_canonical()
}

#[test]
fn layout_by_hand() {
	let o = output(&[5, 6]);
	let mut pre = b"atoma/leaf/v1".to_vec();
	pre.extend_from_slice(&o);
	pre.extend_from_slice(&2u32.to_le_bytes());
	assert_eq!(output_leaf(&o, 2), hash(&pre));

	let leaves = [output_leaf(&o, 0), output_leaf(&o, 1)];
	let mut pre = b"atoma/root/v1".to_vec();
	pre.extend_from_slice(&2u32.to_le_bytes());
	pre.extend_from_slice(&leaves[0]);
	pre.extend_from_slice(&leaves[1]);
	assert_eq!(commitment_root(&leaves), hash(&pre));
}

#[test]
fn honest_quorum_agrees() {
	let o = output(&[1, 2, 3]);
	for n in 1..=7u32 {
		let q = quorum_commitments(&o, n);
		assert_eq!(q.leaves.len(), n as usize);
		assert!(root_matches_leaves(&q.root, &q.leaves));
		for i in 0..n {
			let c = node_commitment(&o, i, n).expect("valid");
			assert_eq!(c.root, q.root);
			assert_eq!(Some(c.clone()), q.node(i));
			assert!(verify_node_commitment(&o, i, n, &c));
		}
		assert_eq!(q.node(n), None);
		// Leaves are pairwise distinct: a lazy node cannot copy one.
		for a in 0..q.leaves.len() {
			for b in a + 1..q.leaves.len() {
				assert_ne!(q.leaves[a], q.leaves[b]);
			}
		}
	}
}

#[test]
fn different_outputs_or_sizes_disagree() {
	let a = output(&[1, 2, 3]);
	let b = output(&[1, 2, 4]);
	let c = CanonicalOutput::new(&[1, 2, 3], FinishReason::Length).encode_canonical();
	assert_ne!(quorum_commitments(&a, 3).root, quorum_commitments(&b, 3).root);
	assert_ne!(quorum_commitments(&a, 3).root, quorum_commitments(&c, 3).root);
	// The root binds the quorum size.
	assert_ne!(quorum_commitments(&a, 2).root, quorum_commitments(&a, 3).root);
}

#[test]
fn invalid_positions_are_errors() {
	let o = output(&[1]);
	assert_eq!(node_commitment(&o, 0, 0), Err(CommitmentError::EmptyQuorum));
	assert_eq!(node_commitment(&o, 3, 3), Err(CommitmentError::IndexOutOfRange { index: 3, n: 3 }));
	assert_eq!(
		node_commitment(&o, u32::MAX, 2),
		Err(CommitmentError::IndexOutOfRange { index: u32::MAX, n: 2 })
	);
	let good = node_commitment(&o, 0, 1).expect("valid");
	assert!(!verify_node_commitment(&o, 0, 0, &good));
	assert!(!verify_node_commitment(&o, 1, 1, &good));
}

#[test]
fn verification_rejects_wrong_commitments() {
	let o = output(&[9, 9, 9]);
	let other = output(&[9, 9]);
	let c1 = node_commitment(&o, 1, 3).expect("valid");
	// Copying another node's leaf.
	assert!(!verify_node_commitment(&o, 2, 3, &c1));
	// Right root, wrong leaf.
	let mut bad = c1.clone();
	bad.leaf = output_leaf(&o, 0);
	assert!(!verify_node_commitment(&o, 1, 3, &bad));
	// Right leaf, wrong root.
	let mut bad = c1.clone();
	bad.root[31] ^= 1;
	assert!(!verify_node_commitment(&o, 1, 3, &bad));
	// Different output.
	assert!(!verify_node_commitment(&other, 1, 3, &c1));
	// Different quorum size.
	assert!(!verify_node_commitment(&o, 1, 4, &c1));

	let q = quorum_commitments(&o, 3);
	let mut swapped = q.leaves.clone();
	swapped.swap(0, 1);
	assert!(!root_matches_leaves(&q.root, &swapped));
	assert!(!root_matches_leaves(&q.root, &q.leaves[..2]));
}

#[test]
fn empty_quorum_root_is_well_defined() {
	let q = quorum_commitments(b"anything", 0);
	assert!(q.leaves.is_empty());
	assert_eq!(q.root, commitment_root(&[]));
	assert!(root_matches_leaves(&q.root, &[]));
}

#[test]
fn node_commitment_scale() {
	let c = node_commitment(&output(&[1]), 0, 2).expect("valid");
	let bytes = c.encode();
	assert_eq!(bytes.len(), 64);
	assert_eq!(NodeCommitment::max_encoded_len(), 64);
	assert_eq!(NodeCommitment::decode(&mut &bytes[..]), Ok(c));
}
