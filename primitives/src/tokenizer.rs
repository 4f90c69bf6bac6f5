//! The tokenizer hash a model is registered with (protocol §4).
//!
//! Nodes must tokenize a prompt exactly alike, or their outputs differ before the first forward
//! pass. The hash binds everything the worker builds its tokenizer from: the tokenizer kind, the
//! pre-tokenizer name, the vocabulary in id order, the merges in rank order, the token types and
//! the special ids. Layout, all integers little-endian:
//!
//! ```text
//! H("atoma/tokenizer/v1" ‖ lp(kind) ‖ lp(pre) ‖ u32 n ‖ lp(token_0) … ‖ u32 m ‖ lp(merge_0) …
//!   ‖ u32 t ‖ i32 type_0 … ‖ opt(eos) ‖ opt(bos))
//! lp(b) = u32 len(b) ‖ b;  opt(x) = 0x01 ‖ u32 x  or  0x00
//! ```

use alloc::vec::Vec;

use crate::hash::{hash, Hash, TAG_TOKENIZER};

/// What a tokenizer is built from, as read from the model file's metadata.
#[derive(Clone, Copy, Debug)]
pub struct TokenizerSpec<'a, T: AsRef<[u8]>, M: AsRef<[u8]>> {
	/// The tokenizer kind (`tokenizer.ggml.model`, e.g. `gpt2` for byte-level BPE).
	pub kind: &'a [u8],
	/// The pre-tokenizer name (`tokenizer.ggml.pre`); empty when absent.
	pub pre: &'a [u8],
	/// The vocabulary, in id order.
	pub tokens: &'a [T],
	/// The BPE merges, in rank order.
	pub merges: &'a [M],
	/// The token types, in id order (may be empty).
	pub token_types: &'a [i32],
	/// The end-of-sequence id, if the model names one.
	pub eos: Option<u32>,
	/// The beginning-of-sequence id, if the model names one.
	pub bos: Option<u32>,
}

/// The tokenizer hash of `spec`. `None` only if a length does not fit in a `u32`.
pub fn tokenizer_hash<T: AsRef<[u8]>, M: AsRef<[u8]>>(
	spec: &TokenizerSpec<'_, T, M>,
) -> Option<Hash> {
	let mut buf = Vec::new();
	buf.extend_from_slice(TAG_TOKENIZER);
	push_len_prefixed(&mut buf, spec.kind)?;
	push_len_prefixed(&mut buf, spec.pre)?;
	push_len(&mut buf, spec.tokens.len())?;
	for token in spec.tokens {
		push_len_prefixed(&mut buf, token.as_ref())?;
	}
	push_len(&mut buf, spec.merges.len())?;
	for merge in spec.merges {
		push_len_prefixed(&mut buf, merge.as_ref())?;
	}
	push_len(&mut buf, spec.token_types.len())?;
	for token_type in spec.token_types {
		buf.extend_from_slice(&token_type.to_le_bytes());
	}
	for special in [spec.eos, spec.bos] {
		match special {
			Some(id) => {
				buf.push(1);
				buf.extend_from_slice(&id.to_le_bytes());
			},
			None => buf.push(0),
		}
	}
	Some(hash(&buf))
}

fn push_len(buf: &mut Vec<u8>, len: usize) -> Option<()> {
	buf.extend_from_slice(&u32::try_from(len).ok()?.to_le_bytes());
	Some(())
}

fn push_len_prefixed(buf: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
	push_len(buf, bytes.len())?;
	buf.extend_from_slice(bytes);
	Some(())
}
