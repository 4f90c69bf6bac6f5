//! Request sampling parameters shared by the runtime and the worker.
//!
//! All parameters are integers in fixed point on purpose: the runtime must
//! not use floats (float behaviour is a consensus hazard and wasm runtimes
//! forbid or discourage them), and every node in a quorum must read exactly
//! the same parameters. The worker converts to floats only at the point of
//! sampling (`temperature = temperature_milli as f32 / 1000.0`).
//!
//! The runtime calls [`SamplingParams::validate`] when a request is
//! submitted, so workers can assume the bounds below hold.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt;
use scale_info::TypeInfo;

/// Largest accepted `temperature_milli` (temperature 2.0). Higher
/// temperatures make outputs close to uniform noise, which makes
/// Sampling Consensus comparisons meaningless for no user benefit.
pub const MAX_TEMPERATURE_MILLI: u32 = 2000;

/// `top_p_milli` value meaning "nucleus sampling off" (p = 1.0).
pub const TOP_P_OFF: u32 = 1000;

/// Sampling parameters of one inference request.
///
/// Given the same model, prompt and these parameters (including `seed`),
/// every honest node must produce the same canonical output.
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
pub struct SamplingParams {
	/// Temperature × 1000. `0` means greedy decoding (argmax), `1000` means
	/// temperature 1.0. At most [`MAX_TEMPERATURE_MILLI`].
	pub temperature_milli: u32,
	/// Keep only the `top_k` most likely tokens; `0` disables the filter.
	pub top_k: u32,
	/// Nucleus threshold × 1000, in `1..=1000`; [`TOP_P_OFF`] (1000)
	/// disables the filter. `0` is rejected because an empty nucleus is
	/// meaningless.
	pub top_p_milli: u32,
	/// Upper bound on generated tokens (at least 1). Also bounds the token
	/// count of the canonical output, which is why that count fits a `u32`.
	pub max_output_tokens: u32,
	/// Seed of the worker's deterministic sampler, chosen per request so all
	/// nodes of a quorum draw the same random numbers.
	pub seed: u64,
}

/// Why a [`SamplingParams`] is rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParamsError {
	/// `temperature_milli > MAX_TEMPERATURE_MILLI`.
	TemperatureTooHigh(u32),
	/// `top_p_milli` is not in `1..=1000`.
	TopPOutOfRange(u32),
	/// `max_output_tokens == 0`: a request must be allowed to produce at
	/// least one token.
	ZeroMaxOutputTokens,
}

impl fmt::Display for ParamsError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Self::TemperatureTooHigh(t) => {
				write!(f, "temperature_milli {t} exceeds the maximum {MAX_TEMPERATURE_MILLI}")
			},
			Self::TopPOutOfRange(p) => write!(f, "top_p_milli {p} is not in 1..=1000"),
			Self::ZeroMaxOutputTokens => write!(f, "max_output_tokens must be at least 1"),
		}
	}
}

impl core::error::Error for ParamsError {}

impl SamplingParams {
	/// Check the bounds documented on each field. Errors are reported in
	/// field order (temperature, top-p, max tokens).
	pub fn validate(&self) -> Result<(), ParamsError> {
		if self.temperature_milli > MAX_TEMPERATURE_MILLI {
			return Err(ParamsError::TemperatureTooHigh(self.temperature_milli));
		}
		if !(1..=TOP_P_OFF).contains(&self.top_p_milli) {
			return Err(ParamsError::TopPOutOfRange(self.top_p_milli));
		}
		if self.max_output_tokens == 0 {
			return Err(ParamsError::ZeroMaxOutputTokens);
		}
		Ok(())
	}

	/// Whether decoding is greedy (`temperature_milli == 0`): the worker
	/// takes the argmax and ignores `top_k`, `top_p_milli` and `seed`.
	///
	/// Deliberately defined only by the temperature (not e.g. `top_k == 1`)
	/// so that runtime and worker cannot disagree about the mode.
	pub const fn is_greedy(&self) -> bool {
		self.temperature_milli == 0
	}
}
