//! The Nexus wire contract: every request and response of the REST API, the error codes
//! with their one HTTP status map, and the opaque tokens. No IO: servers, clients and other
//! front ends share these types, and the OpenAPI document is generated from them.

/// Canonical paths: clients check a path the way the server will before sending it.
pub use nexus_path as path;

pub mod accounts;
pub mod archive;
pub mod audit;
pub mod changes;
pub mod error;
pub mod files;
pub mod items;
pub mod notifications;
pub mod orgs;
pub mod rebac;
pub mod search;

pub use accounts::*;
pub use archive::{ArchiveReport, ImportOptions};
pub use audit::{AuditEntry, AuditPage};
pub use changes::{Change, ChangePage};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use files::*;
pub use items::*;
pub use notifications::{Notification, NotificationPage};
pub use orgs::*;
pub use rebac::*;
pub use search::{SearchHit, SearchRequest, SearchResponse};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /health` and `GET /ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
}
