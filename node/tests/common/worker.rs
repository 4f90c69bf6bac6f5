//! The real inference worker process, for the end-to-end tests.

use std::{
	io::{BufRead, BufReader, Read, Write},
	net::TcpStream,
	path::PathBuf,
	process::{Child, Command, Stdio},
};

use serde_json::Value;

/// The real inference worker with the real model, on a free port.
pub struct Worker {
	child: Child,
	/// The operator's address: the node posts jobs there.
	port: u16,
	/// The public address (`--public-listen`): registered on chain; users upload inputs there and
	/// other nodes read them.
	public_port: u16,
	/// Where it keeps the outputs of chain jobs (`--output-dir`).
	pub output_dir: PathBuf,
}

impl Worker {
	pub fn start() -> Self {
		Self::start_with(&[])
	}

	/// Start with extra command-line arguments (say, a `--fault` mode), keeping its outputs in a
	/// fresh directory.
	pub fn start_with(extra: &[&str]) -> Self {
		static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
		let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
		let dir =
			std::env::temp_dir().join(format!("atoma-e2e-outputs-{}-{n}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		Self::start_in(&dir, extra)
	}

	/// Start keeping its outputs in `output_dir` (a restarted worker finds them there).
	pub fn start_in(output_dir: &std::path::Path, extra: &[&str]) -> Self {
		let exe = super::node_binary().with_file_name("atoma-worker");
		assert!(exe.exists(), "{} is missing: build the workspace first", exe.display());
		let model = std::env::var_os("ATOMA_MODEL_GGUF").map(PathBuf::from).unwrap_or_else(|| {
			PathBuf::from(env!("CARGO_MANIFEST_DIR"))
				.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
		});
		assert!(model.exists(), "{} is missing: run scripts/fetch-model.sh", model.display());
		let mut child = Command::new(exe)
			.arg("--model")
			.arg(format!("smollm2-135m-instruct={}", model.display()))
			.args(["--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"])
			.arg("--output-dir")
			.arg(output_dir)
			.args(extra)
			.stdout(Stdio::piped())
			.stderr(Stdio::null())
			.spawn()
			.expect("the worker starts");
		let stdout = child.stdout.take().expect("piped");
		let mut lines = BufReader::new(stdout).lines();
		let port_of = |addr: &str| -> u16 {
			addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
		};
		let mut public_port = None;
		let port = loop {
			let line = lines.next().expect("the worker prints its addresses").expect("utf-8");
			if let Some(addr) = line.strip_prefix("atoma-worker public on http://") {
				public_port = Some(port_of(addr));
			}
			if let Some(addr) = line.strip_prefix("atoma-worker listening on http://") {
				break port_of(addr);
			}
		};
		Worker {
			child,
			port,
			public_port: public_port.expect("a public address"),
			output_dir: output_dir.to_owned(),
		}
	}

	/// The operator's URL, for `--inference-worker-url`.
	pub fn url(&self) -> String {
		format!("http://127.0.0.1:{}", self.port)
	}

	/// The public URL, to register on chain.
	pub fn public_url(&self) -> String {
		format!("http://127.0.0.1:{}", self.public_port)
	}

	/// A plain HTTP request to the worker; the JSON body of its answer.
	pub fn http(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
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

impl Worker {
	/// `PUT` raw bytes; the JSON answer.
	pub fn put_raw(&self, path: &str, body: &[u8]) -> Value {
		// As a user uploads an input: to the public address.
		let mut stream =
			TcpStream::connect(("127.0.0.1", self.public_port)).expect("worker reachable");
		let head = format!(
			"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
			body.len()
		);
		stream.write_all(head.as_bytes()).expect("write");
		stream.write_all(body).expect("write");
		let mut response = String::new();
		stream.read_to_string(&mut response).expect("read");
		let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP body");
		serde_json::from_str(body).unwrap_or(Value::Null)
	}

	/// Kill the worker process, as a crash would.
	pub fn kill(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

impl Drop for Worker {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// What a read of a request's output got: the status, and the events (`(name, JSON)`) of a
/// stream or the one JSON body of a plain read.
pub struct OutputRead {
	pub status: u16,
	pub events: Vec<(String, Value)>,
}

impl Worker {
	/// `GET /v1/requests/{request}/output` on the public address, signed now by `signer` as its
	/// owner would sign it (`atoma_primitives::output_read`); `stream` asks for server-sent events,
	/// and `on_event` sees each event as it arrives. HTTP/1.0, so the body is not chunked and ends
	/// when the stream does.
	pub fn read_output(
		&self,
		chain: &[u8; 32],
		request: u64,
		signer: &sp_core::sr25519::Pair,
		stream: bool,
		mut on_event: impl FnMut(&str, &Value),
	) -> OutputRead {
		use atoma_primitives::output_read::*;
		use sp_core::Pair;
		let now = std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.expect("after 1970")
			.as_secs();
		let signature = signer.sign(&signing_bytes(chain, request, now));
		let accept = if stream { "Accept: text/event-stream\r\n" } else { "" };
		let head = format!(
			"GET /v1/requests/{request}/output HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}{HEADER_ACCOUNT}: {}\r\n{HEADER_TIMESTAMP}: {now}\r\n{HEADER_SIGNATURE}: {}\r\n\r\n",
			hex::encode(signer.public().0),
			hex::encode(signature.0),
		);
		let mut socket =
			TcpStream::connect(("127.0.0.1", self.public_port)).expect("worker reachable");
		socket.write_all(head.as_bytes()).expect("write");
		let mut lines = BufReader::new(socket).lines().map_while(Result::ok);
		let status_line = lines.next().expect("a status line");
		let status: u16 =
			status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
		// Headers end at the first empty line.
		for line in lines.by_ref() {
			if line.is_empty() {
				break;
			}
		}
		let mut events = Vec::new();
		if !stream || status != 200 {
			let body: String = lines.collect::<Vec<_>>().join("\n");
			let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
			on_event("body", &value);
			events.push(("body".to_owned(), value));
			return OutputRead { status, events };
		}
		let mut name = String::from("message");
		for line in lines {
			if let Some(event) = line.strip_prefix("event:") {
				name = event.trim().to_owned();
			} else if let Some(data) = line.strip_prefix("data:") {
				let value: Value = serde_json::from_str(data.trim()).expect("JSON event data");
				on_event(&name, &value);
				events.push((name.clone(), value));
			}
		}
		OutputRead { status, events }
	}
}
