//! The Nexus MCP server: what AI assistants use Nexus through.
//!
//! Every tool calls the REST API through its typed client ([`nexus_client::Client`]), so no
//! decision is made here that the API does not make: the same checks, the same errors, the
//! same audit entries. The client travels over HTTP (`nexus mcp` against a server), or through
//! the API's router served in-process (`nexus mcp` on a data directory, and `/mcp` on
//! `nexus serve`, where each request acts as the principal its credentials name).
//!
//! ```text
//!   lib.rs        the handler: server information, the call wrapper, per-caller state
//!   args.rs       tool arguments (their JSON schemas are what `tools/list` shows)
//!   tools.rs      the tools
//!   resources.rs  resources (files by URI, workflow protocols, active sessions) and prompts
//!   schemas.rs    the environments' data schemas in `create_item`'s input schema
//!   subscriptions.rs  resource subscriptions fed by the permission-filtered change feed
//! ```

mod args;
mod resources;
mod schemas;
mod subscriptions;
mod tools;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use nexus_api::ErrorCode;
use nexus_client::{Client, ClientError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, tool_handler};

pub use rmcp;

/// The API as one caller of one request sees it.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The API, acting as the caller.
    pub client: Client,
    /// Who is calling (`user:u_k3x9`, `agent:a_7pq2 for user:u_k3x9`): the key of what the
    /// server remembers per caller (the session it works in).
    pub caller: String,
}

/// One tool call, for the audit log.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The tool's name.
    pub tool: &'static str,
    /// The organization it acted in, when it named or defaulted to one.
    pub org: Option<String>,
    /// What it acted on: a path, an item key, a session; empty when nothing in particular.
    pub target: String,
    /// `ok`, or the error code the call ended with.
    pub outcome: String,
}

/// Where the tools' API comes from, and where their calls are recorded.
pub trait Connector: Send + Sync + std::fmt::Debug + 'static {
    /// The API acting for the caller of `context`'s request.
    fn connect(&self, context: &RequestContext<RoleServer>) -> Result<Connection, ToolError>;

    /// Records a finished tool call in the audit log (who acted, for whom, what, how it
    /// ended). Durable, or logged as not recorded, when the future completes.
    fn record<'a>(
        &'a self,
        context: &'a RequestContext<RoleServer>,
        call: ToolCall,
    ) -> BoxFuture<'a, ()>;

    /// Whether the credentials of `context`'s request still name the same caller (checked
    /// by long-lived work, such as a subscription, before each step). By default they do:
    /// an API called over HTTP checks them on every call anyway.
    fn still_valid(&self, _context: &RequestContext<RoleServer>) -> bool {
        true
    }
}

/// A connector for one fixed API client (stdio): every request acts as its credentials.
#[derive(Debug, Clone)]
pub struct FixedConnector {
    connection: Connection,
    recorder: Option<Arc<dyn Recorder>>,
}

/// Records tool calls where the connector itself cannot (a data directory's audit log).
pub trait Recorder: Send + Sync + std::fmt::Debug + 'static {
    fn record(&self, call: ToolCall) -> BoxFuture<'_, ()>;
}

impl FixedConnector {
    /// Every request acts through `client` as `caller`; tool calls are recorded by
    /// `recorder` when given (against a server, the server records what the API does).
    pub fn new(client: Client, caller: String, recorder: Option<Arc<dyn Recorder>>) -> Self {
        FixedConnector {
            connection: Connection { client, caller },
            recorder,
        }
    }
}

impl Connector for FixedConnector {
    fn connect(&self, _context: &RequestContext<RoleServer>) -> Result<Connection, ToolError> {
        Ok(self.connection.clone())
    }

    fn record<'a>(
        &'a self,
        _context: &'a RequestContext<RoleServer>,
        call: ToolCall,
    ) -> BoxFuture<'a, ()> {
        match &self.recorder {
            Some(recorder) => recorder.record(call),
            None => Box::pin(async {}),
        }
    }
}

/// Why a tool call failed: the API's error code and message, returned as a tool error (the
/// model reads it), never as a protocol failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub code: ErrorCode,
    pub message: String,
}

impl ToolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ToolError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::InvalidInput, message)
    }

    /// The tool result carrying this error: `code: message` as text, and
    /// `{"error": {"code", "message"}}` (the REST API's error body) as structured content.
    pub fn into_result(self) -> CallToolResult {
        let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
            "{}: {}",
            self.code.as_str(),
            self.message
        ))]);
        result.structured_content = Some(serde_json::json!({
            "error": {"code": self.code.as_str(), "message": self.message}
        }));
        result
    }
}

impl From<ClientError> for ToolError {
    fn from(error: ClientError) -> Self {
        let message = match error.hint {
            Some(hint) => format!("{} ({hint})", error.message),
            None => error.message,
        };
        ToolError {
            code: error.code,
            message,
        }
    }
}

/// Most callers whose working session is remembered at once (the oldest are forgotten).
const MAX_WORKING_SESSIONS: usize = 16_384;

/// What the server remembers between calls: each caller's working session, and the
/// resource subscriptions of earlier protocol revisions.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// caller → (organization, session stable id).
    working: parking_lot::Mutex<HashMap<String, (String, String)>>,
    /// (caller, uri) → what stops its watcher.
    pub(crate) subscriptions:
        parking_lot::Mutex<HashMap<(String, String), tokio_util::sync::CancellationToken>>,
}

impl Memory {
    pub(crate) fn working(&self, caller: &str) -> Option<(String, String)> {
        self.working.lock().get(caller).cloned()
    }

    pub(crate) fn set_working(&self, caller: &str, org: &str, session: &str) {
        let mut working = self.working.lock();
        if working.len() >= MAX_WORKING_SESSIONS && !working.contains_key(caller) {
            working.clear();
        }
        working.insert(caller.to_owned(), (org.to_owned(), session.to_owned()));
    }

    pub(crate) fn leave(&self, caller: &str, session: &str) {
        let mut working = self.working.lock();
        if working
            .get(caller)
            .is_some_and(|(_, current)| current == session)
        {
            working.remove(caller);
        }
    }
}

/// The MCP server's handler. Cheap to clone: clones share the connector and the memory.
#[derive(Debug, Clone)]
pub struct NexusMcp {
    connector: Arc<dyn Connector>,
    memory: Arc<Memory>,
    /// Shared by the clones (one per MCP session or stateless request).
    tool_router: Arc<ToolRouter<NexusMcp>>,
    /// Ends background work (subscriptions) when the server shuts down.
    shutdown: tokio_util::sync::CancellationToken,
}

/// The API for one call, with what the server remembers of its caller.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) caller: String,
    pub(crate) memory: Arc<Memory>,
    /// The organization the call acts in, once known (for its audit entry).
    acted_in: Arc<parking_lot::Mutex<Option<String>>>,
}

impl Api {
    /// The organization a call acts in: the one given, else the caller's only one.
    pub(crate) async fn org(&self, given: Option<String>) -> Result<String, ToolError> {
        let org = self.find_org(given).await?;
        *self.acted_in.lock() = Some(org.clone());
        Ok(org)
    }

    async fn find_org(&self, given: Option<String>) -> Result<String, ToolError> {
        if let Some(org) = given.filter(|org| !org.is_empty()) {
            return Ok(org);
        }
        let whoami = self.client.whoami().await?;
        match whoami.orgs.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ToolError::new(
                ErrorCode::NotFound,
                "you belong to no organization",
            )),
            several => Err(ToolError::invalid(format!(
                "you belong to several organizations ({}): name one with `org`",
                several.join(", ")
            ))),
        }
    }
}

/// The server's instructions to the model: how the tools are meant to be used.
const INSTRUCTIONS: &str = "Nexus keeps files and knowledge items for an organization, and checks every access: you see and change exactly what your credentials allow.

- Files live under /orgs/<org>/<workspace>/...; paths are absolute.
- Knowledge items (create_item) are personal by default. Make an item universal (for everyone in the organization) or share it only when the person asks: \"share with X\" is `share` with `users`, \"for everyone\" is `share` with `universal`, \"let's work on this together\" is `start_session` with type `group`.
- When you work in a group session (start_session or join_session), create_item answers with a `sharing_hint`; offer to share with the session, and if the person agrees call the `accept` call it names.
- Read the person's workflow protocols (resolve_workflow, or the nexus://workflow resource) at the start and follow them: a personal protocol overrides the organization's of the same name.
- A tool error carries the API's code (`not_found`, `permission_denied`, `scope_not_allowed`...) and message: report it, do not guess around it.";

impl NexusMcp {
    /// A handler whose tools act through `connector`.
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        let mut tool_router = Self::tool_router();
        // Item data is checked against its environment's schema: say which.
        if let Some(route) = tool_router.map.get_mut("create_item") {
            let mut input = (*route.attr.input_schema).clone();
            schemas::with_data_by_environment(&mut input);
            route.attr.input_schema = Arc::new(input);
        }
        if let Some(route) = tool_router.map.get_mut("update_item")
            && let Some(description) = &route.attr.description
        {
            route.attr.description =
                Some(format!("{description} {}", schemas::data_summary()).into());
        }
        NexusMcp {
            connector,
            memory: Arc::new(Memory::default()),
            tool_router: Arc::new(tool_router),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Ends background work (subscriptions) when `shutdown` is cancelled.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: tokio_util::sync::CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Runs `work` as the caller of `context`'s request and records it as `what` on
    /// `target` (tool calls, resource reads, prompts).
    pub(crate) async fn run<T, F, Fut>(
        &self,
        context: &RequestContext<RoleServer>,
        what: &'static str,
        target: String,
        work: F,
    ) -> Result<T, ToolError>
    where
        F: FnOnce(Api) -> Fut + Send,
        Fut: Future<Output = Result<T, ToolError>> + Send,
        T: Send,
    {
        let acted_in = Arc::new(parking_lot::Mutex::new(None));
        let outcome = match self.connector.connect(context) {
            Ok(connection) => {
                work(Api {
                    client: connection.client,
                    caller: connection.caller,
                    memory: self.memory.clone(),
                    acted_in: acted_in.clone(),
                })
                .await
            }
            Err(error) => Err(error),
        };
        let code = match &outcome {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.code.as_str().to_owned(),
        };
        let org = acted_in.lock().take();
        self.connector
            .record(
                context,
                ToolCall {
                    tool: what,
                    org,
                    target,
                    outcome: code,
                },
            )
            .await;
        outcome
    }

    /// Runs one tool call (see [`NexusMcp::run`]); a failure is a tool error.
    pub(crate) async fn call<F, Fut>(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &'static str,
        target: String,
        work: F,
    ) -> Result<CallToolResult, ErrorData>
    where
        F: FnOnce(Api) -> Fut + Send,
        Fut: Future<Output = Result<CallToolResult, ToolError>> + Send,
    {
        Ok(self
            .run(context, tool, target, work)
            .await
            .unwrap_or_else(ToolError::into_result))
    }

    /// The names of every tool, in the order `tools/list` shows them.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for NexusMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("nexus", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, ErrorData> {
        resources::list(self, &context).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        resources::read(self, &context, &request.uri).await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(subscriptions::accepted(requested))
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        self.serve_subscription(context).await
    }

    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscribe_legacy(context, request.uri).await
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.unsubscribe_legacy(&context, &request.uri)
    }

    async fn list_prompts(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, ErrorData> {
        Ok(resources::prompts())
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, ErrorData> {
        resources::prompt(self, &context, request).await
    }
}
