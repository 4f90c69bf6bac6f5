//! Public node selection (protocol §6): a uniform draw without replacement from the model's draw
//! index, driven by a seed from chain randomness and the request id. Pure and deterministic: every
//! node and every client can recompute a draw from the seed. The draw itself
//! ([`atoma_support::draw::draw_indexed`]) is shared with the disputes pallet's arbiter draw.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::RequestId;
use codec::Encode;

/// The selection seed of a request: `H("atoma/selection-seed/v1" ‖ randomness ‖ request id)`.
pub fn selection_seed(randomness: &[u8], request: RequestId) -> [u8; 32] {
	sp_io::hashing::blake2_256(&(b"atoma/selection-seed/v1", randomness, request.0).encode())
}

/// The seed of a redraw of `request` at block `at`: `H("atoma/redraw-seed/v1" ‖ randomness ‖
/// selection seed ‖ at)`, with the randomness of the redraw's block (BABE's VRF output of its
/// parent). A node deciding to miss its deadline cannot know which node would replace it: with
/// a seed fixed at selection it could go late only when its replacement would be a node of its
/// own, and take a second seat in the quorum.
pub fn redraw_seed(randomness: &[u8], selection_seed: &[u8; 32], at: u64) -> [u8; 32] {
	sp_io::hashing::blake2_256(&(b"atoma/redraw-seed/v1", randomness, selection_seed, at).encode())
}

/// The sampler seed workers use for temperature > 0: the first 8 bytes of
/// `H("atoma/sampler-seed/v1" ‖ selection seed)`, little-endian.
pub fn sampler_seed(selection_seed: &[u8; 32]) -> u64 {
	let digest = sp_io::hashing::blake2_256(&(b"atoma/sampler-seed/v1", selection_seed).encode());
	let mut bytes = [0u8; 8];
	bytes.copy_from_slice(digest.split_first_chunk::<8>().map_or(&[0u8; 8], |(head, _)| head));
	u64::from_le_bytes(bytes)
}

pub use atoma_support::draw::SeededStream;

#[cfg(test)]
mod tests {
	use atoma_support::draw::{draw_indexed, max_tries};

	use super::*;

	/// `count` of `items`, drawn as the chain draws nodes from an index where all can take the
	/// job.
	fn draw<T: Copy + PartialEq>(items: Vec<T>, count: usize, seed: [u8; 32]) -> Vec<T> {
		let tries = max_tries(count as u32);
		draw_indexed(
			items.len() as u32,
			count,
			tries,
			seed,
			|p| items.get(p as usize).copied(),
			|_| true,
		)
	}

	#[test]
	fn draws_are_deterministic_distinct_and_bounded() {
		let nodes: Vec<u32> = (0..10).collect();
		let a = draw(nodes.clone(), 4, [1; 32]);
		assert_eq!(a, draw(nodes.clone(), 4, [1; 32]));
		assert_ne!(a, draw(nodes.clone(), 4, [2; 32]));
		let mut sorted = a.clone();
		sorted.sort();
		sorted.dedup();
		assert_eq!(sorted.len(), 4);
		assert_eq!(draw(nodes.clone(), 20, [1; 32]).len(), 10);
		assert!(draw(Vec::<u32>::new(), 3, [1; 32]).is_empty());
	}

	/// Every node must be drawn with probability k/n. Over 30,000 draws of 2 out of 6 each node
	/// is expected 10,000 times; a chi-squared test with 5 degrees of freedom at p = 0.001
	/// (critical value 20.52) catches a bias of even a few percent.
	#[test]
	fn selection_is_uniform() {
		let n = 6usize;
		let draws = 30_000u64;
		let mut counts = vec![0u64; n];
		for i in 0..draws {
			let seed = selection_seed(&i.to_le_bytes(), RequestId(i));
			for node in draw((0..n).collect(), 2, seed) {
				counts[node] += 1;
			}
		}
		let expected = (draws * 2) as f64 / n as f64;
		let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
		assert!(chi2 < 20.52, "chi2 = {chi2}, counts = {counts:?}");

		// Pairs too: each of the 15 unordered pairs equally likely (14 dof, critical 36.12).
		let mut pairs = std::collections::BTreeMap::<(usize, usize), u64>::new();
		for i in 0..draws {
			let seed = selection_seed(&(i + 1_000_000).to_le_bytes(), RequestId(i));
			let d = draw((0..n).collect::<Vec<_>>(), 2, seed);
			*pairs.entry((d[0].min(d[1]), d[0].max(d[1]))).or_default() += 1;
		}
		assert_eq!(pairs.len(), 15);
		let expected = draws as f64 / 15.0;
		let chi2: f64 = pairs.values().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
		assert!(chi2 < 36.12, "pairs chi2 = {chi2}");
	}

	#[test]
	fn below_never_reaches_the_bound() {
		let mut s = SeededStream::new([9; 32]);
		assert!((0..1_000).all(|_| s.below(7) < 7));
		assert_eq!(s.below(1), 0);
		assert_eq!(s.below(0), 0);
	}

	#[test]
	fn sampler_seeds_differ_per_request() {
		let a = sampler_seed(&selection_seed(b"r", RequestId(1)));
		let b = sampler_seed(&selection_seed(b"r", RequestId(2)));
		assert_ne!(a, b);
	}
}
