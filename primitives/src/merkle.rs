//! A generic binary Merkle tree over 32-byte leaves, with inclusion proofs.
//!
//! Used for model weights ([`crate::weights`]) and inference traces
//! ([`crate::trace`]). Its purpose is dispute resolution: when two nodes
//! disagree, a node can prove *which* chunk of weights (or which trace step)
//! it holds by revealing that one item plus `O(log n)` sibling hashes, instead
//! of uploading the whole file or trace on chain.
//!
//! ## Construction
//!
//! ```text
//! level 0    = leaves (already domain-separated hashes, e.g. chunk leaves)
//! inner node = H(node_tag ‖ left ‖ right)
//! ```
//!
//! * If a level has an odd number of nodes, the last node is **promoted
//!   unchanged** to the next level (it is *not* hashed with itself, which
//!   would let `[a, b, c]` and `[a, b, c, c]` share a root).
//! * The root of one leaf is that leaf.
//! * The root of zero leaves is `H(node_tag)`: a fixed, well-defined value
//!   that cannot be confused with a real inner node (whose preimage is always
//!   `node_tag` plus 64 bytes).
//!
//! `node_tag` is a parameter so that each tree kind has its own inner-node
//! domain (`atoma/weights-node/v1`, `atoma/trace-node/v1`); a subtree of a
//! weights tree can never be presented as part of a trace tree.
//!
//! ## Shape and the leaf count
//!
//! With promotion, the tree shape depends on the number of leaves, so a proof
//! is only meaningful together with the `leaf_count` it was made for;
//! [`verify_merkle_proof`] takes it as an argument and walks exactly that
//! shape. The proof does **not** authenticate `leaf_count` by itself (a
//! sibling is just a hash: leaf 0 of `[a, b, c]` has the same proof as leaf 0
//! of a 4-leaf tree whose right subtree hashes to `c`), so the verifier must
//! get `leaf_count` from a trusted source (for
//! weights it is derived from the file length committed in the weights root;
//! for traces, from the committed output's token count), and should compute
//! `leaf` itself from the revealed data so that leaves are always
//! domain-separated hashes and never raw inner nodes.
//!
//! ## Proof format
//!
//! A [`MerkleProof`] is the list of sibling hashes from the leaf level up.
//! Levels where the path node is promoted (it is the odd node at the end)
//! contribute **no** sibling. Whether the path node is the left or the right
//! child is derived from the index, so no direction bits are transmitted.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::hash::{hash, Hash};

/// Sibling hashes from the leaf level to just below the root, skipping levels
/// where the path node was promoted.
///
/// SCALE-encodable so it can be carried in a dispute extrinsic; the runtime
/// should wrap it in a bounded type (at most 64 siblings exist for any `u64`
/// leaf count, see [`max_proof_len`]).
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct MerkleProof {
	/// Sibling hashes, bottom-up.
	pub siblings: Vec<Hash>,
}

/// Reusable buffer for `H(node_tag ‖ left ‖ right)`, so building a tree does
/// one allocation instead of one per inner node.
struct NodeHasher<'t> {
	tag: &'t [u8],
	buf: Vec<u8>,
}

impl<'t> NodeHasher<'t> {
	fn new(tag: &'t [u8]) -> Self {
		let mut buf = Vec::new();
		let _ = buf.try_reserve_exact(tag.len().saturating_add(64));
		Self { tag, buf }
	}

	fn node(&mut self, left: &Hash, right: &Hash) -> Hash {
		self.buf.clear();
		self.buf.extend_from_slice(self.tag);
		self.buf.extend_from_slice(left);
		self.buf.extend_from_slice(right);
		hash(&self.buf)
	}
}

/// Compute the next level up: pairs are hashed, an odd last node is promoted.
fn next_level(hasher: &mut NodeHasher<'_>, level: &[Hash]) -> Vec<Hash> {
	let mut next = Vec::with_capacity(level.len().div_ceil(2));
	let mut pairs = level.chunks_exact(2);
	for pair in &mut pairs {
		if let [left, right] = pair {
			next.push(hasher.node(left, right));
		}
	}
	next.extend_from_slice(pairs.remainder());
	next
}

/// Merkle root of `leaves` with inner nodes `H(node_tag ‖ left ‖ right)`.
///
/// Zero leaves → `H(node_tag)`; one leaf → that leaf; odd nodes are promoted
/// (see the [module docs](self)).
pub fn merkle_root(node_tag: &[u8], leaves: &[Hash]) -> Hash {
	if let [only] = leaves {
		return *only;
	}
	if leaves.is_empty() {
		return hash(node_tag);
	}
	let mut hasher = NodeHasher::new(node_tag);
	let mut level = next_level(&mut hasher, leaves);
	while level.len() > 1 {
		level = next_level(&mut hasher, &level);
	}
	level.first().copied().unwrap_or_else(|| hash(node_tag))
}

/// Inclusion proof for `leaves[index]`, or `None` if `index` is out of range.
///
/// `index` is a `u64` (not `usize`) because proofs travel between 64-bit
/// workers and the 32-bit wasm runtime.
pub fn merkle_proof(node_tag: &[u8], leaves: &[Hash], index: u64) -> Option<MerkleProof> {
	let mut pos = usize::try_from(index).ok()?;
	if pos >= leaves.len() {
		return None;
	}
	let mut hasher = NodeHasher::new(node_tag);
	let mut siblings = Vec::new();
	let mut level: Vec<Hash> = leaves.to_vec();
	while level.len() > 1 {
		// `pos ^ 1` is the sibling; if it is past the end, `pos` is the odd
		// last node and is promoted without a sibling.
		if let Some(sibling) = level.get(pos ^ 1) {
			siblings.push(*sibling);
		}
		level = next_level(&mut hasher, &level);
		pos >>= 1;
	}
	Some(MerkleProof { siblings })
}

/// Recompute the root implied by `leaf` at `index` in a tree of `leaf_count`
/// leaves and `proof`; `None` if the inputs are inconsistent (empty tree,
/// index out of range, too few or too many siblings).
///
/// Exposed separately from [`verify_merkle_proof`] for roots that wrap the
/// Merkle root (e.g. the weights root binds the file length on top of it).
pub fn root_from_proof(
	node_tag: &[u8],
	leaf: &Hash,
	index: u64,
	leaf_count: u64,
	proof: &MerkleProof,
) -> Option<Hash> {
	if index >= leaf_count {
		return None;
	}
	let mut hasher = NodeHasher::new(node_tag);
	let mut siblings = proof.siblings.iter();
	let mut acc = *leaf;
	let mut pos = index;
	let mut len = leaf_count;
	while len > 1 {
		let sibling_pos = pos ^ 1;
		if sibling_pos < len {
			let sibling = siblings.next()?;
			acc =
				if pos & 1 == 0 { hasher.node(&acc, sibling) } else { hasher.node(sibling, &acc) };
		}
		pos >>= 1;
		len = len.div_ceil(2);
	}
	if siblings.next().is_some() {
		return None;
	}
	Some(acc)
}

/// Whether `proof` shows that `leaf` is at `index` in the tree of
/// `leaf_count` leaves whose root is `root`.
///
/// Rejects (rather than panics on) empty trees, out-of-range indices and
/// proofs with missing or extra siblings.
pub fn verify_merkle_proof(
	node_tag: &[u8],
	root: &Hash,
	leaf: &Hash,
	index: u64,
	leaf_count: u64,
	proof: &MerkleProof,
) -> bool {
	root_from_proof(node_tag, leaf, index, leaf_count, proof).is_some_and(|r| &r == root)
}

/// Upper bound on the number of siblings in any proof for `leaf_count`
/// leaves: `ceil(log2(leaf_count))`, and 0 for 0 or 1 leaves.
///
/// Lets the runtime bound proof sizes before decoding or hashing them.
pub fn max_proof_len(leaf_count: u64) -> u32 {
	match leaf_count.checked_next_power_of_two() {
		Some(p) => p.trailing_zeros(),
		// leaf_count > 2^63: the depth is 64.
		None => u64::BITS,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn max_proof_len_values() {
		assert_eq!(max_proof_len(0), 0);
		assert_eq!(max_proof_len(1), 0);
		assert_eq!(max_proof_len(2), 1);
		assert_eq!(max_proof_len(3), 2);
		assert_eq!(max_proof_len(4), 2);
		assert_eq!(max_proof_len(5), 3);
		assert_eq!(max_proof_len(u64::MAX), 64);
	}

	#[test]
	fn three_leaves_shape() {
		let l: Vec<Hash> = (0u8..3).map(|i| [i; 32]).collect();
		let mut h = NodeHasher::new(b"t");
		let ab = h.node(&l[0], &l[1]);
		assert_eq!(merkle_root(b"t", &l), h.node(&ab, &l[2]));
		// Leaf 2 is promoted at level 0, so its proof has exactly one sibling.
		let p = merkle_proof(b"t", &l, 2).unwrap_or_default();
		assert_eq!(p.siblings, alloc::vec![ab]);
	}
}
