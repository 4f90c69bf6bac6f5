//! Uniform draws without replacement from a seed (protocol §6): the inference pallet draws
//! execution nodes with it, the disputes pallet arbiters. Pure and deterministic: anyone can
//! recompute a draw from its seed.

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

/// Draw `count` items uniformly without replacement (a partial Fisher-Yates shuffle). Returns
/// fewer when `candidates` has fewer.
pub fn draw<T: Copy>(mut candidates: Vec<T>, count: usize, seed: [u8; 32]) -> Vec<T> {
	let mut stream = SeededStream::new(seed);
	let take = count.min(candidates.len());
	for i in 0..take {
		let remaining = candidates.len().saturating_sub(i) as u64;
		let j = i.saturating_add(stream.below(remaining) as usize);
		candidates.swap(i, j);
	}
	candidates.truncate(take);
	candidates
}
