//! The Nexus HTTP server.
//!
//! ```text
//!   config.rs    nexus.yaml: parsing, environment expansion, validation
//!   auth.rs      API keys and JWTs → the acting principal
//!   routes/      the REST routes, one module per resource (thin: parse, call nexus-core,
//!                render a nexus-api type), and the generated OpenAPI document
//!   error.rs     JSON error bodies (statuses come from `nexus_api::ErrorCode::status`)
//!   metrics.rs   Prometheus text exposition
//! ```

pub mod audit;
pub mod auth;
pub mod config;
pub mod docs;
pub mod embedder;
pub mod error;
pub mod mcp;
pub mod metrics;
pub mod routes;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use nexus_core::Fs;

pub use config::{AuthKind, Config, ConfigError};

/// The OpenAPI 3.1 description of the API: generated from the routes and `nexus-api` (see
/// `routes::doc`), committed, and compared with the generated one by a test.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Settings that would be unsafe for the address the server listens on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`auth: type: none` lets anyone act as the administrator; it is only allowed on a loopback address, not {host}"
)]
pub struct UnsafeBind {
    pub host: IpAddr,
}

/// Why the server could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the listening address: {0}")]
    Address(#[source] std::io::Error),
    #[error(transparent)]
    Unsafe(#[from] UnsafeBind),
    #[error(transparent)]
    Auth(#[from] auth::AuthSetupError),
    #[error("server error: {0}")]
    Io(#[source] std::io::Error),
}

/// Refuses settings that would be unsafe for the address the server listens on.
pub fn check_bind(config: &Config, host: IpAddr) -> Result<(), UnsafeBind> {
    if config.auth.kind == AuthKind::None && !host.is_loopback() {
        return Err(UnsafeBind { host });
    }
    Ok(())
}

/// Serves the API on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish and returns.
pub async fn serve(
    config: &Config,
    fs: Fs,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let address: SocketAddr = listener.local_addr().map_err(ServeError::Address)?;
    check_bind(config, address.ip())?;
    let auth = auth::Authenticator::new(&config.auth)?;
    let draining = Arc::new(AtomicBool::new(false));
    let state = routes::AppState {
        fs,
        auth: Arc::new(auth),
        failures: Arc::new(auth::FailureLimiter::new(config.limits.max_auth_failures)),
        timeout: Duration::from_secs(config.limits.request_timeout_secs),
        draining: draining.clone(),
        max_body_bytes: config.limits.max_body_bytes,
        reveal_internal: false,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sweeper = tokio::spawn(sweep_retention(
        state.fs.clone(),
        Duration::from_secs(config.retention.sweep_interval_secs),
        config
            .retention
            .audit_days
            .map(|days| Duration::from_secs(days.saturating_mul(86_400))),
        stopped,
    ));
    let scheduler = tokio::spawn(fire_reminders(state.fs.clone(), stop.subscribe()));
    // Search indexes follow every commit from now on.
    let indexer = state.fs.search().spawn_indexer();
    let mut app = routes::router(state.clone(), config.limits.max_body_bytes);
    let mut streams = None;
    let mut audit_writer = None;
    if config.mcp.enabled {
        let (mcp, mounted) = mcp::routes(&state, config, address.ip());
        app = mcp.merge(app);
        streams = Some(mounted.streams);
        audit_writer = Some(mounted.audit);
    }
    tracing::info!(%address, "serving");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        // Open MCP streams end, so that the connections carrying them can close.
        if let Some(streams) = streams {
            streams.cancel();
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
    .await
    .map_err(ServeError::Io);
    // A pass in progress completes (its removals are ordinary operations).
    let _ = stop.send(true);
    let _ = sweeper.await;
    let _ = scheduler.await;
    indexer.abort();
    // The MCP calls' audit entries still waiting are written (the writer ends once the last
    // handler holding its channel is gone; a session's handler may outlive the listener by
    // a moment).
    if let Some(writer) = audit_writer
        && tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .is_err()
    {
        tracing::warn!("some audit entries of MCP calls may not have been written at shutdown");
    }
    served
}

/// How often the scheduler looks for due reminders: a reminder fires within this of its
/// time.
const REMINDER_TICK: Duration = Duration::from_secs(1);
/// The lease of the reminder scheduler, renewed every tick: a node that stops leaves the
/// scheduler to another within this.
const REMINDER_LEASE_TTL: Duration = Duration::from_secs(5);
const REMINDERS_LEASE: &str = "reminders";
const RETENTION_LEASE: &str = "retention";

/// Fires due reminders at start (those that fell due while the server was down fire once)
/// and then every [`REMINDER_TICK`], until told to stop. A pass in progress completes.
async fn fire_reminders(fs: Fs, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        // One node at a time fires (an occurrence fires once anyway: firing moves it on
        // the schedule in the same transaction); another takes over when it stops.
        match fs.hold_lease(REMINDERS_LEASE, REMINDER_LEASE_TTL).await {
            Ok(true) => match fs.reminders().fire_due(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(fired) => tracing::debug!(fired, "reminders fired"),
                Err(error) => tracing::warn!(%error, "firing reminders failed; retrying shortly"),
            },
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "the scheduler's lease failed; retrying shortly"),
        }
        tokio::select! {
            () = tokio::time::sleep(REMINDER_TICK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Applies the organizations' retention policies (files and sessions), removes expired
/// Temp items and prunes audit entries older than `audit_keep` (when set) at start and then
/// every `interval`, until told to stop (a server restarted more often than the interval
/// still applies them).
async fn sweep_retention(
    fs: Fs,
    interval: Duration,
    audit_keep: Option<Duration>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        // One node at a time runs the passes; the lease outlives a pass by an interval, so
        // another node takes over when this one stops renewing it.
        match fs
            .hold_lease(RETENTION_LEASE, interval.saturating_mul(2))
            .await
        {
            Ok(true) => retention_pass(&fs, audit_keep).await,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "the retention lease failed; retrying at the next pass");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass of [`sweep_retention`].
async fn retention_pass(fs: &Fs, audit_keep: Option<Duration>) {
    if let Some(keep) = audit_keep
        && let Err(error) = fs.audit().prune(keep).await
    {
        tracing::warn!(%error, "pruning the audit log failed; retrying at the next pass");
    }
    match fs
        .files()
        .apply_retention(nexus_core::Timestamp::now())
        .await
    {
        Ok(report) => metrics::retention_removed(report.removed.len()),
        Err(error) => tracing::warn!(%error, "retention pass failed; retrying at the next"),
    }
    match fs.sessions().end_expired(chrono::Utc::now()).await {
        Ok(ended) => metrics::retention_removed(ended.len()),
        Err(error) => {
            tracing::warn!(%error, "ending expired sessions failed; retrying at the next pass");
        }
    }
    match fs.items().remove_expired(chrono::Utc::now()).await {
        Ok(removed) => metrics::retention_removed(removed.len()),
        Err(error) => {
            tracing::warn!(%error, "removing expired Temp items failed; retrying at the next pass");
        }
    }
}

/// How an API served in-process (no listener) acts.
#[derive(Debug, Clone)]
pub struct InProcess {
    /// Who every request acts as.
    pub principal: nexus_core::Principal,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub timeout: Duration,
    /// Describe internal errors to the caller instead of pointing to a log.
    pub reveal_internal: bool,
}

impl InProcess {
    /// The embedded Python client: the operator, with the server's default limits.
    pub fn embedded() -> InProcess {
        let limits = config::Limits::default();
        InProcess {
            principal: nexus_core::Principal::System,
            max_body_bytes: limits.max_body_bytes,
            timeout: Duration::from_secs(limits.request_timeout_secs),
            reveal_internal: false,
        }
    }

    /// The local CLI acting as `principal`: no body limit or deadline beyond the machine's,
    /// and internal errors described (there is no server log to read).
    pub fn command_line(principal: nexus_core::Principal) -> InProcess {
        InProcess {
            principal,
            max_body_bytes: usize::MAX,
            timeout: Duration::from_hours(100 * 365 * 24),
            reveal_internal: true,
        }
    }
}

/// The API as a router over `fs` for in-process use (no listener).
pub fn in_process_router(fs: Fs, options: InProcess) -> axum::Router {
    let limits = config::Limits::default();
    let state = routes::AppState {
        fs,
        auth: Arc::new(auth::Authenticator::acting_as(options.principal)),
        failures: Arc::new(auth::FailureLimiter::new(limits.max_auth_failures)),
        timeout: options.timeout,
        draining: Arc::new(AtomicBool::new(false)),
        max_body_bytes: options.max_body_bytes,
        reveal_internal: options.reveal_internal,
    };
    routes::router(state, options.max_body_bytes)
}

/// The API's router as a transport of the typed client (`nexus_client::Client`): each
/// request is served in-process, by the router itself.
#[derive(Debug, Clone)]
pub struct RouterTransport(pub axum::Router);

impl nexus_client::Transport for RouterTransport {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> futures::future::BoxFuture<
        '_,
        Result<http::Response<bytes::Bytes>, nexus_client::TransportError>,
    > {
        Box::pin(serve_in_process(
            self.0.clone(),
            request.map(axum::body::Body::from),
        ))
    }
}

/// Serves `request` with `router` in-process and reads the answer whole.
pub(crate) async fn serve_in_process(
    router: axum::Router,
    request: http::Request<axum::body::Body>,
) -> Result<http::Response<bytes::Bytes>, nexus_client::TransportError> {
    use tower::ServiceExt as _;
    let response = router
        .oneshot(request)
        .await
        .map_err(|error| nexus_client::TransportError(Box::new(error)))?;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|error| nexus_client::TransportError(Box::new(error)))?;
    Ok(http::Response::from_parts(parts, body))
}

/// The API as a router over `fs` for in-process use: every request acts as the operator of
/// the data directory. Used by the embedded Python client.
pub fn embedded_router(fs: Fs) -> axum::Router {
    in_process_router(fs, InProcess::embedded())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
