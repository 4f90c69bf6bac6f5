//! `POST /v1/jobs`, `GET /v1/jobs/{id}`, `GET /v1/outputs/{id}`: the asynchronous job API the
//! node's off-chain worker uses. Submitting returns at once; the off-chain worker polls in later
//! blocks, so GPU work never blocks it (protocol §10).

use axum::{
	extract::{Path, State},
	http::{header, StatusCode},
	response::{IntoResponse, Response},
	Json,
};
use serde_json::{json, Value};

use super::{commitments_view, AppState, JobRequest, MaxTokensDefault, Usage};
use crate::{
	commitments::{finish_reason_str, to_hex, TRACE_TOP_K},
	error::{ApiJson, WorkerError},
	jobs::{JobRecord, JobStatus},
};

/// Fill `request`'s prompt from the input uploaded under `hash`: a JSON list of chat messages
/// becomes `messages`, anything else the `prompt` text.
fn resolve_input(
	state: &AppState,
	hash: &str,
	request: &mut JobRequest,
) -> Result<(), WorkerError> {
	if request.prompt.is_some() || request.messages.is_some() {
		return Err(WorkerError::InvalidBody(
			"give either input_hash or prompt/messages, not both".to_owned(),
		));
	}
	let key = crate::inputs::parse_hash(hash).ok_or_else(|| {
		WorkerError::InvalidBody(format!("input_hash {hash:?} is not 64 hex digits"))
	})?;
	let bytes =
		state.inputs.get(&key).ok_or_else(|| WorkerError::InputNotUploaded(hex::encode(key)))?;
	let text = String::from_utf8(bytes)
		.map_err(|_| WorkerError::InvalidBody("the uploaded input is not UTF-8".to_owned()))?;
	match serde_json::from_str::<Vec<super::dto::ChatMessageIn>>(&text) {
		Ok(messages) => request.messages = Some(messages),
		Err(_) => request.prompt = Some(text),
	}
	Ok(())
}

/// Keep a prompt uploaded by hash; 201, or 422 when the bytes do not hash to `hash`.
#[tracing::instrument(skip_all)]
pub(super) async fn upload_input(
	State(state): State<AppState>,
	axum::extract::Path(hash): axum::extract::Path<String>,
	body: axum::body::Bytes,
) -> Result<Response, WorkerError> {
	let key = crate::inputs::parse_hash(&hash)
		.ok_or_else(|| WorkerError::InvalidBody(format!("{hash:?} is not 64 hex digits")))?;
	let bytes = body.len();
	state.inputs.put(key, body.to_vec()).map_err(|e| match e {
		crate::inputs::UploadError::HashMismatch => {
			WorkerError::InputHashMismatch(hex::encode(key))
		},
		crate::inputs::UploadError::TooLarge => WorkerError::PayloadTooLarge { limit: 64 << 20 },
	})?;
	Ok((StatusCode::CREATED, Json(json!({ "hash": hex::encode(key), "bytes": bytes })))
		.into_response())
}

/// Serve an uploaded input to another node that holds a role in its request: 200 with the bytes
/// once the paired node has authorized the reader's credentials (`atoma_primitives::input_read`),
/// checked before the store is even looked at, so an outsider learns nothing.
#[tracing::instrument(skip_all)]
pub(super) async fn read_input(
	State(state): State<AppState>,
	axum::extract::Path(hash): axum::extract::Path<String>,
	headers: axum::http::HeaderMap,
) -> Result<Response, WorkerError> {
	let key = crate::inputs::parse_hash(&hash)
		.ok_or_else(|| WorkerError::InvalidBody(format!("{hash:?} is not 64 hex digits")))?;
	let hash = hex::encode(key);
	let auth = atoma_primitives::input_read::InputReadAuth::from_headers(&hash, |name| {
		headers.get(name).and_then(|v| v.to_str().ok())
	})
	.map_err(WorkerError::MissingCredentials)?;
	let node = state.node.as_ref().ok_or(WorkerError::InputSharingDisabled)?;
	node.authorize(&auth).await.map_err(|e| match e {
		crate::node_rpc::AccessError::Refused(why) => WorkerError::InputReadRefused(why),
		crate::node_rpc::AccessError::NodeUnavailable(why) => WorkerError::NodeUnavailable(why),
	})?;
	let bytes =
		state.inputs.get(&key).ok_or_else(|| WorkerError::InputNotUploaded(hash.clone()))?;
	tracing::info!(input = %hash, reader = %auth.reader, "input served");
	Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// Queue a job; 202 with its id and a `Location` header.
#[tracing::instrument(skip_all)]
pub(super) async fn submit(
	State(state): State<AppState>,
	ApiJson(mut request): ApiJson<JobRequest>,
) -> Result<Response, WorkerError> {
	if let Some(hash) = request.input_hash.take() {
		resolve_input(&state, &hash, &mut request)?;
	}
	let ticket = super::delivery::take_ticket(&mut request)?;
	let raw = request.into_raw()?;
	let (_, validated) = state.validate(raw, MaxTokensDefault::Worker).await?;
	let model = validated.model.clone();
	let prompt_tokens = validated.prompt_tokens.len();
	let id = match ticket {
		Some(ticket) => super::delivery::submit_delivered(&state, ticket, validated)?,
		None => state.engine.submit(validated, None)?,
	};
	let body = json!({
		"id": id,
		"object": "job",
		"model": model,
		"status": "queued",
		"prompt_tokens": prompt_tokens,
	});
	Ok((StatusCode::ACCEPTED, [(header::LOCATION, format!("/v1/jobs/{id}"))], Json(body))
		.into_response())
}

fn status_str(status: JobStatus) -> &'static str {
	match status {
		JobStatus::Queued => "queued",
		JobStatus::Running => "running",
		JobStatus::Completed => "completed",
		JobStatus::Failed => "failed",
	}
}

/// The JSON view of a job record.
fn job_view(job: &JobRecord) -> Value {
	let p = &job.params;
	let mut view = json!({
		"id": job.id,
		"object": "job",
		"model": job.model,
		"status": status_str(job.status),
		"created_at": job.created_at,
		"started_at": job.started_at,
		"finished_at": job.finished_at,
		"params": {
			"temperature_milli": p.temperature_milli,
			"top_k": p.top_k,
			"top_p_milli": p.top_p_milli,
			"max_output_tokens": p.max_output_tokens,
			"seed": if job.seed_given { Some(p.seed) } else { None },
			"stop_token_ids": job.extra_stop_token_ids,
		},
		"node_index": job.node_index,
		"quorum_size": job.quorum_size,
		"usage": { "prompt_tokens": job.prompt_tokens },
	});
	if let Some(error) = &job.error {
		view["error"] = json!({ "message": error });
	}
	if let Some(outcome) = &job.outcome {
		let out = &outcome.output;
		let completion_tokens = u32::try_from(out.token_ids.len()).unwrap_or(u32::MAX);
		view["usage"] = json!(Usage::new(out.prompt_tokens, completion_tokens));
		view["output"] = json!({
			"text": out.text,
			"token_ids": out.token_ids,
			"finish_reason": finish_reason_str(out.finish_reason),
		});
		let mut commitments = commitments_view(&outcome.commitments);
		commitments["trace_top_k"] = json!(TRACE_TOP_K);
		view["commitments"] = commitments;
		view["timings"] = json!({
			"queue_ms": outcome.queue_wait.as_secs_f64() * 1e3,
			"prefill_ms": out.prefill.as_secs_f64() * 1e3,
			"time_to_first_token_ms": out.time_to_first_token.as_secs_f64() * 1e3,
			"total_ms": out.total.as_secs_f64() * 1e3,
		});
	}
	view
}

/// A job's status and, once completed, its output and commitments.
pub(super) async fn get_job(
	State(state): State<AppState>,
	Path(id): Path<String>,
) -> Result<Json<Value>, WorkerError> {
	let job = state.store.get(&id).ok_or(WorkerError::UnknownJob(id))?;
	Ok(Json(job_view(&job)))
}

/// The canonical output of a completed job with everything needed to check it against the chain
/// without trusting this worker: the bytes `O`, the commitment inputs, every trace step (so the
/// step digests and the trace root can be recomputed) and the model's weights root.
pub(super) async fn get_output(
	State(state): State<AppState>,
	Path(id): Path<String>,
) -> Result<Json<Value>, WorkerError> {
	let job = state.store.get(&id).ok_or_else(|| WorkerError::UnknownJob(id.clone()))?;
	let Some(outcome) = &job.outcome else {
		return Err(WorkerError::JobNotFinished { id, status: status_str(job.status) });
	};
	let out = &outcome.output;
	let c = &outcome.commitments;
	let weights = state.engine.model(Some(&job.model)).ok().map(|m| {
		json!({
			"root": to_hex(&m.info.weights.root),
			"total_len": m.info.weights.total_len,
			"chunk_count": m.info.weights.chunk_count,
		})
	});
	let steps: Vec<Value> = out
		.trace
		.iter()
		.map(|s| {
			json!({
				"step": s.step,
				"token_id": s.token_id,
				"top_logits": s.top_logits,
				"digest": to_hex(&s.digest),
			})
		})
		.collect();
	Ok(Json(json!({
		"job_id": job.id,
		"model": job.model,
		"canonical_output": to_hex(&c.canonical_output),
		"output_hash": to_hex(&c.output_hash),
		"token_ids": out.token_ids,
		"finish_reason": finish_reason_str(out.finish_reason),
		"text": out.text,
		"commitment": {
			"node_index": c.node_index,
			"quorum_size": c.quorum_size,
			"root": to_hex(&c.root),
			"leaf": to_hex(&c.leaf),
		},
		"trace": {
			"top_k": TRACE_TOP_K,
			"root": to_hex(&c.trace_root),
			"steps": steps,
		},
		"weights": weights,
	})))
}
