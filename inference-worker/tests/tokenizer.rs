//! The tokenizer built from the GGUF metadata matches Hugging Face's SmolLM2 tokenizer on the ids
//! pinned in `shared/reference/models.md`, and the chat template comes from the model file.

mod common;

use atoma_inference_worker::engine::{
	chat::{ChatMessage, ChatTemplate},
	tokenizer,
};
use candle_core::quantized::gguf_file;

fn load() -> (tokenizer::GgufTokenizer, gguf_file::Content) {
	let path = common::model_path();
	let mut file = std::fs::File::open(&path).expect("open model");
	let content = gguf_file::Content::read(&mut file).expect("read GGUF");
	(tokenizer::from_gguf(&content).expect("build tokenizer"), content)
}

#[test]
fn tokenizer_ids_match_models_md() {
	let (tok, _) = load();
	let cases: [(&str, &[u32]); 2] = [
		(
			"Once upon a time, there was a little girl named Lily.",
			&[6403, 1980, 253, 655, 28, 665, 436, 253, 1838, 8180, 3365, 14176, 30],
		),
		(
			"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
			&[1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198],
		),
	];
	for (text, ids) in cases {
		let enc = tok.tokenizer.encode(text, false).expect("encode");
		assert_eq!(enc.get_ids(), ids, "ids of {text:?}");
		// Every string round-trips exactly (special tokens kept).
		assert_eq!(tok.tokenizer.decode(ids, false).expect("decode"), text);
	}
}

#[test]
fn tokenizer_metadata() {
	let (tok, _) = load();
	assert_eq!(tok.tokens.len(), 49_152);
	assert_eq!(tok.tokenizer.get_vocab_size(true), 49_152);
	assert_eq!(tok.eos_token_id, Some(2));
	assert_eq!(tok.bos_token_id, Some(1));
	// 17 control tokens, ids 0..=16.
	assert_eq!(tok.control_token_ids, (0..17).collect::<Vec<u32>>());
	// Digits are split one by one (the `smollm` pre-tokenizer).
	let ids = tok.tokenizer.encode("2024", false).expect("encode");
	assert_eq!(ids.get_ids().len(), 4);
}

#[test]
fn chat_template_comes_from_the_model() {
	let (tok, content) = load();
	let source = content
		.metadata
		.get("tokenizer.chat_template")
		.and_then(|v| v.to_string().ok())
		.cloned()
		.expect("the reference model has a chat template");
	let template = ChatTemplate::new(Some(source), "<|im_start|>".into(), "<|im_end|>".into())
		.expect("template compiles");
	assert!(template.from_model);
	let user = ChatMessage { role: "user".into(), content: common::FRANCE.into() };
	// SmolLM2's template adds its default system prompt when there is none.
	assert_eq!(
		template.render(std::slice::from_ref(&user)).expect("render"),
		"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
		 Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n\
		 <|im_start|>assistant\n"
	);
	let system = ChatMessage { role: "system".into(), content: "Be brief.".into() };
	let rendered = template.render(&[system, user]).expect("render");
	assert!(rendered.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n"), "{rendered}");
	// The rendered prompt tokenizes with the special tokens recognised.
	let ids = tok.tokenizer.encode(rendered.as_str(), false).expect("encode");
	assert_eq!(ids.get_ids().first(), Some(&1));
}
