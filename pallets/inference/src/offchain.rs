//! The off-chain worker (protocol §10): it pairs this node's worker keys with the local inference
//! worker.
//!
//! Each block it reads the jobs of the nodes whose worker keys are in this node's keystore: the
//! chain's index of assignments (`Assignments`: drawn nodes and joined verifiers), and the
//! Cross-Validation seats its VRF sortition won (the node's sortition task leaves the proofs and
//! a list of the seats in offchain storage). It never scans the requests in flight, so it finds
//! every job however many are in flight. For each job it drives a small state machine kept in
//! persistent offchain storage, one step per block, never waiting on inference:
//!
//! ```text
//! (none) ─POST /v1/jobs─► Running { job } ─GET /v1/jobs/{job}: completed─► Committed { digest }
//!    ▲  │                     │ failed / lost / unreachable        commitment sent until on chain
//!    └──┼ Backoff { retry_at } ◄┘ (1, 2, 4 … 64 blocks)    reveal window: reveal sent until on
//!       │                                                             chain ─► Revealed
//!       └─refused: the request cannot be served─► Unservable { reason } (attestation sent until
//!         on chain; "input not uploaded" only from the middle of the window, asked every block
//!         until then)
//! ```
//!
//! The commitment is derived from the kept output and steps (quorum root and leaf, or the sealed
//! digest), so a transaction the pool dropped is sent again unchanged.
//!
//! Before committing, the node fetches the job's steps (`GET /v1/outputs/{job}`), checks them
//! against the trace root it commits, and keeps them with the output in offchain storage
//! (`atoma_support::offchain_jobs::JobTrace`): a dispute's bisection asks for them.
//!
//! Commitments are signed with the worker key and sent as authorized, fee-less transactions. So is
//! the output of a settled request whose destination is on chain: each node that ran it sends
//! it in the run of the settling block, and the first copy in the pool is published.
//! Every HTTP call has a deadline; a per-(request, node) storage lock stops two overlapping runs
//! from submitting twice; failures back off exponentially. What a job left in offchain storage
//! (its state, trace, lock and sortition proof) is removed once the request has ended or the node
//! has left it: a dispute over it is over by then, as the request stays in flight until the
//! dispute concludes.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::commitment::{output_digest, quorum_commitments, sealed_commitment};
use atoma_support::{
	inference::VerificationMode,
	offchain_jobs::{
		backoff, encode_hash, fetch_trace, kept_trace, paired_worker, parse_job, poll_job,
		post_job, relay_input, trace_key, trace_of, with_job_lock, JobTrace, KeptJobs, Poll,
		Refusal,
	},
	sortition::VrfProof,
	worker_key::KEY_TYPE,
	NodeId, RequestId, WorkerPublic,
};
use codec::Encode;
use frame_system::{
	offchain::{CreateAuthorizedTransaction, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{offchain::storage::StorageValueRef, SaturatedConversion};

use crate::{
	pallet::*,
	types::{
		Commitment, CommitmentKind, CommitmentPayload, Phase, Request, StoredInput,
		UnservableReason,
	},
};

pub use atoma_support::offchain_jobs::JobState;
pub use atoma_support::offchain_keys::{
	proof_key, PROOF_PREFIX, VERIFIER_SEATS_KEY, WORKER_URL_KEY,
};
const JOB_PREFIX: &[u8] = b"atoma/job/";
const LOCK_PREFIX: &[u8] = b"atoma/job-lock/";
/// The jobs that left something in offchain storage (SCALE `Vec<(RequestId, NodeId)>`), so that
/// it can be removed when they end.
pub const KEPT_JOBS_KEY: &[u8] = b"atoma/kept-jobs";
const KEPT_JOBS: KeptJobs<(RequestId, NodeId)> = KeptJobs::new(KEPT_JOBS_KEY);

fn job_key(request: RequestId, node: NodeId) -> Vec<u8> {
	let mut out = JOB_PREFIX.to_vec();
	out.extend((request, node).encode());
	out
}

fn lock_key(request: RequestId, node: NodeId) -> Vec<u8> {
	[LOCK_PREFIX, &(request, node).encode()].concat()
}

/// How this node takes part in a request.
pub(crate) enum Role {
	/// Public position `index` of `quorum`.
	Public { index: u32, quorum: u32 },
	/// A Cross-Validation verifier proven by `proof`.
	Verifier { proof: VrfProof },
}

impl<T: Config + CreateAuthorizedTransaction<Call<T>>> Pallet<T> {
	/// One run of the off-chain worker at block `now`.
	pub fn run_offchain_worker(now: BlockNumberFor<T>) {
		let Some((url, local)) = paired_worker::<T::AccountId, BalanceOf<T>, T::Nodes>() else {
			return;
		};
		let now: u32 = now.saturated_into();
		for (id, node, key) in Self::local_jobs(&local) {
			let Some(request) = Requests::<T>::get(id) else {
				// A seat of a request that ended before its job started: only the proof is left.
				StorageValueRef::persistent(&proof_key(id, &key)).clear();
				continue;
			};
			let Some(role) = Self::role_of(id, &request, node, &key) else { continue };
			with_job_lock(&lock_key(id, node), || {
				Self::step(&url, now, id, &request, node, &key, role)
			});
		}
		let publishing = Self::publish_settled_outputs();
		Self::forget_ended_jobs(&local, &publishing);
	}

	/// Publish the outputs this node kept of settled requests whose destination is on chain, as
	/// fee-less authorized transactions: every node that ran such a request sends it in the run
	/// of the block that settles it, and the pool keeps the first (the output is the same).
	/// Sent again each block until one is on chain. Returns the jobs it sent: their outputs are
	/// kept until then.
	fn publish_settled_outputs() -> Vec<(RequestId, NodeId)> {
		let mut publishing = Vec::new();
		for (id, node) in KEPT_JOBS.jobs() {
			if let Some(output) = Self::publishable_output(id, node) {
				let call = Call::<T>::publish_output { request: id, output };
				let xt = T::create_authorized_transaction(call.into());
				// A copy already in the pool is refused; the next run tries again if needed.
				let _ = SubmitTransaction::<T, Call<T>>::submit_transaction(xt);
				publishing.push((id, node));
			}
		}
		publishing
	}

	/// The output `node` kept for request `id`, if the request settled on it, its destination
	/// is on chain, and nobody published it yet.
	fn publishable_output(id: RequestId, node: NodeId) -> Option<Vec<u8>> {
		if Requests::<T>::contains_key(id) {
			return None;
		}
		let output = kept_trace(id, node)?.canonical_output;
		Self::check_publication(id, output.clone()).ok()?;
		Some(output)
	}

	/// The jobs this node handed to its inference worker and still waits on: `(request, node,
	/// worker job id)`. The node's job finisher (`node/src/job_finisher.rs`) polls their workers
	/// between blocks and hands each finished one to [`Self::commit_finished_job`]. Reads the
	/// node's offchain storage (the caller registers `OffchainDbExt`).
	pub fn jobs_awaiting_output() -> Vec<(RequestId, NodeId, Vec<u8>)> {
		KEPT_JOBS
			.jobs()
			.into_iter()
			.filter_map(|(id, node)| {
				match StorageValueRef::persistent(&job_key(id, node)).get::<JobState>() {
					Ok(Some(JobState::Running { job, .. })) => Some((id, node, job)),
					_ => None,
				}
			})
			.collect()
	}

	/// Commit `node`'s job `job` for request `id` the moment its worker finished it, instead of
	/// at the next block's off-chain worker run: `job_view` and `output_view` are the worker's
	/// `GET /v1/jobs/{job}` and `GET /v1/outputs/{job}` bodies, checked exactly as the off-chain
	/// worker checks them. The node calls it with the offchain database, the keystore and the
	/// transaction pool registered (`node/src/job_finisher.rs`). Whether a commitment went to the
	/// pool. The job moves from `Running` to `Committed` by compare-and-set, so an off-chain
	/// worker run at the same time and this call commit it once between them; anything that does
	/// not check out is left to the off-chain worker, which retries as before.
	pub fn commit_finished_job(
		id: RequestId,
		node: NodeId,
		job: Vec<u8>,
		job_view: &[u8],
		output_view: &[u8],
	) -> bool {
		let Some((_, local)) = paired_worker::<T::AccountId, BalanceOf<T>, T::Nodes>() else {
			return false;
		};
		let Some(key) = local.iter().find(|(n, _)| *n == node).map(|(_, key)| *key) else {
			return false;
		};
		let Some(request) = Requests::<T>::get(id) else { return false };
		if !matches!(request.phase, Phase::Executing { .. })
			|| Commitments::<T>::contains_key(id, node)
		{
			return false;
		}
		let Some(role) = Self::role_of(id, &request, node, &key) else { return false };
		let Poll::Done(done) = parse_job(job_view) else { return false };
		let Some(trace) = trace_of(output_view, &done) else { return false };
		// The steps are kept before the job is marked committed, as the off-chain worker keeps
		// them: a dispute's bisection is answered from them.
		StorageValueRef::persistent(&trace_key(id, node)).set(&trace);
		let output_digest = output_digest(&trace.canonical_output);
		let claimed =
			StorageValueRef::persistent(&job_key(id, node)).mutate::<JobState, (), _>(|state| {
				match state {
					Ok(Some(JobState::Running { job: running, .. })) if running == job => {
						Ok(JobState::Committed { output_digest })
					},
					_ => Err(()),
				}
			});
		claimed.is_ok() && Self::commit_kept_output(id, &request, node, &key, &role, &trace)
	}

	/// The jobs of this node's worker keys: their assignments on chain, then the verifier seats
	/// the sortition task found that are not assignments yet.
	fn local_jobs(local: &[(NodeId, WorkerPublic)]) -> Vec<(RequestId, NodeId, WorkerPublic)> {
		let mut jobs = alloc::collections::BTreeMap::new();
		for (node, key) in local {
			for id in Assignments::<T>::iter_key_prefix(node) {
				jobs.insert((id, *node), *key);
			}
		}
		let seats = StorageValueRef::persistent(VERIFIER_SEATS_KEY)
			.get::<Vec<(RequestId, WorkerPublic)>>()
			.ok()
			.flatten()
			.unwrap_or_default();
		for (id, seat_key) in seats {
			if let Some((node, key)) = local.iter().find(|(_, key)| *key == seat_key) {
				jobs.entry((id, *node)).or_insert(*key);
			}
		}
		jobs.into_iter().map(|((id, node), key)| (id, node, key)).collect()
	}

	/// Remove what ended jobs left in offchain storage: those whose request is no longer in
	/// flight, or whose node no longer works on it (replaced after a timeout or a conviction, or
	/// a verifier seat that was not taken in the commit window). The jobs in `publishing` keep
	/// their output until it is on chain.
	fn forget_ended_jobs(local: &[(NodeId, WorkerPublic)], publishing: &[(RequestId, NodeId)]) {
		KEPT_JOBS.forget_ended(
			|(id, node)| {
				let ended = Requests::<T>::get(id).is_none_or(|r| {
					!Assignments::<T>::contains_key(node, id)
						&& !matches!(r.phase, Phase::Executing { .. })
				});
				ended && !publishing.contains(&(*id, *node))
			},
			|(id, node)| {
				StorageValueRef::persistent(&job_key(*id, *node)).clear();
				StorageValueRef::persistent(&trace_key(*id, *node)).clear();
				StorageValueRef::persistent(&lock_key(*id, *node)).clear();
				if let Some((_, key)) = local.iter().find(|(n, _)| n == node) {
					StorageValueRef::persistent(&proof_key(*id, key)).clear();
				}
			},
		);
	}

	fn role_of(
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
	) -> Option<Role> {
		if let Some(index) = request.nodes.iter().position(|n| *n == node) {
			return Some(Role::Public { index: index as u32, quorum: request.nodes.len() as u32 });
		}
		if !matches!(request.mode, VerificationMode::CrossValidation { .. }) {
			return None;
		}
		let proof =
			StorageValueRef::persistent(&proof_key(id, key)).get::<VrfProof>().ok().flatten()?;
		Some(Role::Verifier { proof })
	}

	fn step(
		url: &str,
		now: u32,
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
		role: Role,
	) {
		let store_key = job_key(id, node);
		let store = StorageValueRef::persistent(&store_key);
		let state = store.get::<JobState>().ok().flatten();
		let on_chain = Commitments::<T>::get(id, node);
		match (request.phase, state) {
			(Phase::Executing { .. }, _) if on_chain.is_some() => {},
			(Phase::Executing { .. }, None) => {
				KEPT_JOBS.keep((id, node));
				let posted = post_job(url, Self::delivered_job_body(id, request, &role));
				Self::after_post(url, posted, now, 0, id, request, node, key, &role, &store)
			},
			(Phase::Executing { .. }, Some(JobState::Backoff { retry_at, attempts }))
				if now >= retry_at =>
			{
				let posted = post_job(url, Self::delivered_job_body(id, request, &role));
				Self::after_post(url, posted, now, attempts, id, request, node, key, &role, &store)
			},
			// Attested "unservable" but not on chain yet: sent again every block.
			(Phase::Executing { .. }, Some(JobState::Unservable { reason })) => {
				let kind = CommitmentKind::Unservable { reason };
				Self::submit(CommitmentPayload { request: id, node, kind }, key);
			},
			(Phase::Executing { .. }, Some(JobState::Running { job, attempts })) => {
				match poll_job(url, &job) {
					Poll::Pending => {},
					// A lost job (404 after a worker restart) or a failed one is posted again,
					// waiting longer after each failure.
					Poll::Failed => store.set(&backoff(now, attempts)),
					Poll::Done(done) => {
						// Keep the steps before committing to their root: in a dispute this node
						// answers bisection turns from them, even if its worker restarted since.
						let Ok(trace) = fetch_trace(url, &job, &done) else {
							return store.set(&backoff(now, attempts));
						};
						StorageValueRef::persistent(&trace_key(id, node)).set(&trace);
						let digest = output_digest(&trace.canonical_output);
						// Marked committed once sent: if the pool drops the transaction, the arm
						// below sends it again.
						store.set(&JobState::Committed { output_digest: digest });
						Self::commit_kept_output(id, request, node, key, &role, &trace);
					},
				}
			},
			// Committed here but not on chain: the transaction was dropped before inclusion (a
			// full pool, a reorg). Sent again every block until the chain has it; the pool
			// refuses a copy of one it still holds.
			(Phase::Executing { .. }, Some(JobState::Committed { .. })) => {
				if let Some(trace) = kept_trace(id, node) {
					Self::commit_kept_output(id, request, node, key, &role, &trace);
				}
			},
			// Sent every block until the chain has the reveal: a dropped reveal would cost this
			// node its timeout slash.
			(Phase::Revealing { .. }, Some(JobState::Committed { output_digest })) => {
				if matches!(on_chain, Some(Commitment::Sealed { revealed: Some(_), .. })) {
					store.set(&JobState::Revealed);
				} else {
					let kind = CommitmentKind::Reveal { output_digest };
					Self::submit(CommitmentPayload { request: id, node, kind }, key);
				}
			},
			_ => {},
		}
	}

	/// Submit this node's commitment to the output it kept: the quorum root and this node's leaf
	/// (Single, Sampling), or the digest sealed with its worker key (Cross-Validation), each with
	/// the token count and trace root of the kept steps. Derived from the output itself, so a
	/// resubmission is the same transaction.
	fn commit_kept_output(
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
		role: &Role,
		trace: &JobTrace,
	) -> bool {
		// A verifier commits after the primary (the chain refuses it before): kept until then,
		// and sent by the `Committed` arm from the block the primary's commitment is in.
		if matches!(role, Role::Verifier { .. }) && !Self::primary_committed(id, request) {
			return false;
		}
		let output = &trace.canonical_output;
		let output_tokens = trace.step_digests.len() as u32;
		let trace_root = atoma_primitives::trace::trace_root(&trace.step_digests);
		let kind = match (role, request.mode) {
			(_, VerificationMode::CrossValidation { .. }) => CommitmentKind::Sealed {
				sealed: sealed_commitment(&output_digest(output), &key.0),
				input_tokens: trace.input_tokens,
				output_tokens,
				trace_root,
				vrf: match role {
					Role::Verifier { proof } => Some(*proof),
					Role::Public { .. } => None,
				},
			},
			(Role::Public { index, quorum }, _) => {
				let commitments = quorum_commitments(output, *quorum);
				let Some(leaf) = commitments.leaves.get(*index as usize).copied() else {
					return false;
				};
				CommitmentKind::Quorum {
					root: commitments.root,
					leaf,
					input_tokens: trace.input_tokens,
					output_tokens,
					trace_root,
				}
			},
			// Verifiers exist in Cross-Validation only.
			(Role::Verifier { .. }, _) => return false,
		};
		Self::submit(CommitmentPayload { request: id, node, kind }, key)
	}

	/// The worker took the job, or refused it. A by-hash input the worker lacks is first read
	/// from the worker of another node the request selected (the user may have uploaded it to
	/// some of them only), and the job posted again the next block. A refusal of the request
	/// itself (an input nobody served, a prompt past the context) is attested on chain, so that
	/// nobody is slashed for it; anything else is retried. An input may still be uploaded until
	/// the middle of the window: until then the node asks again every block.
	#[allow(clippy::too_many_arguments)]
	fn after_post(
		url: &str,
		posted: Result<Vec<u8>, Refusal>,
		now: u32,
		attempts: u32,
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
		role: &Role,
		store: &StorageValueRef,
	) {
		let next_block = JobState::Backoff { retry_at: now.saturating_add(1), attempts };
		match posted {
			Ok(job) => store.set(&JobState::Running { job, attempts }),
			Err(Refusal::Unservable(UnservableReason::InputUnavailable))
				if Self::relay_input(url, id, request, node, key, role) =>
			{
				store.set(&next_block)
			},
			// A verifier that cannot serve does not join; one waiting for the primary's
			// commitment before it may read the input asks again every block.
			Err(Refusal::Unservable(reason)) if matches!(role, Role::Verifier { .. }) => {
				if reason == UnservableReason::InputUnavailable {
					store.set(&next_block)
				} else {
					store.set(&backoff(now, attempts))
				}
			},
			Err(Refusal::Unservable(reason)) => {
				let from = request.attest_unavailable_from().map(|b| b.saturated_into::<u32>());
				if reason == UnservableReason::InputUnavailable && from.is_none_or(|f| now < f) {
					return store.set(&next_block);
				}
				store.set(&JobState::Unservable { reason });
				let kind = CommitmentKind::Unservable { reason };
				Self::submit(CommitmentPayload { request: id, node, kind }, key);
			},
			Err(Refusal::Transient) => store.set(&backoff(now, attempts)),
		}
	}

	/// Read the request's by-hash input from the worker of another node it selected, proving
	/// this node's role (`atoma_primitives::input_read`); whether the local worker has it now.
	/// A verifier reads only once the primary's commitment is on chain: before, its read would
	/// tell the primary that it is verified.
	fn relay_input(
		url: &str,
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		key: &WorkerPublic,
		role: &Role,
	) -> bool {
		let StoredInput::Hash(hash) = request.input else { return false };
		let vrf = match role {
			Role::Verifier { proof } if Self::primary_committed(id, request) => Some(proof),
			Role::Verifier { .. } => return false,
			Role::Public { .. } => None,
		};
		relay_input::<T::AccountId, BalanceOf<T>, T::Nodes>(
			url,
			&request.nodes,
			node,
			id,
			&hash,
			key,
			vrf,
			&Self::chain_id(),
		)
	}

	/// Sign `payload` with the worker key and submit it as an authorized transaction.
	fn submit(payload: CommitmentPayload, key: &WorkerPublic) -> bool {
		let Some(signature) =
			sp_io::crypto::sr25519_sign(KEY_TYPE, key, &payload.signing_bytes(&Self::chain_id()))
		else {
			return false;
		};
		let call = Call::<T>::submit_commitment { payload, signature };
		let xt = T::create_authorized_transaction(call.into());
		SubmitTransaction::<T, Call<T>>::submit_transaction(xt).is_ok()
	}

	/// The job body of a node's own job: [`Self::job_body`], and for a publicly selected node the
	/// delivery ticket (`atoma_primitives::output_read`), so that its worker serves the output to
	/// the request's owner. A Cross-Validation verifier sends none: its worker must not answer for
	/// a request it secretly verifies. Neither does an owner whose account is not a 32-byte
	/// public key (no wallet could sign for it).
	pub(crate) fn delivered_job_body(
		id: RequestId,
		request: &Request<T>,
		role: &Role,
	) -> Option<Vec<u8>> {
		let mut body = Self::job_json(request, role)?;
		let owner = <[u8; 32]>::try_from(request.owner.encode()).ok();
		if let (Role::Public { .. }, Some(owner)) = (role, owner) {
			let ticket =
				atoma_primitives::output_read::DeliveryTicket::new(id.0, &owner, &Self::chain_id());
			body.as_object_mut()?.insert("delivery".into(), serde_json::to_value(ticket).ok()?);
		}
		serde_json::to_vec(&body).ok()
	}

	/// The job body for the worker: the prompt (inline: a JSON list of chat messages, or plain
	/// text; by hash: `input_hash`, the bytes the user uploaded to the worker), the sampling
	/// parameters with the chain's sampler seed, and the node's quorum position.
	pub(crate) fn job_body(request: &Request<T>, role: &Role) -> Option<Vec<u8>> {
		serde_json::to_vec(&Self::job_json(request, role)?).ok()
	}

	fn job_json(request: &Request<T>, role: &Role) -> Option<serde_json::Value> {
		let (index, quorum) = match role {
			Role::Public { index, quorum } => (*index, *quorum),
			Role::Verifier { .. } => (0, 1),
		};
		let p = &request.params;
		let mut body = serde_json::json!({
			"model": core::str::from_utf8(request.model.as_bytes()).ok()?,
			"max_tokens": p.max_output_tokens,
			"temperature_milli": p.temperature_milli,
			"top_k": p.top_k,
			"top_p_milli": p.top_p_milli,
			"seed": p.seed,
			"node_index": index,
			"quorum_size": quorum,
			// The worker refuses a prompt with more tokens than the escrow pays for.
			"max_prompt_tokens": request.input_tokens,
		});
		let (field, value) = match &request.input {
			StoredInput::Inline(bytes) => {
				let text = core::str::from_utf8(bytes).ok()?;
				match serde_json::from_str::<serde_json::Value>(text) {
					Ok(messages @ serde_json::Value::Array(_)) => ("messages", messages),
					_ => ("prompt", serde_json::Value::String(text.into())),
				}
			},
			StoredInput::Hash(hash) => ("input_hash", serde_json::Value::String(encode_hash(hash))),
		};
		body.as_object_mut()?.insert(field.into(), value);
		Some(body)
	}
}
