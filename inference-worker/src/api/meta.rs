//! `GET /health`, `GET /v1/models`, `GET /metrics`.

use axum::{
	extract::State,
	http::{header, StatusCode},
	response::IntoResponse,
	Json,
};
use serde_json::{json, Value};

use super::AppState;
use crate::commitments::to_hex;

/// Liveness and a little state; 503 while shutting down so a load balancer stops routing here.
pub(super) async fn health(State(state): State<AppState>) -> impl IntoResponse {
	let models: Vec<&str> = state.engine.models().map(|m| m.info.id.as_str()).collect();
	let (status, text) = if state.shutdown.is_draining() {
		(StatusCode::SERVICE_UNAVAILABLE, "shutting_down")
	} else {
		(StatusCode::OK, "ok")
	};
	let body = json!({
		"status": text,
		"models": models,
		"jobs_stored": state.store.len(),
		"uptime_secs": state.started.elapsed().as_secs(),
	});
	(status, Json(body))
}

/// The served models as an OpenAI model list, plus what a node needs to check them against the
/// chain's model registry (weights root) and to size requests (context length).
pub(super) async fn models(State(state): State<AppState>) -> Json<Value> {
	let data: Vec<Value> = state
		.engine
		.models()
		.map(|m| {
			let info = &m.info;
			json!({
				"id": info.id,
				"object": "model",
				"created": info.loaded_at,
				"owned_by": "atoma",
				"name": info.name,
				"architecture": info.architecture,
				"context_length": info.context_length,
				"vocab_size": info.vocab_size,
				"stop_token_ids": info.stop_token_ids,
				"chat_template": if info.chat_template_from_model { "model" } else { "chatml" },
				"device": info.device.to_string(),
				"precision": info.precision.as_str(),
				"weights": {
					"root": to_hex(&info.weights.root),
					"total_len": info.weights.total_len,
					"chunk_count": info.weights.chunk_count,
					"tokenizer_hash": to_hex(&info.tokenizer_hash),
				},
			})
		})
		.collect();
	// One profile for the worker: precision and device are start-up flags, shared by its models.
	let profile = state
		.engine
		.models()
		.next()
		.map(|m| crate::profile::profile(m.info.device, m.info.precision));
	Json(json!({ "object": "list", "data": data, "execution_profile": profile }))
}

/// Prometheus scrape endpoint.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
	([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
