//! Requests no node can serve, and how nodes say so.
//!
//! Some requests cannot be run by any honest node, and only a node can see it: an input given by
//! hash that the user never uploaded, a prompt that tokenizes past the model's context or to more
//! tokens than the user declared (and its escrow pays for), a conversation the model's chat
//! template refuses. A node that is selected for such a
//! request attests "unservable, because ..." instead of committing to an output. When every
//! selected node attests the same reason the request ends with a refund and nobody is slashed; a
//! node that claims it falsely disagrees with the honest ones and goes to a dispute.
//!
//! The reason is part of consensus (nodes must agree on it), so it is a closed enum with a fixed
//! code byte, and [`UnservableReason::from_worker_error`] is the one mapping from the inference
//! worker's error codes to it, shared by the worker's tests and the chain's off-chain workers.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::hash::{hash_tagged, Hash, TAG_UNSERVABLE};

/// Why a request cannot be served.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub enum UnservableReason {
	/// The input was given by hash and the node's worker does not have it (never uploaded).
	InputUnavailable,
	/// The prompt, or the prompt plus `max_output_tokens`, does not fit the model's context.
	ExceedsContext,
	/// The input is not a prompt the model can take (its chat template or tokenizer refuses it).
	InvalidPrompt,
	/// The prompt has more tokens than the request declared: its escrow does not pay for it.
	InputTokensAboveDeclared,
}

impl UnservableReason {
	/// Every reason, in code order.
	pub const ALL: [Self; 4] = [
		Self::InputUnavailable,
		Self::ExceedsContext,
		Self::InvalidPrompt,
		Self::InputTokensAboveDeclared,
	];

	/// The reason's code byte: its SCALE encoding, and what [`unservable_digest`] hashes.
	pub fn code(self) -> u8 {
		match self {
			Self::InputUnavailable => 0,
			Self::ExceedsContext => 1,
			Self::InvalidPrompt => 2,
			Self::InputTokensAboveDeclared => 3,
		}
	}

	/// The reason an inference worker's error body (`error.type`, `error.code`) gives, if it
	/// says the request itself cannot be served. Anything else (a full queue, an engine error,
	/// a worker shutting down) is the node's problem, not the request's: `None`.
	pub fn from_worker_error(kind: &str, code: Option<&str>) -> Option<Self> {
		match (kind, code) {
			("input_not_uploaded", _) => Some(Self::InputUnavailable),
			(_, Some("prompt_too_long" | "context_length_exceeded")) => Some(Self::ExceedsContext),
			(_, Some("prompt_tokens_over_declared")) => Some(Self::InputTokensAboveDeclared),
			(
				"validation_error",
				Some(
					"chat_template_error"
					| "tokenization_failed"
					| "token_out_of_vocabulary"
					| "empty_prompt"
					| "empty_messages"
					| "unsupported_role",
				),
			) => Some(Self::InvalidPrompt),
			_ => None,
		}
	}
}

/// The output digest that stands for "unservable, because `reason`" wherever an output digest
/// is compared: in an arbiter's verdict, and against a node's attestation in a dispute.
/// `H(TAG_UNSERVABLE ‖ code)`; no output's `H(O)` can equal it (different domain tag).
pub fn unservable_digest(reason: UnservableReason) -> Hash {
	hash_tagged(TAG_UNSERVABLE, &[&[reason.code()]])
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;

	#[test]
	fn the_code_is_the_scale_encoding() {
		for reason in UnservableReason::ALL {
			assert_eq!(reason.encode(), [reason.code()]);
		}
	}

	#[test]
	fn each_reason_has_its_own_digest() {
		let digests: alloc::collections::BTreeSet<Hash> =
			UnservableReason::ALL.iter().map(|r| unservable_digest(*r)).collect();
		assert_eq!(digests.len(), UnservableReason::ALL.len());
	}

	#[test]
	fn worker_errors_map_to_reasons_and_node_faults_do_not() {
		use UnservableReason::*;
		let cases = [
			("input_not_uploaded", None, Some(InputUnavailable)),
			("validation_error", Some("prompt_too_long"), Some(ExceedsContext)),
			("validation_error", Some("context_length_exceeded"), Some(ExceedsContext)),
			("validation_error", Some("chat_template_error"), Some(InvalidPrompt)),
			("validation_error", Some("empty_prompt"), Some(InvalidPrompt)),
			(
				"validation_error",
				Some("prompt_tokens_over_declared"),
				Some(InputTokensAboveDeclared),
			),
			("validation_error", Some("seed_required"), None),
			("queue_full", None, None),
			("engine_error", None, None),
			("shutting_down", None, None),
			("model_not_found", None, None),
		];
		for (kind, code, expected) in cases {
			assert_eq!(
				UnservableReason::from_worker_error(kind, code),
				expected,
				"{kind} {code:?}"
			);
		}
	}
}
