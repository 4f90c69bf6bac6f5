//! # Atoma protocol primitives
//!
//! This crate is the single source of truth for every byte layout and hash
//! that the Atoma appchain runtime (wasm, `no_std`) and the off-chain inference
//! worker (`std`) must agree on. Consensus in Atoma is *Sampling Consensus*:
//! several nodes run the same request and the chain compares their
//! commitments, so a single differing byte between two implementations of a
//! layout would look exactly like a dishonest node. Keeping the layouts here,
//! once, and testing them against vectors produced by an independent Python
//! implementation (`tests/vectors/generate.py`) is how we prevent that.
//!
//! ## Modules
//!
//! * [`hash`] — the hash function (blake2-256) and the domain-separation tags.
//! * [`input_read`] — how a node proves its role to read a by-hash input from a peer's worker.
//! * [`output`] — the canonical encoding `O` of an inference output.
//! * [`output_read`] — how a request's owner proves itself to read its output from a worker.
//! * [`commitment`] — per-node Sampling Consensus commitments `(root, leaf_i)`.
//! * [`merkle`] — a generic binary Merkle tree with inclusion proofs.
//! * [`weights`] — the Merkle root of a model-weights file (streaming).
//! * [`trace`] — per-step trace digests and the trace root used in disputes.
//! * [`bisection`] — walking two disagreeing trace trees down to one step.
//! * [`params`] — integer fixed-point sampling parameters.
//! * [`profile`] — the execution profile a worker reports and an echelon pins.
//! * [`prompt`] — which inline inputs a worker can serve (checked by the chain at submission).
//! * [`tokenizer`] — the tokenizer hash a model is registered with.
//! * [`unservable`] — why a request cannot be served, as nodes attest it.
//!
//! ## Layout rules shared by every module
//!
//! * Every preimage starts with a distinct ASCII domain tag from [`hash`]
//!   (e.g. `b"atoma/leaf/v1"`), so a hash produced for one purpose can never
//!   be replayed as a hash for another purpose.
//! * All integers are fixed-width little-endian (`u32`, `i32` or `u64`); no
//!   SCALE compact encoding and no platform-dependent `usize` ever reaches a
//!   preimage. This keeps the layouts trivially reproducible from Python, JS
//!   or any other language.
//! * Floats never reach a preimage: logits are quantized to `i32`
//!   ([`trace::quantize_logit`]) and sampling parameters are fixed-point
//!   integers ([`params::SamplingParams`]).
//! * Changing a layout means bumping its tag (`/v1` → `/v2`), never silently
//!   editing the meaning of an existing tag.
//!
//! ## Robustness
//!
//! Non-test code contains no `unwrap`, `expect`, `panic!`, slice indexing or
//! unchecked arithmetic (enforced by the `deny` lints below), because this
//! code runs inside the runtime where a panic on attacker-supplied bytes would
//! be a denial-of-service vector.

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects,
		clippy::panic
	)
)]
#![warn(missing_docs)]

extern crate alloc;

pub mod bisection;
pub mod commitment;
pub mod hash;
pub mod input_read;
pub mod merkle;
pub mod output;
pub mod output_read;
pub mod params;
pub mod profile;
pub mod prompt;
pub mod tokenizer;
pub mod trace;
pub mod unservable;
pub mod weights;

pub use commitment::{NodeCommitment, QuorumCommitments};
pub use hash::Hash;
pub use output::{CanonicalOutput, FinishReason};
pub use params::SamplingParams;
pub use weights::{WeightsDigest, WeightsHasher};
