//! Request and response bodies.
//!
//! The OpenAI-compatible types follow the OpenAI API reference closely enough for the official
//! client libraries (which ignore unknown response fields, so the `atoma` extension object is
//! safe). Request fields the worker does not implement are either ignored when they cannot change
//! the output (`user`, `name`) or rejected with 422 when they would (`n > 1`, `logprobs`,
//! penalties): a client must never silently get something other than what it asked for.

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::validation::{PromptInput, RawMessage, RawRequest, Scaled, ValidationError};

/// `stop`: one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StopField {
	/// One stop string.
	One(String),
	/// Several.
	Many(Vec<String>),
}

impl StopField {
	fn into_vec(self) -> Vec<String> {
		match self {
			Self::One(s) => vec![s],
			Self::Many(v) => v,
		}
	}
}

/// A chat message's `content`: a string or a list of parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
	/// Plain text.
	Text(String),
	/// Content parts; only `{"type": "text", "text": ...}` is supported.
	Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
	/// The part type.
	#[serde(rename = "type")]
	pub kind: String,
	/// The text of a text part.
	pub text: Option<String>,
}

/// A chat message in a request.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessageIn {
	/// `system`, `user` or `assistant`.
	pub role: String,
	/// The content (may be null for assistant messages in OpenAI's schema).
	pub content: Option<MessageContent>,
}

fn to_raw_messages(messages: Vec<ChatMessageIn>) -> Result<Vec<RawMessage>, ValidationError> {
	messages
		.into_iter()
		.map(|m| {
			let content = match m.content {
				None => String::new(),
				Some(MessageContent::Text(t)) => t,
				Some(MessageContent::Parts(parts)) => {
					let mut text = String::new();
					for part in parts {
						match (part.kind.as_str(), part.text) {
							("text", Some(t)) => text.push_str(&t),
							_ => {
								return Err(ValidationError::Unsupported {
									field: "messages[].content",
									reason: "only text content parts are supported",
								})
							},
						}
					}
					text
				},
			};
			Ok(RawMessage { role: m.role, content })
		})
		.collect()
}

/// `POST /v1/jobs`: the protocol-facing request. Parameters are the protocol's integer fixed-point
/// values, exactly as the chain stores them, so no float conversion happens on this path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
	/// Model id (optional when one model is served).
	pub model: Option<String>,
	/// Raw prompt text.
	pub prompt: Option<String>,
	/// A conversation (rendered with the chat template).
	pub messages: Option<Vec<ChatMessageIn>>,
	/// Maximum generated tokens.
	#[serde(alias = "max_output_tokens")]
	pub max_tokens: Option<u32>,
	/// Temperature × 1000; 0 (default) is greedy.
	pub temperature_milli: Option<u32>,
	/// Top-k (0 = off).
	pub top_k: Option<u32>,
	/// Top-p × 1000 (1000 = off).
	pub top_p_milli: Option<u32>,
	/// Sampler seed; required when `temperature_milli > 0`.
	pub seed: Option<u64>,
	/// Extra stop token ids.
	#[serde(default)]
	pub stop_token_ids: Vec<u32>,
	/// Stop strings (each one token).
	pub stop: Option<StopField>,
	/// Position of this node in the quorum (default 0).
	pub node_index: Option<u32>,
	/// Quorum size (default 1).
	pub quorum_size: Option<u32>,
	/// The blake2-256 hash (hex) of a prompt uploaded to `/v1/inputs/{hash}`, instead of
	/// `prompt`/`messages`: a JSON list of chat messages, or plain prompt text.
	pub input_hash: Option<String>,
	/// The prompt tokens the chain request declared (and its escrow pays for): a prompt that
	/// tokenizes to more is refused (`prompt_tokens_over_declared`) before any work is done.
	pub max_prompt_tokens: Option<u32>,
	/// Set by the paired node on a chain job: the request and its owner, to whom the worker
	/// delivers the output (`GET /v1/requests/{request}/output`).
	pub delivery: Option<atoma_primitives::output_read::DeliveryTicket>,
}

impl JobRequest {
	/// The endpoint-independent form.
	pub fn into_raw(self) -> Result<RawRequest, ValidationError> {
		let input = match (self.prompt, self.messages) {
			(Some(_), Some(_)) => return Err(ValidationError::PromptAndMessages),
			(Some(p), None) => PromptInput::Text(p),
			(None, Some(m)) => PromptInput::Chat(to_raw_messages(m)?),
			(None, None) => return Err(ValidationError::MissingPrompt),
		};
		Ok(RawRequest {
			model: self.model,
			input,
			max_tokens: self.max_tokens,
			temperature: self.temperature_milli.map(Scaled::Milli),
			top_k: self.top_k,
			top_p: self.top_p_milli.map(Scaled::Milli),
			seed: self.seed,
			stop_token_ids: self.stop_token_ids,
			stop: self.stop.map(StopField::into_vec).unwrap_or_default(),
			node_index: self.node_index,
			quorum_size: self.quorum_size,
			max_prompt_tokens: self.max_prompt_tokens,
		})
	}
}

/// `prompt` of `/v1/completions`.
///
/// Deserialized through a [`Value`] rather than `#[serde(untagged)]`: untagged enums buffer
/// numbers through serde's internal representation, which misreads them when serde_json's
/// `arbitrary_precision` feature is on (the node's dependencies turn it on workspace-wide).
#[derive(Debug, Clone)]
pub enum PromptField {
	/// One text prompt.
	Text(String),
	/// A batch of text prompts (only a batch of one is supported).
	Texts(Vec<String>),
	/// One prompt as token ids.
	Tokens(Vec<u32>),
	/// A batch of token-id prompts (only a batch of one is supported).
	TokenBatches(Vec<Vec<u32>>),
}

impl PromptField {
	const SHAPE: &'static str =
		"prompt must be a string, a list of strings, a list of token ids or a list of such lists";

	fn token_ids(items: &[Value]) -> Option<Vec<u32>> {
		items.iter().map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok())).collect()
	}

	fn from_value(value: Value) -> Result<Self, &'static str> {
		match value {
			Value::String(text) => Ok(Self::Text(text)),
			Value::Array(items) if items.iter().all(Value::is_string) => Ok(Self::Texts(
				items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
			)),
			Value::Array(items) if items.iter().all(Value::is_number) => {
				Self::token_ids(&items).map(Self::Tokens).ok_or(Self::SHAPE)
			},
			Value::Array(items) => items
				.iter()
				.map(|batch| batch.as_array().and_then(|ids| Self::token_ids(ids)))
				.collect::<Option<Vec<_>>>()
				.map(Self::TokenBatches)
				.ok_or(Self::SHAPE),
			_ => Err(Self::SHAPE),
		}
	}
}

impl<'de> Deserialize<'de> for PromptField {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		Self::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
	}
}

/// Reads a request body whose shared OpenAI fields ([`OpenAiCommon`]) sit beside the endpoint's
/// own (`T`). Not `#[serde(flatten)]`, for the same `arbitrary_precision` reason as
/// [`PromptField`]: each part is read from the parsed [`Value`] directly.
fn with_common<'de, D, T>(deserializer: D) -> Result<(T, OpenAiCommon), D::Error>
where
	D: Deserializer<'de>,
	T: serde::de::DeserializeOwned,
{
	let value = Value::deserialize(deserializer)?;
	let common = serde_json::from_value(value.clone()).map_err(D::Error::custom)?;
	let own = serde_json::from_value(value).map_err(D::Error::custom)?;
	Ok((own, common))
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
	/// Send a last chunk with token usage.
	#[serde(default)]
	pub include_usage: bool,
}

/// Fields shared by both OpenAI endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct OpenAiCommon {
	/// Model id.
	pub model: Option<String>,
	/// Maximum generated tokens.
	pub max_tokens: Option<u32>,
	/// Chat's newer name for `max_tokens`.
	pub max_completion_tokens: Option<u32>,
	/// Temperature (0 = greedy, the default here; see `validation::RawRequest::temperature`).
	pub temperature: Option<f64>,
	/// Nucleus sampling threshold.
	pub top_p: Option<f64>,
	/// Top-k (an extension many OpenAI-compatible servers accept).
	pub top_k: Option<u32>,
	/// Sampler seed.
	pub seed: Option<u64>,
	/// Stop strings.
	pub stop: Option<StopField>,
	/// Extra stop token ids (extension).
	#[serde(default)]
	pub stop_token_ids: Vec<u32>,
	/// Stream with server-sent events.
	#[serde(default)]
	pub stream: bool,
	/// Streaming options.
	pub stream_options: Option<StreamOptions>,
	/// Number of choices (only 1).
	pub n: Option<u32>,
	/// Log probabilities (not supported).
	pub logprobs: Option<Value>,
	/// Chat's top log probabilities (not supported).
	pub top_logprobs: Option<Value>,
	/// Presence penalty (only 0).
	pub presence_penalty: Option<f64>,
	/// Frequency penalty (only 0).
	pub frequency_penalty: Option<f64>,
	/// Logit bias (not supported).
	pub logit_bias: Option<Value>,
	/// Quorum position (extension).
	pub node_index: Option<u32>,
	/// Quorum size (extension).
	pub quorum_size: Option<u32>,
}

impl OpenAiCommon {
	fn check_unsupported(&self) -> Result<(), ValidationError> {
		let unsupported = |field, reason| Err(ValidationError::Unsupported { field, reason });
		if self.n.is_some_and(|n| n != 1) {
			return unsupported("n", "only one choice per request (n = 1)");
		}
		let is_off = |v: &Option<Value>| match v {
			None | Some(Value::Null) | Some(Value::Bool(false)) => true,
			Some(Value::Number(n)) => n.as_u64() == Some(0),
			_ => false,
		};
		if !is_off(&self.logprobs) || !is_off(&self.top_logprobs) {
			return unsupported("logprobs", "log probabilities are not returned");
		}
		if self.presence_penalty.is_some_and(|p| p != 0.0)
			|| self.frequency_penalty.is_some_and(|p| p != 0.0)
		{
			return unsupported("presence_penalty/frequency_penalty", "penalties are not applied");
		}
		if self.logit_bias.as_ref().is_some_and(|b| b.as_object().is_none_or(|o| !o.is_empty())) {
			return unsupported("logit_bias", "logit bias is not applied");
		}
		Ok(())
	}

	fn into_raw(self, input: PromptInput) -> Result<RawRequest, ValidationError> {
		self.check_unsupported()?;
		Ok(RawRequest {
			model: self.model,
			input,
			max_tokens: self.max_completion_tokens.or(self.max_tokens),
			temperature: self.temperature.map(Scaled::Float),
			top_k: self.top_k,
			top_p: self.top_p.map(Scaled::Float),
			seed: self.seed,
			stop_token_ids: self.stop_token_ids,
			stop: self.stop.map(StopField::into_vec).unwrap_or_default(),
			node_index: self.node_index,
			quorum_size: self.quorum_size,
			max_prompt_tokens: None,
		})
	}

	/// Whether to stream, and whether to append a usage chunk.
	pub fn stream_mode(&self) -> (bool, bool) {
		(self.stream, self.stream_options.as_ref().is_some_and(|o| o.include_usage))
	}
}

/// `POST /v1/completions`.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
	/// The prompt.
	pub prompt: Option<PromptField>,
	/// Echo the prompt (only false).
	pub echo: bool,
	/// Server-side best-of (only 1).
	pub best_of: Option<u32>,
	/// Text after the completion (not supported).
	pub suffix: Option<String>,
	/// Shared fields.
	pub common: OpenAiCommon,
}

impl<'de> Deserialize<'de> for CompletionRequest {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		let (own, common): (CompletionFields, _) = with_common(deserializer)?;
		Ok(Self {
			prompt: own.prompt,
			echo: own.echo,
			best_of: own.best_of,
			suffix: own.suffix,
			common,
		})
	}
}

/// The fields of [`CompletionRequest`] besides the shared ones.
#[derive(Deserialize)]
struct CompletionFields {
	prompt: Option<PromptField>,
	#[serde(default)]
	echo: bool,
	best_of: Option<u32>,
	suffix: Option<String>,
}

impl CompletionRequest {
	/// The endpoint-independent form.
	pub fn into_raw(self) -> Result<RawRequest, ValidationError> {
		let unsupported = |field, reason| -> Result<RawRequest, ValidationError> {
			Err(ValidationError::Unsupported { field, reason })
		};
		if self.echo {
			return unsupported("echo", "the prompt is not echoed");
		}
		if self.best_of.is_some_and(|b| b != 1) {
			return unsupported("best_of", "only best_of = 1");
		}
		if self.suffix.as_ref().is_some_and(|s| !s.is_empty()) {
			return unsupported("suffix", "insertion is not supported");
		}
		let one = |n: usize| {
			if n == 1 {
				Ok(())
			} else {
				Err(ValidationError::Unsupported {
					field: "prompt",
					reason: "exactly one prompt per request",
				})
			}
		};
		let input = match self.prompt {
			None => return Err(ValidationError::MissingPrompt),
			Some(PromptField::Text(t)) => PromptInput::Text(t),
			Some(PromptField::Texts(mut v)) => {
				one(v.len())?;
				PromptInput::Text(v.pop().unwrap_or_default())
			},
			Some(PromptField::Tokens(ids)) => PromptInput::TokenIds(ids),
			Some(PromptField::TokenBatches(mut v)) => {
				one(v.len())?;
				PromptInput::TokenIds(v.pop().unwrap_or_default())
			},
		};
		self.common.into_raw(input)
	}
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone)]
pub struct ChatCompletionRequest {
	/// The conversation.
	pub messages: Vec<ChatMessageIn>,
	/// Tools (not supported).
	pub tools: Option<Value>,
	/// Response format (only text).
	pub response_format: Option<Value>,
	/// Shared fields.
	pub common: OpenAiCommon,
}

impl<'de> Deserialize<'de> for ChatCompletionRequest {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		let (own, common): (ChatCompletionFields, _) = with_common(deserializer)?;
		Ok(Self {
			messages: own.messages,
			tools: own.tools,
			response_format: own.response_format,
			common,
		})
	}
}

/// The fields of [`ChatCompletionRequest`] besides the shared ones.
#[derive(Deserialize)]
struct ChatCompletionFields {
	messages: Vec<ChatMessageIn>,
	tools: Option<Value>,
	response_format: Option<Value>,
}

impl ChatCompletionRequest {
	/// The endpoint-independent form.
	pub fn into_raw(self) -> Result<RawRequest, ValidationError> {
		if self.tools.as_ref().is_some_and(|t| !t.is_null()) {
			return Err(ValidationError::Unsupported {
				field: "tools",
				reason: "tool calling is not supported",
			});
		}
		let text_format = match &self.response_format {
			None | Some(Value::Null) => true,
			Some(v) => v.get("type").and_then(Value::as_str) == Some("text"),
		};
		if !text_format {
			return Err(ValidationError::Unsupported {
				field: "response_format",
				reason: "only {\"type\": \"text\"}",
			});
		}
		let messages = to_raw_messages(self.messages)?;
		self.common.into_raw(PromptInput::Chat(messages))
	}
}

/// Token counts (OpenAI `usage`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
	/// Prompt tokens.
	pub prompt_tokens: u32,
	/// Generated tokens (including a terminating stop token).
	pub completion_tokens: u32,
	/// Their sum.
	pub total_tokens: u32,
}

impl Usage {
	/// Usage from the two counts.
	pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
		Self {
			prompt_tokens,
			completion_tokens,
			total_tokens: prompt_tokens.saturating_add(completion_tokens),
		}
	}
}

/// The wire form of a job's commitments, shared by `GET /v1/jobs/{id}` and the `atoma` object of
/// the OpenAI responses, so both always report the same fields the same way (lowercase hex).
pub fn commitments_view(c: &crate::commitments::JobCommitments) -> Value {
	use crate::commitments::to_hex;
	serde_json::json!({
		"output_hash": to_hex(&c.output_hash),
		"node_index": c.node_index,
		"quorum_size": c.quorum_size,
		"root": to_hex(&c.root),
		"leaf": to_hex(&c.leaf),
		"trace_root": to_hex(&c.trace_root),
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	/// What a worker does with `messages`: decode, join text parts, check every role.
	fn worker_serves(messages: &str) -> bool {
		let Ok(messages) = serde_json::from_str::<Vec<ChatMessageIn>>(messages) else {
			return false;
		};
		match to_raw_messages(messages) {
			Ok(raw) => {
				!raw.is_empty()
					&& raw
						.iter()
						.all(|m| atoma_primitives::prompt::CHAT_ROLES.contains(&m.role.as_str()))
			},
			Err(_) => false,
		}
	}

	/// The chain refuses at submission exactly the conversations a worker would refuse.
	#[test]
	fn the_chain_and_the_worker_agree_on_which_conversations_are_served() {
		for messages in [
			r#"[{"role":"user","content":"hi"}]"#,
			r#"[{"role":"system","content":null},{"role":"user","content":[{"type":"text","text":"a"}]}]"#,
			r#"[{"role":"assistant"}]"#,
			r#"[{"role":"user","content":"x","name":"extra fields are ignored"}]"#,
			r#"[]"#,
			r#"[1]"#,
			r#"[{"content":"no role"}]"#,
			r#"[{"role":"tool","content":"x"}]"#,
			r#"[{"role":"user","content":5}]"#,
			r#"[{"role":"user","content":[{"type":"image_url","image_url":"x"}]}]"#,
			r#"[{"role":"user","content":[{"type":"text"}]}]"#,
			r#"[{"role":7,"content":"x"}]"#,
		] {
			let chain = atoma_primitives::prompt::check_inline_input(messages.as_bytes()).is_ok();
			assert_eq!(chain, worker_serves(messages), "{messages}");
		}
	}
}
