//! The quantized matmul: every output is one weight row against one activation row, reduced in an
//! order fixed by this file, so the result does not depend on the CPU tier, the thread count or
//! the other rows in the batch.
//!
//! # The canonical reduction (`native-canonical-v1` and later)
//!
//! For each block `b` of 32 values, in order, the exact integer products of the block's values are
//! summed in eight groups of four (`p[j]` = elements `2j, 2j + 1, 16 + 2j, 17 + 2j`, exact in
//! i32), converted to f32 (exact: `|p| <= 4 * 128 * 32767 < 2^24`) and added to eight f32 lanes:
//! `lane[j] = lane[j] + (d_w * d_a) * p[j]`. `Q4_1`'s minimum adds `m_w * (d_a * sum(q_a))` to a
//! ninth accumulator, block by block. The result is
//! `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) + min`. No fused multiply-add anywhere: each
//! product and sum is rounded once, as IEEE 754 defines, on every machine.
//!
//! The x86 tiers compute the same groups: the weights widened to 16 bits, AVX2's `madd` (or
//! AVX-512 VNNI's `dpwssd`) of elements 0..16 and of 16..32 leave pairs `2j, 2j + 1` in 32-bit lane
//! `j`, and adding the two gives `p[j]`; the f32 lanes are updated with separate multiplies and
//! adds. Tests run every tier this CPU has against the scalar code, on random blocks and on the
//! model itself.
//!
//! (Sixteen pair lanes in one 512-bit register, with the scales of eight blocks prepared by one
//! vector multiply, were tried and measured slower on the reference model: its rows are 18 and 48
//! blocks long, too short to pay for the preparation.)

use std::sync::OnceLock;

use super::{
	math::sum_lanes,
	quant::{QActs, QMatrix, WeightFormat, BLOCK},
	team::{self, Team},
};
use half::f16;

/// An implementation of the canonical reduction. All give bit-identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
	/// Portable code, the definition.
	Scalar,
	/// x86-64 AVX2 (+F16C).
	Avx2,
	/// x86-64 AVX-512 VNNI on 256-bit registers (AVX-512VL).
	Avx512Vnni,
}

impl Tier {
	/// Every tier, slowest first.
	const ALL: [Self; 3] = [Self::Scalar, Self::Avx2, Self::Avx512Vnni];

	/// Name used in logs, `--kernel-tier` and the benchmark.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Scalar => "scalar",
			Self::Avx2 => "avx2",
			Self::Avx512Vnni => "avx512-vnni",
		}
	}

	/// Whether this CPU can run the tier.
	pub fn is_supported(self) -> bool {
		match self {
			Self::Scalar => true,
			#[cfg(target_arch = "x86_64")]
			Self::Avx2 => {
				std::arch::is_x86_feature_detected!("avx2")
					&& std::arch::is_x86_feature_detected!("f16c")
			},
			#[cfg(target_arch = "x86_64")]
			Self::Avx512Vnni => {
				Self::Avx2.is_supported()
					&& std::arch::is_x86_feature_detected!("avx512f")
					&& std::arch::is_x86_feature_detected!("avx512vnni")
					&& std::arch::is_x86_feature_detected!("avx512vl")
			},
			#[cfg(not(target_arch = "x86_64"))]
			_ => false,
		}
	}

	/// Every tier this CPU can run, slowest first.
	pub fn supported() -> Vec<Self> {
		Self::ALL.into_iter().filter(|t| t.is_supported()).collect()
	}

	/// The fastest tier this CPU can run (chosen once, at run time).
	pub fn best() -> Self {
		static BEST: OnceLock<Tier> = OnceLock::new();
		*BEST.get_or_init(|| Self::supported().into_iter().max().unwrap_or(Self::Scalar))
	}

	/// Parse a tier name (the `--kernel-tier` option, for tests and benchmarks).
	pub fn parse(name: &str) -> Option<Self> {
		Self::ALL.into_iter().find(|t| t.as_str() == name)
	}
}

/// One weight row against one activation row: the canonical reduction, in portable code.
pub fn dot_scalar(w: &QMatrix, row: usize, a: &QActs, token: usize) -> f32 {
	let nb = w.blocks_per_row();
	let mut lanes = [0.0f32; 8];
	let mut min = 0.0f32;
	for b in 0..nb {
		let wb = row * nb + b;
		let ab = token * nb + b;
		let aq = &a.quants[ab * BLOCK..(ab + 1) * BLOCK];
		let scale = f16::from_bits(w.scales[wb]).to_f32() * a.scales[ab];
		let mut values = [0i32; BLOCK];
		match w.format {
			WeightFormat::Q4_1 => {
				let wq = &w.quants[wb * 16..(wb + 1) * 16];
				for (i, &byte) in wq.iter().enumerate() {
					values[i] = i32::from(byte & 0x0f);
					values[i + 16] = i32::from(byte >> 4);
				}
				min += f16::from_bits(w.mins[wb]).to_f32() * a.scaled_sums[ab];
			},
			WeightFormat::Q8_0 => {
				let wq = &w.quants[wb * BLOCK..(wb + 1) * BLOCK];
				for (v, &q) in values.iter_mut().zip(wq) {
					*v = i32::from(q as i8);
				}
			},
		}
		for (j, lane) in lanes.iter_mut().enumerate() {
			let p: i32 = [2 * j, 2 * j + 1, 16 + 2 * j, 17 + 2 * j]
				.into_iter()
				.map(|i| values[i] * i32::from(aq[i]))
				.sum();
			*lane += scale * p as f32;
		}
	}
	sum_lanes(&lanes) + min
}

#[cfg(target_arch = "x86_64")]
mod x86 {
	use std::arch::x86_64::*;

	use super::{sum_lanes, QActs, QMatrix, WeightFormat, BLOCK};

	/// How far ahead of the block being multiplied its matrix is prefetched, in blocks.
	const PREFETCH_BLOCKS: usize = 256;

	#[inline(always)]
	unsafe fn half_to_f32(bits: u16) -> f32 {
		_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits))))
	}

	/// Ask for block `wb + PREFETCH_BLOCKS` of `w`. A matmul streams its rows in order; asking for
	/// the bytes a few rows ahead keeps enough loads in flight for a single token, whose pass over
	/// the weights is bound by memory latency rather than by arithmetic. (Prefetches do not
	/// fault, and `wrapping_add` keeps the address arithmetic defined past the end.)
	#[inline(always)]
	unsafe fn prefetch<const Q4: bool>(w: &QMatrix, wb: usize) {
		let quant_bytes = if Q4 { BLOCK / 2 } else { BLOCK };
		let ahead = wb + PREFETCH_BLOCKS;
		_mm_prefetch::<_MM_HINT_T0>(w.quants.as_ptr().wrapping_add(ahead * quant_bytes).cast());
		_mm_prefetch::<_MM_HINT_T0>(w.scales.as_ptr().wrapping_add(ahead).cast());
		if Q4 {
			_mm_prefetch::<_MM_HINT_T0>(w.mins.as_ptr().wrapping_add(ahead).cast());
		}
	}

	/// The block's 32 weights widened to 16 bits: elements 0..16 and 16..32.
	#[inline(always)]
	unsafe fn weights(w: &QMatrix, wb: usize) -> (__m256i, __m256i) {
		match w.format {
			WeightFormat::Q4_1 => {
				let raw = _mm_loadu_si128(w.quants.as_ptr().add(wb * 16).cast());
				let mask = _mm_set1_epi8(0x0f);
				let lo = _mm_and_si128(raw, mask);
				let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
				(_mm256_cvtepu8_epi16(lo), _mm256_cvtepu8_epi16(hi))
			},
			WeightFormat::Q8_0 => {
				let p = w.quants.as_ptr().add(wb * BLOCK);
				(
					_mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())),
					_mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(16).cast())),
				)
			},
		}
	}

	/// The canonical reduction of weight row `row` against activation rows `t0..t0 + N`,
	/// with `groups`' integer products; the weights are unpacked once for all `N` tokens, and
	/// each token's lanes see exactly the operations of `N = 1`. `Q4` says the format is `Q4_1`.
	#[inline(always)]
	unsafe fn row_dot<const N: usize, const Q4: bool>(
		w: &QMatrix,
		row: usize,
		a: &QActs,
		t0: usize,
		groups: impl Fn(__m256i, __m256i, __m256i, __m256i) -> __m256i,
	) -> [f32; N] {
		let nb = w.blocks_per_row();
		let mut lanes = [_mm256_setzero_ps(); N];
		let mut mins = [0.0f32; N];
		for b in 0..nb {
			let wb = row * nb + b;
			prefetch::<Q4>(w, wb);
			let (w0, w1) = weights(w, wb);
			let d = half_to_f32(*w.scales.get_unchecked(wb));
			let m = if Q4 { half_to_f32(*w.mins.get_unchecked(wb)) } else { 0.0 };
			for k in 0..N {
				let ab = (t0 + k) * nb + b;
				let ap = a.quants.as_ptr().add(ab * BLOCK);
				let a0 = _mm256_loadu_si256(ap.cast());
				let a1 = _mm256_loadu_si256(ap.add(16).cast());
				let p = groups(w0, a0, w1, a1);
				let scale = d * *a.scales.get_unchecked(ab);
				lanes[k] = _mm256_add_ps(
					lanes[k],
					_mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(p)),
				);
				if Q4 {
					mins[k] += m * *a.scaled_sums.get_unchecked(ab);
				}
			}
		}
		let mut result = [0.0f32; N];
		for k in 0..N {
			let mut out = [0.0f32; 8];
			_mm256_storeu_ps(out.as_mut_ptr(), lanes[k]);
			result[k] = sum_lanes(&out) + mins[k];
		}
		result
	}

	macro_rules! tier {
		($name:ident, $features:literal, $groups:ident) => {
			/// `out[t * w.rows + r]` for the rows `rows` and the tokens `t0..t0 + N`, with this
			/// tier's integer products.
			///
			/// # Safety
			/// The CPU must have the tier's features; rows and tokens in range; `out` holds
			/// `a.rows * w.rows` cells and no other thread writes these.
			#[target_feature(enable = $features)]
			pub unsafe fn $name<const N: usize>(
				w: &QMatrix,
				rows: std::ops::Range<usize>,
				a: &QActs,
				t0: usize,
				out: *mut f32,
			) {
				let stride = w.rows;
				for r in rows {
					let groups = |w0, a0, w1, a1| $groups(w0, a0, w1, a1);
					let values = match w.format {
						WeightFormat::Q4_1 => row_dot::<N, true>(w, r, a, t0, groups),
						WeightFormat::Q8_0 => row_dot::<N, false>(w, r, a, t0, groups),
					};
					for (k, v) in values.into_iter().enumerate() {
						*out.add((t0 + k) * stride + r) = v;
					}
				}
			}
		};
	}

	#[inline(always)]
	unsafe fn groups_avx2(w0: __m256i, a0: __m256i, w1: __m256i, a1: __m256i) -> __m256i {
		_mm256_add_epi32(_mm256_madd_epi16(w0, a0), _mm256_madd_epi16(w1, a1))
	}

	#[inline(always)]
	unsafe fn groups_vnni(w0: __m256i, a0: __m256i, w1: __m256i, a1: __m256i) -> __m256i {
		_mm256_dpwssd_epi32(_mm256_madd_epi16(w0, a0), w1, a1)
	}

	tier!(rows_avx2, "avx2,f16c", groups_avx2);
	tier!(rows_avx512_vnni, "avx2,f16c,avx512f,avx512vl,avx512vnni", groups_vnni);
}

/// `out[t * w.rows + r]` for the rows `rows` and the tokens `t0..t0 + N`, with `tier`'s code:
/// for each cell the same bits as [`dot_scalar`].
///
/// # Safety
/// Rows and tokens in range, `out` holds `a.rows * w.rows` cells, and no other thread writes the
/// cells of these rows.
#[inline(always)]
unsafe fn rows_dot<const N: usize>(
	tier: Tier,
	w: &QMatrix,
	rows: std::ops::Range<usize>,
	a: &QActs,
	t0: usize,
	out: *mut f32,
) {
	debug_assert!(rows.end <= w.rows && t0 + N <= a.rows && w.cols == a.cols);
	match tier {
		// A `Tier` other than `Scalar` reaches here only after `is_supported` (the model checks
		// it at load).
		#[cfg(target_arch = "x86_64")]
		Tier::Avx2 => x86::rows_avx2::<N>(w, rows, a, t0, out),
		#[cfg(target_arch = "x86_64")]
		Tier::Avx512Vnni => x86::rows_avx512_vnni::<N>(w, rows, a, t0, out),
		_ => {
			for r in rows {
				for k in 0..N {
					*out.add((t0 + k) * w.rows + r) = dot_scalar(w, r, a, t0 + k);
				}
			}
		},
	}
}

/// Rows of a matmul's weights that all tokens of a batch pass over before the next rows.
const ROW_BLOCK: usize = 32;

/// A pointer to the output that the row chunks write through: each chunk owns distinct
/// `(token, row)` cells.
#[derive(Clone, Copy)]
pub(super) struct Out(pub(super) *mut f32);
// SAFETY: chunks write disjoint cells and the slice outlives the parallel loop.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
	/// The `len` cells from `start`.
	///
	/// # Safety
	/// They lie in the output, which outlives the returned slice, and no other thread touches
	/// them meanwhile.
	#[allow(clippy::mut_from_ref)]
	pub(super) unsafe fn cells(&self, start: usize, len: usize) -> &mut [f32] {
		std::slice::from_raw_parts_mut(self.0.add(start), len)
	}
}

/// `out[t * w.rows + r] = dot(w row r, a row t)` for every token `t` and row `r`, on a team of the
/// current rayon pool's threads. Each cell is computed by one call of the same code whatever the
/// split.
pub fn matmul(tier: Tier, w: &QMatrix, a: &QActs, out: &mut [f32]) {
	team::lead(|team| matmul_group(team, tier, a, &mut [(w, out)]));
}

/// [`matmul`] for several matrices that multiply the same activations (a layer's query, key and
/// value projections), in one parallel loop of `team`: one hand-over instead of one per matrix.
pub fn matmul_group(
	team: &Team<'_>,
	tier: Tier,
	a: &QActs,
	products: &mut [(&QMatrix, &mut [f32])],
) {
	let tokens = a.rows;
	// Chunks of at least 16 rows, enough of them to balance two to sixteen threads.
	let total_rows: usize = products.iter().map(|(w, _)| w.rows).sum();
	let chunk = total_rows.div_ceil(team.size() * 4).max(16);
	let mut work: Vec<(&QMatrix, Out, usize, usize)> = Vec::new();
	for (w, out) in products.iter_mut() {
		assert_eq!(w.cols, a.cols, "matmul: inner dimensions differ");
		assert_eq!(out.len(), tokens * w.rows, "matmul: output size");
		let out_ptr = Out(out.as_mut_ptr());
		let mut start = 0;
		while start < w.rows {
			let end = (start + chunk).min(w.rows);
			work.push((*w, out_ptr, start, end));
			start = end;
		}
	}
	team.for_each(work.len(), |i| {
		let (w, out_ptr, start, end) = work[i];
		// Blocks of rows, then groups of tokens, then the block's rows: a block's weights (a few
		// KiB) stay in L1 while every token group passes over them, and a token group's
		// activations stay in L1 while the block's rows pass over them. Weights are read from
		// memory once per matmul, however many tokens the batch has.
		let mut block = start;
		while block < end {
			let rows = block..(block + ROW_BLOCK).min(end);
			let mut t = 0;
			// SAFETY: `rows` are rows of `w`, `t..t + N` tokens of `a`; the output holds
			// `tokens * w.rows` cells (asserted above) and only this item writes these rows.
			unsafe {
				while t + 8 <= tokens {
					rows_dot::<8>(tier, w, rows.clone(), a, t, out_ptr.0);
					t += 8;
				}
				if t + 4 <= tokens {
					rows_dot::<4>(tier, w, rows.clone(), a, t, out_ptr.0);
					t += 4;
				}
				// The last one to three tokens also share each weight unpacking: at two or three
				// concurrent requests a decode step is compute-bound too.
				match tokens - t {
					3 => rows_dot::<3>(tier, w, rows.clone(), a, t, out_ptr.0),
					2 => rows_dot::<2>(tier, w, rows.clone(), a, t, out_ptr.0),
					1 => rows_dot::<1>(tier, w, rows.clone(), a, t, out_ptr.0),
					_ => {},
				}
			}
			block = rows.end;
		}
	});
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A small deterministic generator (xorshift), so the tests need no dependency.
	struct Rng(u64);
	impl Rng {
		fn next(&mut self) -> u64 {
			self.0 ^= self.0 << 13;
			self.0 ^= self.0 >> 7;
			self.0 ^= self.0 << 17;
			self.0
		}
		fn f32(&mut self) -> f32 {
			(self.next() % 20_001) as f32 / 10_000.0 - 1.0
		}
	}

	fn random_matrix(rng: &mut Rng, format: WeightFormat, rows: usize, cols: usize) -> QMatrix {
		let blocks = rows * cols / BLOCK;
		let mut bytes = Vec::new();
		for _ in 0..blocks {
			bytes.extend_from_slice(&f16::from_f32(rng.f32() * 0.1).to_bits().to_le_bytes());
			if format == WeightFormat::Q4_1 {
				bytes.extend_from_slice(&f16::from_f32(rng.f32() * 0.5).to_bits().to_le_bytes());
			}
			for _ in 0..format.quant_bytes() {
				let byte = rng.next() as u8;
				// GGUF's Q8_0 never holds -128, but the kernels must not care: keep some.
				bytes.push(byte);
			}
		}
		QMatrix::from_gguf_blocks(format, rows, cols, &bytes).unwrap()
	}

	fn random_acts(rng: &mut Rng, rows: usize, cols: usize) -> QActs {
		let x: Vec<f32> = (0..rows * cols).map(|_| rng.f32() * 3.0).collect();
		let mut a = QActs::default();
		a.quantize(&x, cols);
		a
	}

	#[test]
	fn every_tier_is_bit_identical_to_the_scalar_definition() {
		let mut rng = Rng(0x5eed);
		// 18 blocks a row (a partial group of 8), and 65 (more than one chunk of 64).
		for (format, cols) in [
			(WeightFormat::Q4_1, 576),
			(WeightFormat::Q8_0, 576),
			(WeightFormat::Q4_1, 2080),
			(WeightFormat::Q8_0, 2080),
		] {
			let w = random_matrix(&mut rng, format, 37, cols);
			// Groups of eight tokens, then of four, then a remainder of one, two or three.
			for tokens in [5, 6, 7, 12, 19] {
				let a = random_acts(&mut rng, tokens, cols);
				let mut reference = vec![0.0; tokens * 37];
				matmul(Tier::Scalar, &w, &a, &mut reference);
				for tier in Tier::supported() {
					let mut out = vec![0.0; tokens * 37];
					matmul(tier, &w, &a, &mut out);
					let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
					assert_eq!(
						bits(&out),
						bits(&reference),
						"{format:?}, {tokens} tokens on {}",
						tier.as_str()
					);
				}
			}
		}
	}

	#[test]
	fn the_scalar_definition_approximates_the_float_product() {
		let mut rng = Rng(7);
		let w = random_matrix(&mut rng, WeightFormat::Q4_1, 3, 64);
		let x: Vec<f32> = (0..64).map(|_| rng.f32()).collect();
		let mut a = QActs::default();
		a.quantize(&x, 64);
		let mut row = vec![0.0; 64];
		for r in 0..3 {
			w.dequantize_row(r, &mut row);
			let exact: f32 = row.iter().zip(&x).map(|(w, x)| w * x).sum();
			let got = dot_scalar(&w, r, &a, 0);
			let scale: f32 = row.iter().zip(&x).map(|(w, x)| (w * x).abs()).sum();
			assert!((got - exact).abs() <= 0.02 * scale, "{got} vs {exact}");
		}
	}

	#[test]
	fn outputs_do_not_depend_on_the_thread_count_or_the_other_tokens() {
		let mut rng = Rng(99);
		let w = random_matrix(&mut rng, WeightFormat::Q4_1, 300, 128);
		let a = random_acts(&mut rng, 6, 128);
		let mut batched = vec![0.0; 6 * 300];
		matmul(Tier::best(), &w, &a, &mut batched);
		for threads in [1, 3] {
			let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
			for t in 0..6 {
				let mut alone = QActs::default();
				let start = t * 128;
				let x: Vec<f32> = (0..128).map(|_| 0.0).collect();
				alone.quantize(&x, 128);
				alone.quants.copy_from_slice(&a.quants[start..start + 128]);
				alone.scales.copy_from_slice(&a.scales[t * 4..t * 4 + 4]);
				alone.scaled_sums.copy_from_slice(&a.scaled_sums[t * 4..t * 4 + 4]);
				let mut out = vec![0.0; 300];
				pool.install(|| matmul(Tier::best(), &w, &alone, &mut out));
				assert_eq!(out, batched[t * 300..(t + 1) * 300]);
			}
		}
	}
}

#[cfg(test)]
mod speed {
	use super::*;

	/// Not a test of speed (nothing is asserted): `cargo test --release -p atoma-inference-worker
	/// --lib kernel_speed -- --ignored --nocapture` prints each tier's multiply-adds per second.
	#[test]
	#[ignore = "a measurement, not a check: it prints GMAC/s per tier and asserts nothing; the \
	            tiers' results are checked by every_tier_is_bit_identical_to_the_scalar_definition"]
	fn kernel_speed() {
		let (rows, cols) = (1536, 576);
		let blocks = rows * cols / BLOCK;
		let mut bytes = Vec::new();
		for i in 0..blocks {
			bytes.extend_from_slice(&f16::from_f32(0.01).to_bits().to_le_bytes());
			bytes.extend_from_slice(&f16::from_f32(-0.05).to_bits().to_le_bytes());
			bytes.extend((0..16).map(|j| ((i * 31 + j * 7) % 256) as u8));
		}
		let w = QMatrix::from_gguf_blocks(WeightFormat::Q4_1, rows, cols, &bytes).unwrap();
		let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
		for tokens in [1usize, 8, 64] {
			let x: Vec<f32> = (0..tokens * cols).map(|i| ((i % 97) as f32 - 48.0) * 0.01).collect();
			let mut a = QActs::default();
			a.quantize(&x, cols);
			let mut out = vec![0.0; tokens * rows];
			for tier in Tier::supported() {
				let mut best = f64::MAX;
				for _ in 0..7 {
					let t = std::time::Instant::now();
					pool.install(|| matmul(tier, &w, &a, &mut out));
					best = best.min(t.elapsed().as_secs_f64());
				}
				let gmacs = (rows * cols * tokens) as f64 / best / 1e9;
				eprintln!("{tokens:>3} tokens {:>7}: {gmacs:.2} GMAC/s", tier.as_str());
			}
		}
	}
}
