//! The PostgreSQL backend's [`Rows`]: the statements the rules in [`nexus_store::rules`] run
//! inside one write transaction. No rule lives here. Blob references are counted by the
//! statements that add and remove versions, in the same statement or transaction.

use std::borrow::Cow;

use async_trait::async_trait;
use nexus_path::{OrgId, VfsPath};
use nexus_store::codec::{
    StoredChange, TOUCH, change_log_parts, hash_from_bytes, org_from_text, subtree_range, to_i64,
    to_u64,
};
use nexus_store::rules::{Failure, NewNode, Rows};
use nexus_store::{
    ApiKeyRecord, Applied, AuditRecord, BlobRef, ChangeRecord, ContentHash, LockerKeyRecord,
    Mutation, Node, NotificationRecord, PrincipalRecord, Rejection, RelationshipBatch, StoreError,
    Timestamp, VersionPolicy,
};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use crate::read::{node_columns, node_from_row, policy_from_row};

/// The database's clock in microseconds since the epoch (when a blob lost its last
/// reference: every node compares it with the same clock).
pub(crate) const NOW_MICROS: &str =
    "CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS BIGINT)";

/// Audit entries per statement (11 bound values each: 11,000, far below the protocol's
/// 65,535).
const ENTRIES_PER_STATEMENT: usize = 1000;

/// Makes the transaction the only writer until it ends: bumps the commit counter, whose row
/// lock every writing transaction of every node takes first. Returns the commit number.
pub(crate) async fn take_write_turn(connection: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE write_state SET commits = commits + 1 WHERE id = 1 RETURNING commits",
    )
    .fetch_one(&mut *connection)
    .await?)
}

/// Applies one mutation on `connection`, inside the caller's savepoint.
pub(crate) async fn apply(
    connection: &mut PgConnection,
    mutation: &Mutation,
) -> Result<Applied, Failure> {
    nexus_store::rules::apply(&mut PgRows { connection }, mutation).await
}

/// Records what an applied group did in the change feed, on `connection`.
pub(crate) async fn record_group(
    connection: &mut PgConnection,
    group: &[Mutation],
    applied: &[Applied],
) -> Result<(), Failure> {
    nexus_store::rules::record_group(&mut PgRows { connection }, group, applied).await
}

/// Forgets up to `limit` blobs unreferenced since before `cutoff` (call in the write turn).
pub(crate) async fn collect_unreferenced(
    connection: &mut PgConnection,
    cutoff: Timestamp,
    limit: usize,
) -> Result<Vec<(OrgId, ContentHash)>, StoreError> {
    let rows = sqlx::query(
        "DELETE FROM blobs WHERE (org, hash) IN (SELECT org, hash FROM blobs WHERE refcount = 0 AND unreferenced_since <= $1 LIMIT $2) RETURNING org, hash",
    )
    .bind(cutoff.as_micros())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            let org: String = row.try_get("org")?;
            let hash: Vec<u8> = row.try_get("hash")?;
            Ok((org_from_text(&org)?, hash_from_bytes(&hash)?))
        })
        .collect()
}

/// One PostgreSQL transaction (or savepoint) as [`Rows`].
struct PgRows<'c> {
    connection: &'c mut PgConnection,
}

/// Deletes the versions `condition` selects (a `WHERE` clause over `versions`, binding
/// `$1`...) and releases their blobs in the same statement.
fn release_versions(condition: &str) -> String {
    format!(
        "WITH gone AS (DELETE FROM versions WHERE {condition} RETURNING org, hash),
              counted AS (SELECT org, hash, count(*) AS n FROM gone GROUP BY org, hash)
         UPDATE blobs SET refcount = blobs.refcount - counted.n,
                unreferenced_since = CASE WHEN blobs.refcount = counted.n THEN {NOW_MICROS}
                                          ELSE blobs.unreferenced_since END
         FROM counted WHERE blobs.org = counted.org AND blobs.hash = counted.hash"
    )
}

#[async_trait]
impl Rows for PgRows<'_> {
    async fn node(&mut self, path: &VfsPath) -> Result<Option<Node>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path = $1"
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
            " FROM nodes WHERE path IN ($1, $2)"
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
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM nodes WHERE parent = $1)")
                .bind(dir.as_str())
                .fetch_one(&mut *self.connection)
                .await?,
        )
    }

    async fn beneath(&mut self, dir: &VfsPath) -> Result<Vec<Node>, StoreError> {
        let (low, high) = subtree_range(dir);
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path > $1 AND path < $2"
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
            "SELECT CAST(max(octet_length(path)) AS BIGINT) FROM nodes WHERE path > $1 AND path < $2",
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
            "INSERT INTO nodes (org, path, parent, kind, size, hash, version, created_at, modified_at, author) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
        )
        .bind(node.org.as_str())
        .bind(node.path.as_str())
        .bind(parent.as_str())
        .bind(node.kind.code())
        .bind(to_i64(size)?)
        .bind(node.blob.map(|blob| blob.hash.0.to_vec()))
        .bind(to_i64(version)?)
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
            "UPDATE nodes SET size = $1, hash = $2, version = $3, modified_at = $4, author = $5 WHERE id = $6",
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
        let row =
            sqlx::query("SELECT hash, size FROM versions WHERE file_id = $1 AND version = $2")
                .bind(file.id)
                .bind(to_i64(version)?)
                .fetch_optional(&mut *self.connection)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let hash: Vec<u8> = row.try_get("hash")?;
        Ok(Some((
            hash_from_bytes(&hash)?,
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
        sqlx::query(sqlx::AssertSqlSafe(release_versions(
            "file_id = $1 AND version <> $2 AND (created_at < $4 OR version IN (SELECT version FROM versions WHERE file_id = $1 ORDER BY version DESC OFFSET $3))",
        )))
        .bind(file_id)
        .bind(to_i64(current)?)
        .bind(keep_last.map_or(i64::MAX, i64::from))
        .bind(created_before.map_or(i64::MIN, Timestamp::as_micros))
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }

    async fn version_policy(&mut self, org: &OrgId) -> Result<VersionPolicy, StoreError> {
        let row = sqlx::query("SELECT keep_last, keep_days FROM version_policies WHERE org = $1")
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
            "INSERT INTO version_policies (org, keep_last, keep_days) VALUES ($1, $2, $3) ON CONFLICT (org) DO UPDATE SET keep_last = excluded.keep_last, keep_days = excluded.keep_days",
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
            sqlx::query_as("SELECT id, version FROM nodes WHERE org = $1 AND kind = 2")
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
        if node.is_dir() {
            let (low, high) = subtree_range(&node.path);
            sqlx::query(sqlx::AssertSqlSafe(release_versions(
                "file_id IN (SELECT id FROM nodes WHERE path > $1 AND path < $2)",
            )))
            .bind(&low)
            .bind(&high)
            .execute(&mut *self.connection)
            .await?;
            let result = sqlx::query("DELETE FROM nodes WHERE path > $1 AND path < $2")
                .bind(&low)
                .bind(&high)
                .execute(&mut *self.connection)
                .await?;
            removed += result.rows_affected();
        } else {
            sqlx::query(sqlx::AssertSqlSafe(release_versions("file_id = $1")))
                .bind(node.id)
                .execute(&mut *self.connection)
                .await?;
        }
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node.id)
            .execute(&mut *self.connection)
            .await?;
        Ok(removed + 1)
    }

    async fn rename(&mut self, node: &Node, to: &VfsPath) -> Result<(), StoreError> {
        if node.is_dir() {
            let (low, high) = subtree_range(&node.path);
            sqlx::query(
                "UPDATE nodes SET path = $1 || substr(path, char_length($2) + 1), parent = $1 || substr(parent, char_length($2) + 1) WHERE path > $3 AND path < $4",
            )
            .bind(to.as_str())
            .bind(node.path.as_str())
            .bind(&low)
            .bind(&high)
            .execute(&mut *self.connection)
            .await?;
        }
        let parent = to.parent().unwrap_or_else(VfsPath::root);
        sqlx::query("UPDATE nodes SET path = $1, parent = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(parent.as_str())
            .bind(node.id)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn write_relationships(&mut self, batch: &RelationshipBatch) -> Result<(), Failure> {
        write_relationships(self.connection, batch).await
    }

    async fn set_authorization_schema(
        &mut self,
        source: &str,
        revision: u64,
    ) -> Result<(), Failure> {
        advance_revision(self.connection, revision).await?;
        sqlx::query("UPDATE authorization_state SET schema = $1 WHERE id = 1")
            .bind(source)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn register_principal(&mut self, principal: &PrincipalRecord) -> Result<(), Failure> {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM principals WHERE kind = $1 AND id = $2
             UNION ALL
             SELECT id FROM principals WHERE kind = $1 AND handle = $3
             LIMIT 1",
        )
        .bind(&principal.kind)
        .bind(&principal.id)
        .bind(&principal.handle)
        .fetch_optional(&mut *self.connection)
        .await?;
        if taken.is_some() {
            return Err(Rejection::AccountExists {
                what: format!(
                    "{} `{}` (handle `{}`)",
                    principal.kind, principal.id, principal.handle
                ),
            }
            .into());
        }
        sqlx::query(
            "INSERT INTO principals (kind, id, handle, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&principal.kind)
        .bind(&principal.id)
        .bind(&principal.handle)
        .bind(principal.created_at.as_micros())
        .execute(&mut *self.connection)
        .await?;
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn assign_stable_id(
        &mut self,
        kind: &str,
        handle: &str,
        id: &str,
    ) -> Result<(), Failure> {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM principals WHERE kind = $1 AND id = $2")
                .bind(kind)
                .bind(id)
                .fetch_optional(&mut *self.connection)
                .await?;
        if taken.is_some() {
            return Err(Rejection::AccountExists {
                what: format!("{kind} `{id}`"),
            }
            .into());
        }
        let changed = sqlx::query(
            "UPDATE principals SET id = $1 WHERE kind = $2 AND id = $3 AND handle = $3",
        )
        .bind(id)
        .bind(kind)
        .bind(handle)
        .execute(&mut *self.connection)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(Rejection::NoSuchAccount {
                what: format!("{kind} registered as `{handle}` without a stable id"),
            }
            .into());
        }
        for statement in [
            "UPDATE api_keys SET principal = $1 WHERE principal = $2",
            "UPDATE api_keys SET on_behalf_of = $1 WHERE on_behalf_of = $2",
        ] {
            sqlx::query(statement)
                .bind(format!("{kind}:{id}"))
                .bind(format!("{kind}:{handle}"))
                .execute(&mut *self.connection)
                .await?;
        }
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn create_api_key(&mut self, key: &ApiKeyRecord) -> Result<(), Failure> {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM api_keys WHERE id = $1 OR hash = $2 LIMIT 1")
                .bind(&key.id)
                .bind(&key.hash)
                .fetch_optional(&mut *self.connection)
                .await?;
        if taken.is_some() {
            return Err(Rejection::AccountExists {
                what: format!("API key `{}`", key.id),
            }
            .into());
        }
        sqlx::query(
            "INSERT INTO api_keys
                 (id, hash, principal, description, created_at, revoked_at, on_behalf_of, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.id)
        .bind(&key.hash)
        .bind(&key.principal)
        .bind(&key.description)
        .bind(key.created_at.as_micros())
        .bind(key.revoked_at.map(Timestamp::as_micros))
        .bind(&key.on_behalf_of)
        .bind(key.expires_at.map(Timestamp::as_micros))
        .execute(&mut *self.connection)
        .await?;
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn revoke_api_key(&mut self, id: &str, at: Timestamp) -> Result<(), Failure> {
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at.as_micros())
            .bind(id)
            .execute(&mut *self.connection)
            .await?;
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn set_lockout(&mut self, kind: &str, id: &str, at: Timestamp) -> Result<(), Failure> {
        sqlx::query(
            "INSERT INTO lockouts (kind, id, at) VALUES ($1, $2, $3)
             ON CONFLICT (kind, id) DO UPDATE SET at = GREATEST(lockouts.at, excluded.at)",
        )
        .bind(kind)
        .bind(id)
        .bind(at.as_micros())
        .execute(&mut *self.connection)
        .await?;
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn append_audit(&mut self, entries: &[AuditRecord]) -> Result<(), Failure> {
        for chunk in entries.chunks(ENTRIES_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Postgres>::new(
                "INSERT INTO audit (org, at, actor, on_behalf_of, action, target, outcome, request_id, client, user_agent, detail) ",
            );
            insert.push_values(chunk, |mut row, entry| {
                row.push_bind(entry.org.as_ref().map_or("", |org| org.as_str()).to_owned())
                    .push_bind(entry.at.as_micros())
                    .push_bind(entry.actor.clone())
                    .push_bind(entry.on_behalf_of.clone())
                    .push_bind(entry.action.clone())
                    .push_bind(entry.target.clone())
                    .push_bind(entry.outcome.clone())
                    .push_bind(entry.request_id.clone())
                    .push_bind(entry.client.clone())
                    .push_bind(entry.user_agent.clone())
                    .push_bind(entry.detail.clone());
            });
            insert.build().execute(&mut *self.connection).await?;
        }
        Ok(())
    }

    async fn prune_audit(&mut self, before: Timestamp) -> Result<(), Failure> {
        sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(before.as_micros())
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn record_changes(&mut self, changes: &[ChangeRecord]) -> Result<(), Failure> {
        // One statement each: an organization's next number depends on the rows before it.
        for change in changes {
            sqlx::query(
                "INSERT INTO changes (org, revision, at, action, path, to_path, author)
                 VALUES ($1, (SELECT coalesce(max(revision), 0) + 1 FROM changes WHERE org = $1),
                         $2, $3, $4, $5, $6)",
            )
            .bind(change.org.as_str())
            .bind(change.at.as_micros())
            .bind(&change.action)
            .bind(change.path.as_str())
            .bind(change.to.as_ref().map(VfsPath::as_str))
            .bind(&change.author)
            .execute(&mut *self.connection)
            .await?;
        }
        Ok(())
    }

    async fn schedule_reminder(
        &mut self,
        org: &OrgId,
        path: &VfsPath,
        due: Option<Timestamp>,
    ) -> Result<(), Failure> {
        match due {
            Some(due) => {
                sqlx::query(
                    "INSERT INTO reminders (path, org, due) VALUES ($1, $2, $3)
                     ON CONFLICT (path) DO UPDATE SET org = excluded.org, due = excluded.due",
                )
                .bind(path.as_str())
                .bind(org.as_str())
                .bind(due.as_micros())
                .execute(&mut *self.connection)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE path = $1")
                    .bind(path.as_str())
                    .execute(&mut *self.connection)
                    .await?;
            }
        }
        Ok(())
    }

    async fn fire_reminder(
        &mut self,
        path: &VfsPath,
        due: Timestamp,
        next: Option<Timestamp>,
    ) -> Result<(), Failure> {
        let changed = match next {
            Some(next) => {
                sqlx::query("UPDATE reminders SET due = $1 WHERE path = $2 AND due = $3")
                    .bind(next.as_micros())
                    .bind(path.as_str())
                    .bind(due.as_micros())
                    .execute(&mut *self.connection)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE path = $1 AND due = $2")
                    .bind(path.as_str())
                    .bind(due.as_micros())
                    .execute(&mut *self.connection)
                    .await?
            }
        };
        if changed.rows_affected() == 0 {
            return Err(Rejection::ReminderMoved { path: path.clone() }.into());
        }
        Ok(())
    }

    async fn add_notifications(
        &mut self,
        notifications: &[NotificationRecord],
    ) -> Result<(), Failure> {
        // One statement each: a recipient's next number depends on the rows before it.
        for notification in notifications {
            sqlx::query(
                "INSERT INTO notifications (recipient, id, org, kind, title, item_key, created_at)
                 VALUES ($1, (SELECT coalesce(max(id), 0) + 1 FROM notifications WHERE recipient = $1),
                         $2, $3, $4, $5, $6)",
            )
            .bind(&notification.recipient)
            .bind(notification.org.as_ref().map_or("", |org| org.as_str()))
            .bind(&notification.kind)
            .bind(&notification.title)
            .bind(&notification.item_key)
            .bind(notification.created_at.as_micros())
            .execute(&mut *self.connection)
            .await?;
        }
        Ok(())
    }

    async fn mark_notification_read(
        &mut self,
        recipient: &str,
        id: u64,
        at: Timestamp,
    ) -> Result<(), Failure> {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE recipient = $1 AND id = $2)",
        )
        .bind(recipient)
        .bind(to_i64(id)?)
        .fetch_one(&mut *self.connection)
        .await?;
        if !found {
            return Err(Rejection::NoSuchNotification { id }.into());
        }
        sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE recipient = $2 AND id = $3 AND read_at IS NULL",
        )
        .bind(at.as_micros())
        .bind(recipient)
        .bind(to_i64(id)?)
        .execute(&mut *self.connection)
        .await?;
        Ok(())
    }

    async fn create_locker_key(&mut self, key: &LockerKeyRecord) -> Result<(), Failure> {
        let inserted = sqlx::query(
            "INSERT INTO locker_keys (org, master_id, wrapped, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org) DO NOTHING",
        )
        .bind(key.org.as_str())
        .bind(&key.master_id)
        .bind(&key.wrapped)
        .bind(key.created_at.as_micros())
        .execute(&mut *self.connection)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Rejection::LockerKey {
                org: key.org.to_string(),
                problem: "exists already".to_owned(),
            }
            .into());
        }
        accounts_changed(self.connection).await?;
        Ok(())
    }

    async fn complete_task(&mut self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_tasks WHERE name = $1")
            .bind(name)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn forget_org(&mut self, org: &OrgId) -> Result<(), StoreError> {
        for statement in [
            "DELETE FROM reminders WHERE org = $1",
            "DELETE FROM locker_keys WHERE org = $1",
            "DELETE FROM version_policies WHERE org = $1",
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
        let changed = sqlx::query(
            "UPDATE locker_keys SET master_id = $1, wrapped = $2 WHERE org = $3 AND master_id = $4",
        )
        .bind(master_id)
        .bind(wrapped)
        .bind(org.as_str())
        .bind(from)
        .execute(&mut *self.connection)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(Rejection::LockerKey {
                org: org.to_string(),
                problem: format!("is not wrapped by master key `{from}`"),
            }
            .into());
        }
        accounts_changed(self.connection).await?;
        Ok(())
    }
}

impl PgRows<'_> {
    /// Adds a version, counting its reference to the blob (the blob's row is created with
    /// its first reference).
    async fn insert_version(
        &mut self,
        file_id: i64,
        version: u64,
        blob: &BlobRef,
        author: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blobs (org, hash, size, refcount, unreferenced_since) VALUES ($1, $2, $3, 1, NULL)
             ON CONFLICT (org, hash) DO UPDATE SET refcount = blobs.refcount + 1, unreferenced_since = NULL",
        )
        .bind(blob.org.as_str())
        .bind(blob.hash.0.as_slice())
        .bind(to_i64(blob.size)?)
        .execute(&mut *self.connection)
        .await?;
        sqlx::query(
            "INSERT INTO versions (file_id, version, org, hash, size, created_at, author) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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

/// Counts a change of principals, API keys, lockouts or locker keys (see
/// `MetadataStore::accounts_version`); the transaction holds the write turn's row already.
async fn accounts_changed(connection: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE write_state SET accounts = accounts + 1 WHERE id = 1")
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Checks that `revision` follows the stored one and records it.
async fn advance_revision(connection: &mut PgConnection, revision: u64) -> Result<(), Failure> {
    let stored: i64 = sqlx::query_scalar("SELECT revision FROM authorization_state WHERE id = 1")
        .fetch_one(&mut *connection)
        .await?;
    let stored = to_u64(stored)?;
    if revision != stored + 1 {
        return Err(Rejection::RevisionConflict {
            stored,
            attempted: revision,
        }
        .into());
    }
    sqlx::query("UPDATE authorization_state SET revision = $1 WHERE id = 1")
        .bind(to_i64(revision)?)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Applies a relationship batch: the same result as applying its changes one by one in
/// order. Consecutive changes with the same operation go in one statement over arrays (the
/// last change of a key within such a run wins, as it would sequentially); the change log
/// gets the batch in order.
async fn write_relationships(
    connection: &mut PgConnection,
    batch: &RelationshipBatch,
) -> Result<(), Failure> {
    advance_revision(connection, batch.revision).await?;
    let revision = to_i64(batch.revision)?;
    let stored: Vec<StoredChange<'_>> = batch.changes.iter().map(StoredChange::new).collect();
    for run in stored.chunk_by(|a, b| a.op == b.op) {
        // Keep the last change of each key (one statement may not touch a row twice).
        let mut keyed: Vec<(String, &StoredChange<'_>)> = run
            .iter()
            .map(|row| Ok((row.stored_key()?, row)))
            .collect::<Result<_, Rejection>>()?;
        keyed.reverse();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|later, earlier| later.0 == earlier.0);
        let Some((_, first)) = keyed.first() else {
            continue;
        };
        let keys: Vec<String> = keyed.iter().map(|(key, _)| key.clone()).collect();
        if first.op == TOUCH {
            let orgs: Vec<String> = keyed.iter().map(|(_, row)| row.org.to_string()).collect();
            let caveats: Vec<Option<String>> = keyed
                .iter()
                .map(|(_, row)| row.caveat.clone().map(Cow::into_owned))
                .collect();
            let contexts: Vec<Option<String>> =
                keyed.iter().map(|(_, row)| row.context_text()).collect();
            let expires: Vec<Option<i64>> = keyed.iter().map(|(_, row)| row.expires).collect();
            sqlx::query(
                "INSERT INTO relationships (key, org, caveat_name, caveat_context, expires_at, revision)
                 SELECT key, org, caveat_name, caveat_context, expires_at, $6
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[])
                      AS batch (key, org, caveat_name, caveat_context, expires_at)
                 ON CONFLICT (key) DO UPDATE SET org = excluded.org, caveat_name = excluded.caveat_name,
                     caveat_context = excluded.caveat_context, expires_at = excluded.expires_at,
                     revision = excluded.revision",
            )
            .bind(&keys)
            .bind(&orgs)
            .bind(&caveats)
            .bind(&contexts)
            .bind(&expires)
            .bind(revision)
            .execute(&mut *connection)
            .await?;
        } else {
            sqlx::query("DELETE FROM relationships WHERE key = ANY($1::text[])")
                .bind(&keys)
                .execute(&mut *connection)
                .await?;
        }
    }
    for (part, text) in change_log_parts(&stored)?.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO relationship_change_parts (revision, part, changes) VALUES ($1, $2, $3)",
        )
        .bind(revision)
        .bind(i64::try_from(part).unwrap_or(i64::MAX))
        .bind(text)
        .execute(&mut *connection)
        .await?;
    }
    // Each organization the batch touched was last changed at this revision.
    let mut orgs: Vec<&str> = batch
        .changes
        .iter()
        .filter_map(|change| change.org.as_ref().map(OrgId::as_str))
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    if !orgs.is_empty() {
        sqlx::query(
            "INSERT INTO org_revisions (org, revision) SELECT org, $2 FROM UNNEST($1::text[]) AS batch (org)
             ON CONFLICT (org) DO UPDATE SET revision = excluded.revision",
        )
        .bind(&orgs)
        .bind(revision)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
