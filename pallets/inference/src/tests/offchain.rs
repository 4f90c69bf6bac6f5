//! The off-chain worker against a scripted local worker (`TestOffchainExt` answers the HTTP calls
//! it expects); the real worker process is exercised by the node's end-to-end tests.

use std::sync::Arc;

use atoma_primitives::commitment::{output_digest, quorum_commitments};
use atoma_support::{inference::VerificationMode, worker_key::KEY_TYPE, NodeId};
use codec::{Decode, Encode};
use frame_support::traits::Hooks;
use sp_core::offchain::{
	testing::{PendingRequest, TestOffchainExt, TestTransactionPoolExt},
	OffchainDbExt, OffchainWorkerExt, StorageKind, TransactionPoolExt,
};
use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};

use super::*;
use crate::{
	mock::*,
	offchain::{JobState, WORKER_URL_KEY},
	Call,
};

const URL: &str = "http://worker.test";

type Pool = Arc<parking_lot::RwLock<sp_core::offchain::testing::PoolState>>;
type Offchain = Arc<parking_lot::RwLock<sp_core::offchain::testing::OffchainState>>;

/// One node (node 0, key `//node0` in the keystore) and the off-chain extensions.
fn ext() -> (sp_io::TestExternalities, Offchain, Pool) {
	ext_with_nodes(1)
}

/// `nodes` nodes, of which only node 0's key is in this node's keystore.
fn ext_with_nodes(nodes: u64) -> (sp_io::TestExternalities, Offchain, Pool) {
	let mut ext = ExtBuilder::default().nodes(nodes).build();
	let (offchain, offchain_state) = TestOffchainExt::new();
	let (pool, pool_state) = TestTransactionPoolExt::new();
	let keystore = MemoryKeystore::new();
	keystore.sr25519_generate_new(KEY_TYPE, Some("//node0")).unwrap();
	ext.register_extension(OffchainDbExt::new(offchain.clone()));
	ext.register_extension(OffchainWorkerExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt::new(keystore));
	ext.execute_with(|| {
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			WORKER_URL_KEY,
			&URL.as_bytes().to_vec().encode(),
		);
	});
	(ext, offchain_state, pool_state)
}

fn job_state(id: atoma_support::RequestId) -> Option<JobState> {
	let key = [b"atoma/job/".as_slice(), &(id, NodeId(0)).encode()].concat();
	sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, &key)
		.and_then(|v| JobState::decode(&mut &v[..]).ok())
}

fn set_job_state(id: atoma_support::RequestId, state: JobState) {
	let key = [b"atoma/job/".as_slice(), &(id, NodeId(0)).encode()].concat();
	sp_io::offchain::local_storage_set(StorageKind::PERSISTENT, &key, &state.encode());
}

fn expected_post(id: atoma_support::RequestId, response: &str) -> PendingRequest {
	let r = request(id);
	let body = serde_json::json!({
		"model": MODEL,
		"max_tokens": 10,
		"temperature_milli": 0,
		"top_k": 0,
		"top_p_milli": 1000,
		"seed": r.params.seed,
		"node_index": 0,
		"quorum_size": 1,
		"max_prompt_tokens": 5,
		"prompt": "hello",
	});
	PendingRequest {
		method: "POST".into(),
		uri: format!("{URL}/v1/jobs"),
		headers: vec![("Content-Type".into(), "application/json".into())],
		body: serde_json::to_vec(&body).unwrap(),
		response: Some(response.as_bytes().to_vec()),
		sent: true,
		..Default::default()
	}
}

fn completed_job(o: &[u8]) -> String {
	let q = quorum_commitments(o, 1);
	let ids = atoma_primitives::output::decode_canonical(o).unwrap().0;
	serde_json::json!({
		"id": "job-1",
		"status": "completed",
		"usage": { "prompt_tokens": 4 },
		"output": { "token_ids": ids, "text": "Paris", "finish_reason": "stop" },
		"commitments": {
			"output_hash": hex::encode(output_digest(o)),
			"root": hex::encode(q.root),
			"leaf": hex::encode(q.leaves[0]),
			"trace_root": hex::encode(trace_root_of(o)),
		},
	})
	.to_string()
}

/// `GET /v1/outputs/{job}` of a job that produced `o`, listing `steps` of its trace.
fn job_output(job: &str, steps: &[[u8; 32]]) -> PendingRequest {
	let steps: Vec<serde_json::Value> = steps
		.iter()
		.enumerate()
		.map(|(i, d)| serde_json::json!({ "step": i, "digest": hex::encode(d) }))
		.collect();
	let body = serde_json::json!({ "job_id": job, "trace": { "steps": steps } });
	PendingRequest {
		method: "GET".into(),
		uri: format!("{URL}/v1/outputs/{job}"),
		response: Some(body.to_string().into_bytes()),
		sent: true,
		..Default::default()
	}
}

/// `GET /v1/jobs/{job}` answered with `body`.
fn job_status(job: &str, body: String) -> PendingRequest {
	PendingRequest {
		method: "GET".into(),
		uri: format!("{URL}/v1/jobs/{job}"),
		response: Some(body.into_bytes()),
		sent: true,
		..Default::default()
	}
}

/// `kind` with the worker's count of prompt tokens.
fn with_input_tokens(mut kind: crate::CommitmentKind, count: u32) -> crate::CommitmentKind {
	if let crate::CommitmentKind::Quorum { input_tokens, .. } = &mut kind {
		*input_tokens = count;
	}
	kind
}

/// The call of the transaction the off-chain worker last put in the pool.
fn pooled_call(pool: &Pool) -> Call<Test> {
	let tx = pool.write().transactions.pop().expect("a transaction was submitted");
	let xt = frame_system::mocking::MockUncheckedExtrinsic::<Test>::decode(&mut &tx[..]).unwrap();
	let RuntimeCall::Inference(call) = xt.function else { panic!("not an inference call") };
	call
}

/// The commitment the off-chain worker last put in the pool.
fn pooled_commitment(pool: &Pool) -> (crate::CommitmentPayload, sp_core::sr25519::Signature) {
	let Call::submit_commitment { payload, signature } = pooled_call(pool) else {
		panic!("not a commitment")
	};
	(payload, signature)
}

/// The authorized publication the off-chain worker last put in the pool.
fn pooled_publication(pool: &Pool) -> (atoma_support::RequestId, Vec<u8>) {
	let Call::publish_output { request, output } = pooled_call(pool) else {
		panic!("not a publication")
	};
	(request, output)
}

/// Dispatch the commitment the off-chain worker last put in the pool, as a block would.
fn include_pooled_commitment(pool: &Pool) {
	let (payload, signature) = pooled_commitment(pool);
	assert_ok!(Inference::submit_commitment(
		frame_system::RawOrigin::Authorized.into(),
		payload,
		signature
	));
}

#[test]
fn the_worker_runs_the_job_and_the_node_commits() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		offchain.write().expect_request(expected_post(id, r#"{"id":"job-1","status":"queued"}"#));
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"job-1".to_vec(), attempts: 0 }));
		assert!(pool.read().transactions.is_empty(), "inference never blocks the worker");

		// Still running: nothing submitted.
		offchain
			.write()
			.expect_request(job_status("job-1", r#"{"id":"job-1","status":"running"}"#.into()));
		Inference::offchain_worker(3);
		assert!(pool.read().transactions.is_empty());

		let o = output(11, 3);
		let completed = || job_status("job-1", completed_job(&o));
		// Steps that do not hash to the committed trace root: a broken worker, tried again.
		offchain.write().expect_request(completed());
		offchain.write().expect_request(job_output("job-1", &trace_of(&o)[..2]));
		Inference::offchain_worker(4);
		assert!(matches!(job_state(id), Some(JobState::Backoff { .. })));
		assert!(pool.read().transactions.is_empty());
		set_job_state(id, JobState::Running { job: b"job-1".to_vec(), attempts: 0 });

		offchain.write().expect_request(completed());
		offchain.write().expect_request(job_output("job-1", &trace_of(&o)));
		Inference::offchain_worker(4);
		assert!(matches!(job_state(id), Some(JobState::Committed { .. })));
		// The steps are kept for a dispute's bisection.
		let kept = sp_io::offchain::local_storage_get(
			StorageKind::PERSISTENT,
			&atoma_support::offchain_jobs::trace_key(id, NodeId(0)),
		)
		.and_then(|v| atoma_support::offchain_jobs::JobTrace::decode(&mut &v[..]).ok())
		.expect("the trace is kept");
		assert_eq!((kept.step_digests, kept.canonical_output), (trace_of(&o), o.clone()));
		let (payload, signature) = pooled_commitment(&pool);
		// The prompt tokens are the worker's count (4), not the request's declaration (5).
		assert_eq!(payload.kind, with_input_tokens(quorum_kind(&o, 0, 1), 4));
		// The signature is the worker key's: the pool accepts it and the request settles.
		assert!(authorize(&payload, &signature).is_ok());
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert!(crate::Results::<Test>::get(id).is_some());
		// Settled: the worker has nothing more to do.
		Inference::offchain_worker(5);
		assert!(pool.read().transactions.is_empty());
	});
}

#[test]
fn a_failing_worker_is_retried_with_backoff() {
	let (mut ext, offchain, _pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		let mut refused = expected_post(id, r#"{"error":{"message":"busy"}}"#);
		refused.response_headers = vec![];
		offchain.write().expect_request(PendingRequest { ..refused });
		// TestOffchainExt answers 200 to every request; a body without an id is a failure too.
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), Some(JobState::Backoff { retry_at: 3, attempts: 1 }));
		// Block 3: retried, and accepted.
		offchain.write().expect_request(expected_post(id, r#"{"id":7}"#));
		Inference::offchain_worker(3);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"7".to_vec(), attempts: 1 }));
	});
}

#[test]
fn without_a_worker_url_or_a_key_nothing_happens() {
	let (mut ext, _offchain, pool) = ext();
	ext.execute_with(|| {
		sp_io::offchain::local_storage_clear(StorageKind::PERSISTENT, WORKER_URL_KEY);
		let id = submit_and_select(VerificationMode::Single);
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), None);
		assert!(pool.read().transactions.is_empty());
	});
}

#[test]
fn job_bodies_carry_chat_messages_as_messages() {
	ExtBuilder::default().build_and_execute(|| {
		let mut s = spec(VerificationMode::Single);
		s.input = atoma_support::inference::RequestInput::Inline(
			br#"[{"role":"user","content":"Capital of France?"}]"#.to_vec(),
		);
		let id = submit(s);
		next_block();
		let body = Inference::job_body(
			&request(id),
			&crate::offchain::Role::Public { index: 0, quorum: 1 },
		)
		.expect("inline input");
		let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
		assert_eq!(json["messages"][0]["content"], "Capital of France?");
		assert!(json.get("prompt").is_none());
		all_commit(id, &output(1, 1));
	});
}

#[test]
fn inputs_given_by_hash_go_to_the_worker_as_input_hash() {
	ExtBuilder::default().build_and_execute(|| {
		let mut s = spec(VerificationMode::Single);
		let hash = sp_io::hashing::blake2_256(b"a prompt uploaded off chain");
		s.input = atoma_support::inference::RequestInput::Hash(hash);
		let id = submit(s);
		next_block();
		let body = Inference::job_body(
			&request(id),
			&crate::offchain::Role::Public { index: 0, quorum: 1 },
		)
		.expect("a body");
		let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
		assert_eq!(json["input_hash"], hex::encode(hash));
		assert!(json.get("prompt").is_none() && json.get("messages").is_none());
		all_commit(id, &output(1, 1));
	});
}

#[test]
fn finished_jobs_parse_and_bad_ones_fail() {
	use atoma_support::offchain_jobs::{parse_job, Poll};
	let o = output(1, 2);
	assert!(
		matches!(parse_job(completed_job(&o).as_bytes()), Poll::Done(d) if d.output_tokens == 2)
	);
	assert_eq!(parse_job(br#"{"status":"running"}"#), Poll::Pending);
	assert_eq!(parse_job(br#"{"status":"failed"}"#), Poll::Failed);
	assert_eq!(parse_job(br#"{"status":"completed","commitments":{"root":"zz"}}"#), Poll::Failed);
	assert_eq!(parse_job(b"not json"), Poll::Pending);
}

#[test]
fn the_worker_finds_every_job_with_500_in_flight() {
	const JOBS: u32 = 500;
	let (mut ext, offchain, _pool) = ext();
	ext.execute_with(|| {
		MaxPendingSelections::set(JOBS);
		MaxSelectionsPerBlock::set(JOBS);
		MaxDeadlinesPerBlock::set(JOBS);
		// Collateral for 500 jobs at once.
		assert_ok!(NodeRegistry::add_collateral(
			RuntimeOrigin::signed(OPERATOR_BASE),
			NodeId(0),
			JOBS as u64 * JOB_COLLATERAL,
		));
		let ids: Vec<_> = (0..JOBS).map(|_| submit(spec(VerificationMode::Single))).collect();
		next_block();
		assert_eq!(crate::Assignments::<Test>::iter_prefix(NodeId(0)).count(), JOBS as usize);

		// One run posts every job, in the index's order.
		let mut in_order: Vec<_> = crate::Assignments::<Test>::iter_key_prefix(NodeId(0)).collect();
		in_order.sort();
		for id in &in_order {
			offchain.write().expect_request(expected_post(*id, r#"{"id":"j","status":"queued"}"#));
		}
		Inference::offchain_worker(2);
		for id in &ids {
			assert_eq!(
				job_state(*id),
				Some(JobState::Running { job: b"j".to_vec(), attempts: 0 }),
				"{id:?}"
			);
		}
	});
}

#[test]
fn a_verifier_seat_found_by_the_sortition_task_is_served_after_the_primary() {
	use atoma_support::NodeRegistry as _;
	let (mut ext, offchain, pool) = ext_with_nodes(2);
	ext.execute_with(|| {
		let mode =
			VerificationMode::CrossValidation { n: 1, p: sp_runtime::Perbill::from_percent(100) };
		// Node 0 has no free collateral at selection, so node 1 is the primary.
		assert_ok!(NodeRegistry::reserve_collateral(NodeId(0), NODE_COLLATERAL));
		let id = submit_and_select(mode);
		assert_eq!(selected(id), vec![NodeId(1)]);
		NodeRegistry::release_collateral(NodeId(0), NODE_COLLATERAL);
		assert_eq!(crate::Assignments::<Test>::iter_prefix(NodeId(0)).count(), 0);
		// There was no other candidate at selection: open the sortition to node 0 by hand.
		crate::Requests::<Test>::mutate(id, |r| {
			if let Some(r) = r {
				r.sortition_threshold = u128::MAX;
			}
		});

		// Nothing on chain names node 0: without the seat its worker has nothing to do.
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), None);

		// The sortition task found the seat and left the proof.
		let key = node_pair(0).public();
		let seats = vec![(id, key)];
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			crate::offchain::VERIFIER_SEATS_KEY,
			&seats.encode(),
		);
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			&crate::offchain::proof_key(id, &key),
			&vrf_proof(id, NodeId(0)).encode(),
		);
		offchain.write().expect_request(expected_post(id, r#"{"id":"v","status":"queued"}"#));
		Inference::offchain_worker(3);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"v".to_vec(), attempts: 0 }));

		// Done before the primary committed: the verifier keeps its commitment to itself (on
		// chain or in a pool it would tell the primary it is verified).
		let o = output(2, 3);
		offchain.write().expect_request(job_status("v", completed_job(&o)));
		offchain.write().expect_request(job_output("v", &trace_of(&o)));
		Inference::offchain_worker(4);
		assert!(matches!(job_state(id), Some(JobState::Committed { .. })));
		assert!(pool.read().transactions.is_empty(), "nothing sent before the primary commits");
		Inference::offchain_worker(5);
		assert!(pool.read().transactions.is_empty());

		// The primary's commitment is in: the verifier's follows.
		assert_ok!(submit_signed(payload(id, NodeId(1), sealed_kind(id, NodeId(1), &o, false))));
		Inference::offchain_worker(6);
		let (payload, signature) = pooled_commitment(&pool);
		assert!(matches!(payload.kind, crate::CommitmentKind::Sealed { vrf: Some(_), .. }));
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert_eq!(request(id).verifiers.to_vec(), vec![NodeId(0)]);
	});
}

#[test]
fn ended_jobs_leave_nothing_in_offchain_storage() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		offchain.write().expect_request(expected_post(id, r#"{"id":"job-1","status":"queued"}"#));
		Inference::offchain_worker(2);
		let o = output(11, 3);
		offchain.write().expect_request(job_status("job-1", completed_job(&o)));
		offchain.write().expect_request(job_output("job-1", &trace_of(&o)));
		Inference::offchain_worker(3);
		let trace = atoma_support::offchain_jobs::trace_key(id, NodeId(0));
		assert!(sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, &trace).is_some());
		assert!(job_state(id).is_some());

		// The commitment lands; the request settles and leaves the chain's requests in flight.
		let (payload, signature) = pooled_commitment(&pool);
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert!(crate::Requests::<Test>::get(id).is_none());

		Inference::offchain_worker(4);
		assert_eq!(job_state(id), None);
		assert!(sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, &trace).is_none());
		let kept = sp_io::offchain::local_storage_get(
			StorageKind::PERSISTENT,
			crate::offchain::KEPT_JOBS_KEY,
		)
		.map(|v| Vec::<(atoma_support::RequestId, NodeId)>::decode(&mut &v[..]).unwrap());
		assert_eq!(kept, Some(vec![]));
	});
}

/// Run node 0's job for `id` to its commitment: post, complete with output `o`, keep the trace.
fn run_job_to_commitment(offchain: &Offchain, id: atoma_support::RequestId, o: &[u8], at: u64) {
	offchain.write().expect_request(expected_post(id, r#"{"id":"job-1","status":"queued"}"#));
	Inference::offchain_worker(at);
	offchain.write().expect_request(job_status("job-1", completed_job(o)));
	offchain.write().expect_request(job_output("job-1", &trace_of(o)));
	Inference::offchain_worker(at + 1);
}

#[test]
fn a_commitment_the_pool_dropped_is_sent_again() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		let o = output(11, 3);
		run_job_to_commitment(&offchain, id, &o, 2);
		let sent = pooled_commitment(&pool);
		assert!(pool.read().transactions.is_empty(), "dropped before inclusion");

		// The next run sees no commitment on chain and sends the same one again.
		Inference::offchain_worker(4);
		let again = pooled_commitment(&pool);
		assert_eq!(again.0, sent.0);
		assert_eq!(again.0.kind, with_input_tokens(quorum_kind(&o, 0, 1), 4));
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			again.0,
			again.1
		));
		assert!(crate::Results::<Test>::get(id).is_some());
	});
}

#[test]
fn a_reveal_the_pool_dropped_is_sent_again() {
	use atoma_support::NodeRegistry as _;
	let (mut ext, offchain, pool) = ext_with_nodes(2);
	ext.execute_with(|| {
		let mode =
			VerificationMode::CrossValidation { n: 1, p: sp_runtime::Perbill::from_percent(100) };
		// Node 1 has no free collateral at selection, so node 0 (this node) is the primary.
		assert_ok!(NodeRegistry::reserve_collateral(NodeId(1), NODE_COLLATERAL));
		let id = submit_and_select(mode);
		assert_eq!(selected(id), vec![NodeId(0)]);
		let o = output(11, 3);
		run_job_to_commitment(&offchain, id, &o, 2);
		let (payload, signature) = pooled_commitment(&pool);
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));

		// The commit window closes; the reveal goes out, and is dropped.
		run_to_block(7);
		assert!(matches!(request(id).phase, crate::Phase::Revealing { .. }));
		Inference::offchain_worker(7);
		let first = pooled_commitment(&pool);
		assert_eq!(first.0.kind, reveal_kind(&o));
		assert!(matches!(job_state(id), Some(JobState::Committed { .. })), "not revealed yet");

		Inference::offchain_worker(8);
		let again = pooled_commitment(&pool);
		assert_eq!(again.0, first.0);
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			again.0,
			again.1
		));
		assert!(crate::Results::<Test>::get(id).is_some());
		NodeRegistry::release_collateral(NodeId(1), NODE_COLLATERAL);
	});
}

#[test]
fn each_failure_of_a_running_job_backs_off_longer() {
	let (mut ext, offchain, _pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		// Two failures so far; the third attempt is running.
		set_job_state(id, JobState::Running { job: b"job-1".to_vec(), attempts: 2 });
		offchain.write().expect_request(job_status("job-1", r#"{"status":"failed"}"#.into()));
		Inference::offchain_worker(2);
		// 2^2 blocks, not 1: the count survives the attempt.
		assert_eq!(job_state(id), Some(JobState::Backoff { retry_at: 6, attempts: 3 }));
		offchain.write().expect_request(expected_post(id, r#"{"id":"job-2"}"#));
		Inference::offchain_worker(6);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"job-2".to_vec(), attempts: 3 }));
	});
}

/// The selective-upload attack, seen from the node: its worker never got the input. It asks
/// every block until the middle of the window (the user may still upload), then attests
/// "input unavailable", and sends the attestation until the chain has it.
#[test]
fn a_node_whose_worker_lacks_the_input_attests_from_the_middle_of_the_window() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let mut s = spec(VerificationMode::Single);
		let hash = sp_io::hashing::blake2_256(b"never uploaded");
		s.input = atoma_support::inference::RequestInput::Hash(hash);
		let id = submit(s);
		next_block();
		let from = request(id).attest_unavailable_from().expect("executing") as u32;
		let refused = |id| {
			let mut post = expected_post(id, "");
			let mut body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
			body.as_object_mut().unwrap().remove("prompt");
			body["input_hash"] = hex::encode(hash).into();
			post.body = serde_json::to_vec(&body).unwrap();
			post.response = Some(
				br#"{"error":{"message":"no input","type":"input_not_uploaded","code":null}}"#
					.to_vec(),
			);
			post
		};
		for block in 2..from {
			offchain.write().expect_request(refused(id));
			Inference::offchain_worker(block.into());
			assert_eq!(
				job_state(id),
				Some(JobState::Backoff { retry_at: block + 1, attempts: 0 }),
				"asked again next block, no backoff growth"
			);
			assert!(pool.read().transactions.is_empty(), "nothing attested before {from}");
		}
		run_to_block(from.into());
		offchain.write().expect_request(refused(id));
		Inference::offchain_worker(from.into());
		let reason = crate::UnservableReason::InputUnavailable;
		assert_eq!(job_state(id), Some(JobState::Unservable { reason }));
		let (payload, signature) = pooled_commitment(&pool);
		assert_eq!(payload.kind, crate::CommitmentKind::Unservable { reason });
		// Dropped from the pool: sent again next block, without asking the worker.
		Inference::offchain_worker((from + 1).into());
		assert_eq!(pooled_commitment(&pool).0, payload);
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert!(crate::Requests::<Test>::get(id).is_none(), "the request ended, nobody slashed");
	});
}

/// A refusal that is the node's own trouble (a full queue) is retried with backoff, never
/// attested: the request may well be servable.
#[test]
fn a_busy_worker_is_never_taken_for_an_unservable_request() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		let busy =
			expected_post(id, r#"{"error":{"message":"full","type":"queue_full","code":null}}"#);
		offchain.write().expect_request(busy);
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), Some(JobState::Backoff { retry_at: 3, attempts: 1 }));
		assert!(pool.read().transactions.is_empty());
	});
}

/// A job the worker took and never finishes (a stuck engine) is posted again once it has been
/// running for `HUNG_JOB_SECS`, as a failure (with backoff); a job merely running is left alone.
#[test]
fn a_hung_job_is_posted_again() {
	use atoma_support::offchain_jobs::HUNG_JOB_SECS;
	let (mut ext, offchain, _pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		set_job_state(id, JobState::Running { job: b"job-1".to_vec(), attempts: 0 });
		let started = 1_000_000u64;
		let running = format!(r#"{{"id":"job-1","status":"running","started_at":{started}}}"#);
		offchain.write().timestamp =
			sp_core::offchain::Timestamp::from_unix_millis((started + 30) * 1_000);
		offchain.write().expect_request(job_status("job-1", running.clone()));
		Inference::offchain_worker(2);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"job-1".to_vec(), attempts: 0 }));

		offchain.write().timestamp =
			sp_core::offchain::Timestamp::from_unix_millis((started + HUNG_JOB_SECS + 1) * 1_000);
		offchain.write().expect_request(job_status("job-1", running));
		Inference::offchain_worker(3);
		assert_eq!(job_state(id), Some(JobState::Backoff { retry_at: 4, attempts: 1 }));
		offchain.write().expect_request(expected_post(id, r#"{"id":"job-2"}"#));
		Inference::offchain_worker(4);
		assert_eq!(job_state(id), Some(JobState::Running { job: b"job-2".to_vec(), attempts: 1 }));
	});
}

/// A node upgraded while a request of its is disputed must still answer its bisection turns
/// from the trace it kept: one kept before traces recorded the prompt-token count still reads.
#[test]
fn a_trace_kept_by_an_earlier_node_version_still_reads() {
	use atoma_support::offchain_jobs::{kept_trace, trace_key};
	let (mut ext, _offchain, _pool) = ext();
	ext.execute_with(|| {
		let (id, node) = (atoma_support::RequestId(3), NodeId(0));
		let (digests, output) = (vec![[1u8; 32], [2; 32]], vec![9u8, 9]);
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			&trace_key(id, node),
			&(digests.clone(), output.clone()).encode(),
		);
		let trace = kept_trace(id, node).expect("the old layout reads");
		assert_eq!(
			(trace.step_digests, trace.canonical_output, trace.input_tokens),
			(digests, output, 0)
		);
		assert!(kept_trace(id, NodeId(1)).is_none());
	});
}

/// The node's job finisher commits a job the moment its worker finishes it, between blocks
/// (`InferenceApi::commit_finished_job`): checked like the off-chain worker checks it, kept for a
/// dispute, committed once even if an off-chain worker run gets there too.
#[test]
fn a_finished_job_is_committed_between_blocks_exactly_once() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		offchain.write().expect_request(expected_post(id, r#"{"id":"job-1","status":"queued"}"#));
		Inference::offchain_worker(2);
		assert_eq!(Inference::jobs_awaiting_output(), vec![(id, NodeId(0), b"job-1".to_vec())]);

		let o = output(11, 3);
		let view = completed_job(&o).into_bytes();
		let steps = |steps: &[[u8; 32]]| job_output("job-1", steps).response.unwrap();
		let all_steps = steps(&trace_of(&o));
		let commit = |node: u64, job: &[u8], view: &[u8], steps: &[u8]| {
			Inference::commit_finished_job(id, NodeId(node), job.to_vec(), view, steps)
		};
		// Not finished, steps that do not hash to the trace root, another job, another node:
		// nothing is committed and the job stays with the off-chain worker.
		let running = br#"{"id":"job-1","status":"running"}"#;
		assert!(!commit(0, b"job-1", running, &all_steps));
		assert!(!commit(0, b"job-1", &view, &steps(&trace_of(&o)[..2])));
		assert!(!commit(0, b"job-2", &view, &all_steps));
		assert!(!commit(1, b"job-1", &view, &all_steps));
		assert!(pool.read().transactions.is_empty());
		assert!(matches!(job_state(id), Some(JobState::Running { .. })));

		// Finished: committed now, with the steps kept; a second call (or a racing off-chain
		// worker run) finds it committed.
		assert!(commit(0, b"job-1", &view, &all_steps));
		assert!(!commit(0, b"job-1", &view, &all_steps));
		assert!(Inference::jobs_awaiting_output().is_empty());
		assert!(matches!(job_state(id), Some(JobState::Committed { .. })));
		assert_eq!(
			atoma_support::offchain_jobs::kept_trace(id, NodeId(0)).unwrap().step_digests,
			trace_of(&o)
		);
		let (payload, signature) = pooled_commitment(&pool);
		assert!(pool.read().transactions.is_empty(), "one commitment");
		assert_eq!(payload.kind, with_input_tokens(quorum_kind(&o, 0, 1), 4));
		assert_ok!(Inference::submit_commitment(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert!(crate::Results::<Test>::get(id).is_some());
		// Settled: nothing is committed again.
		assert!(!commit(0, b"job-1", &view, &all_steps));
	});
}

/// A request whose destination is on chain: the node that ran it publishes its output itself in
/// the run of the settling block, fee-less, and sends it again until it is on chain; then it
/// forgets the job. Nobody has to send a signed transaction.
#[test]
fn the_node_publishes_a_settled_output_bound_for_the_chain() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let mut spec = spec(VerificationMode::Single);
		spec.destination = atoma_support::inference::OutputDestination::OnChain;
		let id = submit(spec);
		next_block();
		let o = output(11, 3);
		run_job_to_commitment(&offchain, id, &o, 2);
		include_pooled_commitment(&pool);
		// Before settlement there was nothing to publish: the commitment was all.
		assert!(pool.read().transactions.is_empty());
		assert!(crate::Results::<Test>::get(id).is_some());

		// The settling block's run publishes the kept output.
		Inference::offchain_worker(4);
		let (request, output) = pooled_publication(&pool);
		assert_eq!((request, &output), (id, &o));
		let call = Call::<Test>::publish_output { request, output: output.clone() };
		use frame_support::traits::Authorize;
		assert!(call
			.authorize(sp_runtime::transaction_validity::TransactionSource::Local)
			.is_some_and(|v| v.is_ok()));
		// The pool dropped it: the next run sends it again, as the job is still kept.
		assert!(job_state(id).is_some());
		Inference::offchain_worker(5);
		let (again, output) = pooled_publication(&pool);
		assert_eq!(again, id);
		assert_ok!(Inference::publish_output(
			frame_system::RawOrigin::Authorized.into(),
			id,
			output
		));
		assert_eq!(crate::Outputs::<Test>::get(id).map(|o| o.to_vec()), Some(o.clone()));
		// Published: a second copy is stale, and the job is forgotten.
		let copy = Call::<Test>::publish_output { request: id, output: o.clone() };
		assert!(copy
			.authorize(sp_runtime::transaction_validity::TransactionSource::Local)
			.is_some_and(|v| v.is_err()));
		Inference::offchain_worker(6);
		assert!(pool.read().transactions.is_empty());
		assert_eq!(job_state(id), None);
	});
}

/// A request whose output stays off chain is never published; and a kept output that is not the
/// settled one (a node that was outvoted) is never sent: the pool would refuse it.
#[test]
fn only_the_settled_output_of_an_on_chain_request_is_published() {
	let (mut ext, offchain, pool) = ext();
	ext.execute_with(|| {
		let id = submit_and_select(VerificationMode::Single);
		let o = output(11, 3);
		run_job_to_commitment(&offchain, id, &o, 2);
		include_pooled_commitment(&pool);
		Inference::offchain_worker(4);
		assert!(pool.read().transactions.is_empty(), "the destination is the worker");
		assert_eq!(job_state(id), None);

		// An on-chain request settled on another output than the one this node kept.
		let mut spec = spec(VerificationMode::Single);
		spec.destination = atoma_support::inference::OutputDestination::OnChain;
		let id = submit(spec);
		next_block();
		run_job_to_commitment(&offchain, id, &o, 5);
		include_pooled_commitment(&pool);
		let other = output(12, 3);
		crate::Results::<Test>::mutate(id, |r| {
			if let Some(r) = r {
				r.output_commitment = quorum_commitments(&other, 1).root;
			}
		});
		Inference::offchain_worker(7);
		assert!(pool.read().transactions.is_empty());
		assert_eq!(job_state(id), None);
	});
}
