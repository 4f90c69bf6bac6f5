//! Determinism across separate processes with different thread counts and kernel tiers, and
//! inside batches: the same request gives byte-identical token ids, text and commitments
//! (including the trace of quantized top logits, the most sensitive value) in worker processes
//! started with `RAYON_NUM_THREADS` 1, 2 and 4, with every kernel tier this CPU has, and whether it
//! runs alone or among up to 15 other requests of other lengths and sampling modes.

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
	fingerprint_of(w, w.run_job(body))
}

fn fingerprint_of(w: &Worker, job: Value) -> Value {
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

/// Requests that share the batch with the checked ones: other lengths, greedy and sampled.
fn fillers(count: usize) -> Vec<Value> {
	(0..count)
		.map(|i| {
			let mut body = json!({
				"prompt": format!("Item {i}: {}", "a list of things ".repeat(i % 7)),
				"max_tokens": 3 + (i * 5) % 19,
			});
			if i % 2 == 1 {
				body["temperature_milli"] = json!(800);
				body["seed"] = json!(i);
			}
			body
		})
		.collect()
}

#[test]
fn identical_alone_and_inside_batches() {
	let w = Worker::start(&[], &[]);
	let checked = requests();
	let alone: Vec<Value> = checked.iter().map(|body| fingerprint(&w, body)).collect();
	// Submitted at once, the jobs share forward passes (the engine takes up to 16 per step);
	// submitted a little apart, later ones join while earlier ones decode.
	for (name, others, gap_ms) in
		[("together", 0, 0), ("with 10 others", 10, 0), ("staggered", 9, 40)]
	{
		let mut bodies = fillers(others);
		bodies.splice(others / 2..others / 2, checked.iter().cloned());
		let ids: Vec<String> = bodies
			.iter()
			.map(|body| {
				std::thread::sleep(std::time::Duration::from_millis(gap_ms));
				let r = w.post_json("/v1/jobs", body);
				assert_eq!(r.status, 202, "{}", r.text());
				r.json()["id"].as_str().expect("job id").to_owned()
			})
			.collect();
		let jobs: Vec<Value> = ids.iter().map(|id| w.wait_job(id)).collect();
		// They did share the engine: run one at a time, the last would have waited for the
		// others' whole runs.
		let ms = |job: &Value, key: &str| job["timings"][key].as_f64().expect("timings");
		let longest_wait = jobs.iter().map(|j| ms(j, "queue_ms")).fold(0.0, f64::max);
		let total: f64 = jobs.iter().map(|j| ms(j, "total_ms")).sum();
		assert!(longest_wait < total / 2.0, "{name}: waited {longest_wait} ms of {total} ms");
		let results: Vec<Value> = jobs.into_iter().map(|job| fingerprint_of(&w, job)).collect();
		for (i, want) in alone.iter().enumerate() {
			assert_eq!(&results[others / 2 + i], want, "{name}: request {} differs", checked[i]);
		}
	}
}

#[test]
fn identical_on_every_kernel_tier() {
	let tiers = atoma_inference_worker::engine::native::Tier::supported();
	let workers: Vec<(&str, Worker)> = tiers
		.iter()
		.map(|t| (t.as_str(), Worker::start(&["--kernel-tier", t.as_str()], &[])))
		.collect();
	eprintln!("kernel tiers on this CPU: {:?}", workers.iter().map(|w| w.0).collect::<Vec<_>>());
	for body in requests() {
		let (first_tier, first) = (workers[0].0, fingerprint(&workers[0].1, &body));
		for (tier, w) in &workers[1..] {
			assert_eq!(
				first,
				fingerprint(w, &body),
				"request {body}: {first_tier} and {tier} differ"
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
