//! Everything a finished job commits to, computed with `atoma-primitives`.
//!
//! This module is the worker's only caller of the primitives' hashing: it picks *what* goes into
//! the commitments (the generated token ids, the finish reason, the top logits of every step) and
//! leaves *how* they are encoded and hashed to the shared crate the runtime also uses.
//!
//! * Canonical output `O` = [`CanonicalOutput::encode_canonical`] of the generated token ids
//!   (including a terminating stop token, excluding the prompt) and the finish reason.
//! * Sampling Consensus commitment = [`node_commitment`]`(O, node_index, quorum_size)`.
//! * Trace: for step `s` (0-based), `step_digest(s, token_id, top)` where `top` is the
//!   [`TRACE_TOP_K`] largest raw logits of that step (before temperature and filters), quantized
//!   with [`quantize_logit`], ordered by quantized logit descending then token id ascending; the
//!   trace root is [`trace_root`] over the step digests.

use atoma_primitives::{
	commitment::{node_commitment, CommitmentError},
	trace::{quantize_logit, step_digest, trace_root},
	CanonicalOutput, FinishReason, Hash,
};

/// Number of top logits recorded per step. Part of the trace layout every node of a quorum must
/// share, so a protocol constant rather than a setting.
pub const TRACE_TOP_K: usize = 4;

/// One decoding step of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
	/// 0-based step number (= index of the generated token).
	pub step: u32,
	/// The token chosen at this step.
	pub token_id: u32,
	/// `(token, quantized logit)` of the top logits, in committed order.
	pub top_logits: Vec<(u32, i32)>,
	/// `step_digest(step, token_id, top_logits)`.
	pub digest: Hash,
}

impl TraceStep {
	/// Record step `step`, which chose `token_id` from the raw `logits` over the vocabulary.
	pub fn record(step: u32, token_id: u32, logits: &[f32]) -> Self {
		let mut top: Vec<(u32, i32)> = top_k_logits(logits, TRACE_TOP_K)
			.into_iter()
			.map(|(token, logit)| (token, quantize_logit(logit)))
			.collect();
		// Order by the committed (quantized) values, so a verifier can check the order from the
		// revealed pairs alone.
		top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
		let digest = step_digest(step, token_id, &top);
		Self { step, token_id, top_logits: top, digest }
	}
}

/// The `k` largest logits as `(token id, logit)`, largest first, ties by smaller token id. Uses
/// `f32::total_cmp`, so NaNs cannot make the selection depend on the scan order.
pub fn top_k_logits(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
	let better = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
	let mut top: Vec<(u32, f32)> = Vec::with_capacity(k.saturating_add(1));
	if k == 0 {
		return top;
	}
	// Once `top` is full, a logit enters only if it is above the last one in `total_cmp`'s order
	// (an equal one has a larger id, and loses the tie): with the order's integer keys, most
	// chunks of the vocabulary are passed over by one vectorized maximum.
	let mut threshold = i32::MIN;
	for (c, chunk) in logits.chunks(TOP_K_CHUNK).enumerate() {
		// A fold over a fixed-size array: vectorized, where `Iterator::max` on a slice was not.
		let largest = match chunk.as_array::<TOP_K_CHUNK>() {
			Some(full) => full.iter().fold(i32::MIN, |m, &x| m.max(total_order_key(x))),
			None => chunk.iter().fold(i32::MIN, |m, &x| m.max(total_order_key(x))),
		};
		if top.len() >= k && largest <= threshold {
			continue;
		}
		for (j, &logit) in chunk.iter().enumerate() {
			let candidate = (u32::try_from(c * TOP_K_CHUNK + j).unwrap_or(u32::MAX), logit);
			let full = top.len() >= k;
			if full && top.last().is_some_and(|last| better(&candidate, last).is_ge()) {
				continue;
			}
			let pos = top.partition_point(|x| better(x, &candidate).is_lt());
			top.insert(pos, candidate);
			top.truncate(k);
			if let (true, Some(last)) = (top.len() >= k, top.last()) {
				threshold = total_order_key(last.1);
			}
		}
	}
	top
}

/// Logits [`top_k_logits`] compares at once.
const TOP_K_CHUNK: usize = 16;

/// `x`'s place in [`f32::total_cmp`]'s order, as an integer (the same transformation).
fn total_order_key(x: f32) -> i32 {
	let bits = x.to_bits() as i32;
	bits ^ ((((bits >> 31) as u32) >> 1) as i32)
}

/// All commitments of one finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCommitments {
	/// The canonical output bytes `O`.
	pub canonical_output: Vec<u8>,
	/// `H(O)`, for logging and lookups (consensus uses `root`/`leaf`).
	pub output_hash: Hash,
	/// This node's position in the quorum.
	pub node_index: u32,
	/// Quorum size `n`.
	pub quorum_size: u32,
	/// The quorum-wide Sampling Consensus root.
	pub root: Hash,
	/// This node's leaf.
	pub leaf: Hash,
	/// Merkle root over the step digests.
	pub trace_root: Hash,
}

/// Compute the commitments of an output. `steps` must be the trace of exactly these tokens.
pub fn compute(
	token_ids: &[u32],
	finish_reason: FinishReason,
	node_index: u32,
	quorum_size: u32,
	steps: &[TraceStep],
) -> Result<JobCommitments, CommitmentError> {
	let output = CanonicalOutput::new(token_ids, finish_reason);
	let canonical_output = output.encode_canonical();
	let commitment = node_commitment(&canonical_output, node_index, quorum_size)?;
	let digests: Vec<Hash> = steps.iter().map(|s| s.digest).collect();
	Ok(JobCommitments {
		output_hash: output.output_hash(),
		canonical_output,
		node_index,
		quorum_size,
		root: commitment.root,
		leaf: commitment.leaf,
		trace_root: trace_root(&digests),
	})
}

/// Lowercase hex without a prefix, the form used by the API and the primitives' test vectors.
pub fn to_hex(bytes: &[u8]) -> String {
	hex::encode(bytes)
}

/// Wire form of a [`FinishReason`] (`"stop"`/`"length"`, as OpenAI names them).
pub fn finish_reason_str(reason: FinishReason) -> &'static str {
	match reason {
		FinishReason::Stop => "stop",
		FinishReason::Length => "length",
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn top_k_order_and_ties() {
		let logits = [1.0, 5.0, 3.0, 5.0, -1.0, f32::NEG_INFINITY, 3.0];
		assert_eq!(top_k_logits(&logits, 4), vec![(1, 5.0), (3, 5.0), (2, 3.0), (6, 3.0)]);
		assert_eq!(top_k_logits(&logits, 0), vec![]);
		assert_eq!(top_k_logits(&logits[..2], 4), vec![(1, 5.0), (0, 1.0)]);
	}

	#[test]
	fn top_k_matches_full_sort() {
		let mut state = 0x2545_F491_4F6C_DD1Du64;
		let mut next = move || {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			state
		};
		// What `total_cmp` orders specially, and few distinct values, so ties are common; long
		// and short vocabularies (the chunks `top_k_logits` passes over whole, and partial ones).
		let special = [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0];
		for len in [5000, 0, 1, 15, 16, 17, 100, 333] {
			let logits: Vec<f32> = (0..len)
				.map(|_| match next() % 16 {
					0 => special[(next() as usize) % special.len()],
					_ => (next() % 64) as f32 / 8.0,
				})
				.collect();
			for k in [TRACE_TOP_K, 0, 1, 17] {
				let mut all: Vec<(u32, f32)> = (0u32..).zip(logits.iter().copied()).collect();
				all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
				all.truncate(k);
				let bits =
					|v: &[(u32, f32)]| v.iter().map(|(i, x)| (*i, x.to_bits())).collect::<Vec<_>>();
				assert_eq!(bits(&top_k_logits(&logits, k)), bits(&all), "{len} logits, k = {k}");
			}
		}
	}

	#[test]
	fn step_uses_quantized_order() {
		// 0.0998 < 0.1 but both quantize to 102: the committed order breaks the tie by token id.
		let s = TraceStep::record(3, 9, &[0.0, 0.0998, 0.1, -2.0, 7.5]);
		assert_eq!(s.top_logits, vec![(4, 7680), (1, 102), (2, 102), (0, 0)]);
		assert_eq!(s.digest, step_digest(3, 9, &s.top_logits));
	}
}
