//! The route handlers: `POST /alexa/{name}`, `POST /`, `GET /healthz`, `GET /metrics`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, ScopedError};
use super::state::AppState;
use super::turn;
use crate::scenario::Scenario;

/// `POST /alexa/{name}`.
pub async fn alexa_named(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScopedError> {
    let Some(scenario) = state.scenarios.current().get(&name).cloned() else {
        // The unknown name goes to the log line but never into a metric label.
        return Err(ApiError::NotFound(name).into());
    };
    answer(&state, &scenario, &headers, body).await
}

/// `POST /`: the only scenario, when exactly one is served.
pub async fn alexa_root(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScopedError> {
    let scenarios = state.scenarios.current();
    let Some(scenario) = scenarios.single().cloned() else {
        return Err(ApiError::Ambiguous(scenarios.len()).into());
    };
    answer(&state, &scenario, &headers, body).await
}

async fn answer(
    state: &AppState,
    scenario: &Arc<Scenario>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ScopedError> {
    let scoped = |err: ApiError| err.in_scenario(&scenario.id);
    let body = read_body(state, headers, body).await.map_err(scoped)?;
    let response = turn::handle(state, scenario, headers, &body)
        .await
        .map_err(scoped)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], response).into_response())
}

/// Reads the whole body within the body limit and the client-read budget.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.limits.body_bytes;
    // Refuse early on a declared length, before reading a byte of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    match tokio::time::timeout(state.limits.client_read, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => {
            let err = err.into_inner();
            if err.is::<http_body_util::LengthLimitError>() {
                Err(ApiError::TooLarge { limit })
            } else {
                Err(ApiError::Body(crate::errors::error_chain(err.as_ref())))
            }
        }
        Err(_elapsed) => Err(ApiError::BodyTimeout),
    }
}

/// `GET /healthz`: 200 when the store answers, 503 when it does not; the body
/// lists the served scenarios and the store's state.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = tokio::time::timeout(state.limits.lock_wait, state.store.health()).await;
    let (status, store_state) = match store {
        Ok(Ok(())) => (StatusCode::OK, "ok".to_string()),
        Ok(Err(err)) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "health check timed out".to_string(),
        ),
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "scenarios": state.scenarios.current().ids().collect::<Vec<_>>(),
        "store": { "backend": state.store.backend(), "status": store_state },
    });
    if status != StatusCode::OK {
        tracing::warn!(store = state.store.backend(), error = %store_state, "health check: store unavailable");
    }
    (status, Json(body)).into_response()
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
