//! The quantized matmul: every output is one weight row against one activation row, reduced in an
//! order fixed by this file, so the result does not depend on the CPU tier, the thread count or
//! the other rows in the batch.
//!
//! # The canonical reduction (`native-canonical-v3`)
//!
//! For each block `b` of 32 values, the exact integer dot product of the block's weight and
//! activation quants, `s = sum(q_w[i] * q_a[i])` (i32: `|s| <= 32 * 128 * 32767 < 2^31`), is
//! scaled once: `v = (d_w * d_a) * f32(s)`, plus `m_w * (d_a * sum(q_a))` for `Q4_1`'s minimum
//! (`v = v + ...`). The block values go to eight f32 lanes by block number, `lane[b % 8] += v`,
//! in block order from `+0.0`, and the result is
//! `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`. No fused multiply-add anywhere: each
//! product and sum is rounded once, as IEEE 754 defines, on every machine; `f32(s)` rounds to
//! nearest even (exact for `Q4_1`, whose `|s| < 2^24`).
//!
//! Integer sums are exact in any order, which is what lets the x86 tiers arrange them for speed:
//! - AVX-512: panels of 16 weight rows, one row per 32-bit lane (`x86::panel`), against up to 16
//!   tokens in one pass (more tokens: lane groups of eight): each block's weights are transposed
//!   into registers of 16 rows once, and each pair of them multiplies every token's matching pair
//!   of activations, broadcast (one `dpwssd` for 16 rows); the block's float work (one convert,
//!   two multiplies, the minimum's multiply and add, the lane's add) is then done for 16 rows at
//!   once, per token;
//! - one or two tokens, AVX2: eight blocks at a time, each block's products in four 32-bit
//!   lanes (`madd`; a `Q4_1` block's weights unpacked from its 16-bit words without widening, the
//!   activations laid out to match, [`QActs::single_rows`]), the eight registers summed across
//!   lanes by two transposes, and the eight block values scaled in one register;
//! - three or more tokens, AVX2: eight tokens side by side and two blocks at a time, one (token,
//!   block) per 32-bit lane ([`QActs::lane_pairs`], on 64-byte lines): each pair of 16-bit weights
//!   of the two blocks, broadcast, multiplies the sixteen (token, block) pairs of activations at
//!   once (two `madd`s), so the blocks' float work is done once for eight tokens and two blocks
//!   (a group of four tokens or fewer: the first register alone, half the work);
//! - AMX (`super::amx`), for batches of three lane groups or more (prompts): each 16-bit
//!   activation split in two bytes, `q = 256 * high + low`, two 8-bit tile products give the
//!   exact sums of 16 rows by 8 tokens by 2 blocks; the float work is then done for one row's two
//!   blocks by eight tokens in a 512-bit register.
//!
//! (`native-canonical-v2` converted and scaled eight partial sums per block and token: eight times
//! the float work of v3, which bounded batched decoding; see `docs/benchmarks.md`.)

use std::sync::OnceLock;

use super::{
	math::sum_lanes,
	quant::{LaneLayout, QActs, QMatrix, WeightFormat, BLOCK, LANE_ROWS},
	team::{self, Out, Team},
};
use half::f16;

/// An implementation of the canonical reduction. All give bit-identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
	/// Portable code, the definition.
	Scalar,
	/// x86-64 AVX2 (+F16C).
	Avx2,
	/// x86-64 AVX-512 VNNI (with BW and VL): panels of 16 weight rows in 512-bit registers.
	Avx512Vnni,
	/// [`Tier::Avx512Vnni`] with Intel AMX's 8-bit tiles for batches of three lane groups or
	/// more (17 tokens and up: prompts; [`super::amx`]). Linux must grant the process the tiles'
	/// state, which [`Tier::is_supported`] asks for.
	Amx,
}

impl Tier {
	/// Every tier, slowest first.
	const ALL: [Self; 4] = [Self::Scalar, Self::Avx2, Self::Avx512Vnni, Self::Amx];

	/// Name used in logs, `--kernel-tier` and the benchmark.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Scalar => "scalar",
			Self::Avx2 => "avx2",
			Self::Avx512Vnni => "avx512-vnni",
			Self::Amx => "avx512-amx",
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
					&& std::arch::is_x86_feature_detected!("avx512bw")
					&& std::arch::is_x86_feature_detected!("avx512vnni")
					&& std::arch::is_x86_feature_detected!("avx512vl")
			},
			#[cfg(target_arch = "x86_64")]
			Self::Amx => Self::Avx512Vnni.is_supported() && super::amx::is_supported(),
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

	/// How the tier's batched kernel wants [`QActs`]' lane groups laid out: the scalar tier and
	/// AVX-512's panels read the rows themselves.
	pub fn lane_layout(self) -> LaneLayout {
		match self {
			Self::Scalar | Self::Avx512Vnni => LaneLayout::Rows,
			Self::Avx2 => LaneLayout::Pairs,
			Self::Amx => LaneLayout::Tiles,
		}
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
	for b in 0..nb {
		let wb = row * nb + b;
		let ab = token * nb + b;
		let aq = &a.quants[ab * BLOCK..(ab + 1) * BLOCK];
		let scale = f16::from_bits(w.scales[wb]).to_f32() * a.scales[ab];
		let weight = |i: usize| -> i32 {
			match w.format {
				WeightFormat::Q4_1 => {
					let byte = w.quants[wb * 16 + i % 16];
					i32::from(if i < 16 { byte & 0x0f } else { byte >> 4 })
				},
				WeightFormat::Q8_0 => i32::from(w.quants[wb * BLOCK + i] as i8),
			}
		};
		let sum: i32 = (0..BLOCK).map(|i| weight(i) * i32::from(aq[i])).sum();
		let mut value = scale * sum as f32;
		if w.format == WeightFormat::Q4_1 {
			value += f16::from_bits(w.mins[wb]).to_f32() * a.scaled_sums[ab];
		}
		lanes[b % 8] += value;
	}
	sum_lanes(&lanes)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
	use std::arch::x86_64::*;

	#[cfg(doc)]
	use super::super::quant::single_order;
	use super::{sum_lanes, QActs, QMatrix, WeightFormat, BLOCK, LANE_ROWS};

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

	/// The exact sum of the products of block `wb` of `w` with the 32 activations at `acts`,
	/// spread over four 32-bit lanes. `Q4_1`: the activations in [`QActs::single_rows`]' order
	/// ([`single_order`]). Each 16-bit word of the block's 16 bytes holds four weights, one per
	/// nibble: a mask, a shift or both give each group of eight already 16 bits wide, for four
	/// `madd`s of eight. Widening the bytes instead (`vpmovzxbw`, two per block) and summing
	/// eight-lane registers by `hadd`s kept an AVX2-only CPU's one shuffling pipe busy twice as
	/// long as its multiplier (AMD EPYC, Zen: see `docs/benchmarks.md`). `Q8_0`: the activations
	/// in the rows' order, the bytes widened (they are signed) and the two halves' lanes added.
	#[inline(always)]
	unsafe fn block_products<const Q4: bool>(w: &QMatrix, wb: usize, acts: *const i16) -> __m128i {
		if Q4 {
			let x = _mm_loadu_si128(w.quants.as_ptr().add(wb * 16).cast());
			let nibble = _mm_set1_epi16(0x0f);
			let words = [
				_mm_and_si128(x, nibble),
				_mm_and_si128(_mm_srli_epi16::<8>(x), nibble),
				_mm_and_si128(_mm_srli_epi16::<4>(x), nibble),
				_mm_srli_epi16::<12>(x),
			];
			let product =
				|i: usize| _mm_madd_epi16(words[i], _mm_loadu_si128(acts.add(8 * i).cast()));
			_mm_add_epi32(
				_mm_add_epi32(product(0), product(1)),
				_mm_add_epi32(product(2), product(3)),
			)
		} else {
			let p = w.quants.as_ptr().add(wb * BLOCK);
			let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast()));
			let w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(16).cast()));
			let sum = _mm256_add_epi32(
				_mm256_madd_epi16(w0, _mm256_loadu_si256(acts.cast())),
				_mm256_madd_epi16(w1, _mm256_loadu_si256(acts.add(16).cast())),
			);
			_mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256::<1>(sum))
		}
	}

	/// Lane `k` of the result: the sum of the four lanes of `p[k]` (exact, in i32), by a 4 x 4
	/// transpose of unpacks (cheaper than `hadd`s on an AVX2-only CPU).
	#[inline(always)]
	unsafe fn sum_across(p: &[__m128i; 4]) -> __m128i {
		// [x0 + x2, y0 + y2, x1 + x3, y1 + y3] of registers x, y.
		let pair = |x: __m128i, y: __m128i| {
			_mm_add_epi32(_mm_unpacklo_epi32(x, y), _mm_unpackhi_epi32(x, y))
		};
		let (p01, p23) = (pair(p[0], p[1]), pair(p[2], p[3]));
		_mm_add_epi32(_mm_unpacklo_epi64(p01, p23), _mm_unpackhi_epi64(p01, p23))
	}

	/// Where the single-token kernel reads token `token`'s activations: its row in
	/// [`QActs::single_rows`] for `Q4_1`, in the rows for `Q8_0`.
	#[inline(always)]
	unsafe fn single_acts<const Q4: bool>(a: &QActs, token: usize) -> *const i16 {
		if Q4 {
			debug_assert!(token >= a.first_single_row());
			a.single_rows.as_ptr().add((token - a.first_single_row()) * a.cols)
		} else {
			a.quants.as_ptr().add(token * a.cols)
		}
	}

	/// [`prefetch`] for the eight blocks from `wb`: each cache line once (two or four of quants,
	/// one of scales and one of minimums; the groups that follow ask for the lines their starts
	/// fall in). Asking for every block's lines, three prefetches a block, kept the load ports of
	/// an AVX2-only CPU busy (AMD EPYC, Zen: a decode on one thread 2-4% faster this way).
	#[inline(always)]
	unsafe fn prefetch_group<const Q4: bool>(w: &QMatrix, wb: usize) {
		let quant_bytes = if Q4 { BLOCK / 2 } else { BLOCK };
		let ahead = wb + PREFETCH_BLOCKS;
		let quants = w.quants.as_ptr().wrapping_add(ahead * quant_bytes);
		for line in 0..8 * quant_bytes / 64 {
			_mm_prefetch::<_MM_HINT_T0>(quants.wrapping_add(64 * line).cast());
		}
		_mm_prefetch::<_MM_HINT_T0>(w.scales.as_ptr().wrapping_add(ahead).cast());
		if Q4 {
			_mm_prefetch::<_MM_HINT_T0>(w.mins.as_ptr().wrapping_add(ahead).cast());
		}
	}

	/// The canonical reduction of weight row `row` against activation row `token`, eight blocks
	/// at a time (AVX2): each block's products in four lanes ([`block_products`]), the eight
	/// blocks' summed across lanes by two transposes, then the eight block values scaled in one
	/// register. `Q4` says the format is `Q4_1`.
	#[inline(always)]
	unsafe fn row_one<const Q4: bool>(w: &QMatrix, row: usize, a: &QActs, token: usize) -> f32 {
		let nb = w.blocks_per_row();
		let acts = single_acts::<Q4>(a, token);
		let mut lanes = _mm256_setzero_ps();
		let mut first = 0;
		while first < nb {
			let n = (nb - first).min(8);
			if n <= 4 {
				lanes = short_tail::<Q4>(w, row, a, token, first, n, lanes);
				break;
			}
			let wb = row * nb + first;
			prefetch_group::<Q4>(w, wb);
			let mut products = [[_mm_setzero_si128(); 4]; 2];
			for l in 0..n {
				products[l / 4][l % 4] =
					block_products::<Q4>(w, wb + l, acts.add((first + l) * BLOCK));
			}
			let sums = _mm256_cvtepi32_ps(_mm256_set_m128i(
				sum_across(&products[1]),
				sum_across(&products[0]),
			));
			let ab = token * nb + first;
			let (dw, da, mw, ss) = block_scales::<Q4>(w, wb, a, ab, n);
			let scale = _mm256_mul_ps(_mm256_cvtph_ps(dw), da);
			let mut value = _mm256_mul_ps(scale, sums);
			if Q4 {
				value = _mm256_add_ps(value, _mm256_mul_ps(_mm256_cvtph_ps(mw), ss));
			}
			let updated = _mm256_add_ps(lanes, value);
			lanes = if n == 8 {
				updated
			} else {
				// Lanes of blocks past the row's end keep their value (adding +0.0 would too,
				// but the definition adds nothing there).
				let kept = _mm256_cmpgt_epi32(
					_mm256_set1_epi32(n as i32),
					_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
				);
				_mm256_blendv_ps(lanes, updated, _mm256_castsi256_ps(kept))
			};
			first += 8;
		}
		let mut out = [0.0f32; 8];
		_mm256_storeu_ps(out.as_mut_ptr(), lanes);
		sum_lanes(&out)
	}

	/// [`row_one`]'s last `n <= 4` blocks from block `first` (a multiple of 8: their lanes are
	/// `0..n`), in half the registers of a group of eight: the four blocks' products summed
	/// across lanes by one transpose, their float work on four lanes. The same operations on the
	/// same values as a group of eight, so the same bits. The model's rows of 576 columns (18
	/// blocks) end in two such blocks, every row of all but one of a layer's matrices and of the
	/// output head: done as a group of eight, the two paid for eight blocks' sums and scales.
	#[inline]
	#[target_feature(enable = "avx2,f16c")]
	unsafe fn short_tail<const Q4: bool>(
		w: &QMatrix,
		row: usize,
		a: &QActs,
		token: usize,
		first: usize,
		n: usize,
		lanes: __m256,
	) -> __m256 {
		let nb = w.blocks_per_row();
		let acts = single_acts::<Q4>(a, token);
		let (wb, ab) = (row * nb + first, token * nb + first);
		prefetch_group::<Q4>(w, wb);
		// Each block by itself (not a loop over `0..n` into an array, which went through the
		// stack and back).
		let block = |l: usize| {
			if l < n {
				block_products::<Q4>(w, wb + l, acts.add((first + l) * BLOCK))
			} else {
				_mm_setzero_si128()
			}
		};
		let products = [block(0), block(1), block(2), block(3)];
		let sums = _mm_cvtepi32_ps(sum_across(&products));
		// The four blocks' scales, read where they are rather than gathered into arrays, whose
		// narrow stores read back by one wide load stalled the kernel (no store forwarding: 7% of
		// a decode's kernel on an AMD EPYC, Zen). The activations' by masked loads (the lanes
		// past `n` are not read: they may lie past the end); the weights' whole, the lanes past
		// `n` (the next row's) dropped by the blend below, but for the matrix's last row. As
		// `tail_scales` does for eight, on four lanes: taking its eight and keeping the low four
		// made the single-token kernel 8% slower (8.3 -> 7.7 GMAC/s, AMD EPYC, Zen).
		let kept = _mm_cmpgt_epi32(_mm_set1_epi32(n as i32), _mm_setr_epi32(0, 1, 2, 3));
		let da = _mm_maskload_ps(a.scales.as_ptr().add(ab), kept);
		let ss = if Q4 {
			_mm_maskload_ps(a.scaled_sums.as_ptr().add(ab), kept)
		} else {
			_mm_setzero_ps()
		};
		let (dw, mw) = if wb + 4 <= w.scales.len() {
			(
				_mm_loadl_epi64(w.scales.as_ptr().add(wb).cast()),
				if Q4 {
					_mm_loadl_epi64(w.mins.as_ptr().add(wb).cast())
				} else {
					_mm_setzero_si128()
				},
			)
		} else {
			let (mut dw, mut mw) = ([0u16; 4], [0u16; 4]);
			for i in 0..n {
				dw[i] = *w.scales.get_unchecked(wb + i);
				if Q4 {
					mw[i] = *w.mins.get_unchecked(wb + i);
				}
			}
			(_mm_loadl_epi64(dw.as_ptr().cast()), _mm_loadl_epi64(mw.as_ptr().cast()))
		};
		let scale = _mm_mul_ps(_mm_cvtph_ps(dw), da);
		let mut value = _mm_mul_ps(scale, sums);
		if Q4 {
			value = _mm_add_ps(value, _mm_mul_ps(_mm_cvtph_ps(mw), ss));
		}
		let low = _mm256_castps256_ps128(lanes);
		// Lanes of blocks past the row's end keep their value, as in `row_one`.
		let low = _mm_blendv_ps(low, _mm_add_ps(low, value), _mm_castsi128_ps(kept));
		_mm256_insertf128_ps::<0>(lanes, low)
	}

	/// The scales of `n` blocks from weight block `wb` and activation block `ab`: the weights'
	/// scales and minimums as half floats, the activations' scales and scaled sums. Past `n` (the
	/// row's end, where [`row_one`] keeps its lanes) they are zero or the next row's.
	#[inline(always)]
	unsafe fn block_scales<const Q4: bool>(
		w: &QMatrix,
		wb: usize,
		a: &QActs,
		ab: usize,
		n: usize,
	) -> (__m128i, __m256, __m128i, __m256) {
		if n < 8 {
			return tail_scales::<Q4>(w, wb, a, ab, n);
		}
		(
			_mm_loadu_si128(w.scales.as_ptr().add(wb).cast()),
			_mm256_loadu_ps(a.scales.as_ptr().add(ab)),
			if Q4 { _mm_loadu_si128(w.mins.as_ptr().add(wb).cast()) } else { _mm_setzero_si128() },
			if Q4 { _mm256_loadu_ps(a.scaled_sums.as_ptr().add(ab)) } else { _mm256_setzero_ps() },
		)
	}

	/// [`block_scales`] for the last `n < 8` blocks of a row, read where they are (as
	/// [`short_tail`] does): the activations' by masked loads, which read nothing past `n` (the
	/// last token's end may be there); the weights' whole but for the matrix's last row, which
	/// has them gathered. Gathering every row's into arrays stalled the kernel: the arrays'
	/// narrow stores, read back by one wide load, are not forwarded. It needs the tier's
	/// features of its own for its intrinsics to compile inline: without them each
	/// `_mm256_loadu_ps` here was a call (`perf`, AMD EPYC, 2026-12-05).
	#[inline]
	#[target_feature(enable = "avx2,f16c")]
	unsafe fn tail_scales<const Q4: bool>(
		w: &QMatrix,
		wb: usize,
		a: &QActs,
		ab: usize,
		n: usize,
	) -> (__m128i, __m256, __m128i, __m256) {
		let kept = _mm256_cmpgt_epi32(
			_mm256_set1_epi32(n as i32),
			_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
		);
		let da = _mm256_maskload_ps(a.scales.as_ptr().add(ab), kept);
		let ss = if Q4 {
			_mm256_maskload_ps(a.scaled_sums.as_ptr().add(ab), kept)
		} else {
			_mm256_setzero_ps()
		};
		let (dw, mw) = if wb + 8 <= w.scales.len() {
			(
				_mm_loadu_si128(w.scales.as_ptr().add(wb).cast()),
				if Q4 {
					_mm_loadu_si128(w.mins.as_ptr().add(wb).cast())
				} else {
					_mm_setzero_si128()
				},
			)
		} else {
			let (mut dw, mut mw) = ([0u16; 8], [0u16; 8]);
			dw[..n].copy_from_slice(&w.scales[wb..wb + n]);
			if Q4 {
				mw[..n].copy_from_slice(&w.mins[wb..wb + n]);
			}
			(_mm_loadu_si128(dw.as_ptr().cast()), _mm_loadu_si128(mw.as_ptr().cast()))
		};
		(dw, da, mw, ss)
	}

	/// 32-bit lanes, one per (token, block) of a lane group's block pair (lane `2k + h`: token
	/// `k`, block `h` of the pair): sixteen in two AVX2 registers ([`Avx2Lanes`]), or the first
	/// four tokens' eight in one ([`Avx2HalfLanes`]). (The AVX-512 tier had an implementation in
	/// one 512-bit register until its panels, [`panel`], replaced this kernel.)
	trait PairLanes: Copy {
		/// i32 lanes.
		type I: Copy;
		/// f32 lanes.
		type F: Copy;
		unsafe fn zero_i() -> Self::I;
		unsafe fn zero_f() -> Self::F;
		unsafe fn load_i(p: *const i32) -> Self::I;
		unsafe fn load_f(p: *const f32) -> Self::F;
		/// The 64 bits at `p` in every pair of lanes.
		unsafe fn broadcast_pair_i(p: *const i64) -> Self::I;
		/// `(x, y)` in every pair of lanes.
		unsafe fn broadcast_pair_f(x: f32, y: f32) -> Self::F;
		/// The two half floats at `p`, widened, in every pair of lanes.
		unsafe fn broadcast_halves(p: *const u16) -> Self::F;
		/// `acc + x[lo] * y[lo] + x[hi] * y[hi]` of the 16-bit halves, lane by lane.
		unsafe fn dot_pairs(acc: Self::I, x: Self::I, y: Self::I) -> Self::I;
		/// `x`, through a barrier the optimizer cannot see into: an accumulator's chain of adds
		/// stays a chain instead of a tree of every product.
		unsafe fn opaque(x: Self::I) -> Self::I;
		unsafe fn add_i(x: Self::I, y: Self::I) -> Self::I;
		unsafe fn to_f(x: Self::I) -> Self::F;
		unsafe fn mul(x: Self::F, y: Self::F) -> Self::F;
		unsafe fn add(x: Self::F, y: Self::F) -> Self::F;
		/// `acc + x` in the even lanes (the pair's first block), `acc` in the odd ones.
		unsafe fn add_even(acc: Self::F, x: Self::F) -> Self::F;
		/// Lane `2k`: lane `2k` plus lane `2k + 1`, in that order.
		unsafe fn add_odd_to_even(x: Self::F) -> Self::F;
		unsafe fn store(p: *mut f32, x: Self::F);
	}

	/// Sixteen lanes in two AVX2 registers, each register [`Avx2HalfLanes`]' eight.
	#[derive(Clone, Copy)]
	struct Avx2Lanes;

	/// [`Avx2HalfLanes`]' operation on each of the two registers.
	macro_rules! both {
		($op:ident($($x:expr),*)) => {
			[Avx2HalfLanes::$op($($x[0]),*), Avx2HalfLanes::$op($($x[1]),*)]
		};
	}

	impl PairLanes for Avx2Lanes {
		type I = [__m256i; 2];
		type F = [__m256; 2];
		#[inline(always)]
		unsafe fn zero_i() -> Self::I {
			[_mm256_setzero_si256(); 2]
		}
		#[inline(always)]
		unsafe fn zero_f() -> Self::F {
			[_mm256_setzero_ps(); 2]
		}
		#[inline(always)]
		unsafe fn load_i(p: *const i32) -> Self::I {
			[Avx2HalfLanes::load_i(p), Avx2HalfLanes::load_i(p.add(8))]
		}
		#[inline(always)]
		unsafe fn load_f(p: *const f32) -> Self::F {
			[Avx2HalfLanes::load_f(p), Avx2HalfLanes::load_f(p.add(8))]
		}
		#[inline(always)]
		unsafe fn broadcast_pair_i(p: *const i64) -> Self::I {
			[Avx2HalfLanes::broadcast_pair_i(p); 2]
		}
		#[inline(always)]
		unsafe fn broadcast_pair_f(x: f32, y: f32) -> Self::F {
			[Avx2HalfLanes::broadcast_pair_f(x, y); 2]
		}
		#[inline(always)]
		unsafe fn broadcast_halves(p: *const u16) -> Self::F {
			[Avx2HalfLanes::broadcast_halves(p); 2]
		}
		#[inline(always)]
		unsafe fn dot_pairs(acc: Self::I, x: Self::I, y: Self::I) -> Self::I {
			both!(dot_pairs(acc, x, y))
		}
		#[inline(always)]
		unsafe fn opaque(x: Self::I) -> Self::I {
			both!(opaque(x))
		}
		#[inline(always)]
		unsafe fn add_i(x: Self::I, y: Self::I) -> Self::I {
			both!(add_i(x, y))
		}
		#[inline(always)]
		unsafe fn to_f(x: Self::I) -> Self::F {
			both!(to_f(x))
		}
		#[inline(always)]
		unsafe fn mul(x: Self::F, y: Self::F) -> Self::F {
			both!(mul(x, y))
		}
		#[inline(always)]
		unsafe fn add(x: Self::F, y: Self::F) -> Self::F {
			both!(add(x, y))
		}
		#[inline(always)]
		unsafe fn add_even(acc: Self::F, x: Self::F) -> Self::F {
			both!(add_even(acc, x))
		}
		#[inline(always)]
		unsafe fn add_odd_to_even(x: Self::F) -> Self::F {
			both!(add_odd_to_even(x))
		}
		#[inline(always)]
		unsafe fn store(p: *mut f32, x: Self::F) {
			Avx2HalfLanes::store(p, x[0]);
			Avx2HalfLanes::store(p.add(8), x[1]);
		}
	}

	/// [`Avx2Lanes`]' first register only: the lanes of a lane group's first four tokens, for
	/// groups of at most four (three or four requests decoding at once, the remainder of a larger
	/// batch). Their lanes are the first 32 bytes of each 64-byte line of [`QActs::lane_pairs`],
	/// so the layout is the same; the multiplies, loads and float work are half a full group's.
	/// Lanes 8 to 15 of what [`row_lanes`] returns are zero.
	#[derive(Clone, Copy)]
	struct Avx2HalfLanes;

	impl PairLanes for Avx2HalfLanes {
		type I = __m256i;
		type F = __m256;
		#[inline(always)]
		unsafe fn zero_i() -> Self::I {
			_mm256_setzero_si256()
		}
		#[inline(always)]
		unsafe fn zero_f() -> Self::F {
			_mm256_setzero_ps()
		}
		#[inline(always)]
		unsafe fn load_i(p: *const i32) -> Self::I {
			_mm256_loadu_si256(p.cast())
		}
		#[inline(always)]
		unsafe fn load_f(p: *const f32) -> Self::F {
			_mm256_loadu_ps(p)
		}
		#[inline(always)]
		unsafe fn broadcast_pair_i(p: *const i64) -> Self::I {
			_mm256_set1_epi64x(*p)
		}
		#[inline(always)]
		unsafe fn broadcast_pair_f(x: f32, y: f32) -> Self::F {
			_mm256_setr_ps(x, y, x, y, x, y, x, y)
		}
		#[inline(always)]
		unsafe fn broadcast_halves(p: *const u16) -> Self::F {
			_mm256_cvtph_ps(_mm_set1_epi32(p.cast::<i32>().read_unaligned()))
		}
		#[inline(always)]
		unsafe fn dot_pairs(acc: Self::I, x: Self::I, y: Self::I) -> Self::I {
			_mm256_add_epi32(acc, _mm256_madd_epi16(x, y))
		}
		// An empty `asm!` that takes and gives back the register: no instruction. The `ymm_reg`
		// class needs AVX in the function itself; inlined into the AVX2 kernel.
		#[inline]
		#[target_feature(enable = "avx2")]
		unsafe fn opaque(mut x: Self::I) -> Self::I {
			std::arch::asm!(
				"/* {x} */",
				x = inout(ymm_reg) x,
				options(pure, nomem, nostack, preserves_flags),
			);
			x
		}
		#[inline(always)]
		unsafe fn add_i(x: Self::I, y: Self::I) -> Self::I {
			_mm256_add_epi32(x, y)
		}
		#[inline(always)]
		unsafe fn to_f(x: Self::I) -> Self::F {
			_mm256_cvtepi32_ps(x)
		}
		#[inline(always)]
		unsafe fn mul(x: Self::F, y: Self::F) -> Self::F {
			_mm256_mul_ps(x, y)
		}
		#[inline(always)]
		unsafe fn add(x: Self::F, y: Self::F) -> Self::F {
			_mm256_add_ps(x, y)
		}
		#[inline(always)]
		unsafe fn add_even(acc: Self::F, x: Self::F) -> Self::F {
			_mm256_blend_ps::<0b0101_0101>(acc, _mm256_add_ps(acc, x))
		}
		#[inline(always)]
		unsafe fn add_odd_to_even(x: Self::F) -> Self::F {
			_mm256_add_ps(x, _mm256_permute_ps::<0xb1>(x))
		}
		#[inline(always)]
		unsafe fn store(p: *mut f32, x: Self::F) {
			_mm256_storeu_ps(p, x);
		}
	}

	/// Blocks `wb` and `wb + 1` of `w` (or `wb` and zeros, when `second` is false) as the 64-bit
	/// slots [`row_lanes`] broadcasts: slot `j` holds the 16-bit weights `2j, 2j + 1` of the first
	/// block, then those of the second. The bytes of the two blocks are interleaved two by two
	/// (`unpack*_epi16`) before they are widened, so that each 64-bit slot lands in place: four
	/// shuffles and four widenings for the two blocks, instead of the same for each.
	#[inline(always)]
	unsafe fn pair_weights<const Q4: bool>(w: &QMatrix, wb: usize, second: bool) -> [__m256i; 4] {
		if Q4 {
			let raw = |b: usize| _mm_loadu_si128(w.quants.as_ptr().add(b * 16).cast());
			let x = raw(wb);
			let y = if second { raw(wb + 1) } else { _mm_setzero_si128() };
			// Bytes 2j, 2j + 1 of each block, widened: both nibbles of weights 2j, 2j + 1 and
			// 16 + 2j, 17 + 2j.
			let low = _mm256_cvtepu8_epi16(_mm_unpacklo_epi16(x, y));
			let high = _mm256_cvtepu8_epi16(_mm_unpackhi_epi16(x, y));
			let nibble = _mm256_set1_epi16(0x0f);
			[
				_mm256_and_si256(low, nibble),
				_mm256_and_si256(high, nibble),
				_mm256_srli_epi16::<4>(low),
				_mm256_srli_epi16::<4>(high),
			]
		} else {
			let raw = |b: usize, half: usize| {
				_mm_loadu_si128(w.quants.as_ptr().add(b * BLOCK + half * 16).cast())
			};
			let mut slots = [_mm256_setzero_si256(); 4];
			for half in 0..2 {
				let x = raw(wb, half);
				let y = if second { raw(wb + 1, half) } else { _mm_setzero_si128() };
				slots[2 * half] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi16(x, y));
				slots[2 * half + 1] = _mm256_cvtepi8_epi16(_mm_unpackhi_epi16(x, y));
			}
			slots
		}
	}

	/// The canonical reduction of weight row `row` against the eight activation rows of lane
	/// group `group` ([`QActs::lane_pairs`]), one (token, block) per lane, two blocks at a time:
	/// each of the blocks' sixteen weight pairs, broadcast, multiplies the eight tokens' pairs of
	/// both blocks at once (in four integer accumulators), and the blocks' float work
	/// is done once for the eight tokens. Lane `2k + h` of `lanes[i]` is the canonical lane
	/// `2i + h` of token `k`: block `b` goes to lane `b % 8` as the definition says. Returns the
	/// sums in lanes `0, 2, ..., 14`.
	#[inline(always)]
	unsafe fn row_lanes<L: PairLanes, const Q4: bool>(
		w: &QMatrix,
		row: usize,
		a: &QActs,
		group: usize,
	) -> [f32; 16] {
		let nb = w.blocks_per_row();
		let block_pairs = nb.div_ceil(2);
		let first = group * block_pairs;
		let pairs = a.lane_pairs.as_ptr().cast::<i32>().add(first * (BLOCK / 2) * 16);
		let scales = a.lane_scales.as_ptr().cast::<f32>().add(first * 16);
		let sums = a.lane_sums.as_ptr().cast::<f32>().add(first * 16);
		let mut lanes = [L::zero_f(); 4];
		// The block pairs' weights, unpacked one pair ahead into the other of two buffers: the
		// unpacking (loads, shuffles, stores) then runs beside the previous pair's multiplies
		// instead of before its own (AMD EPYC, Zen: `kernel_speed`, 4 tokens, 4% faster). Read
		// back from memory: a broadcast from memory is a plain load, where the compiler's own
		// choice (shuffling the registers) costs two shuffles a pair and leaves the kernel
		// waiting on the one port that shuffles (`black_box` keeps the buffers in memory).
		let mut buffers = [[_mm256_setzero_si256(); 4]; 2];
		let buffers = std::hint::black_box(buffers.as_mut_ptr());
		buffers.write(pair_weights::<Q4>(w, row * nb, nb > 1));
		for bp in 0..block_pairs {
			let b = 2 * bp;
			let wb = row * nb + b;
			let second = b + 1 < nb;
			prefetch::<Q4>(w, wb);
			if bp + 1 < block_pairs {
				buffers.add((bp + 1) % 2).write(pair_weights::<Q4>(w, wb + 2, b + 3 < nb));
			}
			let slots = buffers.add(bp % 2).cast::<i64>();
			let ap = pairs.add(bp * (BLOCK / 2) * 16);
			// Four accumulators of two registers, each add held in its chain by `opaque`:
			// integer adds being associative, LLVM otherwise computed all 32 products first and
			// summed them as a tree, in more registers than AVX2 has, spilling every product to
			// the stack and reading it back (AMD EPYC, Zen: `kernel_speed`, 8 tokens, 2 threads,
			// 22.1-22.4 GMAC/s before, 25.4-25.5 after).
			let step = |acc: L::I, j: usize| {
				let tokens = L::load_i(ap.add(j * 16));
				let pair = L::broadcast_pair_i(slots.add(j));
				L::opaque(L::dot_pairs(acc, tokens, pair))
			};
			let (mut acc0, mut acc1, mut acc2, mut acc3) =
				(L::zero_i(), L::zero_i(), L::zero_i(), L::zero_i());
			for j in (0..BLOCK / 2).step_by(4) {
				acc0 = step(acc0, j);
				acc1 = step(acc1, j + 1);
				acc2 = step(acc2, j + 2);
				acc3 = step(acc3, j + 3);
			}
			let sum = L::add_i(L::add_i(acc0, acc1), L::add_i(acc2, acc3));
			// The two blocks' scales (and minimums), widened from the matrix's half floats; a
			// last odd block's partner is zero.
			let pair_of = |v: &[u16]| {
				if second {
					L::broadcast_halves(v.as_ptr().add(wb))
				} else {
					L::broadcast_pair_f(half_to_f32(*v.get_unchecked(wb)), 0.0)
				}
			};
			let scale = L::mul(pair_of(&w.scales), L::load_f(scales.add(bp * 16)));
			let mut value = L::mul(scale, L::to_f(sum));
			if Q4 {
				value = L::add(value, L::mul(pair_of(&w.mins), L::load_f(sums.add(bp * 16))));
			}
			let i = bp % 4;
			lanes[i] = if second { L::add(lanes[i], value) } else { L::add_even(lanes[i], value) };
		}
		// sum_lanes: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the even lanes holding
		// the first and the odd ones the second sum of four.
		let quads = L::add(L::add(lanes[0], lanes[2]), L::add(lanes[1], lanes[3]));
		let mut out = [0.0f32; 16];
		L::store(out.as_mut_ptr(), L::add_odd_to_even(quads));
		out
	}

	/// Weight rows in one panel of [`panel`]: one per 32-bit lane of a 512-bit register.
	const PANEL_ROWS: usize = 16;

	/// Sixteen rows' 16 bytes at `at`, `at + stride`, ... as four registers, register `q` holding
	/// row `r`'s bytes `4q..4q + 4` in its lane `r`: a 16 x 4 transpose of 32-bit words, in four
	/// 128-bit inserts a register and two rounds of two-register permutes.
	#[inline(always)]
	unsafe fn transpose16(at: *const u8, stride: usize) -> [__m512i; 4] {
		macro_rules! rows4 {
			($k:expr) => {{
				let row = |i: usize| _mm_loadu_si128(at.add((4 * $k + i) * stride).cast());
				let x = _mm512_castsi128_si512(row(0));
				let x = _mm512_inserti32x4::<1>(x, row(1));
				let x = _mm512_inserti32x4::<2>(x, row(2));
				_mm512_inserti32x4::<3>(x, row(3))
			}};
		}
		let (a0, a1, a2, a3) = (rows4!(0), rows4!(1), rows4!(2), rows4!(3));
		// Round one: word `8q + i` of the result is word `q` (resp. `q + 2`) of row `i` of the
		// pair's eight rows (row `i` is word `4i + q` of the first register, or of the second's
		// `16 + ...`).
		let first = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
		let second = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
		let u0 = _mm512_permutex2var_epi32(a0, first, a1);
		let u1 = _mm512_permutex2var_epi32(a0, second, a1);
		let v0 = _mm512_permutex2var_epi32(a2, first, a3);
		let v1 = _mm512_permutex2var_epi32(a2, second, a3);
		// Round two: rows 0..8 from the first register's half, 8..16 from the second's.
		let low = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
		let high = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
		[
			_mm512_permutex2var_epi32(u0, low, v0),
			_mm512_permutex2var_epi32(u0, high, v0),
			_mm512_permutex2var_epi32(u1, low, v1),
			_mm512_permutex2var_epi32(u1, high, v1),
		]
	}

	/// A byte shuffle (`vpshufb`) that spreads bytes `x` and `y` of each 32-bit word into its
	/// two 16-bit halves, zero-extended (`high` false: `4i + x, -, 4i + y, -`) or in the halves'
	/// high bytes (`high` true: `-, 4i + x, -, 4i + y`, for an arithmetic shift to sign-extend).
	const fn spread(x: u32, y: u32, high: bool) -> [u32; 16] {
		let mut words = [0u32; 16];
		let mut i = 0;
		while i < 16 {
			// `vpshufb` indexes within each 128-bit lane; 0x80 writes a zero.
			let (a, b) = (4 * (i as u32 % 4) + x, 4 * (i as u32 % 4) + y);
			words[i] = if high {
				0x80 | (a << 8) | (0x80 << 16) | (b << 24)
			} else {
				a | (0x80 << 8) | (b << 16) | (0x80 << 24)
			};
			i += 1;
		}
		words
	}

	/// [`spread`]'s four shuffles: `Q4_1` and `Q8_0`, bytes (0, 1) and (2, 3).
	static SPREAD: [[[u32; 16]; 2]; 2] =
		[[spread(0, 1, false), spread(2, 3, false)], [spread(0, 1, true), spread(2, 3, true)]];

	/// The weights' scales (or minimums) of blocks `b` and `b + 1` of the panel's sixteen rows
	/// (from `first`, the panel's first block in `plane`), widened to f32: one 32-bit gather reads
	/// both (the planes are row-major, `nb` a row; offsets from the panel's start stay below
	/// `16 * nb`, far inside the gather's 32-bit indices). Without a block `b + 1` in the row, the
	/// second is zero, and nothing past `plane` is read.
	#[inline(always)]
	unsafe fn panel_scales(plane: &[u16], first: usize, nb: usize, b: usize) -> (__m512, __m512) {
		let words = if b + 1 < nb {
			let at = _mm512_add_epi32(
				_mm512_mullo_epi32(
					_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
					_mm512_set1_epi32(nb as i32),
				),
				_mm512_set1_epi32(b as i32),
			);
			_mm512_i32gather_epi32::<2>(at, plane.as_ptr().add(first).cast())
		} else {
			let mut each = [0i32; PANEL_ROWS];
			for (r, v) in each.iter_mut().enumerate() {
				*v = i32::from(*plane.get_unchecked(first + r * nb + b));
			}
			_mm512_loadu_si512(each.as_ptr().cast())
		};
		(
			_mm512_cvtph_ps(_mm512_cvtepi32_epi16(words)),
			_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(words))),
		)
	}

	/// `$acc += dpwssd($w, broadcast of the 32-bit pair at $p)`, as written: LLVM's machine
	/// combiner otherwise splits chains of `vpdpwssd` into `vpmaddwd` and `vpaddd` (two
	/// instructions for one) to shorten a dependency it overrates. (A macro: a function could not
	/// name `zmm_reg` without the target feature, and `#[inline(always)]` cannot have one.)
	macro_rules! dpwssd_pair {
		($acc:expr, $w:expr, $p:expr, $pair:expr) => {
			std::arch::asm!(
				"vpdpwssd {acc}, {w}, dword ptr [{p} + {offset}]{{1to16}}",
				acc = inout(zmm_reg) $acc,
				w = in(zmm_reg) $w,
				p = in(reg) $p,
				offset = const 4 * $pair,
				options(pure, readonly, nostack, preserves_flags),
			)
		};
	}

	/// One of a block's unpacked weight registers against every token's matching pair of
	/// activations (pair `$pair` of the block, a constant): `$acc[t] += dpwssd($w, pair)`.
	macro_rules! tokens_dpwssd {
		($acc:expr, $w:expr, $tokens:expr, $pair:expr) => {
			// Indices, not iterators: the adapters would not be inlined into this kernel.
			#[allow(clippy::needless_range_loop)]
			for t in 0..$acc.len() {
				dpwssd_pair!($acc[t], $w, $tokens[t], $pair);
			}
		};
	}

	/// `Q4_1`: word `$q` of each row's block (lane `r` of `$z`) holds elements `4q..4q + 4` in
	/// its low nibbles and `16 + 4q..` in its high ones; each pair of them, widened, against the
	/// tokens' pairs `2q`, `8 + 2q`, `2q + 1`, `9 + 2q`.
	macro_rules! q4_word {
		($z:expr, $q:literal, $spread:expr, $nibble:expr, $low:expr, $high:expr, $tokens:expr) => {{
			let (x, y) = (_mm512_shuffle_epi8($z, $spread.0), _mm512_shuffle_epi8($z, $spread.1));
			let (w0, w1) = (_mm512_and_si512(x, $nibble), _mm512_srli_epi16::<4>(x));
			let (w2, w3) = (_mm512_and_si512(y, $nibble), _mm512_srli_epi16::<4>(y));
			tokens_dpwssd!($low, w0, $tokens, 2 * $q);
			tokens_dpwssd!($high, w1, $tokens, 8 + 2 * $q);
			tokens_dpwssd!($low, w2, $tokens, 2 * $q + 1);
			tokens_dpwssd!($high, w3, $tokens, 9 + 2 * $q);
		}};
	}

	/// `Q8_0`: word `$q` of half `$half` of each row's block holds elements `16 half + 4q..`,
	/// widened with their sign, against the tokens' pairs `8 half + 2q` and the next.
	macro_rules! q8_word {
		($z:expr, $half:literal, $q:literal, $spread:expr, $low:expr, $high:expr, $tokens:expr) => {{
			let x = _mm512_srai_epi16::<8>(_mm512_shuffle_epi8($z, $spread.0));
			let y = _mm512_srai_epi16::<8>(_mm512_shuffle_epi8($z, $spread.1));
			tokens_dpwssd!($low, x, $tokens, 8 * $half + 2 * $q);
			tokens_dpwssd!($high, y, $tokens, 8 * $half + 2 * $q + 1);
		}};
	}

	/// The canonical reduction of the sixteen weight rows `r0..r0 + 16` against the `N` tokens
	/// from `t0` (1 to 16), rows side by side: lane `r` of every register is row
	/// `r0 + r`. Each block's weights are transposed into four (`Q4_1`) or eight (`Q8_0`)
	/// registers once ([`transpose16`]), unpacked into sixteen registers of 16-bit pairs, and each
	/// of those multiplies every token's matching pair of activations, broadcast from the rows'
	/// own layout (`QActs::quants`): sixteen `dpwssd`s a block and token, and none of the lane
	/// layout's across-register sums. The float work (one convert, two multiplies, the minimum's
	/// multiply and add, the lane's add) is done for sixteen rows at once, per token and block,
	/// into the canonical lane `b % 8` of each (row, token): the definition's operations, in its
	/// order, only for sixteen rows at a time. Token `t0 + t`'s value of row `r0 + r` goes to
	/// `out[t * out_rows + r0 + r]`.
	#[inline]
	#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
	unsafe fn panel<const Q4: bool, const N: usize>(
		w: &QMatrix,
		r0: usize,
		a: &QActs,
		t0: usize,
		out: *mut f32,
		out_rows: usize,
	) {
		let nb = w.blocks_per_row();
		let quant_bytes = if Q4 { BLOCK / 2 } else { BLOCK };
		let stride = nb * quant_bytes;
		let first = r0 * nb;
		let nibble = _mm512_set1_epi32(0x000f_000f);
		// Q4_1: bytes (0, 1) and (2, 3) of each word into 16-bit halves; Q8_0: into their high
		// bytes, so that an arithmetic shift widens them with their sign.
		let shuffles = &SPREAD[usize::from(!Q4)];
		let spread_a = _mm512_loadu_si512(shuffles[0].as_ptr().cast());
		let spread_b = _mm512_loadu_si512(shuffles[1].as_ptr().cast());
		let mut lanes = [[_mm512_setzero_ps(); 8]; N];
		let (mut dw, mut mw) = ([_mm512_setzero_ps(); 2], [_mm512_setzero_ps(); 2]);
		// The next panel's bytes, spread over this panel's blocks: its quants (sixteen rows of
		// `stride` bytes, `16 * quant_bytes` a block here) and its scales and minimums (a line
		// every two blocks). Sixteen rows at once are sixteen streams, more than the hardware
		// prefetchers follow; prefetches past the matrix's end do not fault.
		let next_quants = w.quants.as_ptr().wrapping_add((r0 + PANEL_ROWS) * stride);
		let next_scales = (first + PANEL_ROWS * nb) * 2;
		for b in 0..nb {
			for line in 0..quant_bytes / 4 {
				let at = next_quants.wrapping_add((b * quant_bytes / 4 + line) * 64);
				_mm_prefetch::<_MM_HINT_T0>(at.cast());
			}
			if b % 2 == 0 {
				let at = next_scales + b * 32;
				_mm_prefetch::<_MM_HINT_T0>(w.scales.as_ptr().cast::<u8>().wrapping_add(at).cast());
				if Q4 {
					_mm_prefetch::<_MM_HINT_T0>(
						w.mins.as_ptr().cast::<u8>().wrapping_add(at).cast(),
					);
				}
				let (d0, d1) = panel_scales(&w.scales, first, nb, b);
				dw = [d0, d1];
				if Q4 {
					let (m0, m1) = panel_scales(&w.mins, first, nb, b);
					mw = [m0, m1];
				}
			}
			// Each token's activations of block `b`, as 32-bit pairs.
			let acts = a.quants.as_ptr().add((t0 * nb + b) * BLOCK).cast::<i32>();
			let mut tokens = [acts; N];
			#[allow(clippy::needless_range_loop)]
			for t in 0..N {
				tokens[t] = acts.add(t * nb * BLOCK / 2);
			}
			// Two accumulators a token (low nibbles, high nibbles: chains of eight `dpwssd`s) up
			// to eight tokens; one from nine, where sixteen tokens' chains are enough to hide the
			// instruction's latency and 32 accumulators would not fit in the registers.
			let mut low = [_mm512_setzero_si512(); N];
			let mut high = [_mm512_setzero_si512(); N];
			let quants = w.quants.as_ptr().add((first + b) * quant_bytes);
			let spread = (spread_a, spread_b);
			macro_rules! block {
				($low:ident, $high:ident) => {
					if Q4 {
						let [z0, z1, z2, z3] = transpose16(quants, stride);
						q4_word!(z0, 0, spread, nibble, $low, $high, tokens);
						q4_word!(z1, 1, spread, nibble, $low, $high, tokens);
						q4_word!(z2, 2, spread, nibble, $low, $high, tokens);
						q4_word!(z3, 3, spread, nibble, $low, $high, tokens);
					} else {
						let [z0, z1, z2, z3] = transpose16(quants, stride);
						q8_word!(z0, 0, 0, spread, $low, $high, tokens);
						q8_word!(z1, 0, 1, spread, $low, $high, tokens);
						q8_word!(z2, 0, 2, spread, $low, $high, tokens);
						q8_word!(z3, 0, 3, spread, $low, $high, tokens);
						let [z0, z1, z2, z3] = transpose16(quants.add(16), stride);
						q8_word!(z0, 1, 0, spread, $low, $high, tokens);
						q8_word!(z1, 1, 1, spread, $low, $high, tokens);
						q8_word!(z2, 1, 2, spread, $low, $high, tokens);
						q8_word!(z3, 1, 3, spread, $low, $high, tokens);
					}
				};
			}
			if N <= LANE_ROWS {
				block!(low, high);
			} else {
				block!(low, low);
			}
			let (d, m) = (dw[b % 2], mw[b % 2]);
			for t in 0..N {
				let ab = (t0 + t) * nb + b;
				let sum = if N <= LANE_ROWS { _mm512_add_epi32(low[t], high[t]) } else { low[t] };
				let s = _mm512_cvtepi32_ps(sum);
				let scale = _mm512_mul_ps(d, _mm512_set1_ps(*a.scales.get_unchecked(ab)));
				let mut value = _mm512_mul_ps(scale, s);
				if Q4 {
					let sum = _mm512_set1_ps(*a.scaled_sums.get_unchecked(ab));
					value = _mm512_add_ps(value, _mm512_mul_ps(m, sum));
				}
				let lane = &mut lanes[t][b % 8];
				*lane = _mm512_add_ps(*lane, value);
			}
		}
		for (t, l) in lanes.iter().enumerate() {
			let sum = _mm512_add_ps(
				_mm512_add_ps(_mm512_add_ps(l[0], l[4]), _mm512_add_ps(l[2], l[6])),
				_mm512_add_ps(_mm512_add_ps(l[1], l[5]), _mm512_add_ps(l[3], l[7])),
			);
			_mm512_storeu_ps(out.add(t * out_rows + r0), sum);
		}
	}

	/// [`panel`] for the `n` (1 to 16) tokens from `t0`, token `t0 + t`'s cells at
	/// `out[t * out_rows + r]`.
	#[inline]
	#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
	unsafe fn panel_of(
		w: &QMatrix,
		r0: usize,
		a: &QActs,
		(t0, n): (usize, usize),
		out: *mut f32,
		out_rows: usize,
	) {
		macro_rules! panels {
			($($n:literal)*) => {
				match (w.format, n) {
					$((WeightFormat::Q4_1, $n) => panel::<true, $n>(w, r0, a, t0, out, out_rows),)*
					$((WeightFormat::Q8_0, $n) => panel::<false, $n>(w, r0, a, t0, out, out_rows),)*
					_ => unreachable!("panels take 1 to 16 tokens"),
				}
			};
		}
		panels!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
	}

	/// The AVX-512 tier's kernel: `out[t * w.rows + r]` for the rows `rows` and the `n` tokens
	/// (1 to 16) from `t0`, `tokens = (t0, n)`, sixteen rows at a time ([`panel`]). Rows
	/// left over (fewer than sixteen) are copied into a panel of their own, the missing rows
	/// zero, and only their cells kept: the same operations on the same values, so the same bits.
	///
	/// # Safety
	/// The CPU must have the AVX-512 tier's features; rows in range, `t0 + n <= a.rows`;
	/// `out` holds `a.rows * w.rows` cells and no other thread writes these rows' cells.
	#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
	pub unsafe fn panels_avx512_vnni(
		w: &QMatrix,
		rows: std::ops::Range<usize>,
		a: &QActs,
		tokens: (usize, usize),
		out: *mut f32,
	) {
		let t0 = tokens.0;
		let mut r = rows.start;
		while r + PANEL_ROWS <= rows.end {
			panel_of(w, r, a, tokens, out.add(t0 * w.rows), w.rows);
			r += PANEL_ROWS;
		}
		if r < rows.end {
			tail_panel(w, r..rows.end, a, tokens, out);
		}
	}

	/// [`panels_avx512_vnni`]'s last rows, fewer than a panel (matrices whose rows are not a
	/// multiple of sixteen).
	#[cold]
	#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
	unsafe fn tail_panel(
		w: &QMatrix,
		rows: std::ops::Range<usize>,
		a: &QActs,
		(t0, n): (usize, usize),
		out: *mut f32,
	) {
		let nb = w.blocks_per_row();
		let quant_bytes = w.format.quant_bytes();
		let mut panel = QMatrix {
			format: w.format,
			rows: PANEL_ROWS,
			cols: w.cols,
			quants: vec![0; PANEL_ROWS * nb * quant_bytes],
			scales: vec![0; PANEL_ROWS * nb],
			mins: if w.mins.is_empty() { Vec::new() } else { vec![0; PANEL_ROWS * nb] },
		};
		let m = rows.len();
		panel.quants[..m * nb * quant_bytes]
			.copy_from_slice(&w.quants[rows.start * nb * quant_bytes..rows.end * nb * quant_bytes]);
		panel.scales[..m * nb].copy_from_slice(&w.scales[rows.start * nb..rows.end * nb]);
		if !w.mins.is_empty() {
			panel.mins[..m * nb].copy_from_slice(&w.mins[rows.start * nb..rows.end * nb]);
		}
		let mut cells = [0.0f32; super::PANEL_TOKENS * PANEL_ROWS];
		panel_of(&panel, 0, a, (t0, n), cells.as_mut_ptr(), PANEL_ROWS);
		for t in 0..n {
			for (i, r) in rows.clone().enumerate() {
				*out.add((t0 + t) * w.rows + r) = cells[t * PANEL_ROWS + i];
			}
		}
	}

	/// `out[t * w.rows + r]` for the rows `rows` and the one token `t`, with AVX2's integer
	/// products ([`row_one`]).
	///
	/// # Safety
	/// The CPU must have AVX2 and F16C; rows and token in range; `out` holds `a.rows * w.rows`
	/// cells and no other thread writes these.
	#[target_feature(enable = "avx2,f16c")]
	pub unsafe fn one_avx2(
		w: &QMatrix,
		rows: std::ops::Range<usize>,
		a: &QActs,
		t: usize,
		out: *mut f32,
	) {
		for r in rows {
			*out.add(t * w.rows + r) = match w.format {
				WeightFormat::Q4_1 => row_one::<true>(w, r, a, t),
				WeightFormat::Q8_0 => row_one::<false>(w, r, a, t),
			};
		}
	}

	/// `out[t * w.rows + r]` for the rows `rows` and the tokens `t` of lane group `group` below
	/// `a.rows`, with AVX2's integer products ([`row_lanes`]).
	///
	/// # Safety
	/// The CPU must have AVX2 and F16C; rows in range, `group` a lane group of `a` laid out as
	/// [`LaneLayout::Pairs`](super::LaneLayout::Pairs); `out` holds `a.rows * w.rows` cells and no
	/// other thread writes these rows' cells.
	#[target_feature(enable = "avx2,f16c")]
	pub unsafe fn lanes_avx2(
		w: &QMatrix,
		rows: std::ops::Range<usize>,
		a: &QActs,
		group: usize,
		out: *mut f32,
	) {
		let t0 = group * LANE_ROWS;
		let n = (a.rows - t0).min(LANE_ROWS);
		for r in rows {
			let v = match (w.format, n <= LANE_ROWS / 2) {
				(WeightFormat::Q4_1, false) => row_lanes::<Avx2Lanes, true>(w, r, a, group),
				(WeightFormat::Q8_0, false) => row_lanes::<Avx2Lanes, false>(w, r, a, group),
				(WeightFormat::Q4_1, true) => row_lanes::<Avx2HalfLanes, true>(w, r, a, group),
				(WeightFormat::Q8_0, true) => row_lanes::<Avx2HalfLanes, false>(w, r, a, group),
			};
			for k in 0..n {
				*out.add((t0 + k) * w.rows + r) = v[2 * k];
			}
		}
	}
}

/// The tokens one call of [`rows_dot`] computes.
#[derive(Clone, Copy)]
enum Tokens {
	/// One token, alone.
	One(usize),
	/// Two tokens, `t0` and `t0 + 1`.
	Two(usize),
	/// The tokens of one of the activations' lane groups (up to eight, one per lane).
	Lanes(usize),
	/// The tokens of all the activations' lane groups.
	AllLanes,
	/// Every token, in one pass over the weights (AVX-512's panels, up to [`PANEL_TOKENS`]).
	All,
}

/// Tokens that AVX-512's panels take in one pass over the weights: two lane groups, the batches
/// of decoding (the engine runs up to 16 jobs a step).
const PANEL_TOKENS: usize = 2 * LANE_ROWS;

/// `out[t * w.rows + r]` for the rows `rows` and the tokens `tokens`, with `tier`'s code: for each
/// cell the same bits as [`dot_scalar`].
///
/// # Safety
/// Rows and tokens in range (a lane group of `a`'s), `out` holds `a.rows * w.rows` cells, and no
/// other thread writes the cells of these rows.
#[inline(always)]
unsafe fn rows_dot(
	tier: Tier,
	w: &QMatrix,
	rows: std::ops::Range<usize>,
	a: &QActs,
	tokens: Tokens,
	out: *mut f32,
) {
	debug_assert!(rows.end <= w.rows && w.cols == a.cols);
	debug_assert!(match tokens {
		Tokens::One(t) => t < a.rows,
		Tokens::Two(t0) => t0 + 1 < a.rows,
		Tokens::Lanes(group) => group < a.lane_groups(),
		Tokens::AllLanes => true,
		Tokens::All => a.rows <= PANEL_TOKENS,
	});
	match (tier, tokens) {
		#[cfg(target_arch = "x86_64")]
		(Tier::Amx, Tokens::AllLanes) if a.layout == LaneLayout::Tiles => {
			super::amx::lanes(w, rows, a, out)
		},
		(_, Tokens::AllLanes) => {
			for group in 0..a.lane_groups() {
				rows_dot(tier, w, rows.clone(), a, Tokens::Lanes(group), out);
			}
		},
		// A `Tier` other than `Scalar` reaches here only after `is_supported` (the model checks
		// it at load).
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx2, Tokens::One(t)) => x86::one_avx2(w, rows, a, t, out),
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx2, Tokens::Lanes(group)) => x86::lanes_avx2(w, rows, a, group, out),
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx512Vnni | Tier::Amx, Tokens::All) => {
			x86::panels_avx512_vnni(w, rows, a, (0, a.rows), out)
		},
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx512Vnni | Tier::Amx, Tokens::One(t)) => {
			x86::panels_avx512_vnni(w, rows, a, (t, 1), out)
		},
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx512Vnni | Tier::Amx, Tokens::Two(t0)) => {
			x86::panels_avx512_vnni(w, rows, a, (t0, 2), out)
		},
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx2, Tokens::Two(t0)) => {
			x86::one_avx2(w, rows.clone(), a, t0, out);
			x86::one_avx2(w, rows, a, t0 + 1, out);
		},
		#[cfg(target_arch = "x86_64")]
		(Tier::Avx512Vnni | Tier::Amx, Tokens::Lanes(group)) => {
			let t0 = group * LANE_ROWS;
			x86::panels_avx512_vnni(w, rows, a, (t0, (a.rows - t0).min(LANE_ROWS)), out)
		},
		(_, tokens) => {
			let tokens = match tokens {
				Tokens::One(t) => t..t + 1,
				Tokens::Two(t0) => t0..t0 + 2,
				Tokens::Lanes(group) => group * LANE_ROWS..((group + 1) * LANE_ROWS).min(a.rows),
				Tokens::AllLanes => 0..(a.lane_groups() * LANE_ROWS).min(a.rows),
				Tokens::All => 0..a.rows,
			};
			for r in rows {
				for t in tokens.clone() {
					*out.add(t * w.rows + r) = dot_scalar(w, r, a, t);
				}
			}
		},
	}
}

/// Rows of a matmul's weights that all tokens of a batch pass over before the next rows.
const ROW_BLOCK: usize = 32;

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
	assert!(
		tier != Tier::Avx2 || a.layout == LaneLayout::Pairs,
		"matmul: activations laid out for another tier"
	);
	// AVX-512's panels take up to 16 tokens in one pass over the weights; otherwise tokens go
	// eight to a lane group, and one or two left over go one by one.
	let all_at_once = matches!(tier, Tier::Avx512Vnni | Tier::Amx)
		&& cfg!(target_arch = "x86_64")
		&& tokens <= PANEL_TOKENS;
	let lane_groups = a.lane_groups();
	// About one chunk of rows per thread (at least 16 rows, a panel): each chunk starts cold
	// (its first rows are fetched without a prefetch ahead of them) and costs a claim, and with
	// the threads claiming chunks as they finish, a late thread only leaves more to the others.
	// Measured at two threads (a decode step of 8 rows): four chunks a thread 14.3 ms, two 13.9,
	// one 13.4 (`docs/benchmarks.md`).
	let total_rows: usize = products.iter().map(|(w, _)| w.rows).sum();
	let chunk = total_rows.div_ceil(team.size()).max(16).next_multiple_of(16);
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
			// (AMX's kernel keeps its own order of rows and groups: it takes the item at once.)
			let row_block = if a.layout == LaneLayout::Tiles { end - start } else { ROW_BLOCK };
			let rows = block..(block + row_block).min(end);
			// SAFETY: `rows` are rows of `w`, the groups and tokens are `a`'s; the output holds
			// `tokens * w.rows` cells (asserted above) and only this item writes these rows.
			unsafe {
				if all_at_once {
					rows_dot(tier, w, rows.clone(), a, Tokens::All, out_ptr.0);
					block = rows.end;
					continue;
				}
				if lane_groups > 0 {
					rows_dot(tier, w, rows.clone(), a, Tokens::AllLanes, out_ptr.0);
				}
				// (A last lane group of three to seven rows is padded past `tokens`: none left.)
				let left = a.first_single_row();
				match tokens - left {
					2 => rows_dot(tier, w, rows.clone(), a, Tokens::Two(left), out_ptr.0),
					1 => rows_dot(tier, w, rows.clone(), a, Tokens::One(left), out_ptr.0),
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
		const ROWS: usize = 53;
		let mut rng = Rng(0x5eed);
		// 18 blocks a row (a partial group of 8), and 65 (more than one chunk of 64); 11, 12 and
		// 15 (groups of eight that end in three, four and seven blocks: AVX2's short and long
		// tails).
		for (format, cols) in [
			(WeightFormat::Q4_1, 576),
			(WeightFormat::Q8_0, 576),
			(WeightFormat::Q4_1, 2080),
			(WeightFormat::Q8_0, 2080),
			(WeightFormat::Q4_1, 352),
			(WeightFormat::Q8_0, 384),
			(WeightFormat::Q4_1, 480),
			(WeightFormat::Q8_0, 480),
		] {
			let w = random_matrix(&mut rng, format, ROWS, cols);
			// Lane groups of eight tokens (the last of one to seven: AVX2 takes those of four or
			// fewer in half the registers), and one or two tokens one by one; AVX-512's panels for
			// every group count (53 rows: three panels and a tail of five, or a partial row tile
			// on AMX); on AMX, one or two groups (the panels), three or four (one pass of tiles)
			// and five (two passes).
			for tokens in [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 14, 16, 19, 35, 42] {
				let a = random_acts(&mut rng, tokens, cols);
				let mut reference = vec![0.0; tokens * ROWS];
				matmul(Tier::Scalar, &w, &a, &mut reference);
				for tier in Tier::supported() {
					let mut out = vec![0.0; tokens * ROWS];
					let mut a = a.clone();
					a.set_layout(tier.lane_layout());
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
		let mut a = a;
		a.set_layout(Tier::best().lane_layout());
		let mut batched = vec![0.0; 6 * 300];
		matmul(Tier::best(), &w, &a, &mut batched);
		for threads in [1, 3] {
			let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
			for t in 0..6 {
				let mut alone = QActs::with_layout(Tier::best().lane_layout());
				let start = t * 128;
				let x: Vec<f32> = (0..128).map(|_| 0.0).collect();
				alone.quantize(&x, 128);
				alone.quants.copy_from_slice(&a.quants[start..start + 128]);
				alone.scales.copy_from_slice(&a.scales[t * 4..t * 4 + 4]);
				alone.scaled_sums.copy_from_slice(&a.scaled_sums[t * 4..t * 4 + 4]);
				// Lay the copied row out again (AVX2's single-token kernel reads its copy).
				alone.set_layout(Tier::best().lane_layout());
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
	/// --lib kernel_speed -- --ignored --nocapture` prints each tier's multiply-adds per second
	/// (the best of `KSPEED_REPS`, default 7, runs). `KSPEED_SHAPE=ROWSxCOLS` (default 1536x576),
	/// `KSPEED_TOKENS` (default 1, 8 and 64), `KSPEED_THREADS` (default 1) and `KSPEED_TIER` (one
	/// tier only) change what is measured. A matrix this small stays in cache: the model's do not
	/// (see `docs/benchmarks.md` for what that changes).
	#[test]
	#[ignore = "a measurement, not a check: it prints GMAC/s per tier and asserts nothing; the \
	            tiers' results are checked by every_tier_is_bit_identical_to_the_scalar_definition"]
	fn kernel_speed() {
		let setting = |name: &str| std::env::var(name).ok();
		let (rows, cols) = setting("KSPEED_SHAPE").map_or((1536, 576), |s| {
			let v: Vec<usize> = s.split('x').map(|x| x.parse().unwrap()).collect();
			(v[0], v[1])
		});
		let blocks = rows * cols / BLOCK;
		let mut bytes = Vec::new();
		for i in 0..blocks {
			bytes.extend_from_slice(&f16::from_f32(0.01).to_bits().to_le_bytes());
			bytes.extend_from_slice(&f16::from_f32(-0.05).to_bits().to_le_bytes());
			bytes.extend((0..16).map(|j| ((i * 31 + j * 7) % 256) as u8));
		}
		let w = QMatrix::from_gguf_blocks(WeightFormat::Q4_1, rows, cols, &bytes).unwrap();
		let threads = setting("KSPEED_THREADS").map_or(1, |t| t.parse().unwrap());
		let reps = setting("KSPEED_REPS").map_or(7, |r| r.parse().unwrap());
		let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
		for tokens in
			setting("KSPEED_TOKENS").map_or(vec![1usize, 8, 64], |t| vec![t.parse().unwrap()])
		{
			let x: Vec<f32> = (0..tokens * cols).map(|i| ((i % 97) as f32 - 48.0) * 0.01).collect();
			let mut a = QActs::default();
			a.quantize(&x, cols);
			let mut out = vec![0.0; tokens * rows];
			for tier in Tier::supported() {
				if setting("KSPEED_TIER").is_some_and(|t| t != tier.as_str()) {
					continue;
				}
				a.set_layout(tier.lane_layout());
				let mut best = f64::MAX;
				for _ in 0..reps {
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
