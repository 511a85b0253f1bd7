//! The rules every metadata backend obeys, written once above the backends.
//!
//! A backend opens a transaction and hands [`apply`] its [`Rows`]: reads and writes of
//! nodes, versions and policies, with no rule of their own. Everything that decides whether
//! a mutation may happen and what it changes lives here: a path belongs to the mutation's
//! organization, the parent exists and is a directory (or is created), preconditions on
//! etags, nothing is moved or copied into itself, a directory is empty unless the removal is
//! recursive, a subtree moved or copied still fits the path limit, a replaced file gains a
//! version instead of losing its history, and versions are pruned to the organization's
//! policy after every new version.
//!
//! A backend promises, beyond answering faithfully: blob reference counts equal the number
//! of version rows naming the blob (so removing versions releases content), and everything
//! a mutation wrote disappears when the backend rolls the mutation back after a
//! [`Failure::Rejected`]. The storage conformance suite ([`crate::conformance`]) checks both.

use std::time::Duration;

use async_trait::async_trait;
use nexus_path::{MAX_PATH_BYTES, OrgId, VfsPath};

use crate::error::{Rejection, StoreError};
use crate::meta::{
    ApiKeyRecord, Applied, AuditRecord, ChangeOperation, ChangeRecord, ImportedNode,
    LockerKeyRecord, Mutation, NotificationRecord, OrgImport, Precondition, PrincipalRecord,
    RelationshipBatch,
};
use crate::types::{BlobRef, ContentHash, Node, NodeKind, Timestamp, VersionPolicy};

/// Why a mutation did not apply: refused (roll the mutation back, answer the caller), or a
/// failure of the backend (abandon the transaction).
#[derive(Debug)]
pub enum Failure {
    Rejected(Rejection),
    Store(StoreError),
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Failure::Rejected(rejection)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Store(error.into())
    }
}

type Outcome<T> = Result<T, Failure>;

/// A node about to be inserted.
#[derive(Debug, Clone, Copy)]
pub struct NewNode<'a> {
    pub org: &'a OrgId,
    pub path: &'a VfsPath,
    pub kind: NodeKind,
    /// A file's first version (`None` for a directory).
    pub blob: Option<&'a BlobRef>,
    pub author: &'a str,
    pub at: Timestamp,
}

/// One open transaction of a metadata backend: rows in, rows out. Reads see the
/// transaction's own writes.
#[async_trait]
pub trait Rows: Send {
    /// The stored node at `path`.
    async fn node(&mut self, path: &VfsPath) -> Result<Option<Node>, StoreError>;

    /// The stored nodes at `path` and at `parent` (one round trip where the backend can).
    async fn node_and_parent(
        &mut self,
        path: &VfsPath,
        parent: &VfsPath,
    ) -> Result<(Option<Node>, Option<Node>), StoreError> {
        let node = self.node(path).await?;
        let parent = self.node(parent).await?;
        Ok((node, parent))
    }

    /// Whether the directory `dir` has any child.
    async fn has_children(&mut self, dir: &VfsPath) -> Result<bool, StoreError>;

    /// Every node strictly beneath `dir`, in any order.
    async fn beneath(&mut self, dir: &VfsPath) -> Result<Vec<Node>, StoreError>;

    /// The length in bytes of the longest path strictly beneath `dir` (0 when empty).
    async fn longest_path_beneath(&mut self, dir: &VfsPath) -> Result<usize, StoreError>;

    /// Inserts a node; a file gets version 1 holding `node.blob` (a reference to the blob).
    async fn insert_node(&mut self, node: NewNode<'_>) -> Result<Node, StoreError>;

    /// Adds version `version` of `file` holding `blob` and makes it the file's current
    /// content (size, hash, version, modification time and author).
    async fn push_version(
        &mut self,
        file: &Node,
        version: u64,
        blob: &BlobRef,
        author: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The content hash and size of version `version` of `file` (`None`: no such version).
    async fn version_content(
        &mut self,
        file: &Node,
        version: u64,
    ) -> Result<Option<(ContentHash, u64)>, StoreError>;

    /// Deletes versions of file `file_id` other than `current` that were created before
    /// `created_before` or are not among the newest `keep_last`.
    async fn delete_versions(
        &mut self,
        file_id: i64,
        current: u64,
        keep_last: Option<u32>,
        created_before: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// The version policy of `org` (the default when none was set).
    async fn version_policy(&mut self, org: &OrgId) -> Result<VersionPolicy, StoreError>;

    /// Stores the version policy of `org`.
    async fn store_version_policy(
        &mut self,
        org: &OrgId,
        policy: VersionPolicy,
    ) -> Result<(), StoreError>;

    /// Every file of `org`: its id and current version.
    async fn files(&mut self, org: &OrgId) -> Result<Vec<(i64, u64)>, StoreError>;

    /// Deletes `node`, everything beneath it when it is a directory, and their versions.
    /// Returns how many nodes were deleted.
    async fn delete_tree(&mut self, node: &Node) -> Result<u64, StoreError>;

    /// Renames `node` to `to`, with everything beneath it when it is a directory.
    async fn rename(&mut self, node: &Node, to: &VfsPath) -> Result<(), StoreError>;

    /// Records a relationship batch as its revision (refused unless it follows the stored
    /// revision).
    async fn write_relationships(&mut self, batch: &RelationshipBatch) -> Outcome<()>;

    /// Replaces the authorization schema as revision `revision`.
    async fn set_authorization_schema(&mut self, source: &str, revision: u64) -> Outcome<()>;

    /// Registers a principal (refused when its id or handle is taken).
    async fn register_principal(&mut self, principal: &PrincipalRecord) -> Outcome<()>;

    /// Gives a principal registered with its handle as id the stable id `id` (see
    /// [`Mutation::AssignStableId`]).
    async fn assign_stable_id(&mut self, kind: &str, handle: &str, id: &str) -> Outcome<()>;

    /// Stores a new API key.
    async fn create_api_key(&mut self, key: &ApiKeyRecord) -> Outcome<()>;

    /// Revokes an API key.
    async fn revoke_api_key(&mut self, id: &str, at: Timestamp) -> Outcome<()>;

    /// Records an emergency lockout.
    async fn set_lockout(&mut self, kind: &str, id: &str, at: Timestamp) -> Outcome<()>;

    /// Appends audit entries.
    async fn append_audit(&mut self, entries: &[AuditRecord]) -> Outcome<()>;

    /// Deletes audit entries recorded before `before`.
    async fn prune_audit(&mut self, before: Timestamp) -> Outcome<()>;

    /// Appends changes to their organizations' feeds, each numbered next in its feed.
    async fn record_changes(&mut self, changes: &[ChangeRecord]) -> Outcome<()>;

    /// Puts a reminder on the schedule at `due`, or (`None`) takes it off.
    async fn schedule_reminder(
        &mut self,
        org: &OrgId,
        path: &VfsPath,
        due: Option<Timestamp>,
    ) -> Outcome<()>;

    /// Moves a reminder scheduled for exactly `due` to `next` (refused otherwise).
    async fn fire_reminder(
        &mut self,
        path: &VfsPath,
        due: Timestamp,
        next: Option<Timestamp>,
    ) -> Outcome<()>;

    /// Adds notifications, each numbered next in its recipient's feed.
    async fn add_notifications(&mut self, notifications: &[NotificationRecord]) -> Outcome<()>;

    /// Marks a notification read (refused when the recipient has no such notification).
    async fn mark_notification_read(
        &mut self,
        recipient: &str,
        id: u64,
        at: Timestamp,
    ) -> Outcome<()>;

    /// Stores an organization's wrapped locker data key (refused if it has one).
    async fn create_locker_key(&mut self, key: &LockerKeyRecord) -> Outcome<()>;

    /// Marks a one-time task done.
    async fn complete_task(&mut self, name: &str) -> Result<(), StoreError>;

    /// Deletes what an organization has beside its tree and relationships: its reminder
    /// schedule, locker key and version policy (not its audit entries or change feed,
    /// which only grow).
    async fn forget_org(&mut self, org: &OrgId) -> Result<(), StoreError>;

    /// Re-wraps an organization's locker data key (refused unless wrapped by `from`).
    async fn rewrap_locker_key(
        &mut self,
        org: &OrgId,
        from: &str,
        master_id: &str,
        wrapped: &[u8],
    ) -> Outcome<()>;
}

const MICROS_PER_DAY: u64 = 86_400_000_000;

/// Relations whose grant on a file is a share in the change feed (items' shares and
/// assignments, ACL entries).
const SHARING_RELATIONS: [&str; 7] = [
    "shared_with",
    "shared_session",
    "published",
    "assignee",
    "acl_read",
    "acl_write",
    "acl_manage",
];

/// Records in the change feed what an applied group did (call it in the group's
/// transaction, after its last mutation applied).
pub async fn record_group<R: Rows + ?Sized>(
    rows: &mut R,
    group: &[Mutation],
    applied: &[Applied],
) -> Outcome<()> {
    // Relationships that follow a moved file are not shares, nor are those an imported
    // organization brings (its feed comes with it).
    let moves = group
        .iter()
        .any(|mutation| matches!(mutation, Mutation::Move { .. } | Mutation::ImportOrg(_)));
    let changes: Vec<ChangeRecord> = group
        .iter()
        .zip(applied)
        .filter(|(mutation, _)| !(moves && matches!(mutation, Mutation::WriteRelationships { .. })))
        .flat_map(|(mutation, applied)| feed_changes(mutation, applied))
        .collect();
    if !changes.is_empty() {
        rows.record_changes(&changes).await?;
    }
    Ok(())
}

/// What the change feed records of an applied mutation: files created, updated (written
/// again, restored or copied over), removed, moved and copied (files or directories; one
/// record for a whole subtree), and shares granted on files (a grant that replaces the same
/// relation of the same file for another subject in one batch is a rename, not a share).
/// Directories made with `mkdir` are not recorded.
fn feed_changes(mutation: &Mutation, applied: &Applied) -> Vec<ChangeRecord> {
    let record =
        |org: &OrgId, action: &str, path: &VfsPath, author: Option<&str>, at: Timestamp| {
            ChangeRecord {
                org: org.clone(),
                revision: 0,
                at,
                action: action.to_owned(),
                path: path.clone(),
                to: None,
                author: author.map(ToOwned::to_owned),
            }
        };
    let file = applied.node.as_ref().filter(|node| !node.is_dir());
    match mutation {
        Mutation::WriteFile {
            org, author, at, ..
        }
        | Mutation::RestoreVersion {
            org, author, at, ..
        } => file
            .map(|node| {
                let action = if node.version <= 1 && matches!(mutation, Mutation::WriteFile { .. })
                {
                    "created"
                } else {
                    "updated"
                };
                record(org, action, &node.path, Some(author), *at)
            })
            .into_iter()
            .collect(),
        Mutation::Copy {
            org, author, at, ..
        } => applied
            .node
            .as_ref()
            .map(|node| {
                // A file copied over another is a new version of it.
                let action = if node.version > 1 {
                    "updated"
                } else {
                    "created"
                };
                record(org, action, &node.path, Some(author), *at)
            })
            .into_iter()
            .collect(),
        Mutation::Remove {
            org,
            path,
            author,
            at,
            ..
        } if applied.removed > 0 => vec![record(org, "removed", path, Some(author), *at)],
        Mutation::Move {
            org,
            from,
            to,
            author,
            at,
            ..
        } => vec![ChangeRecord {
            to: Some(to.clone()),
            ..record(org, "moved", from, Some(author), *at)
        }],
        Mutation::WriteRelationships { batch } => {
            let at = Timestamp::now();
            let renamed = |touch: &crate::meta::RelationshipChange| {
                batch.changes.iter().any(|other| {
                    other.operation == ChangeOperation::Delete
                        && other.relationship.resource == touch.relationship.resource
                        && other.relationship.relation == touch.relationship.relation
                })
            };
            batch
                .changes
                .iter()
                .filter(|change| {
                    change.operation == ChangeOperation::Touch
                        && change.relationship.resource.object_type == "file"
                        && SHARING_RELATIONS.contains(&change.relationship.relation.as_str())
                        && !renamed(change)
                })
                .filter_map(|change| {
                    let org = change.org.as_ref()?;
                    let path = VfsPath::parse(&change.relationship.resource.object_id).ok()?;
                    Some(record(org, "shared", &path, None, at))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Applies one mutation through `rows`. On [`Failure::Rejected`] the caller rolls back
/// what the mutation wrote.
#[expect(clippy::too_many_lines, reason = "one arm per mutation, each a call")]
pub async fn apply<R: Rows + ?Sized>(rows: &mut R, mutation: &Mutation) -> Outcome<Applied> {
    match mutation {
        Mutation::WriteFile {
            org,
            path,
            blob,
            precondition,
            create_parents,
            author,
            at,
        } => {
            owned_by(org, path)?;
            if &blob.org != org {
                return Err(Rejection::WrongOrganization {
                    path: path.clone(),
                    org: org.to_string(),
                }
                .into());
            }
            let change = Change::new(org, author, *at);
            write_file(rows, change, path, blob, precondition, *create_parents).await
        }
        Mutation::CreateDirectory {
            org,
            path,
            parents,
            author,
            at,
        } => {
            owned_by(org, path)?;
            let change = Change::new(org, author, *at);
            create_directory(rows, change, path, *parents).await
        }
        Mutation::Remove {
            org,
            path,
            recursive,
            if_match,
            author: _,
            at: _,
        } => {
            owned_by(org, path)?;
            remove(rows, path, *recursive, if_match.as_deref()).await
        }
        Mutation::Move {
            org,
            from,
            to,
            overwrite,
            author: _,
            at: _,
        } => {
            owned_by(org, from)?;
            owned_by(org, to)?;
            move_node(rows, from, to, *overwrite).await
        }
        Mutation::Copy {
            org,
            from,
            to,
            recursive,
            overwrite,
            author,
            at,
        } => {
            owned_by(org, from)?;
            owned_by(org, to)?;
            let change = Change::new(org, author, *at);
            copy(rows, change, from, to, *recursive, *overwrite).await
        }
        Mutation::RestoreVersion {
            org,
            path,
            version,
            author,
            at,
        } => {
            owned_by(org, path)?;
            let change = Change::new(org, author, *at);
            restore(rows, change, path, *version).await
        }
        Mutation::SetVersionPolicy { org, policy, at } => set_policy(rows, org, *policy, *at).await,
        Mutation::WriteRelationships { batch } => {
            rows.write_relationships(batch).await?;
            Ok(Applied::default())
        }
        Mutation::SetAuthorizationSchema { source, revision } => {
            rows.set_authorization_schema(source, *revision).await?;
            Ok(Applied::default())
        }
        Mutation::RegisterPrincipal { principal } => {
            rows.register_principal(principal).await?;
            Ok(Applied::default())
        }
        Mutation::AssignStableId { kind, handle, id } => {
            rows.assign_stable_id(kind, handle, id).await?;
            Ok(Applied::default())
        }
        Mutation::CreateApiKey { key } => {
            rows.create_api_key(key).await?;
            Ok(Applied::default())
        }
        Mutation::RevokeApiKey { id, at } => {
            rows.revoke_api_key(id, *at).await?;
            Ok(Applied::default())
        }
        Mutation::SetLockout { kind, id, at } => {
            rows.set_lockout(kind, id, *at).await?;
            Ok(Applied::default())
        }
        Mutation::AppendAudit { entries } => {
            rows.append_audit(entries).await?;
            Ok(Applied::default())
        }
        Mutation::PruneAudit { before } => {
            rows.prune_audit(*before).await?;
            Ok(Applied::default())
        }
        Mutation::ScheduleReminder { org, path, due } => {
            owned_by(org, path)?;
            rows.schedule_reminder(org, path, *due).await?;
            Ok(Applied::default())
        }
        Mutation::FireReminder {
            path,
            due,
            next,
            etag,
        } => {
            if let Some(etag) = etag {
                let current = rows.node(path).await?.map(|node| node.etag());
                if current.as_deref() != Some(etag.as_str()) {
                    return Err(Rejection::ReminderMoved { path: path.clone() }.into());
                }
            }
            rows.fire_reminder(path, *due, *next).await?;
            Ok(Applied::default())
        }
        Mutation::AddNotifications { notifications } => {
            rows.add_notifications(notifications).await?;
            Ok(Applied::default())
        }
        Mutation::MarkNotificationRead { recipient, id, at } => {
            rows.mark_notification_read(recipient, *id, *at).await?;
            Ok(Applied::default())
        }
        Mutation::CreateLockerKey { key } => {
            rows.create_locker_key(key).await?;
            Ok(Applied::default())
        }
        Mutation::RewrapLockerKey {
            org,
            from_master_id,
            master_id,
            wrapped,
        } => {
            rows.rewrap_locker_key(org, from_master_id, master_id, wrapped)
                .await?;
            Ok(Applied::default())
        }
        Mutation::CompleteTask { name } => {
            rows.complete_task(name).await?;
            Ok(Applied::default())
        }
        Mutation::ImportOrg(import) => import_org(rows, import).await,
    }
}

fn invalid_import(problem: String) -> Failure {
    Rejection::InvalidImport { problem }.into()
}

/// Writes an organization from an archive (see [`Mutation::ImportOrg`]).
async fn import_org<R: Rows + ?Sized>(rows: &mut R, import: &OrgImport) -> Outcome<Applied> {
    let org = &import.org;
    let root = VfsPath::org_root(org);
    if let Some(existing) = rows.node(&root).await? {
        if !import.replace {
            return Err(Rejection::AlreadyExists { path: root }.into());
        }
        rows.delete_tree(&existing).await?;
    }
    rows.forget_org(org).await?;
    rows.store_version_policy(org, import.policy).await?;
    if import
        .nodes
        .first()
        .is_none_or(|node| node.path != root || node.kind != NodeKind::Directory)
    {
        return Err(invalid_import(format!(
            "its first node must be the directory `{root}`"
        )));
    }
    for node in &import.nodes {
        import_node(rows, org, node).await?;
    }
    for (path, due) in &import.reminders {
        owned_by(org, path)?;
        if rows.node(path).await?.is_none_or(|node| node.is_dir()) {
            return Err(invalid_import(format!(
                "the reminder `{path}` is not one of its files"
            )));
        }
        rows.schedule_reminder(org, path, Some(*due)).await?;
    }
    for (expected, change) in (1_u64..).zip(&import.changes) {
        if change.revision != expected || &change.org != org {
            return Err(invalid_import(format!(
                "change {expected} of its feed is missing or out of order"
            )));
        }
        owned_by(org, &change.path)?;
    }
    if !import.changes.is_empty() {
        rows.record_changes(&import.changes).await?;
    }
    if import
        .audit
        .iter()
        .any(|entry| entry.org.as_ref() != Some(org))
    {
        return Err(invalid_import(format!(
            "an audit entry does not belong to organization `{org}`"
        )));
    }
    if !import.audit.is_empty() {
        rows.append_audit(&import.audit).await?;
    }
    if let Some(key) = &import.locker_key {
        if &key.org != org {
            return Err(invalid_import(format!(
                "its locker key does not belong to organization `{org}`"
            )));
        }
        rows.create_locker_key(key).await?;
    }
    Ok(Applied {
        changed: vec![root.clone()],
        changed_subtrees: vec![root],
        ..Applied::default()
    })
}

/// Inserts one node of an import beneath its (already imported) parent, a file with its
/// versions under their original numbers.
async fn import_node<R: Rows + ?Sized>(
    rows: &mut R,
    org: &OrgId,
    node: &ImportedNode,
) -> Outcome<()> {
    owned_by(org, &node.path)?;
    let parent_path = node.path.parent().unwrap_or_else(VfsPath::root);
    let (existing, parent) = rows.node_and_parent(&node.path, &parent_path).await?;
    if existing.is_some() {
        return Err(Rejection::AlreadyExists {
            path: node.path.clone(),
        }
        .into());
    }
    let parent_is_dir = parent.as_ref().is_some_and(Node::is_dir) || parent_path.is_fixed();
    if !parent_is_dir {
        return Err(Rejection::ParentNotFound {
            parent: parent_path,
        }
        .into());
    }
    let Some(first) = node.versions.first() else {
        if node.kind == NodeKind::File {
            return Err(invalid_import(format!(
                "the file `{}` has no version",
                node.path
            )));
        }
        rows.insert_node(NewNode {
            org,
            path: &node.path,
            kind: NodeKind::Directory,
            blob: None,
            author: &node.author,
            at: node.created_at,
        })
        .await?;
        return Ok(());
    };
    if node.kind == NodeKind::Directory {
        return Err(invalid_import(format!(
            "the directory `{}` has versions",
            node.path
        )));
    }
    let increasing = node.versions.windows(2).all(|pair| {
        pair.first().map(|version| version.version) < pair.get(1).map(|version| version.version)
    });
    if first.version == 0 || !increasing {
        return Err(invalid_import(format!(
            "the versions of `{}` are not numbered upwards from 1",
            node.path
        )));
    }
    if node.versions.iter().any(|version| &version.blob.org != org) {
        return Err(Rejection::WrongOrganization {
            path: node.path.clone(),
            org: org.to_string(),
        }
        .into());
    }
    // The file starts as version 1; older versions the source had pruned stay missing.
    let file = rows
        .insert_node(NewNode {
            org,
            path: &node.path,
            kind: NodeKind::File,
            blob: Some(&first.blob),
            author: &first.author,
            at: if first.version == 1 {
                first.created_at
            } else {
                node.created_at
            },
        })
        .await?;
    let pushed = if first.version == 1 {
        node.versions.get(1..).unwrap_or_default()
    } else {
        &node.versions
    };
    for version in pushed {
        rows.push_version(
            &file,
            version.version,
            &version.blob,
            &version.author,
            version.created_at,
        )
        .await?;
    }
    if first.version != 1 {
        let current = node.versions.last().map_or(1, |version| version.version);
        let keep = u32::try_from(node.versions.len()).unwrap_or(u32::MAX);
        rows.delete_versions(file.id, current, Some(keep), None)
            .await?;
    }
    Ok(())
}

/// Who changes what, and when: the fields every creating mutation carries.
#[derive(Clone, Copy)]
struct Change<'a> {
    org: &'a OrgId,
    author: &'a str,
    at: Timestamp,
}

impl<'a> Change<'a> {
    fn new(org: &'a OrgId, author: &'a str, at: Timestamp) -> Change<'a> {
        Change { org, author, at }
    }

    fn node(self, path: &'a VfsPath, kind: NodeKind, blob: Option<&'a BlobRef>) -> NewNode<'a> {
        NewNode {
            org: self.org,
            path,
            kind,
            blob,
            author: self.author,
            at: self.at,
        }
    }
}

/// A mutation only touches paths of its own organization (beneath `/orgs/<org>`).
fn owned_by(org: &OrgId, path: &VfsPath) -> Outcome<()> {
    let owner = path
        .location()
        .ok()
        .and_then(|location| location.org().cloned());
    if owner.as_ref() == Some(org) {
        Ok(())
    } else {
        Err(Rejection::WrongOrganization {
            path: path.clone(),
            org: org.to_string(),
        }
        .into())
    }
}

async fn existing<R: Rows + ?Sized>(rows: &mut R, path: &VfsPath) -> Outcome<Node> {
    Ok(rows
        .node(path)
        .await?
        .ok_or_else(|| Rejection::NotFound { path: path.clone() })?)
}

/// Checks that the parent of `path` is a directory, creating missing ancestors when allowed.
async fn ensure_parent<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    path: &VfsPath,
    create_parents: bool,
    changed: &mut Vec<VfsPath>,
) -> Outcome<()> {
    let mut missing = Vec::new();
    for ancestor in path.ancestors() {
        if ancestor.is_fixed() {
            break;
        }
        match rows.node(&ancestor).await? {
            Some(node) if node.is_dir() => break,
            Some(_) => return Err(Rejection::NotADirectory { path: ancestor }.into()),
            None if create_parents => missing.push(ancestor),
            None => return Err(Rejection::ParentNotFound { parent: ancestor }.into()),
        }
    }
    for directory in missing.into_iter().rev() {
        rows.insert_node(change.node(&directory, NodeKind::Directory, None))
            .await?;
        changed.push(directory);
    }
    Ok(())
}

/// Drops old versions of one file that `policy` no longer keeps. The current one stays.
async fn prune<R: Rows + ?Sized>(
    rows: &mut R,
    file_id: i64,
    current: u64,
    policy: VersionPolicy,
    at: Timestamp,
) -> Outcome<()> {
    if policy.keep_last.is_none() && policy.keep_days.is_none() {
        return Ok(());
    }
    let keep_last = policy.keep_last.map(|keep| keep.max(1));
    let created_before = policy
        .keep_days
        .map(|days| at.minus(Duration::from_micros(u64::from(days) * MICROS_PER_DAY)));
    rows.delete_versions(file_id, current, keep_last, created_before)
        .await?;
    Ok(())
}

/// Adds a new current version with `blob` to an existing file, then prunes it.
async fn add_version<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    file: &Node,
    blob: &BlobRef,
) -> Outcome<Node> {
    let version = file.version + 1;
    rows.push_version(file, version, blob, change.author, change.at)
        .await?;
    let policy = rows.version_policy(change.org).await?;
    prune(rows, file.id, version, policy, change.at).await?;
    Ok(Node {
        size: blob.size,
        hash: Some(blob.hash),
        version,
        modified_at: change.at,
        author: change.author.to_owned(),
        ..file.clone()
    })
}

async fn write_file<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    path: &VfsPath,
    blob: &BlobRef,
    precondition: &Precondition,
    create_parents: bool,
) -> Outcome<Applied> {
    if matches!(path.location(), Ok(nexus_path::Location::OrgRoot(_))) {
        return Err(Rejection::IsADirectory { path: path.clone() }.into());
    }
    let parent_path = path.parent().unwrap_or_else(VfsPath::root);
    let (existing, parent) = rows.node_and_parent(path, &parent_path).await?;
    if existing.as_ref().is_some_and(Node::is_dir) {
        return Err(Rejection::IsADirectory { path: path.clone() }.into());
    }
    let current_etag = existing.as_ref().map(Node::etag);
    let satisfied = match precondition {
        Precondition::None => true,
        Precondition::IfNoneMatch => existing.is_none(),
        Precondition::IfMatch(tag) => current_etag
            .as_ref()
            .is_some_and(|etag| tag == "*" || tag == etag),
    };
    if !satisfied {
        return Err(Rejection::PreconditionFailed {
            path: path.clone(),
            current_etag,
        }
        .into());
    }
    let mut changed = vec![path.clone()];
    let node = if let Some(file) = existing {
        add_version(rows, change, &file, blob).await?
    } else {
        if !parent.as_ref().is_some_and(Node::is_dir) {
            ensure_parent(rows, change, path, create_parents, &mut changed).await?;
        }
        rows.insert_node(change.node(path, NodeKind::File, Some(blob)))
            .await?
    };
    Ok(Applied {
        node: Some(node),
        changed,
        ..Applied::default()
    })
}

async fn create_directory<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    path: &VfsPath,
    parents: bool,
) -> Outcome<Applied> {
    match rows.node(path).await? {
        Some(node) if node.is_dir() && parents => Ok(Applied {
            node: Some(node),
            ..Applied::default()
        }),
        Some(_) => Err(Rejection::AlreadyExists { path: path.clone() }.into()),
        None => {
            let mut changed = Vec::new();
            ensure_parent(rows, change, path, parents, &mut changed).await?;
            let node = rows
                .insert_node(change.node(path, NodeKind::Directory, None))
                .await?;
            changed.push(path.clone());
            Ok(Applied {
                node: Some(node),
                changed,
                ..Applied::default()
            })
        }
    }
}

async fn remove<R: Rows + ?Sized>(
    rows: &mut R,
    path: &VfsPath,
    recursive: bool,
    if_match: Option<&str>,
) -> Outcome<Applied> {
    let node = existing(rows, path).await?;
    if let Some(expected) = if_match
        && node.etag() != expected
    {
        return Err(Rejection::PreconditionFailed {
            path: path.clone(),
            current_etag: Some(node.etag()),
        }
        .into());
    }
    if node.is_dir() && !recursive && rows.has_children(path).await? {
        return Err(Rejection::DirectoryNotEmpty { path: path.clone() }.into());
    }
    let removed = rows.delete_tree(&node).await?;
    Ok(Applied {
        node: None,
        removed,
        changed: vec![path.clone()],
        changed_subtrees: if node.is_dir() {
            vec![path.clone()]
        } else {
            Vec::new()
        },
    })
}

/// Checks that every path of the subtree at `from` still fits the limit when rebased on `to`.
async fn check_rebased_length<R: Rows + ?Sized>(
    rows: &mut R,
    from: &VfsPath,
    to: &VfsPath,
) -> Outcome<()> {
    let longest = rows.longest_path_beneath(from).await?;
    let rebased = (longest + to.as_str().len()).saturating_sub(from.as_str().len());
    if rebased > MAX_PATH_BYTES {
        return Err(Rejection::PathTooLong { path: to.clone() }.into());
    }
    Ok(())
}

/// Resolves what is at the destination of a move or copy: nothing (its parent must be a
/// directory), or a file that may be replaced. Refuses a destination that is taken and may
/// not be replaced.
async fn prepare_destination<R: Rows + ?Sized>(
    rows: &mut R,
    source: &Node,
    to: &VfsPath,
    overwrite: bool,
) -> Outcome<Option<Node>> {
    let Some(existing) = rows.node(to).await? else {
        let parent = to.parent().unwrap_or_else(VfsPath::root);
        if !parent.is_fixed() {
            match rows.node(&parent).await? {
                Some(node) if node.is_dir() => {}
                Some(_) => return Err(Rejection::NotADirectory { path: parent }.into()),
                None => return Err(Rejection::ParentNotFound { parent }.into()),
            }
        }
        return Ok(None);
    };
    if existing.is_dir() {
        return Err(Rejection::IsADirectory { path: to.clone() }.into());
    }
    if !overwrite || source.is_dir() {
        return Err(Rejection::AlreadyExists { path: to.clone() }.into());
    }
    Ok(Some(existing))
}

fn refuse_into_itself(from: &VfsPath, to: &VfsPath) -> Outcome<()> {
    if to.starts_with(from) {
        return Err(Rejection::IntoItself {
            from: from.clone(),
            to: to.clone(),
        }
        .into());
    }
    Ok(())
}

async fn move_node<R: Rows + ?Sized>(
    rows: &mut R,
    from: &VfsPath,
    to: &VfsPath,
    overwrite: bool,
) -> Outcome<Applied> {
    let source = existing(rows, from).await?;
    if from == to {
        return Ok(Applied {
            node: Some(source),
            ..Applied::default()
        });
    }
    refuse_into_itself(from, to)?;
    if let Some(replaced) = prepare_destination(rows, &source, to, overwrite).await? {
        rows.delete_tree(&replaced).await?;
    }
    let mut changed_subtrees = Vec::new();
    if source.is_dir() {
        check_rebased_length(rows, from, to).await?;
        changed_subtrees = vec![from.clone(), to.clone()];
    }
    rows.rename(&source, to).await?;
    Ok(Applied {
        node: Some(Node {
            path: to.clone(),
            ..source
        }),
        removed: 0,
        changed: vec![from.clone(), to.clone()],
        changed_subtrees,
    })
}

/// The blob a file's current version holds.
fn blob_of(org: &OrgId, node: &Node) -> Outcome<BlobRef> {
    let hash = node.hash.ok_or_else(|| StoreError::InvalidData {
        message: format!("file `{}` has no content hash", node.path),
    })?;
    Ok(BlobRef {
        org: org.clone(),
        hash,
        size: node.size,
    })
}

async fn copy<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    from: &VfsPath,
    to: &VfsPath,
    recursive: bool,
    overwrite: bool,
) -> Outcome<Applied> {
    let source = existing(rows, from).await?;
    refuse_into_itself(from, to)?;
    if source.is_dir() && !recursive {
        return Err(Rejection::IsADirectory { path: from.clone() }.into());
    }
    if let Some(replaced) = prepare_destination(rows, &source, to, overwrite).await? {
        let blob = blob_of(change.org, &source)?;
        let node = add_version(rows, change, &replaced, &blob).await?;
        return Ok(Applied {
            node: Some(node),
            changed: vec![to.clone()],
            ..Applied::default()
        });
    }
    if !source.is_dir() {
        let blob = blob_of(change.org, &source)?;
        let node = rows
            .insert_node(change.node(to, NodeKind::File, Some(&blob)))
            .await?;
        return Ok(Applied {
            node: Some(node),
            changed: vec![to.clone()],
            ..Applied::default()
        });
    }
    check_rebased_length(rows, from, to).await?;
    let root = rows
        .insert_node(change.node(to, NodeKind::Directory, None))
        .await?;
    // Parents before their children, so every copied node finds its parent in place.
    let mut nodes = rows.beneath(from).await?;
    nodes.sort_by(|a, b| {
        a.path
            .depth()
            .cmp(&b.path.depth())
            .then_with(|| a.path.cmp(&b.path))
    });
    for node in nodes {
        let target = node
            .path
            .rebase(from, to)
            .ok_or_else(|| Rejection::PathTooLong { path: to.clone() })?;
        let blob = if node.is_dir() {
            None
        } else {
            Some(blob_of(change.org, &node)?)
        };
        rows.insert_node(change.node(&target, node.kind, blob.as_ref()))
            .await?;
    }
    Ok(Applied {
        node: Some(root),
        changed: vec![to.clone()],
        changed_subtrees: vec![to.clone()],
        ..Applied::default()
    })
}

async fn restore<R: Rows + ?Sized>(
    rows: &mut R,
    change: Change<'_>,
    path: &VfsPath,
    version: u64,
) -> Outcome<Applied> {
    let file = existing(rows, path).await?;
    if file.is_dir() {
        return Err(Rejection::IsADirectory { path: path.clone() }.into());
    }
    let (hash, size) =
        rows.version_content(&file, version)
            .await?
            .ok_or_else(|| Rejection::VersionNotFound {
                path: path.clone(),
                version,
            })?;
    let blob = BlobRef {
        org: change.org.clone(),
        hash,
        size,
    };
    let node = add_version(rows, change, &file, &blob).await?;
    Ok(Applied {
        node: Some(node),
        changed: vec![path.clone()],
        ..Applied::default()
    })
}

async fn set_policy<R: Rows + ?Sized>(
    rows: &mut R,
    org: &OrgId,
    policy: VersionPolicy,
    at: Timestamp,
) -> Outcome<Applied> {
    let policy = VersionPolicy {
        keep_last: policy.keep_last.map(|keep| keep.max(1)),
        ..policy
    };
    rows.store_version_policy(org, policy).await?;
    for (file_id, version) in rows.files(org).await? {
        prune(rows, file_id, version, policy, at).await?;
    }
    Ok(Applied::default())
}
