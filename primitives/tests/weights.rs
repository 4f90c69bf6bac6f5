//! Weights root: streaming equals one-shot for many split patterns, length
//! binding, and chunk proofs.

use atoma_primitives::hash::{hash, TAG_WEIGHTS_NODE};
use atoma_primitives::merkle::merkle_root;
use atoma_primitives::weights::{
	chunk_count_for_len, chunk_leaf, combine_weights_root, verify_weights_chunk,
	weights_chunk_proof, weights_digest, weights_root, WeightsDigest, WeightsHasher,
	WEIGHTS_CHUNK_SIZE,
};

const MIB: usize = WEIGHTS_CHUNK_SIZE;

fn pattern(len: usize) -> Vec<u8> {
	(0..len).map(|k| ((k * 31 + 7) % 251) as u8).collect()
}

fn stream(data: &[u8], sizes: impl Iterator<Item = usize>) -> WeightsDigest {
	let mut h = WeightsHasher::new();
	let mut rest = data;
	for size in sizes {
		if rest.is_empty() {
			break;
		}
		let (a, b) = rest.split_at(size.min(rest.len()));
		h.update(a);
		// Interleave empty updates; they must be no-ops.
		h.update(&[]);
		rest = b;
	}
	h.update(rest);
	assert_eq!(h.total_len(), data.len() as u64);
	h.finalize()
}

/// A deterministic pseudo-random sequence of slice sizes in 0..=max.
fn lcg_sizes(seed: u64, max: usize) -> impl Iterator<Item = usize> {
	let mut s = seed;
	std::iter::repeat_with(move || {
		s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
		((s >> 33) as usize) % (max + 1)
	})
}

#[test]
fn streaming_equals_one_shot_for_many_splits() {
	// Hashing is slow in unoptimised test builds, so the lengths are chosen
	// to cover every boundary case with as few bytes as possible.
	for len in [0, 1, MIB, MIB + 1, 2 * MIB + 17] {
		let data = pattern(len);
		let expected = weights_digest(&data);
		assert_eq!(expected.total_len, len as u64);
		assert_eq!(expected.chunk_count, chunk_count_for_len(len as u64));

		// Byte-at-a-time is covered separately on a smaller input.
		// (A single whole-input update is checked below.)
		let fixed_sizes = [7usize, 65_537, MIB - 1, MIB + 1];
		for size in fixed_sizes {
			assert_eq!(stream(&data, std::iter::repeat(size)), expected, "len {len} size {size}");
		}
		for seed in 1..=2 {
			assert_eq!(
				stream(&data, lcg_sizes(seed, 300_000)),
				expected,
				"len {len} lcg seed {seed}"
			);
		}
		// Split exactly at / around every chunk boundary.
		let boundary_sizes = (0..).flat_map(|_| [MIB - 3, 3, 1, MIB - 1]);
		assert_eq!(stream(&data, boundary_sizes), expected, "len {len} boundaries");
		// Whole input in one update.
		assert_eq!(stream(&data, std::iter::once(len)), expected, "len {len} whole");
	}
}

#[test]
fn byte_at_a_time_over_a_chunk_boundary() {
	let data = pattern(MIB + 3);
	let mut h = WeightsHasher::new();
	for b in &data {
		h.update(std::slice::from_ref(b));
	}
	assert_eq!(h.finalize(), weights_digest(&data));
}

#[test]
fn layout_by_hand() {
	let data = pattern(MIB + 5);
	let l0 = chunk_leaf(0, &data[..MIB]);
	let l1 = chunk_leaf(1, &data[MIB..]);
	let mut pre0 = b"atoma/weights-chunk/v1".to_vec();
	pre0.extend_from_slice(&0u64.to_le_bytes());
	pre0.extend_from_slice(&data[..MIB]);
	assert_eq!(l0, hash(&pre0));
	let m = merkle_root(TAG_WEIGHTS_NODE, &[l0, l1]);
	let mut pre = b"atoma/weights-root/v1".to_vec();
	pre.extend_from_slice(&((MIB + 5) as u64).to_le_bytes());
	pre.extend_from_slice(&m);
	assert_eq!(weights_root(&data), hash(&pre));
	assert_eq!(combine_weights_root((MIB + 5) as u64, &m), hash(&pre));
}

#[test]
fn length_is_bound_into_root() {
	// Truncation to a chunk boundary changes the root even though the
	// remaining chunks are identical.
	let data = pattern(2 * MIB);
	assert_ne!(weights_root(&data), weights_root(&data[..MIB]));
	// Appending zero bytes changes the root.
	let mut padded = data.clone();
	padded.push(0);
	assert_ne!(weights_root(&data), weights_root(&padded));
	// Empty file is well defined.
	assert_eq!(weights_root(&[]), combine_weights_root(0, &hash(TAG_WEIGHTS_NODE)));
}

#[test]
fn chunk_proofs() {
	let len = 5 * MIB / 2; // 3 chunks, last one half-sized
	let data = pattern(len);
	let mut h = WeightsHasher::new();
	h.update(&data);
	let (digest, leaves) = h.finalize_with_leaves();
	assert_eq!(digest.chunk_count, 3);
	let total = len as u64;
	for (i, chunk) in (0u64..).zip(data.chunks(MIB)) {
		let proof = weights_chunk_proof(&leaves, i).expect("in range");
		assert!(verify_weights_chunk(&digest.root, total, i, chunk, &proof), "chunk {i}");
		// Tampered chunk.
		let mut bad = chunk.to_vec();
		bad[0] ^= 1;
		assert!(!verify_weights_chunk(&digest.root, total, i, &bad, &proof));
		// Wrong length (truncated / extended).
		assert!(!verify_weights_chunk(&digest.root, total, i, &chunk[1..], &proof));
		let mut longer = chunk.to_vec();
		longer.push(0);
		assert!(!verify_weights_chunk(&digest.root, total, i, &longer, &proof));
		// Wrong total length.
		assert!(!verify_weights_chunk(&digest.root, total + 1, i, chunk, &proof));
		// Wrong index.
		assert!(!verify_weights_chunk(&digest.root, total, (i + 1) % 3, chunk, &proof));
	}
	assert!(weights_chunk_proof(&leaves, 3).is_none());
	assert!(!verify_weights_chunk(&digest.root, total, 3, &[], &Default::default()));
}
