//! This worker's execution profile (`atoma_primitives::profile`): the precision and device it
//! was started with, the kernel tier this CPU selects, its batching policy and its build.
//! `GET /v1/models` reports it with its hash; the node compares the hash with its echelon's and
//! withdraws from the draw when they differ.

use atoma_primitives::profile::ExecutionProfile;
use serde::Serialize;

use crate::config::{DeviceSpec, Precision};

/// The candle release the kernels come from (a test checks it against `Cargo.lock`).
pub const CANDLE_VERSION: &str = "0.11.1";

/// Candle's engine: jobs of one model run one at a time, each alone in its forward passes.
pub const BATCH_POLICY: &str = "serial";

/// The native engine: jobs share forward passes (continuous batching, up to 16), which changes
/// no bit of any job's output.
pub const NATIVE_BATCH_POLICY: &str = "continuous-invariant";

/// The native engine's kernel tier in the profile: every tier computes the canonical forward pass
/// (the reduction of `engine::native::kernels`, attention over `engine::native::llama`'s KV
/// cache), so the tier a CPU picks is not part of it; the version names that computation, and
/// changes whenever a bit of it does. v2: the KV cache holds half floats (v1: f32). v3: each
/// block's integer products summed exactly, then scaled once (v2 scaled eight partial sums).
pub const NATIVE_KERNELS: &str = "native-canonical-v3";

/// The kernels candle and `gemm` pick on this CPU at run time (`docs/determinism.md`): f32
/// matmuls use AVX-512 or FMA kernels, quantized ones VNNI or AVX2 tiers; CPUs without AVX2 and
/// FMA run scalar code. Different tiers sum in different orders.
pub fn kernel_tier() -> &'static str {
	#[cfg(target_arch = "x86_64")]
	{
		if std::arch::is_x86_feature_detected!("avx512f")
			&& std::arch::is_x86_feature_detected!("avx512vnni")
		{
			return "x86_64-avx512-vnni";
		}
		if std::arch::is_x86_feature_detected!("avx512f") {
			return "x86_64-avx512";
		}
		if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
		{
			return "x86_64-avx2-fma";
		}
		"x86_64-baseline"
	}
	#[cfg(target_arch = "aarch64")]
	{
		"aarch64-neon"
	}
	#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
	{
		"other"
	}
}

/// The profile as `GET /v1/models` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
	/// `ExecutionProfile::hash`, hex.
	pub hash: String,
	/// `native`, `f32` or `quantized`.
	pub precision: &'static str,
	/// `cpu` or `cuda` (the GPU model belongs to the echelon's hardware class).
	pub device: &'static str,
	/// [`kernel_tier`] (`cuda` on a GPU, [`NATIVE_KERNELS`] for the native engine).
	pub kernel_tier: &'static str,
	/// [`BATCH_POLICY`] or [`NATIVE_BATCH_POLICY`].
	pub batch_policy: &'static str,
	/// The worker's and candle's versions.
	pub build: String,
}

/// The profile of a worker running on `device` with `precision`.
pub fn profile(device: DeviceSpec, precision: Precision) -> ProfileView {
	let (device, kernel_tier, batch_policy) = match (device, precision) {
		(_, Precision::Native) => ("cpu", NATIVE_KERNELS, NATIVE_BATCH_POLICY),
		(DeviceSpec::Cpu, _) => ("cpu", kernel_tier(), BATCH_POLICY),
		(DeviceSpec::Cuda(_), _) => ("cuda", "cuda", BATCH_POLICY),
	};
	let build = format!("atoma-worker {} candle {CANDLE_VERSION}", env!("CARGO_PKG_VERSION"));
	let hash = ExecutionProfile {
		precision: precision.as_str(),
		device,
		kernel_tier,
		batch_policy,
		build: &build,
	}
	.hash();
	ProfileView {
		hash: hex::encode(hash),
		precision: precision.as_str(),
		device,
		kernel_tier,
		batch_policy,
		build,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_candle_version_is_the_locked_one() {
		let lock = include_str!("../../Cargo.lock");
		let locked = lock
			.split("[[package]]")
			.find(|p| p.contains("name = \"candle-core\""))
			.and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
			.map(|v| v.trim_end_matches('"'));
		assert_eq!(locked, Some(CANDLE_VERSION));
	}

	#[test]
	fn precision_and_device_change_the_hash() {
		let base = profile(DeviceSpec::Cpu, Precision::F32);
		assert_eq!(base.precision, "f32");
		assert_ne!(base.hash, profile(DeviceSpec::Cpu, Precision::Quantized).hash);
		let native = profile(DeviceSpec::Cpu, Precision::Native);
		assert_ne!(base.hash, native.hash);
		assert_eq!(
			(native.kernel_tier, native.batch_policy),
			(NATIVE_KERNELS, NATIVE_BATCH_POLICY)
		);
		assert_ne!(base.hash, profile(DeviceSpec::Cuda(0), Precision::F32).hash);
		// The CUDA ordinal is not part of it: any GPU of the echelon's class.
		assert_eq!(
			profile(DeviceSpec::Cuda(0), Precision::F32),
			profile(DeviceSpec::Cuda(1), Precision::F32)
		);
	}
}
