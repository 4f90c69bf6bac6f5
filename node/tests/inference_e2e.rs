//! End-to-end: a prompt goes in, a verified answer comes out. The real `atoma-worker` serves the
//! real model; the real `atoma-node --dev` (Alice's execution node from the dev genesis, her
//! worker key inserted by `--dev`) pairs with it through `--inference-worker-url`. A request
//! submitted over JSON-RPC is selected, run by the worker through the off-chain worker, committed
//! with an authorized transaction and settled; the settled commitment equals what the worker
//! computes for the same job.

mod common;

use std::{
	io::{BufRead, BufReader, Read, Write},
	net::TcpStream,
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use atoma_primitives::SamplingParams;
use atoma_runtime::{AccountId, Runtime, RuntimeCall};
use atoma_support::{
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::{Decode, Encode};
use common::{hex_encode, NodeProcess};
use serde_json::{json, Value};
use sp_core::{sr25519, Pair};

const STARTUP: Duration = Duration::from_secs(180);
const SETTLEMENT: Duration = Duration::from_secs(240);

/// The real inference worker with the real model, on a free port.
struct Worker {
	child: Child,
	port: u16,
}

impl Worker {
	fn start() -> Self {
		let exe = common::node_binary().with_file_name("atoma-worker");
		assert!(exe.exists(), "{} is missing: build the workspace first", exe.display());
		let model = std::env::var_os("ATOMA_MODEL_GGUF").map(PathBuf::from).unwrap_or_else(|| {
			PathBuf::from(env!("CARGO_MANIFEST_DIR"))
				.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
		});
		assert!(model.exists(), "{} is missing: run scripts/fetch-model.sh", model.display());
		let mut child = Command::new(exe)
			.arg("--model")
			.arg(format!("smollm2-135m-instruct={}", model.display()))
			.args(["--listen", "127.0.0.1:0"])
			.stdout(Stdio::piped())
			.stderr(Stdio::null())
			.spawn()
			.expect("the worker starts");
		let stdout = child.stdout.take().expect("piped");
		let mut lines = BufReader::new(stdout).lines();
		let port = loop {
			let line = lines.next().expect("the worker prints its address").expect("utf-8");
			if let Some(addr) = line.strip_prefix("atoma-worker listening on http://") {
				break addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
			}
		};
		Worker { child, port }
	}

	fn url(&self) -> String {
		format!("http://127.0.0.1:{}", self.port)
	}

	/// A plain HTTP request to the worker; the JSON body of its answer.
	fn http(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
		let body = body.map(|b| b.to_string()).unwrap_or_default();
		let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("worker reachable");
		let request = format!(
			"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
			body.len()
		);
		stream.write_all(request.as_bytes()).expect("write");
		let mut response = String::new();
		stream.read_to_string(&mut response).expect("read");
		let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP body");
		serde_json::from_str(body).unwrap_or(Value::Null)
	}
}

impl Drop for Worker {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// `Inference::Results` storage key of `request`: twox128 ++ twox128 ++ twox64_concat.
fn result_key(request: RequestId) -> String {
	let mut key = sp_crypto_hashing::twox_128(b"Inference").to_vec();
	key.extend(sp_crypto_hashing::twox_128(b"Results"));
	let encoded = request.encode();
	key.extend(sp_crypto_hashing::twox_64(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

fn spec(prompt: &str) -> RequestSpec {
	RequestSpec {
		model: ModelId::from_name(b"smollm2-135m-instruct").expect("valid id"),
		echelon: EchelonId(0),
		input: RequestInput::Inline(prompt.as_bytes().to_vec()),
		input_tokens: 16,
		params: SamplingParams {
			temperature_milli: 0,
			top_k: 0,
			top_p_milli: 1_000,
			max_output_tokens: 12,
			seed: 0,
		},
		mode: VerificationMode::Single,
		timeout: 60,
		destination: OutputDestination::Worker,
	}
}

#[test]
fn a_prompt_settles_with_the_workers_commitment() {
	let worker = Worker::start();
	let mut node = NodeProcess::start(&["--dev", "--tmp", "--inference-worker-url", &worker.url()]);
	node.wait_for_rpc(STARTUP);
	let rpc = node.rpc();
	rpc.wait_for_finalized(1, STARTUP);

	let prompt = r#"[{"role":"user","content":"What is the capital of France?"}]"#;
	let bob = sr25519::Pair::from_string("//Bob", None).expect("dev seed");
	let nonce = common::next_nonce(&rpc, &AccountId::from(bob.public()));
	let call =
		RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: spec(prompt) });
	let xt = common::sign_call(&rpc, &bob, call, nonce);
	rpc.call("author_submitExtrinsic", json!([hex_encode(&xt.encode())]));

	let started = Instant::now();
	let raw = loop {
		if let Some(raw) = rpc.storage(&result_key(RequestId(0)), None) {
			break raw;
		}
		assert!(started.elapsed() < SETTLEMENT, "not settled:\n{}", node.log_tail(40));
		std::thread::sleep(Duration::from_millis(500));
	};
	println!("settled {:?} after submission", started.elapsed());
	let result = pallet_inference::types::RequestResult::<Runtime>::decode(&mut &raw[..])
		.expect("a request result");
	assert_eq!(result.nodes.to_vec(), vec![NodeId(0)], "Alice's node ran it");
	assert!(result.output_tokens > 0 && result.output_tokens <= 12);

	// The same job, asked of the worker directly, commits to the same output.
	let job = worker.http(
		"POST",
		"/v1/jobs",
		Some(&json!({
			"model": "smollm2-135m-instruct",
			"messages": serde_json::from_str::<Value>(prompt).unwrap(),
			"max_tokens": 12,
			"temperature_milli": 0,
			"seed": result.sampler_seed,
			"node_index": 0,
			"quorum_size": 1,
		})),
	);
	let id = job["id"].as_str().map(str::to_owned).unwrap_or_else(|| job["id"].to_string());
	let done = loop {
		let view = worker.http("GET", &format!("/v1/jobs/{id}"), None);
		if view["status"] == "completed" {
			break view;
		}
		assert!(view["status"] != "failed", "the job failed: {view}");
		std::thread::sleep(Duration::from_millis(200));
	};
	assert_eq!(done["commitments"]["root"], hex::encode(result.output_commitment));
	println!("answer: {}", done["output"]["text"]);

	let status = node.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
}
