//! The inference engine: one dedicated OS thread per served model, fed by a bounded queue.
//!
//! A forward pass is CPU- or GPU-bound for milliseconds per token, so it must never run on the
//! async runtime's threads. Each model gets a thread that owns its weights exclusively.
//!
//! * The native engine ([`native`], `--precision native`, the default) runs the jobs of a model
//!   together: continuous batching, one forward pass per step over every job in flight, on the
//!   model's own rayon pool. A job's bits do not depend on the batch ([`native::llama`]).
//! * Candle (`--precision f32` or `quantized`) runs one job at a time, which keeps its kernels'
//!   shapes, and so its floating-point results, independent of what else the worker is doing.
//!
//! Both drive the same per-request logic ([`generate::Generation`]: sampling, trace, stops,
//! streaming).
//!
//! Jobs wait in a bounded `sync_channel`; when it is full, submission fails at once with
//! [`WorkerError::QueueFull`] (HTTP 429) instead of letting latency grow without bound.

pub mod chat;
pub mod generate;
pub mod model;
pub mod native;
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

use rayon::prelude::*;
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

/// How the engine runs its models (the worker's start-up flags).
#[derive(Debug, Clone)]
pub struct EngineOptions {
	/// `--device`.
	pub device: DeviceSpec,
	/// `--precision`.
	pub precision: Precision,
	/// `--kernel-tier` (`None`: the fastest this CPU has).
	pub kernel_tier: Option<native::Tier>,
	/// `--queue-capacity`.
	pub queue_capacity: usize,
	/// `--fault`.
	#[cfg(feature = "fault-injection")]
	pub fault: Option<crate::fault::Fault>,
}

impl Engine {
	/// Load every model and start its engine thread.
	pub fn start(
		specs: &[ModelSpec],
		options: EngineOptions,
		store: Arc<JobStore>,
		metrics: Arc<Metrics>,
		shutdown: Shutdown,
	) -> Result<Self, StartError> {
		let EngineOptions { device: device_spec, precision, kernel_tier, queue_capacity, .. } =
			options;
		#[cfg(feature = "fault-injection")]
		let fault = options.fault;
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
				model::load(spec, device_spec, &device, precision, kernel_tier)?;
			let tokenizer = Arc::new(tokenizer);
			// A zero-capacity sync_channel would be a rendezvous channel that rejects every
			// `try_send` while the thread is busy; one slot is the smallest real queue.
			let (queue, rx) = mpsc::sync_channel::<Work>(queue_capacity.max(1));
			metrics.set_queue_depth(&info.id, 0);
			let runner = Runner {
				model_id: info.id.clone(),
				weights: Some(weights),
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

/// Jobs of one model in a native forward pass at most.
const MAX_BATCH: usize = 16;

/// Prompt tokens a starting job feeds per step, so that a long prompt does not stall the jobs
/// already streaming for its whole prefill (the chunking changes no bit: each row reads the
/// cache up to its own position).
const PREFILL_CHUNK: usize = 256;

/// A job in a native batch.
struct Sequence {
	work: Work,
	generation: generate::Generation,
	cache: native::KvCache,
	/// Prompt tokens fed so far.
	fed: usize,
	/// The sampled token to feed next.
	next: Option<u32>,
	queue_wait: Duration,
}

impl Sequence {
	/// What this sequence feeds in the next step.
	fn input(&self) -> Vec<u32> {
		let prompt = &self.work.request.prompt_tokens;
		match self.next {
			Some(token) => vec![token],
			None => {
				let end = self.fed.saturating_add(PREFILL_CHUNK).min(prompt.len());
				prompt.get(self.fed..end).map(<[u32]>::to_vec).unwrap_or_default()
			},
		}
	}
}

/// How often an idle engine thread checks for shutdown.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The state owned by one engine thread.
struct Runner {
	model_id: String,
	weights: Option<model::Weights>,
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
		match self.weights.take() {
			Some(model::Weights::Candle(weights)) => self.run_serial(*weights, rx),
			Some(model::Weights::Native(model)) => {
				// The batch loop runs on a thread of the model's own rayon pool: each forward pass
				// leads a team of the pool's other threads (`native::team`), and sampling runs in
				// parallel on them between passes. Its size is rayon's default: RAYON_NUM_THREADS,
				// else one thread per CPU.
				let name = self.model_id.clone();
				match rayon::ThreadPoolBuilder::new()
					.thread_name(move |i| format!("engine-{name}-{i}"))
					.build()
				{
					Ok(pool) => pool.install(|| self.run_batched(&model, rx)),
					Err(e) => {
						tracing::error!(error = %e, "cannot start the engine's thread pool");
						self.run_batched(&model, rx)
					},
				}
			},
			None => {},
		}
		tracing::debug!(model = %self.model_id, "engine thread exits");
	}

	/// Candle's engine: one job at a time, each alone in its forward passes.
	fn run_serial(
		&mut self,
		mut weights: candle_transformers::models::quantized_llama::ModelWeights,
		rx: mpsc::Receiver<Work>,
	) {
		loop {
			match rx.recv_timeout(IDLE_POLL) {
				Ok(work) => {
					self.metrics.add_queue_depth(&self.model_id, -1);
					self.run_one(&mut weights, work);
				},
				Err(RecvTimeoutError::Timeout) if self.shutdown.is_aborted() => break,
				Err(RecvTimeoutError::Timeout) => {},
				Err(RecvTimeoutError::Disconnected) => break,
			}
		}
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
	/// Take a job off the queue: `Some(queue wait)` if it is to run, `None` if it was already
	/// answered (the worker is draining, or a fault mode answered it).
	fn start_job(&self, work: &Work) -> Option<Duration> {
		if self.shutdown.is_draining() {
			self.fail(work, "the worker is shutting down".to_owned());
			return None;
		}
		let queue_wait = work.enqueued.elapsed();
		self.store.mark_running(&work.id);
		#[cfg(feature = "fault-injection")]
		match self.fault {
			Some(crate::fault::Fault::Stall) => {
				while !self.shutdown.is_draining() {
					std::thread::sleep(Duration::from_millis(100));
				}
				self.fail(work, "the worker is shutting down".to_owned());
				return None;
			},
			Some(crate::fault::Fault::Lazy) => {
				let tokens = work.request.params.max_output_tokens.min(8);
				let prompt = u32::try_from(work.request.prompt_tokens.len()).unwrap_or(u32::MAX);
				self.complete(work, crate::fault::made_up_output(tokens, prompt), queue_wait);
				return None;
			},
			_ => {},
		}
		Some(queue_wait)
	}

	/// What a job's token callback does: stop on shutdown, stream the token, stop when the
	/// client is gone.
	fn stream_to(
		shutdown: &Shutdown,
		events: Option<&UnboundedSender<JobEvent>>,
		token: generate::TokenEvent<'_>,
	) -> ControlFlow<&'static str> {
		if shutdown.is_aborted() {
			return ControlFlow::Break("the worker is shutting down");
		}
		if let Some(events) = events {
			let event = JobEvent::Token {
				token_id: token.token_id,
				text_delta: token.text_delta.to_owned(),
			};
			if events.send(event).is_err() {
				return ControlFlow::Break("cancelled: the client disconnected");
			}
		}
		ControlFlow::Continue(())
	}

	/// Report a generation's result.
	fn finish_job(
		&self,
		work: &Work,
		result: Result<GenerationOutput, GenerateError>,
		queue_wait: Duration,
	) {
		#[cfg(feature = "fault-injection")]
		let result = result.map(|mut output| {
			if self.fault == Some(crate::fault::Fault::TamperTokens) {
				crate::fault::tamper(&mut output);
			}
			output
		});
		match result {
			Ok(output) => self.complete(work, output, queue_wait),
			Err(e @ GenerateError::Cancelled(_)) => self.fail(work, e.to_string()),
			Err(e) => {
				tracing::error!(job = %work.id, error = %e, "generation failed");
				self.fail(work, e.to_string())
			},
		}
	}

	#[tracing::instrument(skip_all, fields(job = %work.id, model = %self.model_id))]
	fn run_one(
		&mut self,
		weights: &mut candle_transformers::models::quantized_llama::ModelWeights,
		work: Work,
	) {
		let Some(queue_wait) = self.start_job(&work) else { return };
		self.metrics.set_running(&self.model_id, true);
		let shutdown = self.shutdown.clone();
		let result =
			generate::generate(weights, &self.device, &self.tokenizer, &work.request, |token| {
				Self::stream_to(&shutdown, work.events.as_ref(), token)
			});
		self.metrics.set_running(&self.model_id, false);
		self.finish_job(&work, result, queue_wait);
	}

	/// The native engine: continuous batching. Every step runs one forward pass over the jobs in
	/// flight (a prompt chunk for a job that is starting, the last sampled token for the others);
	/// new jobs join between steps, finished ones leave. Batching changes no bit of any job's
	/// output ([`native::llama`]).
	fn run_batched(&mut self, model: &native::Model, rx: mpsc::Receiver<Work>) {
		let mut batch: Vec<Sequence> = Vec::new();
		// The steps' logits, kept from step to step (a vocabulary's worth per job).
		let mut logits = Vec::new();
		loop {
			// Wait for work when idle; otherwise take what is queued, up to the batch size.
			if batch.is_empty() {
				match rx.recv_timeout(IDLE_POLL) {
					Ok(work) => self.admit(model, work, &mut batch),
					Err(RecvTimeoutError::Timeout) if self.shutdown.is_aborted() => break,
					Err(RecvTimeoutError::Timeout) => continue,
					Err(RecvTimeoutError::Disconnected) => break,
				}
			}
			while batch.len() < MAX_BATCH {
				match rx.try_recv() {
					Ok(work) => self.admit(model, work, &mut batch),
					Err(_) => break,
				}
			}
			if batch.is_empty() {
				continue;
			}
			self.metrics.set_running(&self.model_id, true);
			self.step(model, &mut batch, &mut logits);
			if batch.is_empty() {
				self.metrics.set_running(&self.model_id, false);
			}
		}
		for sequence in batch.drain(..) {
			self.fail(&sequence.work, "the worker is shutting down".to_owned());
		}
		self.metrics.set_running(&self.model_id, false);
	}

	fn admit(&self, model: &native::Model, work: Work, batch: &mut Vec<Sequence>) {
		self.metrics.add_queue_depth(&self.model_id, -1);
		let Some(queue_wait) = self.start_job(&work) else { return };
		let request = &work.request;
		// Validation has checked all three; a job that still fails them fails alone, before it
		// could make a batch's forward pass refuse.
		let vocab = model.config().vocab;
		let unfit = if request.prompt_tokens.is_empty() {
			Some("the prompt is empty".to_owned())
		} else {
			request
				.prompt_tokens
				.iter()
				.find(|&&t| t as usize >= vocab)
				.map(|t| format!("prompt token {t} is outside the vocabulary"))
		};
		if let Some(message) = unfit {
			return self.fail(&work, message);
		}
		let positions = request.prompt_tokens.len().saturating_add(
			usize::try_from(request.params.max_output_tokens).unwrap_or(usize::MAX),
		);
		if positions > model.config().context {
			let message = format!(
				"prompt and max_tokens need {positions} positions, the context is {}",
				model.config().context
			);
			return self.fail(&work, message);
		}
		let generation = generate::Generation::new(request);
		let cache = model.new_cache(positions);
		batch.push(Sequence { work, generation, cache, fed: 0, next: None, queue_wait });
	}

	/// One forward pass over the batch (its logits into `logits`), then sampling for every job
	/// whose prompt is in.
	fn step(&self, model: &native::Model, batch: &mut Vec<Sequence>, logits: &mut Vec<f32>) {
		let inputs: Vec<Vec<u32>> = batch.iter().map(Sequence::input).collect();
		let mut steps: Vec<native::Step<'_>> = batch
			.iter_mut()
			.zip(&inputs)
			.map(|(s, tokens)| native::Step { cache: &mut s.cache, tokens })
			.collect();
		if let Err(e) = model.forward(&mut steps, logits) {
			// Admission checks what `forward` checks, so this is not reached in practice; if it
			// is, the batch's jobs fail rather than the thread.
			for sequence in batch.drain(..) {
				self.finish_job(
					&sequence.work,
					Err(GenerateError::Native(e.clone())),
					sequence.queue_wait,
				);
			}
			return;
		}
		// Sampling, the trace step, detokenizing and streaming are each job's own: they run in
		// parallel on the pool (each job's tokens still leave in order, one step at a time).
		let shutdown = &self.shutdown;
		let tokenizer = &*self.tokenizer;
		let outcomes: Vec<Option<Result<generate::Next, GenerateError>>> = batch
			.par_iter_mut()
			.zip(logits.par_chunks_exact(model.config().vocab))
			.zip(inputs.par_iter())
			.map(|((sequence, logits), input)| {
				sequence.fed += input.len();
				if sequence.fed < sequence.work.request.prompt_tokens.len() {
					return None; // a prompt chunk: its logits are not sampled
				}
				let events = sequence.work.events.as_ref();
				Some(sequence.generation.accept(
					logits,
					&sequence.work.request,
					tokenizer,
					&mut |t| Self::stream_to(shutdown, events, t),
				))
			})
			.collect();
		let mut finished = Vec::new();
		for (i, (sequence, outcome)) in batch.iter_mut().zip(outcomes).enumerate() {
			match outcome {
				None => {},
				Some(Ok(generate::Next::Feed(token))) => sequence.next = Some(token),
				Some(Ok(generate::Next::Finished(reason))) => finished.push((i, Ok(reason))),
				Some(Err(e)) => finished.push((i, Err(e))),
			}
		}
		for (i, outcome) in finished.into_iter().rev() {
			let sequence = batch.swap_remove(i);
			let Sequence { work, generation, queue_wait, .. } = sequence;
			let result = outcome
				.and_then(|reason| generation.finish(reason, &work.request, &self.tokenizer));
			self.finish_job(&work, result, queue_wait);
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
