//! Sampling Consensus commitments (Atoma whitepaper).
//!
//! A request is executed by a quorum of `n` nodes. Node `i` (its 0-based
//! position in the quorum, as a `u32`) computes the canonical output bytes `O`
//! (see [`crate::output`]) and submits the pair `(root, leaf_i)`:
//!
//! ```text
//! leaf_i = H(b"atoma/leaf/v1" ‖ O ‖ i as u32 LE)
//! root   = H(b"atoma/root/v1" ‖ n as u32 LE ‖ leaf_0 ‖ … ‖ leaf_{n-1})
//! ```
//!
//! ## Why two values
//!
//! * `root` is the same for every honest node, so the chain reaches agreement
//!   by checking that all submitted roots are equal.
//! * `leaf_i` is different for every node because it mixes in the node's own
//!   index. A lazy node that sees another node's commitment on chain cannot
//!   just copy it: copying `root` is not enough, it must also present its own
//!   `leaf_i`, and computing that requires knowing `O` itself. Once all leaves
//!   are revealed, the chain checks that `root` really is the hash of the
//!   submitted leaves in quorum order ([`root_matches_leaves`]).
//! * Binding `n` into `root` means a root computed for a quorum of one size
//!   cannot be passed off as the root for another size.
//!
//! All integers are fixed-width little-endian, as everywhere in this crate,
//! so the leaves and root are reproducible from any language.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt;
use scale_info::TypeInfo;

use crate::hash::{hash, hash_tagged, Hash, TAG_LEAF, TAG_ROOT};

/// What a single node submits on chain.
///
/// SCALE-encodable and bounded (`MaxEncodedLen`) so the runtime can store it
/// directly in a bounded map keyed by (request, node).
#[derive(
	Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Clone, PartialEq, Eq, Debug,
)]
pub struct NodeCommitment {
	/// The quorum-wide root; identical for all honest nodes.
	pub root: Hash,
	/// This node's own leaf `H(tag ‖ O ‖ i)`.
	pub leaf: Hash,
}

/// All commitments for one output and one quorum size: what an honest quorum
/// would submit. Mostly useful for tests, simulators and the runtime's
/// reference checks.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QuorumCommitments {
	/// The shared root.
	pub root: Hash,
	/// `leaves[i]` is node `i`'s leaf.
	pub leaves: Vec<Hash>,
}

impl QuorumCommitments {
	/// The commitment node `index` would submit, or `None` if `index` is not
	/// a quorum position.
	pub fn node(&self, index: u32) -> Option<NodeCommitment> {
		let leaf = *self.leaves.get(usize::try_from(index).ok()?)?;
		Some(NodeCommitment { root: self.root, leaf })
	}
}

/// Why a commitment could not be produced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CommitmentError {
	/// `n == 0`: a quorum must have at least one node.
	EmptyQuorum,
	/// `index >= n`: the node is not part of this quorum.
	IndexOutOfRange {
		/// The requested node index.
		index: u32,
		/// The quorum size.
		n: u32,
	},
}

impl fmt::Display for CommitmentError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Self::EmptyQuorum => write!(f, "quorum size must be at least 1"),
			Self::IndexOutOfRange { index, n } => {
				write!(f, "node index {index} is outside a quorum of {n}")
			},
		}
	}
}

impl core::error::Error for CommitmentError {}

/// Build the buffer `tag_leaf ‖ O ‖ [0; 4]`, whose last four bytes are then
/// overwritten with each index. Lets [`quorum_commitments`] hash `n` leaves
/// while copying `O` only once.
fn leaf_preimage(output: &[u8]) -> Vec<u8> {
	let mut buf = Vec::new();
	let _ = buf.try_reserve_exact(TAG_LEAF.len().saturating_add(output.len()).saturating_add(4));
	buf.extend_from_slice(TAG_LEAF);
	buf.extend_from_slice(output);
	buf.extend_from_slice(&[0u8; 4]);
	buf
}

/// Hash a buffer from [`leaf_preimage`] for `index`.
fn leaf_from_preimage(buf: &mut [u8], index: u32) -> Hash {
	if let Some((_, tail)) = buf.split_last_chunk_mut::<4>() {
		*tail = index.to_le_bytes();
	}
	hash(buf)
}

/// `leaf_i = H(b"atoma/leaf/v1" ‖ output ‖ index as u32 LE)`.
///
/// `output` must be the canonical bytes `O`
/// ([`crate::output::CanonicalOutput::encode_canonical`]), not raw text.
pub fn output_leaf(output: &[u8], index: u32) -> Hash {
	hash_tagged(TAG_LEAF, &[output, &index.to_le_bytes()])
}

/// `root = H(b"atoma/root/v1" ‖ n as u32 LE ‖ leaf_0 ‖ … ‖ leaf_{n-1})` with
/// `n = leaves.len()`.
///
/// For `leaves = []` this is `H(tag ‖ 0u32)`, a well-defined value that no
/// non-empty quorum can produce. Quorums are `u32`-sized; a slice longer than
/// `u32::MAX` cannot occur in practice (it would be 128 GiB of leaves) and
/// would have its count saturated rather than panic.
pub fn commitment_root(leaves: &[Hash]) -> Hash {
	let n = u32::try_from(leaves.len()).unwrap_or(u32::MAX);
	let mut buf = Vec::new();
	let _ = buf.try_reserve_exact(
		TAG_ROOT.len().saturating_add(4).saturating_add(leaves.len().saturating_mul(32)),
	);
	buf.extend_from_slice(TAG_ROOT);
	buf.extend_from_slice(&n.to_le_bytes());
	for leaf in leaves {
		buf.extend_from_slice(leaf);
	}
	hash(&buf)
}

/// All leaves and the root for a quorum of `n` nodes agreeing on `output`.
///
/// `n == 0` yields no leaves and the empty root (see [`commitment_root`]).
pub fn quorum_commitments(output: &[u8], n: u32) -> QuorumCommitments {
	let mut buf = leaf_preimage(output);
	let leaves: Vec<Hash> = (0..n).map(|i| leaf_from_preimage(&mut buf, i)).collect();
	QuorumCommitments { root: commitment_root(&leaves), leaves }
}

/// The commitment node `index` of an `n`-node quorum submits for `output`.
///
/// Errors if `n == 0` or `index >= n`, because such a commitment could never
/// be accepted and producing one silently would hide a caller bug.
/// Costs `n + 1` hashes: the node needs every leaf to compute the root.
pub fn node_commitment(
	output: &[u8],
	index: u32,
	n: u32,
) -> Result<NodeCommitment, CommitmentError> {
	if n == 0 {
		return Err(CommitmentError::EmptyQuorum);
	}
	if index >= n {
		return Err(CommitmentError::IndexOutOfRange { index, n });
	}
	quorum_commitments(output, n).node(index).ok_or(CommitmentError::IndexOutOfRange { index, n })
}

/// Whether `commitment` is exactly what node `index` of an `n`-node quorum
/// should have submitted for `output` (e.g. after `O` is revealed in a
/// dispute). `false` for an invalid `index`/`n` instead of an error, since a
/// verifier only needs a yes/no.
pub fn verify_node_commitment(
	output: &[u8],
	index: u32,
	n: u32,
	commitment: &NodeCommitment,
) -> bool {
	node_commitment(output, index, n).is_ok_and(|expected| &expected == commitment)
}

/// The digest `D = H(O)` a Cross-Validation node reveals after the commit window.
pub fn output_digest(output: &[u8]) -> Hash {
	crate::hash::hash(output)
}

/// A sealed commitment `H("atoma/sealed/v1" ‖ D ‖ worker key)` (Cross-Validation).
///
/// Verifiers chosen by private sortition do not know the quorum size, so the `(root, leaf_i)` form
/// does not apply. Sealing the output digest with the committing node's own key stops copying just
/// as well: a node that saw another's seal learns neither `D` nor a seal valid for its own key.
/// After the window closes each node reveals `D`; the runtime recomputes the seal.
pub fn sealed_commitment(output_digest: &Hash, worker_key: &[u8; 32]) -> Hash {
	hash_tagged(crate::hash::TAG_SEALED, &[output_digest, worker_key])
}

/// The digest of an arbiter's verdict in a dispute: `H("atoma/verdict/v1" ‖ D ‖ token count ‖
/// leaf count ‖ leaf_0 ‖ … ‖ leaf_{n-1})`, integers u32 little-endian.
///
/// An arbiter re-executes the disputed request and reports the output digest `D = H(O)`, the
/// token count and, for a Sampling quorum of `n`, the leaves `H(O ‖ i)` (the chain cannot derive
/// them from `D`; an empty list for Cross-Validation). Arbiters seal this digest with their key
/// ([`sealed_commitment`]) before anyone reveals, so no arbiter can copy another's verdict.
pub fn verdict_digest(output_digest: &Hash, output_tokens: u32, leaves: &[Hash]) -> Hash {
	let count = u32::try_from(leaves.len()).unwrap_or(u32::MAX).to_le_bytes();
	let tokens = output_tokens.to_le_bytes();
	let mut parts: alloc::vec::Vec<&[u8]> = alloc::vec![output_digest, &tokens, &count];
	parts.extend(leaves.iter().map(|leaf| leaf.as_slice()));
	hash_tagged(crate::hash::TAG_VERDICT, &parts)
}

/// Whether `root` is the commitment root of `leaves` taken in quorum order.
///
/// This is the check the runtime performs once all nodes have revealed their
/// leaves: it needs no knowledge of `O`.
pub fn root_matches_leaves(root: &Hash, leaves: &[Hash]) -> bool {
	&commitment_root(leaves) == root
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn fast_leaves_match_output_leaf() {
		let o = b"some canonical output";
		let q = quorum_commitments(o, 4);
		for (i, leaf) in (0u32..).zip(q.leaves.iter()) {
			assert_eq!(*leaf, output_leaf(o, i));
		}
	}

	#[test]
	fn empty_quorum() {
		let q = quorum_commitments(b"x", 0);
		assert!(q.leaves.is_empty());
		assert_eq!(q.root, hash(b"atoma/root/v1\0\0\0\0"));
		assert_eq!(q.node(0), None);
	}
}
