//! The job store: what `GET /v1/jobs/{id}` and `GET /v1/outputs/{id}` read.
//!
//! In memory and bounded: queued and running jobs are bounded by the engine queues, and finished
//! jobs are kept up to `max_finished`, oldest evicted first. The off-chain worker polls a job until
//! it is finished and then submits its commitment on chain, so finished results need to live only
//! for a few blocks; users who want the output later fetch it before it is evicted.

use std::{
	collections::{HashMap, VecDeque},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex, MutexGuard, PoisonError,
	},
	time::{Duration, SystemTime, UNIX_EPOCH},
};

use atoma_primitives::SamplingParams;

use crate::{
	commitments::JobCommitments, engine::generate::GenerationOutput, validation::ValidatedRequest,
};

/// A job id, `job-<128 random bits, hex>`: unique, and unguessable, so that nobody can read a job
/// whose id it was not given.
pub type JobId = String;

/// Lifecycle of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
	/// Waiting in the model's queue.
	Queued,
	/// Being generated.
	Running,
	/// Finished; output and commitments available.
	Completed,
	/// Finished without output (see `error`).
	Failed,
}

/// The result of a completed job.
#[derive(Debug)]
pub struct JobOutcome {
	/// Generated tokens, text and trace.
	pub output: GenerationOutput,
	/// Commitments over them.
	pub commitments: JobCommitments,
	/// Time spent in the queue.
	pub queue_wait: Duration,
}

/// What the store knows about a job.
#[derive(Debug, Clone)]
pub struct JobRecord {
	/// The id.
	pub id: JobId,
	/// The model id.
	pub model: String,
	/// The status.
	pub status: JobStatus,
	/// Sampling parameters as run.
	pub params: SamplingParams,
	/// Whether the caller gave the seed (greedy requests need none).
	pub seed_given: bool,
	/// Stop tokens the caller added to the model's own.
	pub extra_stop_token_ids: Vec<u32>,
	/// Quorum position.
	pub node_index: u32,
	/// Quorum size.
	pub quorum_size: u32,
	/// Number of prompt tokens.
	pub prompt_tokens: u32,
	/// Unix seconds of submission, start and end.
	pub created_at: u64,
	/// Unix seconds when it started running.
	pub started_at: Option<u64>,
	/// Unix seconds when it finished.
	pub finished_at: Option<u64>,
	/// The result, once completed.
	pub outcome: Option<Arc<JobOutcome>>,
	/// Why it failed.
	pub error: Option<String>,
}

#[derive(Default)]
struct Inner {
	jobs: HashMap<JobId, JobRecord>,
	finished: VecDeque<JobId>,
}

/// The store (shared by the HTTP handlers and the engine threads).
pub struct JobStore {
	inner: Mutex<Inner>,
	max_finished: usize,
	nonce: u64,
	counter: AtomicU64,
}

fn now() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl JobStore {
	/// A store keeping at most `max_finished` finished jobs (at least one).
	pub fn new(max_finished: usize) -> Self {
		let nonce = SystemTime::now()
			.duration_since(UNIX_EPOCH)
			.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
			.unwrap_or(0);
		Self {
			inner: Mutex::new(Inner::default()),
			max_finished: max_finished.max(1),
			nonce,
			counter: AtomicU64::new(0),
		}
	}

	/// The lock; a panic elsewhere while holding it leaves the maps consistent (every update is a
	/// single insert or field write), so a poisoned lock is still usable.
	fn lock(&self) -> MutexGuard<'_, Inner> {
		self.inner.lock().unwrap_or_else(PoisonError::into_inner)
	}

	/// A random id. Should the OS have no randomness to give (never on a supported system), the
	/// id is still unique: the process nonce and a counter, hashed.
	fn fresh_id(&self) -> JobId {
		let mut bits = [0u8; 16];
		if getrandom::fill(&mut bits).is_err() {
			let n = self.counter.fetch_add(1, Ordering::Relaxed);
			let digest =
				atoma_primitives::hash::hash(&[self.nonce.to_le_bytes(), n.to_le_bytes()].concat());
			bits.copy_from_slice(&digest[..16]);
		}
		format!("job-{}", atoma_primitives::hash::to_hex(&bits))
	}

	/// Record a new queued job and return its id.
	pub fn insert_queued(&self, request: &ValidatedRequest) -> JobId {
		let id = self.fresh_id();
		let record = JobRecord {
			id: id.clone(),
			model: request.model.clone(),
			status: JobStatus::Queued,
			params: request.params,
			seed_given: request.seed_given,
			extra_stop_token_ids: request.extra_stop_token_ids.clone(),
			node_index: request.node_index,
			quorum_size: request.quorum_size,
			prompt_tokens: u32::try_from(request.prompt_tokens.len()).unwrap_or(u32::MAX),
			created_at: now(),
			started_at: None,
			finished_at: None,
			outcome: None,
			error: None,
		};
		self.lock().jobs.insert(id.clone(), record);
		id
	}

	/// Forget a job that never made it into a queue.
	pub fn remove(&self, id: &str) {
		self.lock().jobs.remove(id);
	}

	/// Mark a job as running.
	pub fn mark_running(&self, id: &str) {
		if let Some(job) = self.lock().jobs.get_mut(id) {
			job.status = JobStatus::Running;
			job.started_at = Some(now());
		}
	}

	/// Mark a job as completed with `outcome`.
	pub fn complete(&self, id: &str, outcome: Arc<JobOutcome>) {
		self.finish(id, |job| {
			job.status = JobStatus::Completed;
			job.outcome = Some(outcome);
		});
	}

	/// Mark a job as failed.
	pub fn fail(&self, id: &str, error: String) {
		self.finish(id, |job| {
			job.status = JobStatus::Failed;
			job.error = Some(error);
		});
	}

	fn finish(&self, id: &str, update: impl FnOnce(&mut JobRecord)) {
		let mut inner = self.lock();
		let Some(job) = inner.jobs.get_mut(id) else { return };
		update(job);
		job.finished_at = Some(now());
		inner.finished.push_back(id.to_owned());
		while inner.finished.len() > self.max_finished {
			if let Some(old) = inner.finished.pop_front() {
				inner.jobs.remove(&old);
			}
		}
	}

	/// A snapshot of job `id`.
	pub fn get(&self, id: &str) -> Option<JobRecord> {
		self.lock().jobs.get(id).cloned()
	}

	/// Number of jobs held (queued, running and finished).
	pub fn len(&self) -> usize {
		self.lock().jobs.len()
	}

	/// Whether the store holds no job.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}
}
