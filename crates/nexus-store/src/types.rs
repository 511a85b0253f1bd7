//! Plain data shared by the metadata store, the blob store and their callers.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_path::{OrgId, VfsPath};

/// Microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
            });
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// This instant moved back by `duration` (saturating).
    #[must_use]
    pub fn minus(self, duration: Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(micros))
    }
}

/// A BLAKE3 content hash: the identity of a blob within its organization.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Hashes `content`.
    pub fn of(content: &[u8]) -> Self {
        ContentHash(*blake3::hash(content).as_bytes())
    }

    /// Lowercase hexadecimal form (64 characters).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hexadecimal form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(ContentHash(bytes))
    }

    /// Parses the 32 raw bytes stored in the database.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(ContentHash)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ContentHash({})", self.to_hex())
    }
}

/// A blob a mutation refers to: its owner, hash and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub org: OrgId,
    pub hash: ContentHash,
    pub size: u64,
}

/// Whether a node is a directory or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Directory,
    File,
}

impl NodeKind {
    /// The kind as stored (1: directory, 2: file).
    pub fn code(self) -> i64 {
        match self {
            NodeKind::Directory => 1,
            NodeKind::File => 2,
        }
    }

    /// The kind stored as `code`.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(NodeKind::Directory),
            2 => Some(NodeKind::File),
            _ => None,
        }
    }
}

/// One file or directory of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Stable id: survives renames, never reused. `0` for the fixed directories `/` and `/orgs`.
    pub id: i64,
    /// The owning organization; `None` only for `/` and `/orgs`.
    pub org: Option<OrgId>,
    pub path: VfsPath,
    pub kind: NodeKind,
    /// Content length in bytes (`0` for directories).
    pub size: u64,
    /// Content hash of the current version (files only).
    pub hash: Option<ContentHash>,
    /// Current version number, starting at 1 (`0` for directories).
    pub version: u64,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    /// Principal that last changed the node.
    pub author: String,
}

impl Node {
    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Directory
    }

    /// The entity tag of the current content: changes on every write, so `If-Match` with an
    /// old tag fails even when the content happens to be written back unchanged.
    pub fn etag(&self) -> String {
        match &self.hash {
            Some(hash) => format!(
                "v{}-{}",
                self.version,
                hash.to_hex().get(..16).unwrap_or("")
            ),
            None => format!("d{}", self.id),
        }
    }

    /// A fixed directory that exists without being stored (`/` and `/orgs`).
    pub fn virtual_directory(path: VfsPath) -> Self {
        Node {
            id: 0,
            org: None,
            path,
            kind: NodeKind::Directory,
            size: 0,
            hash: None,
            version: 0,
            created_at: Timestamp(0),
            modified_at: Timestamp(0),
            author: "system".to_owned(),
        }
    }
}

/// One stored version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub file_id: i64,
    pub version: u64,
    pub org: OrgId,
    pub hash: ContentHash,
    pub size: u64,
    pub created_at: Timestamp,
    pub author: String,
}

/// How many old versions an organization keeps. The current version is always kept; an old
/// version is dropped as soon as either limit excludes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionPolicy {
    /// Keep at most this many versions per file, the current one included (at least 1).
    pub keep_last: Option<u32>,
    /// Drop old versions created more than this many days ago.
    pub keep_days: Option<u32>,
}

impl VersionPolicy {
    /// The policy of an organization that never set one.
    pub const DEFAULT: VersionPolicy = VersionPolicy {
        keep_last: Some(100),
        keep_days: None,
    };
}

impl Default for VersionPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A listing request: the children (or all descendants) of `dir`, in path order.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub dir: VfsPath,
    /// All descendants instead of direct children.
    pub recursive: bool,
    /// Only paths strictly greater than this one (keyset pagination).
    pub after: Option<VfsPath>,
    pub limit: usize,
}
