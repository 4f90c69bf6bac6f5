//! The inference engine: one dedicated OS thread per served model, fed by a bounded queue.
//!
//! A candle forward pass is CPU- or GPU-bound for tens of milliseconds per token, so it must never
//! run on the async runtime's threads. Each model gets a thread that owns its `ModelWeights`
//! (and so its KV cache) exclusively and runs one job at a time; parallelism comes from candle's
//! own kernels (rayon on CPU). One job at a time per model also keeps the kernels' shapes, and so
//! the floating-point results, independent of what else the worker is doing.
//!
//! Jobs wait in a bounded `sync_channel`; when it is full, submission fails at once with
//! [`WorkerError::QueueFull`] (HTTP 429) instead of letting latency grow without bound.

pub mod chat;
pub mod generate;
pub mod model;
pub mod sampling;
pub mod tokenizer;

use std::{
	collections::BTreeMap,
	ops::ControlFlow,
	sync::{
		mpsc::{self, RecvTimeoutError, SyncSender, TrySendError},
		Arc, Mutex, PoisonError,
	},
	thread::JoinHandle,
	time::{Duration, Instant},
};

use tokenizers::Tokenizer;
use tokio::sync::mpsc::UnboundedSender;

use self::{
	chat::ChatTemplate,
	generate::{GenerateError, GenerationOutput},
	model::{LoadError, LoadedModel, ModelInfo},
};
use crate::{
	commitments,
	config::{DeviceSpec, ModelSpec, Precision},
	error::WorkerError,
	jobs::{JobId, JobOutcome, JobStore},
	metrics::Metrics,
	shutdown::Shutdown,
	validation::ValidatedRequest,
};

/// What a job's waiter (a streaming or blocking HTTP handler) is told while it runs.
#[derive(Debug, Clone)]
pub enum JobEvent {
	/// A token was generated.
	Token {
		/// The token id.
		token_id: u32,
		/// Text that became final with it.
		text_delta: String,
	},
	/// The job completed.
	Completed(Arc<JobOutcome>),
	/// The job failed.
	Failed(JobFailure),
}

/// Why a job failed, as its waiter is told.
#[derive(Debug, Clone)]
pub struct JobFailure {
	/// What happened.
	pub message: String,
	/// Whether it failed because the worker is shutting down (HTTP 503 rather than 500).
	pub shutting_down: bool,
}

impl From<JobFailure> for WorkerError {
	fn from(failure: JobFailure) -> Self {
		if failure.shutting_down {
			Self::ShuttingDown
		} else {
			Self::Engine(failure.message)
		}
	}
}

/// A job on its way to an engine thread.
struct Work {
	id: JobId,
	request: ValidatedRequest,
	events: Option<UnboundedSender<JobEvent>>,
	enqueued: Instant,
}

/// A served model as the HTTP layer sees it.
pub struct ModelHandle {
	/// Reported metadata.
	pub info: ModelInfo,
	/// The tokenizer (shared with validation, which tokenizes before queueing).
	pub tokenizer: Arc<Tokenizer>,
	/// The chat template.
	pub template: Arc<ChatTemplate>,
	queue: SyncSender<Work>,
	queue_capacity: usize,
}

/// All served models and their engine threads.
pub struct Engine {
	models: BTreeMap<String, Arc<ModelHandle>>,
	threads: Mutex<Vec<JoinHandle<()>>>,
	store: Arc<JobStore>,
	metrics: Arc<Metrics>,
	shutdown: Shutdown,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
	/// A model failed to load.
	#[error(transparent)]
	Load(#[from] LoadError),
	/// Two `--model` values have the same id.
	#[error("model id {0:?} is given twice")]
	DuplicateId(String),
	/// No model was given.
	#[error("no model to serve")]
	NoModels,
	/// The OS refused to start a thread.
	#[error("cannot start engine thread: {0}")]
	Thread(std::io::Error),
}

impl Engine {
	/// Load every model and start its engine thread.
	#[allow(clippy::too_many_arguments)]
	pub fn start(
		specs: &[ModelSpec],
		device_spec: DeviceSpec,
		precision: Precision,
		queue_capacity: usize,
		store: Arc<JobStore>,
		metrics: Arc<Metrics>,
		shutdown: Shutdown,
		#[cfg(feature = "fault-injection")] fault: Option<crate::fault::Fault>,
	) -> Result<Self, StartError> {
		if specs.is_empty() {
			return Err(StartError::NoModels);
		}
		let device = model::device(device_spec)?;
		let mut models = BTreeMap::new();
		let mut threads = Vec::new();
		for spec in specs {
			if models.contains_key(&spec.id) {
				return Err(StartError::DuplicateId(spec.id.clone()));
			}
			let LoadedModel { info, weights, tokenizer, template, device } =
				model::load(spec, device_spec, &device, precision)?;
			let tokenizer = Arc::new(tokenizer);
			// A zero-capacity sync_channel would be a rendezvous channel that rejects every
			// `try_send` while the thread is busy; one slot is the smallest real queue.
			let (queue, rx) = mpsc::sync_channel::<Work>(queue_capacity.max(1));
			metrics.set_queue_depth(&info.id, 0);
			let runner = Runner {
				model_id: info.id.clone(),
				weights,
				device,
				tokenizer: Arc::clone(&tokenizer),
				store: Arc::clone(&store),
				metrics: Arc::clone(&metrics),
				shutdown: shutdown.clone(),
				#[cfg(feature = "fault-injection")]
				fault,
			};
			let thread = std::thread::Builder::new()
				.name(format!("engine-{}", info.id))
				.spawn(move || runner.run(rx))
				.map_err(StartError::Thread)?;
			threads.push(thread);
			let handle = ModelHandle {
				info,
				tokenizer,
				template: Arc::new(template),
				queue,
				queue_capacity: queue_capacity.max(1),
			};
			models.insert(spec.id.clone(), Arc::new(handle));
		}
		Ok(Self { models, threads: Mutex::new(threads), store, metrics, shutdown })
	}

	/// The served models, by id.
	pub fn models(&self) -> impl Iterator<Item = &Arc<ModelHandle>> {
		self.models.values()
	}

	/// The model `id`, or the only model when `id` is `None` and exactly one is served.
	pub fn model(&self, id: Option<&str>) -> Result<Arc<ModelHandle>, WorkerError> {
		match id {
			Some(id) => {
				self.models.get(id).cloned().ok_or_else(|| WorkerError::UnknownModel(id.to_owned()))
			},
			None if self.models.len() == 1 => {
				self.models.values().next().cloned().ok_or(WorkerError::ShuttingDown)
			},
			None => Err(WorkerError::Validation(crate::validation::ValidationError::MissingModel)),
		}
	}

	/// Queue a validated request. Returns the job id at once; `events`, when given, receives the
	/// tokens and the result (and dropping its receiver cancels the job).
	pub fn submit(
		&self,
		request: ValidatedRequest,
		events: Option<UnboundedSender<JobEvent>>,
	) -> Result<JobId, WorkerError> {
		if self.shutdown.is_draining() {
			return Err(WorkerError::ShuttingDown);
		}
		let handle = self.model(Some(&request.model))?;
		let id = self.store.insert_queued(&request);
		let model = request.model.clone();
		let work = Work { id: id.clone(), request, events, enqueued: Instant::now() };
		// Count it before sending: the engine thread may pick it up (and decrement) at once.
		self.metrics.add_queue_depth(&model, 1);
		match handle.queue.try_send(work) {
			Ok(()) => Ok(id),
			Err(TrySendError::Full(_)) => {
				self.metrics.add_queue_depth(&model, -1);
				self.metrics.job_finished(&model, "rejected");
				self.store.remove(&id);
				Err(WorkerError::QueueFull { model, capacity: handle.queue_capacity })
			},
			Err(TrySendError::Disconnected(_)) => {
				self.metrics.add_queue_depth(&model, -1);
				self.store.remove(&id);
				Err(WorkerError::ShuttingDown)
			},
		}
	}

	/// Stop the engine threads: queued jobs fail, running jobs stop at their next token. Blocks
	/// until every thread has exited. Takes `&self` because HTTP handlers still finishing may hold
	/// the engine; threads notice the abort flag within [`IDLE_POLL`].
	pub fn stop(&self) {
		self.shutdown.abort();
		let threads =
			std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
		for thread in threads {
			if thread.join().is_err() {
				tracing::error!("an engine thread panicked");
			}
		}
	}
}

/// How often an idle engine thread checks for shutdown.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The state owned by one engine thread.
struct Runner {
	model_id: String,
	weights: candle_transformers::models::quantized_llama::ModelWeights,
	device: candle_core::Device,
	tokenizer: Arc<Tokenizer>,
	store: Arc<JobStore>,
	metrics: Arc<Metrics>,
	shutdown: Shutdown,
	#[cfg(feature = "fault-injection")]
	fault: Option<crate::fault::Fault>,
}

impl Runner {
	fn run(mut self, rx: mpsc::Receiver<Work>) {
		loop {
			match rx.recv_timeout(IDLE_POLL) {
				Ok(work) => {
					self.metrics.add_queue_depth(&self.model_id, -1);
					self.run_one(work);
				},
				Err(RecvTimeoutError::Timeout) if self.shutdown.is_aborted() => break,
				Err(RecvTimeoutError::Timeout) => {},
				Err(RecvTimeoutError::Disconnected) => break,
			}
		}
		tracing::debug!(model = %self.model_id, "engine thread exits");
	}

	fn fail(&self, work: &Work, message: String) {
		tracing::warn!(job = %work.id, %message, "job failed");
		self.store.fail(&work.id, message.clone());
		self.metrics.job_finished(&self.model_id, "failed");
		if let Some(events) = &work.events {
			let shutting_down = self.shutdown.is_draining();
			let _ = events.send(JobEvent::Failed(JobFailure { message, shutting_down }));
		}
	}

	#[tracing::instrument(skip_all, fields(job = %work.id, model = %self.model_id))]
	fn run_one(&mut self, work: Work) {
		if self.shutdown.is_draining() {
			self.fail(&work, "the worker is shutting down".to_owned());
			return;
		}
		let queue_wait = work.enqueued.elapsed();
		self.store.mark_running(&work.id);
		#[cfg(feature = "fault-injection")]
		match self.fault {
			Some(crate::fault::Fault::Stall) => {
				while !self.shutdown.is_draining() {
					std::thread::sleep(Duration::from_millis(100));
				}
				return self.fail(&work, "the worker is shutting down".to_owned());
			},
			Some(crate::fault::Fault::Lazy) => {
				let tokens = work.request.params.max_output_tokens.min(8);
				let prompt = u32::try_from(work.request.prompt_tokens.len()).unwrap_or(u32::MAX);
				return self.complete(
					&work,
					crate::fault::made_up_output(tokens, prompt),
					queue_wait,
				);
			},
			_ => {},
		}
		self.metrics.set_running(&self.model_id, true);
		let shutdown = self.shutdown.clone();
		let events = work.events.clone();
		let result = generate::generate(
			&mut self.weights,
			&self.device,
			&self.tokenizer,
			&work.request,
			|token| {
				if shutdown.is_aborted() {
					return ControlFlow::Break("the worker is shutting down");
				}
				if let Some(events) = &events {
					let event = JobEvent::Token {
						token_id: token.token_id,
						text_delta: token.text_delta.to_owned(),
					};
					if events.send(event).is_err() {
						return ControlFlow::Break("cancelled: the client disconnected");
					}
				}
				ControlFlow::Continue(())
			},
		);
		self.metrics.set_running(&self.model_id, false);
		#[cfg(feature = "fault-injection")]
		let result = result.map(|mut output| {
			if self.fault == Some(crate::fault::Fault::TamperTokens) {
				crate::fault::tamper(&mut output);
			}
			output
		});
		match result {
			Ok(output) => self.complete(&work, output, queue_wait),
			Err(e @ GenerateError::Cancelled(_)) => self.fail(&work, e.to_string()),
			Err(e) => {
				tracing::error!(error = %e, "generation failed");
				self.fail(&work, e.to_string())
			},
		}
	}

	fn complete(&self, work: &Work, output: GenerationOutput, queue_wait: Duration) {
		let request = &work.request;
		let commitments = match commitments::compute(
			&output.token_ids,
			output.finish_reason,
			request.node_index,
			request.quorum_size,
			&output.trace,
		) {
			Ok(c) => c,
			// Validation checked node_index < quorum_size, so this is unreachable in practice;
			// still a failed job rather than a panic.
			Err(e) => return self.fail(work, format!("commitment: {e}")),
		};
		let completion_tokens = u32::try_from(output.token_ids.len()).unwrap_or(u32::MAX);
		self.metrics.tokens(&self.model_id, output.prompt_tokens, completion_tokens);
		self.metrics.observe_job(
			&self.model_id,
			queue_wait,
			output.time_to_first_token,
			output.total,
		);
		self.metrics.job_finished(&self.model_id, "completed");
		tracing::info!(
			prompt_tokens = output.prompt_tokens,
			completion_tokens,
			finish = commitments::finish_reason_str(output.finish_reason),
			ttft_ms = output.time_to_first_token.as_millis(),
			total_ms = output.total.as_millis(),
			"job completed"
		);
		let outcome = Arc::new(JobOutcome { output, commitments, queue_wait });
		self.store.complete(&work.id, Arc::clone(&outcome));
		if let Some(events) = &work.events {
			let _ = events.send(JobEvent::Completed(outcome));
		}
	}
}
