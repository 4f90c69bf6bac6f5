//! The protocol hash function and its domain-separation tags.
//!
//! Every hash in Atoma is `H = blake2-256` (the same function Substrate uses
//! for storage and extrinsic hashing, so the runtime gets it as a cheap host
//! function and no second hash implementation is pulled into the wasm blob).
//!
//! Every preimage begins with one of the tags below. Tags are plain ASCII byte
//! strings of the form `atoma/<kind>/v<N>`; they are *not* length-prefixed
//! because each preimage kind has a fixed structure after its tag, and no tag
//! is a prefix of another tag.
//!
//! ## Versioning
//!
//! The tag is the version of the layout. If the layout of a preimage ever has
//! to change (a field added, a width changed, a different ordering), the
//! corresponding tag must be bumped (`.../v1` → `.../v2`) at the same time.
//! Old and new hashes can then never collide, and a node running an old
//! worker produces commitments that simply fail to match instead of being
//! silently misinterpreted.

use alloc::{string::String, vec::Vec};

/// A 32-byte blake2-256 digest.
///
/// A plain array (rather than a newtype) so that it is SCALE-encodable,
/// `TypeInfo`-describable and `MaxEncodedLen` without extra impls, and so the
/// runtime can store it directly (it is the same shape as `sp_core::H256`).
pub type Hash = [u8; 32];

/// Tag of the canonical output encoding `O` (see [`crate::output`]).
pub const TAG_OUTPUT: &[u8] = b"atoma/output/v1";
/// Tag of a per-node Sampling Consensus leaf `H(tag ‖ O ‖ i)`.
pub const TAG_LEAF: &[u8] = b"atoma/leaf/v1";
/// Tag of the Sampling Consensus root `H(tag ‖ n ‖ leaf_0 ‖ … ‖ leaf_{n-1})`.
pub const TAG_ROOT: &[u8] = b"atoma/root/v1";
/// Tag of a weights chunk leaf `H(tag ‖ chunk_index ‖ chunk)`.
pub const TAG_WEIGHTS_CHUNK: &[u8] = b"atoma/weights-chunk/v1";
/// Tag of an inner node of the weights Merkle tree.
pub const TAG_WEIGHTS_NODE: &[u8] = b"atoma/weights-node/v1";
/// Tag of the final weights root `H(tag ‖ total_len ‖ merkle_root)`, which
/// binds the file length to the chunk tree.
pub const TAG_WEIGHTS_ROOT: &[u8] = b"atoma/weights-root/v1";
/// Tag of a per-step trace digest (see [`crate::trace`]).
pub const TAG_TRACE_STEP: &[u8] = b"atoma/trace-step/v1";
/// Tag of an inner node of the trace Merkle tree.
pub const TAG_TRACE_NODE: &[u8] = b"atoma/trace-node/v1";

/// Tag of a sealed Cross-Validation commitment (see [`crate::commitment::sealed_commitment`]).
pub const TAG_SEALED: &[u8] = b"atoma/sealed/v1";
/// Tag of the tokenizer hash (see [`crate::tokenizer`]).
pub const TAG_TOKENIZER: &[u8] = b"atoma/tokenizer/v1";
/// Tag of an arbiter's verdict in a dispute (see [`crate::commitment::verdict_digest`]).
pub const TAG_VERDICT: &[u8] = b"atoma/verdict/v1";
/// Tag of the digest of a bisection's agreed prefix (see [`crate::bisection::prefix_digest`]).
pub const TAG_TRACE_PREFIX: &[u8] = b"atoma/trace-prefix/v1";
/// Tag of an arbiter's one-step verdict (see [`crate::bisection::step_verdict_digest`]).
pub const TAG_STEP_VERDICT: &[u8] = b"atoma/step-verdict/v1";
/// Tag of the digest that stands for "unservable, because ..." (see
/// [`crate::unservable::unservable_digest`]).
pub const TAG_UNSERVABLE: &[u8] = b"atoma/unservable/v1";
/// Tag of a worker's execution profile (see [`crate::profile::ExecutionProfile::hash`]).
pub const TAG_EXECUTION_PROFILE: &[u8] = b"atoma/execution-profile/v1";
/// Domain tag of a worker-key signature that reads a by-hash input from a peer's worker
/// ([`crate::input_read::signing_bytes`]; signed, not hashed).
pub const TAG_INPUT_READ: &[u8] = b"atoma/input-read/v1";
/// Tag that opens the message a request's owner signs to read its output from a worker
/// ([`crate::output_read::message`]; signed, not hashed).
pub const TAG_OUTPUT_READ: &[u8] = b"atoma/output-read/v1";

/// Every tag defined by this crate, so tests (and auditors) can check in one
/// place that they are pairwise distinct and none is a prefix of another.
pub const ALL_TAGS: &[&[u8]] = &[
	TAG_OUTPUT,
	TAG_LEAF,
	TAG_ROOT,
	TAG_WEIGHTS_CHUNK,
	TAG_WEIGHTS_NODE,
	TAG_WEIGHTS_ROOT,
	TAG_TRACE_STEP,
	TAG_TRACE_NODE,
	TAG_TOKENIZER,
	TAG_SEALED,
	TAG_VERDICT,
	TAG_TRACE_PREFIX,
	TAG_STEP_VERDICT,
	TAG_UNSERVABLE,
	TAG_EXECUTION_PROFILE,
	TAG_INPUT_READ,
	TAG_OUTPUT_READ,
];

/// `H(data)` — blake2-256 of a byte string.
///
/// A thin wrapper so that the choice of hash function is made in exactly one
/// place.
pub fn hash(data: &[u8]) -> Hash {
	sp_crypto_hashing::blake2_256(data)
}

/// `H(tag ‖ parts[0] ‖ parts[1] ‖ …)` — hash of a tagged, concatenated
/// preimage.
///
/// `sp-crypto-hashing` only offers one-shot hashing, so the preimage is
/// assembled into one buffer first. Callers hashing the same large prefix many
/// times (e.g. the per-node leaves) build their own buffer instead to avoid
/// repeated copies.
pub fn hash_tagged(tag: &[u8], parts: &[&[u8]]) -> Hash {
	let total = parts.iter().fold(tag.len(), |acc, p| acc.saturating_add(p.len()));
	let mut buf: Vec<u8> = Vec::new();
	// Only a capacity hint: if it cannot be reserved up-front the pushes
	// below still grow the buffer normally.
	let _ = buf.try_reserve_exact(total);
	buf.extend_from_slice(tag);
	for part in parts {
		buf.extend_from_slice(part);
	}
	hash(&buf)
}

/// `bytes` as lowercase hex digits.
pub fn to_hex(bytes: &[u8]) -> String {
	const DIGITS: &[u8; 16] = b"0123456789abcdef";
	let mut out = String::with_capacity(bytes.len().saturating_mul(2));
	for byte in bytes {
		for nibble in [byte >> 4, byte & 0x0f] {
			out.push(DIGITS.get(usize::from(nibble)).copied().map_or('0', char::from));
		}
	}
	out
}

/// Exactly `N` bytes from `2N` hex digits (either case, an optional `0x`).
pub fn from_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
	let digits = hex.strip_prefix("0x").unwrap_or(hex).as_bytes();
	if digits.len() != N.checked_mul(2)? {
		return None;
	}
	let nibble = |c: u8| -> Option<u8> {
		match c {
			b'0'..=b'9' => c.checked_sub(b'0'),
			b'a'..=b'f' => c.checked_sub(b'a').and_then(|v| v.checked_add(10)),
			b'A'..=b'F' => c.checked_sub(b'A').and_then(|v| v.checked_add(10)),
			_ => None,
		}
	};
	let mut out = [0u8; N];
	for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
		let (high, low) = (pair.first().copied()?, pair.get(1).copied()?);
		*byte = (nibble(high)? << 4) | nibble(low)?;
	}
	Some(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tags_are_distinct_and_prefix_free() {
		for (i, a) in ALL_TAGS.iter().enumerate() {
			for (j, b) in ALL_TAGS.iter().enumerate() {
				if i != j {
					assert!(!a.starts_with(b), "{:?} starts with {:?}", a, b);
				}
			}
		}
	}

	#[test]
	fn hash_tagged_is_concatenation() {
		assert_eq!(hash_tagged(b"ab", &[b"c", b"", b"de"]), hash(b"abcde"));
		assert_eq!(hash_tagged(b"", &[]), hash(b""));
	}

	#[test]
	fn blake2_256_known_answer() {
		// blake2b-256("") from RFC 7693 reference implementations.
		assert_eq!(
			hash(b""),
			[
				0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2, 0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99,
				0xda, 0xa1, 0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87, 0xfa, 0xab, 0x45, 0xcd,
				0xf1, 0x2f, 0xe3, 0xa8
			]
		);
	}

	#[test]
	fn hex_round_trips_and_refuses_wrong_lengths() {
		let bytes = [0x00, 0x9f, 0xa0, 0xff];
		assert_eq!(to_hex(&bytes), "009fa0ff");
		assert_eq!(from_hex::<4>("009fa0ff"), Some(bytes));
		assert_eq!(from_hex::<4>("0x009FA0FF"), Some(bytes));
		assert_eq!(from_hex::<4>("009fa0f"), None);
		assert_eq!(from_hex::<4>("009fa0fg"), None);
		assert_eq!(from_hex::<3>("009fa0ff"), None);
	}
}
