//! Uniform draws without replacement from a seed (protocol §6): the inference pallet draws
//! execution nodes with [`draw_indexed`], the disputes pallet arbiters. Pure and deterministic:
//! anyone can recompute a draw from its seed. It draws from an index of any size (the model
//! registry's subscribers, up to 10,000 per model and echelon) at a cost that does not grow with
//! it: it reads only the positions it draws.

use alloc::vec::Vec;

use codec::Encode;

/// A deterministic stream of numbers: `H("atoma/draw/v1" ‖ seed ‖ counter)`.
pub struct SeededStream {
	seed: [u8; 32],
	counter: u64,
}

impl SeededStream {
	/// The stream of `seed`, from its start.
	pub fn new(seed: [u8; 32]) -> Self {
		Self { seed, counter: 0 }
	}

	fn next_u64(&mut self) -> u64 {
		let digest =
			sp_io::hashing::blake2_256(&(b"atoma/draw/v1", self.seed, self.counter).encode());
		self.counter = self.counter.wrapping_add(1);
		digest.split_first_chunk::<8>().map_or(0, |(head, _)| u64::from_le_bytes(*head))
	}

	/// A uniform number in `0..bound` (rejection sampling, no modulo bias); 0 for `bound == 0`.
	pub fn below(&mut self, bound: u64) -> u64 {
		if bound == 0 {
			return 0;
		}
		// Accept only values under the largest multiple of `bound`.
		let zone = u64::MAX.wrapping_sub(u64::MAX.checked_rem(bound).unwrap_or(0));
		loop {
			let value = self.next_u64();
			if value < zone {
				return value.checked_rem(bound).unwrap_or(0);
			}
		}
	}
}

/// Draw up to `wanted` distinct items from an index of `count` positions, reading only the
/// positions drawn: the positions come in a uniform random order from `seed`'s stream (a partial
/// Fisher-Yates shuffle of `0..count`, its swaps kept in a small map, so no position comes twice);
/// an empty position and an item `accept` refuses (a node that cannot take the job: busy,
/// excluded, out of free collateral) are skipped; after `max_tries` positions, or all `count` of
/// them, the draw stops with what it has. Returns the items in the order drawn.
///
/// What the draw returns is uniform among the items `accept` takes, and the order of positions
/// depends on the seed alone: refusing items only lets later positions in. An operator who makes
/// its own nodes refuse (unsubscribing, spending their collateral) after learning the seed can
/// take its nodes out of a draw, never put them in. An index no longer than `max_tries` is read
/// whole if need be, so a small network finds every node that can take the job.
pub fn draw_indexed<T: Copy + PartialEq>(
	count: u32,
	wanted: usize,
	max_tries: u32,
	seed: [u8; 32],
	item_at: impl Fn(u32) -> Option<T>,
	mut accept: impl FnMut(T) -> bool,
) -> Vec<T> {
	let mut stream = SeededStream::new(seed);
	let mut drawn = Vec::new();
	// Position `i` of the shuffled order holds `moved[i]` if a swap put something there.
	let mut moved = alloc::collections::BTreeMap::<u32, u32>::new();
	for i in 0..max_tries.min(count) {
		if drawn.len() >= wanted {
			break;
		}
		let remaining = count.saturating_sub(i);
		let j = i.saturating_add(stream.below(remaining.into()) as u32);
		let at_i = moved.get(&i).copied().unwrap_or(i);
		let position = moved.get(&j).copied().unwrap_or(j);
		moved.insert(j, at_i);
		let Some(item) = item_at(position) else { continue };
		if !drawn.contains(&item) && accept(item) {
			drawn.push(item);
		}
	}
	drawn
}

/// The tries a draw of `wanted` items makes at most ([`draw_indexed`]): `2 x wanted + 16`. With
/// a share `f` of the index able to take a job, one wanted node is missed with probability
/// `(1 - f)^18`: 4e-6 with half the nodes busy, 0.6% with three in four; eight are all found
/// in 32 tries but with probability 0.1% with half busy. Each try costs a few storage reads,
/// charged at this bound.
pub fn max_tries(wanted: u32) -> u32 {
	wanted.saturating_mul(2).saturating_add(16)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn an_indexed_draw_is_distinct_deterministic_and_reads_only_drawn_positions() {
		let seed = [7u8; 32];
		let reads = core::cell::Cell::new(0u32);
		let at = |p: u32| {
			reads.set(reads.get() + 1);
			Some(p)
		};
		let drawn = draw_indexed(10_000, 8, max_tries(8), seed, at, |_| true);
		assert_eq!(drawn.len(), 8);
		let mut sorted = drawn.clone();
		sorted.sort();
		sorted.dedup();
		assert_eq!(sorted.len(), 8, "distinct");
		assert!(reads.get() <= max_tries(8));
		assert_eq!(drawn, draw_indexed(10_000, 8, max_tries(8), seed, Some, |_| true));
	}

	#[test]
	fn refused_items_are_skipped_and_the_tries_are_bounded() {
		let seed = [3u8; 32];
		// Only even positions can take the job.
		let drawn = draw_indexed(100, 5, max_tries(5), seed, Some, |p: u32| p.is_multiple_of(2));
		assert_eq!(drawn.len(), 5);
		assert!(drawn.iter().all(|p| p.is_multiple_of(2)));
		// Nobody can: the draw stops after its tries, empty.
		let tries = core::cell::Cell::new(0u32);
		let none = draw_indexed(
			100,
			5,
			max_tries(5),
			seed,
			|p| {
				tries.set(tries.get() + 1);
				Some(p)
			},
			|_| false,
		);
		assert!(none.is_empty());
		assert_eq!(tries.get(), max_tries(5));
		// Fewer items than wanted: all of them, and empty positions skipped.
		let few = draw_indexed(3, 5, max_tries(5), seed, |p| (p < 2).then_some(p), |_| true);
		assert_eq!(few.len(), 2);
		assert!(draw_indexed::<u32>(0, 5, max_tries(5), seed, Some, |_| true).is_empty());
	}

	#[test]
	fn a_small_index_is_read_whole_and_no_position_comes_twice() {
		// 21 positions, 12 wanted, the first 9 refused: all 12 others are found.
		let reads = core::cell::RefCell::new(Vec::new());
		let at = |p: u32| {
			reads.borrow_mut().push(p);
			Some(p)
		};
		let drawn = draw_indexed(21, 12, max_tries(12), [9; 32], at, |p: u32| p >= 9);
		assert_eq!(drawn.len(), 12);
		let mut read = reads.borrow().clone();
		read.sort();
		let before = read.len();
		read.dedup();
		assert_eq!(read.len(), before, "no position read twice");
	}

	#[test]
	fn the_indexed_draw_is_uniform_among_accepted_items() {
		// 20 positions, the first 5 refused: each of the other 15 drawn about equally often.
		let mut hits = [0u32; 20];
		for round in 0..3_000u32 {
			let mut seed = [0u8; 32];
			seed[..4].copy_from_slice(&round.to_le_bytes());
			for p in draw_indexed(20, 1, max_tries(1), seed, Some, |p: u32| p >= 5) {
				hits[p as usize] += 1;
			}
		}
		assert!(hits[..5].iter().all(|h| *h == 0));
		// Expected 200 each; a 5-sigma band is about +-70.
		assert!(hits[5..].iter().all(|h| (130..=270).contains(h)), "{hits:?}");
	}

	#[test]
	fn refusing_own_items_never_draws_more_of_them() {
		// The adversary owns positions below 30 of 100 and, knowing the seed, may refuse any
		// subset of its own: it never ends with more of its items drawn than when it refuses none.
		for round in 0..200u32 {
			let mut seed = [1u8; 32];
			seed[..4].copy_from_slice(&round.to_le_bytes());
			let own = |p: &u32| *p < 30;
			let baseline = draw_indexed(100, 3, max_tries(3), seed, Some, |_| true)
				.iter()
				.filter(|p| own(p))
				.count();
			for refused_mask in [0b1u32, 0b11, 0b101, 0xFFFF_FFFF] {
				let drawn = draw_indexed(100, 3, max_tries(3), seed, Some, |p: u32| {
					!(own(&p) && (refused_mask >> (p % 32)) & 1 == 1)
				});
				assert!(drawn.iter().filter(|p| own(p)).count() <= baseline);
			}
		}
	}
}
