//! The arbiter's off-chain worker against a scripted local worker (`TestOffchainExt` answers the
//! HTTP calls it expects): it re-executes the disputed request, seals, and reveals.

use std::sync::Arc;

use atoma_primitives::commitment::output_digest;
use atoma_support::{
	offchain_jobs::JobState, offchain_keys::WORKER_URL_KEY, worker_key::KEY_TYPE, NodeId,
};
use codec::{Decode, Encode};
use frame_support::traits::Hooks;
use sp_core::offchain::{
	testing::{PendingRequest, TestOffchainExt, TestTransactionPoolExt},
	OffchainDbExt, OffchainWorkerExt, StorageKind, TransactionPoolExt,
};
use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};

use super::*;
use crate::{mock::*, offchain::job_key};

const URL: &str = "http://worker.test";

type Pool = Arc<parking_lot::RwLock<sp_core::offchain::testing::PoolState>>;
type Offchain = Arc<parking_lot::RwLock<sp_core::offchain::testing::OffchainState>>;

fn ext() -> (sp_io::TestExternalities, Offchain, Pool, MemoryKeystore) {
	let mut ext = ExtBuilder::default().build();
	let (offchain, offchain_state) = TestOffchainExt::new();
	let (pool, pool_state) = TestTransactionPoolExt::new();
	let keystore = MemoryKeystore::new();
	ext.register_extension(OffchainDbExt::new(offchain.clone()));
	ext.register_extension(OffchainWorkerExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt::new(keystore.clone()));
	ext.execute_with(|| {
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			WORKER_URL_KEY,
			&URL.as_bytes().to_vec().encode(),
		);
	});
	(ext, offchain_state, pool_state, keystore)
}

fn job_state(id: RequestId, round: u32, node: NodeId) -> Option<JobState> {
	sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, &job_key(id, round, node))
		.and_then(|v| JobState::decode(&mut &v[..]).ok())
}

fn completed_job(o: &[u8]) -> String {
	let q = quorum_commitments(o, 1);
	let ids = atoma_primitives::output::decode_canonical(o).unwrap().0;
	serde_json::json!({
		"id": "job-7",
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

/// `GET /v1/outputs/{job}` of a job that produced `o`, with its steps.
fn job_output(job: &str, o: &[u8]) -> PendingRequest {
	let steps: Vec<serde_json::Value> = trace_of(o)
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

/// The `POST /v1/jobs` the arbiter sends for request `id`, answered with `response`.
fn job_post(id: RequestId, response: &str) -> PendingRequest {
	job_post_limited(id, 10, response)
}

/// The same, generating at most `max_tokens`.
fn job_post_limited(id: RequestId, max_tokens: u32, response: &str) -> PendingRequest {
	let r = request(id);
	let body = serde_json::json!({
		"model": MODEL,
		"max_tokens": max_tokens,
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

/// The vote the off-chain worker put in the pool, after checking the pool would accept it.
fn pooled_vote(pool: &Pool) -> (crate::pallet::VotePayloadOf<Test>, sp_core::sr25519::Signature) {
	let tx = pool.write().transactions.pop().expect("a vote was submitted");
	let xt = frame_system::mocking::MockUncheckedExtrinsic::<Test>::decode(&mut &tx[..]).unwrap();
	let RuntimeCall::Disputes(Call::submit_vote { payload, signature }) = xt.function else {
		panic!("not a vote")
	};
	(payload, signature)
}

#[test]
fn an_arbiter_re_executes_seals_and_reveals() {
	let (mut ext, offchain, pool, keystore) = ext();
	ext.execute_with(|| {
		let honest_output = output(11, 3);
		let (id, _) = disputed_sampling(&[honest_output.clone(), output(12, 3)]);
		let arbiter = run_to_draw(id)[0];
		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", arbiter.0))).unwrap();
		let now = System::block_number();

		// The job: the request's prompt and parameters with the chain's sampler seed.
		offchain.write().expect_request(job_post(id, r#"{"id":"job-7","status":"queued"}"#));
		Disputes::offchain_worker(now);
		assert_eq!(
			job_state(id, 0, arbiter),
			Some(JobState::Running { job: b"job-7".to_vec(), attempts: 0 })
		);
		assert!(pool.read().transactions.is_empty());

		offchain.write().expect_request(PendingRequest {
			method: "GET".into(),
			uri: format!("{URL}/v1/jobs/job-7"),
			response: Some(completed_job(&honest_output).into_bytes()),
			sent: true,
			..Default::default()
		});
		Disputes::offchain_worker(now + 1);
		let (payload, signature) = pooled_vote(&pool);
		let expected = verdict(&honest_output, 2);
		assert_eq!(payload.vote, seal_of(arbiter, &expected), "the verdict has both leaves");
		assert_ok!(Disputes::submit_vote(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert_eq!(
			job_state(id, 0, arbiter),
			Some(JobState::Committed { output_digest: expected.digest() })
		);

		// The other arbiters seal; the reveal window opens and the worker reveals.
		let others: Vec<NodeId> = dispute(id).round_arbiters()[1..].to_vec();
		for node in &others {
			assert_ok!(vote(id, *node, seal_of(*node, &expected)));
		}
		assert!(matches!(dispute(id).phase, DisputePhase::Revealing { .. }));
		Disputes::offchain_worker(System::block_number());
		let (payload, signature) = pooled_vote(&pool);
		assert_eq!(payload.vote, Vote::Revealed(expected.clone()));
		// Until the chain has the reveal, the worker sends it again every block.
		Disputes::offchain_worker(System::block_number());
		let (again, _) = pooled_vote(&pool);
		assert_eq!(again, payload);
		assert_ok!(Disputes::submit_vote(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		Disputes::offchain_worker(System::block_number());
		assert!(pool.read().transactions.is_empty(), "on chain: nothing more is sent");
		assert_eq!(job_state(id, 0, arbiter), Some(JobState::Revealed));
		for node in &others {
			assert_ok!(vote(id, *node, Vote::Revealed(expected.clone())));
		}
		assert!(crate::Disputes::<Test>::get(id).is_none(), "resolved");
		// The duty ended: the next run removes what the job left in offchain storage.
		Disputes::offchain_worker(System::block_number());
		assert_eq!(job_state(id, 0, arbiter), None);
		let kept = sp_io::offchain::local_storage_get(
			StorageKind::PERSISTENT,
			crate::offchain::KEPT_ARBITER_JOBS_KEY,
		)
		.map(|v| Vec::<(RequestId, u32, NodeId)>::decode(&mut &v[..]).unwrap());
		assert_eq!(kept, Some(vec![]));
	});
}

#[test]
fn an_unreachable_worker_backs_off_and_a_party_never_arbitrates() {
	let (mut ext, offchain, pool, keystore) = ext();
	ext.execute_with(|| {
		let (id, nodes) = disputed_sampling(&[output(1, 3), output(2, 3)]);
		let arbiter = run_to_draw(id)[0];
		// A party's key: it is not an arbiter, so its worker does nothing.
		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", nodes[0].0))).unwrap();
		Disputes::offchain_worker(System::block_number());
		assert!(job_state(id, 0, nodes[0]).is_none());

		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", arbiter.0))).unwrap();
		let now = System::block_number();
		// The worker answers without a job id: a failure, and the job backs off a block.
		offchain.write().expect_request(job_post(id, r#"{"error":{"message":"busy"}}"#));
		Disputes::offchain_worker(now);
		let backoff = JobState::Backoff { retry_at: now as u32 + 1, attempts: 1 };
		assert_eq!(job_state(id, 0, arbiter), Some(backoff));
		// Still backing off in the same block: nothing is sent.
		Disputes::offchain_worker(now);
		offchain.write().expect_request(job_post(id, r#"{"id":"job-8"}"#));
		Disputes::offchain_worker(now + 1);
		assert_eq!(
			job_state(id, 0, arbiter),
			// One failure so far: a failure of this attempt would wait two blocks.
			Some(JobState::Running { job: b"job-8".to_vec(), attempts: 1 })
		);
		assert!(pool.read().transactions.is_empty());
	});
}

/// The transaction the off-chain worker put in the pool.
fn pooled_call(pool: &Pool) -> RuntimeCall {
	let tx = pool.write().transactions.pop().expect("a transaction was submitted");
	frame_system::mocking::MockUncheckedExtrinsic::<Test>::decode(&mut &tx[..]).unwrap().function
}

/// Two parties of 8-token outputs that differ at step 5; each has its job's trace in its
/// offchain storage, as the inference pallet's worker left it.
fn bisecting_parties(keystore: &MemoryKeystore) -> (RequestId, Vec<NodeId>, [Vec<u8>; 2]) {
	PublishableOutputLen::set(4_096);
	let honest = output(20, 8);
	let mut ids: Vec<u32> = (20..28).collect();
	ids[5] = 1;
	let tampered = CanonicalOutput::new(&ids, FinishReason::Stop).encode_canonical();
	let (id, nodes) = disputed_sampling(&[honest.clone(), tampered.clone()]);
	for (node, o) in nodes.iter().zip([&honest, &tampered]) {
		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", node.0))).unwrap();
		let trace = atoma_support::offchain_jobs::JobTrace {
			step_digests: trace_of(o),
			canonical_output: o.clone(),
			input_tokens: 5,
		};
		sp_io::offchain::local_storage_set(
			StorageKind::PERSISTENT,
			&atoma_support::offchain_jobs::trace_key(id, *node),
			&trace.encode(),
		);
	}
	(id, nodes, [honest, tampered])
}

#[test]
fn parties_answer_every_turn_from_their_kept_steps_and_a_survivor_publishes() {
	let (mut ext, offchain, pool, keystore) = ext();
	ext.execute_with(|| {
		let (id, nodes, [honest, _]) = bisecting_parties(&keystore);
		// Each run answers the current turn for both local parties; the chain takes them.
		while matches!(dispute(id).game, crate::Game::Bisection(_)) {
			Disputes::offchain_worker(System::block_number());
			assert_eq!(pool.read().transactions.len(), 2, "one answer per side");
			for _ in 0..2 {
				let RuntimeCall::Disputes(Call::submit_bisection { payload, signature }) =
					pooled_call(&pool)
				else {
					panic!("not an answer")
				};
				let call = Call::<Test>::submit_bisection { payload: payload.clone(), signature };
				assert!(call.authorize(TransactionSource::External).unwrap().is_ok());
				assert_ok!(Disputes::submit_bisection(
					frame_system::RawOrigin::Authorized.into(),
					payload,
					signature
				));
			}
			next_block();
		}
		let crate::Game::StepCheck(check) = dispute(id).game else { panic!("a step check") };
		assert_eq!(check.step, 5);

		// An arbiter of the step check decodes steps 0..=5 only.
		let arbiters = run_to_draw(id);
		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", arbiters[0].0))).unwrap();
		let now = System::block_number();
		offchain.write().expect_request(job_post_limited(id, 6, r#"{"id":"job-9"}"#));
		Disputes::offchain_worker(now);
		let prefix = output(20, 6);
		offchain.write().expect_request(PendingRequest {
			method: "GET".into(),
			uri: format!("{URL}/v1/jobs/job-9"),
			response: Some(completed_job(&prefix).replace("job-7", "job-9").into_bytes()),
			sent: true,
			..Default::default()
		});
		offchain.write().expect_request(job_output("job-9", &prefix));
		Disputes::offchain_worker(now + 1);
		let expected = Disputes::step_verdict(&check, &trace_of(&prefix));
		let RuntimeCall::Disputes(Call::submit_vote { payload, signature }) = pooled_call(&pool)
		else {
			panic!("not a vote")
		};
		let seal = sealed_commitment(&expected.digest(), &pair_of(arbiters[0]).public().0);
		assert_eq!(payload.vote, Vote::Sealed(seal));
		assert_ok!(Disputes::submit_vote(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		for node in &arbiters[1..] {
			let seal = sealed_commitment(&expected.digest(), &pair_of(*node).public().0);
			assert_ok!(vote(id, *node, Vote::Sealed(seal)));
		}
		Disputes::offchain_worker(System::block_number());
		let RuntimeCall::Disputes(Call::submit_vote { payload, signature }) = pooled_call(&pool)
		else {
			panic!("not a vote")
		};
		assert_eq!(payload.vote, Vote::RevealedStep(expected.clone()));
		assert_ok!(Disputes::submit_vote(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		for node in &arbiters[1..] {
			assert_ok!(vote(id, *node, Vote::RevealedStep(expected.clone())));
		}

		// The tampering side is convicted; the honest party's worker publishes its output.
		assert!(matches!(dispute(id).phase, DisputePhase::AwaitingOutput { .. }));
		Disputes::offchain_worker(System::block_number());
		let RuntimeCall::Disputes(Call::submit_output { payload, signature }) = pooled_call(&pool)
		else {
			panic!("not a publication")
		};
		assert_eq!((payload.node, payload.output.to_vec()), (nodes[0], honest));
		assert!(pool.read().transactions.is_empty(), "the convicted party publishes nothing");
		assert_ok!(Disputes::submit_output(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert!(crate::Disputes::<Test>::get(id).is_none(), "resolved");
		assert_eq!(collateral(nodes[1]), 0);
	});
}

/// An arbiter whose worker cannot serve the disputed request (it has no copy of a by-hash input,
/// or the prompt is past the context) seals the "unservable" verdict at once, instead of backing
/// off until it times out and loses collateral.
#[test]
fn an_arbiter_whose_worker_refuses_the_request_votes_unservable() {
	let (mut ext, offchain, pool, keystore) = ext();
	ext.execute_with(|| {
		let (id, _) = disputed_sampling(&[output(11, 3), output(12, 3)]);
		let arbiter = run_to_draw(id)[0];
		keystore.sr25519_generate_new(KEY_TYPE, Some(&format!("//node{}", arbiter.0))).unwrap();
		let refused = r#"{"error":{"message":"no input","type":"input_not_uploaded","code":null}}"#;
		offchain.write().expect_request(job_post(id, refused));
		Disputes::offchain_worker(System::block_number());
		let (payload, signature) = pooled_vote(&pool);
		let unavailable = crate::Verdict::unservable(
			atoma_primitives::unservable::UnservableReason::InputUnavailable,
		);
		assert_eq!(payload.vote, seal_of(arbiter, &unavailable));
		assert_ok!(Disputes::submit_vote(
			frame_system::RawOrigin::Authorized.into(),
			payload,
			signature
		));
		assert_eq!(
			job_state(id, 0, arbiter),
			Some(JobState::Committed { output_digest: unavailable.digest() })
		);
	});
}
