//! Raw request → validated request, before anything is queued.
//!
//! Every endpoint that generates (`/v1/jobs`, `/v1/completions`, `/v1/chat/completions`) first
//! converts its DTO into a [`RawRequest`] and then calls [`validate`], which tokenizes the prompt
//! (applying the chat template for chat input), resolves defaults and checks every limit. The
//! engine only ever sees a [`ValidatedRequest`], so a bad request can never reach a forward pass,
//! and each broken limit has its own [`ValidationError`] variant (and error `code` in the API).
//!
//! Sampling parameters end up as the protocol's [`SamplingParams`] (integer fixed point) and are
//! checked with [`SamplingParams::validate`], the same check the runtime applies when a request is
//! submitted on chain. OpenAI-style float parameters are converted to milli units here, once.

use std::collections::BTreeSet;

use atoma_primitives::{
	commitment::CommitmentError,
	params::{ParamsError, TOP_P_OFF},
	SamplingParams,
};

use crate::engine::{chat::ChatMessage, ModelHandle};

/// Most stop strings or extra stop token ids a request may give (OpenAI allows 4 strings).
pub const MAX_STOPS: usize = 16;

/// A parameter given either in the protocol's milli units or as an OpenAI-style float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaled {
	/// Already in milli units (`/v1/jobs`: exactly what the chain sends).
	Milli(u32),
	/// A float in natural units (`0.7`), converted with `round(x * 1000)`.
	Float(f64),
}

/// What the prompt is.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptInput {
	/// Raw text, tokenized as is (no template, no BOS: SmolLM2 has `add_bos_token = false`).
	Text(String),
	/// Token ids, used as is.
	TokenIds(Vec<u32>),
	/// A conversation, rendered with the model's chat template.
	Chat(Vec<RawMessage>),
}

/// A chat message before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
	/// The role as given.
	pub role: String,
	/// Text content (the DTO layer has already joined text parts).
	pub content: String,
}

/// A generation request in a form common to every endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRequest {
	/// Model id; `None` means the only served model.
	pub model: Option<String>,
	/// The prompt.
	pub input: PromptInput,
	/// Maximum number of generated tokens; `None` uses the endpoint's default.
	pub max_tokens: Option<u32>,
	/// Temperature; `None` is greedy (0). OpenAI's default is 1, but a sampled request needs a
	/// seed, and silently sampling with an invented one would break determinism.
	pub temperature: Option<Scaled>,
	/// Top-k; `None` or 0 is off.
	pub top_k: Option<u32>,
	/// Top-p; `None` is off (1.0).
	pub top_p: Option<Scaled>,
	/// The sampler seed; required when the temperature is above 0.
	pub seed: Option<u64>,
	/// Extra stop token ids.
	pub stop_token_ids: Vec<u32>,
	/// Stop strings; each must be exactly one token of the model's vocabulary.
	pub stop: Vec<String>,
	/// This node's position in the quorum (default 0).
	pub node_index: Option<u32>,
	/// Quorum size (default 1).
	pub quorum_size: Option<u32>,
	/// The most prompt tokens the request pays for (a chain job's declared input tokens).
	pub max_prompt_tokens: Option<u32>,
}

/// Limits that come from the worker's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
	/// Largest accepted `max_tokens`.
	pub max_tokens_limit: u32,
	/// `max_tokens` when the request gives none.
	pub default_max_tokens: u32,
}

/// A request that fits the model and the worker's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest {
	/// Model id.
	pub model: String,
	/// The tokenized prompt (at least one token).
	pub prompt_tokens: Vec<u32>,
	/// Sampling parameters (validated; seed 0 for greedy requests without one).
	pub params: SamplingParams,
	/// Whether the caller gave the seed.
	pub seed_given: bool,
	/// Every token id that ends generation: the model's own and the caller's.
	pub stop_token_ids: BTreeSet<u32>,
	/// The caller's stop tokens (from `stop_token_ids` and single-token `stop` strings).
	pub extra_stop_token_ids: Vec<u32>,
	/// Quorum position.
	pub node_index: u32,
	/// Quorum size.
	pub quorum_size: u32,
}

/// Why a request is rejected (HTTP 422). One variant per broken limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
	/// No `model` while several models are served.
	#[error("`model` is required when the worker serves more than one model")]
	MissingModel,
	/// Neither `prompt` nor `messages`.
	#[error("`prompt` or `messages` is required")]
	MissingPrompt,
	/// Both `prompt` and `messages`.
	#[error("give either `prompt` or `messages`, not both")]
	PromptAndMessages,
	/// The prompt has no tokens.
	#[error("the prompt is empty")]
	EmptyPrompt,
	/// `messages` is an empty list.
	#[error("`messages` must not be empty")]
	EmptyMessages,
	/// A message role other than system, user or assistant.
	#[error("messages[{index}].role is {role:?}; expected \"system\", \"user\" or \"assistant\"")]
	UnsupportedRole {
		/// Position of the message.
		index: usize,
		/// The role given.
		role: String,
	},
	/// The chat template refused the conversation.
	#[error("the model's chat template rejected the conversation: {0}")]
	ChatTemplate(String),
	/// The tokenizer failed on the prompt text.
	#[error("the prompt could not be tokenized: {0}")]
	Tokenization(String),
	/// A prompt token id outside the vocabulary.
	#[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
	TokenOutOfVocabulary {
		/// The id.
		id: u32,
		/// Vocabulary size.
		vocab_size: u32,
	},
	/// The prompt alone fills the context.
	#[error("the prompt has {prompt_tokens} tokens; the model's context is {context} tokens")]
	PromptTooLong {
		/// Prompt tokens.
		prompt_tokens: usize,
		/// Context length.
		context: u32,
	},
	/// Prompt plus `max_tokens` does not fit the context.
	#[error(
		"the prompt ({prompt_tokens} tokens) plus max_tokens ({max_tokens}) exceeds the model's \
		 context of {context} tokens"
	)]
	ContextExceeded {
		/// Prompt tokens.
		prompt_tokens: usize,
		/// Requested maximum.
		max_tokens: u32,
		/// Context length.
		context: u32,
	},
	/// The prompt has more tokens than the chain request declared.
	#[error(
		"the prompt has {prompt_tokens} tokens; the request declared (and paid for) {declared}"
	)]
	PromptTokensOverDeclared {
		/// Prompt tokens.
		prompt_tokens: usize,
		/// Declared input tokens.
		declared: u32,
	},
	/// `max_tokens` is 0.
	#[error("max_tokens must be at least 1")]
	ZeroMaxTokens,
	/// `max_tokens` above the worker's limit.
	#[error("max_tokens {requested} exceeds this worker's limit of {limit}")]
	MaxTokensOverLimit {
		/// Requested.
		requested: u32,
		/// Limit.
		limit: u32,
	},
	/// A float parameter is NaN or infinite.
	#[error("{field} must be a finite number")]
	NotFinite {
		/// The parameter.
		field: &'static str,
	},
	/// Temperature outside `0..=2`.
	#[error("temperature must be in 0..=2 (temperature_milli in 0..=2000); got {0}")]
	TemperatureOutOfRange(String),
	/// Top-p outside `(0, 1]`.
	#[error("top_p must be in (0, 1] (top_p_milli in 1..=1000); got {0}")]
	TopPOutOfRange(String),
	/// A sampled request without a seed.
	#[error(
		"sampled requests (temperature > 0) need a `seed`: the worker never invents one, so that \
		 every node of a quorum draws the same tokens"
	)]
	SeedRequired,
	/// A stop string that is not a single token.
	#[error(
		"stop sequence {0:?} is not a single token of this model's vocabulary (stops are matched on \
		 token ids so that they are deterministic)"
	)]
	StopNotSingleToken(String),
	/// A stop token id outside the vocabulary.
	#[error("stop token id {id} is outside the vocabulary of {vocab_size} tokens")]
	StopTokenOutOfVocabulary {
		/// The id.
		id: u32,
		/// Vocabulary size.
		vocab_size: u32,
	},
	/// Too many stop strings or ids.
	#[error("at most {MAX_STOPS} stop sequences and stop token ids are allowed; got {0}")]
	TooManyStops(usize),
	/// `quorum_size` is 0.
	#[error("quorum_size must be at least 1")]
	EmptyQuorum,
	/// `node_index >= quorum_size`.
	#[error("node_index {index} is outside a quorum of {quorum_size}")]
	NodeIndexOutOfRange {
		/// The index.
		index: u32,
		/// The quorum size.
		quorum_size: u32,
	},
	/// An OpenAI feature the worker does not implement (rejected rather than ignored, so a client
	/// never silently gets something other than what it asked for).
	#[error("{field} is not supported: {reason}")]
	Unsupported {
		/// The field.
		field: &'static str,
		/// Why.
		reason: &'static str,
	},
}

impl ValidationError {
	/// Machine-readable code, reported as `error.code`.
	pub fn code(&self) -> &'static str {
		match self {
			Self::MissingModel => "missing_model",
			Self::MissingPrompt => "missing_prompt",
			Self::PromptAndMessages => "prompt_and_messages",
			Self::EmptyPrompt => "empty_prompt",
			Self::EmptyMessages => "empty_messages",
			Self::UnsupportedRole { .. } => "unsupported_role",
			Self::ChatTemplate(_) => "chat_template_error",
			Self::Tokenization(_) => "tokenization_failed",
			Self::TokenOutOfVocabulary { .. } => "token_out_of_vocabulary",
			Self::PromptTooLong { .. } => "prompt_too_long",
			Self::ContextExceeded { .. } => "context_length_exceeded",
			Self::PromptTokensOverDeclared { .. } => "prompt_tokens_over_declared",
			Self::ZeroMaxTokens => "zero_max_tokens",
			Self::MaxTokensOverLimit { .. } => "max_tokens_over_limit",
			Self::NotFinite { .. } => "not_finite",
			Self::TemperatureOutOfRange(_) => "temperature_out_of_range",
			Self::TopPOutOfRange(_) => "top_p_out_of_range",
			Self::SeedRequired => "seed_required",
			Self::StopNotSingleToken(_) => "stop_not_single_token",
			Self::StopTokenOutOfVocabulary { .. } => "stop_token_out_of_vocabulary",
			Self::TooManyStops(_) => "too_many_stops",
			Self::EmptyQuorum => "empty_quorum",
			Self::NodeIndexOutOfRange { .. } => "node_index_out_of_range",
			Self::Unsupported { .. } => "unsupported_parameter",
		}
	}
}

/// `round(x * 1000)` for a parameter given as a float. Values beyond `u32` are left to the range
/// checks by saturating (a float-to-int `as` cast saturates), negatives are rejected by the caller.
fn to_milli(field: &'static str, value: Scaled) -> Result<u32, ValidationError> {
	match value {
		Scaled::Milli(m) => Ok(m),
		Scaled::Float(x) if !x.is_finite() => Err(ValidationError::NotFinite { field }),
		Scaled::Float(x) => Ok((x * 1000.0).round() as u32),
	}
}

fn is_negative(value: Option<Scaled>) -> bool {
	matches!(value, Some(Scaled::Float(x)) if x < 0.0)
}

fn describe(value: Option<Scaled>) -> String {
	match value {
		Some(Scaled::Milli(m)) => format!("{m} milli"),
		Some(Scaled::Float(x)) => x.to_string(),
		None => "none".to_owned(),
	}
}

/// Check `raw` against `model` and `limits` and tokenize its prompt.
pub fn validate(
	raw: &RawRequest,
	model: &ModelHandle,
	limits: &Limits,
) -> Result<ValidatedRequest, ValidationError> {
	let info = &model.info;

	// Sampling parameters first: they are cheap and independent of the prompt.
	if is_negative(raw.temperature) {
		return Err(ValidationError::TemperatureOutOfRange(describe(raw.temperature)));
	}
	if is_negative(raw.top_p) {
		return Err(ValidationError::TopPOutOfRange(describe(raw.top_p)));
	}
	let temperature_milli =
		raw.temperature.map(|t| to_milli("temperature", t)).transpose()?.unwrap_or(0);
	let top_p_milli = raw.top_p.map(|p| to_milli("top_p", p)).transpose()?.unwrap_or(TOP_P_OFF);
	let max_output_tokens = raw.max_tokens.unwrap_or(limits.default_max_tokens);
	if max_output_tokens > limits.max_tokens_limit {
		return Err(ValidationError::MaxTokensOverLimit {
			requested: max_output_tokens,
			limit: limits.max_tokens_limit,
		});
	}
	let params = SamplingParams {
		temperature_milli,
		top_k: raw.top_k.unwrap_or(0),
		top_p_milli,
		max_output_tokens,
		seed: raw.seed.unwrap_or(0),
	};
	params.validate().map_err(|e| match e {
		ParamsError::TemperatureTooHigh(_) => {
			ValidationError::TemperatureOutOfRange(describe(raw.temperature))
		},
		ParamsError::TopPOutOfRange(_) => ValidationError::TopPOutOfRange(describe(raw.top_p)),
		ParamsError::ZeroMaxOutputTokens => ValidationError::ZeroMaxTokens,
	})?;
	if !params.is_greedy() && raw.seed.is_none() {
		return Err(ValidationError::SeedRequired);
	}

	let node_index = raw.node_index.unwrap_or(0);
	let quorum_size = raw.quorum_size.unwrap_or(1);
	// The primitives define which (index, n) pairs are valid; ask them with an empty output
	// rather than restating the rule.
	atoma_primitives::commitment::node_commitment(&[], node_index, quorum_size).map_err(
		|e| match e {
			CommitmentError::EmptyQuorum => ValidationError::EmptyQuorum,
			CommitmentError::IndexOutOfRange { index, n } => {
				ValidationError::NodeIndexOutOfRange { index, quorum_size: n }
			},
		},
	)?;

	let stops = raw.stop.len().saturating_add(raw.stop_token_ids.len());
	if stops > MAX_STOPS {
		return Err(ValidationError::TooManyStops(stops));
	}
	let mut extra_stop_token_ids = Vec::with_capacity(stops);
	for &id in &raw.stop_token_ids {
		if id >= info.vocab_size {
			return Err(ValidationError::StopTokenOutOfVocabulary {
				id,
				vocab_size: info.vocab_size,
			});
		}
		extra_stop_token_ids.push(id);
	}
	for stop in &raw.stop {
		let id = model
			.tokenizer
			.token_to_id(stop)
			.or_else(|| single_token(model, stop))
			.ok_or_else(|| ValidationError::StopNotSingleToken(stop.clone()))?;
		extra_stop_token_ids.push(id);
	}
	extra_stop_token_ids.sort_unstable();
	extra_stop_token_ids.dedup();
	let mut stop_token_ids = info.stop_token_ids.clone();
	stop_token_ids.extend(extra_stop_token_ids.iter().copied());

	let prompt_tokens = tokenize(&raw.input, model)?;
	if prompt_tokens.is_empty() {
		return Err(ValidationError::EmptyPrompt);
	}
	if let Some(declared) = raw.max_prompt_tokens {
		if prompt_tokens.len() > usize::try_from(declared).unwrap_or(usize::MAX) {
			return Err(ValidationError::PromptTokensOverDeclared {
				prompt_tokens: prompt_tokens.len(),
				declared,
			});
		}
	}
	let context = info.context_length;
	let context_usize = usize::try_from(context).unwrap_or(usize::MAX);
	if prompt_tokens.len() >= context_usize {
		return Err(ValidationError::PromptTooLong { prompt_tokens: prompt_tokens.len(), context });
	}
	let max_usize = usize::try_from(max_output_tokens).unwrap_or(usize::MAX);
	if prompt_tokens.len().saturating_add(max_usize) > context_usize {
		return Err(ValidationError::ContextExceeded {
			prompt_tokens: prompt_tokens.len(),
			max_tokens: max_output_tokens,
			context,
		});
	}

	Ok(ValidatedRequest {
		model: info.id.clone(),
		prompt_tokens,
		params,
		seed_given: raw.seed.is_some(),
		stop_token_ids,
		extra_stop_token_ids,
		node_index,
		quorum_size,
	})
}

/// The id of `text` when it encodes to exactly one token (e.g. `"\n"` is the byte-level token
/// `"Ċ"`, so `token_to_id` on the raw text does not find it).
fn single_token(model: &ModelHandle, text: &str) -> Option<u32> {
	let encoding = model.tokenizer.encode(text, false).ok()?;
	match encoding.get_ids() {
		[id] => Some(*id),
		_ => None,
	}
}

/// Tokenize the prompt; chat input goes through the model's chat template first.
fn tokenize(input: &PromptInput, model: &ModelHandle) -> Result<Vec<u32>, ValidationError> {
	let text = match input {
		PromptInput::TokenIds(ids) => {
			let vocab_size = model.info.vocab_size;
			if let Some(&id) = ids.iter().find(|&&id| id >= vocab_size) {
				return Err(ValidationError::TokenOutOfVocabulary { id, vocab_size });
			}
			return Ok(ids.clone());
		},
		PromptInput::Text(text) => text.clone(),
		PromptInput::Chat(messages) => {
			if messages.is_empty() {
				return Err(ValidationError::EmptyMessages);
			}
			let mut chat = Vec::with_capacity(messages.len());
			for (index, m) in messages.iter().enumerate() {
				// The chain refuses other roles at submission: the same list.
				if !atoma_primitives::prompt::CHAT_ROLES.contains(&m.role.as_str()) {
					return Err(ValidationError::UnsupportedRole { index, role: m.role.clone() });
				}
				chat.push(ChatMessage { role: m.role.clone(), content: m.content.clone() });
			}
			model
				.template
				.render(&chat)
				.map_err(|e| ValidationError::ChatTemplate(e.to_string()))?
		},
	};
	if text.is_empty() {
		return Err(ValidationError::EmptyPrompt);
	}
	// `add_special_tokens = false`: the template already wrote every special token, and SmolLM2
	// does not add a BOS. Special-token text in the prompt is still recognised (`added_tokens`).
	let encoding = model
		.tokenizer
		.encode(text.as_str(), false)
		.map_err(|e| ValidationError::Tokenization(e.to_string()))?;
	Ok(encoding.get_ids().to_vec())
}

#[cfg(test)]
mod tests {
	use atoma_primitives::unservable::UnservableReason;

	use super::ValidationError;

	/// The chain's off-chain worker reads these codes to tell a request no node can serve from
	/// the node's own trouble (`UnservableReason::from_worker_error`): each refusal of the request
	/// itself must map to its reason, and a parameter error of the node's own making must not.
	#[test]
	fn refusals_of_the_request_itself_map_to_unservable_reasons() {
		let reason = |e: ValidationError| {
			UnservableReason::from_worker_error("validation_error", Some(e.code()))
		};
		use UnservableReason::*;
		assert_eq!(
			reason(ValidationError::PromptTooLong { prompt_tokens: 9, context: 8 }),
			Some(ExceedsContext)
		);
		assert_eq!(
			reason(ValidationError::ContextExceeded {
				prompt_tokens: 4,
				max_tokens: 8,
				context: 8
			}),
			Some(ExceedsContext)
		);
		assert_eq!(
			reason(ValidationError::PromptTokensOverDeclared { prompt_tokens: 9, declared: 8 }),
			Some(InputTokensAboveDeclared)
		);
		assert_eq!(reason(ValidationError::ChatTemplate("no".into())), Some(InvalidPrompt));
		assert_eq!(reason(ValidationError::EmptyPrompt), Some(InvalidPrompt));
		assert_eq!(reason(ValidationError::SeedRequired), None);
		assert_eq!(reason(ValidationError::ZeroMaxTokens), None);
		assert_eq!(
			UnservableReason::from_worker_error(
				crate::error::WorkerError::InputNotUploaded("ab".into()).status_and_kind().1,
				None
			),
			Some(InputUnavailable)
		);
	}
}
