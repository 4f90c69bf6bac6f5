//! The float operations around the matmuls, each defined so that every machine computes the same
//! bits: only IEEE 754 additions, multiplications, divisions and square roots (correctly rounded
//! everywhere), no fused multiply-add, no platform `libm` in the forward pass, and sums in a
//! fixed order. Reductions keep eight independent lanes (`lane j` takes elements `j, j + 8, ...`)
//! so that the compiler can vectorize them without reordering anything.

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
	const LOG2E: f32 = std::f32::consts::LOG2_E;
	const LN2_HI: f32 = 0.693_359_4;
	const LN2_LO: f32 = -2.121_944_4e-4;
	// 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (ties to even).
	const ROUND: f32 = 12_582_912.0;
	let x = x.clamp(-87.3, 88.7);
	let n = (x * LOG2E + ROUND) - ROUND;
	let r = (x - n * LN2_HI) - n * LN2_LO;
	let r2 = r * r;
	let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
		+ 1.666_666_5e-1)
		* r + 5e-1;
	let y = (p * r2 + r) + 1.0;
	// 2^n by building the exponent: n is in [-126, 128]; split it so no step overflows.
	let n = n as i32;
	let half = n / 2;
	let pow = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
	y * pow(half) * pow(n - half)
}

/// `x * sigmoid(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
	x / (1.0 + exp(-x))
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
/// `values`.
pub struct Head<'a> {
	/// The query's slice for this head.
	pub query: &'a [f32],
	/// The layer's keys of the sequence, position after position.
	pub keys: &'a [f32],
	/// The layer's values, laid out as `keys`.
	pub values: &'a [f32],
	/// Floats per position in `keys` and `values`.
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
	if std::arch::is_x86_feature_detected!("avx2") {
		// SAFETY: the CPU has AVX2.
		return unsafe { attend_avx2(head, scores, out) };
	}
	attend_portable(head, scores, out)
}

/// [`attend_portable`] with AVX2 registers, for head widths that are a multiple of 8: a
/// register holds the eight lanes of a dot product (lane `j` takes elements `j, j + 8, ...`, as
/// [`dot`] does), or eight dimensions of the output. The same operations in the same order, so
/// the same bits (tested).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
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
	let q = query.as_ptr();
	for (j, score) in scores.iter_mut().enumerate() {
		let k = keys.as_ptr().add(j * stride + offset);
		let mut lanes = _mm256_setzero_ps();
		for c in (0..dim).step_by(LANES) {
			lanes = _mm256_add_ps(
				lanes,
				_mm256_mul_ps(_mm256_loadu_ps(q.add(c)), _mm256_loadu_ps(k.add(c))),
			);
		}
		let mut l = [0.0f32; LANES];
		_mm256_storeu_ps(l.as_mut_ptr(), lanes);
		*score = sum_lanes(&l) * scale;
	}
	softmax(scores);
	out.fill(0.0);
	let o = out.as_mut_ptr();
	for (j, &p) in scores.iter().enumerate() {
		let v = values.as_ptr().add(j * stride + offset);
		let p = _mm256_set1_ps(p);
		for c in (0..dim).step_by(LANES) {
			_mm256_storeu_ps(
				o.add(c),
				_mm256_add_ps(
					_mm256_loadu_ps(o.add(c)),
					_mm256_mul_ps(p, _mm256_loadu_ps(v.add(c))),
				),
			);
		}
	}
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
		scores[j] = dot(query, &keys[j * stride + offset..][..dim]) * scale;
	}
	softmax(scores);
	out.fill(0.0);
	for j in 0..positions {
		let p = scores[j];
		let value = &values[j * stride + offset..][..dim];
		for d in 0..dim {
			out[d] += p * value[d];
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
		let keys: Vec<f32> = (0..37 * 192).map(f).collect();
		let values: Vec<f32> = (0..37 * 192).map(|i| f(i + 11)).collect();
		let query: Vec<f32> = (0..64).map(|i| f(i + 3)).collect();
		let head = Head {
			query: &query,
			keys: &keys,
			values: &values,
			stride: 192,
			offset: 128,
			positions: 37,
			scale: 0.125,
		};
		let (mut a, mut b) = (vec![0.0; 64], vec![0.0; 64]);
		attend(&head, &mut Vec::new(), &mut a);
		attend_portable(&head, &mut Vec::new(), &mut b);
		let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
		assert_eq!(bits(&a), bits(&b));
		assert!(a.iter().all(|x| x.is_finite()) && a.iter().any(|&x| x != 0.0));
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
