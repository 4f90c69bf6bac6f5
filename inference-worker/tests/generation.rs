//! Generation with the real model through the real binary: the answers of `models.md`, and
//! commitments that equal what `atoma-primitives` computes from the returned data.

mod common;

use atoma_primitives::{
	commitment::node_commitment,
	output::decode_canonical,
	trace::{step_digest, trace_root},
	weights::weights_digest,
	CanonicalOutput, FinishReason,
};
use common::{u32s, unhex, Worker, FRANCE, FRANCE_IDS};
use serde_json::json;
use std::sync::OnceLock;

fn worker() -> &'static Worker {
	static WORKER: OnceLock<Worker> = OnceLock::new();
	WORKER.get_or_init(|| Worker::start(&[], &[]))
}

#[test]
fn chat_answers_paris_greedy() {
	let body = json!({
		"messages": [{"role": "user", "content": FRANCE}],
		"max_tokens": 16,
	});
	let r = worker().post_json("/v1/chat/completions", &body);
	assert_eq!(r.status, 200, "{}", r.text());
	let v = r.json();
	let text = v["choices"][0]["message"]["content"].as_str().expect("content");
	assert!(text.contains("Paris"), "answer: {text:?}");
	assert_eq!(text, "The capital of France is Paris.");
	assert_eq!(v["choices"][0]["finish_reason"], "stop");
	assert_eq!(u32s(&v["atoma"]["token_ids"]), FRANCE_IDS);
}

#[test]
fn raw_chatml_prompt_gives_the_reference_ids() {
	// The exact prompt of models.md (no system prompt), as a plain completion.
	let prompt =
		"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
	let r = worker().post_json("/v1/completions", &json!({"prompt": prompt, "max_tokens": 16}));
	assert_eq!(r.status, 200, "{}", r.text());
	let v = r.json();
	assert_eq!(v["usage"]["prompt_tokens"], 16);
	assert_eq!(u32s(&v["atoma"]["token_ids"]), FRANCE_IDS);
	assert_eq!(v["choices"][0]["text"], "The capital of France is Paris.");
}

#[test]
fn plain_prompt_continues_like_the_reference() {
	let r = worker()
		.post_json("/v1/completions", &json!({"prompt": "Once upon a time", "max_tokens": 12}));
	let v = r.json();
	let text = v["choices"][0]["text"].as_str().expect("text");
	assert!(text.starts_with(", the city of Nova Haven was a thriving metropolis"), "{text:?}");
	assert_eq!(v["choices"][0]["finish_reason"], "length");
	assert_eq!(v["usage"]["completion_tokens"], 12);
}

/// Everything `/v1/outputs/{id}` returns is what the primitives compute from the token ids and
/// the trace steps, for a greedy and a sampled job and a non-trivial quorum position.
#[test]
fn commitments_equal_primitives() {
	let w = worker();
	let jobs = [
		json!({"prompt": "The three primary colors are", "max_tokens": 10, "node_index": 2, "quorum_size": 5}),
		json!({"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 10,
			"temperature_milli": 800, "top_k": 40, "top_p_milli": 950, "seed": 7}),
	];
	for body in jobs {
		let job = w.run_job(&body);
		assert_eq!(job["status"], "completed", "{job}");
		let id = job["id"].as_str().unwrap();
		let out = w.get(&format!("/v1/outputs/{id}")).json();

		let ids = u32s(&out["token_ids"]);
		assert_eq!(ids, u32s(&job["output"]["token_ids"]));
		let reason = match out["finish_reason"].as_str() {
			Some("stop") => FinishReason::Stop,
			Some("length") => FinishReason::Length,
			other => panic!("{other:?}"),
		};
		// Canonical output.
		let canonical = CanonicalOutput::new(&ids, reason).encode_canonical();
		assert_eq!(unhex(out["canonical_output"].as_str().unwrap()), canonical);
		assert_eq!(decode_canonical(&canonical).unwrap(), (ids.clone(), reason));
		assert_eq!(
			unhex(out["output_hash"].as_str().unwrap()),
			CanonicalOutput::new(&ids, reason).output_hash()
		);
		// Node commitment for the requested position.
		let (i, n) =
			(body["node_index"].as_u64().unwrap_or(0), body["quorum_size"].as_u64().unwrap_or(1));
		let expected = node_commitment(&canonical, i as u32, n as u32).unwrap();
		assert_eq!(unhex(out["commitment"]["root"].as_str().unwrap()), expected.root);
		assert_eq!(unhex(out["commitment"]["leaf"].as_str().unwrap()), expected.leaf);
		assert_eq!(job["commitments"]["root"], out["commitment"]["root"]);
		assert_eq!(job["commitments"]["leaf"], out["commitment"]["leaf"]);
		// Trace: one step per token, digests recomputed from the revealed pairs, root over them.
		let steps = out["trace"]["steps"].as_array().unwrap();
		assert_eq!(steps.len(), ids.len());
		let mut digests = Vec::new();
		for (k, s) in steps.iter().enumerate() {
			assert_eq!(s["step"].as_u64(), Some(k as u64));
			assert_eq!(s["token_id"].as_u64(), Some(u64::from(ids[k])));
			let top: Vec<(u32, i32)> = s["top_logits"]
				.as_array()
				.unwrap()
				.iter()
				.map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_i64().unwrap() as i32))
				.collect();
			assert_eq!(top.len(), 4);
			// Committed order: quantized logit descending, then token id ascending.
			assert!(top
				.windows(2)
				.all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)));
			let d = step_digest(k as u32, ids[k], &top);
			assert_eq!(unhex(s["digest"].as_str().unwrap()), d);
			digests.push(d);
		}
		let root = trace_root(&digests);
		assert_eq!(unhex(out["trace"]["root"].as_str().unwrap()), root);
		assert_eq!(unhex(job["commitments"]["trace_root"].as_str().unwrap()), root);
		// Greedy: the chosen token is the top logit at every step.
		if body.get("temperature_milli").is_none() {
			for s in steps {
				assert_eq!(s["top_logits"][0][0], s["token_id"]);
			}
		}
	}
}

#[test]
fn weights_root_matches_primitives() {
	let path = common::model_path();
	let bytes = std::fs::read(&path).expect("read model");
	let expected = weights_digest(&bytes);
	// The subcommand.
	let out = std::process::Command::new(env!("CARGO_BIN_EXE_atoma-worker"))
		.args(["weights-root", "--json"])
		.arg(&path)
		.output()
		.expect("run weights-root");
	assert!(out.status.success());
	let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
	assert_eq!(unhex(v["root"].as_str().unwrap()), expected.root);
	assert_eq!(v["total_len"].as_u64(), Some(expected.total_len));
	assert_eq!(v["chunk_count"].as_u64(), Some(expected.chunk_count));
	assert_eq!(expected.total_len, 98_362_432);
	// And what the server reports.
	let models = worker().get("/v1/models").json();
	assert_eq!(models["data"][0]["weights"]["root"], v["root"]);
	// The text form.
	let text = std::process::Command::new(env!("CARGO_BIN_EXE_atoma-worker"))
		.arg("weights-root")
		.arg(&path)
		.output()
		.expect("run weights-root");
	let text = String::from_utf8(text.stdout).unwrap();
	assert!(text.contains(&format!("root        {}", hex::encode(expected.root))), "{text}");
	assert!(text.contains("chunk_count 94"), "{text}");
}
