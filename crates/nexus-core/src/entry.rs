//! What operations return: entries, versions, pages, matches. All serialize to JSON with
//! stable field names (the CLI's `--json` output and, later, the HTTP API).

use nexus_store::{Node, NodeKind, Timestamp, VersionRecord};
use serde::Serialize;

/// RFC 3339 (UTC, microseconds) form of a timestamp.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(timestamp.as_micros())
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Directory,
}

/// Metadata of one file or directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Entry {
    pub path: String,
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
    pub created_at: String,
    pub modified_at: String,
    /// Principal of the last change.
    pub author: String,
}

impl Entry {
    pub(crate) fn from_node(node: &Node) -> Self {
        let is_file = node.kind == NodeKind::File;
        Entry {
            path: node.path.to_string(),
            name: if node.path.is_root() {
                "/".to_owned()
            } else {
                node.path.name().to_owned()
            },
            kind: if is_file {
                EntryKind::File
            } else {
                EntryKind::Directory
            },
            size: node.size,
            version: node.version,
            etag: is_file.then(|| node.etag()),
            hash: node.hash.map(|hash| hash.to_hex()),
            created_at: format_timestamp(node.created_at),
            modified_at: format_timestamp(node.modified_at),
            author: node.author.clone(),
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }
}

/// One stored version of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

impl VersionInfo {
    pub(crate) fn from_record(record: &VersionRecord, current: u64) -> Self {
        // Same formula as `Node::etag`, so a version's tag equals the file's tag while current.
        let hex = record.hash.to_hex();
        VersionInfo {
            version: record.version,
            size: record.size,
            etag: format!("v{}-{}", record.version, hex.get(..16).unwrap_or("")),
            hash: hex,
            created_at: format_timestamp(record.created_at),
            author: record.author.clone(),
            current: record.version == current,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ListPage {
    pub entries: Vec<Entry>,
    /// Pass back to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A line next to a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContextLine {
    pub line_number: u64,
    pub text: String,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GlobResult {
    pub entries: Vec<Entry>,
    /// Whether the limit cut the result short.
    pub truncated: bool,
}

/// Result of a remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RemoveResult {
    /// Files and directories removed.
    pub removed: u64,
}
