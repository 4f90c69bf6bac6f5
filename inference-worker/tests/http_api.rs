//! Every endpoint and every error case, against the real binary on a free port.

mod common;

use std::{sync::OnceLock, time::Duration};

use common::{request, u32s, Worker, FRANCE};
use serde_json::{json, Value};

/// Body limit of the shared worker, small enough to test 413 cheaply.
const BODY_LIMIT: usize = 64 * 1024;

fn worker() -> &'static Worker {
	static WORKER: OnceLock<Worker> = OnceLock::new();
	WORKER.get_or_init(|| {
		Worker::start(
			&["--max-body-bytes", &BODY_LIMIT.to_string(), "--max-tokens-limit", "512"],
			&[],
		)
	})
}

/// Assert an error response: status, JSON body with `error.type` (and `error.code` if given).
fn assert_error(r: &common::Response, status: u16, kind: &str, code: Option<&str>) -> Value {
	assert_eq!(r.status, status, "body: {}", r.text());
	assert!(
		r.header("content-type").is_some_and(|v| v.starts_with("application/json")),
		"content-type {:?}",
		r.header("content-type")
	);
	let v = r.json();
	assert_eq!(v["error"]["type"], kind, "{v}");
	assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
	if let Some(code) = code {
		assert_eq!(v["error"]["code"], code, "{v}");
	}
	v
}

fn chat(content: &str) -> Value {
	json!({"messages": [{"role": "user", "content": content}], "max_tokens": 8})
}

#[test]
fn health() {
	let r = worker().get("/health");
	assert_eq!(r.status, 200);
	let v = r.json();
	assert_eq!(v["status"], "ok");
	assert_eq!(v["models"][0], "SmolLM2-135M-Instruct.Q4_1");
}

#[test]
fn models() {
	let v = worker().get("/v1/models").json();
	assert_eq!(v["object"], "list");
	let m = &v["data"][0];
	assert_eq!(m["id"], "SmolLM2-135M-Instruct.Q4_1");
	assert_eq!(m["object"], "model");
	assert_eq!(m["context_length"], 4096);
	assert_eq!(m["vocab_size"], 49152);
	assert_eq!(m["stop_token_ids"], json!([0, 2]));
	assert_eq!(m["chat_template"], "model");
	assert_eq!(m["precision"], "native");
	assert_eq!(m["weights"]["total_len"], 98_362_432);
	assert_eq!(m["weights"]["root"].as_str().map(str::len), Some(64));
	// The execution profile the node compares with its echelon's, and its hash as the chain
	// computes it.
	let p = &v["execution_profile"];
	assert_eq!(
		(&p["precision"], &p["device"], &p["kernel_tier"], &p["batch_policy"]),
		(
			&json!("native"),
			&json!("cpu"),
			&json!("native-canonical-v3"),
			&json!("continuous-invariant")
		)
	);
	let part = |k: &str| p[k].as_str().expect("a part").to_owned();
	let (precision, device, kernel_tier, batch_policy, build) = (
		part("precision"),
		part("device"),
		part("kernel_tier"),
		part("batch_policy"),
		part("build"),
	);
	let expected = atoma_primitives::profile::ExecutionProfile {
		precision: &precision,
		device: &device,
		kernel_tier: &kernel_tier,
		batch_policy: &batch_policy,
		build: &build,
	}
	.hash();
	assert_eq!(p["hash"], hex::encode(expected));
}

#[test]
fn job_lifecycle() {
	let w = worker();
	let r = w.post_json("/v1/jobs", &json!({"prompt": "Once upon a time", "max_tokens": 6}));
	assert_eq!(r.status, 202, "{}", r.text());
	let v = r.json();
	let id = v["id"].as_str().expect("id").to_owned();
	assert!(matches!(v["status"].as_str(), Some("queued")));
	assert_eq!(r.header("location"), Some(format!("/v1/jobs/{id}").as_str()));
	assert_eq!(v["prompt_tokens"], 4);

	let job = w.wait_job(&id);
	assert_eq!(job["status"], "completed");
	assert_eq!(job["object"], "job");
	assert_eq!(
		job["usage"],
		json!({"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10})
	);
	assert_eq!(job["output"]["finish_reason"], "length");
	assert_eq!(u32s(&job["output"]["token_ids"]).len(), 6);
	assert!(job["output"]["text"].as_str().unwrap().starts_with(", the city"));
	for k in ["output_hash", "root", "leaf", "trace_root"] {
		assert_eq!(job["commitments"][k].as_str().map(str::len), Some(64), "{k}");
	}
	assert_eq!(job["commitments"]["node_index"], 0);
	assert_eq!(job["commitments"]["quorum_size"], 1);
	assert_eq!(job["params"]["temperature_milli"], 0);
	assert_eq!(job["params"]["seed"], Value::Null);
	assert!(job["timings"]["total_ms"].as_f64().unwrap() > 0.0);

	let out = w.get(&format!("/v1/outputs/{id}")).json();
	assert_eq!(out["job_id"], id.as_str());
	assert_eq!(out["token_ids"], job["output"]["token_ids"]);
	assert_eq!(out["trace"]["steps"].as_array().unwrap().len(), 6);
	assert_eq!(out["trace"]["top_k"], 4);
	assert_eq!(out["weights"]["chunk_count"], 94);
	assert!(out["canonical_output"].as_str().unwrap().starts_with(&hex::encode("atoma/output/v1")));
}

#[test]
fn job_with_messages_and_stop_tokens() {
	let w = worker();
	// "." (id 30) as an extra stop token: generation ends at the first period.
	let job = w.run_job(&json!({
		"messages": [{"role": "user", "content": FRANCE}],
		"max_tokens": 16,
		"stop": ["."],
	}));
	assert_eq!(job["status"], "completed", "{job}");
	assert_eq!(u32s(&job["output"]["token_ids"]), [504, 3575, 282, 4649, 314, 7042, 30]);
	assert_eq!(job["output"]["finish_reason"], "stop");
	// The stop token is committed but not part of the text.
	assert_eq!(job["output"]["text"], "The capital of France is Paris");
	assert_eq!(job["params"]["stop_token_ids"], json!([30]));
	// The same via stop_token_ids.
	let job2 = w.run_job(&json!({
		"messages": [{"role": "user", "content": FRANCE}], "max_tokens": 16, "stop_token_ids": [30],
	}));
	assert_eq!(job2["commitments"], job["commitments"]);
}

#[test]
fn completions_plain_and_stream_agree() {
	let w = worker();
	let body = json!({"model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "Once upon a time", "max_tokens": 10});
	let plain = w.post_json("/v1/completions", &body);
	assert_eq!(plain.status, 200, "{}", plain.text());
	let p = plain.json();
	assert_eq!(p["object"], "text_completion");
	assert!(p["id"].as_str().unwrap().starts_with("cmpl-"));
	assert_eq!(p["choices"][0]["index"], 0);
	assert_eq!(p["usage"]["total_tokens"], 14);

	let mut sbody = body.clone();
	sbody["stream"] = json!(true);
	sbody["stream_options"] = json!({"include_usage": true});
	let streamed = w.post_json("/v1/completions", &sbody);
	assert_eq!(streamed.status, 200);
	assert!(streamed.header("content-type").unwrap().starts_with("text/event-stream"));
	let data = streamed.sse_data();
	assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
	let chunks: Vec<Value> =
		data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).expect("chunk")).collect();
	let text: String =
		chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect::<Vec<_>>().concat();
	assert_eq!(text, p["choices"][0]["text"].as_str().unwrap());
	let finish: Vec<&Value> =
		chunks.iter().map(|c| &c["choices"][0]["finish_reason"]).filter(|f| !f.is_null()).collect();
	assert_eq!(finish, [&json!("length")]);
	let usage = chunks.last().unwrap();
	assert_eq!(usage["choices"], json!([]));
	assert_eq!(usage["usage"], p["usage"]);
	// Same generation, same commitments.
	let with_atoma = chunks.iter().find(|c| c.get("atoma").is_some()).expect("atoma chunk");
	assert_eq!(with_atoma["atoma"]["root"], p["atoma"]["root"]);
	assert_eq!(with_atoma["atoma"]["token_ids"], p["atoma"]["token_ids"]);
}

#[test]
fn chat_plain_and_stream_agree() {
	let w = worker();
	let body = json!({"messages": [{"role": "system", "content": "You are a geography teacher."},
		{"role": "user", "content": [{"type": "text", "text": FRANCE}]}], "max_tokens": 16});
	let plain = w.post_json("/v1/chat/completions", &body);
	assert_eq!(plain.status, 200, "{}", plain.text());
	let p = plain.json();
	assert_eq!(p["object"], "chat.completion");
	assert_eq!(p["choices"][0]["message"]["role"], "assistant");
	let content = p["choices"][0]["message"]["content"].as_str().unwrap();
	assert!(!content.is_empty());

	let mut sbody = body.clone();
	sbody["stream"] = json!(true);
	let streamed = w.post_json("/v1/chat/completions", &sbody);
	assert_eq!(streamed.status, 200);
	let data = streamed.sse_data();
	assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
	let chunks: Vec<Value> =
		data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).expect("chunk")).collect();
	assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
	assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
	let text: String = chunks
		.iter()
		.filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
		.collect::<Vec<_>>()
		.concat();
	assert_eq!(text, content);
	assert_eq!(
		chunks.last().unwrap()["choices"][0]["finish_reason"],
		p["choices"][0]["finish_reason"]
	);
}

#[test]
fn metrics_endpoint() {
	let w = worker();
	let r = w.post_json("/v1/completions", &json!({"prompt": "Hello", "max_tokens": 3}));
	assert_eq!(r.status, 200);
	let m = w.get("/metrics");
	assert_eq!(m.status, 200);
	assert!(m.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
	let text = m.text();
	for needle in [
		"# TYPE atoma_worker_http_requests_total counter",
		"atoma_worker_http_requests_total{route=\"/v1/completions\",method=\"POST\",status=\"200\"}",
		"atoma_worker_generated_tokens_total{model=\"SmolLM2-135M-Instruct.Q4_1\"}",
		"atoma_worker_prompt_tokens_total{model=\"SmolLM2-135M-Instruct.Q4_1\"}",
		"atoma_worker_queue_depth{model=\"SmolLM2-135M-Instruct.Q4_1\"}",
		"atoma_worker_jobs_total{model=\"SmolLM2-135M-Instruct.Q4_1\",outcome=\"completed\"}",
		"# TYPE atoma_worker_job_duration_seconds histogram",
		"atoma_worker_job_duration_seconds_count{model=\"SmolLM2-135M-Instruct.Q4_1\"}",
		"atoma_worker_time_to_first_token_seconds_bucket{model=\"SmolLM2-135M-Instruct.Q4_1\",le=\"+Inf\"}",
	] {
		assert!(text.contains(needle), "missing {needle:?} in\n{text}");
	}
}

#[test]
fn malformed_json_is_400() {
	let w = worker();
	for path in ["/v1/jobs", "/v1/completions", "/v1/chat/completions"] {
		let r = request(
			w.addr,
			"POST",
			path,
			&[("Content-Type", "application/json")],
			Some(b"{\"prompt\": "),
		);
		assert_error(&r, 400, "invalid_json", None);
	}
}

#[test]
fn wrong_shapes_are_422() {
	let w = worker();
	// Wrong type, unknown field on the protocol endpoint, negative seed.
	for (path, body) in [
		("/v1/jobs", json!({"prompt": 5})),
		("/v1/jobs", json!({"prompt": "x", "temperature": 0.5})),
		("/v1/completions", json!({"prompt": "x", "seed": -1})),
		("/v1/chat/completions", json!({"messages": "hi"})),
	] {
		assert_error(&w.post_json(path, &body), 422, "invalid_body", None);
	}
}

#[test]
fn missing_content_type_is_415() {
	let r = request(worker().addr, "POST", "/v1/jobs", &[], Some(b"{\"prompt\": \"x\"}"));
	assert_error(&r, 415, "unsupported_media_type", None);
}

#[test]
fn body_too_large_is_413() {
	let big = json!({"prompt": "a ".repeat(BODY_LIMIT)});
	for path in ["/v1/jobs", "/v1/completions"] {
		let v = assert_error(&worker().post_json(path, &big), 413, "payload_too_large", None);
		assert!(v["error"]["message"].as_str().unwrap().contains(&BODY_LIMIT.to_string()));
	}
}

#[test]
fn unknown_model_is_404() {
	let w = worker();
	for (path, mut body) in [
		("/v1/jobs", json!({"prompt": "x"})),
		("/v1/completions", json!({"prompt": "x"})),
		("/v1/chat/completions", chat("x")),
	] {
		body["model"] = json!("gpt-4");
		assert_error(&w.post_json(path, &body), 404, "model_not_found", None);
	}
}

#[test]
fn unknown_job_route_and_method() {
	let w = worker();
	assert_error(&w.get("/v1/jobs/job-nope"), 404, "job_not_found", None);
	assert_error(&w.get("/v1/outputs/job-nope"), 404, "job_not_found", None);
	assert_error(&w.get("/v2/anything"), 404, "not_found", None);
	let r = request(w.addr, "DELETE", "/v1/jobs", &[], None);
	assert_error(&r, 405, "method_not_allowed", None);
}

#[test]
fn cancelled_stream_fails_its_job_and_has_no_output() {
	// A streamed request whose client disconnects is cancelled at the next token: the job fails,
	// its output is a 409, and the worker carries on.
	use std::io::{Read, Write};
	let w = worker();
	let body = json!({"prompt": "Once upon a time", "max_tokens": 400, "stream": true}).to_string();
	let mut s = std::net::TcpStream::connect(w.addr).unwrap();
	write!(
		s,
		"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
		 Content-Length: {}\r\n\r\n{body}",
		body.len()
	)
	.unwrap();
	// Read until the first chunk names the job.
	let mut seen = Vec::new();
	let job_id = loop {
		let mut buf = [0u8; 512];
		let n = s.read(&mut buf).unwrap();
		assert!(n > 0, "stream ended early: {}", String::from_utf8_lossy(&seen));
		seen.extend_from_slice(&buf[..n]);
		let text = String::from_utf8_lossy(&seen);
		if let Some(start) = text.find("\"id\":\"cmpl-") {
			let rest = &text[start + "\"id\":\"cmpl-".len()..];
			if let Some(end) = rest.find('"') {
				break rest[..end].to_owned();
			}
		}
	};
	drop(s);
	let job = w.wait_job(&job_id);
	assert_eq!(job["status"], "failed", "{job}");
	assert!(job["error"]["message"].as_str().unwrap().contains("disconnected"), "{job}");
	let r = w.get(&format!("/v1/outputs/{job_id}"));
	assert_error(&r, 409, "job_not_finished", None);
	assert_eq!(w.get("/health").status, 200);
}

#[test]
fn bad_parameters_are_422() {
	let w = worker();
	let long_ids: Vec<u32> = vec![260; 4096];
	let near_full: Vec<u32> = vec![260; 4090];
	let cases: Vec<(&str, Value, &str)> = vec![
		("/v1/jobs", json!({}), "missing_prompt"),
		(
			"/v1/jobs",
			json!({"prompt": "x", "messages": [{"role": "user", "content": "x"}]}),
			"prompt_and_messages",
		),
		("/v1/jobs", json!({"prompt": ""}), "empty_prompt"),
		("/v1/jobs", json!({"messages": []}), "empty_messages"),
		("/v1/jobs", json!({"messages": [{"role": "tool", "content": "x"}]}), "unsupported_role"),
		("/v1/jobs", json!({"prompt": "x", "max_tokens": 0}), "zero_max_tokens"),
		("/v1/jobs", json!({"prompt": "x", "max_tokens": 513}), "max_tokens_over_limit"),
		(
			"/v1/jobs",
			json!({"prompt": "x", "temperature_milli": 2001, "seed": 1}),
			"temperature_out_of_range",
		),
		(
			"/v1/jobs",
			json!({"prompt": "x", "temperature_milli": 500, "top_p_milli": 0, "seed": 1}),
			"top_p_out_of_range",
		),
		("/v1/jobs", json!({"prompt": "x", "temperature_milli": 500}), "seed_required"),
		("/v1/jobs", json!({"prompt": "x", "quorum_size": 0}), "empty_quorum"),
		(
			"/v1/jobs",
			json!({"prompt": "x", "node_index": 3, "quorum_size": 3}),
			"node_index_out_of_range",
		),
		(
			"/v1/jobs",
			json!({"prompt": "x", "stop": ["not one token at all"]}),
			"stop_not_single_token",
		),
		(
			"/v1/jobs",
			json!({"prompt": "x", "stop_token_ids": [49152]}),
			"stop_token_out_of_vocabulary",
		),
		(
			"/v1/jobs",
			json!({"prompt": "x", "stop_token_ids": (0..17).collect::<Vec<u32>>()}),
			"too_many_stops",
		),
		// A chain job whose prompt has more tokens than the request declared and paid for.
		(
			"/v1/jobs",
			json!({"prompt": "one two three four five", "max_prompt_tokens": 2}),
			"prompt_tokens_over_declared",
		),
		("/v1/completions", json!({"prompt": long_ids}), "prompt_too_long"),
		(
			"/v1/completions",
			json!({"prompt": near_full, "max_tokens": 16}),
			"context_length_exceeded",
		),
		("/v1/completions", json!({"prompt": [49152]}), "token_out_of_vocabulary"),
		(
			"/v1/completions",
			json!({"prompt": "x", "temperature": 2.5, "seed": 1}),
			"temperature_out_of_range",
		),
		(
			"/v1/completions",
			json!({"prompt": "x", "temperature": -0.1, "seed": 1}),
			"temperature_out_of_range",
		),
		(
			"/v1/completions",
			json!({"prompt": "x", "temperature": 0.7, "top_p": 1.5, "seed": 1}),
			"top_p_out_of_range",
		),
		("/v1/completions", json!({"prompt": "x", "temperature": 0.7}), "seed_required"),
		("/v1/completions", json!({"prompt": "x", "n": 2}), "unsupported_parameter"),
		("/v1/completions", json!({"prompt": "x", "logprobs": 3}), "unsupported_parameter"),
		("/v1/completions", json!({"prompt": "x", "echo": true}), "unsupported_parameter"),
		("/v1/completions", json!({"prompt": ["a", "b"]}), "unsupported_parameter"),
		(
			"/v1/chat/completions",
			json!({"messages": [{"role": "user", "content": "x"}], "presence_penalty": 0.5}),
			"unsupported_parameter",
		),
		(
			"/v1/chat/completions",
			json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
			"unsupported_parameter",
		),
		(
			"/v1/chat/completions",
			json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "temperature": 1.0}),
			"seed_required",
		),
	];
	for (path, body, code) in cases {
		let r = w.post_json(path, &body);
		assert_error(&r, 422, "validation_error", Some(code));
	}
	// Bad streamed requests fail before the stream starts, with a normal JSON error.
	let r = w.post_json("/v1/chat/completions", &json!({"messages": [], "stream": true}));
	assert_error(&r, 422, "validation_error", Some("empty_messages"));
	// And the worker is still fine.
	assert_eq!(w.get("/health").status, 200);
}

#[test]
fn queue_full_is_429_and_recovers() {
	let w = Worker::start(&["--queue-capacity", "1"], &[]);
	let body = json!({"prompt": "Once upon a time", "max_tokens": 48});
	let mut accepted = Vec::new();
	let mut rejected = None;
	// One job runs and one waits; a third must be refused (bounded: at most 8 tries).
	for _ in 0..8 {
		let r = w.post_json("/v1/jobs", &body);
		match r.status {
			202 => accepted.push(r.json()["id"].as_str().unwrap().to_owned()),
			_ => {
				rejected = Some(r);
				break;
			},
		}
	}
	let r = rejected.expect("no 429 after 8 submissions");
	let v = assert_error(&r, 429, "queue_full", None);
	assert!(v["error"]["message"].as_str().unwrap().contains("full"));
	let r = w.post_json("/v1/chat/completions", &chat("x"));
	assert!(matches!(r.status, 200 | 429), "{}", r.status);
	for id in &accepted {
		assert_eq!(w.wait_job(id)["status"], "completed");
	}
	assert_eq!(w.get("/health").status, 200);
	let m = w.get("/metrics").text();
	assert!(m.contains("outcome=\"rejected\""), "{m}");
	assert!(m.contains("atoma_worker_queue_depth{model=\"SmolLM2-135M-Instruct.Q4_1\"} 0"), "{m}");
}

#[test]
fn graceful_shutdown_on_sigterm() {
	let mut w = Worker::start(&["--shutdown-grace-secs", "60"], &[]);
	let addr = w.addr;
	// A streamed request in flight when SIGTERM arrives still completes.
	let stream = std::thread::spawn(move || {
		let body =
			json!({"prompt": "Once upon a time", "max_tokens": 24, "stream": true}).to_string();
		request(
			addr,
			"POST",
			"/v1/completions",
			&[("Content-Type", "application/json")],
			Some(body.as_bytes()),
		)
	});
	std::thread::sleep(Duration::from_millis(800));
	let pid = w.child.id().to_string();
	let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
	assert!(killed.success());
	let status = common::wait_with_timeout(&mut w.child, Duration::from_secs(90));
	assert!(status.success(), "exit status {status:?}");
	let r = stream.join().unwrap();
	assert_eq!(r.status, 200);
	let data = r.sse_data();
	assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
	// New connections are refused once it has exited.
	assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn stdin_close_shuts_down() {
	let w = Worker::start(&[], &[]);
	assert_eq!(w.get("/health").status, 200);
	let status = w.close_stdin_and_wait(Duration::from_secs(60));
	assert!(status.success(), "{status:?}");
}

#[test]
fn second_model_served_by_id() {
	// The same file under a second id: `--model id=PATH` is repeatable.
	let path = common::model_path();
	let second = format!("smol-b={}", path.display());
	let w = Worker::start(&["--model", &second], &[]);
	let ids: Vec<String> = w.get("/v1/models").json()["data"]
		.as_array()
		.unwrap()
		.iter()
		.map(|m| m["id"].as_str().unwrap().to_owned())
		.collect();
	assert_eq!(ids, ["SmolLM2-135M-Instruct.Q4_1", "smol-b"]);
	// With two models, `model` is required.
	let r = w.post_json("/v1/jobs", &json!({"prompt": "x"}));
	assert_error(&r, 422, "validation_error", Some("missing_model"));
	let job = w.run_job(&json!({"model": "smol-b", "prompt": "Once upon a time", "max_tokens": 4}));
	assert_eq!(job["model"], "smol-b");
	assert_eq!(job["status"], "completed");
}

#[test]
fn inputs_uploaded_by_hash_feed_jobs() {
	let w = worker();
	let prompt = br#"[{"role":"user","content":"What is the capital of France?"}]"#;
	let hash = hex::encode(atoma_primitives::hash::hash(prompt));

	// A job naming an input that was not uploaded: 409, nothing queued.
	let r = w.post_json("/v1/jobs", &json!({"input_hash": hash, "max_tokens": 4}));
	assert_error(&r, 409, "input_not_uploaded", None);

	// Bytes that do not hash to the name: 422, not kept.
	let put = |path: &str, body: &[u8]| common::request(w.addr, "PUT", path, &[], Some(body));
	let r = put(&format!("/v1/inputs/{hash}"), b"something else");
	assert_error(&r, 422, "input_hash_mismatch", None);
	let r = put("/v1/inputs/not-hex", prompt);
	assert_error(&r, 422, "invalid_body", None);

	let r = put(&format!("/v1/inputs/{hash}"), prompt);
	assert_eq!(r.status, 201, "{}", r.text());
	assert_eq!(r.json()["bytes"], prompt.len());

	// The job by hash equals the job with the same messages inline.
	let by_hash = w.run_job(&json!({"input_hash": hash, "max_tokens": 4}));
	let inline = w.run_job(
		&json!({"messages": serde_json::from_slice::<Value>(prompt).unwrap(), "max_tokens": 4}),
	);
	assert_eq!(by_hash["commitments"]["root"], inline["commitments"]["root"]);
	assert_eq!(by_hash["output"]["text"], inline["output"]["text"]);

	let r = w.post_json("/v1/jobs", &json!({"input_hash": hash, "prompt": "x"}));
	assert_error(&r, 422, "invalid_body", None);

	// Another node reads it back only with a reader's credentials...
	let path = format!("/v1/inputs/{hash}");
	let r = common::request(w.addr, "GET", &path, &[], None);
	assert_error(&r, 401, "missing_credentials", None);
	assert!(r.text().contains("x-atoma-request"), "{}", r.text());
	// ...checked by the paired node: a worker without one serves no input.
	let r = read_with_credentials(w.addr, &path);
	assert_error(&r, 403, "input_sharing_disabled", None);
}

/// `GET path` with a read's credentials (`atoma_primitives::input_read`): well formed, but only a
/// node can tell whether they hold.
fn read_with_credentials(addr: std::net::SocketAddr, path: &str) -> common::Response {
	use atoma_primitives::input_read::*;
	let (reader, signature) = ("00".repeat(32), "00".repeat(64));
	let headers = [
		(HEADER_REQUEST, "1"),
		(HEADER_READER, reader.as_str()),
		(HEADER_TIMESTAMP, "0"),
		(HEADER_SIGNATURE, signature.as_str()),
	];
	common::request(addr, "GET", path, &headers, None)
}

/// A worker whose node cannot be reached never serves an input: 503, no bytes.
#[test]
fn an_input_is_not_served_while_the_node_cannot_authorize_the_read() {
	// A port nobody listens on: bound, then released.
	let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
	let node = format!("http://127.0.0.1:{port}");
	let w = common::Worker::start(&["--node-rpc-url", &node], &[]);
	let prompt = b"a prompt";
	let hash = hex::encode(atoma_primitives::hash::hash(prompt));
	let path = format!("/v1/inputs/{hash}");
	let r = common::request(w.addr, "PUT", &path, &[], Some(prompt));
	assert_eq!(r.status, 201, "{}", r.text());
	let r = read_with_credentials(w.addr, &path);
	assert_error(&r, 503, "node_unavailable", None);
	assert!(!r.text().contains("a prompt"));
}

/// The public address (the URL a node registers) serves what users and other nodes need and
/// nothing more: free inference, jobs, outputs, models and metrics are not there. Job ids are
/// unguessable.
#[test]
fn the_public_address_serves_inputs_and_nothing_else() {
	let w = common::Worker::start(&["--public-listen", "127.0.0.1:0"], &[]);
	let public = w.public_addr.expect("a public address");
	// The operator's address runs jobs; their ids are 128 random bits.
	let job = w.run_job(&json!({"prompt": "Once upon a time", "max_tokens": 2}));
	let id = job["id"].as_str().expect("an id").to_owned();
	let bits = id.strip_prefix("job-").expect("job-…");
	assert!(bits.len() == 32 && bits.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
	let other = w.run_job(&json!({"prompt": "Once upon a time", "max_tokens": 2}));
	assert_ne!(other["id"], job["id"]);

	let json = [("Content-Type", "application/json")];
	let body = br#"{"prompt": "Once upon a time", "max_tokens": 2}"#.as_slice();
	for path in ["/v1/jobs", "/v1/completions", "/v1/chat/completions"] {
		let r = common::request(public, "POST", path, &json, Some(body));
		assert_error(&r, 404, "not_found", None);
	}
	for path in [format!("/v1/jobs/{id}"), format!("/v1/outputs/{id}"), "/v1/models".into()] {
		assert_error(&common::request(public, "GET", &path, &[], None), 404, "not_found", None);
	}
	assert_error(&common::request(public, "GET", "/metrics", &[], None), 404, "not_found", None);
	assert_eq!(common::request(public, "GET", "/health", &[], None).status, 200);

	// Users upload inputs there; other nodes read them with credentials (checked by the node).
	let prompt = b"a prompt given by hash";
	let path = format!("/v1/inputs/{}", hex::encode(atoma_primitives::hash::hash(prompt)));
	let r = common::request(public, "PUT", &path, &[], Some(prompt));
	assert_eq!(r.status, 201, "{}", r.text());
	assert_error(
		&common::request(public, "GET", &path, &[], None),
		401,
		"missing_credentials",
		None,
	);
	assert_error(&read_with_credentials(public, &path), 403, "input_sharing_disabled", None);
}

/// A page on any origin may upload inputs to the public address and read outputs with its owner's
/// signature (a browser's preflight is answered, the responses carry
/// `Access-Control-Allow-Origin`), but never with cookies; the operator's address, which runs free
/// inference, gives browsers nothing.
#[test]
fn browsers_may_call_the_public_address_from_any_origin_but_not_the_operators() {
	let w = common::Worker::start(&["--public-listen", "127.0.0.1:0"], &[]);
	let public = w.public_addr.expect("a public address");
	let origin = ("Origin", "http://dapp.example");
	let preflight = |addr, method, headers| {
		common::request(
			addr,
			"OPTIONS",
			"/v1/requests/7/output",
			&[
				origin,
				("Access-Control-Request-Method", method),
				("Access-Control-Request-Headers", headers),
			],
			None,
		)
	};
	let signed = "x-atoma-account,x-atoma-timestamp,x-atoma-signature,accept";
	let r = preflight(public, "GET", signed);
	assert_eq!(r.status, 200, "{}", r.text());
	assert_eq!(r.header("access-control-allow-origin"), Some("*"));
	let allowed = r.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
	for name in signed.split(',') {
		assert!(allowed.contains(name), "{name} is not allowed: {allowed}");
	}
	assert!(r.header("access-control-allow-methods").unwrap_or_default().contains("PUT"));
	assert_eq!(r.header("access-control-allow-credentials"), None);

	// The answers themselves, errors included, are readable by the page.
	let r = common::request(public, "GET", "/v1/requests/7/output", &[origin], None);
	assert_error(&r, 401, "missing_credentials", None);
	assert_eq!(r.header("access-control-allow-origin"), Some("*"));
	let prompt = b"a prompt from a browser";
	let path = format!("/v1/inputs/{}", hex::encode(atoma_primitives::hash::hash(prompt)));
	let r = common::request(public, "PUT", &path, &[origin], Some(prompt));
	assert_eq!(r.status, 201, "{}", r.text());
	assert_eq!(r.header("access-control-allow-origin"), Some("*"));

	// The operator's address: no CORS headers, so a browser refuses the page its answers.
	let r = preflight(w.addr, "GET", signed);
	assert_eq!(r.header("access-control-allow-origin"), None);
	let r = common::request(w.addr, "GET", "/health", &[origin], None);
	assert_eq!(r.status, 200);
	assert_eq!(r.header("access-control-allow-origin"), None);
}

/// An sr25519 key for a test account (a user's wallet key), from a seed.
fn account(seed: u8) -> schnorrkel::Keypair {
	schnorrkel::MiniSecretKey::from_bytes(&[seed; 32])
		.expect("32 bytes")
		.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519)
}

/// `GET /v1/requests/{request}/output` signed by `signer` now, as polkadot.js would sign it
/// (`atoma_primitives::output_read`); `stream` asks for server-sent events.
fn read_output(
	addr: std::net::SocketAddr,
	chain: &[u8; 32],
	request: u64,
	signer: &schnorrkel::Keypair,
	stream: bool,
) -> common::Response {
	use atoma_primitives::output_read::*;
	let now = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.expect("after 1970")
		.as_secs();
	let message = signing_bytes(chain, request, now);
	let signature = signer.sign_simple(b"substrate", &message).to_bytes();
	let (account, signature, now) =
		(hex::encode(signer.public.to_bytes()), hex::encode(signature), now.to_string());
	let mut headers = vec![
		(HEADER_ACCOUNT, account.as_str()),
		(HEADER_TIMESTAMP, now.as_str()),
		(HEADER_SIGNATURE, signature.as_str()),
	];
	if stream {
		headers.push(("Accept", "text/event-stream"));
	}
	common::request(addr, "GET", &format!("/v1/requests/{request}/output"), &headers, None)
}

/// A chain job's output goes to its owner only: streamed while it is generated (from the first
/// token, whenever the owner comes), whole afterwards, from the public address, and still after a
/// restart; with the values its commitment is computed from, equal to the job's own.
#[test]
fn the_owner_alone_reads_a_chain_jobs_output_streamed_then_whole_and_after_a_restart() {
	let chain = [7u8; 32];
	let (owner, stranger) = (account(1), account(2));
	let w = common::Worker::start(&["--public-listen", "127.0.0.1:0"], &[]);
	let public = w.public_addr.expect("a public address");
	let ticket = json!({
		"request": 42,
		"owner": hex::encode(owner.public.to_bytes()),
		"chain": hex::encode(chain),
	});
	let mut job = chat("What is the capital of France?");
	job["max_tokens"] = json!(24);
	job["quorum_size"] = json!(2);
	job["node_index"] = json!(1);
	job["delivery"] = ticket.clone();
	// A job ahead of it in the queue, so that the owner is reading before its first token.
	let ahead = w.post_json("/v1/jobs", &json!({"prompt": "Once upon a time", "max_tokens": 96}));
	assert_eq!(ahead.status, 202, "{}", ahead.text());
	let r = w.post_json("/v1/jobs", &job);
	assert_eq!(r.status, 202, "{}", r.text());
	let id = r.json()["id"].as_str().expect("an id").to_owned();

	// The owner streams it while it runs: tokens in order, then the whole output.
	let streamed = read_output(public, &chain, 42, &owner, true);
	assert_eq!(streamed.status, 200, "{}", streamed.text());
	assert!(streamed.header("content-type").is_some_and(|v| v.starts_with("text/event-stream")));
	let events: Vec<Value> =
		streamed.sse_data().iter().map(|d| serde_json::from_str(d).expect("JSON")).collect();
	let (output, tokens) = events.split_last().expect("events");
	assert!(!tokens.is_empty(), "tokens were streamed before the output: {events:?}");
	for (i, token) in tokens.iter().enumerate() {
		assert_eq!(token["index"], i, "{token}");
	}
	let job = w.wait_job(&id);
	assert_eq!(job["status"], "completed");
	assert_eq!(output["request"], 42);
	assert_eq!(output["token_ids"], job["output"]["token_ids"]);
	assert_eq!(output["text"], job["output"]["text"]);
	let streamed_ids: Vec<Value> = tokens.iter().map(|t| t["token_id"].clone()).collect();
	assert_eq!(Value::from(streamed_ids), job["output"]["token_ids"]);
	assert_eq!(output["commitment"]["root"], job["commitments"]["root"]);
	assert_eq!(output["commitment"]["leaf"], job["commitments"]["leaf"]);
	assert_eq!(output["commitment"]["node_index"], 1);
	assert_eq!(output["commitment"]["quorum_size"], 2);
	// The client rebuilds the commitment from the bytes alone.
	let o = hex::decode(output["canonical_output"].as_str().expect("hex")).expect("hex");
	let root = atoma_primitives::commitment::quorum_commitments(&o, 2).root;
	assert_eq!(output["commitment"]["root"], hex::encode(root));

	// Whole afterwards, as JSON or as a one-event stream.
	let whole = read_output(public, &chain, 42, &owner, false);
	assert_eq!(whole.status, 200, "{}", whole.text());
	assert_eq!(&whole.json(), output);
	let again = read_output(public, &chain, 42, &owner, true);
	assert_eq!(again.sse_data().len(), 1);

	// Nobody else: no credentials, a stranger, the owner's key for another chain, or a request
	// this worker does not hold.
	let r = common::request(public, "GET", "/v1/requests/42/output", &[], None);
	assert_error(&r, 401, "missing_credentials", None);
	let r = read_output(public, &chain, 42, &stranger, true);
	assert_error(&r, 403, "output_read_refused", None);
	assert!(!r.text().contains("Paris"));
	let r = read_output(public, &[8; 32], 42, &owner, false);
	assert_error(&r, 403, "output_read_refused", None);
	assert_error(&read_output(public, &chain, 43, &owner, false), 404, "request_not_found", None);

	// A malformed ticket is refused before anything runs.
	let mut bad = chat("hi");
	bad["delivery"] = json!({"request": 1, "owner": "00", "chain": hex::encode(chain)});
	assert_error(&w.post_json("/v1/jobs", &bad), 422, "invalid_body", None);

	// A restart loses nothing.
	let dir = w.output_dir.clone();
	drop(w);
	let w = common::Worker::start_in(&dir, &["--public-listen", "127.0.0.1:0"], &[]);
	let public = w.public_addr.expect("a public address");
	let after = read_output(public, &chain, 42, &owner, false);
	assert_eq!(after.status, 200, "{}", after.text());
	assert_eq!(&after.json(), output);
	assert_error(
		&read_output(public, &chain, 42, &stranger, false),
		403,
		"output_read_refused",
		None,
	);
	let _ = std::fs::remove_dir_all(&dir);
}
