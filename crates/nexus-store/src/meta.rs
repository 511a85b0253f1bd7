//! The metadata store: namespace, versions and blob reference counts.
//!
//! Backends implement [`MetadataStore`]. Reads see committed state only. All changes arrive
//! as [`Mutation`]s through [`MetadataStore::apply`], which runs a whole batch in one
//! transaction with one durable commit (group commit) while keeping every mutation atomic on
//! its own: a refused mutation leaves no trace and does not affect its neighbours.

use std::fmt;

use async_trait::async_trait;
use nexus_path::{OrgId, VfsPath};

use crate::error::{Rejection, StoreError};
use crate::types::{
    BlobRef, ContentHash, ListQuery, Node, Timestamp, VersionPolicy, VersionRecord,
};

/// What must hold about a file's current state for a write to proceed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// Write unconditionally.
    #[default]
    None,
    /// The file must exist with exactly this entity tag (`*`: the file must exist).
    IfMatch(String),
    /// The file must not exist.
    IfNoneMatch,
}

/// A change to the namespace. Paths are canonical; `org` owns every path involved.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Creates or overwrites a file with a blob that has already been stored.
    WriteFile {
        org: OrgId,
        path: VfsPath,
        blob: BlobRef,
        precondition: Precondition,
        /// Create missing parent directories instead of refusing.
        create_parents: bool,
        author: String,
        at: Timestamp,
    },
    /// Creates a directory.
    CreateDirectory {
        org: OrgId,
        path: VfsPath,
        /// Create missing parents, and succeed if the directory already exists.
        parents: bool,
        author: String,
        at: Timestamp,
    },
    /// Removes a file, an empty directory, or (with `recursive`) a whole directory.
    Remove {
        org: OrgId,
        path: VfsPath,
        recursive: bool,
        /// Only if the file's current etag is this one (checked in the same transaction).
        if_match: Option<String>,
        /// Who removes it (for the change feed).
        author: String,
        at: Timestamp,
    },
    /// Renames a file or directory (with everything beneath it), atomically.
    Move {
        org: OrgId,
        from: VfsPath,
        to: VfsPath,
        /// Replace an existing file at `to`.
        overwrite: bool,
        author: String,
        at: Timestamp,
    },
    /// Copies a file, or (with `recursive`) a directory tree; content is shared, not duplicated.
    Copy {
        org: OrgId,
        from: VfsPath,
        to: VfsPath,
        recursive: bool,
        /// Replace an existing file at `to` (it gains a new version).
        overwrite: bool,
        author: String,
        at: Timestamp,
    },
    /// Makes an old version's content the file's new current version.
    RestoreVersion {
        org: OrgId,
        path: VfsPath,
        version: u64,
        author: String,
        at: Timestamp,
    },
    /// Sets an organization's version policy and prunes every file to it.
    SetVersionPolicy {
        org: OrgId,
        policy: VersionPolicy,
        at: Timestamp,
    },
    /// Records relationship changes as revision `batch.revision` (which must follow the stored
    /// revision).
    WriteRelationships { batch: RelationshipBatch },
    /// Replaces the authorization schema, as revision `revision`.
    SetAuthorizationSchema { source: String, revision: u64 },
    /// Registers a principal; its kind and id, and its kind and handle, must be new.
    RegisterPrincipal { principal: PrincipalRecord },
    /// Gives the principal of `kind` registered with its handle `handle` as its id (agents
    /// registered before agents had stable ids) the stable id `id`; the handle stays, and
    /// API keys acting for `<kind>:<handle>` act for `<kind>:<id>`. Refused unless such a
    /// record exists and `id` is free.
    AssignStableId {
        kind: String,
        handle: String,
        id: String,
    },
    /// Stores a new API key (its hash only).
    CreateApiKey { key: ApiKeyRecord },
    /// Revokes an API key (already revoked: nothing changes).
    RevokeApiKey { id: String, at: Timestamp },
    /// Records an emergency lockout of a principal at `at` (credentials issued before it are
    /// void from then on); a later lockout replaces an earlier one.
    SetLockout {
        kind: String,
        id: String,
        at: Timestamp,
    },
    /// Appends entries to the audit log (the store numbers them). The log has no other
    /// mutation but [`Mutation::PruneAudit`].
    AppendAudit { entries: Vec<AuditRecord> },
    /// Deletes audit entries recorded before `before` (the retention setting's pass).
    PruneAudit { before: Timestamp },
    /// Stores an organization's wrapped locker data key; refused if it has one.
    CreateLockerKey { key: LockerKeyRecord },
    /// Replaces an organization's wrapped locker data key with the same key wrapped by
    /// another master key; refused unless it is currently wrapped by `from_master_id`.
    RewrapLockerKey {
        org: OrgId,
        from_master_id: String,
        master_id: String,
        wrapped: Vec<u8>,
    },
    /// Schedules the reminder item at `path` to fire at `due`, replacing its schedule;
    /// `None` removes it from the schedule.
    ScheduleReminder {
        org: OrgId,
        path: VfsPath,
        due: Option<Timestamp>,
    },
    /// Fires the reminder at `path` scheduled for `due`: moves it to `next` (`None`: off
    /// the schedule). Refused unless it is scheduled for exactly `due` (so an occurrence
    /// fires once) and, with `etag`, its file is still that version (so `next`, computed
    /// from it, is not stale); the notifications it sends go in the same group.
    FireReminder {
        path: VfsPath,
        due: Timestamp,
        next: Option<Timestamp>,
        etag: Option<String>,
    },
    /// Adds notifications to their recipients' feeds (the store numbers them per recipient).
    AddNotifications {
        notifications: Vec<NotificationRecord>,
    },
    /// Marks one of `recipient`'s notifications read (already read: nothing changes).
    MarkNotificationRead {
        recipient: String,
        id: u64,
        at: Timestamp,
    },
    /// Marks the one-time task `name` done (see [`MetadataStore::pending_tasks`]).
    CompleteTask { name: String },
    /// Writes a whole organization from an archive: its tree with every version, its version
    /// policy, reminder schedule, change feed, audit entries and wrapped locker key. Refused
    /// if the organization exists, unless `replace`, which first deletes what it has; its
    /// audit log and change feed only grow (the archive's entries follow the existing ones,
    /// so cursors stay valid). Relationships and principals go in the same group as their
    /// own mutations.
    ImportOrg(Box<OrgImport>),
}

/// The pending task of scheduling the reminder items of a data directory that was created
/// before the store kept a reminder schedule.
pub const TASK_SCHEDULE_REMINDERS: &str = "schedule_reminders";

/// What [`Mutation::ImportOrg`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgImport {
    pub org: OrgId,
    /// Replace an organization that exists.
    pub replace: bool,
    pub policy: VersionPolicy,
    /// Every node of the organization, its root first and each parent before its children.
    pub nodes: Vec<ImportedNode>,
    /// The reminder schedule: `(path, due)`.
    pub reminders: Vec<(VfsPath, Timestamp)>,
    /// The change feed, numbered from 1 without gaps (the store numbers them after the
    /// organization's existing changes: the same numbers in a fresh store).
    pub changes: Vec<ChangeRecord>,
    /// Audit entries, appended to the organization's log in this order.
    pub audit: Vec<AuditRecord>,
    pub locker_key: Option<LockerKeyRecord>,
}

/// One node of an [`OrgImport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedNode {
    pub path: VfsPath,
    pub kind: crate::types::NodeKind,
    pub created_at: Timestamp,
    /// Who created it (a directory's author; a file's authors are its versions').
    pub author: String,
    /// A file's versions, oldest first, the last one current; none for a directory.
    pub versions: Vec<ImportedVersion>,
}

/// One version of an [`ImportedNode`]: its number, its content (already stored) and who
/// wrote it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVersion {
    pub version: u64,
    pub blob: BlobRef,
    pub created_at: Timestamp,
    pub author: String,
}

/// One change in an organization's change feed: a file created, updated, removed, moved,
/// or shared. Recorded by the store in the transaction of the mutation that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub org: OrgId,
    /// Its place in the organization's feed, from 1 (given by the store; 0 when recording).
    pub revision: u64,
    pub at: Timestamp,
    /// `created`, `updated`, `removed`, `moved` or `shared`.
    pub action: String,
    /// The file (or, for `removed` and `moved`, the file or directory); a move's source.
    pub path: VfsPath,
    /// A move's destination.
    pub to: Option<VfsPath>,
    /// Who did it, when the mutation says (shares do not).
    pub author: Option<String>,
}

/// Which changes of one organization's feed to read, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeQuery {
    pub org: OrgId,
    /// Changes numbered after this.
    pub after: u64,
    pub limit: usize,
}

/// A reminder item's place on the schedule: when it fires next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledReminder {
    pub org: OrgId,
    pub path: VfsPath,
    pub due: Timestamp,
}

/// One notification in a principal's feed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotificationRecord {
    /// Whose feed (`user:u_k3x9`, `agent:a_7pq2`).
    pub recipient: String,
    /// Its number in the recipient's feed, from 1 (given by the store; 0 when adding).
    pub id: u64,
    /// The organization it is about.
    pub org: Option<OrgId>,
    /// `reminder`, `session_added`, `shared`.
    pub kind: String,
    pub title: String,
    /// The item it is about, if any.
    pub item_key: Option<String>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

/// Which notifications of one feed to read, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationQuery {
    pub recipient: String,
    /// Notifications numbered after this.
    pub after: u64,
    pub unread_only: bool,
    pub limit: usize,
}

/// One entry of the audit log: who did what to what, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditRecord {
    /// Its place in the log (given by the store; 0 when appending).
    pub seq: u64,
    /// The organization whose log holds it; `None`: the system log.
    pub org: Option<OrgId>,
    pub at: Timestamp,
    /// The principal that acted (`user:u_k3x9`, `agent:a_7pq2`, `system`, `anonymous`).
    pub actor: String,
    /// The principal it acted for, when acting on someone's behalf.
    pub on_behalf_of: Option<String>,
    /// What was done (an API operation such as `items_create`, or `read_private`).
    pub action: String,
    /// What it was done to (a path, an item key, a member, a key id...).
    pub target: String,
    /// `ok`, or the error code that ended it (`permission_denied`, `not_found`...).
    pub outcome: String,
    pub request_id: Option<String>,
    /// The client's address.
    pub client: Option<String>,
    /// The client's `User-Agent` (or an MCP client's name).
    pub user_agent: Option<String>,
    /// More about it, as JSON text (never a secret value).
    pub detail: Option<String>,
}

/// Which audit entries to read, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// `None`: every log; `Some(None)`: the system log; `Some(Some(org))`: one organization's.
    pub org: Option<Option<OrgId>>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries whose target starts with this.
    pub target_prefix: Option<String>,
    /// Recorded at or after.
    pub since: Option<Timestamp>,
    /// Recorded before.
    pub until: Option<Timestamp>,
    /// Entries after this sequence number.
    pub after: u64,
    pub limit: usize,
}

/// An organization's locker data key, wrapped (encrypted) by a master key that is never
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockerKeyRecord {
    pub org: OrgId,
    /// Which master key wrapped it (a fingerprint, not the key).
    pub master_id: String,
    pub wrapped: Vec<u8>,
    pub created_at: Timestamp,
}

/// A registered principal: a stable id that never changes or gets reused, and a unique handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// `user` or `agent`.
    pub kind: String,
    pub id: String,
    pub handle: String,
    pub created_at: Timestamp,
}

/// An API key as stored: a public id, the hash of the secret, and whom it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    /// Hex digest of the secret.
    pub hash: String,
    /// The principal the key acts as (`system`, `user:<id>`, `agent:<id>`).
    pub principal: String,
    pub description: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// For a delegation: the user the key's agent acts for (`user:<id>`).
    pub on_behalf_of: Option<String>,
    /// When the key stops working, if it does by itself (delegations).
    pub expires_at: Option<Timestamp>,
}

/// Every principal and API key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsSnapshot {
    pub principals: Vec<PrincipalRecord>,
    pub api_keys: Vec<ApiKeyRecord>,
    /// Emergency lockouts: `(kind, id, when)`; credentials issued before `when` are void.
    pub lockouts: Vec<(String, String, Timestamp)>,
}

/// Relationship changes committed together as one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipBatch {
    pub revision: u64,
    pub changes: Vec<RelationshipChange>,
}

/// One relationship added (or replaced) or removed.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipChange {
    pub operation: ChangeOperation,
    pub relationship: nexus_rebac::Relationship,
    /// The organization the relationship belongs to (`None`: none, e.g. system-wide).
    pub org: Option<OrgId>,
}

/// Kind of a relationship change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOperation {
    Touch,
    Delete,
}

/// A committed relationship change, from the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedChange {
    pub revision: u64,
    pub change: RelationshipChange,
}

/// The persisted authorization state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorizationSnapshot {
    pub schema: Option<String>,
    pub revision: u64,
    pub relationships: Vec<(nexus_rebac::Relationship, Option<OrgId>)>,
    /// Per organization, the last revision that changed one of its relationships.
    pub org_revisions: Vec<(OrgId, u64)>,
    /// The server's secret key (32 random bytes, generated with the store), for tamper-evident
    /// tokens and cursors.
    pub server_key: Vec<u8>,
}

impl Mutation {
    /// The newly stored blobs this mutation makes the store reference.
    pub fn new_blobs(&self) -> Vec<&BlobRef> {
        match self {
            Mutation::WriteFile { blob, .. } => vec![blob],
            Mutation::ImportOrg(import) => import
                .nodes
                .iter()
                .flat_map(|node| node.versions.iter().map(|version| &version.blob))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The path a refusal would be about.
    pub fn path(&self) -> Option<&VfsPath> {
        match self {
            Mutation::WriteFile { path, .. }
            | Mutation::CreateDirectory { path, .. }
            | Mutation::Remove { path, .. }
            | Mutation::RestoreVersion { path, .. } => Some(path),
            Mutation::Move { from, .. } | Mutation::Copy { from, .. } => Some(from),
            Mutation::SetVersionPolicy { .. }
            | Mutation::WriteRelationships { .. }
            | Mutation::SetAuthorizationSchema { .. }
            | Mutation::RegisterPrincipal { .. }
            | Mutation::AssignStableId { .. }
            | Mutation::CreateApiKey { .. }
            | Mutation::RevokeApiKey { .. }
            | Mutation::CreateLockerKey { .. }
            | Mutation::RewrapLockerKey { .. }
            | Mutation::SetLockout { .. }
            | Mutation::AppendAudit { .. }
            | Mutation::PruneAudit { .. }
            | Mutation::ScheduleReminder { .. }
            | Mutation::FireReminder { .. }
            | Mutation::AddNotifications { .. }
            | Mutation::MarkNotificationRead { .. }
            | Mutation::CompleteTask { .. }
            | Mutation::ImportOrg(_) => None,
        }
    }
}

/// What an applied mutation did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The resulting node (the written, created, moved or copied one).
    pub node: Option<Node>,
    /// How many nodes were removed (files and directories).
    pub removed: u64,
    /// Paths whose metadata changed (for caches).
    pub changed: Vec<VfsPath>,
    /// Roots of subtrees that changed as a whole (for caches).
    pub changed_subtrees: Vec<VfsPath>,
}

/// Result of checking the metadata's own consistency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataCheck {
    /// Problems found; empty when consistent.
    pub problems: Vec<String>,
}

/// A blob the metadata knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub org: OrgId,
    pub hash: ContentHash,
    pub size: u64,
    pub refcount: u64,
}

/// A turn at changing relationships, held by one node of those sharing a store while it
/// catches up, plans and commits (see [`MetadataStore::relationship_turn`]). Release it
/// when done; dropping it releases it too, later.
#[async_trait]
pub trait Turn: Send + fmt::Debug {
    /// Ends the turn.
    async fn release(self: Box<Self>);
}

/// Persistence for the namespace. See the module documentation for the contract.
#[async_trait]
pub trait MetadataStore: Send + Sync + fmt::Debug {
    /// The node at `path`, if stored.
    async fn node(&self, path: &VfsPath) -> Result<Option<Node>, StoreError>;

    /// Nodes under `query.dir`, ordered by path, at most `query.limit`.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Node>, StoreError>;

    /// All stored versions of a file, newest first.
    async fn versions(&self, file_id: i64) -> Result<Vec<VersionRecord>, StoreError>;

    /// One stored version of a file.
    async fn version(
        &self,
        file_id: i64,
        version: u64,
    ) -> Result<Option<VersionRecord>, StoreError>;

    /// The organization's version policy ([`VersionPolicy::DEFAULT`] if never set).
    async fn version_policy(&self, org: &OrgId) -> Result<VersionPolicy, StoreError>;

    /// Applies a batch of mutation groups in one transaction with one durable commit. Each
    /// group applies entirely or not at all. Returns one result per group, in order. `Err`
    /// means the batch as a whole did not commit.
    async fn apply(
        &self,
        batch: &[Vec<Mutation>],
    ) -> Result<Vec<Result<Vec<Applied>, Rejection>>, StoreError>;

    /// The authorization schema, revision and every relationship.
    async fn load_authorization(&self) -> Result<AuthorizationSnapshot, StoreError>;

    /// The stored authorization revision (what [`MetadataStore::load_authorization`] would
    /// report), cheaply: nodes sharing a database poll it to learn that another node
    /// changed relationships or the schema.
    async fn authorization_revision(&self) -> Result<u64, StoreError>;

    /// Waits for this node's turn at changing relationships: while a node holds it, no
    /// other node sharing the store plans or commits relationship changes, so a plan made
    /// after catching up is made against the state every node committed. `None` from a
    /// backend that one process uses alone (nothing to take turns with).
    async fn relationship_turn(&self) -> Result<Option<Box<dyn Turn>>, StoreError> {
        Ok(None)
    }

    /// A number that changes whenever principals, API keys, lockouts or locker keys change,
    /// so that nodes sharing the store know when to load them again. `None` from a backend
    /// that one process uses alone.
    async fn accounts_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Whether another process sharing the database committed since the last call (a node
    /// then drops the metadata it cached). Always `false` for a backend that one process
    /// uses alone.
    async fn others_committed(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Takes or renews the lease `name` for `holder` until `ttl` from now (the database's
    /// clock), unless another holder's lease on it has not expired; returns whether
    /// `holder` holds it. Background work that must run on one node at a time (the
    /// reminder scheduler, retention passes) runs only while its node holds the lease; a
    /// node that stops renewing leaves it to another once it expires. Always `true` for a
    /// backend that one process uses alone.
    async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let _ = (name, holder, ttl);
        Ok(true)
    }

    /// Every registered principal and API key.
    async fn load_accounts(&self) -> Result<AccountsSnapshot, StoreError>;

    /// Every organization's wrapped locker data key.
    async fn load_locker_keys(&self) -> Result<Vec<LockerKeyRecord>, StoreError>;

    /// Audit entries matching `query`, oldest first, at most `query.limit`.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// One organization's changes after `query.after`, oldest first, at most `query.limit`.
    async fn file_changes(&self, query: &ChangeQuery) -> Result<Vec<ChangeRecord>, StoreError>;

    /// One-time tasks the store's migrations left for the services above it (names such as
    /// [`TASK_SCHEDULE_REMINDERS`]), until a [`Mutation::CompleteTask`] commits.
    async fn pending_tasks(&self) -> Result<Vec<String>, StoreError>;

    /// The reminder schedule of one organization: every scheduled reminder, by path.
    async fn org_reminders(&self, org: &OrgId) -> Result<Vec<ScheduledReminder>, StoreError>;

    /// Reminders scheduled to fire at or before `until`, earliest first, at most `limit`.
    async fn due_reminders(
        &self,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<ScheduledReminder>, StoreError>;

    /// One feed's notifications matching `query`, oldest first, at most `query.limit`.
    async fn notifications(
        &self,
        query: &NotificationQuery,
    ) -> Result<Vec<NotificationRecord>, StoreError>;

    /// Relationship changes committed after `revision`, oldest first. A page holds whole
    /// revisions: it stops at the first revision boundary at or past `limit` changes (so one
    /// large batch may exceed it), and resuming after the last revision returned misses
    /// nothing.
    async fn relationship_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RecordedChange>, StoreError>;

    /// Whether the metadata has a row for the blob (referenced or awaiting collection).
    async fn blob_known(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError>;

    /// Forgets up to `limit` blobs that have been unreferenced since before `cutoff` and
    /// returns them; the caller deletes their content.
    async fn collect_unreferenced(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, ContentHash)>, StoreError>;

    /// Every blob row.
    async fn blob_rows(&self) -> Result<Vec<BlobRow>, StoreError>;

    /// Checks integrity and that reference counts match the versions that hold them.
    async fn check(&self) -> Result<MetadataCheck, StoreError>;

    /// Closes connections, waiting for them to finish.
    async fn close(&self);
}
