//! The audit log: `GET /api/audit`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// When, RFC 3339.
    pub at: String,
    /// The organization whose log holds it; absent for the system log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Who acted, as people read it (`user:alice@acme.com`, `agent:sales-bot`, `system`,
    /// `anonymous`).
    pub actor: String,
    /// Whom the actor acted for, when it acted on someone's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// What was done: the API operation (`items_create`, `files_write`...), or
    /// `private_read` / `private_update` / `private_delete` / `locker_read` for the system
    /// administrator's access to someone's personal data.
    pub action: String,
    /// What it was done to: a path, an item key, a member, a key id, a route.
    pub target: String,
    /// `ok`, or the error code that ended it (`permission_denied`, `not_found`...).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// `GET /api/audit`: a page of entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/audit`: every filter optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// One organization's log (required for organization admins); `system` for the system
    /// log. The system administrator reads every log when absent.
    #[serde(default)]
    pub org: Option<String>,
    /// Who acted (`user:alice@acme.com`, `user:u_k3x9`, `agent:sales-bot`, `system`).
    #[serde(default)]
    pub actor: Option<String>,
    /// Entries whose target starts with this (a path or key prefix, byte for byte).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// One action (`files_write`, `locker_read`...).
    #[serde(default)]
    pub action: Option<String>,
    /// Recorded at or after (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Recorded before (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Entries per page (100 when absent, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}
