//! Determinism across separate processes with different thread counts: the same request gives
//! byte-identical token ids, text and commitments (including the trace of quantized top logits,
//! the most sensitive value) in three worker processes started with `RAYON_NUM_THREADS` 1, 2 and 4.

mod common;

use common::{u32s, Worker};
use serde_json::{json, Value};

/// Requests covering greedy and every sampling mode (all, top-k, top-p, top-k then top-p).
fn requests() -> Vec<Value> {
	vec![
		json!({"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 12}),
		json!({"prompt": "Once upon a time", "max_tokens": 12}),
		json!({"messages": [{"role": "user", "content": "Write a story about a cat."}], "max_tokens": 12,
			"temperature_milli": 900, "top_k": 50, "top_p_milli": 950, "seed": 42}),
		json!({"prompt": "My favourite food is", "max_tokens": 12, "temperature_milli": 1200, "seed": 3}),
		json!({"prompt": "The best way to learn is", "max_tokens": 12, "temperature_milli": 700, "top_k": 8, "seed": 11}),
		json!({"prompt": "In the year 3000,", "max_tokens": 12, "temperature_milli": 1000, "top_p_milli": 800, "seed": 5,
			"node_index": 1, "quorum_size": 3}),
	]
}

/// The parts of a finished job that must be identical everywhere (timings and ids excluded).
fn fingerprint(w: &Worker, body: &Value) -> Value {
	let job = w.run_job(body);
	assert_eq!(job["status"], "completed", "{job}");
	let out = w.get(&format!("/v1/outputs/{}", job["id"].as_str().unwrap())).json();
	json!({
		"output": job["output"],
		"usage": job["usage"],
		"commitments": job["commitments"],
		"canonical_output": out["canonical_output"],
		"trace": out["trace"],
	})
}

#[test]
fn identical_across_processes_and_thread_counts() {
	let workers: Vec<(usize, Worker)> = [1usize, 2, 4]
		.into_iter()
		.map(|t| (t, Worker::start(&[], &[("RAYON_NUM_THREADS", &t.to_string())])))
		.collect();
	for body in requests() {
		let results: Vec<(usize, Value)> =
			workers.iter().map(|(t, w)| (*t, fingerprint(w, &body))).collect();
		let (t0, first) = &results[0];
		assert!(!u32s(&first["output"]["token_ids"]).is_empty());
		for (t, other) in &results[1..] {
			assert_eq!(
				first, other,
				"request {body}: RAYON_NUM_THREADS={t0} and RAYON_NUM_THREADS={t} differ"
			);
		}
	}
}

#[test]
fn repeated_runs_and_seed_semantics() {
	let w = Worker::start(&[], &[]);
	let sampled = json!({"prompt": "My favourite food is", "max_tokens": 12, "temperature_milli": 1200, "seed": 3});
	let a = fingerprint(&w, &sampled);
	let b = fingerprint(&w, &sampled);
	assert_eq!(a, b, "same request twice in one process");

	// The seed matters for sampled requests...
	let mut other_seed = sampled.clone();
	other_seed["seed"] = json!(4);
	let c = fingerprint(&w, &other_seed);
	assert_ne!(
		a["output"]["token_ids"], c["output"]["token_ids"],
		"seeds 3 and 4 gave the same tokens"
	);

	// ...and is ignored for greedy ones.
	let greedy = json!({"prompt": "Once upon a time", "max_tokens": 8});
	let mut greedy_seeded = greedy.clone();
	greedy_seeded["seed"] = json!(99);
	assert_eq!(fingerprint(&w, &greedy)["output"], fingerprint(&w, &greedy_seeded)["output"]);

	// A shorter max_tokens gives a prefix of the longer output (one random draw per step).
	let mut short = sampled.clone();
	short["max_tokens"] = json!(5);
	let short = fingerprint(&w, &short);
	assert_eq!(u32s(&short["output"]["token_ids"])[..], u32s(&a["output"]["token_ids"])[..5]);
	// So are its step digests: a dispute's one-step check at step k decodes k + 1 tokens and
	// gets exactly the steps the parties ran (docs/protocol.md, bisection).
	let steps = |f: &Value| f["trace"]["steps"].as_array().unwrap().clone();
	assert_eq!(steps(&short)[..], steps(&a)[..5]);

	// The OpenAI float parameters map to the same sampler as the protocol's milli units.
	let openai = w
		.post_json(
			"/v1/completions",
			&json!({"prompt": "My favourite food is", "max_tokens": 12, "temperature": 1.2, "seed": 3}),
		)
		.json();
	assert_eq!(openai["atoma"]["token_ids"], a["output"]["token_ids"]);
	assert_eq!(openai["atoma"]["trace_root"], a["commitments"]["trace_root"]);
}
