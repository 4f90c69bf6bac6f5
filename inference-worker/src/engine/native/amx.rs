//! The batched matmul on Intel AMX tiles, bit-identical to the other tiers.
//!
//! AMX multiplies 8-bit integers, and the activations have 16 bits (`super::quant`). Split each
//! activation quant into bytes, `q = 256 * high + low` (`high = q >> 8` signed, `low = q & 0xff`
//! unsigned), and the block's exact integer product is `s = 256 * (w . high) + (w . low)`: two
//! tile products, exact in i32, then the same float work as every tier (`super::kernels`'
//! definition). Nothing about the answer changes; only the integer sums are found faster.
//!
//! One step takes 16 weight rows by a pair of blocks (the left tile: 64 values a row, unpacked to
//! a byte each) against a lane group's eight tokens (two right tiles, [`QActs::lane_tiles`], whose
//! 16 columns are the eight tokens in the first block and in the second, the other block's
//! values zero): one tile product gives 16 rows by 8 tokens by 2 blocks of exact sums, as one
//! product of the same cost gives one block. The products go back to vector registers for the
//! scales, one row's two blocks by eight tokens to a register, as the AVX-512 tier's lanes are.
//!
//! What bounds it is not the tile unit but the vector work around it (unpacking the weights,
//! scaling the sums: the same per (row, token, block) as on AVX-512) and, for the model's
//! weights, memory: the tile unit and the vector unit share issue ports, so their times add up
//! more than they overlap. It beats AVX-512's panels from three lane groups on (1.2x at 24
//! rows: prompts), not on one or two (decoding up to sixteen requests; `quant::TILE_MIN_GROUPS`);
//! `docs/benchmarks.md` has the measurements.

use std::{arch::asm, mem::MaybeUninit, ops::Range, sync::OnceLock};

use std::arch::x86_64::*;

use super::quant::{QActs, QMatrix, WeightFormat, BLOCK, LANE_ROWS, TILE_BYTES};

/// Values of a block pair, the tiles' inner dimension (bytes a row of the weights' tile).
const PAIR: usize = 2 * BLOCK;

/// Weight rows in one left tile (AMX's most).
const TILE_ROWS: usize = 16;

/// Whether this CPU has AMX's tiles and 8-bit products, and the kernel lets this process use
/// them (Linux asks a process to request the tiles' 8 KiB of state before the first use).
pub fn is_supported() -> bool {
	static SUPPORTED: OnceLock<bool> = OnceLock::new();
	*SUPPORTED.get_or_init(|| {
		// CPUID leaf 7: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
		#[allow(unused_unsafe)]
		let leaf = unsafe { __cpuid_count(7, 0) };
		leaf.edx & (1 << 24) != 0 && leaf.edx & (1 << 25) != 0 && request_tile_state()
	})
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: once per process, for all its threads.
#[cfg(target_os = "linux")]
fn request_tile_state() -> bool {
	const SYS_ARCH_PRCTL: i64 = 158;
	const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
	const XFEATURE_XTILEDATA: i64 = 18;
	let result: i64;
	// SAFETY: a system call that only changes which register state the process may use; the
	// syscall instruction clobbers rcx and r11, declared here.
	unsafe {
		asm!(
			"syscall",
			inlateout("rax") SYS_ARCH_PRCTL => result,
			in("rdi") ARCH_REQ_XCOMP_PERM,
			in("rsi") XFEATURE_XTILEDATA,
			lateout("rcx") _,
			lateout("r11") _,
			options(nostack),
		);
	}
	result == 0
}

/// Other systems: not used (their way of granting the tile state is not implemented).
#[cfg(not(target_os = "linux"))]
fn request_tile_state() -> bool {
	false
}

/// The tile configuration `ldtilecfg` reads (palette 1): tiles 0 and 5 the weights (16 rows of
/// a block pair, 64 bytes), 1, 2 and 6, 7 the activations' high and low bytes (16 rows of 64
/// bytes), 3 and 4 the two products (16 rows of 16 i32). Every tile is 16 rows of 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
	palette: u8,
	start_row: u8,
	reserved: [u8; 14],
	colsb: [u16; 16],
	rows: [u8; 16],
}

impl TileConfig {
	fn new() -> Self {
		let mut config =
			Self { palette: 1, start_row: 0, reserved: [0; 14], colsb: [0; 16], rows: [0; 16] };
		for t in 0..8 {
			config.rows[t] = TILE_ROWS as u8;
			config.colsb[t] = PAIR as u16;
		}
		config
	}
}

/// How many rows ahead of their unpacking the weights are prefetched (a pass's worth).
const PREFETCH_ROWS: usize = UNITS * TILE_ROWS;

/// How many block pairs ahead of its tile load a pair of weights is unpacked.
const UNPACK_AHEAD: usize = 2;

/// (Row tile, lane group) pairs in one pass: their accumulators (4 KiB each) stay in L1.
const UNITS: usize = 4;

/// For each row `r` of a tile, `vpermt2ps` indices that put the first block's `r` in the low
/// eight lanes and the second's in the high eight.
static ROW_INDEX: Aligned<[[i32; 16]; TILE_ROWS]> = Aligned({
	let mut index = [[0; 16]; TILE_ROWS];
	let mut r = 0;
	while r < TILE_ROWS {
		let mut lane = 0;
		while lane < 16 {
			index[r][lane] = if lane < 8 { r as i32 } else { 16 + r as i32 };
			lane += 1;
		}
		r += 1;
	}
	index
});

/// 64-byte aligned scratch (tile loads and stores are fastest on whole lines).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Aligned<T>(T);

/// `out[t * w.rows + r]` for the rows `rows` and every token of `a`'s lane groups.
///
/// # Safety
/// [`is_supported`] and the AVX-512 tier's features; `rows` are rows of `w`, `w.cols == a.cols`,
/// `a` is laid out as [`super::quant::LaneLayout::Tiles`]; `out` holds `a.rows * w.rows` cells
/// and no other thread writes the cells of these rows.
#[target_feature(enable = "avx2,f16c,avx512f,avx512vl,avx512bw")]
pub unsafe fn lanes(w: &QMatrix, rows: Range<usize>, a: &QActs, out: *mut f32) {
	let config = TileConfig::new();
	asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly));
	let groups = a.lane_groups();
	// A pass takes up to UNITS (row tile, lane group) pairs: few groups, several row tiles.
	let tiles_per_pass = (UNITS / groups.max(1)).max(1);
	let groups_per_pass = groups.min(UNITS);
	let mut first_row = rows.start;
	while first_row < rows.end {
		let rows_end = (first_row + tiles_per_pass * TILE_ROWS).min(rows.end);
		let mut first_group = 0;
		while first_group < groups {
			let n_groups = (groups - first_group).min(groups_per_pass);
			let span = Span { first_row, rows_end, first_group, n_groups };
			match w.format {
				WeightFormat::Q4_1 => pass::<true>(w, a, span, out),
				WeightFormat::Q8_0 => pass::<false>(w, a, span, out),
			}
			first_group += n_groups;
		}
		first_row = rows_end;
	}
	asm!("tilerelease", options(nostack, nomem));
}

/// One step's tile instructions (see `pass`): load the weights' tile `$a` and the activations'
/// high and low bytes' tiles, store the previous step's products (tiles 3 and 4) to `$c`, and
/// multiply into tiles 3 and 4 with the instructions of the operands' signedness.
macro_rules! tile_step {
	(
		$a:literal, $high:literal, $low:literal, $dp_high:literal, $dp_low:literal,
		$a_tile:expr, $high_tile:expr, $c:expr
	) => {
		asm!(
			concat!("tileloadd ", $a, ", [{a} + {stride}*1]"),
			concat!("tileloadd ", $high, ", [{high} + {stride}*1]"),
			concat!("tileloadd ", $low, ", [{low} + {stride}*1]"),
			"tilestored [{c_high} + {stride}*1], tmm3",
			"tilestored [{c_low} + {stride}*1], tmm4",
			"tilezero tmm3",
			"tilezero tmm4",
			concat!($dp_high, " tmm3, ", $a, ", ", $high),
			concat!($dp_low, " tmm4, ", $a, ", ", $low),
			a = in(reg) $a_tile,
			high = in(reg) $high_tile,
			low = in(reg) $high_tile.add(TILE_BYTES),
			c_high = in(reg) $c,
			c_low = in(reg) $c.add(TILE_ROWS * 16),
			stride = in(reg) PAIR,
			options(nostack),
		)
	};
}

/// The rows `first_row..rows_end` (at most [`UNITS`] tiles of 16) by `n_groups` lane groups from
/// `first_group`, tiles times groups at most [`UNITS`].
#[derive(Clone, Copy)]
struct Span {
	first_row: usize,
	rows_end: usize,
	first_group: usize,
	n_groups: usize,
}

/// One [`Span`]: every block pair of its rows against its groups, then the lanes' sums to `out`.
///
/// The steps (block pair, row tile, group) are pipelined: a step's tiles are loaded and
/// multiplied before the previous step's products are scaled.
#[inline(always)]
unsafe fn pass<const Q4: bool>(w: &QMatrix, a: &QActs, span: Span, out: *mut f32) {
	let nb = w.blocks_per_row();
	let pairs = nb.div_ceil(2);
	let Span { first_row, rows_end, first_group, n_groups } = span;
	let n_tiles = (rows_end - first_row).div_ceil(TILE_ROWS);
	let n_units = n_tiles * n_groups;
	let tile_rows = |t: usize| (rows_end - first_row - t * TILE_ROWS).min(TILE_ROWS);
	// For each unit (tile-major), block pair modulo 4 and row: the row's lanes `2i` (low half)
	// and `2i + 1` (high half) for the group's eight tokens, `i` the pair modulo 4: block `b` in
	// lane `b % 8`, as the definition says. (Left uninitialized past `n_units`, and the scratch
	// below until written: zeroing or copying them every pass measured up to a tenth of the
	// kernel.)
	let mut acc: [MaybeUninit<[[__m512; TILE_ROWS]; 4]>; UNITS] =
		[const { MaybeUninit::uninit() }; UNITS];
	for unit in acc.iter_mut().take(n_units) {
		unit.write([[_mm512_setzero_ps(); TILE_ROWS]; 4]);
	}
	// Pairs are unpacked UNPACK_AHEAD pairs before their tiles are loaded: a tile load of bytes
	// the vector unit has just stored waits for the stores to drain (measured: 60 cycles a step).
	let mut weights: [[MaybeUninit<Aligned<[u8; TILE_ROWS * PAIR]>>; UNITS]; UNPACK_AHEAD + 1] =
		[const { [const { MaybeUninit::uninit() }; UNITS] }; UNPACK_AHEAD + 1];
	let mut products: [MaybeUninit<Aligned<[i32; 2 * TILE_ROWS * 16]>>; 2] =
		[const { MaybeUninit::uninit() }; 2];
	let products = products.each_mut().map(|p| p.as_mut_ptr().cast::<i32>());
	let tiles = a.lane_tiles.as_ptr().cast::<u8>();
	let act_scales = a.tile_scales.as_ptr().cast::<f32>();
	let act_sums = a.tile_sums.as_ptr().cast::<f32>();
	// Row `r`'s register of the pair's weight scales: the first block's in the low half, the
	// second's in the high half (`vpermt2ps` of the two blocks' sixteen rows).
	let row_index = ROW_INDEX.0.as_ptr();
	// For pairs `bp % 3` and each tile, the weights' scales and minimums of the pair's two
	// blocks, gathered a pair ahead: the gathers' latency, waited for at once, measured a fifth
	// of the kernel.
	let mut weight_scales = [[[(_mm512_setzero_ps(), _mm512_setzero_ps()); 2]; UNITS]; 3];
	// (Macros, not closures: closures do not inherit `lanes`' target features, and their
	// intrinsics would be calls.)
	macro_rules! unpack_pair {
		($bp:expr) => {{
			let bp: usize = $bp;
			for t in 0..n_tiles {
				let buffer = weights[bp % (UNPACK_AHEAD + 1)][t].as_mut_ptr().cast::<u8>();
				unpack::<Q4>(w, first_row + t * TILE_ROWS, tile_rows(t), bp, buffer);
			}
		}};
	}
	// Step `s` = (bp, t, g) loads its tiles into set `s % 2` (tiles 0-2 or 5-7), stores the
	// previous step's products (tiles 3 and 4) to buffer `(s - 1) % 2`, and multiplies into tiles
	// 3 and 4: the tile unit runs its instructions in order, so loading this step's tiles before
	// the stores keeps it busy while they wait for the products.
	macro_rules! multiply {
		($s:expr, $bp:expr, $t:expr, $g:expr) => {{
			let (s, bp, t, g): (usize, usize, usize, usize) = ($s, $bp, $t, $g);
			let a_tile = weights[bp % (UNPACK_AHEAD + 1)][t].as_ptr().cast::<u8>();
			let high = tiles.add(((first_group + g) * pairs + bp) * 2 * TILE_BYTES);
			let c = products[(s + 1) % 2];
			// Weights are unsigned (`Q4_1`) or signed (`Q8_0`); high bytes signed, low unsigned.
			match (Q4, s % 2) {
				(true, 0) => {
					tile_step!("tmm0", "tmm1", "tmm2", "tdpbusd", "tdpbuud", a_tile, high, c)
				},
				(true, _) => {
					tile_step!("tmm5", "tmm6", "tmm7", "tdpbusd", "tdpbuud", a_tile, high, c)
				},
				(false, 0) => {
					tile_step!("tmm0", "tmm1", "tmm2", "tdpbssd", "tdpbsud", a_tile, high, c)
				},
				(false, _) => {
					tile_step!("tmm5", "tmm6", "tmm7", "tdpbssd", "tdpbsud", a_tile, high, c)
				},
			}
		}};
	}
	// The products of step `s` = (bp, t, g), in buffer `s % 2`, scaled into the unit's lanes.
	macro_rules! scale {
		($s:expr, $bp:expr, $t:expr, $g:expr) => {{
			let (s, bp, t, g): (usize, usize, usize, usize) = ($s, $bp, $t, $g);
			let gp = (first_group + g) * pairs + bp;
			let c = products[s % 2].cast_const();
			let [(dw0, mw0), (dw1, mw1)] = weight_scales[bp % 3][t];
			// The 16 columns' scales: eight tokens in the first block, then in the second.
			let da = _mm512_load_ps(act_scales.add(gp * 16));
			let ss = _mm512_load_ps(act_sums.add(gp * 16));
			let lanes = &mut acc[t * n_groups + g].assume_init_mut()[bp % 4];
			// A last odd block's partner is not added to its lane (adding +0.0 would turn a
			// -0.0 into +0.0).
			let both = if 2 * bp + 1 < nb { 0xffff } else { 0x00ff };
			for (r, lane) in lanes.iter_mut().enumerate() {
				let high = _mm512_load_si512(c.add(r * 16).cast());
				let low = _mm512_load_si512(c.add(TILE_ROWS * 16 + r * 16).cast());
				let sum = _mm512_add_epi32(_mm512_slli_epi32::<8>(high), low);
				let index = _mm512_load_si512(row_index.add(r).cast());
				let scale = _mm512_mul_ps(_mm512_permutex2var_ps(dw0, index, dw1), da);
				let mut value = _mm512_mul_ps(scale, _mm512_cvtepi32_ps(sum));
				if Q4 {
					let min = _mm512_permutex2var_ps(mw0, index, mw1);
					value = _mm512_add_ps(value, _mm512_mul_ps(min, ss));
				}
				*lane = _mm512_mask_add_ps(*lane, both, *lane, value);
			}
		}};
	}
	macro_rules! gather_scales {
		($bp:expr) => {{
			let bp: usize = $bp;
			for t in 0..n_tiles {
				let (row, n_rows) = (first_row + t * TILE_ROWS, tile_rows(t));
				if bp == 0 {
					// The scales (and minimums) of the rows a later pass reads, as above.
					let ahead = (row + PREFETCH_ROWS) * nb;
					for line in (0..n_rows * nb).step_by(32) {
						let at = ahead + line;
						_mm_prefetch::<_MM_HINT_T0>(w.scales.as_ptr().wrapping_add(at).cast());
						if Q4 {
							_mm_prefetch::<_MM_HINT_T0>(w.mins.as_ptr().wrapping_add(at).cast());
						}
					}
				}
				let (dw0, dw1) = gather_pair(&w.scales, row, n_rows, nb, bp);
				let (mw0, mw1) = if Q4 {
					gather_pair(&w.mins, row, n_rows, nb, bp)
				} else {
					(_mm512_setzero_ps(), _mm512_setzero_ps())
				};
				weight_scales[bp % 3][t] = [(dw0, mw0), (dw1, mw1)];
			}
		}};
	}
	for bp in 0..pairs.min(UNPACK_AHEAD) {
		unpack_pair!(bp);
	}
	gather_scales!(0);
	let mut s = 0;
	let mut pending = None;
	for bp in 0..pairs {
		if bp + UNPACK_AHEAD < pairs {
			unpack_pair!(bp + UNPACK_AHEAD);
		}
		if bp + 1 < pairs {
			gather_scales!(bp + 1);
		}
		for t in 0..n_tiles {
			for g in 0..n_groups {
				multiply!(s, bp, t, g);
				if let Some((s, bp, t, g)) = pending {
					scale!(s, bp, t, g);
				}
				pending = Some((s, bp, t, g));
				s += 1;
			}
		}
	}
	if let Some((s, bp, t, g)) = pending {
		let c = products[s % 2];
		asm!(
			"tilestored [{c_high} + {stride}*1], tmm3",
			"tilestored [{c_low} + {stride}*1], tmm4",
			c_high = in(reg) c,
			c_low = in(reg) c.add(TILE_ROWS * 16),
			stride = in(reg) PAIR,
			options(nostack),
		);
		scale!(s, bp, t, g);
	}
	// sum_lanes: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the low halves holding the
	// even lanes and the high halves the odd ones.
	for (u, lanes) in acc.iter().enumerate().take(n_units) {
		let lanes = lanes.assume_init_ref();
		let (t, g) = (u / n_groups, u % n_groups);
		let t0 = (first_group + g) * LANE_ROWS;
		let tokens = (a.rows - t0).min(LANE_ROWS);
		let row0 = first_row + t * TILE_ROWS;
		let [l01, l23, l45, l67] = lanes;
		for r in 0..tile_rows(t) {
			let halves =
				_mm512_add_ps(_mm512_add_ps(l01[r], l45[r]), _mm512_add_ps(l23[r], l67[r]));
			let sums = _mm256_add_ps(
				_mm512_castps512_ps256(halves),
				_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(halves))),
			);
			let mut values = [0.0f32; LANE_ROWS];
			_mm256_storeu_ps(values.as_mut_ptr(), sums);
			for (n, &value) in values.iter().enumerate().take(tokens) {
				*out.add((t0 + n) * w.rows + row0 + r) = value;
			}
		}
	}
}

/// Blocks `2 bp` and `2 bp + 1` of rows `first_row..first_row + n_rows` of a matrix's per-block
/// half floats (`nb` blocks a row), widened, rows past `n_rows` zero, and a missing second block
/// zero: one gather of the two halves of each row.
#[inline(always)]
unsafe fn gather_pair(
	halves: &[u16],
	first_row: usize,
	n_rows: usize,
	nb: usize,
	bp: usize,
) -> (__m512, __m512) {
	let b = 2 * bp;
	let rows = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	let index = _mm512_mullo_epi32(rows, _mm512_set1_epi32(nb as i32));
	let valid = (1u32 << n_rows).wrapping_sub(1) as u16;
	if b + 1 < nb {
		let base = halves.as_ptr().add(first_row * nb + b);
		let pairs =
			_mm512_mask_i32gather_epi32::<2>(_mm512_setzero_si512(), valid, index, base.cast());
		(
			_mm512_cvtph_ps(_mm512_cvtepi32_epi16(pairs)),
			_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(pairs))),
		)
	} else if nb == 1 {
		let mut bits = [0u16; TILE_ROWS];
		for (r, bit) in bits.iter_mut().enumerate().take(n_rows) {
			*bit = halves[first_row + r];
		}
		(_mm512_cvtph_ps(_mm256_loadu_si256(bits.as_ptr().cast())), _mm512_setzero_ps())
	} else {
		// A last odd block: the 32 bits that end with it (those that start with it would run
		// past the matrix's very last half).
		let base = halves.as_ptr().add(first_row * nb + b - 1);
		let pairs =
			_mm512_mask_i32gather_epi32::<2>(_mm512_setzero_si512(), valid, index, base.cast());
		(
			_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(pairs))),
			_mm512_setzero_ps(),
		)
	}
}

/// Block pair `bp` of rows `first_row..first_row + n_rows` of `w`, one byte per weight, 64 a
/// row in [`super::quant::tile_k`]'s order (rows past `n_rows` zero; a missing second block
/// zero).
#[inline(always)]
unsafe fn unpack<const Q4: bool>(
	w: &QMatrix,
	first_row: usize,
	n_rows: usize,
	bp: usize,
	weights: *mut u8,
) {
	let nb = w.blocks_per_row();
	let q = w.quants.as_ptr();
	let quant_bytes = if Q4 { BLOCK / 2 } else { BLOCK };
	// The pair's bytes of a row: both blocks, or the first of a last odd pair.
	let blocks = (nb - 2 * bp).min(2);
	let mask = u64::MAX >> (64 - blocks * quant_bytes);
	let row = |r: usize| q.add(((first_row + r) * nb + 2 * bp) * quant_bytes);
	// Ask for the same bytes PREFETCH_ROWS rows further on, which a later pass reads: a pass
	// reads its rows side by side, 16 to 64 streams of a few bytes each, which the hardware's
	// prefetchers do not follow, and a decode step's weights come from memory, not cache
	// (measured: without this, a matrix larger than the caches ran no faster than the AVX-512
	// tier). One prefetch per cache line: a line holds `64 / (2 * quant_bytes)` pairs of a row.
	// (Prefetches do not fault; `wrapping_add` keeps the address arithmetic defined past the
	// end.)
	if bp.is_multiple_of((64 / (2 * quant_bytes)).max(1)) {
		for r in 0..n_rows {
			let ahead = row(r).wrapping_add(PREFETCH_ROWS * nb * quant_bytes);
			_mm_prefetch::<_MM_HINT_T0>(ahead.cast());
		}
	}
	if !Q4 {
		for r in 0..TILE_ROWS {
			let bytes = if r < n_rows {
				_mm512_maskz_loadu_epi8(mask, row(r).cast())
			} else {
				_mm512_setzero_si512()
			};
			// Lanes (first 0..16, first 16..32, second 0..16, second 16..32) to tile_k's order.
			let ordered = _mm512_shuffle_i64x2::<0b11_01_10_00>(bytes, bytes);
			_mm512_store_si512(weights.add(r * PAIR).cast(), ordered);
		}
		return;
	}
	let nibble = _mm512_set1_epi8(0x0f);
	let mask = mask as u32;
	for r in (0..TILE_ROWS).step_by(2) {
		// Rows r and r + 1, 32 bytes each: both blocks' 16. (No closure: see `pass`.)
		let mut halves = [_mm256_setzero_si256(); 2];
		for (h, half) in halves.iter_mut().enumerate() {
			if r + h < n_rows {
				*half = if blocks == 2 {
					_mm256_loadu_si256(row(r + h).cast())
				} else {
					_mm256_maskz_loadu_epi8(mask, row(r + h).cast())
				};
			}
		}
		let raw = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(halves[0]), halves[1]);
		let low = _mm512_and_si512(raw, nibble);
		let high = _mm512_and_si512(_mm512_srli_epi16::<4>(raw), nibble);
		// Each row: its 32 low nibbles (tile_k's first 32 values), then its 32 high ones.
		let out = weights.add(r * PAIR);
		_mm512_store_si512(out.cast(), _mm512_shuffle_i64x2::<0b01_00_01_00>(low, high));
		_mm512_store_si512(out.add(PAIR).cast(), _mm512_shuffle_i64x2::<0b11_10_11_10>(low, high));
	}
}
