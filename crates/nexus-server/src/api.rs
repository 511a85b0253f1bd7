//! The REST API. Handlers are thin: parse, call [`Fs`], render. Identity comes only from
//! credentials ([`Caller`]); nothing in headers or bodies can name who is acting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use nexus_core::{
    ByteRange, CallContext, Entry, Fs, GlobOptions, GrepOptions, ListOptions, MemberKind,
    MemberSpec, OrgId, Principal, ReadOptions, Role, WriteOptions,
};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef,
    WritePrecondition,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::Authenticator;
use crate::error::{ApiError, ApiResult, REQUEST_ID};
use crate::{metrics, views};

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub fs: Fs,
    pub auth: Arc<Authenticator>,
    /// Failed authentications per client address.
    pub failures: Arc<crate::auth::FailureLimiter>,
    pub timeout: Duration,
    /// Set while the server drains for shutdown (`/ready` then answers 503).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Largest request body accepted (`limits.max_body_bytes`).
    pub max_body_bytes: usize,
}

/// Marks a response refusing something that could be a probe for principals of other
/// organizations (see `FsError::is_probe`); the request middleware rate-limits them.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRefusal;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub CallContext);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state
            .auth
            .authenticate(&state.fs, &parts.headers, parts.uri.query())
        {
            Ok(principal) => Ok(Caller(state.fs.context(principal))),
            Err(error) if error.status == StatusCode::UNAUTHORIZED => {
                let client = parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip());
                if let Some(client) = client
                    && state.failures.fail(client)
                {
                    return Err(ApiError::too_many_failures(state.failures.window_secs()));
                }
                Err(error)
            }
            Err(error) => Err(error),
        }
    }
}

/// A JSON object body, whatever the `Content-Type` says (curl's `-d` labels JSON as a
/// form). Unknown fields and duplicate keys are refused by the target types; anything but an
/// object (`[]` would otherwise fill a struct with its defaults) is refused here.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(request.into_body(), state.max_body_bytes).await?;
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let first = text.iter().find(|byte| !byte.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(ApiError::invalid(
                "invalid JSON body: expected an object (`{...}`)",
            ));
        }
        serde_json::from_slice(text)
            .map(JsonBody)
            .map_err(|error| ApiError::invalid(format!("invalid JSON body: {error}")))
    }
}

/// Bytes of a body read past the limit (and thrown away) so that the client, still sending,
/// reads the 413 instead of a reset connection.
const MAX_DRAIN_BYTES: usize = 256 * 1024 * 1024;
/// Longest time spent reading (and throwing away) a body past the limit.
const MAX_DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request body of at most `limit` bytes. A larger one is refused with 413, after reading
/// (and discarding) the rest of it, up to [`MAX_DRAIN_BYTES`] or [`MAX_DRAIN_TIME`], so the
/// client gets the answer.
pub async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut collected = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::invalid(format!("the request body could not be read: {error}"))
        })?;
        if collected.len() + chunk.len() > limit {
            let mut drained = chunk.len();
            let _ = tokio::time::timeout(MAX_DRAIN_TIME, async {
                while drained <= MAX_DRAIN_BYTES
                    && let Some(Ok(chunk)) = stream.next().await
                {
                    drained += chunk.len();
                }
            })
            .await;
            return Err(ApiError::too_large(limit));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// Builds the router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/api/whoami", get(whoami))
        .route(
            "/api/fs/{*path}",
            get(read_file).put(write_file).delete(remove),
        )
        .route("/api/stat/{*path}", get(stat))
        .route("/api/ls", get(list_root))
        .route("/api/ls/{*path}", get(list))
        .route("/api/mkdir/{*path}", post(mkdir))
        .route("/api/versions/{*path}", get(versions))
        .route("/api/restore/{*path}", post(restore))
        .route(
            "/api/version-policy/{org}",
            get(version_policy).put(set_version_policy),
        )
        .route("/api/users", get(list_users))
        .route("/api/mv", post(move_path))
        .route("/api/cp", post(copy_path))
        .route("/api/glob", post(glob))
        .route("/api/grep", post(grep))
        .route("/api/orgs", get(list_orgs).post(create_org))
        .route(
            "/api/orgs/{org}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/api/orgs/{org}/members/{user}",
            axum::routing::delete(remove_member),
        )
        .route("/api/orgs/{org}/{*path}", get(read_org_file))
        .route("/api/acl", post(setfacl))
        .route("/api/acl/{*path}", get(getfacl))
        .route("/api/rebac/relationships", post(write_relationships))
        .route("/api/rebac/relationships/read", post(read_relationships))
        .route(
            "/api/rebac/relationships/delete",
            post(delete_relationships),
        )
        .route("/api/rebac/check", post(check))
        .route("/api/rebac/expand", post(expand))
        .route("/api/rebac/lookup-resources", post(lookup_resources))
        .route("/api/rebac/lookup-subjects", post(lookup_subjects))
        .route("/api/rebac/schema", get(read_schema).put(write_schema))
        .route("/api/rebac/changes", get(changes))
        .route("/api/keys", get(list_keys).post(create_key))
        .route("/api/keys/{id}", axum::routing::delete(revoke_key))
        .route("/api/openapi.json", get(openapi))
        .fallback(not_found);
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(prometheus))
        .merge(crate::docs::routes())
        .merge(api)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request id, timeout, metrics and a log line for every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(new_request_id, ToOwned::to_owned);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let started = Instant::now();
    let timeout = state.timeout;
    // The handler runs in its own task, so it always finishes: a client hanging up or the
    // deadline passing must never interrupt an operation between its commit and the
    // in-memory state (permission index, accounts) that follows the commit.
    let handler = tokio::spawn(REQUEST_ID.scope(id.clone(), next.run(request)));
    let mut response = REQUEST_ID
        .scope(id.clone(), async move {
            match tokio::time::timeout(timeout, handler).await {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    tracing::error!(%error, "request handler failed");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the server could not complete the request; see its logs",
                    )
                    .into_response()
                }
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "the request took too long to answer; it keeps running and, if it changes anything, completes (check before retrying)",
                )
                .into_response(),
            }
        })
        .await;
    // Refusals that could be probing for other organizations' principals count like failed
    // authentications: past the limit, the caller's further probes get 429.
    if response.extensions().get::<ProbeRefusal>().is_some()
        && let Some(client) = client
        && state.failures.fail(client)
    {
        response = REQUEST_ID.sync_scope(id.clone(), || {
            ApiError::too_many_failures(state.failures.window_secs()).into_response()
        });
    }
    // Every error is the JSON envelope, the framework's own rejections included.
    if response.status().is_client_error() || response.status().is_server_error() {
        response = crate::error::envelope(response, &id).await;
    }
    let elapsed = started.elapsed();
    let status = response.status();
    metrics::request(method.as_str(), &route, status.as_u16(), elapsed);
    if status == StatusCode::FORBIDDEN {
        metrics::denied();
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn new_request_id() -> String {
    use rand::RngExt;
    let mut bytes = [0u8; 8];
    rand::rng().fill(&mut bytes);
    bytes
        .iter()
        .fold(String::with_capacity(16), |mut id, byte| {
            use std::fmt::Write as _;
            let _ = write!(id, "{byte:02x}");
            id
        })
}

async fn health() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "shutting down",
        )
        .into_response();
    }
    axum::Json(json!({"status": "ready"})).into_response()
}

async fn prometheus(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    // Metrics reveal routes and volumes: system administrators only.
    let principal = state.auth.authenticate(&state.fs, &headers, None)?;
    if principal != Principal::System {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "metrics need a system administrator's credentials",
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        metrics::render(),
    )
        .into_response())
}

/// Unknown routes are 404 for everyone: the routes are public (see `/api/openapi.json`).
async fn not_found() -> ApiError {
    ApiError::not_found("no such route: see /api/openapi.json or /docs")
}

/// The OpenAPI document, without credentials.
async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::OPENAPI,
    )
        .into_response()
}

fn absolute(path: &str) -> String {
    format!("/{path}")
}

fn describe(state: &AppState, principal: &Principal) -> Value {
    match principal {
        Principal::System => json!({"kind": "system", "id": "system"}),
        Principal::User(id) => json!({
            "kind": "user",
            "id": id,
            "handle": state.fs.accounts().handle("user", id),
        }),
        Principal::Agent(id) => json!({"kind": "agent", "id": id, "handle": id}),
    }
}

async fn whoami(State(state): State<AppState>, Caller(context): Caller) -> ApiResult<Response> {
    let mut body = describe(&state, &context.principal);
    let orgs: Vec<String> = state
        .fs
        .organizations(&context)
        .await?
        .into_iter()
        .map(|record| record.org_id)
        .collect();
    if let Some(object) = body.as_object_mut() {
        object.insert("orgs".to_owned(), json!(orgs));
    }
    Ok(axum::Json(body).into_response())
}

// ---------------------------------------------------------------- files

fn quoted(tag: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{tag}\"")).ok()
}

fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => "application/json",
        Some("md" | "txt" | "csv" | "yaml" | "yml" | "log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn header_text<'a>(
    headers: &'a HeaderMap,
    name: &header::HeaderName,
) -> ApiResult<Option<&'a str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid(format!("more than one `{name}` header")));
    }
    first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid(format!("`{name}` is not valid text")))
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    #[serde(default)]
    version: Option<u64>,
}

async fn read_path(
    state: &AppState,
    context: &CallContext,
    path: &str,
    headers: &HeaderMap,
    version: Option<u64>,
) -> ApiResult<Response> {
    let range = match header_text(headers, &header::RANGE)? {
        None => None,
        Some(text) => {
            let spec = text.strip_prefix("bytes=").ok_or_else(|| {
                ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    "only `Range: bytes=START-END` is supported",
                )
            })?;
            if spec.contains(',') {
                return Err(ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    "multiple ranges are not supported",
                ));
            }
            Some(ByteRange::parse(spec.trim())?)
        }
    };
    let output = match state
        .fs
        .read(context, path, ReadOptions { range, version })
        .await
    {
        Ok(output) => output,
        Err(nexus_core::FsError::RangeNotSatisfiable { path, range, size }) => {
            let error =
                ApiError::from(nexus_core::FsError::RangeNotSatisfiable { path, range, size });
            let mut response = error.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        Err(error) => return Err(error.into()),
    };
    let etag = output.entry.etag.clone().unwrap_or_default();
    if let Some(wanted) = header_text(headers, &header::IF_NONE_MATCH)?
        && wanted.split(',').any(|tag| {
            tag.trim() == "*" || tag.trim().trim_start_matches("W/").trim_matches('"') == etag
        })
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Some(value) = quoted(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    let status = if output.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = (status, Body::from(output.content)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = quoted(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some((start, end)) = output.range
        && let Ok(value) = HeaderValue::from_str(&format!(
            "bytes {start}-{}/{}",
            end.saturating_sub(1),
            output.entry.size
        ))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

async fn read_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<String>,
    query: Result<Query<ReadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(query) = query?;
    read_path(&state, &caller.0, &absolute(&path), &headers, query.version).await
}

async fn read_org_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    read_path(
        &state,
        &caller.0,
        &format!("/orgs/{org}/{path}"),
        &headers,
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteQuery {
    #[serde(default)]
    parents: bool,
}

fn entry_response(status: StatusCode, entry: &Entry) -> Response {
    let mut response = (status, axum::Json(entry)).into_response();
    if let Some(value) = entry.etag.as_deref().and_then(quoted) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

async fn write_file(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: Result<Query<WriteQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let body = read_body(body, state.max_body_bytes).await?;
    let if_match = header_text(&headers, &header::IF_MATCH)?.map(ToOwned::to_owned);
    let if_none_match = match header_text(&headers, &header::IF_NONE_MATCH)? {
        None => false,
        Some("*") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "`If-None-Match` on a write must be `*` (create only if absent)",
            ));
        }
    };
    let entry = state
        .fs
        .write(
            &context,
            &absolute(&path),
            body,
            WriteOptions {
                if_match,
                if_none_match,
                create_parents: query.parents,
            },
        )
        .await?;
    let status = if entry.version <= 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(entry_response(status, &entry))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveQuery {
    #[serde(default)]
    recursive: bool,
}

async fn remove(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: Result<Query<RemoveQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let result = state
        .fs
        .rm(&context, &absolute(&path), query.recursive)
        .await?;
    Ok(axum::Json(result).into_response())
}

async fn stat(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let entry = state.fs.stat(&context, &absolute(&path)).await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    cursor: Option<String>,
}

async fn list_path(
    state: &AppState,
    context: &CallContext,
    path: &str,
    query: ListQuery,
) -> ApiResult<Response> {
    let page = state
        .fs
        .ls(
            context,
            path,
            ListOptions {
                recursive: query.recursive,
                limit: query.limit,
                cursor: query.cursor,
            },
        )
        .await?;
    Ok(axum::Json(page).into_response())
}

async fn list_root(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    list_path(&state, &context, "/", query).await
}

async fn list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    list_path(&state, &context, &absolute(&path), query).await
}

async fn mkdir(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    query: Result<Query<WriteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let entry = state
        .fs
        .mkdir(&context, &absolute(&path), query.parents)
        .await?;
    Ok(entry_response(StatusCode::CREATED, &entry))
}

async fn versions(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let versions = state.fs.versions(&context, &absolute(&path)).await?;
    Ok(axum::Json(json!({ "versions": versions })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    version: u64,
}

async fn restore(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
    JsonBody(body): JsonBody<RestoreBody>,
) -> ApiResult<Response> {
    let entry = state
        .fs
        .restore(&context, &absolute(&path), body.version)
        .await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    /// Keep at most this many versions of each file (`null`: all).
    keep: Option<u32>,
    /// Drop versions older than this many days (`null`: never).
    keep_days: Option<u32>,
}

fn policy_json(org: &str, policy: nexus_core::VersionPolicy) -> Value {
    json!({"org": org, "keep": policy.keep_last, "keep_days": policy.keep_days})
}

async fn version_policy(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<Response> {
    let policy = state.fs.version_policy(&context, &org).await?;
    Ok(axum::Json(policy_json(&org, policy)).into_response())
}

async fn set_version_policy(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<PolicyBody>,
) -> ApiResult<Response> {
    let policy = nexus_core::VersionPolicy {
        keep_last: body.keep,
        keep_days: body.keep_days,
    };
    let policy = state.fs.set_version_policy(&context, &org, policy).await?;
    Ok(axum::Json(policy_json(&org, policy)).into_response())
}

async fn list_users(State(state): State<AppState>, Caller(context): Caller) -> ApiResult<Response> {
    if context.principal != Principal::System {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "listing every user needs a system administrator's credentials",
        ));
    }
    Ok(axum::Json(json!({"users": state.fs.accounts().list()})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    from: String,
    to: String,
    #[serde(default)]
    overwrite: bool,
    #[serde(default)]
    recursive: bool,
}

async fn move_path(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<MoveBody>,
) -> ApiResult<Response> {
    let entry = state
        .fs
        .mv(&context, &body.from, &body.to, body.overwrite)
        .await?;
    Ok(entry_response(StatusCode::OK, &entry))
}

async fn copy_path(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<MoveBody>,
) -> ApiResult<Response> {
    let entry = state
        .fs
        .cp(
            &context,
            &body.from,
            &body.to,
            body.recursive,
            body.overwrite,
        )
        .await?;
    Ok(entry_response(StatusCode::CREATED, &entry))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobBody {
    pattern: String,
    #[serde(default)]
    limit: Option<usize>,
}

async fn glob(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<GlobBody>,
) -> ApiResult<Response> {
    let result = state
        .fs
        .glob(&context, &body.pattern, GlobOptions { limit: body.limit })
        .await?;
    Ok(axum::Json(result).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrepBody {
    pattern: String,
    path: String,
    #[serde(default)]
    ignore_case: bool,
    #[serde(default)]
    context: usize,
    #[serde(default)]
    max_matches: Option<usize>,
    #[serde(default)]
    include: Option<String>,
}

async fn grep(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<GrepBody>,
) -> ApiResult<Response> {
    if body.context > 100 {
        return Err(ApiError::invalid("`context` is at most 100 lines"));
    }
    let result = state
        .fs
        .grep(
            &context,
            &body.pattern,
            &body.path,
            GrepOptions {
                ignore_case: body.ignore_case,
                context: body.context,
                max_matches: body.max_matches,
                include: body.include,
                max_file_bytes: None,
            },
        )
        .await?;
    Ok(axum::Json(result).into_response())
}

// ---------------------------------------------------------------- organizations

async fn list_orgs(State(state): State<AppState>, Caller(context): Caller) -> ApiResult<Response> {
    let orgs: Vec<Value> = state
        .fs
        .organizations(&context)
        .await?
        .into_iter()
        .map(|record| json!({"org_id": record.org_id, "name": record.name, "created_at": record.created_at}))
        .collect();
    Ok(axum::Json(json!({ "orgs": orgs })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrgBody {
    id: String,
    name: String,
    #[serde(default)]
    workspaces: Vec<String>,
}

async fn create_org(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CreateOrgBody>,
) -> ApiResult<Response> {
    let id =
        nexus_core::OrgId::parse(&body.id).map_err(|error| ApiError::invalid(error.to_string()))?;
    if context.principal != Principal::System {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "creating organizations needs a system administrator's credentials",
        ));
    }
    let spec = nexus_core::OrgSpec {
        id,
        name: body.name,
        workspaces: body
            .workspaces
            .into_iter()
            .map(|id| nexus_core::WorkspaceSpec { id, name: None })
            .collect(),
        members: Vec::new(),
        settings: serde_json::Map::new(),
    };
    let report = state.fs.create_org(&context, spec).await?;
    Ok((StatusCode::CREATED, axum::Json(report)).into_response())
}

fn member_json(state: &AppState, member: &nexus_core::MemberRecord) -> Value {
    let mut value = serde_json::to_value(member).unwrap_or(Value::Null);
    if member.kind == MemberKind::Human
        && let Some(id) = state.fs.accounts().user_id(&member.user_id)
        && let Some(object) = value.as_object_mut()
    {
        object.insert("id".to_owned(), json!(id));
    }
    value
}

async fn list_members(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<Response> {
    let members = state.fs.list_members(&context, &org).await?;
    Ok(axum::Json(json!({
        "org_id": org,
        "members": members.iter().map(|member| member_json(&state, member)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMemberBody {
    user_id: String,
    #[serde(default = "default_role")]
    role: Role,
    #[serde(default)]
    workspaces: Vec<String>,
    #[serde(rename = "type", default)]
    kind: MemberKind,
}

fn default_role() -> Role {
    Role::Member
}

async fn add_member(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<AddMemberBody>,
) -> ApiResult<Response> {
    let member = state
        .fs
        .add_member(
            &context,
            &org,
            MemberSpec {
                user_id: body.user_id.clone(),
                role: body.role,
                kind: body.kind,
                workspaces: body.workspaces.clone(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "success": true,
            "org_id": org,
            "user_id": body.user_id,
            "role": body.role,
            "workspaces": body.workspaces,
            "member": member_json(&state, &member),
        })),
    )
        .into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    state.fs.remove_member(&context, &org, &user).await?;
    Ok(axum::Json(json!({"success": true, "removed": user})).into_response())
}

// ---------------------------------------------------------------- ACLs and ReBAC

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetfaclBody {
    path: String,
    entry: String,
}

async fn setfacl(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<SetfaclBody>,
) -> ApiResult<Response> {
    let listing = state.fs.setfacl(&context, &body.path, &body.entry).await?;
    let org = org_of_path(&body.path);
    revisioned(&state, &context, org.as_ref(), json!(listing))
}

async fn getfacl(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let listing = state.fs.getfacl(&context, &absolute(&path))?;
    let org = org_of_path(&absolute(&path));
    revisioned(&state, &context, org.as_ref(), json!(listing))
}

/// A body with the caller's revision token for `about` added as `revision` (and in
/// `X-Nexus-Revision`); see `nexus_core::authz::tokens`.
fn revisioned(
    state: &AppState,
    context: &CallContext,
    about: Option<&OrgId>,
    mut body: Value,
) -> ApiResult<Response> {
    let revision = state.fs.revision_token(context, about)?;
    if let Some(object) = body.as_object_mut() {
        object.insert("revision".to_owned(), json!(revision));
    }
    let mut response = axum::Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&revision) {
        response.headers_mut().insert("x-nexus-revision", value);
    }
    Ok(response)
}

/// The organization of a path (none for `/`, `/orgs` and invalid paths).
fn org_of_path(path: &str) -> Option<OrgId> {
    nexus_core::VfsPath::parse(path)
        .ok()?
        .location()
        .ok()?
        .org()
        .cloned()
}

/// A client's `at_least`: a revision token (or, from the system, a revision number).
fn at_least_text(value: Option<&Value>) -> ApiResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) if number.is_u64() => Ok(Some(number.to_string())),
        Some(_) => Err(ApiError::invalid(
            "`at_least` is the `revision` token of an earlier response",
        )),
    }
}

fn parse_object(text: &str) -> ApiResult<ObjectRef> {
    if text.starts_with('/') {
        let path = nexus_core::VfsPath::parse(text)
            .map_err(|error| ApiError::invalid(error.to_string()))?;
        return Ok(ObjectRef::new("file", path.as_str()));
    }
    ObjectRef::parse(text).map_err(|error| ApiError::invalid(error.to_string()))
}

fn parse_subject(text: &str) -> ApiResult<SubjectRef> {
    SubjectRef::parse(text).map_err(|error| ApiError::invalid(error.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationshipBody {
    /// `create` (fails if present), `touch` (create or replace) or `delete`.
    operation: String,
    /// `resource#relation@subject`, or the three fields below.
    #[serde(default)]
    relationship: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    relation: Option<String>,
    #[serde(default)]
    object: Option<String>,
    /// RFC 3339 expiry.
    #[serde(default)]
    expires_at: Option<String>,
    /// A caveat: its name and (optionally) part of its context.
    #[serde(default)]
    caveat: Option<CaveatBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaveatBody {
    name: String,
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteRelationshipsBody {
    updates: Vec<RelationshipBody>,
}

fn relationship_of(body: &RelationshipBody) -> ApiResult<Relationship> {
    let mut relationship = match (
        &body.relationship,
        &body.subject,
        &body.relation,
        &body.object,
    ) {
        (Some(text), None, None, None) => {
            let relationship =
                Relationship::parse(text).map_err(|error| ApiError::invalid(error.to_string()))?;
            if relationship.resource.object_type == "file" {
                let mut relationship = relationship;
                relationship.resource = parse_object(&relationship.resource.object_id)
                    .or_else(|_| Ok::<_, ApiError>(relationship.resource.clone()))?;
                relationship
            } else {
                relationship
            }
        }
        (None, Some(subject), Some(relation), Some(object)) => Relationship::new(
            parse_object(object)?,
            relation.clone(),
            parse_subject(subject)?,
        ),
        _ => {
            return Err(ApiError::invalid(
                "give either `relationship` or all of `subject`, `relation` and `object`",
            ));
        }
    };
    if let Some(expires) = &body.expires_at {
        let micros = parse_rfc3339_micros(expires)?;
        relationship.expires_at = Some(micros);
    }
    if let Some(caveat) = &body.caveat {
        relationship.caveat = Some(nexus_rebac::RelationshipCaveat {
            name: caveat.name.clone(),
            context: caveat.context.clone(),
        });
    }
    Ok(relationship)
}

fn parse_rfc3339_micros(text: &str) -> ApiResult<i64> {
    let probe = Relationship::parse(&format!("file:/x#r@user:u[expiration:{text}]"))
        .map_err(|_| ApiError::invalid(format!("invalid `expires_at` `{text}`: use RFC 3339")))?;
    probe
        .expires_at
        .ok_or_else(|| ApiError::invalid(format!("invalid `expires_at` `{text}`")))
}

async fn write_relationships(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<WriteRelationshipsBody>,
) -> ApiResult<Response> {
    if body.updates.is_empty() {
        return Err(ApiError::invalid("`updates` is empty"));
    }
    let mut updates = Vec::with_capacity(body.updates.len());
    for update in &body.updates {
        let operation = match update.operation.as_str() {
            "create" => Operation::Create,
            "touch" => Operation::Touch,
            "delete" => Operation::Delete,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown operation `{other}`: use create, touch or delete"
                )));
            }
        };
        updates.push(RelationshipUpdate {
            operation,
            relationship: relationship_of(update)?,
        });
    }
    let org =
        nexus_core::authz::one_org(updates.iter().map(|update| &update.relationship.resource));
    let outcome = state
        .fs
        .relationships_write(&context, updates, Vec::<WritePrecondition>::new())
        .await?;
    let written_at = state.fs.revision_token(&context, org.as_ref())?;
    revisioned(
        &state,
        &context,
        org.as_ref(),
        json!({
            "changes": outcome.changes.iter().map(|change| json!({
                "operation": match change.operation { Operation::Delete => "delete", _ => "touch" },
                "relationship": change.relationship.to_string(),
            })).collect::<Vec<_>>(),
            "written_at": written_at,
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    /// `type` or `type:id` or a path.
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    relation: Option<String>,
    /// `type`, `type:id` or `type:id#relation`.
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// Answer at least as fresh as this revision token.
    #[serde(default)]
    at_least: Option<Value>,
    /// Continue after this relationship (the last of the previous page).
    #[serde(default)]
    after: Option<String>,
}

/// The organization of the one resource a filter names.
fn filter_org(filter: &RelationshipFilter) -> Option<OrgId> {
    match (&filter.resource_type, &filter.resource_id) {
        (Some(kind), Some(id)) => {
            nexus_core::authz::org_of_object(&ObjectRef::new(kind.clone(), id.clone()))
        }
        _ => None,
    }
}

fn filter_of(body: &FilterBody) -> ApiResult<RelationshipFilter> {
    let mut filter = RelationshipFilter {
        relation: body.relation.clone(),
        ..RelationshipFilter::default()
    };
    if let Some(resource) = &body.resource {
        if resource.contains(':') || resource.starts_with('/') {
            let object = parse_object(resource)?;
            filter.resource_type = Some(object.object_type);
            filter.resource_id = Some(object.object_id);
        } else {
            filter.resource_type = Some(resource.clone());
        }
    }
    if let Some(subject) = &body.subject {
        if subject.contains(':') {
            let subject = parse_subject(subject)?;
            filter.subject_type = Some(subject.object.object_type);
            filter.subject_id = Some(subject.object.object_id);
            filter.subject_relation = Some(subject.relation);
        } else {
            filter.subject_type = Some(subject.clone());
        }
    }
    Ok(filter)
}

async fn read_relationships(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<FilterBody>,
) -> ApiResult<Response> {
    state
        .fs
        .require_fresh(&context, at_least_text(body.at_least.as_ref())?.as_deref())?;
    let filter = filter_of(&body)?;
    let limit = body.limit.unwrap_or(1000).clamp(1, 10_000);
    let after = body
        .after
        .as_deref()
        .map(|text| Relationship::parse(text).map_err(|error| ApiError::invalid(error.to_string())))
        .transpose()?;
    let found = state
        .fs
        .relationships_read(&context, &filter, after.as_ref(), limit)?;
    let org = filter_org(&filter);
    revisioned(
        &state,
        &context,
        org.as_ref(),
        json!({"relationships": found.iter().map(ToString::to_string).collect::<Vec<_>>()}),
    )
}

async fn delete_relationships(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<FilterBody>,
) -> ApiResult<Response> {
    let filter = filter_of(&body)?;
    let org = filter_org(&filter);
    let outcome = state.fs.relationships_delete(&context, filter).await?;
    let written_at = state.fs.revision_token(&context, org.as_ref())?;
    revisioned(
        &state,
        &context,
        org.as_ref(),
        json!({"deleted": outcome.changes.len(), "written_at": written_at}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    subject: String,
    permission: String,
    object: String,
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
    /// Answer at least as fresh as this revision token.
    #[serde(default)]
    at_least: Option<Value>,
}

async fn check(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CheckBody>,
) -> ApiResult<Response> {
    let resource = parse_object(&body.object)?;
    let subject = parse_subject(&body.subject)?;
    let at_least = at_least_text(body.at_least.as_ref())?;
    let result = state.fs.check(
        &context,
        nexus_core::CheckQuery {
            resource: &resource,
            permission: &body.permission,
            subject: &subject,
            context: body.context.as_ref(),
            at_least: at_least.as_deref(),
        },
    )?;
    metrics::permission_check(result == nexus_rebac::CheckResult::Has);
    let org = nexus_core::authz::org_of_object(&resource);
    revisioned(&state, &context, org.as_ref(), views::check_json(&result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpandBody {
    permission: String,
    object: String,
    #[serde(default)]
    recursive: bool,
}

async fn expand(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<ExpandBody>,
) -> ApiResult<Response> {
    let object = parse_object(&body.object)?;
    let tree = state
        .fs
        .expand(&context, &object, &body.permission, body.recursive)?;
    let org = nexus_core::authz::org_of_object(&object);
    revisioned(
        &state,
        &context,
        org.as_ref(),
        json!({"tree": views::expand_json(&tree)}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupResourcesBody {
    subject: String,
    permission: String,
    resource_type: String,
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
}

async fn lookup_resources(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<LookupResourcesBody>,
) -> ApiResult<Response> {
    let found = state.fs.lookup_resources(
        &context,
        &body.resource_type,
        &body.permission,
        &parse_subject(&body.subject)?,
        body.context.as_ref(),
    )?;
    revisioned(
        &state,
        &context,
        None,
        json!({"resources": found.iter().map(|found| json!({
            "id": found.id,
            "result": views::result_name(&found.result),
        })).collect::<Vec<_>>()}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupSubjectsBody {
    object: String,
    permission: String,
    /// `user`, `agent` or `group#member`.
    subject_type: String,
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
}

async fn lookup_subjects(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<LookupSubjectsBody>,
) -> ApiResult<Response> {
    let (subject_type, relation) = match body.subject_type.split_once('#') {
        Some((kind, relation)) => (kind, Some(relation)),
        None => (body.subject_type.as_str(), None),
    };
    let object = parse_object(&body.object)?;
    let found = state.fs.lookup_subjects(
        &context,
        &object,
        &body.permission,
        subject_type,
        relation,
        body.context.as_ref(),
    )?;
    let org = nexus_core::authz::org_of_object(&object);
    revisioned(&state, &context, org.as_ref(), views::subjects_json(&found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    #[serde(default)]
    since: u64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn changes(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(1000).clamp(1, 100_000);
    let changes = state
        .fs
        .relationship_changes(&context, query.since, limit)
        .await?;
    revisioned(
        &state,
        &context,
        None,
        json!({"changes": changes.iter().map(|recorded| json!({
            "revision": recorded.revision,
            "operation": if recorded.change.operation == nexus_core::ChangeOperation::Delete { "delete" } else { "touch" },
            "relationship": recorded.change.relationship.to_string(),
        })).collect::<Vec<_>>()}),
    )
}

async fn read_schema(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> ApiResult<Response> {
    let (schema, custom) = state.fs.schema();
    revisioned(
        &state,
        &context,
        None,
        json!({"schema": schema, "custom": custom}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaBody {
    schema: String,
}

async fn write_schema(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<SchemaBody>,
) -> ApiResult<Response> {
    state.fs.write_schema(&context, &body.schema).await?;
    let written_at = state.fs.revision_token(&context, None)?;
    revisioned(&state, &context, None, json!({"written_at": written_at}))
}

// ---------------------------------------------------------------- API keys

async fn list_keys(State(state): State<AppState>, Caller(context): Caller) -> ApiResult<Response> {
    Ok(axum::Json(json!({"keys": state.fs.api_keys(&context)})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    /// `system`, `user:<handle or id>` or `agent:<id>`; the caller itself when absent.
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    description: String,
}

async fn create_key(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CreateKeyBody>,
) -> ApiResult<Response> {
    let principal = body
        .principal
        .unwrap_or_else(|| context.principal.to_string());
    let key = state
        .fs
        .create_api_key(&context, &principal, &body.description)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(key)).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.fs.revoke_api_key(&context, &id).await?;
    Ok(axum::Json(json!({"revoked": id})).into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (method, path) of every route `router` declares, read from this file's source, with
    /// `{*path}` written as OpenAPI writes it (`{path}`).
    fn declared_routes() -> BTreeSet<(String, String)> {
        let source = include_str!("api.rs");
        let body = source
            .split("pub fn router(")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .unwrap_or_default();
        let mut routes = BTreeSet::new();
        for chunk in body.split(".route(").skip(1) {
            let path = chunk
                .split('"')
                .nth(1)
                .unwrap_or_default()
                .replace("{*", "{");
            for method in ["get", "post", "put", "delete"] {
                let call = chunk.split(".route(").next().unwrap_or_default();
                let calls_it =
                    call.contains(&format!("{method}(")) && !call.contains(&format!("_{method}("));
                if calls_it {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn the_committed_openapi_document_describes_every_route_and_only_those() {
        let spec: serde_json::Value = serde_json::from_str(crate::OPENAPI).unwrap();
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented = BTreeSet::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let declared = declared_routes();
        assert!(declared.len() > 30, "{declared:?}");
        assert_eq!(
            declared.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "routes missing from openapi.json"
        );
        assert_eq!(
            documented.difference(&declared).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "openapi.json documents routes that do not exist"
        );
        // Every operation has an id, and every $ref resolves.
        let text = crate::OPENAPI;
        for reference in text.split("\"$ref\": \"#/components/").skip(1) {
            let target = reference.split('"').next().unwrap();
            let mut node = &spec["components"];
            for part in target.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {target}");
        }
    }
}
