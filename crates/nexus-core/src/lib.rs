//! The Nexus filesystem service.
//!
//! ```text
//!   Fs (fs/)            every file operation, given a CallContext (principal + tenant)
//!     ├── search.rs     glob and grep, enumerating through listings
//!     └── cursor.rs     opaque pagination cursors
//!   Entry, ... (entry.rs)   what operations return (serializable)
//!   FsError, ErrorCode      typed errors with stable codes
//! ```
//!
//! Paths are canonicalized once, by [`nexus_path::VfsPath::parse`], and every operation
//! checks that its paths belong to an organization the caller acts for before touching the
//! store. Storage (metadata, blobs, durability) is [`nexus_store`]'s job.

pub mod accounts;
pub mod authz;
pub mod commit;
mod entry;
mod error;
pub mod fault;
mod fs;
pub mod locker;
mod principal;
mod storage;
pub mod views;
pub mod wire;

pub use nexus_api as api;

pub use entry::{
    ContextLine, Entry, EntryKind, GlobResult, GrepMatch, GrepResult, ListPage, RemoveResult,
    VersionInfo, format_timestamp,
};
pub use error::{ErrorCode, FsError, io_reason};
pub use fs::{
    Accounts, Archives, Audit, ByteRange, CheckQuery, DEFAULT_PAGE_SIZE, Files, Fs, GlobOptions,
    GrepOptions, ItemQuery, Items, Layout, ListOptions, LockerRotation, MAX_PAGE_SIZE, MemberKind,
    MemberRecord, MemberSpec, MemberStatus, ORG_RECORD, OrgRecord, OrgSpec, Orgs, ProvisionReport,
    Provisioning, ReadOptions, ReadOutput, Relationships, Role, Sessions, WorkspaceSpec,
    WriteOptions,
};
pub use fs::{DEFAULT_EXACT_LIMIT, DEFAULT_MIN_SIMILARITY};
pub use fs::{archive, retention};
pub use nexus_path::{OrgId, VfsPath};
pub use nexus_search::{
    EmbedError, Embedder, Embedding, StaticModel, normalize, write_static_model,
};
pub use nexus_store::{
    AuditRecord, ChangeOperation, RecordedChange, StoreOptions, Timestamp, VersionPolicy,
};
pub use nexus_store_postgres::is_plain_schema_name;
pub use principal::{CallContext, InvalidPrincipal, Origin, Principal, Tenant};
pub use storage::{ScaleOut, Storage};
