//! End-to-end disputes: four execution nodes, each paired with its own real `atoma-worker` on the
//! real model, one of which cheats: `--fault tamper-tokens` (the worker replaces the last token
//! and commits honestly to the tampered output), `--fault lazy` (it never runs the model and
//! commits to a made-up output) or `--fault cheaper-precision` (it runs the quantized kernels
//! where the echelon's nodes run f32). A Sampling request that draws the cheater with an honest
//! node disagrees; the chain opens a dispute and the two parties' off-chain workers bisect their
//! traces, turn by turn, down to the first step where they differ (from the steps they kept when
//! they committed). The chain draws the two nodes that did not run the request as arbiters; their
//! off-chain workers decode the request up to that step only through their own workers and seal,
//! then reveal, their one-step verdicts; the cheater is convicted and the honest node's off-chain
//! worker publishes the output. The cheater loses all its collateral, the honest node and the
//! arbiters are paid from it, the user gets the whole escrow back, and every hold is released:
//! the honest node withdraws.
//!
//! The lazy worker's test gives the prompt by hash and uploads it to the first node drawn only:
//! the other party and the arbiters read it from that node's worker (each read signed with the
//! reader's worker key, and authorized by the serving worker's own node against chain state).
//!
//! A fourth test stops the cheater's node once the dispute opens: a party that committed and
//! then withholds its bisection answers loses all its collateral just the same.
//!
//! A fifth has no cheater but a malicious user: it names its input by hash and uploads it to one
//! of the two selected workers only, hoping the other node is slashed for not serving it. That
//! node reads the input from the other's worker, both run the request, and it settles: nobody
//! loses anything.
//!
//! Needs the worker built with `--features atoma-inference-worker/fault-injection` (the test
//! command builds it so).

mod common;

use std::time::{Duration, Instant};

use atoma_primitives::SamplingParams;
use atoma_runtime::{AccountId, Balance, Runtime, RuntimeCall};
use atoma_support::{
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use codec::Decode;
use common::{
	chain::{
		account_key, dispute_key, indexed_key, node_key, request_key, result_key, submit, value_key,
	},
	hex_encode,
	worker::Worker,
	BootKey, NodeProcess, Rpc, TempDir,
};
use sp_core::{sr25519, Pair};

const STARTUP: Duration = Duration::from_secs(240);
const SETTLEMENT: Duration = Duration::from_secs(300);
const UNITS: Balance = atoma_runtime::currency::UNITS;
/// What each added operator registers with.
const COLLATERAL: Balance = 1_000 * UNITS;

/// Every request's prompt.
const PROMPT: &[u8] = br#"[{"role":"user","content":"Name three colors."}]"#;

/// The operators of the added execution nodes; the last one's worker cheats.
const OPERATORS: [&str; 3] = ["Bob", "Charlie", "Dave"];

struct Network {
	/// Alice's node first (it authors the dev chain), then the operators' nodes.
	nodes: Vec<NodeProcess>,
	/// Alice's worker first, then Bob's, Charlie's and Dave's.
	workers: Vec<Worker>,
	_base: TempDir,
}

impl Network {
	fn rpc(&self) -> Rpc {
		self.nodes[0].rpc()
	}

	fn logs(&self) -> String {
		self.nodes.iter().map(|n| n.log_tail(25)).collect::<Vec<_>>().join("\n---\n")
	}
}

/// The worker paired with `node` (Alice's genesis node 0, or an operator's).
fn worker_of<'a>(net: &'a Network, ids: &[(NodeId, String)], node: NodeId) -> &'a Worker {
	let index = ids.iter().position(|(n, _)| *n == node).map_or(0, |i| i + 1);
	&net.workers[index]
}

/// Upload the prompt by hash to `node`'s worker only.
fn upload_to(net: &Network, ids: &[(NodeId, String)], node: NodeId) {
	let path = format!("/v1/inputs/{}", hex::encode(sp_crypto_hashing::blake2_256(PROMPT)));
	let uploaded = worker_of(net, ids, node).put_raw(&path, PROMPT);
	assert_eq!(uploaded["bytes"], PROMPT.len(), "{uploaded}");
}

fn pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).expect("dev seed")
}

fn node_record(
	rpc: &Rpc,
	node: NodeId,
) -> Option<pallet_node_registry::pallet::NodeRecordOf<Runtime>> {
	rpc.storage(&node_key(node), None).map(|raw| {
		pallet_node_registry::pallet::NodeRecordOf::<Runtime>::decode(&mut &raw[..])
			.expect("a node record")
	})
}

fn free_balance(rpc: &Rpc, who: &AccountId) -> Balance {
	rpc.storage(&account_key(who), None)
		.map(|raw| {
			frame_system::AccountInfo::<
				atoma_runtime::Nonce,
				pallet_balances::AccountData<Balance>,
			>::decode(&mut &raw[..])
			.expect("an account")
			.data
			.free
		})
		.unwrap_or_default()
}

fn current_epoch(rpc: &Rpc) -> u32 {
	rpc.storage(&hex_encode(&value_key(b"NodeRegistry", b"CurrentEpoch")), None)
		.map(|raw| u32::decode(&mut &raw[..]).expect("an epoch"))
		.unwrap_or(0)
}

/// Alice's genesis node with an honest worker, and Bob's, Charlie's and Dave's nodes registered
/// and subscribed over JSON-RPC, each with its own worker; the honest workers run with
/// `honest_args`, Dave's in `fault` mode (honest too when `None`).
fn network(fault: Option<&str>, honest_args: &[&str]) -> (Network, Vec<(NodeId, String)>) {
	let base = TempDir::new(&format!("disputes-e2e-{}", fault.unwrap_or("honest")));
	// Each worker asks its own node whether another node may read an input uploaded to it.
	let rpc_ports: Vec<u16> = (0..4).map(|_| common::free_port()).collect();
	let node_rpc = |i: usize| format!("http://127.0.0.1:{}", rpc_ports[i]);
	let honest = |i: usize| {
		let node = node_rpc(i);
		Worker::start_with(&[honest_args, &["--node-rpc-url", &node]].concat())
	};
	let mut workers: Vec<Worker> = (0..3).map(honest).collect();
	workers.push(match fault {
		Some(fault) => Worker::start_with(&[
			"--fault",
			fault,
			"--i-know-this-worker-cheats",
			"--node-rpc-url",
			&node_rpc(3),
		]),
		None => honest(3),
	});
	let boot_key = BootKey::generate(&base);
	let mut alice = NodeProcess::start_on(
		&[
			&common::dev_authority_args()[..],
			&[
				"--base-path",
				&base.path("alice"),
				"--node-key-file",
				&boot_key.file,
				"--inference-worker-url",
				&workers[0].url(),
			],
		]
		.concat(),
		rpc_ports[0],
	);
	alice.wait_for_rpc(STARTUP);
	let bootnode = boot_key.address(&alice);
	let mut nodes = vec![alice];
	for (i, name) in OPERATORS.iter().enumerate() {
		let mut node = NodeProcess::start_on(
			&[
				"--chain",
				common::dev_spec(),
				&format!("--{}", name.to_lowercase()),
				"--base-path",
				&base.path(name),
				"--bootnodes",
				&bootnode,
				"--unsafe-force-node-key-generation",
				"--inference-worker-url",
				&workers[i + 1].url(),
			],
			rpc_ports[i + 1],
		);
		node.wait_for_rpc(STARTUP);
		nodes.push(node);
	}
	let net = Network { nodes, workers, _base: base };
	let rpc = net.rpc();
	rpc.wait_for_finalized(1, STARTUP);

	// Alice's genesis node points at its worker's public URL, where other nodes read inputs.
	let alice_operator = pair("Alice");
	let nonce = common::next_nonce(&rpc, &AccountId::from(alice_operator.public()));
	submit(
		&rpc,
		&alice_operator,
		RuntimeCall::NodeRegistry(pallet_node_registry::Call::set_url {
			node: NodeId(0),
			url: net.workers[0].public_url().into_bytes(),
		}),
		nonce,
	);
	// Each operator registers one node (its worker key is its dev seed) and subscribes it.
	for (i, name) in OPERATORS.iter().enumerate() {
		let operator = pair(name);
		let nonce = common::next_nonce(&rpc, &AccountId::from(operator.public()));
		submit(
			&rpc,
			&operator,
			RuntimeCall::NodeRegistry(pallet_node_registry::Call::register_node {
				echelon: EchelonId(0),
				worker_key: operator.public(),
				url: net.workers[i + 1].public_url().into_bytes(),
				collateral: COLLATERAL,
				price_per_token: atoma_runtime::currency::MICRO_UNITS,
			}),
			nonce,
		);
	}
	// Node ids follow inclusion order: find each operator's.
	let started = Instant::now();
	let ids: Vec<(NodeId, String)> = loop {
		let found: Vec<(NodeId, String)> = (1..=3u64)
			.filter_map(|i| {
				let record = node_record(&rpc, NodeId(i))?;
				let name = OPERATORS
					.iter()
					.find(|n| AccountId::from(pair(n).public()) == record.operator)?;
				Some((NodeId(i), name.to_string()))
			})
			.collect();
		if found.len() == 3 {
			break found;
		}
		assert!(started.elapsed() < STARTUP, "registration failed:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	};
	for (node, name) in &ids {
		let operator = pair(name);
		let nonce = common::next_nonce(&rpc, &AccountId::from(operator.public()));
		submit(
			&rpc,
			&operator,
			RuntimeCall::ModelRegistry(pallet_model_registry::Call::subscribe {
				node: *node,
				model: ModelId::from_name(b"smollm2-135m-instruct").expect("valid id"),
			}),
			nonce,
		);
	}
	// Active from the next epoch (10 blocks on the dev chain), and subscribed.
	let started = Instant::now();
	loop {
		let epoch = current_epoch(&rpc);
		let active = ids
			.iter()
			.all(|(node, _)| node_record(&rpc, *node).is_some_and(|r| r.active_from <= epoch));
		// In the model's draw index, which follows subscriptions two blocks late.
		let model = ModelId::from_name(b"smollm2-135m-instruct").expect("valid id");
		let subscribed =
			ids.iter().all(|(node, _)| rpc.storage(&indexed_key(*node, &model), None).is_some());
		if active && subscribed {
			break;
		}
		assert!(started.elapsed() < STARTUP, "nodes never became active:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	}
	(net, ids)
}

fn spec() -> RequestSpec {
	RequestSpec {
		model: ModelId::from_name(b"smollm2-135m-instruct").expect("valid id"),
		echelon: EchelonId(0),
		input: RequestInput::Inline(PROMPT.to_vec()),
		// An upper bound (the chat template adds a system prompt): the worker refuses a prompt
		// with more tokens, and the fee is charged on the count the nodes commit.
		input_tokens: 64,
		params: SamplingParams {
			temperature_milli: 0,
			top_k: 0,
			top_p_milli: 1_000,
			max_output_tokens: 12,
			seed: 0,
		},
		mode: VerificationMode::Sampling { n: 2 },
		timeout: 60,
		destination: OutputDestination::Worker,
	}
}

#[test]
fn a_tampering_worker_loses_its_collateral_and_everyone_else_is_made_whole() {
	// Only the last token differs: the bisection walks down to the last step.
	a_cheater_is_caught("tamper-tokens", &[], Some(|step, tokens| step + 1 == tokens));
}

#[test]
fn a_party_that_commits_then_never_answers_loses_its_collateral() {
	// Dave commits (a tampered output) and its node goes away once the dispute opens: it never
	// answers a bisection turn, loses by the turn's deadline, and the honest party's output
	// wins without any arbiter.
	a_cheater_is_caught("tamper-tokens", &[], None);
}

#[test]
fn a_lazy_worker_loses_its_collateral_and_everyone_else_is_made_whole() {
	// It makes up min(max_tokens, 8) tokens: against a longer honest output the check is where
	// its trace ends; against one as long, its steps differ from the first.
	// The input is given by hash and uploaded to one party only: the other party reads it from
	// that party's worker to run the request, and so do the arbiters to check the step.
	a_cheater_is_caught_with(
		"lazy",
		&[],
		Some(|step, tokens| step == tokens.min(8) || step == 0),
		Input::ByHashToOneParty,
	);
}

#[test]
fn a_worker_on_a_cheaper_precision_loses_its_collateral_and_everyone_else_is_made_whole() {
	// Its logits differ from the first step on, whether or not its tokens do.
	a_cheater_is_caught(
		"cheaper-precision",
		&["--precision", "native"],
		Some(|step, tokens| step == 0 || step == tokens),
	);
}

/// How the user gives its prompt.
#[derive(Clone, Copy, PartialEq)]
enum Input {
	Inline,
	/// By hash, uploaded to the worker of the first node drawn only.
	ByHashToOneParty,
}

/// Dave's worker cheats in `fault` mode; a request that draws it is disputed, its traces are
/// bisected to a step that `expected_step` accepts, and that step decides.
/// `expected_step(step, honest output's tokens)`; `None`: Dave's node stops once the dispute
/// opens, so it answers no (further) bisection turn and loses by the deadline.
fn a_cheater_is_caught(
	fault: &str,
	honest_args: &[&str],
	expected_step: Option<fn(u32, u32) -> bool>,
) {
	a_cheater_is_caught_with(fault, honest_args, expected_step, Input::Inline)
}

fn a_cheater_is_caught_with(
	fault: &str,
	honest_args: &[&str],
	expected_step: Option<fn(u32, u32) -> bool>,
	input: Input,
) {
	let (mut net, ids) = network(Some(fault), honest_args);
	let rpc = net.rpc();
	let cheater = ids.iter().find(|(_, name)| name == "Dave").map(|(n, _)| *n).expect("Dave");
	let user = pair("Ferdie");
	let user_id = AccountId::from(user.public());

	// Ask until the cheater is drawn (each Sampling request draws 2 of the 4 nodes); requests
	// that draw two honest nodes simply settle.
	let started = Instant::now();
	let (request, parties) = 'ask: loop {
		let id = {
			let raw = rpc.storage(&hex_encode(&value_key(b"Inference", b"NextRequestId")), None);
			RequestId(raw.map(|r| u64::decode(&mut &r[..]).expect("an id")).unwrap_or(0))
		};
		let nonce = common::next_nonce(&rpc, &user_id);
		let mut request = spec();
		if input == Input::ByHashToOneParty {
			request.input = RequestInput::Hash(sp_crypto_hashing::blake2_256(PROMPT));
		}
		let call = RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: request });
		submit(&rpc, &user, call, nonce);
		let mut uploaded = input == Input::Inline;
		loop {
			if let Some(raw) = rpc.storage(&request_key(id), None) {
				let r =
					pallet_inference::Request::<Runtime>::decode(&mut &raw[..]).expect("request");
				if let (false, Some(first)) = (uploaded, r.nodes.first()) {
					upload_to(&net, &ids, *first);
					println!(
						"request {} drawn {:?}; input uploaded to {first:?} only",
						id.0, r.nodes
					);
					uploaded = true;
				}
				if r.phase == pallet_inference::Phase::Disputed {
					break 'ask (id, r.nodes.to_vec());
				}
			}
			if rpc.storage(&result_key(id), None).is_some()
				&& rpc.storage(&dispute_key(id), None).is_none()
			{
				println!("request {} settled without the cheater; asking again", id.0);
				break;
			}
			assert!(started.elapsed() < SETTLEMENT, "no dispute:\n{}", net.logs());
			std::thread::sleep(Duration::from_millis(500));
		}
	};
	assert!(parties.contains(&cheater), "only the cheater disagrees: {parties:?}");
	if expected_step.is_none() {
		// Dave's node is the last started.
		let dave = net.nodes.pop().expect("Dave's node");
		let status = dave.stop(Duration::from_secs(60));
		println!("Dave's node stopped ({status}) with request {} in dispute", request.0);
	}
	let honest = *parties.iter().find(|n| **n != cheater).expect("an honest party");
	let arbiters: Vec<NodeId> = (0..=3u64).map(NodeId).filter(|n| !parties.contains(n)).collect();
	println!("request {} disputed between {parties:?}; arbiters will be {arbiters:?}", request.0);
	let operator = |node: NodeId| node_record(&rpc, node).expect("node").operator;
	let before: Vec<(NodeId, Balance)> =
		[honest].iter().chain(&arbiters).map(|n| (*n, free_balance(&rpc, &operator(*n)))).collect();
	let user_before = free_balance(&rpc, &user_id);

	// The parties bisect; the arbiters' off-chain workers decode up to the step, seal and
	// reveal; the honest party publishes the output; the dispute resolves.
	let started = Instant::now();
	let mut checked_step = None;
	let mut convicted_silent = false;
	let mut turns = std::collections::BTreeSet::new();
	let mut last_seen = String::new();
	while let Some(raw) = rpc.storage(&dispute_key(request), None) {
		let dispute = pallet_disputes::Dispute::<Runtime>::decode(&mut &raw[..]).expect("dispute");
		let seen = format!("round {} {:?} {:?}", dispute.round, dispute.phase, dispute.game);
		if seen != last_seen {
			println!("dispute: {seen}");
			last_seen = seen;
		}
		convicted_silent |= dispute.convicted.contains(&cheater);
		match dispute.game {
			pallet_disputes::Game::Bisection(b) => {
				turns.insert((b.level, b.index));
			},
			pallet_disputes::Game::StepCheck(check) => checked_step = Some(check.step),
			pallet_disputes::Game::Full => {},
		}
		assert!(started.elapsed() < SETTLEMENT, "the dispute did not resolve:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	}
	println!(
		"dispute over request {} resolved after {:?}: {} bisection turns seen, step {checked_step:?} checked",
		request.0,
		started.elapsed(),
		turns.len(),
	);
	let result = rpc.storage(&result_key(request), None).map(|raw| {
		pallet_inference::types::RequestResult::<Runtime>::decode(&mut &raw[..]).expect("a result")
	});
	let result = result.expect("the winning output is on record");
	match expected_step {
		Some(expected_step) => {
			let step = checked_step.expect("the arbiters checked one step, not the whole output");
			assert!(
				expected_step(step, result.output_tokens),
				"{fault}: the traces were bisected to step {step} of {}",
				result.output_tokens
			);
		},
		None => {
			assert!(convicted_silent, "the silent party was convicted during the bisection");
			assert_eq!(checked_step, None, "no arbiter was needed");
		},
	}
	assert_eq!(result.nodes.to_vec(), vec![honest], "credited to the honest node alone");

	let slashed = node_record(&rpc, cheater).expect("the cheater's record");
	assert_eq!(slashed.collateral, 0, "the cheater lost all its collateral");
	// 20% to the honest node, 20% to the arbiters (two), 40% to the user.
	for (node, was) in &before {
		let now = free_balance(&rpc, &operator(*node));
		let share = match (*node == honest, expected_step.is_some()) {
			(true, _) => COLLATERAL / 5,
			(false, true) => COLLATERAL / 10,
			// No arbiter was drawn: none is paid.
			(false, false) => 0,
		};
		assert!(now >= was + share - UNITS, "{node:?} was paid its share: {was} -> {now}");
	}
	assert!(
		free_balance(&rpc, &user_id) >= user_before + COLLATERAL * 2 / 5,
		"the user got the escrow back and its share"
	);
	for node in (0..=3u64).map(NodeId) {
		let record = node_record(&rpc, node).expect("node");
		assert_eq!(record.reserved, 0, "{node:?} holds no reservation");
	}
	assert!(rpc.storage(&request_key(request), None).is_none(), "the request ended");

	// Every hold is released: the honest node can leave.
	let (_, name) =
		ids.iter().find(|(n, _)| *n == honest).cloned().unwrap_or((honest, "Alice".into()));
	let owner = pair(&name);
	let nonce = common::next_nonce(&rpc, &AccountId::from(owner.public()));
	submit(
		&rpc,
		&owner,
		RuntimeCall::NodeRegistry(pallet_node_registry::Call::deregister_node { node: honest }),
		nonce,
	);
	let epoch = current_epoch(&rpc);
	let started = Instant::now();
	while current_epoch(&rpc) < epoch + 2 {
		assert!(started.elapsed() < STARTUP, "epochs stalled:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	}
	submit(
		&rpc,
		&owner,
		RuntimeCall::NodeRegistry(pallet_node_registry::Call::withdraw_node { node: honest }),
		nonce + 1,
	);
	let started = Instant::now();
	while node_record(&rpc, honest).is_some() {
		assert!(started.elapsed() < STARTUP, "withdrawal failed:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	}
	for node in net.nodes.into_iter().rev() {
		let status = node.stop(Duration::from_secs(60));
		assert!(status.success(), "node exited with {status}");
	}
}

/// The selective-upload attack, on real nodes and workers: the user uploads its by-hash input to
/// one selected worker only, hoping the other node times out or attests "unavailable" and is
/// disputed. The other node's worker refuses the job (`input_not_uploaded`); its off-chain worker
/// reads the input from the served node's worker, signing the read with its worker key, and that
/// worker serves it once its own node has checked on chain that the reader was selected. Both
/// nodes run the request and it settles like any other: no attestation, no dispute, nobody
/// slashed.
#[test]
fn a_user_who_uploads_its_input_to_one_node_only_makes_nobody_lose() {
	let (net, ids) = network(None, &[]);
	let rpc = net.rpc();
	let user = pair("Ferdie");
	let user_id = AccountId::from(user.public());
	let hash = sp_crypto_hashing::blake2_256(PROMPT);
	let collateral_before: Vec<Balance> =
		(0..=3u64).map(|i| node_record(&rpc, NodeId(i)).expect("node").collateral).collect();
	let user_before = free_balance(&rpc, &user_id);

	let request = {
		let raw = rpc.storage(&hex_encode(&value_key(b"Inference", b"NextRequestId")), None);
		RequestId(raw.map(|r| u64::decode(&mut &r[..]).expect("an id")).unwrap_or(0))
	};
	let mut by_hash = spec();
	by_hash.input = RequestInput::Hash(hash);
	// A short window: a node that could not read the input would attest from its middle on.
	by_hash.timeout = 20;
	let nonce = common::next_nonce(&rpc, &user_id);
	submit(
		&rpc,
		&user,
		RuntimeCall::Inference(pallet_inference::Call::submit_request { spec: by_hash }),
		nonce,
	);
	// Once the nodes are drawn, upload to the first only.
	let started = Instant::now();
	let parties = loop {
		if let Some(raw) = rpc.storage(&request_key(request), None) {
			let r = pallet_inference::Request::<Runtime>::decode(&mut &raw[..]).expect("request");
			if !r.nodes.is_empty() {
				break r.nodes.to_vec();
			}
		}
		assert!(started.elapsed() < SETTLEMENT, "no selection:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(200));
	};
	let (served, starved) = (parties[0], parties[1]);
	upload_to(&net, &ids, served);
	println!("request {} drawn {parties:?}; input uploaded to {served:?} only", request.0);

	// The starved node reads the input from the served one: both run it, and it settles.
	let started = Instant::now();
	while rpc.storage(&result_key(request), None).is_none() {
		assert!(
			rpc.storage(&dispute_key(request), None).is_none(),
			"no dispute: {starved:?} read the input from {served:?}:\n{}",
			net.logs()
		);
		assert!(started.elapsed() < SETTLEMENT, "the request did not settle:\n{}", net.logs());
		std::thread::sleep(Duration::from_millis(500));
	}
	println!("request {} settled {:?} after the upload", request.0, started.elapsed());
	assert!(rpc.storage(&dispute_key(request), None).is_none(), "never disputed");
	for i in 0..=3u64 {
		let record = node_record(&rpc, NodeId(i)).expect("node");
		assert_eq!(record.collateral, collateral_before[i as usize], "node {i} lost nothing");
		assert_eq!(record.reserved, 0, "node {i} holds no reservation");
	}
	let user_after = free_balance(&rpc, &user_id);
	assert!(user_after < user_before, "the user paid for its answer");
	for node in net.nodes.into_iter().rev() {
		let status = node.stop(Duration::from_secs(60));
		assert!(status.success(), "node exited with {status}");
	}
}
