//! The one place where the protocol's integer sampling parameters become candle's sampler.
//!
//! `atoma_primitives::SamplingParams` is integer fixed point so the runtime and every node read
//! exactly the same parameters; floats appear only here, at the point of sampling. Keeping the
//! conversion in a single function means two code paths of the worker can never map the same
//! request to different samplers.

use atoma_primitives::{params::TOP_P_OFF, SamplingParams};
use candle_transformers::generation::{LogitsProcessor, Sampling};

/// Candle's [`Sampling`] for `params` (which must have passed [`SamplingParams::validate`]).
///
/// * `temperature_milli == 0` is greedy ([`Sampling::ArgMax`]); top-k, top-p and the seed are
///   ignored, as [`SamplingParams::is_greedy`] specifies.
/// * Otherwise the temperature is `temperature_milli / 1000`; `top_k == 0` and
///   `top_p_milli == 1000` switch their filter off.
pub fn to_candle_sampling(params: &SamplingParams) -> Sampling {
	if params.is_greedy() {
		return Sampling::ArgMax;
	}
	let temperature = f64::from(params.temperature_milli) / 1000.0;
	let top_p = f64::from(params.top_p_milli) / 1000.0;
	// A u32 always fits a usize on the 32- and 64-bit targets the worker builds for.
	let k = usize::try_from(params.top_k).unwrap_or(usize::MAX);
	match (params.top_k, params.top_p_milli) {
		(0, TOP_P_OFF) => Sampling::All { temperature },
		(_, TOP_P_OFF) => Sampling::TopK { k, temperature },
		(0, _) => Sampling::TopP { p: top_p, temperature },
		(_, _) => Sampling::TopKThenTopP { k, p: top_p, temperature },
	}
}

/// The seeded sampler for one request: a fresh RNG seeded with the caller's seed, so the n-th
/// random draw is the same on every node.
pub fn logits_processor(params: &SamplingParams) -> LogitsProcessor {
	LogitsProcessor::from_sampling(params.seed, to_candle_sampling(params))
}

/// The greedy choice, exactly as candle's [`Sampling::ArgMax`] makes it (its CPU `argmax`): the
/// first position of the largest logit, scanning with `<`, so a NaN never wins unless it is the
/// first logit (then position 0 does), and `-0.0` and `+0.0` tie. An empty slice gives 0.
pub fn argmax(logits: &[f32]) -> u32 {
	let Some(&first) = logits.first() else { return 0 };
	if first.is_nan() {
		return 0;
	}
	// Candle's scan keeps the first position of the running maximum, which ends as the largest
	// non-NaN logit: the same position as the first logit equal to that maximum. Two passes
	// that vectorize (sixteen lanes of `f32::max`, which skips NaNs) instead of one that cannot.
	let (chunks, rest) = logits.as_chunks::<16>();
	let mut lanes = [f32::NEG_INFINITY; 16];
	for chunk in chunks {
		for (lane, &x) in lanes.iter_mut().zip(chunk) {
			*lane = lane.max(x);
		}
	}
	let largest = lanes.iter().chain(rest).fold(first, |m, &x| m.max(x));
	let chunk = chunks.iter().position(|c| c.iter().fold(false, |hit, &x| hit | (x == largest)));
	let from = chunk.map_or(chunks.len() * 16, |c| c * 16);
	let best = logits[from..].iter().position(|&x| x == largest).map_or(0, |i| from + i);
	u32::try_from(best).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::{Device, Tensor};

	#[test]
	fn argmax_is_candles_greedy_choice() {
		let mut state = 0x9e37_79b9_7f4a_7c15u64;
		let mut next = move || {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			state
		};
		let mut cases: Vec<Vec<f32>> = vec![
			vec![1.0, 3.0, 2.0, 3.0],
			vec![f32::NAN, 5.0, 7.0],
			vec![2.0, f32::NAN, 7.0, f32::NAN],
			vec![-0.0, 0.0, -0.0],
			vec![0.0, -0.0],
			vec![f32::NEG_INFINITY, f32::NEG_INFINITY],
			vec![1.0, f32::INFINITY, f32::INFINITY],
			vec![-3.5],
		];
		// Random logits with many ties (a few distinct values) and some NaNs.
		for _ in 0..200 {
			let len = 1 + (next() % 300) as usize;
			let values = [-1.5, 0.0, -0.0, 2.25, 2.25, 7.0, f32::NAN];
			let distinct = 2 + (next() % 6) as usize;
			cases.push((0..len).map(|_| values[(next() as usize) % distinct]).collect());
		}
		for logits in cases {
			let tensor = Tensor::from_slice(&logits, logits.len(), &Device::Cpu).unwrap();
			let candle =
				LogitsProcessor::from_sampling(1, Sampling::ArgMax).sample(&tensor).unwrap();
			assert_eq!(argmax(&logits), candle, "{logits:?}");
		}
	}

	fn p(temperature_milli: u32, top_k: u32, top_p_milli: u32) -> SamplingParams {
		SamplingParams { temperature_milli, top_k, top_p_milli, max_output_tokens: 1, seed: 7 }
	}

	#[test]
	fn mapping() {
		assert_eq!(to_candle_sampling(&p(0, 40, 900)), Sampling::ArgMax);
		assert_eq!(to_candle_sampling(&p(700, 0, 1000)), Sampling::All { temperature: 0.7 });
		assert_eq!(
			to_candle_sampling(&p(1000, 40, 1000)),
			Sampling::TopK { k: 40, temperature: 1.0 }
		);
		assert_eq!(
			to_candle_sampling(&p(1500, 0, 900)),
			Sampling::TopP { p: 0.9, temperature: 1.5 }
		);
		assert_eq!(
			to_candle_sampling(&p(250, 5, 1)),
			Sampling::TopKThenTopP { k: 5, p: 0.001, temperature: 0.25 }
		);
	}
}
