//! Bisection of two disagreeing traces down to one step (protocol §9, whitepaper §2.10).
//!
//! Two parties of a dispute committed trace roots ([`crate::trace`]) over the same number of
//! steps. Instead of re-executing the whole request, the chain walks both trace trees from the
//! root: at each inner node both parties reveal the node's two children, the chain checks that
//! they hash to the party's node, and the walk goes to the **leftmost child where the parties
//! differ**. Everything left of the path is then agreed, leaf by leaf (equal subtree hashes),
//! and the walk ends at the first step `k` where the parties' step digests differ, after
//! `depth(T) = ceil(log2 T)` turns at most. Arbiters then compute only steps `0..=k` of the
//! request, exactly as decoding ran them, and the chain compares their step `k` with both
//! parties' ([`step_verdict_digest`]).
//!
//! ## Node coordinates
//!
//! The trace tree of `T` leaves ([`crate::merkle`], odd nodes promoted) has its root at level
//! `depth(T)`. Node `(level, index)` covers the steps `[index·2^level, (index+1)·2^level) ∩
//! [0, T)` and its hash is the Merkle root of those steps' digests ([`node_hash`]): a promoted
//! node has the same hash as its only child, so the walk passes through it without a turn
//! ([`children`]).
//!
//! ## The agreed prefix
//!
//! Each time the walk goes right, the left child is agreed: its range and hash are recorded.
//! Arbiters, who compute steps `0..=k` themselves, hash their own digests over the same ranges;
//! [`prefix_digest`] of both lists must be equal, or the parties agreed on steps that honest
//! decoding does not produce, and both are wrong.

use alloc::vec::Vec;

use crate::{
	hash::{hash_tagged, Hash, TAG_STEP_VERDICT, TAG_TRACE_NODE, TAG_TRACE_PREFIX},
	merkle::{max_proof_len, merkle_root},
};

/// A node of the trace tree: its level (0: the step digests) and its index in the level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TreeNode {
	/// 0 for leaves; the root is at [`depth`].
	pub level: u32,
	/// Position in the level, from the left.
	pub index: u32,
}

/// The level of the root of a trace of `steps` steps: `ceil(log2 steps)` (0 for 0 or 1 step).
pub fn depth(steps: u32) -> u32 {
	max_proof_len(u64::from(steps))
}

/// The root node of a trace of `steps` steps.
pub fn root_node(steps: u32) -> TreeNode {
	TreeNode { level: depth(steps), index: 0 }
}

/// The steps `[start, end)` under `node` in a trace of `steps` steps; empty past the end.
pub fn node_range(steps: u32, node: TreeNode) -> (u32, u32) {
	let width = 1u64.checked_shl(node.level).unwrap_or(u64::MAX);
	let start = u64::from(node.index).saturating_mul(width);
	let end = start.saturating_add(width).min(u64::from(steps));
	let start = start.min(u64::from(steps));
	// Both are at most `steps`, a `u32`.
	(u32::try_from(start).unwrap_or(steps), u32::try_from(end).unwrap_or(steps))
}

/// What lies under a node of the walk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Children {
	/// The node is the digest of this step: the walk is over.
	Step(u32),
	/// The node was promoted from its only child (same hash): go down without a turn.
	Promoted(TreeNode),
	/// An inner node `H(tag ‖ left ‖ right)`: the parties reveal both children.
	Pair(TreeNode, TreeNode),
	/// The node covers no step (not part of the tree).
	Empty,
}

/// The children of `node` in a trace of `steps` steps.
pub fn children(steps: u32, node: TreeNode) -> Children {
	let (start, end) = node_range(steps, node);
	if end <= start {
		return Children::Empty;
	}
	if node.level == 0 {
		return Children::Step(start);
	}
	let level = node.level.saturating_sub(1);
	let left = TreeNode { level, index: node.index.saturating_mul(2) };
	let right = TreeNode { level, index: left.index.saturating_add(1) };
	match node_range(steps, right) {
		(s, e) if e > s => Children::Pair(left, right),
		_ => Children::Promoted(left),
	}
}

/// The node reached from `node` by going down through promoted nodes: a step or an inner node
/// with two children.
pub fn settle(steps: u32, mut node: TreeNode) -> TreeNode {
	while let Children::Promoted(child) = children(steps, node) {
		node = child;
	}
	node
}

/// `H(tag ‖ left ‖ right)`: an inner node of the trace tree, as the chain checks a revealed pair.
pub fn inner_node(left: &Hash, right: &Hash) -> Hash {
	hash_tagged(TAG_TRACE_NODE, &[left, right])
}

/// The hash of `node` over `step_digests`: the Merkle root of the digests of its steps. `None`
/// if the digests do not cover the node's steps (the caller computed too few).
pub fn node_hash(step_digests: &[Hash], steps: u32, node: TreeNode) -> Option<Hash> {
	let (start, end) = node_range(steps, node);
	let digests = step_digests.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)?;
	(end > start).then(|| merkle_root(TAG_TRACE_NODE, digests))
}

/// A subtree both parties agreed on: its first step, its number of steps and its hash.
pub type AgreedRange = (u32, u32, Hash);

/// `H("atoma/trace-prefix/v1" ‖ (start u32 LE ‖ len u32 LE ‖ hash) × count)`: the digest of the
/// agreed subtrees left of the bisected step, in the order the walk agreed them.
pub fn prefix_digest(agreed: &[AgreedRange]) -> Hash {
	let mut bytes = Vec::new();
	let _ = bytes.try_reserve_exact(agreed.len().saturating_mul(40));
	for (start, len, hash) in agreed {
		bytes.extend_from_slice(&start.to_le_bytes());
		bytes.extend_from_slice(&len.to_le_bytes());
		bytes.extend_from_slice(hash);
	}
	hash_tagged(TAG_TRACE_PREFIX, &[&bytes])
}

/// The agreed ranges as an arbiter recomputes them from its own step digests; `None` if it
/// computed too few steps to cover them.
pub fn recompute_prefix(step_digests: &[Hash], agreed: &[(u32, u32)]) -> Option<Vec<AgreedRange>> {
	agreed
		.iter()
		.map(|&(start, len)| {
			let digests = step_digests.get(
				usize::try_from(start).ok()?..usize::try_from(start.checked_add(len)?).ok()?,
			)?;
			Some((start, len, merkle_root(TAG_TRACE_NODE, digests)))
		})
		.collect()
}

/// What an arbiter found at the bisected step `k`, sealed and revealed like a full verdict:
/// `H("atoma/step-verdict/v1" ‖ k u32 LE ‖ present u8 ‖ digest ‖ prefix)`.
///
/// `step_digest` is the digest of step `k` of honest decoding, or `None` when decoding ends
/// before step `k` (the all-zero hash is hashed then, with `present = 0`); `prefix` is
/// [`prefix_digest`] of the arbiter's own hashes of the agreed ranges.
pub fn step_verdict_digest(step: u32, step_digest: Option<&Hash>, prefix: &Hash) -> Hash {
	let (present, digest) = match step_digest {
		Some(d) => (1u8, *d),
		None => (0u8, [0u8; 32]),
	};
	hash_tagged(TAG_STEP_VERDICT, &[&step.to_le_bytes(), &[present], &digest, prefix])
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::hash::hash;

	fn digests(n: u32, salt: u8) -> Vec<Hash> {
		(0..n).map(|i| hash(&[&i.to_le_bytes()[..], &[salt]].concat())).collect()
	}

	/// Walk two traces the way the chain does; returns the step reached and the agreed ranges.
	fn walk(a: &[Hash], b: &[Hash]) -> (u32, Vec<AgreedRange>, u32) {
		let steps = a.len() as u32;
		let mut node = settle(steps, root_node(steps));
		let mut agreed = Vec::new();
		let mut turns = 0;
		loop {
			match children(steps, node) {
				Children::Step(k) => return (k, agreed, turns),
				Children::Pair(left, right) => {
					turns += 1;
					let (la, ra) =
						(node_hash(a, steps, left).unwrap(), node_hash(a, steps, right).unwrap());
					assert_eq!(inner_node(&la, &ra), node_hash(a, steps, node).unwrap());
					let lb = node_hash(b, steps, left).unwrap();
					node = if la != lb {
						settle(steps, left)
					} else {
						let (s, e) = node_range(steps, left);
						agreed.push((s, e - s, la));
						settle(steps, right)
					};
				},
				other => panic!("unexpected {other:?}"),
			}
		}
	}

	#[test]
	fn the_walk_finds_the_first_differing_step_in_at_most_depth_turns() {
		for steps in [1u32, 2, 3, 5, 7, 8, 16, 17, 100, 128, 1024, 1025] {
			let honest = digests(steps, 0);
			for k in [0, steps / 3, steps / 2, steps - 1] {
				let mut lying = honest.clone();
				// Diverge at k and keep diverging after it, as a tampered decode does.
				for d in lying.iter_mut().skip(k as usize) {
					d[0] ^= 0xff;
				}
				let (found, agreed, turns) = walk(&honest, &lying);
				assert_eq!(found, k, "{steps} steps, diverging at {k}");
				assert!(turns <= depth(steps));
				// The agreed ranges tile [0, k) exactly and the arbiter recomputes them.
				let covered: u32 = agreed.iter().map(|(_, len, _)| len).sum();
				assert_eq!(covered, k);
				let ranges: Vec<(u32, u32)> = agreed.iter().map(|(s, l, _)| (*s, *l)).collect();
				let mine = recompute_prefix(&honest[..k as usize], &ranges).unwrap();
				assert_eq!(prefix_digest(&mine), prefix_digest(&agreed));
			}
		}
	}

	#[test]
	fn a_single_differing_step_is_found_even_when_later_steps_agree() {
		let honest = digests(37, 0);
		let mut lying = honest.clone();
		lying[20][5] ^= 1;
		assert_eq!(walk(&honest, &lying).0, 20);
	}

	#[test]
	fn node_hashes_are_the_merkle_roots_of_the_trace() {
		for steps in [1u32, 2, 3, 6, 7, 9, 33] {
			let d = digests(steps, 1);
			assert_eq!(
				node_hash(&d, steps, root_node(steps)),
				Some(crate::trace::trace_root(&d)),
				"{steps}"
			);
		}
		assert_eq!(node_hash(&digests(3, 0), 5, root_node(5)), None);
	}

	#[test]
	fn a_wrong_prefix_changes_the_digest() {
		let honest = digests(8, 0);
		let ranges = [(0u32, 4u32)];
		let mine = recompute_prefix(&honest, &ranges).unwrap();
		let mut theirs = mine.clone();
		theirs[0].2[0] ^= 1;
		assert_ne!(prefix_digest(&mine), prefix_digest(&theirs));
		assert_eq!(recompute_prefix(&honest[..3], &ranges), None);
	}

	#[test]
	fn step_verdicts_bind_the_step_and_presence() {
		let p = prefix_digest(&[]);
		let d = [7u8; 32];
		assert_ne!(step_verdict_digest(1, Some(&d), &p), step_verdict_digest(2, Some(&d), &p));
		assert_ne!(step_verdict_digest(1, None, &p), step_verdict_digest(1, Some(&[0; 32]), &p));
	}
}
