//! The generation loop: one request, start to finish, on the calling (engine) thread.
//!
//! Determinism rests on three choices made here:
//!
//! * the KV cache is cleared before every request, so nothing from an earlier request can leak
//!   into this one;
//! * the prompt is always fed as one batch at position 0, then one token at a time, so the same
//!   request always runs the same kernels on the same shapes;
//! * sampling uses a fresh [`LogitsProcessor`](candle_transformers::generation::LogitsProcessor)
//!   seeded with the caller's seed (see [`super::sampling`]).

use std::{
	ops::ControlFlow,
	time::{Duration, Instant},
};

use atoma_primitives::FinishReason;
use candle_core::{DType, Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use tokenizers::Tokenizer;

use super::sampling;
use crate::{commitments::TraceStep, validation::ValidatedRequest};

/// Why a generation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
	/// The forward pass or sampling failed.
	#[error("inference failed: {0}")]
	Candle(#[from] candle_core::Error),
	/// The generated ids could not be decoded.
	#[error("detokenization failed: {0}")]
	Decode(String),
	/// The consumer asked to stop (client gone, or the worker is shutting down).
	#[error("{0}")]
	Cancelled(&'static str),
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct GenerationOutput {
	/// Generated token ids, including a terminating stop token.
	pub token_ids: Vec<u32>,
	/// Decoded text of the generated tokens, without the terminating stop token and without
	/// special tokens.
	pub text: String,
	/// Why generation stopped.
	pub finish_reason: FinishReason,
	/// Number of prompt tokens.
	pub prompt_tokens: u32,
	/// One trace step per generated token.
	pub trace: Vec<TraceStep>,
	/// Time spent on the prompt forward pass.
	pub prefill: Duration,
	/// Time from the start of the run to the first sampled token.
	pub time_to_first_token: Duration,
	/// Total run time.
	pub total: Duration,
}

/// A token as it is produced, for streaming.
pub struct TokenEvent<'a> {
	/// The token id.
	pub token_id: u32,
	/// Text that became final with this token (may be empty: a multi-byte character split across
	/// tokens, a special token, or a stop token).
	pub text_delta: &'a str,
}

/// Run `request` on `model`. `on_token` sees every token; returning `Break` cancels the run with
/// the given reason.
pub fn generate(
	model: &mut ModelWeights,
	device: &Device,
	tokenizer: &Tokenizer,
	request: &ValidatedRequest,
	mut on_token: impl FnMut(TokenEvent<'_>) -> ControlFlow<&'static str>,
) -> Result<GenerationOutput, GenerateError> {
	let started = Instant::now();
	let params = &request.params;
	let max_tokens = usize::try_from(params.max_output_tokens).unwrap_or(usize::MAX);
	let mut processor = sampling::logits_processor(params);

	model.clear_kv_cache();
	let input = Tensor::new(request.prompt_tokens.as_slice(), device)?.unsqueeze(0)?;
	let mut logits = model.forward(&input, 0)?;
	let prefill = started.elapsed();

	let mut token_ids: Vec<u32> = Vec::with_capacity(max_tokens.min(4096));
	let mut trace = Vec::with_capacity(token_ids.capacity());
	let mut text = String::new();
	let mut time_to_first_token = None;
	let finish_reason = loop {
		let step_logits = logits.squeeze(0)?.to_dtype(DType::F32)?;
		let raw: Vec<f32> = step_logits.to_vec1()?;
		let token_id = processor.sample(&step_logits)?;
		time_to_first_token.get_or_insert_with(|| started.elapsed());
		let step = u32::try_from(token_ids.len()).unwrap_or(u32::MAX);
		trace.push(TraceStep::record(step, token_id, &raw));
		token_ids.push(token_id);

		let stopped = request.stop_token_ids.contains(&token_id);
		let delta = if stopped {
			String::new()
		} else {
			let full = tokenizer
				.decode(&token_ids, true)
				.map_err(|e| GenerateError::Decode(e.to_string()))?;
			// Hold text back while it ends in an incomplete UTF-8 sequence (decoded as U+FFFD);
			// it becomes final once the rest of the character arrives.
			match full.strip_prefix(text.as_str()) {
				Some(new) if !full.ends_with('\u{FFFD}') => {
					let new = new.to_owned();
					text = full;
					new
				},
				_ => String::new(),
			}
		};
		if let ControlFlow::Break(reason) = on_token(TokenEvent { token_id, text_delta: &delta }) {
			return Err(GenerateError::Cancelled(reason));
		}
		if stopped {
			break FinishReason::Stop;
		}
		if token_ids.len() >= max_tokens {
			break FinishReason::Length;
		}
		let position =
			request.prompt_tokens.len().saturating_add(token_ids.len()).saturating_sub(1);
		let input = Tensor::new(&[token_id], device)?.unsqueeze(0)?;
		logits = model.forward(&input, position)?;
	};

	// The final text, decoded in one go (identical to the streamed deltas unless the output ends
	// in an incomplete character, which is then included as U+FFFD).
	let visible = match finish_reason {
		FinishReason::Stop => token_ids.split_last().map(|(_, rest)| rest).unwrap_or_default(),
		FinishReason::Length => token_ids.as_slice(),
	};
	let text = tokenizer.decode(visible, true).map_err(|e| GenerateError::Decode(e.to_string()))?;
	Ok(GenerationOutput {
		prompt_tokens: u32::try_from(request.prompt_tokens.len()).unwrap_or(u32::MAX),
		token_ids,
		text,
		finish_reason,
		trace,
		prefill,
		time_to_first_token: time_to_first_token.unwrap_or(prefill),
		total: started.elapsed(),
	})
}
