//! Trace commitments for disputes.
//!
//! Besides the output, a worker records a compact *trace* of its decoding:
//! for every generated step, the chosen token and the model's top logits. The
//! per-step digests are Merkle-ised into a trace root. When two nodes
//! disagree on an output, the trace lets them locate the *first* diverging
//! step by binary search over the tree and prove what they computed there
//! ([`verify_trace_step`]), which is what a dispute/re-execution game needs.
//!
//! ## Layout
//!
//! ```text
//! step_digest = H(b"atoma/trace-step/v1"
//!                 ‖ step as u32 LE ‖ token_id as u32 LE ‖ count as u32 LE
//!                 ‖ (token as u32 LE ‖ quantized_logit as i32 LE) × count)
//! trace_root  = crate::merkle::merkle_root(b"atoma/trace-node/v1", [step_digest_0, …])
//! ```
//!
//! Step digest `i` is leaf `i` of the trace tree, so the number of leaves is
//! the committed output's token count.
//!
//! ## Why quantized logits
//!
//! Floats must never reach a preimage: the same model on different hardware
//! or kernels produces logits that differ in the last bits, and float
//! formatting/serialisation is a classic source of cross-language
//! mismatches. Logits are therefore quantized to fixed point with
//! [`quantize_logit`] (`round(logit * 1024)`), which also absorbs tiny
//! numerical noise below 1/2048. Rounding is done with integer operations and
//! `as` casts only, so the result is bit-for-bit identical in `no_std`/wasm,
//! on any CPU, and in the Python reference implementation.

use alloc::vec::Vec;

use crate::hash::{hash, Hash, TAG_TRACE_NODE, TAG_TRACE_STEP};
use crate::merkle::{merkle_proof, verify_merkle_proof, MerkleProof};

/// Fixed-point scale of quantized logits: a quantized value `q` means
/// `q / 1024`.
pub const LOGIT_SCALE: f32 = 1024.0;

/// `round(logit * 1024)` as `i32`: ties round away from zero, values beyond
/// the `i32` range (including ±∞) saturate to `i32::MIN`/`i32::MAX`, and NaN
/// maps to 0.
///
/// Implemented without `f32::round` (which needs `std`):
///
/// 1. `logit * 1024.0` is exact in IEEE-754 (multiplying by a power of two
///    only changes the exponent), except for overflow to ±∞, which then
///    saturates anyway.
/// 2. `x as i64` truncates toward zero and saturates (Rust defines float →
///    int `as` casts that way, NaN → 0).
/// 3. `x - trunc(x)` is exact: for `|x| < 2^23` both operands are exactly
///    representable and within a factor of two of each other (Sterbenz), and
///    for `|x| >= 2^23` every `f32` is already an integer, so the fraction is
///    0 (or, past `i64` range, large enough that the result saturates).
/// 4. Adjust by ±1 if the fraction is at least one half, then clamp to `i32`.
///
/// Note that ties round away from zero (like Rust's `f32::round` and C's
/// `roundf`), *not* half-to-even like Python's built-in `round`.
pub fn quantize_logit(logit: f32) -> i32 {
	if logit.is_nan() {
		return 0;
	}
	let x = logit * LOGIT_SCALE;
	let truncated = x as i64;
	let fraction = x - truncated as f32;
	let rounded = if fraction >= 0.5 {
		truncated.saturating_add(1)
	} else if fraction <= -0.5 {
		truncated.saturating_sub(1)
	} else {
		truncated
	};
	i32::try_from(rounded).unwrap_or(if rounded < 0 { i32::MIN } else { i32::MAX })
}

/// Quantize a list of `(token, logit)` pairs with [`quantize_logit`], ready
/// for [`step_digest`].
pub fn quantize_top_logits(top_logits: &[(u32, f32)]) -> Vec<(u32, i32)> {
	top_logits.iter().map(|&(token, logit)| (token, quantize_logit(logit))).collect()
}

/// Digest of one decoding step (layout in the [module docs](self)).
///
/// `top_logits` are `(token id, quantized logit)` pairs in the order the
/// worker reports them (by convention descending logit, ties by ascending
/// token id); the order is committed, so workers must agree on it. The count
/// is a `u32`; more than `u32::MAX` pairs cannot occur in practice, and only
/// the first `u32::MAX` would be hashed rather than panicking.
pub fn step_digest(step: u32, token_id: u32, top_logits: &[(u32, i32)]) -> Hash {
	let count = u32::try_from(top_logits.len()).unwrap_or(u32::MAX);
	let pairs =
		top_logits.get(..usize::try_from(count).unwrap_or(usize::MAX)).unwrap_or(top_logits);
	let mut buf = Vec::new();
	let _ = buf.try_reserve_exact(
		TAG_TRACE_STEP.len().saturating_add(12).saturating_add(pairs.len().saturating_mul(8)),
	);
	buf.extend_from_slice(TAG_TRACE_STEP);
	buf.extend_from_slice(&step.to_le_bytes());
	buf.extend_from_slice(&token_id.to_le_bytes());
	buf.extend_from_slice(&count.to_le_bytes());
	for (token, logit) in pairs {
		buf.extend_from_slice(&token.to_le_bytes());
		buf.extend_from_slice(&logit.to_le_bytes());
	}
	hash(&buf)
}

/// Merkle root over the step digests, in step order, with inner nodes tagged
/// `atoma/trace-node/v1`. An empty trace has root `H(b"atoma/trace-node/v1")`.
pub fn trace_root(step_digests: &[Hash]) -> Hash {
	crate::merkle::merkle_root(TAG_TRACE_NODE, step_digests)
}

/// Inclusion proof for step `step` (leaf index = step number).
pub fn trace_step_proof(step_digests: &[Hash], step: u32) -> Option<MerkleProof> {
	merkle_proof(TAG_TRACE_NODE, step_digests, u64::from(step))
}

/// Whether the step `(step, token_id, top_logits)` is leaf `step` of the
/// trace with root `root` and `step_count` steps.
///
/// The leaf is recomputed from the revealed step data, so only real step
/// digests (never inner nodes) can be proven.
pub fn verify_trace_step(
	root: &Hash,
	step_count: u32,
	step: u32,
	token_id: u32,
	top_logits: &[(u32, i32)],
	proof: &MerkleProof,
) -> bool {
	let leaf = step_digest(step, token_id, top_logits);
	verify_merkle_proof(TAG_TRACE_NODE, root, &leaf, u64::from(step), u64::from(step_count), proof)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn quantize_basics() {
		assert_eq!(quantize_logit(0.0), 0);
		assert_eq!(quantize_logit(-0.0), 0);
		assert_eq!(quantize_logit(1.0), 1024);
		assert_eq!(quantize_logit(-1.0), -1024);
		// Ties away from zero.
		assert_eq!(quantize_logit(0.5 / 1024.0), 1);
		assert_eq!(quantize_logit(-0.5 / 1024.0), -1);
		assert_eq!(quantize_logit(2.5 / 1024.0), 3);
		assert_eq!(quantize_logit(-2.5 / 1024.0), -3);
		// Just below a tie.
		assert_eq!(quantize_logit(0.499_999_97 / 1024.0), 0);
		assert_eq!(quantize_logit(f32::NAN), 0);
		assert_eq!(quantize_logit(f32::INFINITY), i32::MAX);
		assert_eq!(quantize_logit(f32::NEG_INFINITY), i32::MIN);
		assert_eq!(quantize_logit(f32::MAX), i32::MAX);
		assert_eq!(quantize_logit(f32::MIN), i32::MIN);
		assert_eq!(quantize_logit(f32::MIN_POSITIVE), 0);
	}

	#[test]
	fn quantize_matches_std_round() {
		// Compare against std's f32::round (ties away from zero; available
		// in tests): a grid of exact ties and quarter points, values around
		// the 2^23 boundary where every f32 becomes an integer, and random
		// bit patterns covering every exponent.
		let check = |x: f32| {
			let expected = if x.is_nan() { 0 } else { (x * 1024.0).round() as i32 };
			assert_eq!(quantize_logit(x), expected, "x = {x:e} ({:#010x})", x.to_bits());
		};
		for k in -40_000i32..40_000 {
			check(k as f32 / 4096.0);
		}
		for bits in 0x4AFF_FF00u32..0x4B00_0100 {
			let x = f32::from_bits(bits) / 1024.0;
			check(x);
			check(-x);
		}
		let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
		for _ in 0..200_000 {
			state = state
				.wrapping_mul(6_364_136_223_846_793_005)
				.wrapping_add(1_442_695_040_888_963_407);
			check(f32::from_bits((state >> 32) as u32));
		}
	}
}
