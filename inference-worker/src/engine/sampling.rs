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

#[cfg(test)]
mod tests {
	use super::*;

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
