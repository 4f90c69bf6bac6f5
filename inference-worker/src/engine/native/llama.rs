//! A Llama forward pass over many sequences at once, every row computed alone.
//!
//! A batch is a list of [`Step`]s: some new tokens of one sequence each (a whole prompt, or the
//! one token sampled last). Their rows go through each matmul together, so the weights are read
//! once per step for all sequences, but no value of a row ever depends on another row: the
//! matmuls reduce each (weight row, activation row) pair alone ([`super::kernels`]), norms,
//! rotary embeddings and activations are per row, and attention reads only the row's own
//! sequence's cache. A request's logits are therefore the same bits alone, in any batch, with
//! any thread count.
//!
//! Each sequence owns its KV cache, allocated once for the most positions it may reach (prompt
//! plus `max_tokens`), and appended to in place. Keys and values are stored as IEEE half floats
//! (rounded to nearest even once, when written): a decode step reads the whole cache of every
//! layer, at long contexts as many bytes as the weights, and half floats halve them. Every row,
//! the prompt's included, attends to the rounded values, so a token's logits are the same
//! whether its prompt was fed in one step, in chunks, or token by token.

use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::{gguf_file, GgmlDType};
use half::{f16, slice::HalfFloatSliceExt};

use super::{
	kernels::{self, Tier},
	math::{self, Rope},
	quant::{FormatError, QActs, QMatrix, WeightFormat},
	team::{self, Out, Team},
};

/// Why the model could not be built from the file.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
	/// Reading the file failed.
	#[error("{0}")]
	Io(#[from] std::io::Error),
	/// A metadata key is missing or of the wrong type.
	#[error("metadata {0} is missing or not a number")]
	Metadata(String),
	/// A tensor is missing.
	#[error("tensor {0} is missing")]
	MissingTensor(String),
	/// A tensor has a format the kernels do not multiply.
	#[error("tensor {name} is {dtype:?}; the native engine multiplies Q4_1 and Q8_0 and reads F32 norms")]
	TensorFormat {
		/// The tensor.
		name: String,
		/// Its GGML type.
		dtype: GgmlDType,
	},
	/// A tensor's shape does not fit the model's dimensions.
	#[error("tensor {name}: {source}")]
	Shape {
		/// The tensor.
		name: String,
		/// What is wrong.
		source: FormatError,
	},
	/// The requested kernel tier cannot run on this CPU.
	#[error("kernel tier {0} is not supported by this CPU")]
	Tier(&'static str),
}

/// Why a forward pass was refused (before any state changed).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ForwardError {
	/// A step would write past its cache's capacity.
	#[error("sequence full: {len} + {new} positions exceed its capacity {capacity}")]
	CacheFull {
		/// Positions already cached.
		len: usize,
		/// Positions the step adds.
		new: usize,
		/// The cache's capacity.
		capacity: usize,
	},
	/// A token id is outside the vocabulary.
	#[error("token id {0} is outside the vocabulary")]
	UnknownToken(u32),
	/// A step has no tokens.
	#[error("a step must feed at least one token")]
	EmptyStep,
}

/// The dimensions of a Llama model, from the GGUF metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
	/// Transformer blocks.
	pub layers: usize,
	/// Embedding width.
	pub dim: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads (grouped-query attention).
	pub kv_heads: usize,
	/// Feed-forward width.
	pub ffn: usize,
	/// RMSNorm epsilon.
	pub eps: f32,
	/// RoPE frequency base.
	pub rope_base: f32,
	/// Vocabulary size.
	pub vocab: usize,
	/// Positions a sequence may use.
	pub context: usize,
}

impl Config {
	/// Width of a head.
	pub fn head_dim(&self) -> usize {
		self.dim / self.heads
	}

	/// Width of the keys (or values) of one position.
	pub fn kv_dim(&self) -> usize {
		self.kv_heads * self.head_dim()
	}
}

struct Layer {
	attn_norm: Vec<f32>,
	wq: QMatrix,
	wk: QMatrix,
	wv: QMatrix,
	wo: QMatrix,
	ffn_norm: Vec<f32>,
	gate: QMatrix,
	up: QMatrix,
	down: QMatrix,
}

/// The model, immutable once loaded and shared by every sequence.
pub struct Model {
	config: Config,
	tier: Tier,
	embedding: QMatrix,
	/// `output.weight`, or `None` when the output projection is the (tied) embedding.
	output: Option<QMatrix>,
	layers: Vec<Layer>,
	norm: Vec<f32>,
	rope: Rope,
}

/// The keys and values of one sequence, every layer, for up to `capacity` positions, in half
/// precision.
pub struct KvCache {
	keys: Vec<Vec<f16>>,
	values: Vec<Vec<f16>>,
	len: usize,
	capacity: usize,
}

/// New tokens of one sequence for one forward pass.
pub struct Step<'a> {
	/// The sequence's cache; the tokens take the positions after what it holds.
	pub cache: &'a mut KvCache,
	/// The tokens.
	pub tokens: &'a [u32],
}

/// Where a row of the batch belongs.
#[derive(Clone, Copy)]
struct RowAt {
	step: usize,
	position: usize,
}

fn metadata_u32(content: &gguf_file::Content, key: &str) -> Result<usize, BuildError> {
	content
		.metadata
		.get(key)
		.and_then(|v| v.to_u32().ok())
		.map(|v| v as usize)
		.ok_or_else(|| BuildError::Metadata(key.to_owned()))
}

fn metadata_f32(content: &gguf_file::Content, key: &str) -> Option<f32> {
	content.metadata.get(key).and_then(|v| v.to_f32().ok())
}

struct TensorReader<'a, R> {
	content: &'a gguf_file::Content,
	reader: &'a mut R,
}

impl<R: Read + Seek> TensorReader<'_, R> {
	fn raw(&mut self, name: &str) -> Result<(GgmlDType, Vec<usize>, Vec<u8>), BuildError> {
		let info = self
			.content
			.tensor_infos
			.get(name)
			.ok_or_else(|| BuildError::MissingTensor(name.to_owned()))?;
		let elements = info.shape.elem_count();
		let size = elements / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
		let mut bytes = vec![0u8; size];
		self.reader.seek(SeekFrom::Start(self.content.tensor_data_offset + info.offset))?;
		self.reader.read_exact(&mut bytes)?;
		Ok((info.ggml_dtype, info.shape.dims().to_vec(), bytes))
	}

	fn matrix(&mut self, name: &str) -> Result<QMatrix, BuildError> {
		let (dtype, dims, bytes) = self.raw(name)?;
		let format = match dtype {
			GgmlDType::Q4_1 => WeightFormat::Q4_1,
			GgmlDType::Q8_0 => WeightFormat::Q8_0,
			dtype => return Err(BuildError::TensorFormat { name: name.to_owned(), dtype }),
		};
		let (rows, cols) = match dims.as_slice() {
			[rows, cols] => (*rows, *cols),
			_ => {
				return Err(BuildError::Shape {
					name: name.to_owned(),
					source: FormatError::RowLength(0),
				})
			},
		};
		QMatrix::from_gguf_blocks(format, rows, cols, &bytes)
			.map_err(|source| BuildError::Shape { name: name.to_owned(), source })
	}

	fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, BuildError> {
		let (dtype, _, bytes) = self.raw(name)?;
		if dtype != GgmlDType::F32 || bytes.len() != 4 * len {
			return Err(BuildError::TensorFormat { name: name.to_owned(), dtype });
		}
		Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
	}
}

fn expect_shape(name: &str, m: &QMatrix, rows: usize, cols: usize) -> Result<(), BuildError> {
	if m.rows == rows && m.cols == cols {
		Ok(())
	} else {
		Err(BuildError::Shape {
			name: name.to_owned(),
			source: FormatError::Size {
				format: m.format,
				rows,
				cols,
				expected: rows * cols,
				actual: m.rows * m.cols,
			},
		})
	}
}

impl Model {
	/// Build the model from a parsed GGUF file, for sequences of at most `context` positions,
	/// with the kernels of `tier`.
	pub fn from_gguf<R: Read + Seek>(
		content: &gguf_file::Content,
		reader: &mut R,
		context: usize,
		tier: Tier,
	) -> Result<Self, BuildError> {
		if !tier.is_supported() {
			return Err(BuildError::Tier(tier.as_str()));
		}
		let layers_count = metadata_u32(content, "llama.block_count")?;
		let dim = metadata_u32(content, "llama.embedding_length")?;
		let heads = metadata_u32(content, "llama.attention.head_count")?;
		let kv_heads = metadata_u32(content, "llama.attention.head_count_kv")?;
		let ffn = metadata_u32(content, "llama.feed_forward_length")?;
		let eps = metadata_f32(content, "llama.attention.layer_norm_rms_epsilon")
			.ok_or_else(|| BuildError::Metadata("llama.attention.layer_norm_rms_epsilon".into()))?;
		let rope_base = metadata_f32(content, "llama.rope.freq_base").unwrap_or(10_000.0);
		if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
			return Err(BuildError::Metadata("llama.attention.head_count(_kv)".into()));
		}
		let mut tensors = TensorReader { content, reader };
		let embedding = tensors.matrix("token_embd.weight")?;
		let vocab = embedding.rows;
		let config = Config {
			layers: layers_count,
			dim,
			heads,
			kv_heads,
			ffn,
			eps,
			rope_base,
			vocab,
			context,
		};
		expect_shape("token_embd.weight", &embedding, vocab, dim)?;
		let output = match content.tensor_infos.contains_key("output.weight") {
			true => {
				let m = tensors.matrix("output.weight")?;
				expect_shape("output.weight", &m, vocab, dim)?;
				Some(m)
			},
			false => None,
		};
		let norm = tensors.vector("output_norm.weight", dim)?;
		let kv_dim = config.kv_dim();
		let mut layers = Vec::with_capacity(layers_count);
		for l in 0..layers_count {
			let mut matrix = |suffix: &str, rows: usize, cols: usize| {
				let name = format!("blk.{l}.{suffix}");
				let m = tensors.matrix(&name)?;
				expect_shape(&name, &m, rows, cols)?;
				Ok::<_, BuildError>(m)
			};
			let wq = matrix("attn_q.weight", dim, dim)?;
			let wk = matrix("attn_k.weight", kv_dim, dim)?;
			let wv = matrix("attn_v.weight", kv_dim, dim)?;
			let wo = matrix("attn_output.weight", dim, dim)?;
			let gate = matrix("ffn_gate.weight", ffn, dim)?;
			let up = matrix("ffn_up.weight", ffn, dim)?;
			let down = matrix("ffn_down.weight", dim, ffn)?;
			let attn_norm = tensors.vector(&format!("blk.{l}.attn_norm.weight"), dim)?;
			let ffn_norm = tensors.vector(&format!("blk.{l}.ffn_norm.weight"), dim)?;
			layers.push(Layer { attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down });
		}
		let rope = Rope::new(config.head_dim(), rope_base, context);
		Ok(Self { config, tier, embedding, output, layers, norm, rope })
	}

	/// The model's dimensions.
	pub fn config(&self) -> &Config {
		&self.config
	}

	/// The kernel tier it runs.
	pub fn tier(&self) -> Tier {
		self.tier
	}

	/// Bytes of weights held.
	pub fn weight_bytes(&self) -> usize {
		let layers: usize = self
			.layers
			.iter()
			.map(|l| {
				[&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
					.iter()
					.map(|m| m.size_bytes())
					.sum::<usize>() + 4 * (l.attn_norm.len() + l.ffn_norm.len())
			})
			.sum();
		layers + self.embedding.size_bytes() + self.output.as_ref().map_or(0, |m| m.size_bytes())
	}

	/// An empty cache for a sequence of at most `capacity` positions (capped at the context).
	pub fn new_cache(&self, capacity: usize) -> KvCache {
		let capacity = capacity.min(self.config.context);
		let size = capacity * self.config.kv_dim();
		KvCache {
			keys: (0..self.config.layers).map(|_| Vec::with_capacity(size)).collect(),
			values: (0..self.config.layers).map(|_| Vec::with_capacity(size)).collect(),
			len: 0,
			capacity,
		}
	}

	/// Run the steps' tokens through the model, append them to their caches, and leave each
	/// step's logits for its last token in `logits` (`vocab` values a step, step after step;
	/// resized as needed, so a caller that keeps the buffer from step to step neither allocates
	/// nor clears it). Refuses the whole batch, changing nothing, when any step is empty,
	/// overflows its cache or holds an unknown token.
	pub fn forward(
		&self,
		steps: &mut [Step<'_>],
		logits: &mut Vec<f32>,
	) -> Result<(), ForwardError> {
		let c = &self.config;
		let mut rows = Vec::new();
		for (s, step) in steps.iter().enumerate() {
			if step.tokens.is_empty() {
				return Err(ForwardError::EmptyStep);
			}
			let (len, new, capacity) = (step.cache.len, step.tokens.len(), step.cache.capacity);
			if len + new > capacity {
				return Err(ForwardError::CacheFull { len, new, capacity });
			}
			if let Some(&t) = step.tokens.iter().find(|&&t| t as usize >= c.vocab) {
				return Err(ForwardError::UnknownToken(t));
			}
			rows.extend((0..new).map(|i| RowAt { step: s, position: len + i }));
		}
		// One team of threads for the whole pass: its parallel loops do not go back to the pool.
		logits.resize(steps.len() * c.vocab, 0.0);
		team::lead(|team| self.forward_rows(team, steps, &rows, logits));
		Ok(())
	}

	/// [`Self::forward`] on checked steps; `rows` says where each new token belongs.
	fn forward_rows(
		&self,
		team: &Team<'_>,
		steps: &mut [Step<'_>],
		rows: &[RowAt],
		logits: &mut [f32],
	) {
		let c = &self.config;
		let n = rows.len();
		let (dim, kv_dim, head_dim) = (c.dim, c.kv_dim(), c.head_dim());

		let mut x = vec![0.0f32; n * dim];
		let mut r = 0;
		for step in steps.iter() {
			for &t in step.tokens {
				self.embedding.dequantize_row(t as usize, &mut x[r * dim..(r + 1) * dim]);
				r += 1;
			}
		}

		let mut normed = vec![0.0f32; n * dim];
		let mut acts = QActs::with_layout(self.tier.lane_layout());
		let mut q = vec![0.0f32; n * dim];
		let mut k = vec![0.0f32; n * kv_dim];
		let mut v = vec![0.0f32; n * kv_dim];
		let mut attended = vec![0.0f32; n * dim];
		let mut projected = vec![0.0f32; n * dim];
		let mut gate = vec![0.0f32; n * c.ffn];
		let mut up = vec![0.0f32; n * c.ffn];
		let scale = 1.0 / (head_dim as f32).sqrt();
		let group = c.heads / c.kv_heads;

		for (l, layer) in self.layers.iter().enumerate() {
			// Each row normalized and quantized by one thread.
			acts.quantize_rows_on(team, &mut normed, dim, |i, row| {
				math::rms_norm(&x[i * dim..(i + 1) * dim], &layer.attn_norm, c.eps, row);
			});
			kernels::matmul_group(
				team,
				self.tier,
				&acts,
				&mut [(&layer.wq, &mut q), (&layer.wk, &mut k), (&layer.wv, &mut v)],
			);
			// Each cache grows by its step's new positions; then each row, on one thread, turns
			// its query and key by its position and stores its key and value at that position.
			for step in steps.iter_mut() {
				let end = (step.cache.len + step.tokens.len()) * kv_dim;
				step.cache.keys[l].resize(end, f16::ZERO);
				step.cache.values[l].resize(end, f16::ZERO);
			}
			let (q_at, k_at) = (Out(q.as_mut_ptr()), Out(k.as_mut_ptr()));
			let slots: Vec<(Out<f16>, Out<f16>)> = steps
				.iter_mut()
				.map(|s| (Out(s.cache.keys[l].as_mut_ptr()), Out(s.cache.values[l].as_mut_ptr())))
				.collect();
			team.for_each(n, |i| {
				let row = rows[i];
				let (keys, values) = slots[row.step];
				// SAFETY: item `i` alone touches row `i` of `q` and `k` and position
				// `row.position` of its step's caches (each row of a step has its own position,
				// below the length just given to the caches); all outlive the loop.
				let (q, k, key, value) = unsafe {
					(
						q_at.cells(i * dim, dim),
						k_at.cells(i * kv_dim, kv_dim),
						keys.cells(row.position * kv_dim, kv_dim),
						values.cells(row.position * kv_dim, kv_dim),
					)
				};
				self.rope.apply(q, row.position);
				self.rope.apply(k, row.position);
				store_half(key, k);
				store_half(value, &v[i * kv_dim..(i + 1) * kv_dim]);
			});
			let caches: Vec<(&[f16], &[f16])> =
				steps.iter().map(|s| (&s.cache.keys[l][..], &s.cache.values[l][..])).collect();
			// One item per (row, key-value head): the query heads that share a key-value head
			// read its keys and values once for all of them (`attend_group`).
			let attended_at = Out(attended.as_mut_ptr());
			team.for_each(n * c.kv_heads, |cell| {
				let (i, g) = (cell / c.kv_heads, cell % c.kv_heads);
				let row = rows[i];
				let (keys, values) = caches[row.step];
				// SAFETY: cell `cell` is the only writer of its `group * head_dim` values of
				// `attended` (heads `g * group..`), which holds `n * heads * head_dim` of them and
				// outlives the loop.
				let out = unsafe { attended_at.cells(cell * group * head_dim, group * head_dim) };
				let heads = math::Group {
					queries: &q[i * dim + g * group * head_dim..][..group * head_dim],
					dim: head_dim,
					keys,
					values,
					stride: kv_dim,
					offset: g * head_dim,
					positions: row.position + 1,
					scale,
				};
				SCORES.with_borrow_mut(|scores| math::attend_group(&heads, scores, out));
			});
			acts.quantize_rows_on(team, &mut attended, dim, |_, _| {});
			kernels::matmul_group(team, self.tier, &acts, &mut [(&layer.wo, &mut projected)]);

			// The residual, then the feed-forward's input, row by row.
			let x_at = Out(x.as_mut_ptr());
			acts.quantize_rows_on(team, &mut normed, dim, |i, row| {
				// SAFETY: item `i` alone touches row `i` of `x` (`n` rows), which outlives the
				// loop and is not otherwise borrowed during it.
				let xi = unsafe { x_at.cells(i * dim, dim) };
				for (xv, p) in xi.iter_mut().zip(&projected[i * dim..(i + 1) * dim]) {
					*xv += p;
				}
				math::rms_norm(xi, &layer.ffn_norm, c.eps, row);
			});
			kernels::matmul_group(
				team,
				self.tier,
				&acts,
				&mut [(&layer.gate, &mut gate), (&layer.up, &mut up)],
			);
			acts.quantize_rows_on(team, &mut gate, c.ffn, |i, g| {
				math::silu_mul(g, &up[i * c.ffn..(i + 1) * c.ffn]);
			});
			kernels::matmul_group(team, self.tier, &acts, &mut [(&layer.down, &mut projected)]);
			for (xi, pi) in x.iter_mut().zip(&projected) {
				*xi += pi;
			}
		}
		for step in steps.iter_mut() {
			step.cache.len += step.tokens.len();
		}

		// Only each step's last row is projected onto the vocabulary.
		let mut last_rows = Vec::with_capacity(steps.len() * dim);
		let mut end = 0;
		for step in steps.iter() {
			end += step.tokens.len();
			let mut out = vec![0.0f32; dim];
			math::rms_norm(&x[(end - 1) * dim..end * dim], &self.norm, c.eps, &mut out);
			last_rows.extend_from_slice(&out);
		}
		acts.quantize(&last_rows, dim);
		let output = self.output.as_ref().unwrap_or(&self.embedding);
		kernels::matmul_group(team, self.tier, &acts, &mut [(output, logits)]);
	}
}

thread_local! {
	/// Each thread's attention scores, reused across heads and passes.
	static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Store `row` in `slot`, each value rounded to the nearest half float (ties to even: the same
/// bits whether `half` converts in software or with F16C).
fn store_half(slot: &mut [f16], row: &[f32]) {
	slot.convert_from_f32_slice(row);
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_cache_rounds_to_the_nearest_half_float_ties_to_even() {
		let ulp = 2f32.powi(-10);
		// Halfway cases round to the even neighbour; others to the nearest.
		let row = [1.0 + ulp / 2.0, 1.0 + 3.0 * ulp / 2.0, 1.0 + ulp / 4.0, -4.0e-8, 70_000.0];
		let mut cache = [f16::ZERO; 5];
		store_half(&mut cache, &row);
		let got: Vec<f32> = cache.iter().map(|h| h.to_f32()).collect();
		assert_eq!(got, [1.0, 1.0 + 2.0 * ulp, 1.0, -5.9604645e-8, f32::INFINITY]);
		// The bulk conversion (F16C where the CPU has it) agrees with the scalar definition.
		let many: Vec<f32> =
			(0..4096).map(|i| ((i * 7919 % 4096) as f32 - 2048.0) * 0.37e-3).collect();
		let mut bulk = vec![f16::ZERO; many.len()];
		store_half(&mut bulk, &many);
		let scalar: Vec<u16> = many.iter().map(|&x| f16::from_f32(x).to_bits()).collect();
		assert_eq!(bulk.iter().map(|h| h.to_bits()).collect::<Vec<_>>(), scalar);
	}
}
