//! What operations return: entries, versions, pages, matches. The types are the wire
//! contract's ([`nexus_api`]); this module builds them from stored records.

use nexus_store::{Node, NodeKind, Timestamp, VersionRecord};

pub use nexus_api::{
    ContextLine, Entry, EntryKind, GlobResult, GrepMatch, GrepResult, ListPage, RemoveResult,
    VersionInfo,
};

/// RFC 3339 (UTC, microseconds) form of a timestamp.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(timestamp.as_micros())
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// The entry of a stored node.
pub(crate) fn entry_of(node: &Node) -> Entry {
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

/// A stored version, as shown (`current` is the file's current version number).
pub(crate) fn version_info(record: &VersionRecord, current: u64) -> VersionInfo {
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
