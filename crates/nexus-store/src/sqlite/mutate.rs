//! Each [`Mutation`] as statements on one connection inside an open transaction.
//!
//! Every function first reads and validates, then writes; a [`Rejection`] returned after some
//! writes is still safe because the caller rolls the mutation's savepoint back.

use std::time::Duration;

use nexus_path::{MAX_PATH_BYTES, OrgId, VfsPath};
use sqlx::{Row, SqliteConnection};

use super::{node_columns, node_from_row, policy_from_row, subtree_range, to_i64, to_u64};
use crate::error::{Rejection, StoreError};
use crate::meta::{Applied, Mutation, Precondition};
use crate::types::{BlobRef, Node, NodeKind, Timestamp, VersionPolicy};

/// Why a mutation did not apply.
pub(super) enum Failure {
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

const MICROS_PER_DAY: u64 = 86_400_000_000;

#[expect(clippy::too_many_lines, reason = "one arm per mutation, each a call")]
pub(super) async fn apply(
    connection: &mut SqliteConnection,
    mutation: &Mutation,
) -> Outcome<Applied> {
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
            write_file(
                connection,
                org,
                path,
                blob,
                precondition,
                *create_parents,
                author,
                *at,
            )
            .await
        }
        Mutation::CreateDirectory {
            org,
            path,
            parents,
            author,
            at,
        } => {
            owned_by(org, path)?;
            create_directory(connection, org, path, *parents, author, *at).await
        }
        Mutation::Remove {
            org,
            path,
            recursive,
            if_match,
            at: _,
        } => {
            owned_by(org, path)?;
            remove(connection, path, *recursive, if_match.as_deref()).await
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
            move_node(connection, from, to, *overwrite).await
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
            copy(
                connection, org, from, to, *recursive, *overwrite, author, *at,
            )
            .await
        }
        Mutation::RestoreVersion {
            org,
            path,
            version,
            author,
            at,
        } => {
            owned_by(org, path)?;
            restore(connection, org, path, *version, author, *at).await
        }
        Mutation::SetVersionPolicy { org, policy, at } => {
            set_policy(connection, org, *policy, *at).await
        }
        Mutation::WriteRelationships { batch } => {
            super::relationship::write_batch(connection, batch).await?;
            Ok(Applied::default())
        }
        Mutation::SetAuthorizationSchema { source, revision } => {
            super::relationship::set_schema(connection, source, *revision).await?;
            Ok(Applied::default())
        }
        Mutation::RegisterPrincipal { principal } => {
            super::accounts::register(connection, principal).await?;
            Ok(Applied::default())
        }
        Mutation::CreateApiKey { key } => {
            super::accounts::create_key(connection, key).await?;
            Ok(Applied::default())
        }
        Mutation::RevokeApiKey { id, at } => {
            super::accounts::revoke_key(connection, id, *at).await?;
            Ok(Applied::default())
        }
    }
}

/// INVARIANT: a mutation only touches paths of its own organization (beneath `/orgs/<org>`).
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

async fn get(connection: &mut SqliteConnection, path: &VfsPath) -> Outcome<Option<Node>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE path = ?"
    ))
    .bind(path.as_str())
    .fetch_optional(&mut *connection)
    .await?;
    Ok(row.as_ref().map(node_from_row).transpose()?)
}

/// The nodes at `path` and at its parent, in one query.
async fn get_with_parent(
    connection: &mut SqliteConnection,
    path: &VfsPath,
    parent: &VfsPath,
) -> Outcome<(Option<Node>, Option<Node>)> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE path IN (?, ?)"
    ))
    .bind(path.as_str())
    .bind(parent.as_str())
    .fetch_all(&mut *connection)
    .await?;
    let (mut node, mut parent_node) = (None, None);
    for row in &rows {
        let found = node_from_row(row)?;
        if found.path == *path {
            node = Some(found);
        } else {
            parent_node = Some(found);
        }
    }
    Ok((node, parent_node))
}

/// Checks that the parent of `path` is a directory, creating missing ancestors when allowed.
async fn ensure_parent(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    create_parents: bool,
    author: &str,
    at: Timestamp,
    changed: &mut Vec<VfsPath>,
) -> Outcome<()> {
    let mut missing = Vec::new();
    for ancestor in path.ancestors() {
        if ancestor.is_fixed() {
            break;
        }
        match get(connection, &ancestor).await? {
            Some(node) if node.is_dir() => break,
            Some(_) => return Err(Rejection::NotADirectory { path: ancestor }.into()),
            None if create_parents => missing.push(ancestor),
            None => return Err(Rejection::ParentNotFound { parent: ancestor }.into()),
        }
    }
    for directory in missing.into_iter().rev() {
        insert_node(
            connection,
            org,
            &directory,
            NodeKind::Directory,
            None,
            author,
            at,
        )
        .await?;
        changed.push(directory);
    }
    Ok(())
}

async fn insert_node(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    kind: NodeKind,
    blob: Option<&BlobRef>,
    author: &str,
    at: Timestamp,
) -> Outcome<Node> {
    let parent = path.parent().unwrap_or_else(VfsPath::root);
    let size = blob.map_or(0, |blob| blob.size);
    let version: u64 = u64::from(blob.is_some());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO nodes (org, path, parent, kind, size, hash, version, created_at, modified_at, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(org.as_str())
    .bind(path.as_str())
    .bind(parent.as_str())
    .bind(kind.code())
    .bind(to_i64(size)?)
    .bind(blob.map(|blob| blob.hash.0.to_vec()))
    .bind(to_i64(version)?)
    .bind(at.as_micros())
    .bind(at.as_micros())
    .bind(author)
    .fetch_one(&mut *connection)
    .await?;
    if let Some(blob) = blob {
        insert_version(connection, id, 1, blob, author, at).await?;
    }
    Ok(Node {
        id,
        org: Some(org.clone()),
        path: path.clone(),
        kind,
        size,
        hash: blob.map(|blob| blob.hash),
        version,
        created_at: at,
        modified_at: at,
        author: author.to_owned(),
    })
}

async fn insert_version(
    connection: &mut SqliteConnection,
    file_id: i64,
    version: u64,
    blob: &BlobRef,
    author: &str,
    at: Timestamp,
) -> Outcome<()> {
    sqlx::query(
        "INSERT INTO versions (file_id, version, org, hash, size, created_at, author) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(file_id)
    .bind(to_i64(version)?)
    .bind(blob.org.as_str())
    .bind(blob.hash.0.as_slice())
    .bind(to_i64(blob.size)?)
    .bind(at.as_micros())
    .bind(author)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Deletes every version of one file; the `versions_release_blob` trigger releases the
/// blob references.
async fn drop_file_versions(connection: &mut SqliteConnection, file_id: i64) -> Outcome<()> {
    sqlx::query("DELETE FROM versions WHERE file_id = ?")
        .bind(file_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Deletes every version of every file in the key range `[low, high)`.
async fn drop_subtree_versions(
    connection: &mut SqliteConnection,
    low: &str,
    high: &str,
) -> Outcome<()> {
    sqlx::query(
        "DELETE FROM versions WHERE file_id IN (SELECT id FROM nodes WHERE path > ? AND path < ?)",
    )
    .bind(low)
    .bind(high)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn policy(connection: &mut SqliteConnection, org: &OrgId) -> Outcome<VersionPolicy> {
    let row = sqlx::query("SELECT keep_last, keep_days FROM version_policies WHERE org = ?")
        .bind(org.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    Ok(policy_from_row(row.as_ref())?)
}

/// Drops old versions of one file that `policy` no longer keeps. The current one stays.
async fn prune(
    connection: &mut SqliteConnection,
    file_id: i64,
    current: u64,
    policy: VersionPolicy,
    at: Timestamp,
) -> Outcome<()> {
    if policy.keep_last.is_none() && policy.keep_days.is_none() {
        return Ok(());
    }
    let keep_last = policy
        .keep_last
        .map_or(i64::MAX, |keep| i64::from(keep.max(1)));
    let cutoff = policy.keep_days.map_or(i64::MIN, |days| {
        at.minus(Duration::from_micros(u64::from(days) * MICROS_PER_DAY))
            .as_micros()
    });
    sqlx::query(
        "DELETE FROM versions WHERE file_id = ?1 AND version <> ?2 AND (created_at < ?4 OR version IN (SELECT version FROM versions WHERE file_id = ?1 ORDER BY version DESC LIMIT -1 OFFSET ?3))",
    )
    .bind(file_id)
    .bind(to_i64(current)?)
    .bind(keep_last)
    .bind(cutoff)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Adds a new current version with `blob` to an existing file.
async fn add_version(
    connection: &mut SqliteConnection,
    org: &OrgId,
    file: &Node,
    blob: &BlobRef,
    author: &str,
    at: Timestamp,
) -> Outcome<Node> {
    let version = file.version + 1;
    insert_version(connection, file.id, version, blob, author, at).await?;
    sqlx::query(
        "UPDATE nodes SET size = ?, hash = ?, version = ?, modified_at = ?, author = ? WHERE id = ?",
    )
    .bind(to_i64(blob.size)?)
    .bind(blob.hash.0.as_slice())
    .bind(to_i64(version)?)
    .bind(at.as_micros())
    .bind(author)
    .bind(file.id)
    .execute(&mut *connection)
    .await?;
    let policy = policy(connection, org).await?;
    prune(connection, file.id, version, policy, at).await?;
    Ok(Node {
        size: blob.size,
        hash: Some(blob.hash),
        version,
        modified_at: at,
        author: author.to_owned(),
        ..file.clone()
    })
}

#[expect(clippy::too_many_arguments, reason = "the fields of one mutation")]
async fn write_file(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    blob: &BlobRef,
    precondition: &Precondition,
    create_parents: bool,
    author: &str,
    at: Timestamp,
) -> Outcome<Applied> {
    if matches!(path.location(), Ok(nexus_path::Location::OrgRoot(_))) {
        return Err(Rejection::IsADirectory { path: path.clone() }.into());
    }
    let parent_path = path.parent().unwrap_or_else(VfsPath::root);
    let (existing, parent) = get_with_parent(connection, path, &parent_path).await?;
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
        add_version(connection, org, &file, blob, author, at).await?
    } else {
        if !parent.as_ref().is_some_and(Node::is_dir) {
            ensure_parent(
                connection,
                org,
                path,
                create_parents,
                author,
                at,
                &mut changed,
            )
            .await?;
        }
        insert_node(
            connection,
            org,
            path,
            NodeKind::File,
            Some(blob),
            author,
            at,
        )
        .await?
    };
    Ok(Applied {
        node: Some(node),
        changed,
        ..Applied::default()
    })
}

async fn create_directory(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    parents: bool,
    author: &str,
    at: Timestamp,
) -> Outcome<Applied> {
    match get(connection, path).await? {
        Some(node) if node.is_dir() && parents => Ok(Applied {
            node: Some(node),
            ..Applied::default()
        }),
        Some(_) => Err(Rejection::AlreadyExists { path: path.clone() }.into()),
        None => {
            let mut changed = Vec::new();
            ensure_parent(connection, org, path, parents, author, at, &mut changed).await?;
            let node =
                insert_node(connection, org, path, NodeKind::Directory, None, author, at).await?;
            changed.push(path.clone());
            Ok(Applied {
                node: Some(node),
                changed,
                ..Applied::default()
            })
        }
    }
}

async fn has_children(connection: &mut SqliteConnection, path: &VfsPath) -> Outcome<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM nodes WHERE parent = ? LIMIT 1")
        .bind(path.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    Ok(found.is_some())
}

/// Deletes a node and, for a directory, everything beneath it. Returns the number removed.
async fn delete_tree(connection: &mut SqliteConnection, node: &Node) -> Outcome<u64> {
    let mut removed = 0;
    if node.is_dir() {
        let (low, high) = subtree_range(&node.path);
        drop_subtree_versions(connection, &low, &high).await?;
        let result = sqlx::query("DELETE FROM nodes WHERE path > ? AND path < ?")
            .bind(&low)
            .bind(&high)
            .execute(&mut *connection)
            .await?;
        removed += result.rows_affected();
    } else {
        drop_file_versions(connection, node.id).await?;
    }
    sqlx::query("DELETE FROM nodes WHERE id = ?")
        .bind(node.id)
        .execute(&mut *connection)
        .await?;
    Ok(removed + 1)
}

async fn remove(
    connection: &mut SqliteConnection,
    path: &VfsPath,
    recursive: bool,
    if_match: Option<&str>,
) -> Outcome<Applied> {
    let node = get(connection, path)
        .await?
        .ok_or_else(|| Rejection::NotFound { path: path.clone() })?;
    if let Some(expected) = if_match
        && node.etag() != expected
    {
        return Err(Rejection::PreconditionFailed {
            path: path.clone(),
            current_etag: Some(node.etag()),
        }
        .into());
    }
    if node.is_dir() && !recursive && has_children(connection, path).await? {
        return Err(Rejection::DirectoryNotEmpty { path: path.clone() }.into());
    }
    let removed = delete_tree(connection, &node).await?;
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
async fn check_rebased_length(
    connection: &mut SqliteConnection,
    from: &VfsPath,
    to: &VfsPath,
) -> Outcome<()> {
    let (low, high) = subtree_range(from);
    let longest: Option<i64> = sqlx::query_scalar(
        "SELECT max(length(CAST(path AS BLOB))) FROM nodes WHERE path > ? AND path < ?",
    )
    .bind(&low)
    .bind(&high)
    .fetch_one(&mut *connection)
    .await?;
    let longest = usize::try_from(longest.unwrap_or(0)).unwrap_or(usize::MAX);
    let rebased = (longest + to.as_str().len()).saturating_sub(from.as_str().len());
    if rebased > MAX_PATH_BYTES {
        return Err(Rejection::PathTooLong { path: to.clone() }.into());
    }
    Ok(())
}

/// Resolves what is at the destination of a move or copy, removing a file being replaced.
/// Returns an error when the destination is taken and may not be replaced.
async fn prepare_destination(
    connection: &mut SqliteConnection,
    source: &Node,
    to: &VfsPath,
    overwrite: bool,
) -> Outcome<Option<Node>> {
    let Some(existing) = get(connection, to).await? else {
        let parent = to.parent().unwrap_or_else(VfsPath::root);
        if !parent.is_fixed() {
            match get(connection, &parent).await? {
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

async fn move_node(
    connection: &mut SqliteConnection,
    from: &VfsPath,
    to: &VfsPath,
    overwrite: bool,
) -> Outcome<Applied> {
    let source = get(connection, from)
        .await?
        .ok_or_else(|| Rejection::NotFound { path: from.clone() })?;
    if from == to {
        return Ok(Applied {
            node: Some(source),
            ..Applied::default()
        });
    }
    if to.starts_with(from) {
        return Err(Rejection::IntoItself {
            from: from.clone(),
            to: to.clone(),
        }
        .into());
    }
    if let Some(replaced) = prepare_destination(connection, &source, to, overwrite).await? {
        delete_tree(connection, &replaced).await?;
    }
    let mut changed_subtrees = Vec::new();
    if source.is_dir() {
        check_rebased_length(connection, from, to).await?;
        let (low, high) = subtree_range(from);
        sqlx::query(
            "UPDATE nodes SET path = ?1 || substr(path, length(?2) + 1), parent = ?1 || substr(parent, length(?2) + 1) WHERE path > ?3 AND path < ?4",
        )
        .bind(to.as_str())
        .bind(from.as_str())
        .bind(&low)
        .bind(&high)
        .execute(&mut *connection)
        .await?;
        changed_subtrees = vec![from.clone(), to.clone()];
    }
    let parent = to.parent().unwrap_or_else(VfsPath::root);
    sqlx::query("UPDATE nodes SET path = ?, parent = ? WHERE id = ?")
        .bind(to.as_str())
        .bind(parent.as_str())
        .bind(source.id)
        .execute(&mut *connection)
        .await?;
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

#[expect(clippy::too_many_arguments, reason = "the fields of one mutation")]
async fn copy(
    connection: &mut SqliteConnection,
    org: &OrgId,
    from: &VfsPath,
    to: &VfsPath,
    recursive: bool,
    overwrite: bool,
    author: &str,
    at: Timestamp,
) -> Outcome<Applied> {
    let source = get(connection, from)
        .await?
        .ok_or_else(|| Rejection::NotFound { path: from.clone() })?;
    if to.starts_with(from) {
        return Err(Rejection::IntoItself {
            from: from.clone(),
            to: to.clone(),
        }
        .into());
    }
    if source.is_dir() && !recursive {
        return Err(Rejection::IsADirectory { path: from.clone() }.into());
    }
    let replaced = prepare_destination(connection, &source, to, overwrite).await?;
    if let Some(existing) = replaced {
        let node = add_version(
            connection,
            org,
            &existing,
            &blob_of(org, &source)?,
            author,
            at,
        )
        .await?;
        return Ok(Applied {
            node: Some(node),
            changed: vec![to.clone()],
            ..Applied::default()
        });
    }
    if !source.is_dir() {
        let blob = blob_of(org, &source)?;
        let node =
            insert_node(connection, org, to, NodeKind::File, Some(&blob), author, at).await?;
        return Ok(Applied {
            node: Some(node),
            changed: vec![to.clone()],
            ..Applied::default()
        });
    }
    check_rebased_length(connection, from, to).await?;
    let root = insert_node(connection, org, to, NodeKind::Directory, None, author, at).await?;
    let (low, high) = subtree_range(from);
    let rows = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE path > ? AND path < ? ORDER BY path"
    ))
    .bind(&low)
    .bind(&high)
    .fetch_all(&mut *connection)
    .await?;
    // Parents sort before their children ('/' is the smallest character a name can follow
    // its parent with), so every copied node finds its parent already in place.
    let mut nodes: Vec<Node> = rows.iter().map(node_from_row).collect::<Result<_, _>>()?;
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
            Some(blob_of(org, &node)?)
        };
        insert_node(
            connection,
            org,
            &target,
            node.kind,
            blob.as_ref(),
            author,
            at,
        )
        .await?;
    }
    Ok(Applied {
        node: Some(root),
        changed: vec![to.clone()],
        changed_subtrees: vec![to.clone()],
        ..Applied::default()
    })
}

async fn restore(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    version: u64,
    author: &str,
    at: Timestamp,
) -> Outcome<Applied> {
    let file = get(connection, path)
        .await?
        .ok_or_else(|| Rejection::NotFound { path: path.clone() })?;
    if file.is_dir() {
        return Err(Rejection::IsADirectory { path: path.clone() }.into());
    }
    let row = sqlx::query("SELECT hash, size FROM versions WHERE file_id = ? AND version = ?")
        .bind(file.id)
        .bind(to_i64(version)?)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| Rejection::VersionNotFound {
            path: path.clone(),
            version,
        })?;
    let hash: Vec<u8> = row.try_get("hash")?;
    let blob = BlobRef {
        org: org.clone(),
        hash: super::hash_from_bytes(&hash)?,
        size: to_u64(row.try_get("size")?)?,
    };
    let node = add_version(connection, org, &file, &blob, author, at).await?;
    Ok(Applied {
        node: Some(node),
        changed: vec![path.clone()],
        ..Applied::default()
    })
}

async fn set_policy(
    connection: &mut SqliteConnection,
    org: &OrgId,
    policy: VersionPolicy,
    at: Timestamp,
) -> Outcome<Applied> {
    sqlx::query(
        "INSERT INTO version_policies (org, keep_last, keep_days) VALUES (?, ?, ?) ON CONFLICT (org) DO UPDATE SET keep_last = excluded.keep_last, keep_days = excluded.keep_days",
    )
    .bind(org.as_str())
    .bind(policy.keep_last.map(|n| i64::from(n.max(1))))
    .bind(policy.keep_days.map(i64::from))
    .execute(&mut *connection)
    .await?;
    let files: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, version FROM nodes WHERE org = ? AND kind = 2")
            .bind(org.as_str())
            .fetch_all(&mut *connection)
            .await?;
    for (file_id, version) in files {
        prune(connection, file_id, to_u64(version)?, policy, at).await?;
    }
    Ok(Applied::default())
}
