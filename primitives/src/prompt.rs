//! Which inline inputs a worker can serve as a prompt: the chain refuses the others at submission,
//! so that no node is drawn for a request it cannot run (and slashed for not running it).
//!
//! An inline input is sent to the worker as `messages` when it is a JSON array (a chat
//! conversation), and as a plain-text `prompt` otherwise (the inference pallet's off-chain worker
//! builds the job this way). A conversation is served when it is a non-empty list of objects with
//! a `role` of `system`, `user` or `assistant` and a `content` that is absent, `null`, a string,
//! or a list of `{"type": "text", "text": ...}` parts: the rules of the worker's `messages`
//! (`inference-worker/src/api/dto.rs`, whose tests check they agree with this module).

use serde_json::Value;

/// The roles a chat message may have.
pub const CHAT_ROLES: [&str; 3] = ["system", "user", "assistant"];

/// The only content-part type workers serve.
pub const TEXT_PART: &str = "text";

/// Why a worker cannot serve an inline input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InlineInputError {
	/// Not UTF-8 text.
	NotUtf8,
	/// A JSON array that is not a conversation a worker serves: empty, a message that is not an
	/// object, a role other than [`CHAT_ROLES`], or content other than text.
	InvalidChat,
}

/// Whether a worker can serve `input` as the prompt of a job.
pub fn check_inline_input(input: &[u8]) -> Result<(), InlineInputError> {
	let text = core::str::from_utf8(input).map_err(|_| InlineInputError::NotUtf8)?;
	match serde_json::from_str::<Value>(text) {
		Ok(Value::Array(messages)) => {
			let served = !messages.is_empty() && messages.iter().all(is_served_message);
			if served {
				Ok(())
			} else {
				Err(InlineInputError::InvalidChat)
			}
		},
		// Any other text, JSON or not, is a plain prompt.
		_ => Ok(()),
	}
}

fn is_served_message(message: &Value) -> bool {
	let Value::Object(fields) = message else { return false };
	let role_served = matches!(fields.get("role"), Some(Value::String(role)) if CHAT_ROLES.contains(&role.as_str()));
	let content_served = match fields.get("content") {
		None | Some(Value::Null) | Some(Value::String(_)) => true,
		Some(Value::Array(parts)) => parts.iter().all(is_text_part),
		Some(_) => false,
	};
	role_served && content_served
}

fn is_text_part(part: &Value) -> bool {
	let Value::Object(fields) = part else { return false };
	matches!(fields.get("type"), Some(Value::String(kind)) if kind == TEXT_PART)
		&& matches!(fields.get("text"), Some(Value::String(_)))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn plain_text_and_served_conversations_pass() {
		for ok in [
			&b"Capital of France?"[..],
			br#"{"not": "an array"}"#,
			b"[not json",
			br#"[{"role":"user","content":"hi"}]"#,
			br#"[{"role":"system","content":null},{"role":"user","content":[{"type":"text","text":"a"}]}]"#,
			br#"[{"role":"assistant"}]"#,
		] {
			assert_eq!(check_inline_input(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
		}
	}

	#[test]
	fn what_no_worker_serves_is_refused() {
		assert_eq!(check_inline_input(&[0xff, 0xfe, 0x00, 0x80]), Err(InlineInputError::NotUtf8));
		for bad in [
			&b"[]"[..],
			b"[1]",
			br#"[{"content":"no role"}]"#,
			br#"[{"role":"tool","content":"x"}]"#,
			br#"[{"role":"user","content":5}]"#,
			br#"[{"role":"user","content":[{"type":"image_url","image_url":"x"}]}]"#,
			br#"[{"role":"user","content":[{"type":"text"}]}]"#,
		] {
			assert_eq!(
				check_inline_input(bad),
				Err(InlineInputError::InvalidChat),
				"{}",
				String::from_utf8_lossy(bad)
			);
		}
	}
}
