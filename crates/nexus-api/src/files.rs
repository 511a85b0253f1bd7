//! Files and directories: entries, versions, listings, searches, and the requests that make
//! them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Directory,
}

/// Metadata of one file or directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    /// The canonical path.
    #[schema(example = "/orgs/acme/engineering/README.md")]
    pub path: String,
    /// The last segment (`/` for the root).
    pub name: String,
    pub kind: EntryKind,
    /// Bytes (0 for directories).
    pub size: u64,
    /// Current version (0 for directories).
    pub version: u64,
    /// Entity tag for `If-Match` (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// BLAKE3 of the content, hex (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub modified_at: String,
    /// Principal of the last change (a user by handle).
    pub author: String,
}

impl Entry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }
}

/// One stored version of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub version: u64,
    pub size: u64,
    pub etag: String,
    pub hash: String,
    pub created_at: String,
    pub author: String,
    /// Whether this is the file's current version.
    pub current: bool,
}

/// A file's stored versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionInfo>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListPage {
    pub entries: Vec<Entry>,
    /// Pass back as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A line next to a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContextLine {
    pub line_number: u64,
    pub text: String,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrepMatch {
    pub path: String,
    pub line_number: u64,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<ContextLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<ContextLine>,
}

/// Result of a grep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrepResult {
    pub matches: Vec<GrepMatch>,
    /// Files whose content was searched.
    pub files_searched: u64,
    /// Files skipped as binary, not UTF-8 or too large.
    pub files_skipped: u64,
    /// Whether the match limit cut the result short.
    pub truncated: bool,
}

/// Result of a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GlobResult {
    pub entries: Vec<Entry>,
    /// Whether the limit cut the result short.
    pub truncated: bool,
}

/// Result of a remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemoveResult {
    /// Files and directories removed.
    pub removed: u64,
}

/// An organization's version retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionPolicy {
    pub org: String,
    /// Keep at most this many versions of each file (`null`: all).
    pub keep: Option<u32>,
    /// Drop versions older than this many days (`null`: never).
    pub keep_days: Option<u32>,
}

/// `PUT /api/version-policy/{org}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetVersionPolicyRequest {
    /// Keep at most this many versions of each file (`null`: all).
    #[serde(default)]
    pub keep: Option<u32>,
    /// Drop versions older than this many days (`null`: never).
    #[serde(default)]
    pub keep_days: Option<u32>,
}

/// `POST /api/restore/{path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The version to make current again (as a new version).
    pub version: u64,
}

/// `POST /api/mv` and `POST /api/cp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    pub from: String,
    pub to: String,
    /// Replace an existing file at `to`.
    #[serde(default)]
    pub overwrite: bool,
    /// Copy a directory with everything beneath it (copy only).
    #[serde(default)]
    pub recursive: bool,
}

/// `POST /api/glob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobRequest {
    /// An absolute pattern (`*`, `**`, `?`, `[...]`, `{a,b}`).
    #[schema(example = "/orgs/acme/**/*.md")]
    pub pattern: String,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `POST /api/grep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepRequest {
    /// A regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// A file, or a directory searched recursively.
    pub path: String,
    #[serde(default)]
    pub ignore_case: bool,
    /// Lines of context before and after each match (at most 100).
    #[serde(default)]
    pub context: usize,
    #[serde(default)]
    pub max_matches: Option<usize>,
    /// Only files whose name matches this glob.
    #[serde(default)]
    pub include: Option<String>,
}

/// Query of `GET /api/fs/{path}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Read this stored version instead of the current one.
    #[serde(default)]
    pub version: Option<u64>,
}

/// Query of `PUT /api/fs/{path}` and `POST /api/mkdir/{path}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WriteQuery {
    /// Create missing parent directories.
    #[serde(default)]
    pub parents: bool,
}

/// Query of `DELETE /api/fs/{path}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Remove a directory with everything beneath it.
    #[serde(default)]
    pub recursive: bool,
}

/// Query of `GET /api/ls[/{path}]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// List everything beneath the directory, not only its children.
    #[serde(default)]
    pub recursive: bool,
    /// Entries per page.
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}
