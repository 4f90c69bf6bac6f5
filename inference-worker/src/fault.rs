//! Deliberate misbehaviour, to test that the chain catches it (feature `fault-injection`; default
//! builds leave this module out, and the worker refuses to start in a fault mode without
//! `--i-know-this-worker-cheats`).
//!
//! Each mode is a way a real operator could cheat or fail:
//!
//! | mode | what the worker does | what the chain does |
//! |---|---|---|
//! | `tamper-tokens` | replaces the last generated token, then commits honestly to the tampered output | dispute: arbiters find the real output; the node loses all its collateral |
//! | `cheaper-precision` | runs the quantized kernels whatever `--precision` says: a cheaper model | dispute whenever the outputs differ |
//! | `lazy` | never runs the model and commits to a made-up output | dispute: the node loses all its collateral |
//! | `stall` | accepts jobs and never finishes them | timeout: the node is slashed as late and replaced |
//!
//! A lazy node that copies another node's commitment from the pool is the chain's own test
//! (`pallet-disputes`, "a lazy leaf"): without `O` it cannot make its leaf `H(O ‖ i)`.

use std::time::Duration;

use atoma_primitives::{trace::step_digest, FinishReason};

use crate::{commitments::TraceStep, engine::generate::GenerationOutput};

/// A way to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
	/// Replace the last generated token.
	TamperTokens,
	/// Run the quantized kernels whatever `--precision` says.
	CheaperPrecision,
	/// Commit to a made-up output without running the model.
	Lazy,
	/// Accept jobs and never finish them.
	Stall,
}

/// `tamper-tokens`: the last token becomes another one, and its trace step with it, so the
/// output and every commitment describe the tampered output consistently.
pub fn tamper(output: &mut GenerationOutput) {
	if let Some(last) = output.token_ids.last_mut() {
		*last ^= 1;
		if let Some(step) = output.trace.last_mut() {
			step.token_id = *last;
			step.digest = step_digest(step.step, step.token_id, &step.top_logits);
		}
	} else {
		output.token_ids.push(1);
	}
	output.text.push_str(" [tampered]");
}

/// `lazy`: a plausible-looking output of `tokens` tokens that no model produced.
pub fn made_up_output(tokens: u32, prompt_tokens: u32) -> GenerationOutput {
	let token_ids: Vec<u32> = (0..tokens.max(1)).map(|i| 42 + i).collect();
	let trace = (0u32..)
		.zip(&token_ids)
		.map(|(step, token_id)| TraceStep {
			step,
			token_id: *token_id,
			top_logits: Vec::new(),
			digest: step_digest(step, *token_id, &[]),
		})
		.collect();
	GenerationOutput {
		token_ids,
		text: "lazy".to_owned(),
		finish_reason: FinishReason::Length,
		prompt_tokens,
		trace,
		prefill: Duration::ZERO,
		time_to_first_token: Duration::ZERO,
		total: Duration::ZERO,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tampering_changes_the_output_and_its_trace_together() {
		let mut output = made_up_output(3, 5);
		let before = output.token_ids.clone();
		tamper(&mut output);
		assert_ne!(output.token_ids, before);
		assert_eq!(output.token_ids.len(), before.len());
		assert_eq!(output.trace.last().map(|s| s.token_id), output.token_ids.last().copied());
	}
}
