//! API errors: `{"error":{"code","message","request_id"}}` with the right status. Error codes
//! map to HTTP statuses here and nowhere else.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nexus_api::{ErrorBody, ErrorDetail};
use nexus_core::{ErrorCode, FsError};

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub static REQUEST_ID: String;
    /// Whether internal errors are described to the caller (an in-process API used by the
    /// person who runs it, who has no server log to read).
    pub static REVEAL_INTERNAL: bool;
}

/// The current request's id, if any.
pub fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An error answer; its status is its code's ([`ErrorCode::status`]).
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For failed preconditions: the current entity tag.
    pub etag: Option<String>,
    /// For authentication failures: send `WWW-Authenticate`.
    pub challenge: bool,
    /// For 429: seconds to wait.
    pub retry_after: Option<u64>,
    /// A refusal that could be probing for principals (rate-limited by the middleware).
    pub probe: bool,
    /// What to try (also appended to the message).
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            etag: None,
            challenge: false,
            retry_after: None,
            probe: false,
            hint: None,
        }
    }

    /// A body over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the request body is larger than this server accepts ({limit} bytes, set by `limits.max_body_bytes` in its configuration)"
            ),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidInput, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError {
            challenge: true,
            ..ApiError::new(ErrorCode::Unauthenticated, message)
        }
    }

    /// Too many failed authentications from one client: 429 with `Retry-After`.
    pub fn too_many_failures(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                ErrorCode::TooManyRequests,
                "too many refused requests (failed authentications or unknown principals) from this address; retry later",
            )
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }
}

/// The `Retry-After` of a `503 unavailable` answer, in seconds.
const UNAVAILABLE_RETRY_SECS: u64 = 1;

/// The HTTP status of an error code (the map is [`ErrorCode::status`]).
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<FsError> for ApiError {
    fn from(error: FsError) -> Self {
        let code = error.code();
        let hint = error.hint();
        let message = if status_of(code).is_server_error() {
            tracing::error!(%error, "request failed");
            crate::metrics::storage_error();
            if REVEAL_INTERNAL.try_with(|reveal| *reveal).unwrap_or(false) {
                error.to_string()
            } else if code == ErrorCode::Unavailable {
                "the storage is unavailable for the moment; retry shortly".to_owned()
            } else {
                "the server could not complete the request; see its logs".to_owned()
            }
        } else {
            match &hint {
                Some(hint) => format!("{error} ({hint})"),
                None => error.to_string(),
            }
        };
        ApiError {
            hint,
            etag: error.current_etag().map(|tag| format!("\"{tag}\"")),
            probe: error.is_probe(),
            // A storage service that is down, or a write that lost its turn: try again soon.
            retry_after: (code == ErrorCode::Unavailable).then_some(UNAVAILABLE_RETRY_SECS),
            ..ApiError::new(code, message)
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::invalid(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                request_id: request_id(),
                hint: self.hint,
            },
        };
        let mut response = (status_of(self.code), axum::Json(body)).into_response();
        if let Some(tag) = self.etag.and_then(|tag| HeaderValue::from_str(&tag).ok()) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.probe {
            response
                .extensions_mut()
                .insert(crate::routes::ProbeRefusal);
        }
        response.extensions_mut().insert(self.code);
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"nexus\""),
            );
        }
        response
    }
}

/// The JSON error envelope for a response the framework made (a 405, a path that does not
/// decode, ...) or any other error response without one; JSON error bodies pass unchanged.
pub async fn envelope(response: Response, request_id: &str) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .unwrap_or_default();
    let status = parts.status;
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not accept that method (the `Allow` header lists those it does; see /api/openapi.json)"
                .to_owned(),
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is larger than this server accepts (`limits.max_body_bytes`)"
                .to_owned(),
        ),
        status if status.is_server_error() => (
            ErrorCode::Internal,
            "the server could not complete the request; see its logs".to_owned(),
        ),
        _ => {
            let text = text.trim();
            let invalid_url = text.starts_with("Invalid URL");
            (
                if invalid_url {
                    ErrorCode::InvalidPath
                } else {
                    ErrorCode::InvalidInput
                },
                if invalid_url {
                    "invalid path: it does not decode to UTF-8 text (check its percent-encoding)"
                        .to_owned()
                } else if text.is_empty() {
                    format!("the request was refused ({status})")
                } else {
                    text.chars().take(500).collect()
                },
            )
        }
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            request_id: request_id.to_owned(),
            hint: None,
        },
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;
