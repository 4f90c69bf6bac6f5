//! `POST /v1/completions` and `POST /v1/chat/completions`, plain and streamed.
//!
//! Both go through the same validation and the same engine queue as `/v1/jobs`, so an OpenAI
//! request is also a job: its id (`cmpl-<job id>`, `chatcmpl-<job id>`) and the `atoma` object in
//! the response lead to `GET /v1/outputs/{job id}` and the commitments.
//!
//! Streaming uses server-sent events as OpenAI does: `data: {chunk}` per token with new text, a
//! last chunk carrying `finish_reason`, an optional usage chunk, then `data: [DONE]`. Dropping the
//! connection cancels the generation at the next token.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
	extract::State,
	response::{
		sse::{Event, KeepAlive, Sse},
		IntoResponse, Response,
	},
	Json,
};
use futures_util::{stream, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::{
	commitments_view, AppState, ChatCompletionRequest, CompletionRequest, MaxTokensDefault, Usage,
};
use crate::{
	commitments::finish_reason_str,
	engine::JobEvent,
	error::{ApiJson, WorkerError},
	jobs::{JobId, JobOutcome},
	validation::RawRequest,
};

/// Which of the two endpoints, for response shapes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
	Completion,
	Chat,
}

impl Kind {
	fn id_prefix(self) -> &'static str {
		match self {
			Self::Completion => "cmpl",
			Self::Chat => "chatcmpl",
		}
	}

	fn object(self, chunk: bool) -> &'static str {
		match (self, chunk) {
			(Self::Completion, _) => "text_completion",
			(Self::Chat, false) => "chat.completion",
			(Self::Chat, true) => "chat.completion.chunk",
		}
	}
}

/// Identity of one response, repeated in every chunk.
struct Meta {
	kind: Kind,
	id: String,
	job_id: JobId,
	model: String,
	created: u64,
}

impl Meta {
	fn base(&self, chunk: bool) -> Value {
		json!({
			"id": self.id,
			"object": self.kind.object(chunk),
			"created": self.created,
			"model": self.model,
			"system_fingerprint": env!("CARGO_PKG_VERSION"),
		})
	}

	fn choice(&self, text: &str, finish_reason: Option<&str>, first: bool) -> Value {
		match self.kind {
			Kind::Completion => json!({
				"index": 0, "text": text, "logprobs": null, "finish_reason": finish_reason,
			}),
			Kind::Chat => {
				let delta = match (first, finish_reason) {
					(true, _) => json!({"role": "assistant", "content": text}),
					(false, Some(_)) if text.is_empty() => json!({}),
					(false, _) => json!({"content": text}),
				};
				json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason})
			},
		}
	}

	fn chunk(&self, choices: Vec<Value>) -> Value {
		let mut chunk = self.base(true);
		chunk["choices"] = Value::Array(choices);
		chunk
	}
}

/// What the worker adds to OpenAI's response: the job id and the commitments.
fn atoma_extension(job_id: &str, outcome: &JobOutcome) -> Value {
	let mut extension = commitments_view(&outcome.commitments);
	extension["job_id"] = json!(job_id);
	extension["token_ids"] = json!(outcome.output.token_ids);
	extension
}

fn usage(outcome: &JobOutcome) -> Usage {
	let completion = u32::try_from(outcome.output.token_ids.len()).unwrap_or(u32::MAX);
	Usage::new(outcome.output.prompt_tokens, completion)
}

fn now() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or(0)
}

/// `POST /v1/completions`.
#[tracing::instrument(skip_all)]
pub(super) async fn completions(
	State(state): State<AppState>,
	ApiJson(request): ApiJson<CompletionRequest>,
) -> Result<Response, WorkerError> {
	let (stream, include_usage) = request.common.stream_mode();
	let raw = request.into_raw()?;
	run(state, raw, Kind::Completion, MaxTokensDefault::OpenAiCompletions, stream, include_usage)
		.await
}

/// `POST /v1/chat/completions`.
#[tracing::instrument(skip_all)]
pub(super) async fn chat_completions(
	State(state): State<AppState>,
	ApiJson(request): ApiJson<ChatCompletionRequest>,
) -> Result<Response, WorkerError> {
	let (stream, include_usage) = request.common.stream_mode();
	let raw = request.into_raw()?;
	run(state, raw, Kind::Chat, MaxTokensDefault::Worker, stream, include_usage).await
}

async fn run(
	state: AppState,
	raw: RawRequest,
	kind: Kind,
	default: MaxTokensDefault,
	stream: bool,
	include_usage: bool,
) -> Result<Response, WorkerError> {
	let (_, validated) = state.validate(raw, default).await?;
	let model = validated.model.clone();
	let (tx, rx) = unbounded_channel();
	let job_id = state.engine.submit(validated, Some(tx))?;
	let meta =
		Meta { kind, id: format!("{}-{job_id}", kind.id_prefix()), job_id, model, created: now() };
	if stream {
		let events = sse_events(meta, rx, include_usage);
		Ok(Sse::new(events)
			.keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
			.into_response())
	} else {
		let outcome = wait(rx).await?;
		Ok(Json(full_response(&meta, &outcome)).into_response())
	}
}

/// Wait for the job's result, ignoring token events.
async fn wait(mut rx: UnboundedReceiver<JobEvent>) -> Result<Arc<JobOutcome>, WorkerError> {
	while let Some(event) = rx.recv().await {
		match event {
			JobEvent::Token { .. } => {},
			JobEvent::Completed(outcome) => return Ok(outcome),
			JobEvent::Failed(failure) => return Err(failure.into()),
		}
	}
	Err(WorkerError::Engine("the engine dropped the job".to_owned()))
}

fn full_response(meta: &Meta, outcome: &JobOutcome) -> Value {
	let out = &outcome.output;
	let finish = finish_reason_str(out.finish_reason);
	let choice = match meta.kind {
		Kind::Completion => json!({
			"index": 0, "text": out.text, "logprobs": null, "finish_reason": finish,
		}),
		Kind::Chat => json!({
			"index": 0,
			"message": {"role": "assistant", "content": out.text},
			"logprobs": null,
			"finish_reason": finish,
		}),
	};
	let mut body = meta.base(false);
	body["choices"] = json!([choice]);
	body["usage"] = json!(usage(outcome));
	body["atoma"] = atoma_extension(&meta.job_id, outcome);
	body
}

/// State of one SSE stream.
struct StreamState {
	meta: Meta,
	rx: UnboundedReceiver<JobEvent>,
	include_usage: bool,
	/// Text sent so far (to send any remainder the final decode adds).
	sent: String,
	first: bool,
	done: bool,
}

fn data(value: &Value) -> Event {
	Event::default().data(value.to_string())
}

/// The SSE events of a job: one per engine event, then `[DONE]`.
fn sse_events(
	meta: Meta,
	rx: UnboundedReceiver<JobEvent>,
	include_usage: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
	let state =
		StreamState { meta, rx, include_usage, sent: String::new(), first: true, done: false };
	stream::unfold(state, |mut st| async move {
		if st.done {
			return None;
		}
		let mut events = Vec::new();
		match st.rx.recv().await {
			Some(JobEvent::Token { text_delta, .. }) => {
				// Chat always opens with the role; otherwise only tokens that add text are sent.
				if st.first || !text_delta.is_empty() {
					let choice = st.meta.choice(&text_delta, None, st.first);
					events.push(data(&st.meta.chunk(vec![choice])));
					st.sent.push_str(&text_delta);
					st.first = false;
				}
			},
			Some(JobEvent::Completed(outcome)) => {
				let text = &outcome.output.text;
				let rest = text.strip_prefix(st.sent.as_str()).unwrap_or_default();
				let finish = finish_reason_str(outcome.output.finish_reason);
				let mut last = st.meta.chunk(vec![st.meta.choice(rest, Some(finish), st.first)]);
				last["atoma"] = atoma_extension(&st.meta.job_id, &outcome);
				events.push(data(&last));
				if st.include_usage {
					let mut chunk = st.meta.chunk(Vec::new());
					chunk["usage"] = json!(usage(&outcome));
					events.push(data(&chunk));
				}
				events.push(Event::default().data("[DONE]"));
				st.done = true;
			},
			Some(JobEvent::Failed(failure)) => {
				let error = crate::error::WorkerError::from(failure).body();
				events.push(data(&json!(error)));
				events.push(Event::default().data("[DONE]"));
				st.done = true;
			},
			None => {
				let error = WorkerError::Engine("the engine dropped the job".to_owned()).body();
				events.push(data(&json!(error)));
				st.done = true;
			},
		}
		Some((stream::iter(events.into_iter().map(Ok)), st))
	})
	.flatten()
}
