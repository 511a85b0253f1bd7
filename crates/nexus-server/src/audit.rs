//! What the request middleware writes to the audit log: every request that can change
//! something (every operation but `GET`s and the read-only `POST` queries), whatever its
//! outcome, and every refusal of credentials or permission (401, 403) on any route. The
//! entry names the operation (its OpenAPI id), who acted (set by [`crate::routes::Caller`]),
//! what it was done to (the path, item key, member, session or key id from the URL, or what
//! the handler reports), how it ended, and the request's id, client address and user agent.
//! It is written by the task that runs the handler, after the handler and before the
//! response is sent, so neither a client hanging up nor the deadline can skip it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use nexus_core::OrgId;
use parking_lot::Mutex;

/// Longest target kept (longer ones are cut).
const MAX_TARGET_CHARS: usize = 1024;

/// `POST` operations that only read: recorded only when refused.
pub const READ_ONLY_POSTS: [&str; 8] = [
    "permissions_check",
    "permissions_expand",
    "permissions_lookup_resources",
    "permissions_lookup_subjects",
    "files_glob",
    "files_grep",
    "relationships_read",
    "search_query",
];

/// Filled while a request is served: who acted, and what it was done to when the URL does
/// not say (a body's path).
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<SlotState>>);

#[derive(Debug, Default)]
struct SlotState {
    actor: Option<String>,
    on_behalf_of: Option<String>,
    place: Option<(Option<OrgId>, String)>,
}

impl AuditSlot {
    /// The principal acting (as stored: stable ids), and the user it acts for.
    pub fn set_actor(&self, actor: String, on_behalf_of: Option<String>) {
        let mut state = self.0.lock();
        state.actor = Some(actor);
        state.on_behalf_of = on_behalf_of;
    }

    /// What the request acted on, when the URL does not carry it.
    pub fn set_place(&self, org: Option<OrgId>, target: String) {
        self.0.lock().place = Some((org, target));
    }

    pub(crate) fn actor(&self) -> Option<String> {
        self.0.lock().actor.clone()
    }

    pub(crate) fn on_behalf_of(&self) -> Option<String> {
        self.0.lock().on_behalf_of.clone()
    }

    pub(crate) fn place(&self) -> Option<(Option<OrgId>, String)> {
        self.0.lock().place.clone()
    }
}

tokio::task_local! {
    /// The slot of the request being served (set by the request middleware).
    pub static SLOT: AuditSlot;
}

/// Notes who is acting in the request being served, and for whom.
pub fn note_actor(actor: String, on_behalf_of: Option<String>) {
    let _ = SLOT.try_with(|slot| slot.set_actor(actor, on_behalf_of));
}

/// Notes what the request being served acts on, when its URL does not say (a body's path):
/// its organization's log then holds the entry.
pub fn note_place(org: Option<OrgId>, target: String) {
    let _ = SLOT.try_with(|slot| slot.set_place(org, target));
}

/// The organization of a path under `/orgs/<org>/`.
pub fn org_of_path(path: &str) -> Option<OrgId> {
    nexus_core::VfsPath::parse(path)
        .ok()
        .and_then(|path| match path.location() {
            Ok(nexus_api::path::Location::OrgRoot(org) | nexus_api::path::Location::InOrg(org)) => {
                Some(org)
            }
            _ => None,
        })
}

/// Operation ids by method and route template (`{*path}` written `{path}`).
static OPERATIONS: LazyLock<HashMap<(String, String), String>> = LazyLock::new(|| {
    let document = crate::routes::openapi_document();
    let mut operations = HashMap::new();
    if let Some(paths) = document.get("paths").and_then(serde_json::Value::as_object) {
        for (path, methods) in paths {
            let Some(methods) = methods.as_object() else {
                continue;
            };
            for (method, operation) in methods {
                if let Some(id) = operation
                    .get("operationId")
                    .and_then(serde_json::Value::as_str)
                {
                    operations.insert((method.to_uppercase(), path.clone()), id.to_owned());
                }
            }
        }
    }
    operations
});

/// The operation id of a request to `template` (`None` for routes outside the document).
pub fn operation(method: &Method, template: &str) -> Option<&'static str> {
    let template = template.replace("{*", "{");
    OPERATIONS
        .get(&(method.as_str().to_owned(), template))
        .map(String::as_str)
}

/// Whether a request is recorded (see the module documentation). Refusals past the
/// failed-authentication limit (429) are not: the limiter bounds how many entries an
/// unauthenticated client can cause.
pub fn recorded(method: &Method, operation: Option<&str>, status: StatusCode) -> bool {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    let reads = *method == Method::GET
        || *method == Method::HEAD
        || *method == Method::OPTIONS
        || operation.is_some_and(|id| READ_ONLY_POSTS.contains(&id));
    refused || !reads
}

fn decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        if let (b'%', Some(value)) = (byte, hex) {
            out.push(value);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the middleware knows of a request before it is served.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The route template (`/api/fs/{*path}`), or `unmatched`.
    pub route: String,
    pub path: String,
    pub request_id: String,
    pub client: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// Serves `handler` with a slot for its actor and place, then records the request if the
/// log keeps it: the entry carries the handler's own outcome.
pub async fn recording(
    fs: nexus_core::Fs,
    request: Request,
    handler: impl std::future::Future<Output = axum::response::Response>,
) -> axum::response::Response {
    let slot = AuditSlot::default();
    let response = SLOT.scope(slot.clone(), handler).await;
    record(
        &fs,
        Finished {
            method: &request.method,
            route: &request.route,
            path: &request.path,
            status: response.status(),
            code: response
                .extensions()
                .get::<nexus_core::ErrorCode>()
                .copied(),
            request_id: &request.request_id,
            client: request.client,
            user_agent: request.user_agent,
            slot: &slot,
        },
    )
    .await;
    response
}

/// What the middleware knows of a finished request.
#[derive(Debug)]
pub struct Finished<'a> {
    pub method: &'a Method,
    /// The route template (`/api/fs/{*path}`), or `unmatched`.
    pub route: &'a str,
    pub path: &'a str,
    pub status: StatusCode,
    pub code: Option<nexus_core::ErrorCode>,
    pub request_id: &'a str,
    pub client: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub slot: &'a AuditSlot,
}

/// Records `request` if it is one the log keeps (durable when this returns); a failure to
/// record is logged, never hidden.
pub async fn record(fs: &nexus_core::Fs, request: Finished<'_>) {
    let operation = operation(request.method, request.route);
    if request.route == "unmatched" || !recorded(request.method, operation, request.status) {
        return;
    }
    let actor = request.slot.actor();
    let (org, target) = request
        .slot
        .place()
        .unwrap_or_else(|| place(request.route, request.path));
    // Only the organization's members and the system administrator write to its log; anyone
    // else (a stranger, a member of another organization) is recorded in the system log, so
    // nobody can fill an organization's log or make themselves known to its admins; and
    // nothing a caller sends is kept long.
    let org = org.filter(|org| {
        actor
            .as_deref()
            .is_some_and(|actor| member_or_system(fs, actor, org))
    });
    let target: String = target.chars().take(MAX_TARGET_CHARS).collect();
    let outcome = if request.status.is_success() || request.status.is_redirection() {
        "ok".to_owned()
    } else {
        request.code.map_or_else(
            || format!("http_{}", request.status.as_u16()),
            |code| code.as_str().to_owned(),
        )
    };
    let entry = nexus_core::AuditRecord {
        org,
        at: nexus_core::Timestamp::now(),
        on_behalf_of: request.slot.on_behalf_of(),
        actor: actor.unwrap_or_else(|| "anonymous".to_owned()),
        action: operation.map_or_else(|| request.route.to_owned(), ToOwned::to_owned),
        target,
        outcome,
        request_id: Some(request.request_id.to_owned()),
        client: request.client.map(|address| address.to_string()),
        user_agent: request.user_agent,
        ..nexus_core::AuditRecord::default()
    };
    if let Err(error) = fs.audit().record(vec![entry]).await {
        tracing::error!(request_id = %request.request_id, %error, "the audit entry of a request was not recorded");
    }
}

/// A finished MCP tool call (or resource or prompt read), for the audit log.
#[derive(Debug)]
pub struct ToolCallRecord {
    /// The principal that acted, as stored.
    pub actor: String,
    /// The principal it acted for, as stored, when delegated.
    pub on_behalf_of: Option<String>,
    pub call: nexus_mcp::ToolCall,
    pub request_id: String,
    pub client: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// The audit entry of an MCP call, `mcp_<tool>` (every call, reads included): in the log of
/// the organization it acted in when the actor belongs to it, else in the system log.
pub fn tool_call_entry(fs: &nexus_core::Fs, record: ToolCallRecord) -> nexus_core::AuditRecord {
    let org = record
        .call
        .org
        .as_deref()
        .and_then(|org| OrgId::parse(org).ok())
        .or_else(|| org_of_path(&record.call.target))
        .filter(|org| member_or_system(fs, &record.actor, org));
    nexus_core::AuditRecord {
        org,
        at: nexus_core::Timestamp::now(),
        actor: record.actor,
        on_behalf_of: record.on_behalf_of,
        action: format!("mcp_{}", record.call.tool),
        target: record.call.target.chars().take(MAX_TARGET_CHARS).collect(),
        outcome: record.call.outcome,
        request_id: Some(record.request_id),
        client: record.client.map(|address| address.to_string()),
        user_agent: record.user_agent,
        ..nexus_core::AuditRecord::default()
    }
}

/// Records an MCP call (see [`tool_call_entry`]), durably when this returns. A failure to
/// record is logged, never hidden.
pub async fn record_tool_call(fs: &nexus_core::Fs, record: ToolCallRecord) {
    let entry = tool_call_entry(fs, record);
    if let Err(error) = fs.audit().record(vec![entry]).await {
        tracing::error!(%error, "the audit entry of an MCP call was not recorded");
    }
}

/// Most audit entries written in one batch by [`write_behind`].
const BATCH: usize = 1024;

/// How long [`write_behind`] gathers entries after the first of a batch: at most this much
/// later than its call is an entry written, and under load one transaction (one WAL sync)
/// carries every call of the window instead of each few calls paying for their own.
pub const GATHER: Duration = Duration::from_millis(10);

/// Writes the entries sent to it in batches (one transaction each, gathered for at most
/// [`GATHER`]), until every sender is gone and everything sent is written: the MCP
/// endpoint's calls are recorded without each waiting for its own durable write. A failure
/// to record is logged, never hidden.
pub async fn write_behind(
    fs: nexus_core::Fs,
    mut entries: tokio::sync::mpsc::Receiver<nexus_core::AuditRecord>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while entries.recv_many(&mut batch, BATCH).await > 0 {
        let window = tokio::time::Instant::now() + GATHER;
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            match tokio::time::timeout_at(window, entries.recv_many(&mut batch, room)).await {
                // The window is over, or every sender is gone.
                Err(_) | Ok(0) => break,
                Ok(_) => {}
            }
        }
        let count = batch.len();
        if let Err(error) = fs.audit().record(std::mem::take(&mut batch)).await {
            tracing::error!(%error, count, "audit entries of MCP calls were not recorded");
        }
    }
}

/// Whether `actor` (a principal as stored) is the system or a current member of `org`.
fn member_or_system(fs: &nexus_core::Fs, actor: &str, org: &OrgId) -> bool {
    let Ok(principal) = nexus_core::Principal::parse(actor) else {
        return false;
    };
    match fs.authorizer().subject_of(&principal) {
        None => true,
        Some(subject) => fs.authorizer().is_member(&subject, org).unwrap_or(false),
    }
}

/// The organization and target a request names in its URL: the `{org}` parameter or the
/// organization of a `{path}` under `/orgs/`, and the item key, path, member, session or key
/// id it acts on (else the URL's path).
pub fn place(template: &str, path: &str) -> (Option<OrgId>, String) {
    let mut params: HashMap<&str, String> = HashMap::new();
    let actual: Vec<&str> = path.split('/').collect();
    for (index, part) in template.split('/').enumerate() {
        let Some(name) = part
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        else {
            continue;
        };
        if let Some(name) = name.strip_prefix('*') {
            let rest = actual.get(index..).unwrap_or_default().join("/");
            params.insert(name, format!("/{}", decoded(&rest)));
        } else if let Some(value) = actual.get(index) {
            params.insert(name, decoded(value));
        }
    }
    let org = params
        .get("org")
        .and_then(|org| OrgId::parse(org).ok())
        .or_else(|| {
            params
                .get("path")
                .and_then(|path| path.strip_prefix("/orgs/"))
                .and_then(|rest| rest.split('/').next())
                .and_then(|org| OrgId::parse(org).ok())
        });
    let target = ["key", "path", "user", "stable_id", "id"]
        .iter()
        .find_map(|name| params.get(name).cloned())
        .unwrap_or_else(|| decoded(path));
    (org, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: String) -> nexus_core::AuditRecord {
        nexus_core::AuditRecord {
            at: nexus_core::Timestamp::now(),
            actor: "agent:bot".to_owned(),
            action: "mcp_read_file".to_owned(),
            target,
            outcome: "ok".to_owned(),
            ..nexus_core::AuditRecord::default()
        }
    }

    async fn stored(fs: &nexus_core::Fs) -> Vec<String> {
        let mut targets = Vec::new();
        let mut cursor = None;
        loop {
            let page = fs
                .audit()
                .list(
                    &nexus_core::CallContext::system(),
                    nexus_api::audit::AuditQuery {
                        org: Some("system".to_owned()),
                        action: Some("mcp_read_file".to_owned()),
                        limit: Some(1000),
                        cursor,
                        ..nexus_api::audit::AuditQuery::default()
                    },
                )
                .await
                .unwrap();
            targets.extend(page.entries.into_iter().map(|entry| entry.target));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return targets,
            }
        }
    }

    #[tokio::test]
    async fn entries_written_behind_are_all_stored_soon_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let fs = nexus_core::Fs::open(dir.path(), nexus_core::StoreOptions::default())
            .await
            .unwrap();
        let (sender, entries) = tokio::sync::mpsc::channel(AUDIT_TEST_BACKLOG);
        let writer = tokio::spawn(write_behind(fs.clone(), entries));
        // One entry, with the sender still open: stored within moments of its window.
        sender.send(entry("/first".to_owned())).await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = stored(&fs).await;
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(GATHER / 2).await;
        }
        assert_eq!(seen, ["/first"]);
        // More than a batch holds, then the senders go: every one is written before the
        // writer ends.
        for index in 0..(BATCH * 2 + 7) {
            sender.send(entry(format!("/{index}"))).await.unwrap();
        }
        drop(sender);
        writer.await.unwrap();
        assert_eq!(stored(&fs).await.len(), BATCH * 2 + 8);
    }

    /// Room for every entry the test sends without waiting for the writer.
    const AUDIT_TEST_BACKLOG: usize = BATCH * 3;

    #[test]
    fn requests_name_their_organization_and_target() {
        let (org, target) = place("/api/fs/{*path}", "/api/fs/orgs/acme/a%20b/c.md");
        assert_eq!(org.unwrap().as_str(), "acme");
        assert_eq!(target, "/orgs/acme/a b/c.md");
        let (org, target) = place(
            "/api/orgs/{org}/items/{key}/share",
            "/api/orgs/acme/items/kb:u_ab12:20261207:node:x/share",
        );
        assert_eq!(org.unwrap().as_str(), "acme");
        assert_eq!(target, "kb:u_ab12:20261207:node:x");
        let (org, target) = place("/api/keys", "/api/keys");
        assert!(org.is_none());
        assert_eq!(target, "/api/keys");
        assert_eq!(
            operation(&Method::PUT, "/api/fs/{*path}"),
            Some("files_write")
        );
        assert!(recorded(&Method::PUT, Some("files_write"), StatusCode::OK));
        assert!(!recorded(&Method::GET, Some("files_cat"), StatusCode::OK));
        assert!(recorded(
            &Method::GET,
            Some("files_cat"),
            StatusCode::FORBIDDEN
        ));
        assert!(!recorded(
            &Method::POST,
            Some("permissions_check"),
            StatusCode::OK
        ));
        assert!(!recorded(
            &Method::PUT,
            Some("files_write"),
            StatusCode::TOO_MANY_REQUESTS
        ));
    }
}
