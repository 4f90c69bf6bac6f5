//! Test harness for end-to-end tests against the real `atoma-node` binary: spawn a node, talk
//! to it over JSON-RPC (plain HTTP, as any client may), stop it with SIGTERM.

#![allow(dead_code)]

pub mod chain;
pub mod worker;

use std::{
	io::{BufRead, BufReader, Read, Write},
	net::{TcpListener, TcpStream},
	path::PathBuf,
	process::{Child, Command, ExitStatus, Stdio},
	sync::{Arc, Mutex},
	thread,
	time::{Duration, Instant},
};

use serde_json::{json, Value};

/// Path of the node binary cargo built for these tests.
pub fn node_binary() -> PathBuf {
	PathBuf::from(env!("CARGO_BIN_EXE_atoma-node"))
}

/// The directory where the tests' nodes keep the runtime's compiled code
/// (`--wasmtime-cache-dir`), in cargo's scratch directory for tests: the first node to start with
/// a runtime compiles it, the others (of every test binary, and of later runs) load it. Each
/// compilation is 12 CPU-seconds on the 2-core EPYC, and the tests start about 40 nodes.
pub fn wasmtime_cache() -> String {
	PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
		.join("atoma-wasmtime-cache")
		.to_string_lossy()
		.into_owned()
}

/// A port nobody listens on right now, for a node started next. Taken below the kernel's
/// ephemeral range (32768 and up): a port the OS picked from that range could go to another
/// process (a worker listening on port 0, an outgoing connection) before the node binds it, and
/// the node would then run without RPC. Each call takes the next port of this process's own
/// sequence (never one handed out before), checked free.
pub fn free_port() -> u16 {
	const FIRST: u32 = 20_000;
	const COUNT: u32 = 12_000;
	static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
	let start = (std::process::id() % 120) * 100;
	for _ in 0..COUNT {
		let offset = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
		let port = (FIRST + (start + offset) % COUNT) as u16;
		if TcpListener::bind(("127.0.0.1", port)).is_ok() {
			return port;
		}
	}
	panic!("no free port in {FIRST}..{}", FIRST + COUNT)
}

/// A running node process; killed on drop if the test did not stop it.
pub struct NodeProcess {
	child: Option<Child>,
	pub rpc_port: u16,
	pub p2p_port: u16,
	/// Everything the node logged, kept for failure messages.
	log: Arc<Mutex<Vec<String>>>,
}

impl NodeProcess {
	/// Starts `atoma-node` with `args` plus fresh RPC and p2p ports.
	pub fn start(args: &[&str]) -> Self {
		Self::start_on(args, free_port())
	}

	/// Starts `atoma-node` with `args`, serving JSON-RPC on `rpc_port` (known before the node
	/// starts: its worker is told where to ask), and a fresh p2p port.
	pub fn start_on(args: &[&str], rpc_port: u16) -> Self {
		Self::start_on_ports(args, rpc_port, free_port())
	}

	/// Starts `atoma-node` with `args`, JSON-RPC on `rpc_port` and libp2p on `p2p_port` (known
	/// before the node starts: a chain spec names it as a boot node). Unless `args` name another,
	/// the node keeps its compiled runtime in [`wasmtime_cache`], shared by the tests' nodes.
	pub fn start_on_ports(args: &[&str], rpc_port: u16, p2p_port: u16) -> Self {
		let cache = match args.contains(&"--wasmtime-cache-dir") {
			true => vec![],
			false => vec!["--wasmtime-cache-dir".to_owned(), wasmtime_cache()],
		};
		let mut child = Command::new(node_binary())
			.args(args)
			.args(cache)
			.args(["--rpc-port", &rpc_port.to_string(), "--port", &p2p_port.to_string()])
			.args(["--no-prometheus", "--no-telemetry", "--no-mdns"])
			.stdout(Stdio::null())
			.stderr(Stdio::piped())
			.spawn()
			.expect("the node binary starts");

		let log = Arc::new(Mutex::new(Vec::new()));
		let stderr = child.stderr.take().expect("stderr is piped");
		let sink = log.clone();
		thread::spawn(move || {
			for line in BufReader::new(stderr).lines().map_while(Result::ok) {
				if let Ok(mut lines) = sink.lock() {
					lines.push(line);
				}
			}
		});

		NodeProcess { child: Some(child), rpc_port, p2p_port, log }
	}

	/// The last `n` log lines, for assertion messages.
	pub fn log_tail(&self, n: usize) -> String {
		let lines = self.log.lock().map(|l| l.clone()).unwrap_or_default();
		lines[lines.len().saturating_sub(n)..].join("\n")
	}

	pub fn rpc(&self) -> Rpc {
		Rpc { port: self.rpc_port }
	}

	/// Waits until the RPC server answers.
	pub fn wait_for_rpc(&mut self, timeout: Duration) {
		let started = Instant::now();
		loop {
			if self.rpc().try_call("system_health", json!([])).is_ok() {
				return;
			}
			if let Some(child) = self.child.as_mut() {
				if let Ok(Some(status)) = child.try_wait() {
					panic!("node exited early with {status}:\n{}", self.log_tail(40));
				}
			}
			assert!(
				started.elapsed() < timeout,
				"RPC did not come up within {timeout:?}:\n{}",
				self.log_tail(40)
			);
			thread::sleep(Duration::from_millis(250));
		}
	}

	/// Sends SIGTERM and waits for a clean exit.
	pub fn stop(mut self, timeout: Duration) -> ExitStatus {
		let mut child = self.child.take().expect("node is running");
		let pid = child.id().to_string();
		let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
		assert!(status.success(), "SIGTERM delivered");
		let started = Instant::now();
		loop {
			if let Some(status) = child.try_wait().expect("waitable") {
				return status;
			}
			if started.elapsed() > timeout {
				let _ = child.kill();
				panic!("node did not stop within {timeout:?} of SIGTERM:\n{}", self.log_tail(40));
			}
			thread::sleep(Duration::from_millis(100));
		}
	}
}

impl Drop for NodeProcess {
	fn drop(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}
}

/// A JSON-RPC client over plain HTTP/1.1, so the test depends on nothing but std and serde_json.
#[derive(Clone, Copy)]
pub struct Rpc {
	pub port: u16,
}

impl Rpc {
	/// Calls `method`; `Err` carries a transport failure or the JSON-RPC error object.
	pub fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
		let body =
			json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
		let mut stream =
			TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| format!("connect: {e}"))?;
		stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
		let request = format!(
			"POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
			self.port,
			body.len(),
			body
		);
		stream.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
		let mut response = Vec::new();
		stream.read_to_end(&mut response).map_err(|e| format!("read: {e}"))?;
		let response = String::from_utf8(response).map_err(|e| e.to_string())?;
		let (head, body) =
			response.split_once("\r\n\r\n").ok_or_else(|| format!("no HTTP body: {response}"))?;
		if !head.starts_with("HTTP/1.1 200") {
			return Err(format!("HTTP error: {head}"));
		}
		let reply: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?;
		match reply.get("error") {
			Some(error) => Err(error.to_string()),
			None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
		}
	}

	pub fn call(&self, method: &str, params: Value) -> Value {
		self.try_call(method, params).unwrap_or_else(|e| panic!("{method} failed: {e}"))
	}

	pub fn block_hash(&self, number: u32) -> Option<String> {
		self.call("chain_getBlockHash", json!([number])).as_str().map(str::to_owned)
	}

	pub fn header_number(&self, hash: &str) -> u32 {
		let header = self.call("chain_getHeader", json!([hash]));
		parse_hex_u32(header["number"].as_str().expect("header has a number"))
	}

	pub fn best_number(&self) -> u32 {
		let header = self.call("chain_getHeader", json!([]));
		parse_hex_u32(header["number"].as_str().expect("header has a number"))
	}

	pub fn finalized_number(&self) -> u32 {
		let head = self.call("chain_getFinalizedHead", json!([]));
		self.header_number(head.as_str().expect("a hash"))
	}

	/// Polls until `finalized_number() >= n`.
	pub fn wait_for_finalized(&self, n: u32, timeout: Duration) -> u32 {
		let started = Instant::now();
		loop {
			let finalized = self.finalized_number();
			if finalized >= n {
				return finalized;
			}
			assert!(started.elapsed() < timeout, "block #{n} not finalized within {timeout:?}");
			thread::sleep(Duration::from_millis(500));
		}
	}

	/// The hex-encoded extrinsics of a block.
	pub fn block_extrinsics(&self, hash: &str) -> Vec<String> {
		let block = self.call("chain_getBlock", json!([hash]));
		block["block"]["extrinsics"]
			.as_array()
			.expect("a block has extrinsics")
			.iter()
			.filter_map(|x| x.as_str().map(str::to_owned))
			.collect()
	}

	/// Raw storage value at `key` (hex, with 0x), at the best block unless `at` is given.
	pub fn storage(&self, key: &str, at: Option<&str>) -> Option<Vec<u8>> {
		let params = match at {
			Some(at) => json!([key, at]),
			None => json!([key]),
		};
		self.call("state_getStorage", params).as_str().map(hex_decode)
	}
}

pub fn parse_hex_u32(s: &str) -> u32 {
	u32::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex number")
}

pub fn hex_decode(s: &str) -> Vec<u8> {
	hex::decode(s.trim_start_matches("0x")).expect("hex string")
}

pub fn hex_encode(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// Runs the node binary to completion (a subcommand) and returns its stdout.
pub fn run_subcommand(args: &[&str]) -> String {
	let output = Command::new(node_binary()).args(args).output().expect("the node binary runs");
	assert!(
		output.status.success(),
		"atoma-node {args:?} failed: {}",
		String::from_utf8_lossy(&output.stderr)
	);
	String::from_utf8(output.stdout).expect("utf-8 output")
}

/// What an app developer's client reads through the runtime APIs: `node clients/views.mjs WHAT
/// ARGS` (plain `@polkadot/api`, no custom types) against the node whose JSON-RPC is on
/// `rpc_port`, its one JSON value parsed.
pub fn view(rpc_port: u16, what: &[&str]) -> Value {
	client("views.mjs", rpc_port, what)
}

/// Run the client script `script` of `clients/` with `args` against the node whose JSON-RPC is
/// on `rpc_port`; it must succeed and print one JSON value (its last line), which is returned.
pub fn client(script: &str, rpc_port: u16, args: &[&str]) -> Value {
	let clients = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("clients");
	let output = Command::new("node")
		.current_dir(&clients)
		.arg(script)
		.args(["--ws", &format!("ws://127.0.0.1:{rpc_port}")])
		.args(args)
		.output()
		.expect("Node.js runs (scripts/install-deps.sh installs it and the clients' packages)");
	let stdout = String::from_utf8_lossy(&output.stdout);
	assert!(
		output.status.success(),
		"{script} {args:?} failed: {}{stdout}",
		String::from_utf8_lossy(&output.stderr)
	);
	let last = stdout.lines().last().unwrap_or_default();
	serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}

/// The dev chain (`--chain dev`) as a raw chain spec file, for end-to-end tests that start many
/// nodes: built once per node binary (`atoma-node export-chain-spec --chain dev --raw`) and kept in
/// cargo's scratch directory for tests.
///
/// Why: a node started with `--dev` or `--chain dev` builds the genesis state from the runtime's
/// genesis builder, and `sc-chain-spec` compiles the wasm runtime afresh for each of its two calls
/// there; with the node's own compilation, a start took 35 CPU-seconds on the 2-core EPYC, 12
/// from the raw spec, and the end-to-end tests start 28 nodes, several at a time. The raw spec is
/// the same chain (same id, chain type, properties and genesis: `dev_chain.rs` compares the
/// genesis hash with `--dev`'s); start its first node with [`dev_authority_args`].
pub fn dev_spec() -> &'static str {
	static SPEC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
	SPEC.get_or_init(|| {
		let binary = std::fs::metadata(node_binary()).expect("the node binary is built");
		let built = binary
			.modified()
			.ok()
			.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
			.map(|d| d.as_nanos())
			.unwrap_or_default();
		let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
		let name = format!("atoma-dev-raw-{}-{built}.json", binary.len());
		let path = dir.join(&name);
		if !path.exists() {
			let spec = run_subcommand(&["export-chain-spec", "--chain", "dev", "--raw"]);
			// Written whole under a name of this process, then renamed: test binaries running
			// at once may build it together, and none reads a half-written file.
			let partial = dir.join(format!("{name}.{}", std::process::id()));
			std::fs::create_dir_all(&dir).expect("the scratch directory is creatable");
			std::fs::write(&partial, spec).expect("the raw spec is writable");
			std::fs::rename(&partial, &path).expect("the raw spec is renamable");
			// The specs of earlier builds of the node are stale.
			for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
				let other = entry.file_name().to_string_lossy().into_owned();
				if other.starts_with("atoma-dev-raw-") && other.ends_with(".json") && other != name
				{
					let _ = std::fs::remove_file(entry.path());
				}
			}
		}
		path.to_string_lossy().into_owned()
	})
}

/// What `--dev` means for the dev chain's one authority, on [`dev_spec`]: the chain, Alice's
/// keys, authoring alone (`--force-authoring`), and a throwaway network key (a spec file is not
/// `--dev`, which would generate one) unless `--node-key-file` is added.
pub fn dev_authority_args() -> [&'static str; 5] {
	["--chain", dev_spec(), "--alice", "--force-authoring", "--unsafe-force-node-key-generation"]
}

/// Path of a file in the repository's `chain-spec/` folder.
pub fn committed_spec(name: &str) -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("chain-spec").join(name)
}

/// A fixed network key for a network's first node, so that the others can name it as their boot
/// node: start that node with `--node-key-file <file>`.
pub struct BootKey {
	pub file: String,
	peer_id: String,
}

impl BootKey {
	/// A new key in `base`.
	pub fn generate(base: &TempDir) -> Self {
		let file = base.path("boot-node.key");
		run_subcommand(&["key", "generate-node-key", "--file", &file]);
		let peer_id =
			run_subcommand(&["key", "inspect-node-key", "--file", &file]).trim().to_owned();
		BootKey { file, peer_id }
	}

	/// The `--bootnodes` address of `node`, started with this key.
	pub fn address(&self, node: &NodeProcess) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", node.p2p_port, self.peer_id)
	}
}

/// Validators of the committed `local` spec: Alice with a [`BootKey`], and `others` (each a
/// base-path name and its key flag, e.g. `("bob", "--bob")`) booting from her, each with its RPC
/// up.
pub fn start_local_validators(
	base: &TempDir,
	others: &[(&str, &str)],
) -> (NodeProcess, Vec<NodeProcess>) {
	const STARTUP: Duration = Duration::from_secs(120);
	let spec = committed_spec("local-raw.json").to_string_lossy().into_owned();
	let boot_key = BootKey::generate(base);
	let mut alice = NodeProcess::start(&[
		"--chain",
		&spec,
		"--alice",
		"--base-path",
		&base.path("alice"),
		"--node-key-file",
		&boot_key.file,
	]);
	alice.wait_for_rpc(STARTUP);
	let bootnode = boot_key.address(&alice);
	let others = others
		.iter()
		.map(|(name, key)| {
			let mut node = NodeProcess::start(&[
				"--chain",
				&spec,
				key,
				"--base-path",
				&base.path(name),
				"--bootnodes",
				&bootnode,
				// Validators of non-dev chains must be given a network key; a throwaway one is
				// fine.
				"--unsafe-force-node-key-generation",
			]);
			node.wait_for_rpc(STARTUP);
			node
		})
		.collect();
	(alice, others)
}

/// A fresh temporary directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
	pub fn new(label: &str) -> Self {
		let nanos = std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_nanos())
			.unwrap_or_default();
		let path =
			std::env::temp_dir().join(format!("atoma-{label}-{}-{nanos}", std::process::id()));
		std::fs::create_dir_all(&path).expect("temp dir is creatable");
		TempDir(path)
	}

	pub fn path(&self, name: &str) -> String {
		self.0.join(name).to_string_lossy().into_owned()
	}
}

impl Drop for TempDir {
	fn drop(&mut self) {
		let _ = std::fs::remove_dir_all(&self.0);
	}
}

/// Signs `call` from `signer` the way a wallet does: the extensions plus the implicit data (spec
/// and transaction version, genesis hash) fetched from the node.
pub fn sign_call(
	rpc: &Rpc,
	signer: &sp_core::sr25519::Pair,
	call: atoma_runtime::RuntimeCall,
	nonce: atoma_runtime::Nonce,
) -> atoma_runtime::UncheckedExtrinsic {
	use codec::Encode;
	use sp_core::Pair;
	let genesis = sp_core::H256::from_slice(&hex_decode(&rpc.block_hash(0).expect("genesis")));
	let version = rpc.call("state_getRuntimeVersion", json!([]));
	let spec_version = version["specVersion"].as_u64().expect("specVersion") as u32;
	let tx_version = version["transactionVersion"].as_u64().expect("transactionVersion") as u32;
	let extension =
		atoma_runtime::signed_tx_extension(nonce, 0, sp_runtime::generic::Era::Immortal);
	let implicit = ((), (), spec_version, tx_version, genesis, genesis, (), (), (), None, ());
	let payload = atoma_runtime::SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
	let signature = payload.using_encoded(|bytes| signer.sign(bytes));
	atoma_runtime::UncheckedExtrinsic::new_signed(
		call,
		sp_runtime::MultiAddress::Id(atoma_runtime::AccountId::from(signer.public())),
		sp_runtime::MultiSignature::Sr25519(signature),
		extension,
	)
}

/// An account's record in `System::Account`.
pub type AccountInfo = frame_system::AccountInfo<
	atoma_runtime::Nonce,
	pallet_balances::AccountData<atoma_runtime::Balance>,
>;

/// The storage key of a pallet's storage item, before any map key: twox128(pallet) ++
/// twox128(item). A plain value's whole key.
pub fn storage_prefix(pallet: &str, item: &str) -> Vec<u8> {
	[sp_crypto_hashing::twox_128(pallet.as_bytes()), sp_crypto_hashing::twox_128(item.as_bytes())]
		.concat()
}

/// `System::Account` storage key of `who`: the item's prefix ++ blake2_128_concat(who).
pub fn account_storage_key(who: &atoma_runtime::AccountId) -> String {
	use codec::Encode;
	let mut key = storage_prefix("System", "Account");
	let encoded = who.encode();
	key.extend(sp_crypto_hashing::blake2_128(&encoded));
	key.extend(encoded);
	hex_encode(&key)
}

/// The next nonce of `who`.
pub fn next_nonce(rpc: &Rpc, who: &atoma_runtime::AccountId) -> atoma_runtime::Nonce {
	rpc.call("system_accountNextIndex", json!([who.to_string()])).as_u64().expect("a nonce") as _
}
