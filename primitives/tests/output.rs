//! Canonical output encoding: round trips and strict rejection of every kind
//! of malformed input.

use atoma_primitives::output::{
	decode_canonical, CanonicalOutput, FinishReason, OutputDecodeError, CANONICAL_OUTPUT_HEADER_LEN,
};

fn encode(tokens: &[u32], reason: FinishReason) -> Vec<u8> {
	CanonicalOutput::new(tokens, reason).encode_canonical()
}

#[test]
fn roundtrip() {
	let cases: [&[u32]; 4] = [&[], &[0], &[1, 2, 3], &[u32::MAX, 0, 12345, 50256]];
	for tokens in cases {
		for reason in [FinishReason::Stop, FinishReason::Length] {
			let o = encode(tokens, reason);
			assert_eq!(o.len(), CANONICAL_OUTPUT_HEADER_LEN + 4 * tokens.len());
			assert_eq!(decode_canonical(&o), Ok((tokens.to_vec(), reason)));
		}
	}
}

#[test]
fn finish_reason_changes_bytes() {
	assert_ne!(encode(&[1, 2], FinishReason::Stop), encode(&[1, 2], FinishReason::Length));
}

#[test]
fn rejects_wrong_tag() {
	let mut o = encode(&[1, 2, 3], FinishReason::Stop);
	o[0] = b'A';
	assert_eq!(decode_canonical(&o), Err(OutputDecodeError::WrongTag));
	// Version bump must not be accepted by a v1 decoder.
	let mut v2 = encode(&[1], FinishReason::Stop);
	v2[14] = b'2';
	assert_eq!(decode_canonical(&v2), Err(OutputDecodeError::WrongTag));
	// A short input that does not even start like the tag.
	assert_eq!(decode_canonical(b"hello"), Err(OutputDecodeError::WrongTag));
}

#[test]
fn rejects_truncated_header() {
	let o = encode(&[7], FinishReason::Stop);
	for len in 0..CANONICAL_OUTPUT_HEADER_LEN {
		assert_eq!(
			decode_canonical(&o[..len]),
			Err(OutputDecodeError::TooShort { len }),
			"prefix of {len} bytes"
		);
	}
}

#[test]
fn rejects_unknown_finish_reason() {
	for b in [2u8, 3, 0x7f, 0xff] {
		let mut o = encode(&[1, 2], FinishReason::Stop);
		o[15] = b;
		assert_eq!(decode_canonical(&o), Err(OutputDecodeError::UnknownFinishReason(b)));
	}
}

#[test]
fn rejects_truncated_body() {
	let o = encode(&[1, 2, 3], FinishReason::Length);
	for cut in 1..=12 {
		let short = &o[..o.len() - cut];
		assert_eq!(
			decode_canonical(short),
			Err(OutputDecodeError::Truncated { declared: 3, body_len: 12 - cut }),
			"cut {cut}"
		);
	}
}

#[test]
fn rejects_trailing_bytes() {
	for extra in [1usize, 3, 4, 5, 100] {
		let mut o = encode(&[1, 2, 3], FinishReason::Stop);
		o.extend(std::iter::repeat_n(0u8, extra));
		assert_eq!(
			decode_canonical(&o),
			Err(OutputDecodeError::TrailingBytes { declared: 3, body_len: 12 + extra })
		);
	}
}

#[test]
fn rejects_count_disagreeing_with_length() {
	let base = encode(&[10, 20], FinishReason::Stop);
	// Count too high.
	let mut inflated = base.clone();
	inflated[16..20].copy_from_slice(&3u32.to_le_bytes());
	assert_eq!(
		decode_canonical(&inflated),
		Err(OutputDecodeError::Truncated { declared: 3, body_len: 8 })
	);
	// Count too low.
	let mut deflated = base.clone();
	deflated[16..20].copy_from_slice(&1u32.to_le_bytes());
	assert_eq!(
		decode_canonical(&deflated),
		Err(OutputDecodeError::TrailingBytes { declared: 1, body_len: 8 })
	);
	// A huge count with a tiny body: rejected without allocating.
	let mut huge = base;
	huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
	assert_eq!(
		decode_canonical(&huge),
		Err(OutputDecodeError::Truncated { declared: u32::MAX, body_len: 8 })
	);
}

#[test]
fn decode_never_panics_on_mutations() {
	// Every single-byte change and every prefix of a valid encoding either
	// decodes to something that re-encodes to the same bytes, or is rejected.
	let o = encode(&[1, 2, 3, 0xdead_beef], FinishReason::Length);
	let check = |bytes: &[u8]| {
		if let Ok((tokens, reason)) = decode_canonical(bytes) {
			assert_eq!(encode(&tokens, reason), bytes);
		}
	};
	for i in 0..o.len() {
		for v in [0u8, 1, 2, 0x80, 0xff] {
			let mut m = o.clone();
			m[i] = v;
			check(&m);
		}
		check(&o[..i]);
	}
}

#[test]
fn error_display_is_informative() {
	let e = OutputDecodeError::Truncated { declared: 3, body_len: 5 };
	assert!(e.to_string().contains("3 tokens declared"));
}
