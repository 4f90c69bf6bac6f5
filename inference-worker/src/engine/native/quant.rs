//! Block formats: the GGUF weights as they are on disk, and the activations quantized to 16 bits
//! per value before every matmul.
//!
//! A weight matrix keeps the file's blocks of 32 values (`Q4_1`: 4-bit values with an f16 scale
//! and minimum; `Q8_0`: 8-bit values with an f16 scale), split into planes (quants, scales,
//! minimums) so that the kernels read each with plain loads. Nothing is dequantized: a matrix
//! takes the bytes the file gives it.
//!
//! An activation row is quantized to 16 bits per value: per block of 32, `d = max|x| / 32767` and
//! `q = round(x / d)`, so `q` is in [-32767, 32767]. (llama.cpp and candle use 8 bits, `Q8_1`;
//! measured on the reference model, 8-bit activations change greedy answers, e.g. "What is the
//! capital of France?" stops being answered "Paris", while 16 bits keep the f32 answers, and cost
//! little: the products are still exact integer multiply-adds.) The block's integer sum of `q` is
//! kept with it for the `Q4_1` minimum term. Quantizing is shared by every kernel tier, so every
//! tier sees the same integers: the scalar definition, or its AVX-512 copy (the same steps,
//! tested equal) where the CPU has it.

use half::f16;

use super::team::{Out, Team};

/// Values per block, in every format here.
pub const BLOCK: usize = 32;

/// The weight formats the kernels multiply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
	/// 32 unsigned 4-bit values `q`, value = `d * q + m`.
	Q4_1,
	/// 32 signed 8-bit values `q`, value = `d * q`.
	Q8_0,
}

impl WeightFormat {
	/// Bytes of one block in the GGUF file.
	pub fn block_bytes(self) -> usize {
		match self {
			Self::Q4_1 => 20,
			Self::Q8_0 => 34,
		}
	}

	/// Bytes of quants per block once split into planes.
	pub fn quant_bytes(self) -> usize {
		match self {
			Self::Q4_1 => BLOCK / 2,
			Self::Q8_0 => BLOCK,
		}
	}
}

/// Why a tensor's bytes are not a matrix of the given shape and format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
	/// The row length is not a whole number of blocks.
	#[error("row length {0} is not a multiple of {BLOCK}")]
	RowLength(usize),
	/// The byte count does not match the shape.
	#[error("{format:?} matrix of {rows}x{cols} needs {expected} bytes, got {actual}")]
	Size {
		/// The format.
		format: WeightFormat,
		/// Rows.
		rows: usize,
		/// Columns.
		cols: usize,
		/// Bytes the shape needs.
		expected: usize,
		/// Bytes given.
		actual: usize,
	},
}

/// A quantized weight matrix, `rows` outputs by `cols` inputs, each row a run of blocks.
#[derive(Debug, Clone)]
pub struct QMatrix {
	/// The block format.
	pub format: WeightFormat,
	/// Output dimension.
	pub rows: usize,
	/// Input dimension (a multiple of [`BLOCK`]).
	pub cols: usize,
	/// Quants, row-major: `rows * blocks_per_row * quant_bytes` bytes. `Q4_1` packs element `i`
	/// of a block in the low nibble of byte `i` and element `16 + i` in its high nibble.
	pub quants: Vec<u8>,
	/// Per-block scales `d`, as f16 bits, row-major.
	pub scales: Vec<u16>,
	/// Per-block minimums `m` (`Q4_1` only; empty for `Q8_0`), as f16 bits, row-major.
	pub mins: Vec<u16>,
}

impl QMatrix {
	/// Split a GGUF tensor's raw blocks into planes.
	pub fn from_gguf_blocks(
		format: WeightFormat,
		rows: usize,
		cols: usize,
		bytes: &[u8],
	) -> Result<Self, FormatError> {
		if !cols.is_multiple_of(BLOCK) || cols == 0 {
			return Err(FormatError::RowLength(cols));
		}
		let blocks = rows * (cols / BLOCK);
		let expected = blocks * format.block_bytes();
		if bytes.len() != expected {
			return Err(FormatError::Size { format, rows, cols, expected, actual: bytes.len() });
		}
		let mut quants = Vec::with_capacity(blocks * format.quant_bytes());
		let mut scales = Vec::with_capacity(blocks);
		let mut mins = Vec::with_capacity(if format == WeightFormat::Q4_1 { blocks } else { 0 });
		for block in bytes.chunks_exact(format.block_bytes()) {
			let half_at = |i: usize| u16::from_le_bytes([block[i], block[i + 1]]);
			match format {
				WeightFormat::Q4_1 => {
					scales.push(half_at(0));
					mins.push(half_at(2));
					quants.extend_from_slice(&block[4..]);
				},
				WeightFormat::Q8_0 => {
					scales.push(half_at(0));
					quants.extend_from_slice(&block[2..]);
				},
			}
		}
		Ok(Self { format, rows, cols, quants, scales, mins })
	}

	/// Blocks in a row.
	pub fn blocks_per_row(&self) -> usize {
		self.cols / BLOCK
	}

	/// Row `r` as f32 values (the embedding lookup; exact: `d * q (+ m)` rounded once or twice,
	/// the same on every machine).
	pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
		let nb = self.blocks_per_row();
		let qb = self.format.quant_bytes();
		for b in 0..nb {
			let block = r * nb + b;
			let d = f16::from_bits(self.scales[block]).to_f32();
			let quants = &self.quants[block * qb..(block + 1) * qb];
			let out = &mut out[b * BLOCK..(b + 1) * BLOCK];
			match self.format {
				WeightFormat::Q4_1 => {
					let m = f16::from_bits(self.mins[block]).to_f32();
					for (i, &byte) in quants.iter().enumerate() {
						out[i] = d * f32::from(byte & 0x0f) + m;
						out[i + BLOCK / 2] = d * f32::from(byte >> 4) + m;
					}
				},
				WeightFormat::Q8_0 => {
					for (o, &q) in out.iter_mut().zip(quants) {
						*o = d * f32::from(q as i8);
					}
				},
			}
		}
	}

	/// Bytes held.
	pub fn size_bytes(&self) -> usize {
		self.quants.len() + 2 * (self.scales.len() + self.mins.len())
	}
}

/// The largest activation quant.
pub const ACT_MAX: f32 = 32_767.0;

/// Activation rows quantized to 16 bits per value, `rows` by `cols`.
#[derive(Debug, Default, Clone)]
pub struct QActs {
	/// Columns (a multiple of [`BLOCK`]).
	pub cols: usize,
	/// Row count.
	pub rows: usize,
	/// Quants, row-major, in [-32767, 32767].
	pub quants: Vec<i16>,
	/// Per-block scales `d`.
	pub scales: Vec<f32>,
	/// Per-block `d * sum(q)` (the `Q4_1` minimum term's factor).
	pub scaled_sums: Vec<f32>,
	/// The same rows side by side for the batched kernel, in groups of [`LANE_ROWS`] (the last
	/// group padded with zero rows) and blocks taken two by two (a last odd block padded with a
	/// zero block): for each group, block pair and pair `j` of a block, for each of the group's
	/// rows, the pair `(q[2j], q[2j + 1])` of the first block then of the second, each as one
	/// `i32` (low half first), at the index `lane_index` computes.
	pub lane_pairs: Vec<Line<i32>>,
	/// For each group and block pair, for each row, the two blocks' `scales` (at `lane_cell`).
	pub lane_scales: Vec<Line<f32>>,
	/// For each group and block pair, for each row, the two blocks' `scaled_sums`.
	pub lane_sums: Vec<Line<f32>>,
	/// [`LaneLayout::Pairs`]: the one or two rows left over after the lane groups (rows
	/// `lane_groups() * LANE_ROWS..rows`, which AVX2's single-token kernel takes), each block's
	/// values in the order that kernel unpacks `Q4_1` weights in without widening them: value
	/// [`single_order`]`(p)` at position `p`.
	pub single_rows: Vec<i16>,
	/// The layout the matmul's tier prefers ([`QActs::with_layout`]).
	pub preferred: LaneLayout,
	/// The layout `quantize` filled: the preferred one, except that [`LaneLayout::Tiles`] is
	/// kept for batches of [`TILE_MIN_GROUPS`] lane groups or more (fewer are left as
	/// [`LaneLayout::Rows`], for AVX-512's panels).
	pub layout: LaneLayout,
	/// [`LaneLayout::Tiles`]: for each lane group and block pair, two AMX tiles of 16 rows by 64
	/// bytes, the quants' high bytes (`q >> 8`, signed) then their low bytes (`q & 0xff`,
	/// unsigned), so that `q = 256 * high + low`. A tile has 16 columns of four bytes, one per
	/// (block `j` of the pair, row `n` of the group), column `8j + n`; its 64 bytes down a column
	/// are the 64 values of the pair in [`tile_k`]'s order, the other block's zero (AMX's layout
	/// for the right-hand matrix: byte `i` of row `k` in column `c` is value `4k + i`). Tile `p` of
	/// group `g`'s pair `bp` starts at byte `((g * pairs + bp) * 2 + p) * 1024`; the padding rows
	/// of a last group, and the missing second block of a last odd pair, are zero.
	pub lane_tiles: Vec<Line<i32>>,
	/// [`LaneLayout::Tiles`]: for each lane group and block pair, a line of the 16 columns'
	/// `scales`; `tile_sums` the same of their `scaled_sums`.
	pub tile_scales: Vec<Line<f32>>,
	/// See `tile_scales`.
	pub tile_sums: Vec<Line<f32>>,
}

/// How [`QActs`] lays out its lane groups for the batched kernels (see [`QActs::lane_groups`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum LaneLayout {
	/// No lanes: the kernels read the rows (`quants`, `scales`, `scaled_sums`) as they are.
	#[default]
	Rows,
	/// Pairs of 16-bit values side by side (`lane_pairs`), for AVX2's `madd`.
	Pairs,
	/// AMX tiles of the values' high and low bytes, a group's eight rows by a block pair
	/// (`lane_tiles`).
	Tiles,
}

/// Sixteen 32-bit values on one 64-byte cache line, so that the batched kernel's loads (one
/// block pair's values for eight tokens) never straddle two lines: unaligned, every 64-byte load
/// would be two.
#[derive(Debug, Default, Clone, Copy)]
#[repr(C, align(64))]
pub struct Line<T>(pub [T; 16]);

/// Lane groups from which [`LaneLayout::Tiles`] is used when preferred: three (17 rows and up,
/// prompts); one or two groups (decoding up to sixteen requests) keep [`LaneLayout::Rows`] for
/// AVX-512's panels. Measured on this project's VM (two threads): `kernel_speed` on a 49152 x 576
/// matrix, 16 rows 159 GMAC/s on panels against 156 on tiles, 24 rows 150 against 178; a whole
/// run of 16 concurrent requests 578 tok/s with panels against 531 with tiles, 12 requests 568
/// against 451 (`docs/benchmarks.md`).
pub const TILE_MIN_GROUPS: usize = 3;

/// Bytes of one of [`QActs::lane_tiles`]' tiles: 16 rows of 64.
pub const TILE_BYTES: usize = 1024;

/// Where value `e` of block `j` (0 or 1) of a block pair sits along the 64 products a tile row
/// sums: the first block's values `0..16`, the second's, then the first's `16..32` and the
/// second's. (The order a `Q4_1` block pair unpacks to with the fewest instructions: the low
/// nibbles of its 32 bytes, then the high ones.)
pub fn tile_k(j: usize, e: usize) -> usize {
	(j + 2 * (e / 16)) * 16 + e % 16
}

/// The value of a block that [`QActs::single_rows`] holds at position `p`: the even values of
/// the block's first half, its odd ones, then the same of its second half. A 16-bit word of a
/// `Q4_1` block's 16 bytes holds bytes `2k` and `2k + 1`, whose four nibbles are values `2k`,
/// `2k + 1`, `16 + 2k` and `17 + 2k`: masks and shifts of the words give the four groups of eight
/// in this order, already 16 bits wide.
pub const fn single_order(p: usize) -> usize {
	16 * (p / 16) + 2 * (p % 8) + (p % 16) / 8
}

/// Rows in one group of [`QActs::lane_pairs`]: eight rows times two blocks fill a 512-bit
/// register of `i32`s or `f32`s.
pub const LANE_ROWS: usize = 8;

impl QActs {
	/// Empty activations whose lane groups will be laid out as `preferred` (see `layout`).
	pub fn with_layout(preferred: LaneLayout) -> Self {
		Self { preferred, ..Self::default() }
	}

	/// Quantize `x` (`rows` rows of `cols` values) into `self`, reusing its buffers.
	pub fn quantize(&mut self, x: &[f32], cols: usize) {
		self.resize(x.len() / cols, cols);
		quantize_blocks(x, &mut self.quants, &mut self.scales, &mut self.scaled_sums);
		self.lay_out(&Team::alone());
	}

	/// Quantize the rows of `x` (`cols` values each) into `self`, the rows spread over `team`:
	/// each row is first handed to `prepare(row index, row)` (to be computed in place: a norm,
	/// the feed-forward's gating), then quantized by the thread that prepared it. Rows are
	/// quantized block by block, each on its own, so the split changes no bit.
	pub fn quantize_rows_on(
		&mut self,
		team: &Team<'_>,
		x: &mut [f32],
		cols: usize,
		prepare: impl Fn(usize, &mut [f32]) + Sync,
	) {
		let rows = x.len() / cols;
		self.resize(rows, cols);
		let blocks = cols / BLOCK;
		let (xs, quants, scales, sums) = (
			Out(x.as_mut_ptr()),
			Out(self.quants.as_mut_ptr()),
			Out(self.scales.as_mut_ptr()),
			Out(self.scaled_sums.as_mut_ptr()),
		);
		team.for_each(rows, |i| {
			// SAFETY: item `i` alone touches row `i` of `x` and of the buffers (just resized to
			// `rows` rows), which outlive the loop.
			let (x, q, d, s) = unsafe {
				(
					xs.cells(i * cols, cols),
					quants.cells(i * cols, cols),
					scales.cells(i * blocks, blocks),
					sums.cells(i * blocks, blocks),
				)
			};
			prepare(i, x);
			quantize_blocks(x, q, d, s);
		});
		self.lay_out(team);
	}

	/// Size the row buffers for `rows` rows of `cols` values.
	fn resize(&mut self, rows: usize, cols: usize) {
		debug_assert!(cols.is_multiple_of(BLOCK));
		self.cols = cols;
		self.rows = rows;
		self.quants.resize(rows * cols, 0);
		self.scales.resize(rows * cols / BLOCK, 0.0);
		self.scaled_sums.resize(rows * cols / BLOCK, 0.0);
	}

	/// Prefer `preferred` from now on, and lay the rows out again.
	pub fn set_layout(&mut self, preferred: LaneLayout) {
		self.preferred = preferred;
		self.lay_out(&Team::alone());
	}

	/// Fill the lanes of the layout `layout` names (see there), the lane groups spread over
	/// `team`.
	fn lay_out(&mut self, team: &Team<'_>) {
		self.layout = match self.preferred {
			LaneLayout::Tiles if self.lane_groups() >= TILE_MIN_GROUPS => LaneLayout::Tiles,
			LaneLayout::Tiles | LaneLayout::Rows => LaneLayout::Rows,
			LaneLayout::Pairs => LaneLayout::Pairs,
		};
		match self.layout {
			LaneLayout::Rows => {},
			LaneLayout::Pairs => self.fill_lanes(),
			LaneLayout::Tiles => self.fill_tiles(team),
		}
	}

	/// Derive `lane_tiles`, `tile_scales` and `tile_sums` from the rows (done by `quantize`),
	/// one lane group per item of `team`'s loop (each group's tiles are its own).
	fn fill_tiles(&mut self, team: &Team<'_>) {
		let nb = self.blocks_per_row();
		let pairs = nb.div_ceil(2);
		let groups = self.lane_groups();
		let group_bytes = pairs * 2 * TILE_BYTES;
		// Every cell is written below, the padding (zeros) included.
		self.lane_tiles.resize(groups * group_bytes / 64, Line::default());
		self.tile_scales.resize(groups * pairs, Line::default());
		self.tile_sums.resize(groups * pairs, Line::default());
		let tiles = Out(self.lane_tiles.as_mut_ptr().cast::<u8>());
		let (scales, sums) = (Out(self.tile_scales.as_mut_ptr()), Out(self.tile_sums.as_mut_ptr()));
		let rows = self.rows;
		let (quants, row_scales, row_sums) = (&self.quants, &self.scales, &self.scaled_sums);
		team.for_each(groups, |g| {
			// SAFETY: item `g` alone writes group `g`'s tiles (`group_bytes` bytes of plain
			// `i32` lines, any byte valid) and its `pairs` lines of scales and sums, all within
			// the buffers just resized, which outlive the loop.
			let (bytes, scales, sums) = unsafe {
				(
					tiles.cells(g * group_bytes, group_bytes),
					scales.cells(g * pairs, pairs),
					sums.cells(g * pairs, pairs),
				)
			};
			bytes.fill(0);
			scales.fill(Line::default());
			sums.fill(Line::default());
			for row in g * LANE_ROWS..rows.min((g + 1) * LANE_ROWS) {
				let n = row % LANE_ROWS;
				for b in 0..nb {
					let (pair, j) = (b / 2, b % 2);
					let block = row * nb + b;
					let tile = pair * 2 * TILE_BYTES;
					let column = j * LANE_ROWS + n;
					for (e, &q) in quants[block * BLOCK..(block + 1) * BLOCK].iter().enumerate() {
						let k = tile_k(j, e);
						let at = tile + (k / 4) * 64 + column * 4 + k % 4;
						bytes[at] = (q >> 8) as u8;
						bytes[at + TILE_BYTES] = q as u8;
					}
					scales[pair].0[column] = row_scales[block];
					sums[pair].0[column] = row_sums[block];
				}
			}
		});
	}

	/// Derive `lane_pairs`, `lane_scales` and `lane_sums` from the rows (done by `quantize`).
	fn fill_lanes(&mut self) {
		let nb = self.blocks_per_row();
		let groups = self.lane_groups();
		let cells = groups * nb.div_ceil(2) * LANE_ROWS * 2;
		// Every cell is written below but the padding (the rows a last group lacks, the block a
		// last odd pair lacks), which must read zero: clear only when there is some. (Clearing
		// every time measured 1% of a batched decode step.)
		if self.rows < groups * LANE_ROWS || !nb.is_multiple_of(2) {
			self.lane_pairs.clear();
			self.lane_scales.clear();
			self.lane_sums.clear();
		}
		self.lane_pairs.resize(cells * BLOCK / 2 / 16, Line::default());
		self.lane_scales.resize(cells / 16, Line::default());
		self.lane_sums.resize(cells / 16, Line::default());
		for row in 0..self.rows.min(groups * LANE_ROWS) {
			for b in 0..nb {
				let quants = &self.quants[(row * nb + b) * BLOCK..(row * nb + b + 1) * BLOCK];
				// Pair j is at `lane_index(row, b, 0) + 16 j`: the same slot of successive lines.
				let first = self.lane_index(row, b, 0);
				let (line, slot) = (first / 16, first % 16);
				let lines = &mut self.lane_pairs[line..line + BLOCK / 2];
				for j in 0..BLOCK / 2 {
					let (low, high) = (quants[2 * j] as u16, quants[2 * j + 1] as u16);
					lines[j].0[slot] = (u32::from(low) | (u32::from(high) << 16)) as i32;
				}
				let cell = self.lane_cell(row, b);
				self.lane_scales[cell / 16].0[cell % 16] = self.scales[row * nb + b];
				self.lane_sums[cell / 16].0[cell % 16] = self.scaled_sums[row * nb + b];
			}
		}
		let singles = &self.quants[self.first_single_row() * self.cols..self.rows * self.cols];
		self.single_rows.resize(singles.len(), 0);
		for (block, values) in
			self.single_rows.chunks_exact_mut(BLOCK).zip(singles.chunks_exact(BLOCK))
		{
			for (p, value) in block.iter_mut().enumerate() {
				*value = values[single_order(p)];
			}
		}
	}

	/// The groups of [`LANE_ROWS`] rows the batched kernel takes side by side: the full ones, and
	/// a last one of three to seven rows (padded). One or two rows left over are cheaper in the
	/// kernels for one or two tokens (measured: two rows padded to eight lanes lost 7%), and have
	/// no lanes.
	#[inline]
	pub fn lane_groups(&self) -> usize {
		self.rows / LANE_ROWS + usize::from(self.rows % LANE_ROWS >= 3)
	}

	/// The first of the rows left over after the lane groups (see [`QActs::single_rows`]).
	#[inline]
	pub fn first_single_row(&self) -> usize {
		(self.lane_groups() * LANE_ROWS).min(self.rows)
	}

	/// The index of row `row`'s block `b` in [`QActs::lane_scales`] and [`QActs::lane_sums`]:
	/// `((group * block_pairs + b / 2) * 8 + row % 8) * 2 + b % 2`.
	fn lane_cell(&self, row: usize, b: usize) -> usize {
		let block_pair = (row / LANE_ROWS) * self.blocks_per_row().div_ceil(2) + b / 2;
		(block_pair * LANE_ROWS + row % LANE_ROWS) * 2 + b % 2
	}

	/// Where [`QActs::lane_pairs`] holds pair `j` of row `row`'s block `b`:
	/// `(((group * block_pairs + b / 2) * 16 + j) * 8 + row % 8) * 2 + b % 2`.
	fn lane_index(&self, row: usize, b: usize, j: usize) -> usize {
		let block_pair = (row / LANE_ROWS) * self.blocks_per_row().div_ceil(2) + b / 2;
		((block_pair * (BLOCK / 2) + j) * LANE_ROWS + row % LANE_ROWS) * 2 + b % 2
	}

	/// Blocks in a row.
	pub fn blocks_per_row(&self) -> usize {
		self.cols / BLOCK
	}
}

/// Quantize `x` block by block into `quants`, with each block's scale and scaled sum.
fn quantize_blocks(x: &[f32], quants: &mut [i16], scales: &mut [f32], sums: &mut [f32]) {
	let quantize_block = block_quantizer();
	for (((xs, qs), d), s) in
		x.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)).zip(scales).zip(sums)
	{
		let (scale, sum) = quantize_block(xs, qs);
		*d = scale;
		*s = scale * sum as f32;
	}
}

/// Quantize one block: `q = round(x / d)` with `d = max|x| / 32767` (NaNs left out of the
/// maximum, and quantized to 0), returning `d` and the sum of `q`. The definition.
fn quantize_block(xs: &[f32], qs: &mut [i16]) -> (f32, i32) {
	let amax = xs.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
	let d = amax / ACT_MAX;
	let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
	let mut sum = 0i32;
	for (q, &v) in qs.iter_mut().zip(xs) {
		*q = round_to_act(v * inverse);
		sum += i32::from(*q);
	}
	(d, sum)
}

/// [`quantize_block`], or the same in AVX-512 where the CPU has it (chosen once).
fn block_quantizer() -> fn(&[f32], &mut [i16]) -> (f32, i32) {
	#[cfg(target_arch = "x86_64")]
	{
		static AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
		if *AVX512.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f")) {
			// SAFETY: the CPU has AVX-512F (checked just above).
			return |xs, qs| unsafe { x86::quantize_block_avx512(xs, qs) };
		}
	}
	quantize_block
}

#[cfg(target_arch = "x86_64")]
mod x86 {
	use std::arch::x86_64::*;

	use super::{ACT_MAX, BLOCK};

	/// [`super::quantize_block`] on 32 values at once, the same bits (tested against it): the
	/// maximum is exact in any order, each product is one IEEE multiply, and the rounding takes
	/// the definition's steps (truncate, compare the exact remainder with one half), with its
	/// saturation and its NaN made explicit.
	///
	/// # Safety
	/// The CPU has AVX-512F; `xs` and `qs` hold a block.
	#[target_feature(enable = "avx512f")]
	pub unsafe fn quantize_block_avx512(xs: &[f32], qs: &mut [i16]) -> (f32, i32) {
		debug_assert!(xs.len() == BLOCK && qs.len() == BLOCK);
		let halves = [_mm512_loadu_ps(xs.as_ptr()), _mm512_loadu_ps(xs.as_ptr().add(16))];
		// |x|, NaNs as 0 (`f32::max` ignores them; `maxps` would not). (No closure: it would not
		// inherit the target feature, and its intrinsics would be calls.)
		let mut magnitudes = [_mm512_setzero_ps(); 2];
		for (m, &v) in magnitudes.iter_mut().zip(&halves) {
			let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v);
			*m = _mm512_maskz_mov_ps(ordered, _mm512_abs_ps(v));
		}
		let amax = _mm512_reduce_max_ps(_mm512_max_ps(magnitudes[0], magnitudes[1]));
		let d = amax / ACT_MAX;
		let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
		let mut sum = _mm512_setzero_si512();
		for (h, &v) in halves.iter().enumerate() {
			let y = _mm512_mul_ps(v, _mm512_set1_ps(inverse));
			// `y as i32` saturates, so any |y| above 32768 ends clamped to 32767 as here; a
			// NaN gives 0.
			let limit = _mm512_set1_ps(ACT_MAX + 1.0);
			let bounded =
				_mm512_max_ps(_mm512_min_ps(y, limit), _mm512_sub_ps(_mm512_setzero_ps(), limit));
			let truncated = _mm512_cvttps_epi32(bounded);
			let remainder = _mm512_sub_ps(bounded, _mm512_cvtepi32_ps(truncated));
			let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(remainder, _mm512_set1_ps(0.5));
			let down = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(remainder, _mm512_set1_ps(-0.5));
			let mut q = _mm512_mask_add_epi32(truncated, up, truncated, _mm512_set1_epi32(1));
			q = _mm512_mask_sub_epi32(q, down, q, _mm512_set1_epi32(1));
			let max = _mm512_set1_epi32(ACT_MAX as i32);
			q = _mm512_max_epi32(
				_mm512_min_epi32(q, max),
				_mm512_sub_epi32(_mm512_setzero_si512(), max),
			);
			let number = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(y, y);
			q = _mm512_maskz_mov_epi32(number, q);
			sum = _mm512_add_epi32(sum, q);
			_mm256_storeu_si256(qs.as_mut_ptr().add(16 * h).cast(), _mm512_cvtepi32_epi16(q));
		}
		(d, _mm512_reduce_add_epi32(sum))
	}
}

/// `y.round().clamp(-32767, 32767)` (ties away from zero), without a call to the platform's
/// `roundf` (x86-64's baseline has no rounding instruction): truncation and the exact remainder
/// `y - trunc(y)` (exact below 2^24), a branch-free loop the compiler vectorizes. Tested equal to
/// the definition.
#[inline(always)]
fn round_to_act(y: f32) -> i16 {
	// Saturating and exact for every |y| below 2^31; NaN gives 0, as `NaN as i16` does.
	let truncated = y as i32;
	let remainder = y - truncated as f32;
	let away = i32::from(remainder >= 0.5) - i32::from(remainder <= -0.5);
	truncated.saturating_add(away).clamp(-(ACT_MAX as i32), ACT_MAX as i32) as i16
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn activations_round_half_away_from_zero_as_round_does() {
		let definition = |y: f32| y.round().clamp(-ACT_MAX, ACT_MAX) as i16;
		let mut inputs: Vec<f32> = (-70_000..70_000).map(|i| i as f32 * 0.5).collect();
		inputs.extend((-40_000..40_000).map(|i| i as f32 * 0.8191 + 0.25));
		inputs.extend([0.0, -0.0, 0.49999997, -0.49999997, 32767.5, -32767.5, 1e30, -1e30]);
		inputs.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 8388607.5, 16777215.0]);
		for y in inputs {
			assert_eq!(round_to_act(y), definition(y), "round({y})");
		}
	}

	#[test]
	fn every_block_quantizer_gives_the_definitions_bits() {
		let mut state = 0x9e37_79b9_7f4a_7c15u64;
		let mut next = || {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			state
		};
		let specials = [
			0.0,
			-0.0,
			f32::NAN,
			f32::INFINITY,
			f32::NEG_INFINITY,
			f32::MIN_POSITIVE,
			1e-45,
			-1e-40,
			f32::MAX,
			0.5,
			-0.5,
			1.5,
		];
		let quantizer = block_quantizer();
		for round in 0..20_000 {
			let scale = [1e-3f32, 1.0, 37.0, 1e-38, 1e30][round % 5];
			let mut xs: Vec<f32> =
				(0..BLOCK).map(|_| ((next() % 2001) as f32 - 1000.0) / 1000.0 * scale).collect();
			// Some blocks with special values, some with ties: half-integers of the scale.
			if round % 3 == 0 {
				xs[(next() % 32) as usize] = specials[(next() % specials.len() as u64) as usize];
			}
			if round % 7 == 0 {
				xs[0] = ACT_MAX;
				for x in xs.iter_mut().skip(1) {
					*x = ((next() % 65_535) as f32 - 32_767.0) / 2.0;
				}
			}
			let (mut want, mut got) = ([0i16; BLOCK], [0i16; BLOCK]);
			let definition = quantize_block(&xs, &mut want);
			let fast = quantizer(&xs, &mut got);
			assert_eq!(want, got, "{xs:?}");
			assert_eq!((definition.0.to_bits(), definition.1), (fast.0.to_bits(), fast.1));
		}
	}

	#[test]
	fn a_sized_wrong_tensor_is_refused() {
		assert_eq!(
			QMatrix::from_gguf_blocks(WeightFormat::Q4_1, 2, 48, &[]).unwrap_err(),
			FormatError::RowLength(48)
		);
		assert!(matches!(
			QMatrix::from_gguf_blocks(WeightFormat::Q8_0, 2, 32, &[0; 67]),
			Err(FormatError::Size { expected: 68, .. })
		));
	}

	#[test]
	fn q4_1_blocks_dequantize_as_ggml_defines_them() {
		// d = 0.5, m = -1.0; byte i holds element i (low nibble) and 16 + i (high nibble).
		let mut block = Vec::new();
		block.extend_from_slice(&f16::from_f32(0.5).to_bits().to_le_bytes());
		block.extend_from_slice(&f16::from_f32(-1.0).to_bits().to_le_bytes());
		block.extend((0u8..16).map(|i| i | ((15 - i) << 4)));
		let m = QMatrix::from_gguf_blocks(WeightFormat::Q4_1, 1, 32, &block).unwrap();
		let mut row = [0.0; 32];
		m.dequantize_row(0, &mut row);
		assert_eq!(row[0], -1.0);
		assert_eq!(row[3], 0.5);
		assert_eq!(row[16], 6.5);
		assert_eq!(row[31], -1.0);
	}

	#[test]
	fn the_single_token_order_is_that_of_a_q4_1_blocks_16_bit_words() {
		// Word k of the block's bytes holds bytes 2k and 2k + 1: its nibbles, low to high, are
		// values 2k, 16 + 2k, 2k + 1 and 17 + 2k. The kernel takes the words' low nibbles,
		// then their second bytes' low nibbles, then the high nibbles of each: groups of eight.
		let order: Vec<usize> = (0..BLOCK).map(single_order).collect();
		let evens = (0..8).map(|k| 2 * k);
		let expected: Vec<usize> = evens
			.clone()
			.chain(evens.clone().map(|e| e + 1))
			.chain(evens.clone().map(|e| e + 16))
			.chain(evens.map(|e| e + 17))
			.collect();
		assert_eq!(order, expected);
		assert_eq!(&order[..10], &[0, 2, 4, 6, 8, 10, 12, 14, 1, 3]);
		// And the rows laid out for it are the quantized rows in that order.
		let x: Vec<f32> = (0..2 * 64).map(|i| (i as f32 - 50.0) * 0.1).collect();
		let mut q = QActs::with_layout(LaneLayout::Pairs);
		q.quantize(&x, 64);
		assert_eq!(q.first_single_row(), 0);
		for (i, &value) in q.single_rows.iter().enumerate() {
			let (block, p) = (i / BLOCK, i % BLOCK);
			assert_eq!(value, q.quants[block * BLOCK + single_order(p)]);
		}
		assert_eq!(q.single_rows.len(), q.quants.len());
	}

	#[test]
	fn activations_quantize_to_at_most_32767_in_magnitude() {
		let x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) * 0.37).collect();
		let mut q = QActs::default();
		q.quantize(&x, 32);
		assert_eq!(q.rows, 2);
		assert!(q.quants.iter().all(|&v| v != i16::MIN));
		assert_eq!(q.quants[63], 32767);
		let sum: i32 = q.quants[32..].iter().map(|&v| i32::from(v)).sum();
		assert_eq!(q.scaled_sums[1], q.scales[1] * sum as f32);
		// Zeros quantize to zeros, with a zero scale, not NaN.
		q.quantize(&[0.0; 32], 32);
		assert!(q.quants.iter().all(|&v| v == 0) && q.scales[0] == 0.0);
	}
}
