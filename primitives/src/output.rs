//! Canonical output encoding — the bytes `O` every node must agree on.
//!
//! Sampling Consensus compares nodes by hashing their outputs, so "the
//! output" must be a single, unambiguous byte string. We deliberately commit
//! to *token ids* rather than detokenized text: detokenization depends on
//! tokenizer versions, Unicode normalisation and whitespace handling, while
//! token ids are exactly what the model produced.
//!
//! ## Layout (version `atoma/output/v1`)
//!
//! ```text
//! O = b"atoma/output/v1"          15 bytes, the domain tag
//!   ‖ finish_reason               1 byte  (0 = Stop, 1 = Length)
//!   ‖ token_count                 u32 little-endian
//!   ‖ token_id[0] … token_id[k-1] u32 little-endian each
//! ```
//!
//! The layout is intentionally language-independent — fixed-width
//! little-endian integers, no SCALE compact prefixes, no padding — so that a
//! Python or JavaScript verifier can rebuild `O` with a few lines of
//! `struct.pack("<I", …)` (see `tests/vectors/generate.py`). It is *not* the
//! SCALE encoding of anything; SCALE is only used for on-chain storage of the
//! resulting hashes.
//!
//! [`decode_canonical`] is strict: it accepts exactly the bytes that
//! [`CanonicalOutput::encode_canonical`] produces and nothing else, so there is
//! exactly one valid encoding of each output (no malleability).

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt;
use scale_info::TypeInfo;

use crate::hash::{hash, Hash, TAG_OUTPUT};

/// Length of the fixed header: tag ‖ finish_reason ‖ token_count.
///
/// Exposed so callers can size buffers and so the layout arithmetic is
/// written down once.
pub const CANONICAL_OUTPUT_HEADER_LEN: usize = TAG_OUTPUT.len() + 1 + 4;

/// Why generation stopped.
///
/// Part of the committed output because two runs producing the same tokens
/// for different reasons (one hit EOS, one was cut off) are observably
/// different results to the user and must not be treated as agreeing.
/// The explicit discriminants are the on-wire byte in the canonical encoding
/// and also the SCALE variant index.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum FinishReason {
	/// The model emitted a stop / end-of-sequence token.
	Stop = 0,
	/// Generation hit the request's `max_output_tokens` limit.
	Length = 1,
}

impl FinishReason {
	/// The byte used for this reason in the canonical encoding.
	pub const fn as_u8(self) -> u8 {
		match self {
			FinishReason::Stop => 0,
			FinishReason::Length => 1,
		}
	}

	/// Inverse of [`FinishReason::as_u8`]; `None` for unknown bytes so that a
	/// decoder can reject them instead of guessing.
	pub const fn from_u8(byte: u8) -> Option<Self> {
		match byte {
			0 => Some(FinishReason::Stop),
			1 => Some(FinishReason::Length),
			_ => None,
		}
	}
}

/// A borrowed view of an inference result, ready to be canonically encoded.
///
/// Borrowed so the worker can encode straight from its token buffer without
/// copying; use [`decode_canonical`] to get owned data back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CanonicalOutput<'a> {
	/// Generated token ids, in order, excluding the prompt.
	pub token_ids: &'a [u32],
	/// Why generation stopped.
	pub finish_reason: FinishReason,
}

impl<'a> CanonicalOutput<'a> {
	/// Convenience constructor.
	pub const fn new(token_ids: &'a [u32], finish_reason: FinishReason) -> Self {
		Self { token_ids, finish_reason }
	}

	/// Number of tokens that are encoded: `token_ids.len()` capped at
	/// `u32::MAX` (see [`CanonicalOutput::encode_canonical`]).
	fn encoded_token_count(&self) -> u32 {
		u32::try_from(self.token_ids.len()).unwrap_or(u32::MAX)
	}

	/// Encode to the canonical bytes `O` (layout in the [module docs](self)).
	///
	/// The token count is a `u32` because `max_output_tokens` is a `u32`, so
	/// every output the protocol can produce fits. A slice longer than
	/// `u32::MAX` tokens (16 GiB of ids) cannot occur in practice; rather than
	/// panic, only the first `u32::MAX` tokens would be encoded, keeping the
	/// count and the body consistent.
	pub fn encode_canonical(&self) -> Vec<u8> {
		let count = self.encoded_token_count();
		let tokens = self
			.token_ids
			.get(..usize::try_from(count).unwrap_or(usize::MAX))
			.unwrap_or(self.token_ids);
		let body_len = tokens.len().saturating_mul(4);
		let mut out = Vec::new();
		let _ = out.try_reserve_exact(CANONICAL_OUTPUT_HEADER_LEN.saturating_add(body_len));
		out.extend_from_slice(TAG_OUTPUT);
		out.push(self.finish_reason.as_u8());
		out.extend_from_slice(&count.to_le_bytes());
		for id in tokens {
			out.extend_from_slice(&id.to_le_bytes());
		}
		out
	}

	/// `H(O)`: a convenience digest of the canonical bytes, e.g. for logging
	/// or caching. Consensus itself uses [`crate::commitment`], not this.
	pub fn output_hash(&self) -> Hash {
		hash(&self.encode_canonical())
	}
}

/// Why a byte string is not a valid canonical output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutputDecodeError {
	/// Input is shorter than the fixed header (tag, finish reason, count).
	TooShort {
		/// Bytes actually available.
		len: usize,
	},
	/// The first bytes are not `b"atoma/output/v1"`.
	WrongTag,
	/// The finish-reason byte is not a known [`FinishReason`].
	UnknownFinishReason(u8),
	/// Fewer body bytes than `4 * declared` (truncated input, or an inflated
	/// count).
	Truncated {
		/// Token count stated in the header.
		declared: u32,
		/// Bytes present after the header.
		body_len: usize,
	},
	/// More body bytes than `4 * declared` (trailing garbage, or a deflated
	/// count).
	TrailingBytes {
		/// Token count stated in the header.
		declared: u32,
		/// Bytes present after the header.
		body_len: usize,
	},
}

impl fmt::Display for OutputDecodeError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
            Self::TooShort { len } => write!(f, "canonical output too short ({len} bytes)"),
            Self::WrongTag => write!(f, "canonical output has the wrong domain tag"),
            Self::UnknownFinishReason(b) => write!(f, "unknown finish reason byte {b}"),
            Self::Truncated { declared, body_len } => write!(
                f,
                "canonical output truncated: {declared} tokens declared, {body_len} body bytes"
            ),
            Self::TrailingBytes { declared, body_len } => write!(
                f,
                "canonical output has trailing bytes: {declared} tokens declared, {body_len} body bytes"
            ),
        }
	}
}

impl core::error::Error for OutputDecodeError {}

/// Decode canonical bytes `O` back into token ids and a finish reason.
///
/// Strict by design (one output ⇔ one encoding): rejects a wrong tag, input
/// shorter than the header, an unknown finish reason, and any body whose
/// length is not exactly `4 * token_count`. The token vector is only
/// allocated after the length check, so a forged huge count cannot trigger a
/// huge allocation. Never panics.
pub fn decode_canonical(bytes: &[u8]) -> Result<(Vec<u32>, FinishReason), OutputDecodeError> {
	match bytes.get(..TAG_OUTPUT.len()) {
		Some(tag) if tag == TAG_OUTPUT => {},
		Some(_) => return Err(OutputDecodeError::WrongTag),
		None if TAG_OUTPUT.starts_with(bytes) => {
			return Err(OutputDecodeError::TooShort { len: bytes.len() })
		},
		None => return Err(OutputDecodeError::WrongTag),
	}
	let too_short = OutputDecodeError::TooShort { len: bytes.len() };
	let rest = bytes.get(TAG_OUTPUT.len()..).ok_or(too_short)?;
	let (&reason_byte, rest) = rest.split_first().ok_or(too_short)?;
	let finish_reason = FinishReason::from_u8(reason_byte)
		.ok_or(OutputDecodeError::UnknownFinishReason(reason_byte))?;
	let count_bytes: [u8; 4] = rest.get(..4).and_then(|s| s.try_into().ok()).ok_or(too_short)?;
	let declared = u32::from_le_bytes(count_bytes);
	let body = rest.get(4..).ok_or(too_short)?;

	// Compare in u64 so that `4 * declared` can never overflow, even on
	// 32-bit wasm where usize is 32 bits.
	let expected = u64::from(declared).saturating_mul(4);
	let actual = u64::try_from(body.len()).unwrap_or(u64::MAX);
	if actual < expected {
		return Err(OutputDecodeError::Truncated { declared, body_len: body.len() });
	}
	if actual > expected {
		return Err(OutputDecodeError::TrailingBytes { declared, body_len: body.len() });
	}

	let tokens = body
		.chunks_exact(4)
		.map(|c| {
			let mut word = [0u8; 4];
			word.copy_from_slice(c);
			u32::from_le_bytes(word)
		})
		.collect();
	Ok((tokens, finish_reason))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn header_len_is_20() {
		assert_eq!(CANONICAL_OUTPUT_HEADER_LEN, 20);
	}

	#[test]
	fn finish_reason_roundtrip_and_scale_index() {
		for r in [FinishReason::Stop, FinishReason::Length] {
			assert_eq!(FinishReason::from_u8(r.as_u8()), Some(r));
			// SCALE index equals the canonical byte.
			assert_eq!(r.encode(), alloc::vec![r.as_u8()]);
		}
		assert_eq!(FinishReason::from_u8(2), None);
		assert_eq!(FinishReason::from_u8(255), None);
	}

	#[test]
	fn encode_layout() {
		let o = CanonicalOutput::new(&[1, 0x0102_0304], FinishReason::Length).encode_canonical();
		let mut expected = b"atoma/output/v1".to_vec();
		expected.extend_from_slice(&[1, 2, 0, 0, 0, 1, 0, 0, 0, 4, 3, 2, 1]);
		assert_eq!(o, expected);
	}
}
