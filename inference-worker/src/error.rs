//! The worker's typed error and its HTTP mapping.
//!
//! Every error a handler can return is a [`WorkerError`] variant, mapped to a status code and an
//! OpenAI-shaped body `{"error": {"message", "type", "code"}}` by one exhaustive `match` (no
//! wildcard arm, so a new variant cannot silently get a default status). `type` is a stable,
//! machine-readable class; `code` refines validation errors (e.g. `context_length_exceeded`).

use axum::{
	extract::{rejection::JsonRejection, FromRequest, Request},
	http::StatusCode,
	response::{IntoResponse, Response},
	Json,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::validation::ValidationError;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
	/// The body is not valid JSON.
	#[error("invalid JSON: {0}")]
	InvalidJson(String),
	/// The body is JSON of the wrong shape (missing field, wrong type, negative seed, ...).
	#[error("invalid request body: {0}")]
	InvalidBody(String),
	/// The request has no `Content-Type: application/json`.
	#[error("expected a request with `Content-Type: application/json`")]
	UnsupportedMediaType,
	/// The body is larger than `--max-body-bytes`.
	#[error("request body is larger than the limit of {limit} bytes")]
	PayloadTooLarge {
		/// The limit.
		limit: usize,
	},
	/// A parameter or the prompt breaks a limit.
	#[error(transparent)]
	Validation(#[from] ValidationError),
	/// No such model is served.
	#[error("model {0:?} is not served by this worker (see GET /v1/models)")]
	UnknownModel(String),
	/// No such job (never existed, or evicted).
	#[error("job {0:?} not found")]
	UnknownJob(String),
	/// The job exists but has no output (yet, or because it failed).
	#[error("job {id:?} has no output: it is {status}")]
	JobNotFinished {
		/// The job.
		id: String,
		/// Its status.
		status: &'static str,
	},
	/// No such route.
	#[error("no route for {0}")]
	NotFound(String),
	/// The model's queue is full.
	#[error("the queue of model {model:?} is full ({capacity} jobs waiting); retry later")]
	QueueFull {
		/// The model.
		model: String,
		/// Its queue capacity.
		capacity: usize,
	},
	/// The worker is shutting down.
	#[error("the worker is shutting down")]
	ShuttingDown,
	/// An uploaded input does not hash to the hash it was uploaded under.
	#[error("the uploaded bytes do not hash (blake2-256) to {0}")]
	InputHashMismatch(String),
	/// A job names an input by hash that was not uploaded (or was evicted).
	#[error("no input with hash {0} was uploaded; PUT it to /v1/inputs/{0} first")]
	InputNotUploaded(String),
	/// A read of an uploaded input or of a request's output lacks a credential header
	/// (`atoma_primitives::input_read`, `atoma_primitives::output_read`).
	#[error("this read needs the {0} header")]
	MissingCredentials(&'static str),
	/// This worker holds no output of the request (it never ran it, or evicted it).
	#[error("this worker has no output of request {0}")]
	UnknownRequest(u64),
	/// The output of a request was asked for by anyone but its owner, or with a stale or bad
	/// signature.
	#[error("the output is not served: {0}")]
	OutputReadRefused(String),
	/// The request's job still runs: ask for the stream (`Accept: text/event-stream`) or later.
	#[error("the output of request {0} is still being generated; stream it with Accept: text/event-stream")]
	OutputNotReady(u64),
	/// This worker is not paired with a node that could authorize reads (`--node-rpc-url`).
	#[error("this worker serves no inputs: it has no --node-rpc-url to check readers against")]
	InputSharingDisabled,
	/// The paired node refused the read.
	#[error("the node refused the read: {0}")]
	InputReadRefused(String),
	/// The paired node could not be asked.
	#[error("the node could not authorize the read: {0}")]
	NodeUnavailable(String),
	/// Inference or an internal step failed.
	#[error("inference failed: {0}")]
	Engine(String),
}

/// The `error` object of an error body.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
	/// Human-readable message.
	pub message: String,
	/// Machine-readable class.
	#[serde(rename = "type")]
	pub kind: String,
	/// Finer machine-readable code, where there is one.
	pub code: Option<String>,
}

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
	/// The error.
	pub error: ErrorDetail,
}

impl WorkerError {
	/// Status code and `type` of this error.
	pub fn status_and_kind(&self) -> (StatusCode, &'static str) {
		match self {
			Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
			Self::InvalidBody(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
			Self::UnsupportedMediaType => {
				(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
			},
			Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
			Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_error"),
			Self::UnknownModel(_) => (StatusCode::NOT_FOUND, "model_not_found"),
			Self::UnknownJob(_) => (StatusCode::NOT_FOUND, "job_not_found"),
			Self::JobNotFinished { .. } => (StatusCode::CONFLICT, "job_not_finished"),
			Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
			Self::QueueFull { .. } => (StatusCode::TOO_MANY_REQUESTS, "queue_full"),
			Self::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
			Self::InputHashMismatch(_) => (StatusCode::UNPROCESSABLE_ENTITY, "input_hash_mismatch"),
			Self::InputNotUploaded(_) => (StatusCode::CONFLICT, "input_not_uploaded"),
			Self::MissingCredentials(_) => (StatusCode::UNAUTHORIZED, "missing_credentials"),
			Self::UnknownRequest(_) => (StatusCode::NOT_FOUND, "request_not_found"),
			Self::OutputReadRefused(_) => (StatusCode::FORBIDDEN, "output_read_refused"),
			Self::OutputNotReady(_) => (StatusCode::CONFLICT, "output_not_ready"),
			Self::InputSharingDisabled => (StatusCode::FORBIDDEN, "input_sharing_disabled"),
			Self::InputReadRefused(_) => (StatusCode::FORBIDDEN, "input_read_refused"),
			Self::NodeUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "node_unavailable"),
			Self::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, "engine_error"),
		}
	}

	/// The JSON body of this error.
	pub fn body(&self) -> ErrorBody {
		let code = match self {
			Self::Validation(v) => Some(v.code().to_owned()),
			_ => None,
		};
		ErrorBody {
			error: ErrorDetail {
				message: self.to_string(),
				kind: self.status_and_kind().1.to_owned(),
				code,
			},
		}
	}
}

impl IntoResponse for WorkerError {
	fn into_response(self) -> Response {
		let (status, _) = self.status_and_kind();
		if status.is_server_error() {
			tracing::error!(error = %self, "request failed");
		} else {
			tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
		}
		(status, Json(self.body())).into_response()
	}
}

impl From<JsonRejection> for WorkerError {
	fn from(rejection: JsonRejection) -> Self {
		match rejection {
			JsonRejection::JsonSyntaxError(e) => Self::InvalidJson(e.body_text()),
			JsonRejection::JsonDataError(e) => Self::InvalidBody(e.body_text()),
			JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
			JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
				Self::PayloadTooLarge { limit: 0 }
			},
			// `JsonRejection` is non-exhaustive; anything else is a body that could not be read.
			other => Self::InvalidJson(other.body_text()),
		}
	}
}

/// `axum::Json`, but rejections become [`WorkerError`]s (JSON bodies, our status codes).
pub struct ApiJson<T>(pub T);

/// The body limit, so [`ApiJson`] can report it in 413 messages.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl<S, T> FromRequest<S> for ApiJson<T>
where
	T: DeserializeOwned,
	S: Send + Sync,
{
	type Rejection = WorkerError;

	async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
		let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(0);
		match Json::<T>::from_request(req, state).await {
			Ok(Json(value)) => Ok(Self(value)),
			Err(rejection) => Err(match WorkerError::from(rejection) {
				WorkerError::PayloadTooLarge { .. } => WorkerError::PayloadTooLarge { limit },
				other => other,
			}),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn statuses() {
		assert_eq!(
			WorkerError::Validation(ValidationError::SeedRequired).status_and_kind().0,
			StatusCode::UNPROCESSABLE_ENTITY
		);
		assert_eq!(
			WorkerError::QueueFull { model: "m".into(), capacity: 1 }.status_and_kind().0,
			StatusCode::TOO_MANY_REQUESTS
		);
		let body = WorkerError::Validation(ValidationError::SeedRequired).body();
		assert_eq!(body.error.code.as_deref(), Some("seed_required"));
		assert_eq!(body.error.kind, "validation_error");
	}
}
