//! An organization's change feed: `GET /api/orgs/{org}/changes` and its live stream
//! `GET /api/orgs/{org}/changes/stream`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One change the caller may see: to a file (`path`) or a knowledge item (`key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// Its place in the organization's feed (1, 2, 3...; the stream's event id). Numbers of
    /// changes the caller may not see are skipped.
    pub revision: u64,
    /// `created`, `updated`, `removed`, `moved` or `shared`.
    #[schema(example = "updated")]
    pub action: String,
    /// The file (a move's source; a removed directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The knowledge item, for changes to items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A move's destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// When, RFC 3339.
    pub at: String,
    /// Who made it, as people read it (absent for shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// `GET /api/orgs/{org}/changes`: the caller's view of the feed, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass as `cursor` to continue after this page (always given: an empty page's cursor is
    /// where to look again later).
    pub next_cursor: String,
}

/// Query of `GET /api/orgs/{org}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// `next_cursor` of an earlier page; from the start of the feed when absent.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Changes per page (100 when absent, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}
