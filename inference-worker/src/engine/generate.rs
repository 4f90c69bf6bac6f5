//! The generation loop: one request, start to finish, on the calling (engine) thread.
//!
//! Determinism rests on three choices made here:
//!
//! * the KV cache is cleared before every request, so nothing from an earlier request can leak
//!   into this one;
//! * the prompt is always fed as one batch at position 0, then one token at a time, so the same
//!   request always runs the same kernels on the same shapes;
//! * sampling uses a fresh [`LogitsProcessor`] seeded with the caller's seed (see
//!   [`super::sampling`]).
//!
//! The native engine ([`super::native`]) keeps the first two by construction: each sequence has
//! its own cache, and a row's logits do not depend on how the rows are batched.

use std::{
	ops::ControlFlow,
	time::{Duration, Instant},
};

use atoma_primitives::FinishReason;
use candle_core::{DType, Device, Tensor};
use candle_transformers::{generation::LogitsProcessor, models::quantized_llama::ModelWeights};
use tokenizers::Tokenizer;

use super::sampling;
use crate::{commitments::TraceStep, validation::ValidatedRequest};

/// Why a generation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
	/// The forward pass or sampling failed.
	#[error("inference failed: {0}")]
	Candle(#[from] candle_core::Error),
	/// The native engine refused a forward pass.
	#[error("inference failed: {0}")]
	Native(#[from] super::native::ForwardError),
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

/// What the model is fed next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
	/// Feed this token (the one just sampled) and call [`Generation::accept`] with the logits.
	Feed(u32),
	/// Generation is over; call [`Generation::finish`].
	Finished(FinishReason),
}

/// One request's generation, independent of the engine that computes its logits: sampling, the
/// trace, stop conditions, streaming text and timings. The candle path drives it in a loop
/// ([`generate`]); the native engine drives many at once, one batched forward pass per step.
pub struct Generation {
	processor: LogitsProcessor,
	max_tokens: usize,
	token_ids: Vec<u32>,
	trace: Vec<TraceStep>,
	text: String,
	started: Instant,
	prefill: Option<Duration>,
	time_to_first_token: Option<Duration>,
}

impl Generation {
	/// Start generating for `request` (the clock starts now).
	pub fn new(request: &ValidatedRequest) -> Self {
		let max_tokens = usize::try_from(request.params.max_output_tokens).unwrap_or(usize::MAX);
		let capacity = max_tokens.min(4096);
		Self {
			processor: sampling::logits_processor(&request.params),
			max_tokens,
			token_ids: Vec::with_capacity(capacity),
			trace: Vec::with_capacity(capacity),
			text: String::new(),
			started: Instant::now(),
			prefill: None,
			time_to_first_token: None,
		}
	}

	/// Tokens generated so far.
	pub fn generated(&self) -> usize {
		self.token_ids.len()
	}

	/// Take the logits that follow the last fed token (the prompt first): sample, record the
	/// trace step, stream the token through `on_token` (which may cancel), and say what comes
	/// next.
	pub fn accept(
		&mut self,
		logits: &[f32],
		request: &ValidatedRequest,
		tokenizer: &Tokenizer,
		on_token: &mut impl FnMut(TokenEvent<'_>) -> ControlFlow<&'static str>,
	) -> Result<Next, GenerateError> {
		self.prefill.get_or_insert_with(|| self.started.elapsed());
		let token_id = if request.params.is_greedy() {
			// Candle's choice without a tensor: a copy of the vocabulary's logits and a scan
			// through candle's generic reduction cost more than the rest of the step's sampling.
			sampling::argmax(logits)
		} else {
			self.processor.sample(&Tensor::from_slice(logits, logits.len(), &Device::Cpu)?)?
		};
		self.time_to_first_token.get_or_insert_with(|| self.started.elapsed());
		let step = u32::try_from(self.token_ids.len()).unwrap_or(u32::MAX);
		self.trace.push(TraceStep::record(step, token_id, logits));
		self.token_ids.push(token_id);

		let stopped = request.stop_token_ids.contains(&token_id);
		let delta = if stopped {
			String::new()
		} else {
			let full = tokenizer
				.decode(&self.token_ids, true)
				.map_err(|e| GenerateError::Decode(e.to_string()))?;
			// Hold text back while it ends in an incomplete UTF-8 sequence (decoded as U+FFFD);
			// it becomes final once the rest of the character arrives.
			match full.strip_prefix(self.text.as_str()) {
				Some(new) if !full.ends_with('\u{FFFD}') => {
					let new = new.to_owned();
					self.text = full;
					new
				},
				_ => String::new(),
			}
		};
		if let ControlFlow::Break(reason) = on_token(TokenEvent { token_id, text_delta: &delta }) {
			return Err(GenerateError::Cancelled(reason));
		}
		Ok(if stopped {
			Next::Finished(FinishReason::Stop)
		} else if self.token_ids.len() >= self.max_tokens {
			Next::Finished(FinishReason::Length)
		} else {
			Next::Feed(token_id)
		})
	}

	/// The finished output.
	pub fn finish(
		self,
		finish_reason: FinishReason,
		request: &ValidatedRequest,
		tokenizer: &Tokenizer,
	) -> Result<GenerationOutput, GenerateError> {
		// The final text, decoded in one go (identical to the streamed deltas unless the output
		// ends in an incomplete character, which is then included as U+FFFD).
		let visible = match finish_reason {
			FinishReason::Stop => {
				self.token_ids.split_last().map(|(_, rest)| rest).unwrap_or_default()
			},
			FinishReason::Length => self.token_ids.as_slice(),
		};
		let text =
			tokenizer.decode(visible, true).map_err(|e| GenerateError::Decode(e.to_string()))?;
		let prefill = self.prefill.unwrap_or_default();
		Ok(GenerationOutput {
			prompt_tokens: u32::try_from(request.prompt_tokens.len()).unwrap_or(u32::MAX),
			token_ids: self.token_ids,
			text,
			finish_reason,
			trace: self.trace,
			prefill,
			time_to_first_token: self.time_to_first_token.unwrap_or(prefill),
			total: self.started.elapsed(),
		})
	}
}

/// Run `request` on candle's `model`, alone. `on_token` sees every token; returning `Break`
/// cancels the run with the given reason.
pub fn generate(
	model: &mut ModelWeights,
	device: &Device,
	tokenizer: &Tokenizer,
	request: &ValidatedRequest,
	mut on_token: impl FnMut(TokenEvent<'_>) -> ControlFlow<&'static str>,
) -> Result<GenerationOutput, GenerateError> {
	let mut generation = Generation::new(request);
	model.clear_kv_cache();
	let input = Tensor::new(request.prompt_tokens.as_slice(), device)?.unsqueeze(0)?;
	let mut logits = model.forward(&input, 0)?;
	loop {
		let raw: Vec<f32> = logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?;
		match generation.accept(&raw, request, tokenizer, &mut on_token)? {
			Next::Finished(reason) => return generation.finish(reason, request, tokenizer),
			Next::Feed(token_id) => {
				let position = request
					.prompt_tokens
					.len()
					.saturating_add(generation.generated())
					.saturating_sub(1);
				let input = Tensor::new(&[token_id], device)?.unsqueeze(0)?;
				logits = model.forward(&input, position)?;
			},
		}
	}
}
