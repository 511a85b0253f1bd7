//! The server itself: `/health`, `/ready`, `/metrics`, `/api/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use nexus_api::Status;
use nexus_core::{ErrorCode, Fs};

use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::metrics;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "system", operation_id = "system_health", security(()),
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn system_health() -> axum::Json<Status> {
    axum::Json(Status {
        status: "ok".to_owned(),
    })
}

/// Readiness: 503 while shutting down.
#[utoipa::path(get, path = "/ready", tag = "system", operation_id = "system_ready", security(()),
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "Shutting down", body = nexus_api::ErrorBody),
    ))]
pub async fn system_ready(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return ApiError::new(ErrorCode::Unavailable, "shutting down").into_response();
    }
    axum::Json(Status {
        status: "ready".to_owned(),
    })
    .into_response()
}

/// Prometheus metrics (system administrators).
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "system_metrics",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub async fn system_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Metrics reveal routes and volumes: system administrators only.
    let identity = state.auth.authenticate(&state.fs, &headers, None)?;
    Fs::require_system(&identity.context(&state.fs), "reading metrics")?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        metrics::render(),
    )
        .into_response())
}

/// This document (no credentials needed).
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", operation_id = "system_openapi", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn system_openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::OPENAPI,
    )
        .into_response()
}
