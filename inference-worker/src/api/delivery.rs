//! `GET /v1/requests/{request}/output`: a chain request's output, for its owner only
//! (`atoma_primitives::output_read`; the store and the check are in [`crate::delivery`]).
//!
//! With `Accept: text/event-stream` the answer streams as server-sent events while it is
//! generated: `token` events (`{"index", "token_id", "text"}`, from the first token on, whenever
//! the reader comes), then one `output` event with the whole [`DeliveredOutput`], or an `error`
//! event if the job failed. After completion the stream is that one `output` event. Without it,
//! the output is one JSON object once complete (409 `output_not_ready` before).
//!
//! Refusals, all JSON: 401 `missing_credentials` (a header is missing), 404 `request_not_found`
//! (this worker holds no output of that request), 403 `output_read_refused` (not the owner, a
//! stale or bad signature, a malformed credential).

use std::{convert::Infallible, sync::Arc, time::Duration};

use atoma_primitives::output_read::{HEADER_ACCOUNT, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use axum::{
	extract::{Path, State},
	http::{header, HeaderMap},
	response::{
		sse::{Event, KeepAlive, Sse},
		IntoResponse, Response,
	},
	Json,
};
use futures_util::{stream, Stream, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{AppState, JobRequest};
use crate::{
	delivery::{self, Credentials, DeliveredOutput, DeliveryEvent, StreamedToken, Subscription},
	engine::JobEvent,
	error::WorkerError,
	jobs::JobId,
	validation::ValidatedRequest,
};

/// Queue a chain job whose output is delivered to its owner: the tokens feed the readers as they
/// come, and the completed output is stored (on a blocking thread: it is written to disk).
pub(super) fn submit_delivered(
	state: &AppState,
	ticket: delivery::Ticket,
	validated: ValidatedRequest,
) -> Result<JobId, WorkerError> {
	let model = validated.model.clone();
	let (events, rx) = tokio::sync::mpsc::unbounded_channel();
	let id = state.engine.submit(validated, Some(events))?;
	// Tokens the engine sends before this are waiting in `rx`.
	let streamed = state.outputs.begin(ticket);
	tokio::spawn(deliver(Arc::clone(&state.outputs), ticket, model, streamed, rx));
	Ok(id)
}

/// Feed the store from a job's events until the job ends. Holding `rx` also keeps the job alive:
/// the engine cancels a job whose receiver is gone.
async fn deliver(
	outputs: Arc<delivery::OutputStore>,
	ticket: delivery::Ticket,
	model: String,
	streamed: bool,
	mut rx: UnboundedReceiver<JobEvent>,
) {
	while let Some(event) = rx.recv().await {
		match event {
			JobEvent::Token { token_id, text_delta } if streamed => {
				outputs.token(ticket.request, token_id, &text_delta)
			},
			JobEvent::Token { .. } => {},
			JobEvent::Completed(outcome) => {
				let output = DeliveredOutput::new(&ticket, &model, &outcome);
				let store = Arc::clone(&outputs);
				match tokio::task::spawn_blocking(move || store.complete(output, streamed)).await {
					Ok(Ok(())) => tracing::info!(request = ticket.request, "output stored"),
					Ok(Err(e)) => {
						tracing::error!(request = ticket.request, error = %e, "cannot store an output")
					},
					Err(e) => tracing::error!(error = %e, "the output store task failed"),
				}
				return;
			},
			JobEvent::Failed(failure) => {
				if streamed {
					outputs.fail(ticket.request, &failure.message);
				}
				return;
			},
		}
	}
	if streamed {
		outputs.fail(ticket.request, "the engine dropped the job");
	}
}

/// Take the delivery ticket out of a job body, parsed.
pub(super) fn take_ticket(
	request: &mut JobRequest,
) -> Result<Option<delivery::Ticket>, WorkerError> {
	request
		.delivery
		.take()
		.map(|ticket| delivery::Ticket::parse(&ticket))
		.transpose()
		.map_err(|field| WorkerError::InvalidBody(format!("{field} is not 64 hex digits")))
}

/// The output of chain request `request`, for its owner: streamed or whole (module docs).
#[tracing::instrument(skip_all, fields(request = %request))]
pub(super) async fn read_output(
	State(state): State<AppState>,
	Path(request): Path<String>,
	headers: HeaderMap,
) -> Result<Response, WorkerError> {
	let request: u64 = request
		.parse()
		.map_err(|_| WorkerError::InvalidBody(format!("{request:?} is not a request id")))?;
	let header = |name: &'static str| {
		headers.get(name).and_then(|v| v.to_str().ok()).ok_or(WorkerError::MissingCredentials(name))
	};
	let credentials = Credentials {
		account: header(HEADER_ACCOUNT)?,
		timestamp: header(HEADER_TIMESTAMP)?,
		signature: header(HEADER_SIGNATURE)?,
	};
	let outputs = Arc::clone(&state.outputs);
	let ticket = tokio::task::spawn_blocking(move || outputs.ticket(request))
		.await
		.map_err(|e| WorkerError::Engine(format!("output lookup failed: {e}")))?
		.ok_or(WorkerError::UnknownRequest(request))?;
	delivery::authorize(&ticket, credentials, delivery::unix_now())
		.map_err(|refusal| WorkerError::OutputReadRefused(refusal.to_string()))?;
	let streams = headers
		.get(header::ACCEPT)
		.and_then(|v| v.to_str().ok())
		.is_some_and(|accept| accept.contains("text/event-stream"));
	let outputs = Arc::clone(&state.outputs);
	let subscription = tokio::task::spawn_blocking(move || outputs.subscribe(request))
		.await
		.map_err(|e| WorkerError::Engine(format!("output lookup failed: {e}")))?
		.ok_or(WorkerError::UnknownRequest(request))?;
	tracing::info!(streams, "output read by its owner");
	match (streams, subscription) {
		(false, Subscription::Stored(output)) => Ok(Json(&*output).into_response()),
		(false, Subscription::Live { .. }) => Err(WorkerError::OutputNotReady(request)),
		(true, subscription) => Ok(Sse::new(sse_events(subscription))
			.keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
			.into_response()),
	}
}

fn token_event(token: &StreamedToken) -> Event {
	Event::default().event("token").data(serde_json::to_string(token).unwrap_or_default())
}

fn output_event(output: &DeliveredOutput) -> Event {
	Event::default().event("output").data(serde_json::to_string(output).unwrap_or_default())
}

fn error_event(message: String) -> Event {
	let body = WorkerError::Engine(message).body();
	Event::default().event("error").data(serde_json::to_string(&body).unwrap_or_default())
}

/// The events of one reader: the tokens so far, then the rest as they come, until the output
/// (or the failure), after which the store drops the sender and the stream ends.
fn sse_events(subscription: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
	let (backlog, live) = match subscription {
		Subscription::Stored(output) => (vec![output_event(&output)], None),
		Subscription::Live { tokens, events } => {
			(tokens.iter().map(token_event).collect(), Some(events))
		},
	};
	let following = stream::unfold(live, |live| async move {
		let mut events = live?;
		let event = match events.recv().await? {
			DeliveryEvent::Token(token) => token_event(&token),
			DeliveryEvent::Output(output) => output_event(&output),
			DeliveryEvent::Failed(message) => error_event(message),
		};
		Some((event, Some(events)))
	});
	stream::iter(backlog).chain(following).map(Ok)
}
