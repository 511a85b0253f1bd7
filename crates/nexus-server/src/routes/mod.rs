//! The REST API, one module per resource. Handlers are thin: parse, call the service
//! (`nexus_core::Fs`), render a `nexus_api` type. Identity comes only from credentials
//! ([`Caller`]); nothing in headers or bodies can name who is acting. Each handler is named
//! `<resource>_<verb>`, which is also its OpenAPI operation id.

pub mod accounts;
pub mod acl;
pub mod archive;
pub mod audit;
pub mod changes;
pub mod doc;
pub mod files;
pub mod items;
pub mod notifications;
pub mod orgs;
pub mod permissions;
pub mod relationships;
pub mod search;
mod stream;
pub mod system;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use nexus_api::RevisionToken;
use nexus_core::{CallContext, ErrorCode, Fs, OrgId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authenticator;
use crate::error::{ApiError, ApiResult, REQUEST_ID, REVEAL_INTERNAL};
use crate::metrics;

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
    /// Describe internal errors to the caller (in-process use only).
    pub reveal_internal: bool,
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
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        match state.auth.authenticate_request(&state.fs, parts) {
            Ok(identity) => {
                let mut context = identity.context(&state.fs);
                crate::audit::note_actor(
                    context.principal.to_string(),
                    context.on_behalf_of.as_ref().map(ToString::to_string),
                );
                context.origin = Some(Arc::new(nexus_core::Origin {
                    request_id: crate::error::request_id(),
                    client: client.map(|address| address.to_string()),
                    user_agent: user_agent(&parts.headers),
                }));
                Ok(Caller(context))
            }
            Err(error) if error.code == ErrorCode::Unauthenticated => {
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

/// The client's `User-Agent`, shortened to 200 characters.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|text| text.chars().take(200).collect())
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

/// A query string, or why it was refused (answered as `invalid_input`).
pub type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

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

/// `/` followed by a route's `{*path}`.
fn absolute(path: &str) -> String {
    format!("/{path}")
}

fn quoted(tag: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{tag}\"")).ok()
}

/// The one value of a header, refused if repeated or not text.
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

/// A body carrying the caller's revision token for `about` (see `nexus_core::authz::tokens`),
/// built by `body` from the token, with the same token in `X-Nexus-Revision`.
fn revisioned<T: Serialize>(
    state: &AppState,
    context: &CallContext,
    about: Option<&OrgId>,
    body: impl FnOnce(RevisionToken) -> T,
) -> ApiResult<Response> {
    let token = state.fs.relationships().revision_token(context, about)?;
    let header = HeaderValue::from_str(&token).ok();
    let mut response = axum::Json(body(RevisionToken(token))).into_response();
    if let Some(value) = header {
        response.headers_mut().insert("x-nexus-revision", value);
    }
    Ok(response)
}

/// Every documented route, with its OpenAPI description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(system::system_health))
        .routes(routes!(system::system_ready))
        .routes(routes!(system::system_metrics))
        .routes(routes!(system::system_openapi))
        .routes(routes!(accounts::accounts_whoami))
        .routes(routes!(accounts::users_list))
        .routes(routes!(accounts::users_lock))
        .routes(routes!(accounts::users_unlock))
        .routes(routes!(accounts::users_lockout))
        .routes(routes!(accounts::users_delete))
        .routes(routes!(accounts::keys_list, accounts::keys_create))
        .routes(routes!(accounts::keys_revoke))
        .routes(routes!(
            accounts::delegations_list,
            accounts::delegations_create
        ))
        .routes(routes!(accounts::delegations_revoke))
        .routes(routes!(audit::audit_list))
        .routes(routes!(archive::orgs_export))
        .routes(routes!(archive::orgs_import))
        .routes(routes!(notifications::notifications_list))
        .routes(routes!(notifications::notifications_read))
        .routes(routes!(notifications::notifications_stream))
        .routes(routes!(changes::changes_list))
        .routes(routes!(changes::changes_stream))
        .routes(routes!(
            files::files_cat,
            files::files_write,
            files::files_rm
        ))
        .routes(routes!(files::files_stat))
        .routes(routes!(files::files_ls_root))
        .routes(routes!(files::files_ls))
        .routes(routes!(files::files_mkdir))
        .routes(routes!(files::files_mv))
        .routes(routes!(files::files_cp))
        .routes(routes!(files::files_glob))
        .routes(routes!(files::files_grep))
        .routes(routes!(files::versions_list))
        .routes(routes!(files::versions_restore))
        .routes(routes!(files::versions_policy, files::versions_set_policy))
        .routes(routes!(orgs::orgs_list, orgs::orgs_create))
        .routes(routes!(orgs::members_list, orgs::members_add))
        .routes(routes!(orgs::members_remove))
        .routes(routes!(files::files_cat_in_org))
        .routes(routes!(acl::acl_setfacl))
        .routes(routes!(acl::acl_getfacl))
        .routes(routes!(relationships::relationships_write))
        .routes(routes!(relationships::relationships_read))
        .routes(routes!(relationships::relationships_delete))
        .routes(routes!(relationships::relationships_changes))
        .routes(routes!(permissions::permissions_check))
        .routes(routes!(permissions::permissions_expand))
        .routes(routes!(permissions::permissions_lookup_resources))
        .routes(routes!(permissions::permissions_lookup_subjects))
        .routes(routes!(permissions::schema_read, permissions::schema_write))
        .routes(routes!(items::items_create, items::items_list))
        .routes(routes!(
            items::items_get,
            items::items_update,
            items::items_delete
        ))
        .routes(routes!(items::items_share))
        .routes(routes!(items::items_unshare))
        .routes(routes!(items::items_access))
        .routes(routes!(items::items_assign))
        .routes(routes!(items::workflow_resolve))
        .routes(routes!(items::users_manager, items::users_set_manager))
        .routes(routes!(items::sessions_start, items::sessions_list))
        .routes(routes!(items::sessions_get))
        .routes(routes!(items::sessions_add))
        .routes(routes!(items::sessions_end))
        .routes(routes!(search::search_query))
        .routes(routes!(search::search_reindex))
}

/// The OpenAPI document of the routes, as committed in `openapi.json`.
pub fn openapi_document() -> serde_json::Value {
    let (_, generated) = api().split_for_parts();
    doc::document(&generated)
}

/// Builds the router.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (api, _) = api().split_for_parts();
    Router::new()
        .merge(crate::docs::routes())
        .merge(api)
        .fallback(not_found)
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
    let request_facts = crate::audit::Request {
        method: method.clone(),
        route: route.clone(),
        path: request.uri().path().to_owned(),
        request_id: id.clone(),
        client,
        user_agent: user_agent(request.headers()),
    };
    let started = Instant::now();
    let timeout = state.timeout;
    // The handler runs in its own task, so it always finishes: a client hanging up or the
    // deadline passing must never interrupt an operation between its commit and the
    // in-memory state (permission index, accounts) that follows the commit. Its audit entry
    // is written in that task too, with the handler's own outcome, so neither can skip it.
    let audited = crate::audit::recording(state.fs.clone(), request_facts, next.run(request));
    let handler = tokio::spawn(REQUEST_ID.scope(
        id.clone(),
        REVEAL_INTERNAL.scope(state.reveal_internal, audited),
    ));
    let mut response = REQUEST_ID
        .scope(id.clone(), async move {
            match tokio::time::timeout(timeout, handler).await {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    tracing::error!(%error, "request handler failed");
                    ApiError::new(
                        ErrorCode::Internal,
                        "the server could not complete the request; see its logs",
                    )
                    .into_response()
                }
                Err(_) => ApiError::new(
                    ErrorCode::Timeout,
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
    let status = response.status();
    let elapsed = started.elapsed();
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

/// A new random request id (16 hex digits).
pub fn new_request_id() -> String {
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

/// Unknown routes are 404 for everyone: the routes are public (see `/api/openapi.json`).
async fn not_found() -> ApiError {
    ApiError::not_found("no such route: see /api/openapi.json or /docs")
}

#[cfg(test)]
mod tests {
    /// The committed document is the generated one. Set `NEXUS_UPDATE_OPENAPI=1` to rewrite
    /// it after changing a route or a `nexus-api` type.
    #[test]
    fn the_committed_openapi_document_is_the_generated_one() {
        let generated = super::openapi_document();
        let mut text = serde_json::to_string_pretty(&generated).unwrap();
        text.push('\n');
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("NEXUS_UPDATE_OPENAPI").is_some() {
            // Rewriting: the comparison below holds from the next build on.
            std::fs::write(path, &text).unwrap();
            return;
        }
        assert!(generated["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(
            text == crate::OPENAPI,
            "openapi.json is not the generated document: run `NEXUS_UPDATE_OPENAPI=1 cargo test -p nexus-server openapi` and commit it"
        );
        // Every $ref resolves.
        for reference in text.split("\"$ref\": \"#/components/").skip(1) {
            let target = reference.split('"').next().unwrap();
            let mut node = &generated["components"];
            for part in target.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {target}");
        }
    }

    #[test]
    fn every_operation_id_is_its_handlers_name_and_unique() {
        let generated = super::openapi_document();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in generated["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    id.contains('_') && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{method} {path}: `{id}`"
                );
                assert!(ids.insert(id.to_owned()), "duplicate operation id {id}");
            }
        }
        assert!(ids.len() > 40, "{ids:?}");
    }
}
