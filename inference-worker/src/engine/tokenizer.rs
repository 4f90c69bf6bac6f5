//! A `tokenizers::Tokenizer` built from GGUF metadata.
//!
//! GGUF files from llama.cpp carry their tokenizer as metadata arrays (`tokenizer.ggml.*`) instead
//! of a `tokenizer.json`. For GPT-2 style byte-level BPE models (`tokenizer.ggml.model = "gpt2"`,
//! which covers SmolLM2, Llama 3, Qwen2 and others) we assemble the equivalent `tokenizer.json` as a
//! JSON value and load it with [`Tokenizer::from_str`]. Going through JSON rather than the
//! `BPE` builder keeps us independent of builder API changes between `tokenizers` releases.
//!
//! The fixed parts (pre-tokenizer, decoder) follow llama.cpp's `smollm` pre-tokenizer and Hugging
//! Face's SmolLM2 tokenizer (`shared/reference/models.md`): individual digits, then byte-level
//! splitting with the GPT-2 regex. Pre-tokenizers this module does not know are rejected instead of
//! silently tokenizing differently from the model's training.

use std::str::FromStr;

use atoma_primitives::tokenizer::{tokenizer_hash, TokenizerSpec};
use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::{json, Map, Value as Json};
use tokenizers::Tokenizer;

/// `tokenizer.ggml.token_type` value of control (special) tokens, as in llama.cpp's
/// `LLAMA_TOKEN_TYPE_CONTROL`.
const TOKEN_TYPE_CONTROL: i32 = 3;

/// Why a tokenizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
	/// A required metadata key is missing or has the wrong type.
	#[error("GGUF metadata {key}: {reason}")]
	Metadata {
		/// The GGUF key.
		key: &'static str,
		/// What is wrong with it.
		reason: String,
	},
	/// The tokenizer model or pre-tokenizer is not one this worker implements.
	#[error("unsupported tokenizer: {0}")]
	Unsupported(String),
	/// `tokenizers` rejected the assembled JSON.
	#[error("tokenizer construction failed: {0}")]
	Build(String),
}

/// Tokenizer plus the metadata the engine needs from the same GGUF keys.
pub struct GgufTokenizer {
	/// The tokenizer.
	pub tokenizer: Tokenizer,
	/// `tokenizer.ggml.eos_token_id`, if present.
	pub eos_token_id: Option<u32>,
	/// `tokenizer.ggml.bos_token_id`, if present.
	pub bos_token_id: Option<u32>,
	/// Token strings by id (for the chat template's `bos_token`/`eos_token` and for stop strings).
	pub tokens: Vec<String>,
	/// Ids of control tokens (`token_type == 3`).
	pub control_token_ids: Vec<u32>,
	/// The tokenizer hash registered on chain for the model (`atoma_primitives::tokenizer`).
	pub tokenizer_hash: [u8; 32],
}

fn meta<'a>(content: &'a Content, key: &'static str) -> Result<&'a Value, TokenizerError> {
	content.metadata.get(key).ok_or(TokenizerError::Metadata { key, reason: "missing".to_owned() })
}

fn string_array(content: &Content, key: &'static str) -> Result<Vec<String>, TokenizerError> {
	let bad = |e: candle_core::Error| TokenizerError::Metadata { key, reason: e.to_string() };
	meta(content, key)?
		.to_vec()
		.map_err(bad)?
		.iter()
		.map(|v| v.to_string().cloned().map_err(bad))
		.collect()
}

fn optional_u32(content: &Content, key: &'static str) -> Result<Option<u32>, TokenizerError> {
	match content.metadata.get(key) {
		None => Ok(None),
		Some(v) => v
			.to_u32()
			.map(Some)
			.map_err(|e| TokenizerError::Metadata { key, reason: e.to_string() }),
	}
}

/// The tokenizer hash of the GGUF file at `path` (what `register_model` stores on chain).
pub fn tokenizer_hash_of_file(path: &std::path::Path) -> Result<[u8; 32], String> {
	let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
	let content = Content::read(&mut file).map_err(|e| e.to_string())?;
	from_gguf(&content).map(|t| t.tokenizer_hash).map_err(|e| e.to_string())
}

/// Build the tokenizer of a GGUF file from its metadata.
pub fn from_gguf(content: &Content) -> Result<GgufTokenizer, TokenizerError> {
	let model = meta(content, "tokenizer.ggml.model")?.to_string().map_err(|e| {
		TokenizerError::Metadata { key: "tokenizer.ggml.model", reason: e.to_string() }
	})?;
	if model != "gpt2" {
		return Err(TokenizerError::Unsupported(format!(
			"tokenizer.ggml.model = {model:?} (only byte-level BPE \"gpt2\" is implemented)"
		)));
	}
	let pre = match content.metadata.get("tokenizer.ggml.pre") {
		Some(v) => v.to_string().cloned().unwrap_or_default(),
		None => String::new(),
	};
	let pre_tokenizer = pre_tokenizer_for(&pre)?;

	let tokens = string_array(content, "tokenizer.ggml.tokens")?;
	let merges = string_array(content, "tokenizer.ggml.merges")?;
	let token_types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
		None => Vec::new(),
		Some(v) => {
			let bad = |e: candle_core::Error| TokenizerError::Metadata {
				key: "tokenizer.ggml.token_type",
				reason: e.to_string(),
			};
			v.to_vec()
				.map_err(bad)?
				.iter()
				.map(|t| t.to_i32().map_err(bad))
				.collect::<Result<_, _>>()?
		},
	};

	let eos_token_id = optional_u32(content, "tokenizer.ggml.eos_token_id")?;
	let bos_token_id = optional_u32(content, "tokenizer.ggml.bos_token_id")?;
	let tokenizer_hash = tokenizer_hash(&TokenizerSpec {
		kind: model.as_bytes(),
		pre: pre.as_bytes(),
		tokens: &tokens,
		merges: &merges,
		token_types: &token_types,
		eos: eos_token_id,
		bos: bos_token_id,
	})
	.ok_or_else(|| TokenizerError::Metadata {
		key: "tokenizer.ggml.tokens",
		reason: "more than 2^32 entries".to_owned(),
	})?;

	let mut vocab = Map::with_capacity(tokens.len());
	let mut added_tokens = Vec::new();
	let mut control_token_ids = Vec::new();
	for (id, token) in (0u32..).zip(tokens.iter()) {
		vocab.insert(token.clone(), json!(id));
		let is_control = usize::try_from(id)
			.ok()
			.and_then(|i| token_types.get(i))
			.is_some_and(|&t| t == TOKEN_TYPE_CONTROL);
		if is_control {
			control_token_ids.push(id);
			added_tokens.push(json!({
				"id": id, "content": token, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": true
			}));
		}
	}

	let tokenizer_json = json!({
		"version": "1.0",
		"truncation": null,
		"padding": null,
		"added_tokens": added_tokens,
		"normalizer": null,
		"pre_tokenizer": pre_tokenizer,
		"post_processor": null,
		"decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": {
			"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
			"end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
			"vocab": Json::Object(vocab), "merges": merges
		}
	});
	let tokenizer = Tokenizer::from_str(&tokenizer_json.to_string())
		.map_err(|e| TokenizerError::Build(e.to_string()))?;

	Ok(GgufTokenizer {
		tokenizer,
		eos_token_id,
		bos_token_id,
		tokens,
		control_token_ids,
		tokenizer_hash,
	})
}

/// The `pre_tokenizer` JSON for a llama.cpp `tokenizer.ggml.pre` name.
///
/// Only names whose split rules are known to match are accepted; an unknown one would still load
/// but tokenize differently from the model's training, which is worse than refusing to start.
fn pre_tokenizer_for(pre: &str) -> Result<Json, TokenizerError> {
	let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
	match pre {
		// SmolLM / SmolLM2 (and StarCoder, whose tokenizer SmolLM reuses): digits split one by one,
		// then the GPT-2 byte-level regex.
		"smollm" | "starcoder" | "refact" => Ok(json!({
			"type": "Sequence",
			"pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level]
		})),
		// Plain GPT-2.
		"gpt2" | "default" | "" => Ok(byte_level),
		other => Err(TokenizerError::Unsupported(format!("tokenizer.ggml.pre = {other:?}"))),
	}
}
