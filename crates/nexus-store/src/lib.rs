//! Persistence for Nexus: namespace metadata, file versions and content-addressed blobs.
//!
//! ```text
//!   Store (store.rs) ── one handle per data directory; caches; the committer task
//!     ├── MetadataStore (meta.rs)  trait ── SqliteMetadataStore (sqlite/)
//!     │     rules.rs: what every mutation may do, over a backend's Rows (one transaction)
//!     └── BlobStore (blob.rs)      trait ── LocalBlobStore (object_store, fsync on)
//! ```
//!
//! - Metadata lives in SQLite (WAL, `synchronous=FULL`, versioned migrations) behind
//!   [`MetadataStore`], which speaks in domain mutations so another database can implement
//!   it without callers changing; the rules of those mutations are [`rules`], shared by
//!   every backend, which only reads and writes rows.
//! - Content lives in blobs named by their BLAKE3 hash under a per-organization prefix,
//!   written create-only and fsynced; metadata counts references to them in the same
//!   transaction that changes files; unreferenced blobs are deleted after a grace period.
//! - Every mutation is committed by one task that batches concurrent mutations into one
//!   transaction (group commit): an acknowledged write has its content and metadata on disk.
//!
//! The data directory holds `nexus-data.json` (marker), `LOCK` (held while open),
//! `meta.db` (+ WAL) and `blobs/orgs/<org>/<xx>/<hash>`.

mod blob;
mod cache;
pub mod codec;
mod error;
mod meta;
pub mod rules;
mod sqlite;
mod store;
mod types;

pub mod conformance;

pub use blob::{BlobStore, LocalBlobStore, StoredBlob};
pub use error::{Error, Rejection, StoreError};
pub use meta::{
    AccountsSnapshot, ApiKeyRecord, Applied, AuditQuery, AuditRecord, AuthorizationSnapshot,
    BlobRow, ChangeOperation, ChangeQuery, ChangeRecord, ImportedNode, ImportedVersion,
    LockerKeyRecord, MetadataCheck, MetadataStore, Mutation, NotificationQuery, NotificationRecord,
    OrgImport, Precondition, PrincipalRecord, RecordedChange, RelationshipBatch,
    RelationshipChange, ScheduledReminder, TASK_SCHEDULE_REMINDERS, Turn,
};
pub use sqlite::{SCHEMA_VERSION, SqliteMetadataStore};
pub use store::{CheckReport, GcReport, MARKER_FILE, Store, StoreOptions, WriteRequest};
pub use types::{
    BlobRef, ContentHash, ListQuery, Node, NodeKind, Timestamp, VersionPolicy, VersionRecord,
};
