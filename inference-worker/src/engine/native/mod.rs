//! The native CPU engine: GGUF weights kept in their quantized blocks, activations quantized to
//! 16 bits, and matmuls whose every output is reduced in one fixed order ([`kernels`]), so that a
//! request's logits are the same bits on every kernel tier, thread count and batch it runs in.
//!
//! Layers, one direction: [`quant`] (block formats) ← [`kernels`] (the matmul, per CPU tier) and
//! [`math`] (the float operations around it) ← [`llama`] (the forward pass over a batch of
//! sequences); [`team`] runs the parallel loops of a pass. `amx` is the kernels' AMX tier.

#[cfg(target_arch = "x86_64")]
mod amx;
pub mod kernels;
pub mod llama;
pub mod math;
pub mod quant;
pub mod team;

pub use kernels::Tier;
pub use llama::{BuildError, ForwardError, KvCache, Model, Step};
