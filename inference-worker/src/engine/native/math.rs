//! The float operations around the matmuls, each defined so that every machine computes the same
//! bits: only IEEE 754 additions, multiplications, divisions and square roots (correctly rounded
//! everywhere), no fused multiply-add, no platform `libm` in the forward pass, and sums in a
//! fixed order. Reductions keep eight independent lanes (`lane j` takes elements `j, j + 8, ...`)
//! so that the compiler can vectorize them without reordering anything.

use half::f16;

/// Lanes of every f32 reduction.
const LANES: usize = 8;

/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`, as in the matmul kernels.
#[inline(always)]
pub(super) fn sum_lanes(l: &[f32; LANES]) -> f32 {
	((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

/// `sum(a[i] * b[i])` in the canonical lane order.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
	debug_assert_eq!(a.len(), b.len());
	let mut lanes = [0.0f32; LANES];
	let (ca, ta) = a.as_chunks::<LANES>();
	let (cb, tb) = b.as_chunks::<LANES>();
	for (x, y) in ca.iter().zip(cb) {
		for j in 0..LANES {
			lanes[j] += x[j] * y[j];
		}
	}
	for (j, (x, y)) in ta.iter().zip(tb).enumerate() {
		lanes[j] += x * y;
	}
	sum_lanes(&lanes)
}

/// `sum(a[i])` in the canonical lane order.
#[inline(always)]
pub fn sum(a: &[f32]) -> f32 {
	let mut lanes = [0.0f32; LANES];
	let chunks = a.len() / LANES;
	for c in a.chunks_exact(LANES) {
		for j in 0..LANES {
			lanes[j] += c[j];
		}
	}
	for (j, x) in a[chunks * LANES..].iter().enumerate() {
		lanes[j] += x;
	}
	sum_lanes(&lanes)
}

/// `e^x` for f32, from basic operations only (Cody–Waite range reduction and the Cephes
/// polynomial, about 1 ulp). Below -87.3 it returns 0; above 88.7, `f32::MAX`-ish values are
/// never asked for here (softmax subtracts the maximum; SiLU negates large positives).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
	let x = x.clamp(EXP_MIN, EXP_MAX);
	let n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
	let r = (x - n * EXP_LN2_HI) - n * EXP_LN2_LO;
	let r2 = r * r;
	let mut p = EXP_POLY[0];
	for &coefficient in &EXP_POLY[1..] {
		p = p * r + coefficient;
	}
	let y = (p * r2 + r) + 1.0;
	// 2^n by building the exponent: n is in [-126, 128]; split it so no step overflows.
	let n = n as i32;
	let half = n / 2;
	let pow = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
	y * pow(half) * pow(n - half)
}

const EXP_MIN: f32 = -87.3;
const EXP_MAX: f32 = 88.7;
const EXP_LOG2E: f32 = std::f32::consts::LOG2_E;
const EXP_LN2_HI: f32 = 0.693_359_4;
const EXP_LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (ties to even).
const EXP_ROUND: f32 = 12_582_912.0;
/// The Cephes polynomial's coefficients, highest degree first.
const EXP_POLY: [f32; 6] =
	[1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5e-1];

/// `x * sigmoid(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
	x / (1.0 + exp(-x))
}

/// `gate[i] = silu(gate[i]) * up[i]` (the feed-forward's gating), eight at a time where the CPU
/// has AVX2: the same bits, [`exp8`] being [`exp`] lane by lane. (Scalar, it took a tenth of a
/// batched decode step's serial work.)
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
	debug_assert_eq!(gate.len(), up.len());
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f") {
		// SAFETY: the CPU has AVX-512F (and so AVX2).
		return unsafe { silu_mul_avx512(gate, up) };
	}
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2") {
		// SAFETY: the CPU has AVX2.
		return unsafe { silu_mul_avx2(gate, up) };
	}
	for (g, u) in gate.iter_mut().zip(up) {
		*g = silu(*g) * u;
	}
}

/// [`silu_mul`], eight values at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn silu_mul_avx2(gate: &mut [f32], up: &[f32]) {
	use std::arch::x86_64::*;
	let (chunks, tail) = gate.as_chunks_mut::<LANES>();
	let (up_chunks, up_tail) = up.as_chunks::<LANES>();
	for (c, u) in chunks.iter_mut().zip(up_chunks) {
		let x = _mm256_loadu_ps(c.as_ptr());
		// -x by its sign bit, as the scalar negation.
		let e = exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0)));
		let silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), e));
		_mm256_storeu_ps(c.as_mut_ptr(), _mm256_mul_ps(silu, _mm256_loadu_ps(u.as_ptr())));
	}
	for (g, u) in tail.iter_mut().zip(up_tail) {
		*g = silu(*g) * u;
	}
}

/// [`silu_mul`], sixteen values at a time ([`exp16`]), the rest by [`silu_mul_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn silu_mul_avx512(gate: &mut [f32], up: &[f32]) {
	use std::arch::x86_64::*;
	let (chunks, tail) = gate.as_chunks_mut::<{ 2 * LANES }>();
	let (up_chunks, up_tail) = up.as_chunks::<{ 2 * LANES }>();
	for (c, u) in chunks.iter_mut().zip(up_chunks) {
		let x = _mm512_loadu_ps(c.as_ptr());
		// -x by its sign bit, as the scalar negation.
		let e = exp16(_mm512_castsi512_ps(_mm512_xor_si512(
			_mm512_castps_si512(x),
			_mm512_set1_epi32(i32::MIN),
		)));
		let silu = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0), e));
		_mm512_storeu_ps(c.as_mut_ptr(), _mm512_mul_ps(silu, _mm512_loadu_ps(u.as_ptr())));
	}
	silu_mul_avx2(tail, up_tail);
}

/// `x * w / sqrt(mean(x^2) + eps)`, into `out`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
	let mean = dot(x, x) / x.len() as f32;
	let scale = 1.0 / (mean + eps).sqrt();
	for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
		*o = (v * scale) * w;
	}
}

/// Softmax of `x` in place: `e^(x - max) / sum`.
#[inline(always)]
pub fn softmax(x: &mut [f32]) {
	let mut max = f32::NEG_INFINITY;
	for &v in x.iter() {
		max = max.max(v);
	}
	for v in x.iter_mut() {
		*v = exp(*v - max);
	}
	let inverse = 1.0 / sum(x);
	for v in x.iter_mut() {
		*v *= inverse;
	}
}

/// One attention head of one query over a sequence's cache: softmax of
/// `query . key_j * scale` over the positions `j < positions`, then the weighted sum of
/// `value_j`. Keys and values of position `j` start at `j * stride + offset` in `keys` and
/// `values`; they are half floats, widened to f32 (exactly) before any arithmetic.
pub struct Head<'a> {
	/// The query's slice for this head.
	pub query: &'a [f32],
	/// The layer's keys of the sequence, position after position.
	pub keys: &'a [f16],
	/// The layer's values, laid out as `keys`.
	pub values: &'a [f16],
	/// Values per position in `keys` and `values`.
	pub stride: usize,
	/// Where this head's key-value group starts within a position.
	pub offset: usize,
	/// Positions attended to (the query's own included).
	pub positions: usize,
	/// `1 / sqrt(head width)`.
	pub scale: f32,
}

/// Attend with `head` into `out`; `scores` is scratch space.
pub fn attend(head: &Head<'_>, scores: &mut Vec<f32>, out: &mut [f32]) {
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c") {
		// SAFETY: the CPU has AVX2 and F16C.
		return unsafe { attend_avx2(head, scores, out) };
	}
	attend_portable(head, scores, out)
}

/// The query heads that share one key-value head (grouped-query attention) over a sequence's
/// cache: `queries` holds their queries of `dim` values one after another; the rest as in
/// [`Head`].
pub struct Group<'a> {
	/// The heads' queries, head after head.
	pub queries: &'a [f32],
	/// Values per head.
	pub dim: usize,
	/// As in [`Head`].
	pub keys: &'a [f16],
	/// As in [`Head`].
	pub values: &'a [f16],
	/// As in [`Head`].
	pub stride: usize,
	/// As in [`Head`]: where the shared key-value head starts within a position.
	pub offset: usize,
	/// As in [`Head`].
	pub positions: usize,
	/// As in [`Head`].
	pub scale: f32,
}

impl Group<'_> {
	/// Head `h` of the group alone.
	fn head(&self, h: usize) -> Head<'_> {
		Head {
			query: &self.queries[h * self.dim..(h + 1) * self.dim],
			keys: self.keys,
			values: self.values,
			stride: self.stride,
			offset: self.offset,
			positions: self.positions,
			scale: self.scale,
		}
	}
}

/// Attend with every head of `group` into `out` (`dim` values a head, head after head): for
/// each head the same bits as [`attend`] (tested), in one pass over the cache for all of them
/// where the CPU has AVX-512 or AVX2 and heads are 64 or 128 wide. `scores` is scratch space.
pub fn attend_group(group: &Group<'_>, scores: &mut Vec<f32>, out: &mut [f32]) {
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx512f")
		&& std::arch::is_x86_feature_detected!("avx512vl")
		&& std::arch::is_x86_feature_detected!("f16c")
	{
		// SAFETY: the CPU has AVX-512F, AVX-512VL and F16C (and so AVX2); the head width picks
		// the kernel's unrolling.
		let done = match group.dim {
			64 => unsafe { attend_group_avx512::<8>(group, scores, out) },
			128 => unsafe { attend_group_avx512::<16>(group, scores, out) },
			_ => false,
		};
		if done {
			return;
		}
	}
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2")
		&& std::arch::is_x86_feature_detected!("f16c")
		// SAFETY: the CPU has AVX2 and F16C.
		&& unsafe { attend_group_avx2(group, scores, out) }
	{
		return;
	}
	for (h, out) in out.chunks_exact_mut(group.dim).enumerate() {
		attend(&group.head(h), scores, out);
	}
}

/// [`attend_group`] in 512-bit registers; false (and nothing written) when the group's shape is
/// not one it takes (heads 64 or 128 wide, a cache that holds the positions). The operations are
/// [`attend_avx2`]'s, lane by lane, so each head gets the same bits; what changes is how many
/// run at once, and that every key and value is read once for all the group's heads:
///
/// - scores: two heads to a register (the low eight lanes one head's [`dot_lanes`], the high
///   eight the other's), each position's key widened once into both halves; eight positions'
///   registers are summed across lanes by [`sum_lanes8`]'s tree in each half;
/// - each head's softmax is [`softmax_avx2`];
/// - the weighted sum of the values keeps up to four heads' outputs in registers, 16 dimensions
///   each, 64 dimensions at a time; each value row is widened once for all of them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c,avx512f,avx512vl")]
unsafe fn attend_group_avx512<const CHUNKS: usize>(
	group: &Group<'_>,
	scores: &mut Vec<f32>,
	out: &mut [f32],
) -> bool {
	use std::arch::x86_64::*;
	let Group { queries, dim, keys, values, stride, offset, positions, scale } = *group;
	let heads = queries.len().checked_div(dim).unwrap_or(0);
	let needed = positions.saturating_sub(1) * stride + offset + dim;
	if dim != CHUNKS * LANES
		|| heads == 0
		|| positions == 0
		|| queries.len() != heads * dim
		|| out.len() != heads * dim
		|| keys.len() < needed
		|| values.len() < needed
	{
		return false;
	}
	let k = keys.as_ptr().add(offset);
	// The first positions' keys and values, which no prefetch ahead of a position asks for,
	// into L2 (more misses in flight than L1 takes).
	for j in 0..positions.min(PREFETCH_POSITIONS) {
		for at in [k.add(j * stride), values.as_ptr().add(offset + j * stride)] {
			for line in (0..dim).step_by(32) {
				_mm_prefetch::<_MM_HINT_T1>(at.add(line).cast());
			}
		}
	}
	scores.clear();
	scores.resize(heads * positions, 0.0);
	let s = scores.as_mut_ptr();
	let chunks = CHUNKS;
	let scale16 = _mm512_set1_ps(scale);
	let full = positions / LANES * LANES;
	for pair in 0..heads.div_ceil(2) {
		// A lone last head is paired with itself; only its low half is kept.
		let (h0, h1) = (2 * pair, (2 * pair + 1).min(heads - 1));
		// The two queries side by side, eight values of each per register.
		let mut paired = [0.0f32; 2 * 128];
		for c in 0..chunks {
			let at = paired.as_mut_ptr().add(16 * c);
			_mm256_storeu_ps(at, _mm256_loadu_ps(queries.as_ptr().add(h0 * dim + c * LANES)));
			_mm256_storeu_ps(
				at.add(8),
				_mm256_loadu_ps(queries.as_ptr().add(h1 * dim + c * LANES)),
			);
		}
		let q = paired.as_ptr();
		// No closures: they would be compiled without this function's target features.
		macro_rules! dot_pair {
			($key:expr) => {{
				let key: *const f16 = $key;
				let mut lanes = _mm512_setzero_ps();
				for c in 0..chunks {
					let half8 =
						_mm256_broadcastsi128_si256(_mm_loadu_si128(key.add(c * LANES).cast()));
					let product =
						_mm512_mul_ps(_mm512_loadu_ps(q.add(16 * c)), _mm512_cvtph_ps(half8));
					lanes = _mm512_add_ps(lanes, product);
				}
				lanes
			}};
		}
		for j in (0..full).step_by(LANES) {
			let mut lanes = [_mm512_setzero_ps(); LANES];
			for (p, l) in lanes.iter_mut().enumerate() {
				prefetch_row(k.wrapping_add((j + p + PREFETCH_POSITIONS) * stride), dim);
				*l = dot_pair!(k.add((j + p) * stride));
			}
			let sums = _mm512_mul_ps(sum_lanes8_halves(&lanes), scale16);
			_mm256_storeu_ps(s.add(h0 * positions + j), _mm512_castps512_ps256(sums));
			if h1 != h0 {
				let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(sums));
				_mm256_storeu_ps(s.add(h1 * positions + j), _mm256_castpd_ps(high));
			}
		}
		for j in full..positions {
			let mut l = [0.0f32; 2 * LANES];
			_mm512_storeu_ps(l.as_mut_ptr(), dot_pair!(k.add(j * stride)));
			let (low, high) = l.split_at(LANES);
			*s.add(h0 * positions + j) = sum_lanes(&low.try_into().unwrap_or_default()) * scale;
			*s.add(h1 * positions + j) = sum_lanes(&high.try_into().unwrap_or_default()) * scale;
		}
	}
	for h in 0..heads {
		softmax_avx512(&mut scores[h * positions..(h + 1) * positions]);
	}
	let v = values.as_ptr().add(offset);
	let o = out.as_mut_ptr();
	for first in (0..heads).step_by(4) {
		for d in (0..dim).step_by(64) {
			let rows = (first..heads.min(first + 4)).map(|h| h * positions);
			let (v, o) = (v.add(d), o.add(first * dim + d));
			match heads.min(first + 4) - first {
				1 => weighted_sums::<1>(scores, rows, positions, v, stride, o, dim),
				2 => weighted_sums::<2>(scores, rows, positions, v, stride, o, dim),
				3 => weighted_sums::<3>(scores, rows, positions, v, stride, o, dim),
				_ => weighted_sums::<4>(scores, rows, positions, v, stride, o, dim),
			}
		}
	}
	true
}

/// `out[h]` (at `out + h * out_stride`, 64 values) `= sum_j scores[row_h + j] * value_j` for `G`
/// heads whose score rows start at `rows`, each dimension's sum in position order from `+0.0`
/// as in [`weighted_sum64`]; the value rows (64 half floats each, `stride` apart) are widened
/// once for all the heads.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c,avx512f,avx512vl")]
unsafe fn weighted_sums<const G: usize>(
	scores: &[f32],
	rows: impl Iterator<Item = usize>,
	positions: usize,
	values: *const f16,
	stride: usize,
	out: *mut f32,
	out_stride: usize,
) {
	use std::arch::x86_64::*;
	let mut first = [0usize; G];
	for (f, row) in first.iter_mut().zip(rows) {
		*f = row;
	}
	let s = scores.as_ptr();
	let mut acc = [[_mm512_setzero_ps(); 4]; G];
	for j in 0..positions {
		let v = values.add(j * stride);
		prefetch_row(values.wrapping_add((j + PREFETCH_POSITIONS) * stride), 64);
		let widened = [
			_mm512_cvtph_ps(_mm256_loadu_si256(v.cast())),
			_mm512_cvtph_ps(_mm256_loadu_si256(v.add(16).cast())),
			_mm512_cvtph_ps(_mm256_loadu_si256(v.add(32).cast())),
			_mm512_cvtph_ps(_mm256_loadu_si256(v.add(48).cast())),
		];
		#[allow(clippy::needless_range_loop)]
		for h in 0..G {
			let p = _mm512_set1_ps(*s.add(first[h] + j));
			for c in 0..4 {
				acc[h][c] = _mm512_add_ps(acc[h][c], _mm512_mul_ps(p, widened[c]));
			}
		}
	}
	for (h, acc) in acc.iter().enumerate() {
		for (c, &a) in acc.iter().enumerate() {
			_mm512_storeu_ps(out.add(h * out_stride + 16 * c), a);
		}
	}
}

/// [`sum_lanes8`] in each 256-bit half of eight 512-bit registers: lane `p` of the low half from
/// the low half of register `p`, lane `8 + p` from its high half.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn sum_lanes8_halves(a: &[std::arch::x86_64::__m512; LANES]) -> std::arch::x86_64::__m512 {
	use std::arch::x86_64::*;
	// The same steps as `sum_lanes8`: unpacks and shuffles work within 128-bit lanes anyway;
	// `_mm256_permute2f128_ps` 0x20 and 0x31 become two-register permutes in each half.
	let t0 = _mm512_unpacklo_ps(a[0], a[1]);
	let t1 = _mm512_unpackhi_ps(a[0], a[1]);
	let t2 = _mm512_unpacklo_ps(a[2], a[3]);
	let t3 = _mm512_unpackhi_ps(a[2], a[3]);
	let t4 = _mm512_unpacklo_ps(a[4], a[5]);
	let t5 = _mm512_unpackhi_ps(a[4], a[5]);
	let t6 = _mm512_unpacklo_ps(a[6], a[7]);
	let t7 = _mm512_unpackhi_ps(a[6], a[7]);
	let s0 = _mm512_shuffle_ps::<0x44>(t0, t2);
	let s1 = _mm512_shuffle_ps::<0xEE>(t0, t2);
	let s2 = _mm512_shuffle_ps::<0x44>(t1, t3);
	let s3 = _mm512_shuffle_ps::<0xEE>(t1, t3);
	let s4 = _mm512_shuffle_ps::<0x44>(t4, t6);
	let s5 = _mm512_shuffle_ps::<0xEE>(t4, t6);
	let s6 = _mm512_shuffle_ps::<0x44>(t5, t7);
	let s7 = _mm512_shuffle_ps::<0xEE>(t5, t7);
	// Per half: the low 128 bits of x then of y (0x20), the high ones (0x31).
	let low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
	let high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
	let l0 = _mm512_permutex2var_ps(s0, low, s4);
	let l4 = _mm512_permutex2var_ps(s0, high, s4);
	let l1 = _mm512_permutex2var_ps(s1, low, s5);
	let l5 = _mm512_permutex2var_ps(s1, high, s5);
	let l2 = _mm512_permutex2var_ps(s2, low, s6);
	let l6 = _mm512_permutex2var_ps(s2, high, s6);
	let l3 = _mm512_permutex2var_ps(s3, low, s7);
	let l7 = _mm512_permutex2var_ps(s3, high, s7);
	_mm512_add_ps(
		_mm512_add_ps(_mm512_add_ps(l0, l4), _mm512_add_ps(l2, l6)),
		_mm512_add_ps(_mm512_add_ps(l1, l5), _mm512_add_ps(l3, l7)),
	)
}

/// [`attend_group`] in 256-bit registers; false (and nothing written) when the group's shape is
/// not one it takes (heads a multiple of 32 wide, a cache that holds the positions). The
/// operations are [`attend_avx2`]'s, lane by lane, so each head gets the same bits; what changes
/// is that every key and value is widened from half floats once for all the group's heads (on an
/// AVX2-only CPU a 256-bit `vcvtph2ps` costs as much as two multiplies and two adds, and each
/// head converted the whole cache again):
///
/// - scores: for each position, each of its key's eight-value pieces widened once and multiplied
///   into every head's lanes ([`dot_lanes`]' order); eight positions' lanes then summed across
///   by [`sum_lanes8`], head by head;
/// - each head's softmax is [`softmax_avx2`];
/// - the weighted sum of the values: up to three heads' outputs in registers, 32 dimensions
///   each, each value row's 32 widened once for them ([`weighted_sums_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
unsafe fn attend_group_avx2(group: &Group<'_>, scores: &mut Vec<f32>, out: &mut [f32]) -> bool {
	let Group { queries, dim, keys, values, stride, offset, positions, scale } = *group;
	let heads = queries.len().checked_div(dim).unwrap_or(0);
	let needed = positions.saturating_sub(1) * stride + offset + dim;
	if !dim.is_multiple_of(32)
		|| heads == 0
		|| positions == 0
		|| queries.len() != heads * dim
		|| out.len() != heads * dim
		|| keys.len() < needed
		|| values.len() < needed
	{
		return false;
	}
	scores.clear();
	scores.resize(heads * positions, 0.0);
	let s = scores.as_mut_ptr();
	let q = queries.as_ptr();
	let k = keys.as_ptr().add(offset);
	// Up to three heads' scores at a time (their lanes of one position in registers).
	for first in (0..heads).step_by(3) {
		let q = q.add(first * dim);
		let s = s.add(first * positions);
		match heads.min(first + 3) - first {
			1 => group_scores_avx2::<1>(q, k, dim, stride, positions, scale, s),
			2 => group_scores_avx2::<2>(q, k, dim, stride, positions, scale, s),
			_ => group_scores_avx2::<3>(q, k, dim, stride, positions, scale, s),
		}
	}
	for h in 0..heads {
		softmax_avx2(&mut scores[h * positions..(h + 1) * positions]);
	}
	let v = values.as_ptr().add(offset);
	let o = out.as_mut_ptr();
	for first in (0..heads).step_by(3) {
		for d in (0..dim).step_by(32) {
			let (v, o) = (v.add(d), o.add(first * dim + d));
			let rows = first * positions;
			match heads.min(first + 3) - first {
				1 => weighted_sums_avx2::<1>(scores, rows, positions, v, stride, o, dim),
				2 => weighted_sums_avx2::<2>(scores, rows, positions, v, stride, o, dim),
				_ => weighted_sums_avx2::<3>(scores, rows, positions, v, stride, o, dim),
			}
		}
	}
	true
}

/// The scaled scores of `G` heads (at most three, queries of `dim` values one after another at
/// `q`) over `positions` keys (`stride` apart from `k`), into `scores` (`positions` a head, head
/// after head): [`attend_avx2`]'s, each key's eight-value pieces widened once for the heads.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn group_scores_avx2<const G: usize>(
	q: *const f32,
	k: *const f16,
	dim: usize,
	stride: usize,
	positions: usize,
	scale: f32,
	scores: *mut f32,
) {
	use std::arch::x86_64::*;
	// (No closures: they would be compiled without this function's target features.)
	macro_rules! dot_heads {
		($key:expr) => {{
			let key: *const f16 = $key;
			let mut lanes = [_mm256_setzero_ps(); G];
			for c in (0..dim).step_by(LANES) {
				let widened = load_half8(key.add(c));
				for (h, l) in lanes.iter_mut().enumerate() {
					*l = _mm256_add_ps(
						*l,
						_mm256_mul_ps(_mm256_loadu_ps(q.add(h * dim + c)), widened),
					);
				}
			}
			lanes
		}};
	}
	let scale8 = _mm256_set1_ps(scale);
	let full = positions / LANES * LANES;
	for j in (0..full).step_by(LANES) {
		let mut lanes = [[_mm256_setzero_ps(); LANES]; G];
		for p in 0..LANES {
			let at = dot_heads!(k.add((j + p) * stride));
			for h in 0..G {
				lanes[h][p] = at[h];
			}
		}
		for (h, lanes) in lanes.iter().enumerate() {
			let sums = _mm256_mul_ps(sum_lanes8(lanes), scale8);
			_mm256_storeu_ps(scores.add(h * positions + j), sums);
		}
	}
	for j in full..positions {
		let at = dot_heads!(k.add(j * stride));
		for (h, &lanes) in at.iter().enumerate() {
			let mut l = [0.0f32; LANES];
			_mm256_storeu_ps(l.as_mut_ptr(), lanes);
			*scores.add(h * positions + j) = sum_lanes(&l) * scale;
		}
	}
}

/// `out[h]` (at `out + h * out_stride`, 32 values) `= sum_j scores[first + h * positions + j] *
/// value_j` for `G` heads (at most three: their accumulators and scores fill AVX2's sixteen
/// registers), each dimension's sum in position order from `+0.0` as in [`weighted_sum64`];
/// each value row's 32 half floats (rows `stride` apart) widened once for all the heads.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn weighted_sums_avx2<const G: usize>(
	scores: &[f32],
	first: usize,
	positions: usize,
	values: *const f16,
	stride: usize,
	out: *mut f32,
	out_stride: usize,
) {
	use std::arch::x86_64::*;
	debug_assert!(G <= 3 && first + G * positions <= scores.len());
	let s = scores.as_ptr().add(first);
	let mut acc = [[_mm256_setzero_ps(); 4]; G];
	for j in 0..positions {
		let v = values.add(j * stride);
		let mut p = [_mm256_setzero_ps(); G];
		for (h, p) in p.iter_mut().enumerate() {
			*p = _mm256_set1_ps(*s.add(h * positions + j));
		}
		#[allow(clippy::needless_range_loop)]
		for c in 0..4 {
			let widened = load_half8(v.add(c * LANES));
			for h in 0..G {
				acc[h][c] = _mm256_add_ps(acc[h][c], _mm256_mul_ps(p[h], widened));
			}
		}
	}
	for (h, acc) in acc.iter().enumerate() {
		for (c, &a) in acc.iter().enumerate() {
			_mm256_storeu_ps(out.add(h * out_stride + c * LANES), a);
		}
	}
}

/// [`attend_portable`] with AVX2 registers, for head widths that are a multiple of 8. The same
/// operations in the same order, so the same bits (tested), only more of them at once:
///
/// - a score's dot product keeps its eight lanes in one register (lane `j` takes elements
///   `j, j + 8, ...`, as [`dot`] does); eight positions' registers are transposed so that their
///   lane trees ([`sum_lanes`]) are summed side by side;
/// - the softmax runs eight scores at a time ([`exp8`] is [`exp`] lane by lane);
/// - the weighted sum of the values keeps the output in registers, eight dimensions each, 64
///   dimensions at a time (heads of 64 or 128);
/// - F16C widens eight cached half floats at a time (exactly, as `f16::to_f32` does).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
unsafe fn attend_avx2(head: &Head<'_>, scores: &mut Vec<f32>, out: &mut [f32]) {
	use std::arch::x86_64::*;
	let Head { query, keys, values, stride, offset, positions, scale } = *head;
	let dim = query.len();
	let needed = (positions.max(1) - 1) * stride + offset + dim;
	if !dim.is_multiple_of(LANES)
		|| keys.len() < needed
		|| values.len() < needed
		|| out.len() != dim
	{
		return attend_portable(head, scores, out);
	}
	scores.clear();
	scores.resize(positions, 0.0);
	// No closures here: they would be compiled without this function's target features.
	let q = query.as_ptr();
	let k = keys.as_ptr().add(offset);
	let scale8 = _mm256_set1_ps(scale);
	let full = positions / LANES * LANES;
	for j in (0..full).step_by(LANES) {
		let mut lanes = [_mm256_setzero_ps(); LANES];
		// No software prefetch here or in `weighted_sum64`: [`attend_group_avx512`] asks for
		// the positions ahead, but on an AVX2-only CPU (AMD EPYC, Zen) the same requests made
		// decoding 10% slower (16 + 512 tokens, one thread: 34.3 and 34.6 tok/s with them, 38.5
		// and 38.3 without) and the hardware prefetchers keep up without them.
		for (p, l) in lanes.iter_mut().enumerate() {
			*l = dot_lanes(q, k.add((j + p) * stride), dim);
		}
		let sums = sum_lanes8(&lanes);
		_mm256_storeu_ps(scores.as_mut_ptr().add(j), _mm256_mul_ps(sums, scale8));
	}
	for (j, score) in scores.iter_mut().enumerate().skip(full) {
		let mut l = [0.0f32; LANES];
		_mm256_storeu_ps(l.as_mut_ptr(), dot_lanes(q, k.add(j * stride), dim));
		*score = sum_lanes(&l) * scale;
	}
	softmax_avx2(scores);
	let v = values.as_ptr().add(offset);
	match dim / LANES {
		8 => weighted_sum64(scores, v, stride, out),
		// Each dimension's sum is its own: two passes of 64 give the same bits as one of 128.
		16 => {
			let (low, high) = out.split_at_mut(8 * LANES);
			weighted_sum64(scores, v, stride, low);
			weighted_sum64(scores, v.add(8 * LANES), stride, high);
		},
		_ => {
			out.fill(0.0);
			let o = out.as_mut_ptr();
			for (j, &p) in scores.iter().enumerate() {
				let v = v.add(j * stride);
				let p = _mm256_set1_ps(p);
				for c in (0..dim).step_by(LANES) {
					_mm256_storeu_ps(
						o.add(c),
						_mm256_add_ps(
							_mm256_loadu_ps(o.add(c)),
							_mm256_mul_ps(p, load_half8(v.add(c))),
						),
					);
				}
			}
		},
	}
}

/// The eight lanes of `query . key` over `dim` (a multiple of 8) values, lane `j` taking
/// elements `j, j + 8, ...`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn dot_lanes(query: *const f32, key: *const f16, dim: usize) -> std::arch::x86_64::__m256 {
	use std::arch::x86_64::*;
	let mut lanes = _mm256_setzero_ps();
	for c in (0..dim).step_by(LANES) {
		lanes = _mm256_add_ps(
			lanes,
			_mm256_mul_ps(_mm256_loadu_ps(query.add(c)), load_half8(key.add(c))),
		);
	}
	lanes
}

/// [`sum_lanes`] of eight registers at once, lane `p` of the result from register `p`: the
/// registers are transposed (register `j` of the transpose holds lane `j` of all eight) and the
/// same tree is summed vertically.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sum_lanes8(a: &[std::arch::x86_64::__m256; LANES]) -> std::arch::x86_64::__m256 {
	use std::arch::x86_64::*;
	// Pairs of registers interleaved: t0 = a0[0] a1[0] a0[1] a1[1] | a0[4] a1[4] a0[5] a1[5].
	let t0 = _mm256_unpacklo_ps(a[0], a[1]);
	let t1 = _mm256_unpackhi_ps(a[0], a[1]);
	let t2 = _mm256_unpacklo_ps(a[2], a[3]);
	let t3 = _mm256_unpackhi_ps(a[2], a[3]);
	let t4 = _mm256_unpacklo_ps(a[4], a[5]);
	let t5 = _mm256_unpackhi_ps(a[4], a[5]);
	let t6 = _mm256_unpacklo_ps(a[6], a[7]);
	let t7 = _mm256_unpackhi_ps(a[6], a[7]);
	// Lane j of registers 0-3 in the low half, lane j + 4 in the high half.
	let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
	let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
	let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
	let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
	let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
	let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
	let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
	let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
	let l0 = _mm256_permute2f128_ps::<0x20>(s0, s4);
	let l4 = _mm256_permute2f128_ps::<0x31>(s0, s4);
	let l1 = _mm256_permute2f128_ps::<0x20>(s1, s5);
	let l5 = _mm256_permute2f128_ps::<0x31>(s1, s5);
	let l2 = _mm256_permute2f128_ps::<0x20>(s2, s6);
	let l6 = _mm256_permute2f128_ps::<0x31>(s2, s6);
	let l3 = _mm256_permute2f128_ps::<0x20>(s3, s7);
	let l7 = _mm256_permute2f128_ps::<0x31>(s3, s7);
	_mm256_add_ps(
		_mm256_add_ps(_mm256_add_ps(l0, l4), _mm256_add_ps(l2, l6)),
		_mm256_add_ps(_mm256_add_ps(l1, l5), _mm256_add_ps(l3, l7)),
	)
}

/// [`softmax`], eight values at a time: the maximum (any order gives the same value; a zero's
/// sign cannot change `e^(x - max)`), [`exp8`], the canonical [`sum`], one multiply each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn softmax_avx2(x: &mut [f32]) {
	use std::arch::x86_64::*;
	let (chunks, tail) = x.as_chunks_mut::<LANES>();
	let mut max8 = _mm256_set1_ps(f32::NEG_INFINITY);
	for c in chunks.iter() {
		max8 = _mm256_max_ps(max8, _mm256_loadu_ps(c.as_ptr()));
	}
	let mut m = [0.0f32; LANES];
	_mm256_storeu_ps(m.as_mut_ptr(), max8);
	let mut max = f32::NEG_INFINITY;
	for &v in m.iter().chain(tail.iter()) {
		max = max.max(v);
	}
	let max8 = _mm256_set1_ps(max);
	let mut lanes8 = _mm256_setzero_ps();
	for c in chunks.iter_mut() {
		let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), max8));
		_mm256_storeu_ps(c.as_mut_ptr(), e);
		lanes8 = _mm256_add_ps(lanes8, e);
	}
	let mut lanes = [0.0f32; LANES];
	_mm256_storeu_ps(lanes.as_mut_ptr(), lanes8);
	for (j, v) in tail.iter_mut().enumerate() {
		*v = exp(*v - max);
		lanes[j] += *v;
	}
	let inverse = _mm256_set1_ps(1.0 / sum_lanes(&lanes));
	for c in chunks.iter_mut() {
		_mm256_storeu_ps(c.as_mut_ptr(), _mm256_mul_ps(_mm256_loadu_ps(c.as_ptr()), inverse));
	}
	let inverse = 1.0 / sum_lanes(&lanes);
	for v in tail.iter_mut() {
		*v *= inverse;
	}
}

/// [`softmax_avx2`] sixteen values at a time: the same maximum, the same [`exp`] in every
/// lane ([`exp16`]), the sum's eight lanes fed the exponentials in the same order (the low
/// eight of a register, then the high eight), and the same multiplies.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f")]
unsafe fn softmax_avx512(x: &mut [f32]) {
	use std::arch::x86_64::*;
	let (pairs, rest) = x.as_chunks_mut::<{ 2 * LANES }>();
	let (eights, tail) = rest.as_chunks_mut::<LANES>();
	let mut max16 = _mm512_set1_ps(f32::NEG_INFINITY);
	for c in pairs.iter() {
		max16 = _mm512_max_ps(max16, _mm512_loadu_ps(c.as_ptr()));
	}
	let mut m = [0.0f32; 2 * LANES];
	_mm512_storeu_ps(m.as_mut_ptr(), max16);
	let mut max = f32::NEG_INFINITY;
	for &v in m.iter().chain(eights.iter().flatten()).chain(tail.iter()) {
		max = max.max(v);
	}
	let max16 = _mm512_set1_ps(max);
	let mut lanes8 = _mm256_setzero_ps();
	for c in pairs.iter_mut() {
		let e = exp16(_mm512_sub_ps(_mm512_loadu_ps(c.as_ptr()), max16));
		_mm512_storeu_ps(c.as_mut_ptr(), e);
		lanes8 = _mm256_add_ps(lanes8, _mm512_castps512_ps256(e));
		lanes8 = _mm256_add_ps(
			lanes8,
			_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(e))),
		);
	}
	for c in eights.iter_mut() {
		let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), _mm256_set1_ps(max)));
		_mm256_storeu_ps(c.as_mut_ptr(), e);
		lanes8 = _mm256_add_ps(lanes8, e);
	}
	let mut lanes = [0.0f32; LANES];
	_mm256_storeu_ps(lanes.as_mut_ptr(), lanes8);
	for (j, v) in tail.iter_mut().enumerate() {
		*v = exp(*v - max);
		lanes[j] += *v;
	}
	let inverse = 1.0 / sum_lanes(&lanes);
	let inverse16 = _mm512_set1_ps(inverse);
	for c in pairs.iter_mut() {
		_mm512_storeu_ps(c.as_mut_ptr(), _mm512_mul_ps(_mm512_loadu_ps(c.as_ptr()), inverse16));
	}
	for v in eights.iter_mut().flatten().chain(tail.iter_mut()) {
		*v *= inverse;
	}
}

/// [`exp8`] in sixteen lanes: the same operations, lane by lane.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn exp16(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
	use std::arch::x86_64::*;
	let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_MIN)), _mm512_set1_ps(EXP_MAX));
	let round = _mm512_set1_ps(EXP_ROUND);
	let n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), round), round);
	let r = _mm512_sub_ps(
		_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_HI))),
		_mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_LO)),
	);
	let r2 = _mm512_mul_ps(r, r);
	let mut p = _mm512_set1_ps(EXP_POLY[0]);
	for &coefficient in &EXP_POLY[1..] {
		p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(coefficient));
	}
	let y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, r2), r), _mm512_set1_ps(1.0));
	let n = _mm512_cvttps_epi32(n);
	let half = _mm512_srai_epi32::<1>(_mm512_add_epi32(n, _mm512_srli_epi32::<31>(n)));
	let bias = _mm512_set1_epi32(127);
	let pow_half = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(half, bias)));
	let rest = _mm512_sub_epi32(n, half);
	let pow_rest = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(rest, bias)));
	_mm512_mul_ps(_mm512_mul_ps(y, pow_half), pow_rest)
}

/// [`exp`] of eight values: the same operations, lane by lane.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn exp8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
	use std::arch::x86_64::*;
	// Plain intrinsics, no closures: those would be compiled without AVX2.
	let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
	let round = _mm256_set1_ps(EXP_ROUND);
	let n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), round), round);
	let r = _mm256_sub_ps(
		_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_HI))),
		_mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_LO)),
	);
	let r2 = _mm256_mul_ps(r, r);
	let mut p = _mm256_set1_ps(EXP_POLY[0]);
	for &coefficient in &EXP_POLY[1..] {
		p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(coefficient));
	}
	let y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, r2), r), _mm256_set1_ps(1.0));
	// `n` is an integer in [-126, 128]: `n / 2` rounds toward zero, as Rust's division does.
	let n = _mm256_cvttps_epi32(n);
	let half = _mm256_srai_epi32::<1>(_mm256_add_epi32(n, _mm256_srli_epi32::<31>(n)));
	let bias = _mm256_set1_epi32(127);
	let pow_half = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(half, bias)));
	let rest = _mm256_sub_epi32(n, half);
	let pow_rest = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(rest, bias)));
	_mm256_mul_ps(_mm256_mul_ps(y, pow_half), pow_rest)
}

/// `out = sum_j scores[j] * value_j` for 64 dimensions (eight registers), kept in registers
/// across positions; each dimension's sum in position order, as [`attend_portable`] adds them.
///
/// The eight accumulators are named variables so that all stay in registers: kept in an array
/// (as before 2026-12-05), LLVM left one of them in memory, loaded and stored at every position.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn weighted_sum64(scores: &[f32], values: *const f16, stride: usize, out: &mut [f32]) {
	use std::arch::x86_64::*;
	debug_assert_eq!(out.len(), 8 * LANES);
	let zero = _mm256_setzero_ps();
	let (mut a0, mut a1, mut a2, mut a3) = (zero, zero, zero, zero);
	let (mut a4, mut a5, mut a6, mut a7) = (zero, zero, zero, zero);
	for (j, &p) in scores.iter().enumerate() {
		let v = values.add(j * stride);
		let p = _mm256_set1_ps(p);
		a0 = _mm256_add_ps(a0, _mm256_mul_ps(p, load_half8(v)));
		a1 = _mm256_add_ps(a1, _mm256_mul_ps(p, load_half8(v.add(LANES))));
		a2 = _mm256_add_ps(a2, _mm256_mul_ps(p, load_half8(v.add(2 * LANES))));
		a3 = _mm256_add_ps(a3, _mm256_mul_ps(p, load_half8(v.add(3 * LANES))));
		a4 = _mm256_add_ps(a4, _mm256_mul_ps(p, load_half8(v.add(4 * LANES))));
		a5 = _mm256_add_ps(a5, _mm256_mul_ps(p, load_half8(v.add(5 * LANES))));
		a6 = _mm256_add_ps(a6, _mm256_mul_ps(p, load_half8(v.add(6 * LANES))));
		a7 = _mm256_add_ps(a7, _mm256_mul_ps(p, load_half8(v.add(7 * LANES))));
	}
	let o = out.as_mut_ptr();
	for (c, a) in [a0, a1, a2, a3, a4, a5, a6, a7].into_iter().enumerate() {
		_mm256_storeu_ps(o.add(c * LANES), a);
	}
}

/// Positions ahead of the one being read that the attention asks the cache for. A sequence's
/// keys and values of one layer are rows of `stride` half floats, of which a head reads 64 or
/// 128 bytes: a stride the hardware prefetchers follow late, and a decode step's caches do not
/// fit in L2.
const PREFETCH_POSITIONS: usize = 32;

/// Ask for the `len` half floats from `at` (prefetches do not fault: `at` may lie past the end).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn prefetch_row(at: *const f16, len: usize) {
	use std::arch::x86_64::*;
	for line in (0..len).step_by(32) {
		_mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(line).cast());
	}
}

/// Eight half floats from `at`, widened to f32.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn load_half8(at: *const f16) -> std::arch::x86_64::__m256 {
	use std::arch::x86_64::*;
	// `f16` is a transparent `u16`: eight of them are one unaligned 128-bit load.
	_mm256_cvtph_ps(_mm_loadu_si128(at.cast::<__m128i>()))
}

/// The definition of [`attend`], in portable code.
#[inline(always)]
fn attend_portable(head: &Head<'_>, scores: &mut Vec<f32>, out: &mut [f32]) {
	let Head { query, keys, values, stride, offset, positions, scale } = *head;
	let dim = query.len();
	// Plain loops: a closure here would be compiled without the caller's target features.
	scores.clear();
	scores.resize(positions, 0.0);
	for j in 0..positions {
		let key = &keys[j * stride + offset..][..dim];
		let mut lanes = [0.0f32; LANES];
		for (i, (q, k)) in query.iter().zip(key).enumerate() {
			lanes[i % LANES] += q * k.to_f32();
		}
		scores[j] = sum_lanes(&lanes) * scale;
	}
	softmax(scores);
	out.fill(0.0);
	for j in 0..positions {
		let p = scores[j];
		let value = &values[j * stride + offset..][..dim];
		for d in 0..dim {
			out[d] += p * value[d].to_f32();
		}
	}
}

/// Rotary position tables: `cos` and `sin` of `position * base^(-2i/dim)` for every position
/// below `max_positions` and pair `i` below `dim / 2`, computed in f64 by the pure-Rust `libm` (so
/// the same on every machine) and rounded to f32.
pub struct Rope {
	half: usize,
	cos: Vec<f32>,
	sin: Vec<f32>,
}

impl Rope {
	/// Tables for a head dimension of `dim` with frequency base `base`.
	pub fn new(dim: usize, base: f32, max_positions: usize) -> Self {
		let half = dim / 2;
		let mut cos = Vec::with_capacity(max_positions * half);
		let mut sin = Vec::with_capacity(max_positions * half);
		let thetas: Vec<f64> =
			(0..half).map(|i| libm::pow(f64::from(base), -((2 * i) as f64) / dim as f64)).collect();
		for p in 0..max_positions {
			for &theta in &thetas {
				let angle = p as f64 * theta;
				cos.push(libm::cos(angle) as f32);
				sin.push(libm::sin(angle) as f32);
			}
		}
		Self { half, cos, sin }
	}

	/// Rotate each interleaved pair `(x[2i], x[2i + 1])` of every head in `x` (GGUF's Llama
	/// layout) by the angle of `position`.
	pub fn apply(&self, x: &mut [f32], position: usize) {
		let cos = &self.cos[position * self.half..(position + 1) * self.half];
		let sin = &self.sin[position * self.half..(position + 1) * self.half];
		for head in x.chunks_exact_mut(2 * self.half) {
			for (i, pair) in head.chunks_exact_mut(2).enumerate() {
				let (a, b) = (pair[0], pair[1]);
				pair[0] = a * cos[i] - b * sin[i];
				pair[1] = a * sin[i] + b * cos[i];
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn exp_is_within_two_ulp_of_the_f64_value() {
		let mut x = -87.0f32;
		while x < 88.0 {
			let want = (f64::from(x)).exp();
			let got = f64::from(exp(x));
			assert!(((got - want) / want).abs() < 2.5e-7, "exp({x}) = {got}, want {want}");
			x += 0.0137;
		}
		assert_eq!(exp(0.0), 1.0);
		assert_eq!(exp(-1000.0), exp(-87.3));
	}

	#[test]
	fn reductions_use_the_lane_order() {
		let a: Vec<f32> = (0..19).map(|i| 1.0 + i as f32 * 1e-3).collect();
		let mut lanes = [0.0f32; 8];
		for (i, v) in a.iter().enumerate() {
			lanes[i % 8] += v * v;
		}
		assert_eq!(dot(&a, &a).to_bits(), sum_lanes(&lanes).to_bits());
	}

	#[test]
	fn attention_is_the_same_bits_on_every_path() {
		let f = |i: usize| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3;
		let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
		// Head widths with registers for the output (64, 128) and without (40); position counts
		// below, at and past multiples of the eight scored at once.
		for (dim, positions) in [(64, 1), (64, 8), (64, 37), (64, 300), (128, 17), (40, 9)] {
			let stride = 3 * dim;
			let offset = 2 * dim;
			let keys: Vec<f16> = (0..positions * stride).map(|i| f16::from_f32(f(i))).collect();
			let values: Vec<f16> =
				(0..positions * stride).map(|i| f16::from_f32(f(i + 11))).collect();
			let query: Vec<f32> = (0..dim).map(|i| 8.0 * f(i + 3)).collect();
			let head = Head {
				query: &query,
				keys: &keys,
				values: &values,
				stride,
				offset,
				positions,
				scale: 0.125,
			};
			let (mut a, mut b) = (vec![0.0; dim], vec![0.0; dim]);
			attend(&head, &mut Vec::new(), &mut a);
			attend_portable(&head, &mut Vec::new(), &mut b);
			assert_eq!(bits(&a), bits(&b), "head width {dim}, {positions} positions");
			assert!(a.iter().all(|x| x.is_finite()) && a.iter().any(|&x| x != 0.0));
		}
	}

	#[test]
	fn a_group_of_heads_is_each_head_alone() {
		let f = |i: usize| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3;
		let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
		// Widths the 512-bit path takes (64, 128) and one it leaves to `attend` (40); one to
		// five heads (pairs, a lone last head, more than four heads' outputs at once); position
		// counts below, at and past multiples of eight.
		for (dim, heads, positions) in [
			(64, 3, 1),
			(64, 3, 8),
			(64, 3, 37),
			(64, 1, 300),
			(64, 2, 9),
			(64, 5, 85),
			(128, 4, 17),
			(128, 3, 16),
			(40, 3, 9),
		] {
			let stride = 3 * dim;
			let offset = dim;
			let keys: Vec<f16> = (0..positions * stride).map(|i| f16::from_f32(f(i))).collect();
			let values: Vec<f16> =
				(0..positions * stride).map(|i| f16::from_f32(f(i + 11))).collect();
			let queries: Vec<f32> = (0..heads * dim).map(|i| 8.0 * f(i * 3 + 5)).collect();
			let group = Group {
				queries: &queries,
				dim,
				keys: &keys,
				values: &values,
				stride,
				offset,
				positions,
				scale: 0.125,
			};
			let mut together = vec![0.0; heads * dim];
			attend_group(&group, &mut Vec::new(), &mut together);
			for h in 0..heads {
				let mut alone = vec![0.0; dim];
				attend_portable(&group.head(h), &mut Vec::new(), &mut alone);
				assert_eq!(
					bits(&together[h * dim..(h + 1) * dim]),
					bits(&alone),
					"head {h} of {heads}, width {dim}, {positions} positions"
				);
			}
		}
	}

	#[cfg(target_arch = "x86_64")]
	#[test]
	fn eight_and_sixteen_lane_exp_is_exp_in_every_lane() {
		if !std::arch::is_x86_feature_detected!("avx2") {
			return;
		}
		use std::arch::x86_64::*;
		let mut inputs: Vec<f32> = (0..200_000).map(|i| -100.0 + i as f32 * 0.000_97).collect();
		inputs.extend([0.0, -0.0, -87.3, -87.29, 88.7, 88.71, f32::NEG_INFINITY, 1e-30, -1e-30]);
		inputs.extend((0..4096).map(|i| f32::from_bits(0xbf00_0000 + i * 997)));
		for chunk in inputs.chunks(LANES) {
			let mut x = [0.0f32; LANES];
			x[..chunk.len()].copy_from_slice(chunk);
			let mut got = [0.0f32; LANES];
			// SAFETY: the CPU has AVX2.
			unsafe { _mm256_storeu_ps(got.as_mut_ptr(), exp8(_mm256_loadu_ps(x.as_ptr()))) };
			for (g, v) in got.iter().zip(x) {
				assert_eq!(g.to_bits(), exp(v).to_bits(), "exp({v})");
			}
		}
		if !std::arch::is_x86_feature_detected!("avx512f") {
			return;
		}
		for chunk in inputs.chunks(2 * LANES) {
			let mut x = [0.0f32; 2 * LANES];
			x[..chunk.len()].copy_from_slice(chunk);
			let mut got = [0.0f32; 2 * LANES];
			// SAFETY: the CPU has AVX-512F.
			unsafe { _mm512_storeu_ps(got.as_mut_ptr(), exp16(_mm512_loadu_ps(x.as_ptr()))) };
			for (g, v) in got.iter().zip(x) {
				assert_eq!(g.to_bits(), exp(v).to_bits(), "exp({v}), sixteen lanes");
			}
		}
	}

	#[test]
	fn gating_is_silu_times_up_in_every_lane() {
		let gate: Vec<f32> = (0..100_003).map(|i| -120.0 + i as f32 * 0.0024).collect();
		let up: Vec<f32> =
			(0..gate.len()).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-2).collect();
		let check = |got: &[f32], path: &str| {
			for ((g, x), u) in got.iter().zip(&gate).zip(&up) {
				assert_eq!(g.to_bits(), (silu(*x) * u).to_bits(), "silu({x}) * {u}, {path}");
			}
		};
		let mut got = gate.clone();
		silu_mul(&mut got, &up);
		check(&got, "the best path");
		#[cfg(target_arch = "x86_64")]
		if std::arch::is_x86_feature_detected!("avx2") {
			let mut got = gate.clone();
			// SAFETY: the CPU has AVX2.
			unsafe { silu_mul_avx2(&mut got, &up) };
			check(&got, "AVX2");
		}
	}

	#[test]
	fn softmax_sums_to_one_and_rope_rotates() {
		let mut x = vec![1.0, 2.0, 3.0, -50.0];
		softmax(&mut x);
		assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
		let rope = Rope::new(4, 10_000.0, 4);
		let mut v = vec![1.0, 0.0, 1.0, 0.0];
		rope.apply(&mut v, 0);
		assert_eq!(v, [1.0, 0.0, 1.0, 0.0]);
		rope.apply(&mut v, 1);
		assert!((v[0] - 1f32.cos()).abs() < 1e-7 && (v[1] - 1f32.sin()).abs() < 1e-7);
	}
}
