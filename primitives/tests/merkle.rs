//! Merkle tree: proofs verify for every index of many tree sizes (including
//! promoted odd nodes) and fail for any wrong leaf, index, count or sibling.

use atoma_primitives::hash::{hash, Hash, TAG_TRACE_NODE, TAG_WEIGHTS_NODE};
use atoma_primitives::merkle::{
	max_proof_len, merkle_proof, merkle_root, root_from_proof, verify_merkle_proof, MerkleProof,
};
use codec::{Decode, Encode};

const TAG: &[u8] = TAG_WEIGHTS_NODE;

fn leaves(n: usize) -> Vec<Hash> {
	(0..n as u32).map(|i| hash(&i.to_le_bytes())).collect()
}

fn node(l: &Hash, r: &Hash) -> Hash {
	let mut v = TAG.to_vec();
	v.extend_from_slice(l);
	v.extend_from_slice(r);
	hash(&v)
}

/// Number of siblings on the path of leaf `index` in a tree of `count`
/// leaves (levels where the path node is promoted contribute none).
fn path_len(mut index: u64, mut count: u64) -> usize {
	let mut len = 0;
	while count > 1 {
		if index ^ 1 < count {
			len += 1;
		}
		index /= 2;
		count = count.div_ceil(2);
	}
	len
}

#[test]
fn path_len_matches_proofs() {
	for n in 1..=20usize {
		let l = leaves(n);
		for i in 0..n {
			let proof = merkle_proof(TAG, &l, i as u64).expect("in range");
			assert_eq!(proof.siblings.len(), path_len(i as u64, n as u64));
		}
	}
}

#[test]
fn small_roots_by_hand() {
	let l = leaves(5);
	assert_eq!(merkle_root(TAG, &[]), hash(TAG));
	assert_eq!(merkle_root(TAG, &l[..1]), l[0]);
	assert_eq!(merkle_root(TAG, &l[..2]), node(&l[0], &l[1]));
	assert_eq!(merkle_root(TAG, &l[..3]), node(&node(&l[0], &l[1]), &l[2]));
	// 5 leaves: [ab, cd, e] -> [abcd, e] -> root.
	let ab = node(&l[0], &l[1]);
	let cd = node(&l[2], &l[3]);
	assert_eq!(merkle_root(TAG, &l), node(&node(&ab, &cd), &l[4]));
}

#[test]
fn no_duplication_ambiguity() {
	// Promotion (not self-pairing) keeps [a, b, c] and [a, b, c, c] distinct.
	let l = leaves(3);
	let mut dup = l.clone();
	dup.push(l[2]);
	assert_ne!(merkle_root(TAG, &l), merkle_root(TAG, &dup));
}

#[test]
fn node_tag_separates_trees() {
	let l = leaves(4);
	assert_ne!(merkle_root(TAG_WEIGHTS_NODE, &l), merkle_root(TAG_TRACE_NODE, &l));
}

#[test]
fn proofs_verify_for_every_index() {
	for n in 1..=33usize {
		let l = leaves(n);
		let root = merkle_root(TAG, &l);
		let count = n as u64;
		for i in 0..n {
			let proof = merkle_proof(TAG, &l, i as u64).expect("in range");
			assert!(proof.siblings.len() as u32 <= max_proof_len(count), "n={n} i={i}");
			assert!(verify_merkle_proof(TAG, &root, &l[i], i as u64, count, &proof), "n={n} i={i}");
			assert_eq!(root_from_proof(TAG, &l[i], i as u64, count, &proof), Some(root));
		}
		assert!(merkle_proof(TAG, &l, count).is_none());
		assert!(merkle_proof(TAG, &l, u64::MAX).is_none());
	}
}

#[test]
fn larger_tree_spot_checks() {
	let n = 1000usize;
	let l = leaves(n);
	let root = merkle_root(TAG, &l);
	for i in [0usize, 1, 499, 511, 512, 998, 999] {
		let proof = merkle_proof(TAG, &l, i as u64).expect("in range");
		assert!(verify_merkle_proof(TAG, &root, &l[i], i as u64, n as u64, &proof));
	}
}

#[test]
fn proofs_fail_when_anything_is_wrong() {
	let other_leaf = hash(b"not a leaf");
	for n in [2usize, 3, 5, 7, 8, 13] {
		let l = leaves(n);
		let root = merkle_root(TAG, &l);
		let count = n as u64;
		for i in 0..n {
			let idx = i as u64;
			let proof = merkle_proof(TAG, &l, idx).expect("in range");
			// Wrong leaf.
			assert!(!verify_merkle_proof(TAG, &root, &other_leaf, idx, count, &proof));
			// Right leaf claimed at every other index.
			for j in 0..n as u64 {
				if j != idx {
					assert!(
						!verify_merkle_proof(TAG, &root, &l[i], j, count, &proof),
						"n={n} i={i} j={j}"
					);
				}
			}
			// Out-of-range index.
			assert!(!verify_merkle_proof(TAG, &root, &l[i], count, count, &proof));
			// Wrong leaf count: a proof does not authenticate the count by
			// itself (a sibling is just a hash, so leaf 0 of a 3-leaf tree has
			// the same proof as in a 4-leaf tree whose right subtree hashes to
			// leaf 2). It must be rejected whenever the count implies a
			// different path shape (different number of siblings).
			for wrong_count in [count - 1, count + 1, 2 * count] {
				if wrong_count > idx && path_len(idx, wrong_count) != proof.siblings.len() {
					assert!(
						!verify_merkle_proof(TAG, &root, &l[i], idx, wrong_count, &proof),
						"n={n} i={i} count={wrong_count}"
					);
				}
			}
			// Wrong node tag.
			assert!(!verify_merkle_proof(TAG_TRACE_NODE, &root, &l[i], idx, count, &proof));
			// Wrong root.
			assert!(!verify_merkle_proof(TAG, &other_leaf, &l[i], idx, count, &proof));
			// Each sibling corrupted in turn.
			for k in 0..proof.siblings.len() {
				let mut bad = proof.clone();
				bad.siblings[k][0] ^= 1;
				assert!(!verify_merkle_proof(TAG, &root, &l[i], idx, count, &bad));
			}
			// Missing last sibling / extra sibling.
			let mut short = proof.clone();
			short.siblings.pop();
			assert!(!verify_merkle_proof(TAG, &root, &l[i], idx, count, &short));
			let mut long = proof.clone();
			long.siblings.push(other_leaf);
			assert!(!verify_merkle_proof(TAG, &root, &l[i], idx, count, &long));
		}
	}
}

#[test]
fn degenerate_inputs_are_rejected() {
	let empty = MerkleProof::default();
	let leaf = hash(b"x");
	// Empty tree: nothing can be proven.
	assert!(!verify_merkle_proof(TAG, &hash(TAG), &leaf, 0, 0, &empty));
	assert!(merkle_proof(TAG, &[], 0).is_none());
	// One leaf: empty proof, root is the leaf.
	assert!(verify_merkle_proof(TAG, &leaf, &leaf, 0, 1, &empty));
	assert!(!verify_merkle_proof(TAG, &leaf, &leaf, 1, 1, &empty));
	// Absurd sizes do not panic.
	assert!(!verify_merkle_proof(TAG, &leaf, &leaf, u64::MAX - 1, u64::MAX, &empty));
	assert!(!verify_merkle_proof(TAG, &leaf, &leaf, 0, u64::MAX, &empty));
}

#[test]
fn proof_scale_roundtrip() {
	let l = leaves(9);
	let proof = merkle_proof(TAG, &l, 8).expect("in range");
	let bytes = proof.encode();
	assert_eq!(MerkleProof::decode(&mut &bytes[..]), Ok(proof));
}
