//! # Atoma inference worker
//!
//! The process an Atoma execution node pairs with: it loads GGUF llama-family models with candle,
//! runs inference deterministically, and reports for every finished job exactly the values the
//! chain checks, computed by the shared `atoma-primitives` crate (never re-implemented here):
//!
//! * the canonical output bytes `O` and the Sampling Consensus commitment `(root, leaf_i)` for the
//!   node's position in its quorum;
//! * a trace commitment (Merkle root over per-token step digests of the top logits) for disputes;
//! * the weights Merkle root of each served model file.
//!
//! ## Design
//!
//! ```text
//!  HTTP (axum)                     validation                 engine (one thread per model)
//!  ───────────                     ──────────                 ─────────────────────────────
//!  /v1/jobs, /v1/completions, ──▶  raw request ──▶ Validated ──▶ bounded queue ──▶ generate()
//!  /v1/chat/completions            (tokenized,      request      (429 when full)   fresh KV cache,
//!                                   limits checked)                                 seeded sampler
//!        ▲                                                                              │
//!        └──────────── job store (status, output, commitments) ◀────── events ─────────┘
//! ```
//!
//! * [`validation`] turns a raw request into a [`validation::ValidatedRequest`] before anything
//!   is queued, so the engine only ever sees requests that fit the model.
//! * [`engine`] owns the candle model on a dedicated OS thread per model; the forward pass never
//!   runs on the async runtime.
//! * [`jobs`] is the bounded in-memory store the off-chain worker polls.
//! * [`commitments`] is the only place that calls the primitives' hashing.
//! * [`delivery`] keeps the output of every chain job (streamed while it runs, on disk once
//!   complete) and serves it to the request's owner, whose signature it checks itself.
//! * [`inputs`] keeps prompts uploaded by hash; other nodes read them once [`node_rpc`] (the
//!   worker's one outgoing call) has asked the paired node whether the reader holds a role.
//!
//! ## Determinism
//!
//! The same request (model file, prompt, sampling parameters, seed) gives byte-identical token ids,
//! text and commitments across runs, processes, thread counts and restarts of the same build on
//! the same kind of CPU. `docs/determinism.md` lists what it holds across and what breaks it.

// Request paths must not panic on input: no unwrap/expect/panic outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod api;
pub mod commitments;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod inputs;
pub mod jobs;
pub mod metrics;
pub mod node_rpc;
pub mod profile;
pub mod shutdown;
pub mod validation;
pub mod weights;
