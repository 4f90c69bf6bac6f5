//! The execution profile: what, besides the model file, decides the bits a worker computes.
//!
//! Two honest workers agree bit for bit only if they run the same model file with the same
//! numeric precision, on the same kind of device, with the same kernels (chosen at run time by
//! CPU feature), the same batching policy and the same build of the inference code
//! (`docs/determinism.md`). A node whose worker differs from the rest of its echelon would
//! disagree with honest nodes and be slashed for it; so the worker reports the hash of its
//! profile, the echelon pins one, and a node whose worker differs is not drawn.
//!
//! The model file is checked separately (its weights root is in the model registry), so the
//! same profile serves every model of an echelon.

use crate::hash::{hash_tagged, Hash, TAG_EXECUTION_PROFILE};

/// The parts of an execution profile, each a short ASCII name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExecutionProfile<'a> {
	/// Numeric format of the matmuls: `f32` or `quantized`.
	pub precision: &'a str,
	/// `cpu`, or a GPU and its driver generation (`cuda`).
	pub device: &'a str,
	/// The kernel tier the CPU features select (e.g. `x86_64-avx2-fma`).
	pub kernel_tier: &'a str,
	/// How jobs share forward passes (`serial`: one job at a time per model).
	pub batch_policy: &'a str,
	/// The inference code: the worker's and candle's versions.
	pub build: &'a str,
}

impl ExecutionProfile<'_> {
	/// `H(TAG_EXECUTION_PROFILE ‖ for each part: len (u32 LE) ‖ bytes)`, parts in field order.
	pub fn hash(&self) -> Hash {
		let parts = [self.precision, self.device, self.kernel_tier, self.batch_policy, self.build];
		let lens = parts.map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX).to_le_bytes());
		let preimage: alloc::vec::Vec<&[u8]> = lens
			.iter()
			.zip(parts)
			.flat_map(|(len, part)| [len.as_slice(), part.as_bytes()])
			.collect();
		hash_tagged(TAG_EXECUTION_PROFILE, &preimage)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn profile() -> ExecutionProfile<'static> {
		ExecutionProfile {
			precision: "f32",
			device: "cpu",
			kernel_tier: "x86_64-avx2-fma",
			batch_policy: "serial",
			build: "atoma-worker 0.1.0 candle 0.11.1",
		}
	}

	#[test]
	fn every_part_changes_the_hash() {
		let base = profile().hash();
		let variants = [
			ExecutionProfile { precision: "quantized", ..profile() },
			ExecutionProfile { device: "cuda", ..profile() },
			ExecutionProfile { kernel_tier: "x86_64-avx512-vnni", ..profile() },
			ExecutionProfile { batch_policy: "continuous", ..profile() },
			ExecutionProfile { build: "atoma-worker 0.1.1 candle 0.11.1", ..profile() },
		];
		for v in variants {
			assert_ne!(v.hash(), base, "{v:?}");
		}
	}

	#[test]
	fn parts_are_length_prefixed() {
		// Moving a character from one part to the next changes the hash.
		let a = ExecutionProfile { precision: "f3", device: "2cpu", ..profile() };
		let b = ExecutionProfile { precision: "f32", device: "cpu", ..profile() };
		assert_ne!(a.hash(), b.hash());
	}
}
