//! Sampling parameter validation boundaries.

use atoma_primitives::params::{ParamsError, SamplingParams, MAX_TEMPERATURE_MILLI, TOP_P_OFF};
use codec::{Decode, Encode, MaxEncodedLen};

fn base() -> SamplingParams {
	SamplingParams {
		temperature_milli: 700,
		top_k: 40,
		top_p_milli: 950,
		max_output_tokens: 256,
		seed: 42,
	}
}

#[test]
fn valid_defaults() {
	assert_eq!(base().validate(), Ok(()));
	assert!(!base().is_greedy());
}

#[test]
fn temperature_bounds() {
	for t in [0, 1, 1000, MAX_TEMPERATURE_MILLI] {
		let p = SamplingParams { temperature_milli: t, ..base() };
		assert_eq!(p.validate(), Ok(()), "t={t}");
	}
	for t in [MAX_TEMPERATURE_MILLI + 1, u32::MAX] {
		let p = SamplingParams { temperature_milli: t, ..base() };
		assert_eq!(p.validate(), Err(ParamsError::TemperatureTooHigh(t)));
	}
}

#[test]
fn top_p_bounds() {
	for p in [1, 500, 999, TOP_P_OFF] {
		let s = SamplingParams { top_p_milli: p, ..base() };
		assert_eq!(s.validate(), Ok(()), "p={p}");
	}
	for p in [0, TOP_P_OFF + 1, u32::MAX] {
		let s = SamplingParams { top_p_milli: p, ..base() };
		assert_eq!(s.validate(), Err(ParamsError::TopPOutOfRange(p)));
	}
}

#[test]
fn max_tokens_bounds() {
	let zero = SamplingParams { max_output_tokens: 0, ..base() };
	assert_eq!(zero.validate(), Err(ParamsError::ZeroMaxOutputTokens));
	for m in [1, u32::MAX] {
		let p = SamplingParams { max_output_tokens: m, ..base() };
		assert_eq!(p.validate(), Ok(()));
	}
}

#[test]
fn top_k_and_seed_are_unconstrained() {
	for k in [0, 1, u32::MAX] {
		for seed in [0, u64::MAX] {
			let p = SamplingParams { top_k: k, seed, ..base() };
			assert_eq!(p.validate(), Ok(()));
		}
	}
}

#[test]
fn errors_reported_in_field_order() {
	let p = SamplingParams {
		temperature_milli: 5000,
		top_k: 0,
		top_p_milli: 0,
		max_output_tokens: 0,
		seed: 0,
	};
	assert_eq!(p.validate(), Err(ParamsError::TemperatureTooHigh(5000)));
	let p = SamplingParams { temperature_milli: 0, ..p };
	assert_eq!(p.validate(), Err(ParamsError::TopPOutOfRange(0)));
}

#[test]
fn greedy() {
	let p = SamplingParams { temperature_milli: 0, ..base() };
	assert!(p.is_greedy());
	let p = SamplingParams { temperature_milli: 1, ..base() };
	assert!(!p.is_greedy());
}

#[test]
fn scale_roundtrip() {
	let p = base();
	let bytes = p.encode();
	assert_eq!(bytes.len(), 4 * 4 + 8);
	assert_eq!(SamplingParams::max_encoded_len(), 24);
	assert_eq!(SamplingParams::decode(&mut &bytes[..]), Ok(p));
}
