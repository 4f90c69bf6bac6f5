//! End-to-end: a prompt goes in, a verified answer comes out. The real `atoma-worker` serves the
//! real model; the real `atoma-node` of the dev chain (Alice's execution node from the dev
//! genesis, her worker key inserted by `--alice`; started from the dev chain's raw spec, which
//! spares each node a genesis build: `common::dev_spec`) pairs with it through
//! `--inference-worker-url`. A request
//! submitted over JSON-RPC is selected, run by the worker through the off-chain worker, committed
//! with an authorized transaction and settled. The request's owner streams the answer from the
//! worker before settlement, signed with its account key, and checks it against the settled
//! commitment; nobody else can read it, and a worker restart loses none of it.

mod common;

use std::time::{Duration, Instant};

use atoma_primitives::SamplingParams;
use atoma_runtime::{AccountId, Runtime, RuntimeCall};
use atoma_support::{
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::{Decode, Encode};
use common::{
	chain::{indexed_key, node_key, output_key, request_key, result_key, submit, value_key},
	dev_authority_args, dev_spec, hex_encode,
	worker::Worker,
	BootKey, NodeProcess, TempDir,
};
use serde_json::{json, Value};
use sp_core::{sr25519, Pair};

const STARTUP: Duration = Duration::from_secs(180);

const SETTLEMENT: Duration = Duration::from_secs(240);

fn spec(prompt: &str) -> RequestSpec {
	RequestSpec {
		model: ModelId::from_name(b"smollm2-135m-instruct").expect("valid id"),
		echelon: EchelonId(0),
		input: RequestInput::Inline(prompt.as_bytes().to_vec()),
		// An upper bound: the worker refuses a prompt with more tokens, and the fee is charged on
		// the count the nodes commit.
		input_tokens: 64,
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
fn a_prompt_settles_and_its_owner_receives_the_streamed_answer() {
	let worker = Worker::start();
	let url = worker.url();
	let mut node = NodeProcess::start(
		&[&dev_authority_args()[..], &["--tmp", "--inference-worker-url", &url]].concat(),
	);
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

	let genesis: [u8; 32] = common::hex_decode(&rpc.block_hash(0).expect("genesis"))
		.try_into()
		.expect("a 32-byte hash");

	// The owner streams the answer from the worker as it is generated, asking from submission on
	// (404 until the node hands the job over), while the main thread waits for settlement.
	let started = Instant::now();
	let (streamed, raw) = std::thread::scope(|scope| {
		let reader = scope.spawn(|| {
			let mut settled_at_first_token = None;
			loop {
				let read = worker.read_output(&genesis, 0, &bob, true, |name, _| {
					if name == "token" && settled_at_first_token.is_none() {
						settled_at_first_token =
							Some(rpc.storage(&result_key(RequestId(0)), None).is_some());
						println!("first token {:?} after submission", started.elapsed());
					}
				});
				if read.status != 404 || started.elapsed() > SETTLEMENT {
					return (read, settled_at_first_token);
				}
				std::thread::sleep(Duration::from_millis(50));
			}
		});
		let raw = loop {
			if let Some(raw) = rpc.storage(&result_key(RequestId(0)), None) {
				break raw;
			}
			assert!(started.elapsed() < SETTLEMENT, "not settled:\n{}", node.log_tail(40));
			std::thread::sleep(Duration::from_millis(100));
		};
		println!("settled {:?} after submission", started.elapsed());
		(reader.join().expect("the reader"), raw)
	});
	let result = pallet_inference::types::RequestResult::<Runtime>::decode(&mut &raw[..])
		.expect("a request result");
	assert_eq!(result.nodes.to_vec(), vec![NodeId(0)], "Alice's node ran it");
	assert!(result.output_tokens > 0 && result.output_tokens <= 12);
	// The node's job finisher committed it as the job finished, not the next block's off-chain
	// worker run.
	assert!(
		node.log_tail(400).contains("committed request 0 as its job finished"),
		"{}",
		node.log_tail(60)
	);

	// Streamed before settlement: tokens, then the whole output, which is the settled one.
	let (stream, settled_at_first_token) = streamed;
	assert_eq!(stream.status, 200, "{:?}", stream.events);
	assert_eq!(settled_at_first_token, Some(false), "the first token came before settlement");
	let (last, tokens) = stream.events.split_last().expect("events");
	assert_eq!(last.0, "output", "{:?}", stream.events);
	let output = &last.1;
	let token_ids: Vec<u32> = serde_json::from_value(output["token_ids"].clone()).expect("ids");
	let streamed_ids: Vec<u32> =
		tokens.iter().map(|(_, t)| t["token_id"].as_u64().expect("an id") as u32).collect();
	assert_eq!(streamed_ids, token_ids);
	assert_eq!(token_ids.len() as u32, result.output_tokens);
	// The client's check: O rebuilt from the tokens, its commitment equal to the settled one.
	let finish = match output["finish_reason"].as_str() {
		Some("stop") => atoma_primitives::FinishReason::Stop,
		_ => atoma_primitives::FinishReason::Length,
	};
	let o = atoma_primitives::CanonicalOutput::new(&token_ids, finish).encode_canonical();
	assert_eq!(
		atoma_primitives::commitment::quorum_commitments(&o, 1).root,
		result.output_commitment
	);
	assert_eq!(output["commitment"]["root"], hex::encode(result.output_commitment));
	println!("answer: {}", output["text"]);

	// Whole afterwards; nobody else reads it.
	let whole = worker.read_output(&genesis, 0, &bob, false, |_, _| {});
	assert_eq!((whole.status, &whole.events[0].1), (200, output));
	let charlie = sr25519::Pair::from_string("//Charlie", None).expect("dev seed");
	let stranger = worker.read_output(&genesis, 0, &charlie, true, |_, _| {});
	assert_eq!(stranger.status, 403);
	assert_eq!(stranger.events[0].1["error"]["type"], "output_read_refused");

	// The job finisher's runtime calls need the node's offchain database, keystore and pool,
	// which only the node registers: over RPC (`state_call`) they fail, so nobody outside reads
	// the node's jobs or makes it commit.
	let args = (RequestId(0), NodeId(0), b"job-x".to_vec(), b"{}".to_vec(), b"{}".to_vec());
	for (method, args) in [
		("InferenceApi_jobs_awaiting_output", Vec::new()),
		("InferenceApi_commit_finished_job", args.encode()),
	] {
		let answer = rpc.try_call("state_call", json!([method, hex_encode(&args)]));
		assert!(answer.is_err(), "{method} answered over RPC: {answer:?}");
	}

	// What an app developer reads of it with plain polkadot.js, through the runtime APIs.
	let port = node.rpc_port;
	let settled = &common::view(port, &["request", "0"])["settled"]["result"];
	assert_eq!(settled["nodes"], json!([0]), "{settled}");
	assert_eq!(settled["outputTokens"], json!(result.output_tokens));
	assert_eq!(settled["outputCommitment"], json!(hex_encode(&result.output_commitment)));
	assert_eq!(settled["owner"], json!(AccountId::from(bob.public()).to_string()));
	assert_eq!(common::view(port, &["request", "7"]), json!({ "unknown": null }));
	assert_eq!(common::view(port, &["eligible", "smollm2-135m-instruct", "0"]), json!([0]));
	assert_eq!(common::view(port, &["dispute", "0"]), Value::Null);
	let models = common::view(port, &["models"]);
	assert_eq!(models[0][0], json!(hex_encode(b"smollm2-135m-instruct")), "{models}");
	let echelons = common::view(port, &["echelons"]);
	assert_eq!(echelons[0]["id"], json!(0), "{echelons}");
	// The emission: the development preset's schedule, and numbers for a node and the model.
	let emission = common::view(port, &["emission"]);
	assert_eq!(emission["schedule"]["validatorsShare"], json!(100_000_000), "{emission}");
	assert!(emission["perEpoch"].as_u64().is_some_and(|rate| rate > 0), "{emission}");
	let reward = common::view(port, &["reward", "0"]);
	assert!(reward.as_str().is_some_and(|r| r.parse::<u128>().is_ok()), "{reward}");
	let usage = common::view(port, &["usage", "smollm2-135m-instruct"]);
	assert!(usage[0].as_u64().is_some(), "{usage}");
	let price = echelons[0]["pricePerToken"].as_u64().expect("a price: Alice's node bids");
	// The escrow of 64 prompt and at most 12 generated tokens: each token at the price.
	let quote = common::view(port, &["quote", "64", "12"]);
	assert_eq!(quote, json!((76 * price).to_string()));
	let tamper = common::view(port, &["tamper", "500000000", "3"]);
	assert_eq!(
		tamper,
		json!(atoma_support::nash::tamper_probability(sp_runtime::Perbill::from_percent(50), 3)
			.deconstruct()
			.to_string())
	);

	// A pallet's request: Bob asks through the runtime's example pallet (`oracle.ask`) with plain
	// polkadot.js; the answer streams from the worker, is checked against the settled commitment,
	// and the pallet, told the outcome by the inference pallet, recorded the same commitment
	// (`clients/ask.mjs --oracle` fails otherwise). The client finds the worker at the URL the
	// node registry holds: Alice, the dev node's operator, points it at this test's worker first.
	let alice = sr25519::Pair::from_string("//Alice", None).expect("dev seed");
	let url = worker.public_url();
	let call = RuntimeCall::NodeRegistry(pallet_node_registry::Call::set_url {
		node: NodeId(0),
		url: url.clone().into_bytes(),
	});
	submit(&rpc, &alice, call, common::next_nonce(&rpc, &AccountId::from(alice.public())));
	let deadline = Instant::now() + Duration::from_secs(60);
	while rpc.storage(&node_key(NodeId(0)), None).is_none_or(|raw| {
		let record = pallet_node_registry::pallet::NodeRecordOf::<Runtime>::decode(&mut &raw[..])
			.expect("a node record");
		record.url.to_vec() != url.as_bytes()
	}) {
		assert!(Instant::now() < deadline, "the URL was not set:\n{}", node.log_tail(40));
		std::thread::sleep(Duration::from_millis(200));
	}
	let asked = common::client(
		"ask.mjs",
		port,
		&["--oracle", "--max-tokens", "6", "--json", "Name a primary colour."],
	);
	let request = asked["request"].as_u64().expect("a request id");
	let question = &asked["question"];
	assert_eq!(question["asker"], json!(AccountId::from(bob.public()).to_string()), "{asked}");
	assert!(question["answer"]["settled"]["outputCommitment"].is_string(), "{asked}");
	let settled = &common::view(port, &["request", &request.to_string()])["settled"]["result"];
	assert_eq!(settled["outputCommitment"], question["answer"]["settled"]["outputCommitment"]);
	assert_eq!(asked["output_tokens"], settled["outputTokens"]);

	// A worker restart loses nothing.
	let dir = worker.output_dir.clone();
	drop(worker);
	let worker = Worker::start_in(&dir, &[]);
	let after = worker.read_output(&genesis, 0, &bob, false, |_, _| {});
	assert_eq!((after.status, &after.events[0].1), (200, output));

	let status = node.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
}

/// A storage value's key: twox128(pallet) ++ twox128(item).
/// Two execution nodes, each with its own worker: Alice's from the dev genesis, and Bob's,
/// registered and subscribed by its operator over JSON-RPC and active from the next epoch.
struct TwoNodes {
	alice: NodeProcess,
	bob: NodeProcess,
	/// Alice's worker, then Bob's.
	workers: (Worker, Worker),
	/// How Alice's node was started, to restart it on the same base path.
	alice_args: Vec<String>,
	_base: TempDir,
}

fn two_nodes(label: &str) -> TwoNodes {
	let base = TempDir::new(label);
	let (worker_a, worker_b) = (Worker::start(), Worker::start());
	let boot_key = BootKey::generate(&base);
	let alice_args: Vec<String> = [
		&dev_authority_args()[..],
		&[
			"--base-path",
			&base.path("alice"),
			"--node-key-file",
			&boot_key.file,
			"--inference-worker-url",
			&worker_a.url(),
		],
	]
	.concat()
	.iter()
	.map(|a| a.to_string())
	.collect();
	let mut alice = NodeProcess::start(&alice_args.iter().map(String::as_str).collect::<Vec<_>>());
	alice.wait_for_rpc(STARTUP);
	let bootnode = boot_key.address(&alice);
	// Bob's node: not a block author on the dev chain, but it runs the off-chain worker with its
	// `//Bob` worker key (inserted by `--bob`).
	let mut bob = NodeProcess::start(&[
		"--chain",
		dev_spec(),
		"--bob",
		"--base-path",
		&base.path("bob"),
		"--bootnodes",
		&bootnode,
		"--unsafe-force-node-key-generation",
		"--inference-worker-url",
		&worker_b.url(),
	]);
	bob.wait_for_rpc(STARTUP);
	let rpc = alice.rpc();
	rpc.wait_for_finalized(1, STARTUP);

	// Bob's operator registers its execution node and subscribes it to the model.
	let bob_pair = sr25519::Pair::from_string("//Bob", None).expect("dev seed");
	let bob_id = AccountId::from(bob_pair.public());
	let nonce = common::next_nonce(&rpc, &bob_id);
	submit(
		&rpc,
		&bob_pair,
		RuntimeCall::NodeRegistry(pallet_node_registry::Call::register_node {
			echelon: EchelonId(0),
			worker_key: bob_pair.public(),
			url: worker_b.public_url().into_bytes(),
			collateral: 1_000 * atoma_runtime::currency::UNITS,
			price_per_token: atoma_runtime::currency::MICRO_UNITS,
		}),
		nonce,
	);
	submit(
		&rpc,
		&bob_pair,
		RuntimeCall::ModelRegistry(pallet_model_registry::Call::subscribe {
			node: NodeId(1),
			model: ModelId::from_name(b"smollm2-135m-instruct").expect("valid id"),
		}),
		nonce + 1,
	);

	// Bob's node serves from the next epoch (10 blocks on the dev chain).
	let started = Instant::now();
	loop {
		let record = rpc.storage(&node_key(NodeId(1)), None).map(|raw| {
			pallet_node_registry::pallet::NodeRecordOf::<Runtime>::decode(&mut &raw[..])
				.expect("a node record")
		});
		let epoch = rpc
			.storage(&hex_encode(&value_key(b"NodeRegistry", b"CurrentEpoch")), None)
			.map(|raw| u32::decode(&mut &raw[..]).expect("an epoch"))
			.unwrap_or(0);
		// Active, and in the model's draw index (two blocks after the subscription).
		let model = ModelId::from_name(b"smollm2-135m-instruct").expect("valid id");
		let indexed = rpc.storage(&indexed_key(NodeId(1), &model), None).is_some();
		if record.is_some_and(|r| r.active_from <= epoch) && indexed {
			break;
		}
		assert!(
			started.elapsed() < STARTUP,
			"Bob's node never became active:\n{}",
			bob.log_tail(30)
		);
		std::thread::sleep(Duration::from_millis(500));
	}

	TwoNodes { alice, bob, workers: (worker_a, worker_b), alice_args, _base: base }
}

/// Wait for the result of `request`; panic with both nodes' logs after `SETTLEMENT`.
fn wait_for_result(
	net: &TwoNodes,
	request: RequestId,
) -> pallet_inference::types::RequestResult<Runtime> {
	let rpc = net.alice.rpc();
	let started = Instant::now();
	let raw = loop {
		if let Some(raw) = rpc.storage(&result_key(request), None) {
			break raw;
		}
		assert!(
			started.elapsed() < SETTLEMENT,
			"not settled:\nalice: {}\nbob: {}",
			net.alice.log_tail(20),
			net.bob.log_tail(20)
		);
		std::thread::sleep(Duration::from_millis(500));
	};
	println!("request {} settled {:?} after we started waiting", request.0, started.elapsed());
	pallet_inference::types::RequestResult::<Runtime>::decode(&mut &raw[..]).expect("a result")
}

/// The chain's genesis hash: what an owner's signed read of its output binds.
fn genesis(rpc: &common::Rpc) -> [u8; 32] {
	common::hex_decode(&rpc.block_hash(0).expect("genesis")).try_into().expect("a 32-byte hash")
}

/// The output of `request` as each worker (Alice's, then Bob's) delivers it to Charlie, its owner:
/// the JSON output, or the error body, with the status.
fn delivered(net: &TwoNodes, request: u64) -> [(u16, Value); 2] {
	let chain = genesis(&net.alice.rpc());
	let charlie = sr25519::Pair::from_string("//Charlie", None).expect("dev seed");
	[&net.workers.0, &net.workers.1].map(|worker| {
		let read = worker.read_output(&chain, request, &charlie, false, |_, _| {});
		(read.status, read.events[0].1.clone())
	})
}

/// Submit `mode` with `prompt` from Charlie.
fn ask(net: &TwoNodes, prompt: &str, mode: VerificationMode, timeout: u32) {
	let mut request = spec(prompt);
	request.mode = mode;
	request.timeout = timeout;
	submit_request(net, request);
}

/// Charlie submits `request`.
fn submit_request(net: &TwoNodes, request: RequestSpec) {
	let rpc = net.alice.rpc();
	let charlie = sr25519::Pair::from_string("//Charlie", None).expect("dev seed");
	let nonce = common::next_nonce(&rpc, &AccountId::from(charlie.public()));
	let call = RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: request });
	submit(&rpc, &charlie, call, nonce);
}

/// Sampling Consensus (n = 2): both nodes run the request, both commit, it settles, both paid.
/// Its destination is on chain: the nodes publish the output themselves, and it is the one their
/// workers deliver.
#[test]
fn sampling_with_two_nodes_and_two_workers_settles() {
	let net = two_nodes("sampling-e2e");
	let mut request = spec(r#"[{"role":"user","content":"Name the largest planet."}]"#);
	request.mode = VerificationMode::Sampling { n: 2 };
	request.timeout = 60;
	request.destination = OutputDestination::OnChain;
	submit_request(&net, request);
	let result = wait_for_result(&net, RequestId(0));
	let mut nodes = result.nodes.to_vec();
	nodes.sort();
	assert_eq!(nodes, vec![NodeId(0), NodeId(1)], "both execution nodes ran it");
	assert!(result.output_tokens > 0);
	// Both deliver the answer to its owner, each with its own leaf of the settled root.
	let [alice, bob] = delivered(&net, 0);
	assert_eq!((alice.0, bob.0), (200, 200), "{alice:?} {bob:?}");
	assert_eq!(alice.1["token_ids"], bob.1["token_ids"]);
	for (output, index) in [(&alice.1, 0), (&bob.1, 1)] {
		assert_eq!(output["commitment"]["root"], hex::encode(result.output_commitment));
		assert_eq!(output["commitment"]["quorum_size"], 2);
		let position = result.nodes.iter().position(|n| *n == NodeId(index)).expect("a node");
		assert_eq!(output["commitment"]["node_index"], position);
	}
	// Nobody sent a signed transaction: a node's off-chain worker published the output in the
	// run of the settling block, fee-less (the chain checked it against the settled root).
	let rpc = net.alice.rpc();
	let started = Instant::now();
	let published = loop {
		if let Some(raw) = rpc.storage(&output_key(RequestId(0)), None) {
			break Vec::<u8>::decode(&mut &raw[..]).expect("an output");
		}
		assert!(started.elapsed() < SETTLEMENT, "never published:\n{}", net.alice.log_tail(20));
		std::thread::sleep(Duration::from_millis(500));
	};
	let (token_ids, _) =
		atoma_primitives::output::decode_canonical(&published).expect("a canonical output");
	assert_eq!(serde_json::json!(token_ids), alice.1["token_ids"]);
	for node in [net.bob, net.alice] {
		let status = node.stop(Duration::from_secs(60));
		assert!(status.success(), "node exited with {status}");
	}
}

/// Cross-Validation with p = 100%: the primary is drawn publicly; the other node's sortition task
/// proves its private selection with a real VRF signature; it commits a sealed digest; after the
/// window both reveal and the request settles with both.
#[test]
fn cross_validation_with_p_one_settles_with_a_private_verifier() {
	let net = two_nodes("cv-e2e");
	ask(
		&net,
		r#"[{"role":"user","content":"What color is the sky?"}]"#,
		VerificationMode::CrossValidation { n: 1, p: sp_runtime::Perbill::one() },
		// Room for the verifier: its node proves its selection on a new best block, then its
		// worker runs the job; with 15 blocks it once missed the window on a loaded machine.
		25,
	);
	let result = wait_for_result(&net, RequestId(0));
	let mut nodes = result.nodes.to_vec();
	nodes.sort();
	assert_eq!(nodes, vec![NodeId(0), NodeId(1)], "the primary and the private verifier");
	let verifier_logged = [&net.alice, &net.bob]
		.iter()
		.any(|n| n.log_tail(400).contains("is a verifier of request 0"));
	assert!(verifier_logged, "a node's sortition task proved its selection");
	// The primary's worker delivers the answer to its owner; the secret verifier's worker does
	// not even know the request (its node sent it no delivery ticket).
	let mut reads = delivered(&net, 0).to_vec();
	reads.sort_by_key(|(status, _)| *status);
	let [(served, output), (hidden, refusal)] = [reads[0].clone(), reads[1].clone()];
	assert_eq!((served, hidden), (200, 404), "{output} {refusal}");
	assert_eq!(refusal["error"]["type"], "request_not_found");
	assert_eq!(output["commitment"]["output_hash"], hex::encode(result.output_commitment));
	for node in [net.bob, net.alice] {
		let status = node.stop(Duration::from_secs(60));
		assert!(status.success(), "node exited with {status}");
	}
}

/// A worker dies mid-job: its node misses the deadline, is slashed and replaced, and the request
/// still settles on the other node. Then Alice's node restarts on its base path and keeps the
/// chain, the result and producing blocks.
#[test]
fn a_dead_worker_is_replaced_and_a_restarted_node_keeps_its_state() {
	let mut net = two_nodes("timeout-e2e");
	let rpc = net.alice.rpc();
	// A long answer (about 10 s of generation), so the worker is surely mid-job when it dies.
	let mut request = spec(r#"[{"role":"user","content":"Write a long story about the sea."}]"#);
	request.params.max_output_tokens = 160;
	request.timeout = 10;
	let charlie = sr25519::Pair::from_string("//Charlie", None).expect("dev seed");
	let nonce = common::next_nonce(&rpc, &AccountId::from(charlie.public()));
	submit(
		&rpc,
		&charlie,
		RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: request }),
		nonce,
	);

	// As soon as the node is drawn, kill its worker.
	let started = Instant::now();
	let first = loop {
		let drawn = rpc.storage(&request_key(RequestId(0)), None).and_then(|raw| {
			let r = pallet_inference::Request::<Runtime>::decode(&mut &raw[..]).expect("a request");
			r.nodes.first().copied()
		});
		if let Some(node) = drawn {
			break node;
		}
		assert!(started.elapsed() < STARTUP, "never selected:\n{}", net.alice.log_tail(30));
		std::thread::sleep(Duration::from_millis(200));
	};
	if first == NodeId(0) {
		net.workers.0.kill();
	} else {
		net.workers.1.kill();
	}

	let result = wait_for_result(&net, RequestId(0));
	assert_eq!(result.nodes.len(), 1);
	assert_ne!(result.nodes[0], first, "the replacement settled it");
	// The late node lost 5% of its collateral.
	let late = rpc.storage(&node_key(first), None).map(|raw| {
		pallet_node_registry::pallet::NodeRecordOf::<Runtime>::decode(&mut &raw[..]).expect("node")
	});
	let registered = if first == NodeId(0) { 10_000 } else { 1_000 };
	assert_eq!(
		late.map(|r| r.collateral),
		Some(registered * atoma_runtime::currency::UNITS * 95 / 100),
		"slashed"
	);

	// Restart Alice's node: same base path, same chain, and it goes on.
	let before = rpc.best_number();
	let TwoNodes { alice, bob: _bob, workers: _workers, alice_args, _base } = net;
	let status = alice.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
	let mut restarted =
		NodeProcess::start(&alice_args.iter().map(String::as_str).collect::<Vec<_>>());
	restarted.wait_for_rpc(STARTUP);
	let rpc = restarted.rpc();
	assert!(rpc.best_number() >= before, "the chain survived the restart");
	assert!(rpc.storage(&result_key(RequestId(0)), None).is_some(), "the result survived");
	rpc.wait_for_finalized(before + 2, STARTUP);
	let status = restarted.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
}

/// A request that carries only its input's hash: the user uploads the prompt to the selected
/// node's worker, which checks the hash; the off-chain worker's job names the input by hash and
/// retries until the upload is there. The wrong bytes are refused.
#[test]
fn an_input_given_by_hash_is_uploaded_to_the_selected_worker() {
	let worker = Worker::start();
	let url = worker.url();
	let mut node = NodeProcess::start(
		&[&dev_authority_args()[..], &["--tmp", "--inference-worker-url", &url]].concat(),
	);
	node.wait_for_rpc(STARTUP);
	let rpc = node.rpc();
	rpc.wait_for_finalized(1, STARTUP);

	let prompt = br#"[{"role":"user","content":"What is two plus two?"}]"#;
	let hash = sp_crypto_hashing::blake2_256(prompt);
	let mut request = spec("unused");
	request.input = RequestInput::Hash(hash);
	let bob = sr25519::Pair::from_string("//Bob", None).expect("dev seed");
	let nonce = common::next_nonce(&rpc, &AccountId::from(bob.public()));
	submit(
		&rpc,
		&bob,
		RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: request }),
		nonce,
	);

	// Wait until the node is drawn (its worker is the one to upload to), then upload.
	let started = Instant::now();
	while rpc.storage(&request_key(RequestId(0)), None).is_none_or(|raw| {
		pallet_inference::Request::<Runtime>::decode(&mut &raw[..])
			.map_or(true, |r| r.nodes.is_empty())
	}) {
		assert!(started.elapsed() < STARTUP, "never selected:\n{}", node.log_tail(30));
		std::thread::sleep(Duration::from_millis(300));
	}
	std::thread::sleep(Duration::from_secs(4));
	let path = format!("/v1/inputs/{}", hex::encode(hash));
	let refused = worker.http("PUT", &path, Some(&json!("not the prompt")));
	assert_eq!(refused["error"]["type"], "input_hash_mismatch");
	let stored = worker.put_raw(&path, prompt);
	assert_eq!(stored["bytes"], prompt.len());

	let raw = loop {
		if let Some(raw) = rpc.storage(&result_key(RequestId(0)), None) {
			break raw;
		}
		assert!(started.elapsed() < SETTLEMENT, "not settled:\n{}", node.log_tail(40));
		std::thread::sleep(Duration::from_millis(500));
	};
	let result = pallet_inference::types::RequestResult::<Runtime>::decode(&mut &raw[..])
		.expect("a request result");
	assert!(result.output_tokens > 0);
	let status = node.stop(Duration::from_secs(60));
	assert!(status.success(), "node exited with {status}");
}
