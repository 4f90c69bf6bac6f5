//! Shared helpers for the integration tests: finding the real model, spawning the real
//! `atoma-worker` binary on a free port, and a minimal HTTP/1.1 client over `std::net::TcpStream`
//! (no client crate: the tests need only a handful of requests, and a raw client also lets them
//! send malformed bodies and wrong headers).

#![allow(dead_code)]

use std::{
	io::{BufRead, BufReader, Read, Write},
	net::{SocketAddr, TcpStream},
	path::PathBuf,
	process::{Child, ChildStdin, Command, Stdio},
	time::{Duration, Instant},
};

use serde_json::Value;

/// The reference model: `$ATOMA_MODEL_GGUF`, or `<repo>/models/SmolLM2-135M-Instruct.Q4_1.gguf`.
/// Missing model = test failure (not a skip), with the command that fixes it.
pub fn model_path() -> PathBuf {
	let path = match std::env::var_os("ATOMA_MODEL_GGUF") {
		Some(p) => PathBuf::from(p),
		None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
			.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf"),
	};
	assert!(
		path.is_file(),
		"reference model not found at {}: run scripts/fetch-model.sh (or set ATOMA_MODEL_GGUF)",
		path.display()
	);
	path
}

/// A running worker process. Killed when dropped; it also exits by itself when the test process
/// dies, because it runs with `--exit-on-stdin-close` and we hold its stdin.
pub struct Worker {
	pub child: Child,
	pub addr: SocketAddr,
	/// The public address, when started with `--public-listen`.
	pub public_addr: Option<SocketAddr>,
	/// Where it keeps the outputs of chain jobs (`--output-dir`).
	pub output_dir: PathBuf,
	stdin: Option<ChildStdin>,
}

/// A fresh directory for one worker's outputs.
pub fn fresh_output_dir() -> PathBuf {
	static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
	let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
	let dir = std::env::temp_dir().join(format!("atoma-worker-test-{}-{n}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	dir
}

impl Worker {
	/// Start the worker with the reference model and `args`, with `env` set, keeping its outputs
	/// in a fresh directory.
	pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
		Self::start_in(&fresh_output_dir(), args, env)
	}

	/// Start the worker keeping its outputs in `output_dir` (a restarted worker finds them).
	pub fn start_in(output_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
		let model = model_path();
		let mut cmd = Command::new(env!("CARGO_BIN_EXE_atoma-worker"));
		cmd.arg("--model").arg(&model).args(["--listen", "127.0.0.1:0", "--exit-on-stdin-close"]);
		cmd.arg("--output-dir").arg(output_dir);
		cmd.args(args);
		cmd.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
		for (k, v) in env {
			cmd.env(k, v);
		}
		cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
		let mut child = cmd.spawn().expect("spawn atoma-worker");
		let stdout = child.stdout.take().expect("stdout");
		let stdin = child.stdin.take();
		// `public on` (with `--public-listen`) comes first; `listening on` says it is ready.
		let mut stdout = BufReader::new(stdout);
		let mut public_addr = None;
		let addr = loop {
			let mut line = String::new();
			stdout.read_line(&mut line).expect("read the worker's address lines");
			let line = line.trim();
			if let Some(public) = line.strip_prefix("atoma-worker public on http://") {
				public_addr = Some(public.parse().expect("socket address"));
			} else if let Some(addr) = line.strip_prefix("atoma-worker listening on http://") {
				break addr.parse().expect("socket address");
			} else {
				panic!("unexpected line {line:?} (did the worker fail to start?)")
			}
		};
		Self { child, addr, public_addr, output_dir: output_dir.to_owned(), stdin }
	}

	pub fn get(&self, path: &str) -> Response {
		request(self.addr, "GET", path, &[], None)
	}

	pub fn post_json(&self, path: &str, body: &Value) -> Response {
		let body = body.to_string();
		request(
			self.addr,
			"POST",
			path,
			&[("Content-Type", "application/json")],
			Some(body.as_bytes()),
		)
	}

	/// Submit a job and poll it until it has finished; returns the final job view.
	pub fn run_job(&self, body: &Value) -> Value {
		let r = self.post_json("/v1/jobs", body);
		assert_eq!(r.status, 202, "{}", r.text());
		let id = r.json()["id"].as_str().expect("job id").to_owned();
		self.wait_job(&id)
	}

	pub fn wait_job(&self, id: &str) -> Value {
		let deadline = Instant::now() + Duration::from_secs(300);
		loop {
			let job = self.get(&format!("/v1/jobs/{id}")).json();
			match job["status"].as_str() {
				Some("completed" | "failed") => return job,
				Some("queued" | "running") => {},
				other => panic!("unexpected status {other:?}: {job}"),
			}
			assert!(Instant::now() < deadline, "job {id} did not finish in time");
			std::thread::sleep(Duration::from_millis(50));
		}
	}

	/// Close stdin (graceful shutdown) and wait for the exit status.
	pub fn close_stdin_and_wait(mut self, timeout: Duration) -> std::process::ExitStatus {
		drop(self.stdin.take());
		wait_with_timeout(&mut self.child, timeout)
	}
}

impl Drop for Worker {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
	let deadline = Instant::now() + timeout;
	loop {
		if let Some(status) = child.try_wait().expect("try_wait") {
			return status;
		}
		assert!(Instant::now() < deadline, "worker did not exit within {timeout:?}");
		std::thread::sleep(Duration::from_millis(50));
	}
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
	pub status: u16,
	pub headers: Vec<(String, String)>,
	pub body: Vec<u8>,
}

impl Response {
	pub fn header(&self, name: &str) -> Option<&str> {
		self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
	}

	pub fn text(&self) -> String {
		String::from_utf8_lossy(&self.body).into_owned()
	}

	pub fn json(&self) -> Value {
		serde_json::from_slice(&self.body).unwrap_or_else(|e| {
			panic!("not JSON ({e}): status {} body {}", self.status, self.text())
		})
	}

	/// The `data:` payloads of a `text/event-stream` body, in order.
	pub fn sse_data(&self) -> Vec<String> {
		self.text()
			.lines()
			.filter_map(|l| l.strip_prefix("data:"))
			.map(|d| d.trim_start().to_owned())
			.collect()
	}
}

/// One HTTP/1.1 request with `Connection: close`; the body is read to EOF and de-chunked.
pub fn request(
	addr: SocketAddr,
	method: &str,
	path: &str,
	headers: &[(&str, &str)],
	body: Option<&[u8]>,
) -> Response {
	let mut stream = TcpStream::connect(addr).expect("connect");
	stream.set_read_timeout(Some(Duration::from_secs(300))).expect("timeout");
	let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
	for (k, v) in headers {
		head.push_str(&format!("{k}: {v}\r\n"));
	}
	if let Some(body) = body {
		head.push_str(&format!("Content-Length: {}\r\n", body.len()));
	}
	head.push_str("\r\n");
	// A server may answer (e.g. 413) and close before reading a large body; the response is still
	// readable, so write errors are not fatal.
	let _ = stream.write_all(head.as_bytes());
	if let Some(body) = body {
		let _ = stream.write_all(body);
	}
	let mut raw = Vec::new();
	let _ = stream.read_to_end(&mut raw);
	parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
	let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
	let head = String::from_utf8_lossy(&raw[..split]).into_owned();
	let mut lines = head.split("\r\n");
	let status_line = lines.next().expect("status line");
	let status =
		status_line.split_whitespace().nth(1).expect("status").parse().expect("status code");
	let headers: Vec<(String, String)> = lines
		.filter_map(|l| l.split_once(':'))
		.map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
		.collect();
	let mut body = raw[split + 4..].to_vec();
	let chunked = headers
		.iter()
		.any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
	if chunked {
		body = dechunk(&body);
	}
	Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
	let mut out = Vec::new();
	while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
		let size_text = String::from_utf8_lossy(&data[..eol]);
		let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
			.expect("chunk size");
		if size == 0 {
			break;
		}
		let start = eol + 2;
		out.extend_from_slice(&data[start..start + size]);
		data = &data[start + size + 2..];
	}
	out
}

/// The chat prompt of `models.md`.
pub const FRANCE: &str = "What is the capital of France?";
/// Its greedy answer's token ids (models.md; "The capital of France is Paris.<|im_end|>").
pub const FRANCE_IDS: [u32; 8] = [504, 3575, 282, 4649, 314, 7042, 30, 2];

/// Decode a lowercase hex string.
pub fn unhex(s: &str) -> Vec<u8> {
	hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// A JSON array of u32.
pub fn u32s(v: &Value) -> Vec<u32> {
	v.as_array()
		.unwrap_or_else(|| panic!("not an array: {v}"))
		.iter()
		.map(|x| u32::try_from(x.as_u64().expect("integer")).expect("u32"))
		.collect()
}
