//! Loading a GGUF model: weights, tokenizer, chat template and limits, all from the one file.
//!
//! The tokenizer and template are read from the metadata *before*
//! [`ModelWeights::from_gguf`] consumes it, so the three can never come from different files.
//! The file's weights root is computed with the primitives' streaming hasher at load time, so
//! `/v1/models` reports the exact value a node checks against the chain's model registry.

use std::{collections::BTreeSet, fs::File, path::PathBuf, time::Instant};

use atoma_primitives::WeightsDigest;
use candle_core::{quantized::gguf_file, Device};
use candle_transformers::models::quantized_llama::{ModelWeights, MAX_SEQ_LEN};
use tokenizers::Tokenizer;

use super::{
	chat::ChatTemplate,
	native::Tier,
	tokenizer::{self, TokenizerError},
};
use crate::config::{DeviceSpec, ModelSpec, Precision};

/// Architectures `quantized_llama` implements (Llama and models with the same block layout).
const SUPPORTED_ARCHITECTURES: &[&str] = &["llama"];

/// Control tokens that end a turn or a document in common chat formats. Generation stops on the
/// GGUF's `eos_token_id` and on any of these that the vocabulary has as a control token (SmolLM2:
/// `<|im_end|>` = 2 is the EOS, `<|endoftext|>` = 0 ends documents).
const END_MARKERS: &[&str] =
	&["<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|end|>", "</s>"];

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
	/// The file could not be opened or read.
	#[error("{path}: {source}")]
	Io {
		/// The model path.
		path: PathBuf,
		/// The I/O error.
		source: std::io::Error,
	},
	/// Candle could not parse the GGUF or build the model.
	#[error("{path}: {source}")]
	Candle {
		/// The model path.
		path: PathBuf,
		/// The candle error.
		source: candle_core::Error,
	},
	/// The tokenizer metadata is unusable.
	#[error("{path}: {source}")]
	Tokenizer {
		/// The model path.
		path: PathBuf,
		/// The tokenizer error.
		source: TokenizerError,
	},
	/// The chat template does not compile.
	#[error("{path}: chat template: {source}")]
	Template {
		/// The model path.
		path: PathBuf,
		/// The template error.
		source: minijinja::Error,
	},
	/// The model is not of an architecture this worker runs.
	#[error("{path}: architecture {architecture:?} is not supported (expected one of {SUPPORTED_ARCHITECTURES:?})")]
	Architecture {
		/// The model path.
		path: PathBuf,
		/// `general.architecture`.
		architecture: String,
	},
	/// The process environment does not give candle the requested precision.
	#[error(
		"precision {wanted} requested but candle will use {actual}: set {}=1 (or unset it) before \
		 any thread starts; atoma-worker does this itself",
		Precision::CANDLE_ENV
	)]
	Precision {
		/// Requested.
		wanted: &'static str,
		/// What the environment gives.
		actual: &'static str,
	},
	/// The native engine could not build the model.
	#[error("{path}: {source}")]
	Native {
		/// The model path.
		path: PathBuf,
		/// What failed.
		source: super::native::BuildError,
	},
	/// The native engine runs on the CPU only.
	#[error("precision native runs on the CPU; on {device} use --precision f32 or quantized")]
	NativeDevice {
		/// The device asked for.
		device: DeviceSpec,
	},
	/// The requested device is not available in this build or on this machine.
	#[error("device {device}: {source}")]
	Device {
		/// The device asked for.
		device: DeviceSpec,
		/// Candle's error.
		source: candle_core::Error,
	},
}

/// What the API reports about a served model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
	/// Public id.
	pub id: String,
	/// The GGUF path it was loaded from.
	pub path: PathBuf,
	/// `general.name`, if present.
	pub name: Option<String>,
	/// `general.architecture`.
	pub architecture: String,
	/// Usable context in tokens: the model's trained context capped by candle's
	/// `quantized_llama::MAX_SEQ_LEN` (its rotary tables end there).
	pub context_length: u32,
	/// Vocabulary size.
	pub vocab_size: u32,
	/// Token ids that end generation (EOS and end-of-turn markers).
	pub stop_token_ids: BTreeSet<u32>,
	/// Weights root of the file.
	pub weights: WeightsDigest,
	/// Tokenizer hash of the file's tokenizer metadata.
	pub tokenizer_hash: [u8; 32],
	/// Whether the chat template came from the model file.
	pub chat_template_from_model: bool,
	/// The device it runs on.
	pub device: DeviceSpec,
	/// Numeric format of the matmuls.
	pub precision: Precision,
	/// Seconds since the Unix epoch when it was loaded (OpenAI's `created`).
	pub loaded_at: u64,
}

/// The weights in the form the chosen engine runs.
pub enum Weights {
	/// Candle's model (f32 or quantized), one job at a time.
	Candle(Box<ModelWeights>),
	/// The native engine's model, shared by a batch of jobs.
	Native(Box<super::native::Model>),
}

/// A loaded model, ready for its engine thread.
pub struct LoadedModel {
	/// Reported metadata.
	pub info: ModelInfo,
	/// The weights (moved into the engine thread).
	pub weights: Weights,
	/// The tokenizer.
	pub tokenizer: Tokenizer,
	/// The chat template.
	pub template: ChatTemplate,
	/// The candle device.
	pub device: Device,
}

/// The candle device for `spec`. Without the `cuda` feature, `cuda` fails here with candle's
/// "not compiled with CUDA support" error instead of at the first forward pass.
pub fn device(spec: DeviceSpec) -> Result<Device, LoadError> {
	match spec {
		DeviceSpec::Cpu => Ok(Device::Cpu),
		DeviceSpec::Cuda(ordinal) => {
			Device::new_cuda(ordinal).map_err(|source| LoadError::Device { device: spec, source })
		},
	}
}

fn optional_string(content: &gguf_file::Content, key: &str) -> Option<String> {
	content.metadata.get(key).and_then(|v| v.to_string().ok()).cloned()
}

/// Load the model described by `spec` onto `device`.
pub fn load(
	spec: &ModelSpec,
	device_spec: DeviceSpec,
	device: &Device,
	precision: Precision,
	kernel_tier: Option<Tier>,
) -> Result<LoadedModel, LoadError> {
	if precision.is_candle() {
		let actual = Precision::from_env();
		if actual != precision {
			return Err(LoadError::Precision {
				wanted: precision.as_str(),
				actual: actual.as_str(),
			});
		}
	} else if device_spec != DeviceSpec::Cpu {
		return Err(LoadError::NativeDevice { device: device_spec });
	}
	let path = spec.path.clone();
	let io_err = |source| LoadError::Io { path: path.clone(), source };
	let candle_err = |source| LoadError::Candle { path: path.clone(), source };
	let started = Instant::now();

	let weights_digest = crate::weights::digest_file(&path).map_err(io_err)?;
	let mut file = File::open(&path).map_err(io_err)?;
	let content = gguf_file::Content::read(&mut file).map_err(candle_err)?;

	let architecture = optional_string(&content, "general.architecture").unwrap_or_default();
	if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
		return Err(LoadError::Architecture { path, architecture });
	}
	let trained_context = content
		.metadata
		.get(&format!("{architecture}.context_length"))
		.and_then(|v| v.to_u32().ok())
		.unwrap_or(u32::try_from(MAX_SEQ_LEN).unwrap_or(u32::MAX));
	let context_length = trained_context.min(u32::try_from(MAX_SEQ_LEN).unwrap_or(u32::MAX));
	let name = optional_string(&content, "general.name");
	let template_source = optional_string(&content, "tokenizer.chat_template");

	let tok = tokenizer::from_gguf(&content)
		.map_err(|source| LoadError::Tokenizer { path: path.clone(), source })?;
	let token_text = |id: Option<u32>| {
		id.and_then(|id| usize::try_from(id).ok())
			.and_then(|i| tok.tokens.get(i))
			.cloned()
			.unwrap_or_default()
	};
	let template = ChatTemplate::new(
		template_source,
		token_text(tok.bos_token_id),
		token_text(tok.eos_token_id),
	)
	.map_err(|source| LoadError::Template { path: path.clone(), source })?;

	let mut stop_token_ids: BTreeSet<u32> = tok.eos_token_id.into_iter().collect();
	for &id in &tok.control_token_ids {
		let text = usize::try_from(id).ok().and_then(|i| tok.tokens.get(i));
		if text.is_some_and(|t| END_MARKERS.contains(&t.as_str())) {
			stop_token_ids.insert(id);
		}
	}
	let vocab_size = u32::try_from(tok.tokens.len()).unwrap_or(u32::MAX);

	let weights = if precision.is_candle() {
		Weights::Candle(Box::new(
			ModelWeights::from_gguf(content, &mut file, device).map_err(candle_err)?,
		))
	} else {
		let context = usize::try_from(context_length).unwrap_or(usize::MAX);
		let model = super::native::Model::from_gguf(
			&content,
			&mut file,
			context,
			kernel_tier.unwrap_or_else(Tier::best),
		)
		.map_err(|source| LoadError::Native { path: path.clone(), source })?;
		tracing::info!(
			kernel_tier = model.tier().as_str(),
			weights_mib = model.weight_bytes() >> 20,
			"native engine"
		);
		Weights::Native(Box::new(model))
	};
	let loaded_at = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or(0);
	let info = ModelInfo {
		id: spec.id.clone(),
		path: path.clone(),
		name,
		architecture,
		context_length,
		vocab_size,
		stop_token_ids,
		weights: weights_digest,
		tokenizer_hash: tok.tokenizer_hash,
		chat_template_from_model: template.from_model,
		device: device_spec,
		precision,
		loaded_at,
	};
	tracing::info!(
		model = %info.id,
		path = %path.display(),
		context = info.context_length,
		precision = precision.as_str(),
		vocab = info.vocab_size,
		weights_root = %hex::encode(info.weights.root),
		elapsed_ms = started.elapsed().as_millis(),
		"model loaded"
	);
	Ok(LoadedModel { info, weights, tokenizer: tok.tokenizer, template, device: device.clone() })
}
