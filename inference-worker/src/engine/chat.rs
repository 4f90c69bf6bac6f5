//! Chat prompt rendering with the model's own chat template.
//!
//! The template comes from the GGUF key `tokenizer.chat_template` (a Jinja template, as in Hugging
//! Face's `tokenizer_config.json`) and is rendered with `minijinja` plus its Python-compatibility
//! methods (`.strip()`, `.startswith()`, ... which many published templates use). Rendering the
//! model's real template matters: SmolLM2's, for example, inserts a default system prompt when the
//! conversation has none, and the model was trained on exactly that text.
//!
//! A model without a template gets plain ChatML ([`CHATML_TEMPLATE`]), the format of most
//! instruction-tuned small models, without any default system prompt.

use minijinja::{context, Environment, ErrorKind};
use serde::Serialize;

/// The fallback template: ChatML with the generation prompt.
pub const CHATML_TEMPLATE: &str =
	"{% for message in messages %}{{ '<|im_start|>' + message['role'] \
	+ '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt \
	%}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const TEMPLATE_NAME: &str = "chat";

/// One message of a conversation, as the template sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
	/// `system`, `user` or `assistant`.
	pub role: String,
	/// The message text.
	pub content: String,
}

/// A compiled chat template.
pub struct ChatTemplate {
	env: Environment<'static>,
	/// Whether the template came from the model file (false: the ChatML fallback).
	pub from_model: bool,
	bos_token: String,
	eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("ChatTemplate").field("from_model", &self.from_model).finish()
	}
}

/// `raise_exception(msg)`, which Hugging Face templates call to reject a conversation (e.g. roles
/// that do not alternate). Surfaces as a render error, which the API reports as a 422.
fn raise_exception(msg: String) -> Result<String, minijinja::Error> {
	Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
}

impl ChatTemplate {
	/// Compile `source` (or ChatML when `None`). `bos_token`/`eos_token` are exposed to the
	/// template under those names, as Hugging Face does.
	pub fn new(
		source: Option<String>,
		bos_token: String,
		eos_token: String,
	) -> Result<Self, minijinja::Error> {
		let from_model = source.is_some();
		let source = source.unwrap_or_else(|| CHATML_TEMPLATE.to_owned());
		let mut env = Environment::new();
		minijinja_contrib::add_to_environment(&mut env);
		env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
		env.add_function("raise_exception", raise_exception);
		env.add_template_owned(TEMPLATE_NAME, source)?;
		Ok(Self { env, from_model, bos_token, eos_token })
	}

	/// Render `messages` followed by the assistant's generation prompt.
	pub fn render(&self, messages: &[ChatMessage]) -> Result<String, minijinja::Error> {
		self.env.get_template(TEMPLATE_NAME)?.render(context! {
			messages => messages,
			add_generation_prompt => true,
			bos_token => &self.bos_token,
			eos_token => &self.eos_token,
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn msg(role: &str, content: &str) -> ChatMessage {
		ChatMessage { role: role.into(), content: content.into() }
	}

	#[test]
	fn chatml_fallback() {
		let t = ChatTemplate::new(None, "<s>".into(), "</s>".into()).unwrap();
		assert!(!t.from_model);
		assert_eq!(
			t.render(&[msg("user", "What is the capital of France?")]).unwrap(),
			"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
		);
	}

	#[test]
	fn raise_exception_is_an_error() {
		let t = ChatTemplate::new(
			Some("{{ raise_exception('roles must alternate') }}".into()),
			String::new(),
			String::new(),
		)
		.unwrap();
		let err = t.render(&[msg("user", "x")]).unwrap_err();
		assert!(err.to_string().contains("roles must alternate"), "{err}");
	}

	#[test]
	fn pycompat_methods() {
		let t = ChatTemplate::new(
			Some("{% for m in messages %}{{ m['content'].strip() }}{% endfor %}".into()),
			String::new(),
			String::new(),
		)
		.unwrap();
		assert_eq!(t.render(&[msg("user", "  hi  ")]).unwrap(), "hi");
	}
}
