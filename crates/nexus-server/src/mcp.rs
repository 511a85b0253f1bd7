//! `/mcp`: the MCP server (`nexus-mcp`) over streamable HTTP, as an OAuth 2.1 resource
//! server, with its Protected Resource Metadata (RFC 9728) at
//! `/.well-known/oauth-protected-resource`.
//!
//! Every request to `/mcp` is authenticated here, with the API's own authenticator (API keys,
//! JWTs): without valid credentials it gets `401` and a `WWW-Authenticate` challenge naming
//! the metadata document. The principal travels in the request's extensions to the tools,
//! which call the REST API served in-process as that principal ([`Authenticated`]): the
//! credentials themselves never go further than this module. Each tool call is recorded in
//! the audit log; requests are limited per principal.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::future::BoxFuture;
use nexus_client::{Client, Transport, TransportError};
use nexus_core::{ErrorCode, Fs};
use nexus_mcp::rmcp::service::{RequestContext, RoleServer};
use nexus_mcp::rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use nexus_mcp::{Connection, Connector, NexusMcp, ToolCall, ToolError};
use tokio_util::sync::CancellationToken;

use crate::auth::{Authenticated, Identity};
use crate::config::{Config, McpConfig};
use crate::error::{ApiError, REQUEST_ID};
use crate::routes::AppState;

/// Where the Protected Resource Metadata is served.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The caller of an MCP request, as authenticated by [`guard`].
#[derive(Debug, Clone)]
pub struct McpCaller {
    /// As the credentials name it (the API resolves handles to stable ids).
    pub identity: Identity,
    /// The acting principal as stored (`agent:a_7pq2`).
    pub stored: String,
    /// For a delegation, the user it acts for, as stored (`user:u_k3x9`).
    pub on_behalf_of: Option<String>,
    pub client: Option<SocketAddr>,
    /// The MCP client's `User-Agent`.
    pub user_agent: Option<String>,
    pub request_id: String,
    /// The MCP session the request belongs to (`Mcp-Session-Id`), if any.
    pub session: Option<String>,
}

impl McpCaller {
    /// Whose state the server keeps (the working session, subscriptions): the principal,
    /// for whom it acts, and the MCP session, so two clients of one principal never share it.
    fn key(&self) -> String {
        let mut key = self.stored.clone();
        if let Some(user) = &self.on_behalf_of {
            key.push_str(" for ");
            key.push_str(user);
        }
        if let Some(session) = &self.session {
            key.push_str(" in ");
            key.push_str(session);
        }
        key
    }
}

/// Requests per principal in fixed one-minute windows.
#[derive(Debug)]
struct RateLimiter {
    limit: u32,
    seen: parking_lot::Mutex<HashMap<String, (Instant, u32)>>,
}

/// Most principals tracked at once (expired windows are dropped first).
const MAX_TRACKED_PRINCIPALS: usize = 65_536;
const RATE_WINDOW: Duration = Duration::from_mins(1);

impl RateLimiter {
    /// Counts a request of `principal`; `Some(seconds until the window ends)` when over.
    fn over(&self, principal: &str) -> Option<u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_TRACKED_PRINCIPALS {
            seen.retain(|_, (start, _)| now.duration_since(*start) < RATE_WINDOW);
            if seen.len() >= MAX_TRACKED_PRINCIPALS {
                seen.clear();
            }
        }
        let entry = seen.entry(principal.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= RATE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (entry.1 > self.limit).then(|| {
            RATE_WINDOW
                .saturating_sub(now.duration_since(entry.0))
                .as_secs()
                .max(1)
        })
    }
}

/// Most MCP sessions whose principal is remembered (the oldest are forgotten first; a
/// forgotten session's requests are refused as of an unknown session).
const MAX_BOUND_SESSIONS: usize = 65_536;

/// Which principal opened each MCP session (`Mcp-Session-Id`): a session answers only to
/// the principal that opened it.
#[derive(Debug, Default)]
struct SessionOwners {
    owners: HashMap<String, String>,
    /// Sessions in the order they were opened.
    order: std::collections::VecDeque<String>,
}

impl SessionOwners {
    fn bind(&mut self, session: &str, owner: &str) {
        if self
            .owners
            .insert(session.to_owned(), owner.to_owned())
            .is_none()
        {
            self.order.push_back(session.to_owned());
        }
        while self.order.len() > MAX_BOUND_SESSIONS {
            if let Some(oldest) = self.order.pop_front() {
                self.owners.remove(&oldest);
            }
        }
    }
}

/// What the `/mcp` routes share.
#[derive(Debug)]
struct McpState {
    /// Which principal opened each MCP session.
    sessions: parking_lot::Mutex<SessionOwners>,
    app: AppState,
    public_url: Option<String>,
    /// The authorization servers the metadata names (`auth.oidc.issuer`).
    authorization_servers: Vec<String>,
    limiter: RateLimiter,
}

impl McpState {
    /// This server's base URL: the configured one, else from the request's `Host`.
    fn base(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

/// The API served in-process to the tools: each request acts as the caller it carries.
#[derive(Debug, Clone)]
struct CallerTransport {
    api: Router,
    caller: McpCaller,
}

impl Transport for CallerTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        let api = self.api.clone();
        let caller = self.caller.clone();
        Box::pin(async move {
            let mut request = request.map(axum::body::Body::from);
            request
                .extensions_mut()
                .insert(Authenticated(caller.identity.clone()));
            if let Some(client) = caller.client {
                request.extensions_mut().insert(ConnectInfo(client));
            }
            if let Some(agent) = caller
                .user_agent
                .as_deref()
                .and_then(|agent| HeaderValue::from_str(agent).ok())
            {
                request.headers_mut().insert(header::USER_AGENT, agent);
            }
            if let Ok(id) = HeaderValue::from_str(&caller.request_id) {
                request.headers_mut().insert("x-request-id", id);
            }
            crate::serve_in_process(api, request).await
        })
    }
}

/// Gives the tools the API as the request's caller, and records their calls.
#[derive(Debug)]
struct HttpConnector {
    api: Router,
    fs: Fs,
    /// The API's authenticator: long-lived work checks its request's credentials again.
    auth: Arc<crate::auth::Authenticator>,
    /// Where the calls' audit entries go (written behind, in batches).
    audit: tokio::sync::mpsc::Sender<nexus_core::AuditRecord>,
}

/// Audit entries waiting to be written, at most (past it, calls wait for room).
const AUDIT_BACKLOG: usize = 16_384;

fn caller_of(context: &RequestContext<RoleServer>) -> Option<&McpCaller> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpCaller>())
}

impl Connector for HttpConnector {
    fn connect(&self, context: &RequestContext<RoleServer>) -> Result<Connection, ToolError> {
        let caller = caller_of(context).ok_or_else(|| {
            ToolError::new(ErrorCode::Unauthenticated, "the request carries no caller")
        })?;
        Ok(Connection {
            client: Client::in_process(Arc::new(CallerTransport {
                api: self.api.clone(),
                caller: caller.clone(),
            })),
            caller: caller.key(),
        })
    }

    fn still_valid(&self, context: &RequestContext<RoleServer>) -> bool {
        let Some(parts) = context.extensions.get::<http::request::Parts>() else {
            return false;
        };
        let Some(caller) = parts.extensions.get::<McpCaller>() else {
            return false;
        };
        self.auth
            .authenticate(&self.fs, &parts.headers, parts.uri.query())
            .is_ok_and(|identity| {
                let now = identity.context(&self.fs);
                now.principal.to_string() == caller.stored
                    && now.on_behalf_of.as_ref().map(ToString::to_string) == caller.on_behalf_of
            })
    }

    fn record<'a>(
        &'a self,
        context: &'a RequestContext<RoleServer>,
        call: ToolCall,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(caller) = caller_of(context) else {
                return;
            };
            let entry = crate::audit::tool_call_entry(
                &self.fs,
                crate::audit::ToolCallRecord {
                    actor: caller.stored.clone(),
                    on_behalf_of: caller.on_behalf_of.clone(),
                    call,
                    request_id: caller.request_id.clone(),
                    client: caller.client.map(|address| address.ip()),
                    user_agent: caller.user_agent.clone(),
                },
            );
            if self.audit.send(entry).await.is_err() {
                tracing::error!(
                    "the audit entry of an MCP call was not recorded: the writer stopped"
                );
            }
        })
    }
}

/// The host names `/mcp` answers to.
fn allowed_hosts(config: &McpConfig, listening: IpAddr) -> Vec<String> {
    match &config.allowed_hosts {
        Some(hosts) => hosts.clone(),
        None if listening.is_loopback() => vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "[::1]".to_owned(),
        ],
        None => Vec::new(),
    }
}

/// What [`routes`] returns besides the routes: the token that ends their streams at
/// shutdown, and the task writing their audit entries (it ends once the routes are dropped
/// and everything is written).
#[derive(Debug)]
pub struct Mounted {
    pub streams: CancellationToken,
    pub audit: tokio::task::JoinHandle<()>,
}

/// The `/mcp` routes and the metadata document. `state` is the API's; its authenticator
/// checks the credentials.
pub fn routes(state: &AppState, config: &Config, listening: IpAddr) -> (Router, Mounted) {
    let cancel = CancellationToken::new();
    let (audit, entries) = tokio::sync::mpsc::channel(AUDIT_BACKLOG);
    let writer = tokio::spawn(crate::audit::write_behind(state.fs.clone(), entries));
    let api_state = AppState {
        auth: Arc::new(crate::auth::Authenticator::trusting()),
        ..state.clone()
    };
    let api = crate::routes::router(api_state, state.max_body_bytes);
    let handler = NexusMcp::new(Arc::new(HttpConnector {
        api,
        fs: state.fs.clone(),
        auth: state.auth.clone(),
        audit,
    }))
    .with_shutdown(cancel.child_token());
    let hosts = allowed_hosts(&config.mcp, listening);
    let mut http = StreamableHttpServerConfig::default()
        .with_json_response(true)
        .with_cancellation_token(cancel.child_token())
        .with_max_request_body_bytes(state.max_body_bytes)
        .with_allowed_origins(config.mcp.allowed_origins.clone())
        .enforce_origin_validation();
    http = if hosts.is_empty() {
        http.disable_allowed_hosts()
    } else {
        http.with_allowed_hosts(hosts)
    };
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        http,
    );
    let shared = Arc::new(McpState {
        sessions: parking_lot::Mutex::new(SessionOwners::default()),
        app: state.clone(),
        public_url: config.mcp.public_url.clone(),
        // The external authorization server, when there is one (API keys and this
        // server's own tokens are given out by the operator, not by an OAuth flow).
        authorization_servers: config
            .auth
            .oidc
            .as_ref()
            .map(|oidc| oidc.issuer.clone())
            .into_iter()
            .collect(),
        limiter: RateLimiter {
            limit: config.mcp.requests_per_minute,
            seen: parking_lot::Mutex::new(HashMap::new()),
        },
    });
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(shared.clone(), guard));
    let metadata = Router::new()
        .route(METADATA_PATH, axum::routing::get(metadata))
        .route(
            &format!("{METADATA_PATH}/mcp"),
            axum::routing::get(metadata),
        )
        .with_state(shared);
    (
        mcp.merge(metadata),
        Mounted {
            streams: cancel,
            audit: writer,
        },
    )
}

/// `GET /.well-known/oauth-protected-resource`: RFC 9728 Protected Resource Metadata.
async fn metadata(State(mcp): State<Arc<McpState>>, headers: HeaderMap) -> Response {
    let base = mcp.base(&headers);
    axum::Json(serde_json::json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": mcp.authorization_servers,
        "bearer_methods_supported": ["header"],
        "resource_name": "Nexus",
        "resource_documentation": format!("{base}/docs"),
    }))
    .into_response()
}

/// Authenticates every `/mcp` request, limits it per principal, and logs it.
async fn guard(State(mcp): State<Arc<McpState>>, request: Request, next: Next) -> Response {
    let request_id = crate::routes::new_request_id();
    let started = Instant::now();
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let response = REQUEST_ID
        .scope(request_id.clone(), async {
            match mcp
                .app
                .auth
                .authenticate(&mcp.app.fs, &parts.headers, parts.uri.query())
            {
                Ok(identity) => {
                    serve_caller(&mcp, identity, parts, body, next, request_id.clone()).await
                }
                Err(error) if error.code == ErrorCode::Unauthenticated => {
                    challenge(&mcp, &parts, error)
                }
                Err(error) => error.into_response(),
            }
        })
        .await;
    let status = response.status();
    crate::metrics::request(method.as_str(), "/mcp", status.as_u16(), started.elapsed());
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = "/mcp",
        status = status.as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        crate::metrics::denied();
    }
    response
}

/// An authenticated request: limited per principal, held to its MCP session's principal,
/// then served with the caller in its extensions.
async fn serve_caller(
    mcp: &McpState,
    identity: Identity,
    mut parts: axum::http::request::Parts,
    body: axum::body::Body,
    next: Next,
    request_id: String,
) -> Response {
    let context = identity.context(&mcp.app.fs);
    let stored = context.principal.to_string();
    let on_behalf_of = context.on_behalf_of.as_ref().map(ToString::to_string);
    if let Some(retry) = mcp.limiter.over(&stored) {
        return ApiError {
            retry_after: Some(retry),
            ..ApiError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "more than {} MCP requests in a minute from {stored}; retry later",
                    mcp.limiter.limit
                ),
            )
        }
        .into_response();
    }
    let session = parts
        .headers
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(ToOwned::to_owned);
    let owner = match &on_behalf_of {
        Some(user) => format!("{stored} for {user}"),
        None => stored.clone(),
    };
    if let Some(session) = &session {
        // Another principal's session is as unknown as a missing one.
        let bound = mcp.sessions.lock().owners.get(session).cloned();
        if bound.is_none_or(|bound| bound != owner) {
            return ApiError::not_found("no such MCP session: initialize a new one")
                .into_response();
        }
    }
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    parts.extensions.insert(McpCaller {
        identity,
        stored,
        on_behalf_of,
        client,
        user_agent: crate::routes::user_agent(&parts.headers),
        request_id,
        session: session.clone(),
    });
    let deleting = parts.method == axum::http::Method::DELETE;
    let response = next.run(Request::from_parts(parts, body)).await;
    // A session opened by this request belongs to its principal; a deleted one is
    // forgotten.
    if let Some(opened) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
    {
        mcp.sessions.lock().bind(opened, &owner);
    }
    if deleting
        && response.status().is_success()
        && let Some(session) = &session
    {
        let mut sessions = mcp.sessions.lock();
        sessions.owners.remove(session);
        sessions.order.retain(|kept| kept != session);
    }
    response
}

/// A request without valid credentials: `401` with the challenge naming the metadata
/// (`429` past the per-address limit of failures).
fn challenge(mcp: &McpState, parts: &axum::http::request::Parts, error: ApiError) -> Response {
    if let Some(client) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
        && mcp.app.failures.fail(client.0.ip())
    {
        return ApiError::too_many_failures(mcp.app.failures.window_secs()).into_response();
    }
    let base = mcp.base(&parts.headers);
    let presented = parts.headers.contains_key(header::AUTHORIZATION);
    let mut response = error.into_response();
    let challenge = if presented {
        format!("Bearer error=\"invalid_token\", resource_metadata=\"{base}{METADATA_PATH}/mcp\"")
    } else {
        format!("Bearer resource_metadata=\"{base}{METADATA_PATH}/mcp\"")
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
