//! The SQLite backend's [`Rows`]: the statements the rules in [`crate::rules`] run inside
//! the committer's transaction. No rule lives here; blob references are counted by the
//! `versions_*` triggers of the schema.

use async_trait::async_trait;
use nexus_path::{OrgId, VfsPath};
use sqlx::{Row, SqliteConnection};

use super::{node_columns, node_from_row, policy_from_row, subtree_range, to_i64, to_u64};
use crate::error::StoreError;
use crate::meta::{
    ApiKeyRecord, Applied, AuditRecord, ChangeRecord, LockerKeyRecord, Mutation,
    NotificationRecord, PrincipalRecord, RelationshipBatch,
};
pub(super) use crate::rules::Failure;
use crate::rules::{NewNode, Rows};
use crate::types::{BlobRef, ContentHash, Node, Timestamp, VersionPolicy};

/// Applies one mutation on `connection`, inside the caller's savepoint.
pub(super) async fn apply(
    connection: &mut SqliteConnection,
    mutation: &Mutation,
) -> Result<Applied, Failure> {
    crate::rules::apply(&mut SqliteRows { connection }, mutation).await
}

/// Records what an applied group did in the change feed, on `connection`.
pub(super) async fn record_group(
    connection: &mut SqliteConnection,
    group: &[Mutation],
    applied: &[Applied],
) -> Result<(), Failure> {
    crate::rules::record_group(&mut SqliteRows { connection }, group, applied).await
}

/// One SQLite transaction (or savepoint) as [`Rows`].
struct SqliteRows<'c> {
    connection: &'c mut SqliteConnection,
}

#[async_trait]
impl Rows for SqliteRows<'_> {
    async fn node(&mut self, path: &VfsPath) -> Result<Option<Node>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path = ?"
        ))
        .bind(path.as_str())
        .fetch_optional(&mut *self.connection)
        .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    async fn node_and_parent(
        &mut self,
        path: &VfsPath,
        parent: &VfsPath,
    ) -> Result<(Option<Node>, Option<Node>), StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path IN (?, ?)"
        ))
        .bind(path.as_str())
        .bind(parent.as_str())
        .fetch_all(&mut *self.connection)
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

    async fn has_children(&mut self, dir: &VfsPath) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM nodes WHERE parent = ? LIMIT 1")
            .bind(dir.as_str())
            .fetch_optional(&mut *self.connection)
            .await?;
        Ok(found.is_some())
    }

    async fn beneath(&mut self, dir: &VfsPath) -> Result<Vec<Node>, StoreError> {
        let (low, high) = subtree_range(dir);
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path > ? AND path < ?"
        ))
        .bind(&low)
        .bind(&high)
        .fetch_all(&mut *self.connection)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn longest_path_beneath(&mut self, dir: &VfsPath) -> Result<usize, StoreError> {
        let (low, high) = subtree_range(dir);
        let longest: Option<i64> = sqlx::query_scalar(
            "SELECT max(length(CAST(path AS BLOB))) FROM nodes WHERE path > ? AND path < ?",
        )
        .bind(&low)
        .bind(&high)
        .fetch_one(&mut *self.connection)
        .await?;
        Ok(usize::try_from(longest.unwrap_or(0)).unwrap_or(usize::MAX))
    }

    async fn insert_node(&mut self, node: NewNode<'_>) -> Result<Node, StoreError> {
        let parent = node.path.parent().unwrap_or_else(VfsPath::root);
        let size = node.blob.map_or(0, |blob| blob.size);
        let version: u64 = u64::from(node.blob.is_some());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO nodes (org, path, parent, kind, size, hash, version, created_at, modified_at, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(node.org.as_str())
        .bind(node.path.as_str())
        .bind(parent.as_str())
        .bind(node.kind.code())
        .bind(to_i64(size)?)
        .bind(node.blob.map(|blob| blob.hash.0.to_vec()))
        .bind(to_i64(version)?)
        .bind(node.at.as_micros())
        .bind(node.at.as_micros())
        .bind(node.author)
        .fetch_one(&mut *self.connection)
        .await?;
        if let Some(blob) = node.blob {
            self.insert_version(id, 1, blob, node.author, node.at)
                .await?;
        }
        Ok(Node {
            id,
            org: Some(node.org.clone()),
            path: node.path.clone(),
            kind: node.kind,
            size,
            hash: node.blob.map(|blob| blob.hash),
            version,
            created_at: node.at,
            modified_at: node.at,
            author: node.author.to_owned(),
        })
    }

    async fn push_version(
        &mut self,
        file: &Node,
        version: u64,
        blob: &BlobRef,
        author: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.insert_version(file.id, version, blob, author, at)
            .await?;
        sqlx::query(
            "UPDATE nodes SET size = ?, hash = ?, version = ?, modified_at = ?, author = ? WHERE id = ?",
        )
        .bind(to_i64(blob.size)?)
        .bind(blob.hash.0.as_slice())
        .bind(to_i64(version)?)
        .bind(at.as_micros())
        .bind(author)
        .bind(file.id)
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }

    async fn version_content(
        &mut self,
        file: &Node,
        version: u64,
    ) -> Result<Option<(ContentHash, u64)>, StoreError> {
        let row = sqlx::query("SELECT hash, size FROM versions WHERE file_id = ? AND version = ?")
            .bind(file.id)
            .bind(to_i64(version)?)
            .fetch_optional(&mut *self.connection)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let hash: Vec<u8> = row.try_get("hash")?;
        Ok(Some((
            super::hash_from_bytes(&hash)?,
            to_u64(row.try_get("size")?)?,
        )))
    }

    async fn delete_versions(
        &mut self,
        file_id: i64,
        current: u64,
        keep_last: Option<u32>,
        created_before: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM versions WHERE file_id = ?1 AND version <> ?2 AND (created_at < ?4 OR version IN (SELECT version FROM versions WHERE file_id = ?1 ORDER BY version DESC LIMIT -1 OFFSET ?3))",
        )
        .bind(file_id)
        .bind(to_i64(current)?)
        .bind(keep_last.map_or(i64::MAX, i64::from))
        .bind(created_before.map_or(i64::MIN, Timestamp::as_micros))
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }

    async fn version_policy(&mut self, org: &OrgId) -> Result<VersionPolicy, StoreError> {
        let row = sqlx::query("SELECT keep_last, keep_days FROM version_policies WHERE org = ?")
            .bind(org.as_str())
            .fetch_optional(&mut *self.connection)
            .await?;
        policy_from_row(row.as_ref())
    }

    async fn store_version_policy(
        &mut self,
        org: &OrgId,
        policy: VersionPolicy,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO version_policies (org, keep_last, keep_days) VALUES (?, ?, ?) ON CONFLICT (org) DO UPDATE SET keep_last = excluded.keep_last, keep_days = excluded.keep_days",
        )
        .bind(org.as_str())
        .bind(policy.keep_last.map(i64::from))
        .bind(policy.keep_days.map(i64::from))
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }

    async fn files(&mut self, org: &OrgId) -> Result<Vec<(i64, u64)>, StoreError> {
        let files: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, version FROM nodes WHERE org = ? AND kind = 2")
                .bind(org.as_str())
                .fetch_all(&mut *self.connection)
                .await?;
        files
            .into_iter()
            .map(|(id, version)| Ok((id, to_u64(version)?)))
            .collect()
    }

    async fn delete_tree(&mut self, node: &Node) -> Result<u64, StoreError> {
        let mut removed = 0;
        // Deleting versions fires `versions_release_blob`, which releases the references.
        if node.is_dir() {
            let (low, high) = subtree_range(&node.path);
            sqlx::query(
                "DELETE FROM versions WHERE file_id IN (SELECT id FROM nodes WHERE path > ? AND path < ?)",
            )
            .bind(&low)
            .bind(&high)
            .execute(&mut *self.connection)
            .await?;
            let result = sqlx::query("DELETE FROM nodes WHERE path > ? AND path < ?")
                .bind(&low)
                .bind(&high)
                .execute(&mut *self.connection)
                .await?;
            removed += result.rows_affected();
        } else {
            sqlx::query("DELETE FROM versions WHERE file_id = ?")
                .bind(node.id)
                .execute(&mut *self.connection)
                .await?;
        }
        sqlx::query("DELETE FROM nodes WHERE id = ?")
            .bind(node.id)
            .execute(&mut *self.connection)
            .await?;
        Ok(removed + 1)
    }

    async fn rename(&mut self, node: &Node, to: &VfsPath) -> Result<(), StoreError> {
        if node.is_dir() {
            let (low, high) = subtree_range(&node.path);
            sqlx::query(
                "UPDATE nodes SET path = ?1 || substr(path, length(?2) + 1), parent = ?1 || substr(parent, length(?2) + 1) WHERE path > ?3 AND path < ?4",
            )
            .bind(to.as_str())
            .bind(node.path.as_str())
            .bind(&low)
            .bind(&high)
            .execute(&mut *self.connection)
            .await?;
        }
        let parent = to.parent().unwrap_or_else(VfsPath::root);
        sqlx::query("UPDATE nodes SET path = ?, parent = ? WHERE id = ?")
            .bind(to.as_str())
            .bind(parent.as_str())
            .bind(node.id)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn write_relationships(&mut self, batch: &RelationshipBatch) -> Result<(), Failure> {
        super::relationship::write_batch(self.connection, batch).await
    }

    async fn set_authorization_schema(
        &mut self,
        source: &str,
        revision: u64,
    ) -> Result<(), Failure> {
        super::relationship::set_schema(self.connection, source, revision).await
    }

    async fn register_principal(&mut self, principal: &PrincipalRecord) -> Result<(), Failure> {
        super::accounts::register(self.connection, principal).await
    }

    async fn assign_stable_id(
        &mut self,
        kind: &str,
        handle: &str,
        id: &str,
    ) -> Result<(), Failure> {
        super::accounts::assign_stable_id(self.connection, kind, handle, id).await
    }

    async fn create_api_key(&mut self, key: &ApiKeyRecord) -> Result<(), Failure> {
        super::accounts::create_key(self.connection, key).await
    }

    async fn revoke_api_key(&mut self, id: &str, at: Timestamp) -> Result<(), Failure> {
        super::accounts::revoke_key(self.connection, id, at).await
    }

    async fn set_lockout(&mut self, kind: &str, id: &str, at: Timestamp) -> Result<(), Failure> {
        super::accounts::set_lockout(self.connection, kind, id, at).await
    }

    async fn append_audit(&mut self, entries: &[AuditRecord]) -> Result<(), Failure> {
        super::audit::append(self.connection, entries).await
    }

    async fn prune_audit(&mut self, before: Timestamp) -> Result<(), Failure> {
        super::audit::prune(self.connection, before).await
    }

    async fn record_changes(&mut self, changes: &[ChangeRecord]) -> Result<(), Failure> {
        super::chrono::record_changes(self.connection, changes).await
    }

    async fn schedule_reminder(
        &mut self,
        org: &OrgId,
        path: &VfsPath,
        due: Option<Timestamp>,
    ) -> Result<(), Failure> {
        super::chrono::schedule(self.connection, org, path, due).await
    }

    async fn fire_reminder(
        &mut self,
        path: &VfsPath,
        due: Timestamp,
        next: Option<Timestamp>,
    ) -> Result<(), Failure> {
        super::chrono::fire(self.connection, path, due, next).await
    }

    async fn add_notifications(
        &mut self,
        notifications: &[NotificationRecord],
    ) -> Result<(), Failure> {
        super::chrono::add_notifications(self.connection, notifications).await
    }

    async fn mark_notification_read(
        &mut self,
        recipient: &str,
        id: u64,
        at: Timestamp,
    ) -> Result<(), Failure> {
        super::chrono::mark_read(self.connection, recipient, id, at).await
    }

    async fn create_locker_key(&mut self, key: &LockerKeyRecord) -> Result<(), Failure> {
        super::accounts::create_locker_key(self.connection, key).await
    }

    async fn complete_task(&mut self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_tasks WHERE name = ?")
            .bind(name)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn forget_org(&mut self, org: &OrgId) -> Result<(), StoreError> {
        for statement in [
            "DELETE FROM reminders WHERE org = ?",
            "DELETE FROM locker_keys WHERE org = ?",
            "DELETE FROM version_policies WHERE org = ?",
        ] {
            sqlx::query(statement)
                .bind(org.as_str())
                .execute(&mut *self.connection)
                .await?;
        }
        Ok(())
    }

    async fn rewrap_locker_key(
        &mut self,
        org: &OrgId,
        from: &str,
        master_id: &str,
        wrapped: &[u8],
    ) -> Result<(), Failure> {
        super::accounts::rewrap_locker_key(self.connection, org, from, master_id, wrapped).await
    }
}

impl SqliteRows<'_> {
    async fn insert_version(
        &mut self,
        file_id: i64,
        version: u64,
        blob: &BlobRef,
        author: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
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
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }
}
