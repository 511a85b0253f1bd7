//! [`MetadataStore`] on SQLite: WAL journal, `synchronous=FULL`, foreign keys on.
//!
//! One connection writes (owned by whoever calls [`MetadataStore::apply`], serialized by a
//! mutex); a small pool of read-only connections serves reads concurrently with it.

mod accounts;
mod audit;
mod chrono;
mod mutate;
mod relationship;
mod schema;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use nexus_path::{OrgId, VfsPath};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};

pub use schema::SCHEMA_VERSION;

use crate::error::{Rejection, StoreError};
use crate::meta::{
    Applied, AuthorizationSnapshot, BlobRow, MetadataCheck, MetadataStore, Mutation, RecordedChange,
};
use crate::types::{
    ContentHash, ListQuery, Node, NodeKind, Timestamp, VersionPolicy, VersionRecord,
};
use relationship::relationship_columns;

pub(crate) use crate::codec::{hash_from_bytes, org_from_text, subtree_range, to_i64, to_u64};

/// The columns [`node_from_row`] reads, in a form `concat!` accepts.
macro_rules! node_columns {
    () => {
        "id, org, path, kind, size, hash, version, created_at, modified_at, author"
    };
}
pub(crate) use node_columns;

/// The columns [`version_from_row`] reads.
macro_rules! version_columns {
    () => {
        "file_id, version, org, hash, size, created_at, author"
    };
}

const READ_CONNECTIONS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const READ_ROW_BUFFER: usize = 4096;

/// The writer's page cache, as SQLite's negative-means-KiB `cache_size` value (64 MiB).
const WRITER_CACHE_KIB: &str = "-65536";

/// Metadata in one SQLite database file.
#[derive(Debug)]
pub struct SqliteMetadataStore {
    readers: SqlitePool,
    /// The one writing connection; `None` once closed.
    writer: tokio::sync::Mutex<Option<SqliteConnection>>,
}

impl SqliteMetadataStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let writer_options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // The writer touches index pages all over the tree (bulk relationship imports,
            // large moves); SQLite's default 2 MiB page cache makes it reread them.
            .pragma("cache_size", WRITER_CACHE_KIB)
            // Statement journals (every multi-row upsert needs one) stay in memory instead of
            // going through a temporary file.
            .pragma("temp_store", "memory");
        let mut writer = SqliteConnection::connect_with(&writer_options).await?;
        schema::migrate(&mut writer).await?;
        let reader_options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Rows travel from SQLite's thread to the caller through a bounded channel; a
            // deep buffer lets a large listing stream without a thread handoff per row.
            .row_buffer_size(READ_ROW_BUFFER);
        let readers = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .min_connections(1)
            .connect_with(reader_options)
            .await?;
        Ok(SqliteMetadataStore {
            readers,
            writer: tokio::sync::Mutex::new(Some(writer)),
        })
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

pub(crate) fn node_from_row(row: &SqliteRow) -> Result<Node, StoreError> {
    let path: String = row.try_get("path")?;
    let kind: i64 = row.try_get("kind")?;
    let hash: Option<Vec<u8>> = row.try_get("hash")?;
    let org: String = row.try_get("org")?;
    Ok(Node {
        id: row.try_get("id")?,
        org: Some(org_from_text(&org)?),
        path: VfsPath::parse(&path).map_err(|error| invalid(error.to_string()))?,
        kind: NodeKind::from_code(kind).ok_or_else(|| invalid(format!("node kind {kind}")))?,
        size: to_u64(row.try_get("size")?)?,
        hash: hash.as_deref().map(hash_from_bytes).transpose()?,
        version: to_u64(row.try_get("version")?)?,
        created_at: Timestamp(row.try_get("created_at")?),
        modified_at: Timestamp(row.try_get("modified_at")?),
        author: row.try_get("author")?,
    })
}

pub(crate) fn version_from_row(row: &SqliteRow) -> Result<VersionRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("hash")?;
    let org: String = row.try_get("org")?;
    Ok(VersionRecord {
        file_id: row.try_get("file_id")?,
        version: to_u64(row.try_get("version")?)?,
        org: org_from_text(&org)?,
        hash: hash_from_bytes(&hash)?,
        size: to_u64(row.try_get("size")?)?,
        created_at: Timestamp(row.try_get("created_at")?),
        author: row.try_get("author")?,
    })
}

pub(crate) fn policy_from_row(row: Option<&SqliteRow>) -> Result<VersionPolicy, StoreError> {
    let Some(row) = row else {
        return Ok(VersionPolicy::DEFAULT);
    };
    let keep_last: Option<i64> = row.try_get("keep_last")?;
    let keep_days: Option<i64> = row.try_get("keep_days")?;
    let narrow =
        |value: i64| u32::try_from(value).map_err(|_| invalid(format!("policy value {value}")));
    Ok(VersionPolicy {
        keep_last: keep_last.map(narrow).transpose()?,
        keep_days: keep_days.map(narrow).transpose()?,
    })
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn node(&self, path: &VfsPath) -> Result<Option<Node>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path = ?"
        ))
        .bind(path.as_str())
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<Node>, StoreError> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let after = query.after.as_ref().map_or("", VfsPath::as_str);
        let rows = if query.recursive {
            let (low, high) = subtree_range(&query.dir);
            sqlx::query(concat!(
                "SELECT ",
                node_columns!(),
                " FROM nodes WHERE path > ?1 AND path < ?2 AND path > ?3 ORDER BY path LIMIT ?4"
            ))
            .bind(low)
            .bind(high)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.readers)
            .await?
        } else {
            sqlx::query(concat!(
                "SELECT ",
                node_columns!(),
                " FROM nodes WHERE parent = ?1 AND path > ?2 ORDER BY path LIMIT ?3"
            ))
            .bind(query.dir.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&self.readers)
            .await?
        };
        rows.iter().map(node_from_row).collect()
    }

    async fn versions(&self, file_id: i64) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM versions WHERE file_id = ? ORDER BY version DESC"
        ))
        .bind(file_id)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn version(
        &self,
        file_id: i64,
        version: u64,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            version_columns!(),
            " FROM versions WHERE file_id = ? AND version = ?"
        ))
        .bind(file_id)
        .bind(to_i64(version)?)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn version_policy(&self, org: &OrgId) -> Result<VersionPolicy, StoreError> {
        let row = sqlx::query("SELECT keep_last, keep_days FROM version_policies WHERE org = ?")
            .bind(org.as_str())
            .fetch_optional(&self.readers)
            .await?;
        policy_from_row(row.as_ref())
    }

    async fn apply(
        &self,
        batch: &[Vec<Mutation>],
    ) -> Result<Vec<Result<Vec<Applied>, Rejection>>, StoreError> {
        let mut writer = self.writer.lock().await;
        let mut transaction = writer.as_mut().ok_or(StoreError::Closed)?.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for group in batch {
            let mut savepoint = transaction.begin().await?;
            let mut applied = Vec::with_capacity(group.len());
            let mut outcome = Ok(());
            for mutation in group {
                match mutate::apply(&mut savepoint, mutation).await {
                    Ok(done) => applied.push(done),
                    Err(failure) => {
                        outcome = Err(failure);
                        break;
                    }
                }
            }
            if outcome.is_ok() {
                outcome = mutate::record_group(&mut savepoint, group, &applied).await;
            }
            match outcome {
                Ok(()) => {
                    savepoint.commit().await?;
                    results.push(Ok(applied));
                }
                Err(mutate::Failure::Rejected(rejection)) => {
                    savepoint.rollback().await?;
                    results.push(Err(rejection));
                }
                Err(mutate::Failure::Store(error)) => return Err(error),
            }
        }
        transaction.commit().await?;
        Ok(results)
    }

    async fn load_authorization(&self) -> Result<AuthorizationSnapshot, StoreError> {
        let state = sqlx::query("SELECT schema, revision FROM authorization_state WHERE id = 1")
            .fetch_one(&self.readers)
            .await?;
        let schema: Option<String> = state.try_get("schema")?;
        let revision = to_u64(state.try_get("revision")?)?;
        let mut decoder = relationship::RowDecoder::default();
        let rows = sqlx::query(concat!(
            "SELECT ",
            relationship_columns!(),
            " FROM relationships"
        ))
        .fetch_all(&self.readers)
        .await?;
        let relationships = rows
            .iter()
            .map(|row| decoder.decode(row))
            .collect::<Result<Vec<_>, _>>()?;
        let org_rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT org, revision FROM org_revisions")
                .fetch_all(&self.readers)
                .await?;
        let mut org_revisions = Vec::with_capacity(org_rows.len());
        for (org, revision) in org_rows {
            let org = OrgId::parse(&org).map_err(|error| StoreError::InvalidData {
                message: format!("org_revisions names `{org}`: {error}"),
            })?;
            org_revisions.push((org, to_u64(revision)?));
        }
        let server_key: Vec<u8> =
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'server_key'")
                .fetch_one(&self.readers)
                .await?;
        if server_key.len() < 32 {
            return Err(StoreError::InvalidData {
                message: "the server key is shorter than 32 bytes".to_owned(),
            });
        }
        Ok(AuthorizationSnapshot {
            schema,
            revision,
            relationships,
            org_revisions,
            server_key,
        })
    }

    async fn authorization_revision(&self) -> Result<u64, StoreError> {
        let revision: i64 =
            sqlx::query_scalar("SELECT revision FROM authorization_state WHERE id = 1")
                .fetch_one(&self.readers)
                .await?;
        to_u64(revision)
    }

    async fn load_accounts(&self) -> Result<crate::meta::AccountsSnapshot, StoreError> {
        accounts::load(&self.readers).await
    }

    async fn load_locker_keys(&self) -> Result<Vec<crate::meta::LockerKeyRecord>, StoreError> {
        accounts::load_locker_keys(&self.readers).await
    }

    async fn audit(
        &self,
        query: &crate::meta::AuditQuery,
    ) -> Result<Vec<crate::meta::AuditRecord>, StoreError> {
        audit::read(&self.readers, query).await
    }

    async fn file_changes(
        &self,
        query: &crate::meta::ChangeQuery,
    ) -> Result<Vec<crate::meta::ChangeRecord>, StoreError> {
        chrono::file_changes(&self.readers, query).await
    }

    async fn pending_tasks(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM pending_tasks ORDER BY name")
                .fetch_all(&self.readers)
                .await?,
        )
    }

    async fn org_reminders(
        &self,
        org: &OrgId,
    ) -> Result<Vec<crate::meta::ScheduledReminder>, StoreError> {
        chrono::of_org(&self.readers, org).await
    }

    async fn due_reminders(
        &self,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<crate::meta::ScheduledReminder>, StoreError> {
        chrono::due(&self.readers, until, limit).await
    }

    async fn notifications(
        &self,
        query: &crate::meta::NotificationQuery,
    ) -> Result<Vec<crate::meta::NotificationRecord>, StoreError> {
        chrono::notifications(&self.readers, query).await
    }

    async fn relationship_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RecordedChange>, StoreError> {
        // Whole revisions only: fetch them one by one until the page is full.
        let mut changes = Vec::new();
        let mut after = to_i64(after)?;
        while changes.len() < limit.max(1) {
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT min(revision) FROM relationship_change_parts WHERE revision > ?",
            )
            .bind(after)
            .fetch_one(&self.readers)
            .await?;
            let Some(revision) = next else {
                break;
            };
            let parts: Vec<String> = sqlx::query_scalar(
                "SELECT changes FROM relationship_change_parts WHERE revision = ? ORDER BY part",
            )
            .bind(revision)
            .fetch_all(&self.readers)
            .await?;
            for part in parts {
                changes.extend(crate::codec::decode_changes(to_u64(revision)?, &part)?);
            }
            after = revision;
        }
        Ok(changes)
    }

    async fn blob_known(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM blobs WHERE org = ? AND hash = ?")
                .bind(org.as_str())
                .bind(hash.0.as_slice())
                .fetch_optional(&self.readers)
                .await?;
        Ok(found.is_some())
    }

    async fn collect_unreferenced(
        &self,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OrgId, ContentHash)>, StoreError> {
        let mut writer = self.writer.lock().await;
        let mut transaction = writer.as_mut().ok_or(StoreError::Closed)?.begin().await?;
        let rows = sqlx::query(
            "DELETE FROM blobs WHERE (org, hash) IN (SELECT org, hash FROM blobs WHERE refcount = 0 AND unreferenced_since <= ? LIMIT ?) RETURNING org, hash",
        )
        .bind(cutoff.as_micros())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        rows.iter()
            .map(|row| {
                let org: String = row.try_get("org")?;
                let hash: Vec<u8> = row.try_get("hash")?;
                Ok((org_from_text(&org)?, hash_from_bytes(&hash)?))
            })
            .collect()
    }

    async fn blob_rows(&self) -> Result<Vec<BlobRow>, StoreError> {
        let rows = sqlx::query("SELECT org, hash, size, refcount FROM blobs ORDER BY org, hash")
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|row| {
                let org: String = row.try_get("org")?;
                let hash: Vec<u8> = row.try_get("hash")?;
                Ok(BlobRow {
                    org: org_from_text(&org)?,
                    hash: hash_from_bytes(&hash)?,
                    size: to_u64(row.try_get("size")?)?,
                    refcount: to_u64(row.try_get("refcount")?)?,
                })
            })
            .collect()
    }

    async fn check(&self) -> Result<MetadataCheck, StoreError> {
        let mut problems = Vec::new();
        let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.readers)
            .await?;
        if integrity != ["ok"] {
            problems.extend(
                integrity
                    .into_iter()
                    .map(|line| format!("integrity: {line}")),
            );
        }
        let foreign_keys = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.readers)
            .await?;
        if !foreign_keys.is_empty() {
            problems.push(format!("{} rows violate foreign keys", foreign_keys.len()));
        }
        let mismatched: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT b.org, b.refcount, COALESCE(v.n, 0) FROM blobs b LEFT JOIN (SELECT org, hash, count(*) AS n FROM versions GROUP BY org, hash) v ON v.org = b.org AND v.hash = b.hash WHERE b.refcount <> COALESCE(v.n, 0)",
        )
        .fetch_all(&self.readers)
        .await?;
        for (org, stored, actual) in mismatched {
            problems.push(format!(
                "a blob of `{org}` has reference count {stored} but {actual} versions refer to it"
            ));
        }
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM nodes n WHERE n.parent NOT IN ('/', '/orgs') AND NOT EXISTS (SELECT 1 FROM nodes p WHERE p.path = n.parent AND p.kind = 1)",
        )
        .fetch_one(&self.readers)
        .await?;
        if orphans > 0 {
            problems.push(format!("{orphans} nodes have no parent directory"));
        }
        let current_missing: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM nodes n WHERE n.kind = 2 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.file_id = n.id AND v.version = n.version AND v.hash = n.hash)",
        )
        .fetch_one(&self.readers)
        .await?;
        if current_missing > 0 {
            problems.push(format!(
                "{current_missing} files lack their current version"
            ));
        }
        Ok(MetadataCheck { problems })
    }

    /// Closes every connection and waits until SQLite has closed the files (the last
    /// connection checkpoints the WAL and removes it), so nothing touches the directory
    /// once the store reports it closed.
    async fn close(&self) {
        self.readers.close().await;
        if let Some(writer) = self.writer.lock().await.take()
            && let Err(error) = writer.close().await
        {
            tracing::warn!(%error, "closing the metadata writer failed");
        }
    }
}
