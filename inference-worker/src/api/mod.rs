//! The HTTP API (axum).
//!
//! | route                        | what                                                        |
//! |------------------------------|-------------------------------------------------------------|
//! | `GET  /health`               | liveness; 503 while shutting down                           |
//! | `GET  /v1/models`            | served models (OpenAI list + context, weights root)         |
//! | `POST /v1/jobs`              | queue a job, 202 with its id at once                        |
//! | `GET  /v1/jobs/{id}`         | status, output, token counts, commitments                   |
//! | `GET  /v1/outputs/{id}`      | canonical output bytes and the proof material               |
//! | `PUT/GET /v1/inputs/{hash}`  | inputs given by hash: upload; read by a node with a role    |
//! | `GET  /v1/requests/{id}/output` | a chain request's output, for its owner (SSE or JSON)    |
//! | `POST /v1/completions`       | OpenAI text completion, plain or SSE                        |
//! | `POST /v1/chat/completions`  | OpenAI chat completion, plain or SSE                        |
//! | `GET  /metrics`              | Prometheus text format                                      |
//!
//! Every error response, including the router's own (405, 408, unknown route), has the JSON body
//! of [`crate::error::ErrorBody`].

mod delivery;
mod dto;
mod jobs;
mod meta;
mod openai;

pub use dto::*;

use std::{sync::Arc, time::Instant};

use axum::{
	body::Body,
	extract::{DefaultBodyLimit, MatchedPath, Request, State},
	http::{header, StatusCode},
	middleware::{self, Next},
	response::{IntoResponse, Response},
	routing::{get, post},
	Extension, Json, Router,
};
use tower_http::{
	cors::{AllowOrigin, CorsLayer},
	timeout::TimeoutLayer,
	trace::TraceLayer,
};

use crate::{
	engine::{Engine, ModelHandle},
	error::{BodyLimit, ErrorBody, ErrorDetail, WorkerError},
	jobs::JobStore,
	metrics::Metrics,
	shutdown::Shutdown,
	validation::{self, Limits, RawRequest, ValidatedRequest},
};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
	/// The engine.
	pub engine: Arc<Engine>,
	/// The job store.
	pub store: Arc<JobStore>,
	/// Metrics.
	pub metrics: Arc<Metrics>,
	/// Shutdown state.
	pub shutdown: Shutdown,
	/// Request limits.
	pub limits: Limits,
	/// When the worker started.
	pub started: Instant,
	/// Prompts uploaded by hash.
	pub inputs: Arc<crate::inputs::InputStore>,
	/// The paired node, which authorizes other nodes' reads of those prompts; `None`: none are
	/// served.
	pub node: Option<crate::node_rpc::NodeRpc>,
	/// The outputs of chain jobs, for their owners.
	pub outputs: Arc<crate::delivery::OutputStore>,
}

/// Which default `max_tokens` applies.
#[derive(Clone, Copy)]
pub(crate) enum MaxTokensDefault {
	/// The worker's `--default-max-tokens`.
	Worker,
	/// OpenAI's legacy completions default of 16.
	OpenAiCompletions,
}

impl AppState {
	/// Resolve the model and validate `raw` against it. Tokenization runs on a blocking thread
	/// (a long prompt takes milliseconds), never on the async workers.
	#[tracing::instrument(skip_all)]
	pub(crate) async fn validate(
		&self,
		raw: RawRequest,
		default: MaxTokensDefault,
	) -> Result<(Arc<ModelHandle>, ValidatedRequest), WorkerError> {
		if self.shutdown.is_draining() {
			return Err(WorkerError::ShuttingDown);
		}
		let model = self.engine.model(raw.model.as_deref())?;
		let mut limits = self.limits;
		if let MaxTokensDefault::OpenAiCompletions = default {
			limits.default_max_tokens = 16.min(limits.max_tokens_limit);
		}
		let handle = Arc::clone(&model);
		let validated =
			tokio::task::spawn_blocking(move || validation::validate(&raw, &handle, &limits))
				.await
				.map_err(|e| WorkerError::Engine(format!("validation task failed: {e}")))??;
		Ok((model, validated))
	}
}

/// The operator's router: everything, free inference included (`POST /v1/jobs`, the OpenAI
/// endpoints). It listens on `--listen`, localhost by default; the paired node and the operator
/// use it.
pub fn router(state: AppState, max_body_bytes: usize, timeout: std::time::Duration) -> Router {
	let routes = Router::new()
		.route("/health", get(meta::health))
		.route("/metrics", get(meta::metrics))
		.route("/v1/models", get(meta::models))
		.route("/v1/jobs", post(jobs::submit))
		.route("/v1/inputs/{hash}", axum::routing::put(jobs::upload_input).get(jobs::read_input))
		.route("/v1/jobs/{id}", get(jobs::get_job))
		.route("/v1/outputs/{id}", get(jobs::get_output))
		.route("/v1/requests/{request}/output", get(delivery::read_output))
		.route("/v1/completions", post(openai::completions))
		.route("/v1/chat/completions", post(openai::chat_completions));
	with_layers(routes, state, max_body_bytes, timeout)
}

/// The public router, for the URL a node registers on chain: what users and other nodes need and
/// nothing more. Users upload inputs given by hash and read their requests' outputs (each read
/// signed by the request's owner); nodes with a role in a request read its input (each read
/// authorized by the paired node). No inference, no job, no metrics: everything else is 404.
///
/// Browsers may call it from any page ([`public_cors`]): a dapp reads its user's answers from the
/// selected nodes' workers directly.
pub fn public_router(
	state: AppState,
	max_body_bytes: usize,
	timeout: std::time::Duration,
) -> Router {
	let routes = Router::new()
		.route("/health", get(meta::health))
		.route("/v1/inputs/{hash}", axum::routing::put(jobs::upload_input).get(jobs::read_input))
		.route("/v1/requests/{request}/output", get(delivery::read_output));
	with_layers(routes, state, max_body_bytes, timeout).layer(public_cors())
}

/// Cross-origin access to the public routes from any origin. Safe because nothing there rests on
/// ambient authority: no cookies are read and none are allowed (`credentials` stays off); every
/// read carries its own signature in the `x-atoma-*` headers, and an upload is checked against its
/// hash. Only what a browser sends is allowed: uploads, and reads signed by a request's owner
/// (input reads are node to node).
fn public_cors() -> CorsLayer {
	use atoma_primitives::output_read;
	CorsLayer::new()
		.allow_origin(AllowOrigin::any())
		.allow_methods([axum::http::Method::GET, axum::http::Method::PUT])
		.allow_headers([
			header::ACCEPT,
			header::CONTENT_TYPE,
			header::HeaderName::from_static(output_read::HEADER_ACCOUNT),
			header::HeaderName::from_static(output_read::HEADER_TIMESTAMP),
			header::HeaderName::from_static(output_read::HEADER_SIGNATURE),
		])
		.max_age(std::time::Duration::from_secs(3600))
}

/// The fallback, the state and every layer (body limit, timeout, JSON error bodies, metrics,
/// tracing) around `routes`.
fn with_layers(
	routes: Router<AppState>,
	state: AppState,
	max_body_bytes: usize,
	timeout: std::time::Duration,
) -> Router {
	let metrics = Arc::clone(&state.metrics);
	routes
		.fallback(fallback)
		.with_state(state)
		.layer(DefaultBodyLimit::max(max_body_bytes))
		.layer(Extension(BodyLimit(max_body_bytes)))
		.layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
		.layer(middleware::map_response(json_error_bodies))
		.layer(middleware::from_fn_with_state(metrics, record_metrics))
		.layer(TraceLayer::new_for_http())
}

async fn fallback(request: Request) -> WorkerError {
	WorkerError::NotFound(format!("{} {}", request.method(), request.uri().path()))
}

/// Count every request by route pattern (bounded cardinality), method and final status.
async fn record_metrics(
	State(metrics): State<Arc<Metrics>>,
	request: Request,
	next: Next,
) -> Response {
	let route = request
		.extensions()
		.get::<MatchedPath>()
		.map(|p| p.as_str().to_owned())
		.unwrap_or_else(|| "unmatched".to_owned());
	let method = request.method().as_str().to_owned();
	let response = next.run(request).await;
	metrics.http_request(&route, &method, response.status().as_u16());
	response
}

/// Give error responses produced outside our handlers (405 from the router, 408 from the timeout
/// layer) the same JSON body as ours.
async fn json_error_bodies(response: Response) -> Response {
	let status = response.status();
	let is_json = response
		.headers()
		.get(header::CONTENT_TYPE)
		.and_then(|v| v.to_str().ok())
		.is_some_and(|v| v.starts_with("application/json"));
	if !(status.is_client_error() || status.is_server_error()) || is_json {
		return response;
	}
	let kind = match status {
		StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
		StatusCode::REQUEST_TIMEOUT => "timeout",
		_ => "http_error",
	};
	let message = status.canonical_reason().unwrap_or("error").to_owned();
	let body = ErrorBody { error: ErrorDetail { message, kind: kind.to_owned(), code: None } };
	let (mut parts, _) = response.into_parts();
	parts.headers.remove(header::CONTENT_LENGTH);
	let json = Json(body).into_response();
	let (json_parts, json_body) = json.into_parts();
	parts.headers.extend(json_parts.headers);
	Response::from_parts(parts, Body::new(json_body))
}
