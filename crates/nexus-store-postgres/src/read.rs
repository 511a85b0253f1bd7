//! Reads of committed state, on any pooled connection.

use nexus_path::{OrgId, VfsPath};
use nexus_store::codec::{
    decode_changes, decode_relationship, hash_from_bytes, org_from_text, subtree_range, to_i64,
    to_u64,
};
use nexus_store::{
    AccountsSnapshot, ApiKeyRecord, AuditQuery, AuditRecord, AuthorizationSnapshot, BlobRow,
    ChangeQuery, ChangeRecord, ListQuery, LockerKeyRecord, MetadataCheck, Node, NodeKind,
    NotificationQuery, NotificationRecord, PrincipalRecord, RecordedChange, ScheduledReminder,
    StoreError, Timestamp, VersionPolicy, VersionRecord,
};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

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

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

/// A `LIMIT` value.
fn limit(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn node_from_row(row: &PgRow) -> Result<Node, StoreError> {
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

fn version_from_row(row: &PgRow) -> Result<VersionRecord, StoreError> {
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

pub(crate) fn policy_from_row(row: Option<&PgRow>) -> Result<VersionPolicy, StoreError> {
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

/// An organization stored as text, `""` for none.
fn optional_org(text: &str) -> Result<Option<OrgId>, StoreError> {
    if text.is_empty() {
        Ok(None)
    } else {
        org_from_text(text).map(Some)
    }
}

pub(crate) async fn node(pool: &PgPool, path: &VfsPath) -> Result<Option<Node>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE path = $1"
    ))
    .bind(path.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(node_from_row).transpose()
}

pub(crate) async fn list(pool: &PgPool, query: &ListQuery) -> Result<Vec<Node>, StoreError> {
    let after = query.after.as_ref().map_or("", VfsPath::as_str);
    let rows = if query.recursive {
        let (low, high) = subtree_range(&query.dir);
        sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE path > $1 AND path < $2 AND path > $3 ORDER BY path LIMIT $4"
        ))
        .bind(low)
        .bind(high)
        .bind(after)
        .bind(limit(query.limit))
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query(concat!(
            "SELECT ",
            node_columns!(),
            " FROM nodes WHERE parent = $1 AND path > $2 ORDER BY path LIMIT $3"
        ))
        .bind(query.dir.as_str())
        .bind(after)
        .bind(limit(query.limit))
        .fetch_all(pool)
        .await?
    };
    rows.iter().map(node_from_row).collect()
}

pub(crate) async fn versions(
    pool: &PgPool,
    file_id: i64,
) -> Result<Vec<VersionRecord>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        " FROM versions WHERE file_id = $1 ORDER BY version DESC"
    ))
    .bind(file_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(version_from_row).collect()
}

pub(crate) async fn version(
    pool: &PgPool,
    file_id: i64,
    version: u64,
) -> Result<Option<VersionRecord>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        version_columns!(),
        " FROM versions WHERE file_id = $1 AND version = $2"
    ))
    .bind(file_id)
    .bind(to_i64(version)?)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(version_from_row).transpose()
}

pub(crate) async fn version_policy(
    pool: &PgPool,
    org: &OrgId,
) -> Result<VersionPolicy, StoreError> {
    let row = sqlx::query("SELECT keep_last, keep_days FROM version_policies WHERE org = $1")
        .bind(org.as_str())
        .fetch_optional(pool)
        .await?;
    policy_from_row(row.as_ref())
}

pub(crate) async fn authorization(pool: &PgPool) -> Result<AuthorizationSnapshot, StoreError> {
    // One snapshot: the revision and the relationships must agree.
    let mut transaction = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *transaction)
        .await?;
    let state = sqlx::query("SELECT schema, revision FROM authorization_state WHERE id = 1")
        .fetch_one(&mut *transaction)
        .await?;
    let schema: Option<String> = state.try_get("schema")?;
    let revision = to_u64(state.try_get("revision")?)?;
    let rows =
        sqlx::query("SELECT key, org, caveat_name, caveat_context, expires_at FROM relationships")
            .fetch_all(&mut *transaction)
            .await?;
    let mut last_org: Option<(String, OrgId)> = None;
    let mut relationships = Vec::with_capacity(rows.len());
    for row in &rows {
        let key: &str = row.try_get(0)?;
        let org: &str = row.try_get(1)?;
        let relationship =
            decode_relationship(key, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?)?;
        let org = match &last_org {
            _ if org.is_empty() => None,
            Some((text, parsed)) if text == org => Some(parsed.clone()),
            _ => {
                let parsed = org_from_text(org)?;
                last_org = Some((org.to_owned(), parsed.clone()));
                Some(parsed)
            }
        };
        relationships.push((relationship, org));
    }
    let org_rows: Vec<(String, i64)> = sqlx::query_as("SELECT org, revision FROM org_revisions")
        .fetch_all(&mut *transaction)
        .await?;
    let org_revisions = org_rows
        .into_iter()
        .map(|(org, revision)| Ok((org_from_text(&org)?, to_u64(revision)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let server_key: Vec<u8> =
        sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'server_key'")
            .fetch_one(&mut *transaction)
            .await?;
    transaction.commit().await?;
    if server_key.len() < 32 {
        return Err(invalid(
            "the server key is shorter than 32 bytes".to_owned(),
        ));
    }
    Ok(AuthorizationSnapshot {
        schema,
        revision,
        relationships,
        org_revisions,
        server_key,
    })
}

pub(crate) async fn accounts(pool: &PgPool) -> Result<AccountsSnapshot, StoreError> {
    let principals = sqlx::query("SELECT kind, id, handle, created_at FROM principals")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(PrincipalRecord {
                kind: row.try_get("kind")?,
                id: row.try_get("id")?,
                handle: row.try_get("handle")?,
                created_at: Timestamp(row.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let api_keys = sqlx::query(
        "SELECT id, hash, principal, description, created_at, revoked_at, on_behalf_of, expires_at
         FROM api_keys",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        Ok(ApiKeyRecord {
            id: row.try_get("id")?,
            hash: row.try_get("hash")?,
            principal: row.try_get("principal")?,
            description: row.try_get("description")?,
            created_at: Timestamp(row.try_get("created_at")?),
            revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
            on_behalf_of: row.try_get("on_behalf_of")?,
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let lockouts = sqlx::query("SELECT kind, id, at FROM lockouts")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("kind")?,
                row.try_get("id")?,
                Timestamp(row.try_get("at")?),
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(AccountsSnapshot {
        principals,
        api_keys,
        lockouts,
    })
}

pub(crate) async fn locker_keys(pool: &PgPool) -> Result<Vec<LockerKeyRecord>, StoreError> {
    let rows =
        sqlx::query("SELECT org, master_id, wrapped, created_at FROM locker_keys ORDER BY org")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(LockerKeyRecord {
                org: org_from_text(&row.try_get::<String, _>("org")?)?,
                master_id: row.try_get("master_id")?,
                wrapped: row.try_get("wrapped")?,
                created_at: Timestamp(row.try_get("created_at")?),
            })
        })
        .collect()
}

pub(crate) async fn audit(
    pool: &PgPool,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut select = QueryBuilder::<Postgres>::new(
        "SELECT seq, org, at, actor, on_behalf_of, action, target, outcome, request_id, client, user_agent, detail FROM audit WHERE seq > ",
    );
    select.push_bind(to_i64(query.after)?);
    if let Some(org) = &query.org {
        select
            .push(" AND org = ")
            .push_bind(org.as_ref().map_or("", |org| org.as_str()).to_owned());
    }
    if let Some(actor) = &query.actor {
        select.push(" AND actor = ").push_bind(actor.clone());
    }
    if let Some(action) = &query.action {
        select.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(prefix) = &query.target_prefix {
        // A byte-exact prefix (no LIKE: `%` and `_` are ordinary characters in paths).
        select
            .push(" AND substr(target, 1, length(")
            .push_bind(prefix.clone())
            .push(")) = ")
            .push_bind(prefix.clone());
    }
    if let Some(since) = query.since {
        select.push(" AND at >= ").push_bind(since.as_micros());
    }
    if let Some(until) = query.until {
        select.push(" AND at < ").push_bind(until.as_micros());
    }
    select
        .push(" ORDER BY seq LIMIT ")
        .push_bind(limit(query.limit));
    let rows = select.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(AuditRecord {
                seq: to_u64(row.try_get("seq")?)?,
                org: optional_org(&row.try_get::<String, _>("org")?)?,
                at: Timestamp(row.try_get("at")?),
                actor: row.try_get("actor")?,
                on_behalf_of: row.try_get("on_behalf_of")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                outcome: row.try_get("outcome")?,
                request_id: row.try_get("request_id")?,
                client: row.try_get("client")?,
                user_agent: row.try_get("user_agent")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

pub(crate) async fn file_changes(
    pool: &PgPool,
    query: &ChangeQuery,
) -> Result<Vec<ChangeRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT revision, at, action, path, to_path, author FROM changes
         WHERE org = $1 AND revision > $2 ORDER BY revision LIMIT $3",
    )
    .bind(query.org.as_str())
    .bind(to_i64(query.after)?)
    .bind(limit(query.limit))
    .fetch_all(pool)
    .await?;
    let path = |text: String| {
        VfsPath::parse(&text)
            .map_err(|error| invalid(format!("change of invalid path `{text}`: {error}")))
    };
    rows.iter()
        .map(|row| {
            Ok(ChangeRecord {
                org: query.org.clone(),
                revision: to_u64(row.try_get("revision")?)?,
                at: Timestamp(row.try_get("at")?),
                action: row.try_get("action")?,
                path: path(row.try_get("path")?)?,
                to: row
                    .try_get::<Option<String>, _>("to_path")?
                    .map(path)
                    .transpose()?,
                author: row.try_get("author")?,
            })
        })
        .collect()
}

fn scheduled(rows: &[PgRow]) -> Result<Vec<ScheduledReminder>, StoreError> {
    rows.iter()
        .map(|row| {
            let path: String = row.try_get("path")?;
            let org: String = row.try_get("org")?;
            Ok(ScheduledReminder {
                path: VfsPath::parse(&path).map_err(|error| {
                    invalid(format!(
                        "scheduled reminder of invalid path `{path}`: {error}"
                    ))
                })?,
                org: org_from_text(&org)?,
                due: Timestamp(row.try_get("due")?),
            })
        })
        .collect()
}

pub(crate) async fn org_reminders(
    pool: &PgPool,
    org: &OrgId,
) -> Result<Vec<ScheduledReminder>, StoreError> {
    let rows = sqlx::query("SELECT path, org, due FROM reminders WHERE org = $1 ORDER BY path")
        .bind(org.as_str())
        .fetch_all(pool)
        .await?;
    scheduled(&rows)
}

pub(crate) async fn due_reminders(
    pool: &PgPool,
    until: Timestamp,
    count: usize,
) -> Result<Vec<ScheduledReminder>, StoreError> {
    let rows = sqlx::query(
        "SELECT path, org, due FROM reminders WHERE due <= $1 ORDER BY due, path LIMIT $2",
    )
    .bind(until.as_micros())
    .bind(limit(count))
    .fetch_all(pool)
    .await?;
    scheduled(&rows)
}

pub(crate) async fn notifications(
    pool: &PgPool,
    query: &NotificationQuery,
) -> Result<Vec<NotificationRecord>, StoreError> {
    let mut select = QueryBuilder::<Postgres>::new(
        "SELECT recipient, id, org, kind, title, item_key, created_at, read_at FROM notifications WHERE recipient = ",
    );
    select
        .push_bind(query.recipient.clone())
        .push(" AND id > ")
        .push_bind(to_i64(query.after)?);
    if query.unread_only {
        select.push(" AND read_at IS NULL");
    }
    select
        .push(" ORDER BY id LIMIT ")
        .push_bind(limit(query.limit));
    let rows = select.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(NotificationRecord {
                recipient: row.try_get("recipient")?,
                id: to_u64(row.try_get("id")?)?,
                org: optional_org(&row.try_get::<String, _>("org")?)?,
                kind: row.try_get("kind")?,
                title: row.try_get("title")?,
                item_key: row.try_get("item_key")?,
                created_at: Timestamp(row.try_get("created_at")?),
                read_at: row.try_get::<Option<i64>, _>("read_at")?.map(Timestamp),
            })
        })
        .collect()
}

pub(crate) async fn relationship_changes(
    pool: &PgPool,
    after: u64,
    count: usize,
) -> Result<Vec<RecordedChange>, StoreError> {
    // Whole revisions only: fetch them one by one until the page is full.
    let mut changes = Vec::new();
    let mut after = to_i64(after)?;
    while changes.len() < count.max(1) {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT min(revision) FROM relationship_change_parts WHERE revision > $1",
        )
        .bind(after)
        .fetch_one(pool)
        .await?;
        let Some(revision) = next else {
            break;
        };
        let parts: Vec<String> = sqlx::query_scalar(
            "SELECT changes FROM relationship_change_parts WHERE revision = $1 ORDER BY part",
        )
        .bind(revision)
        .fetch_all(pool)
        .await?;
        for part in parts {
            changes.extend(decode_changes(to_u64(revision)?, &part)?);
        }
        after = revision;
    }
    Ok(changes)
}

pub(crate) async fn blob_rows(pool: &PgPool) -> Result<Vec<BlobRow>, StoreError> {
    let rows = sqlx::query("SELECT org, hash, size, refcount FROM blobs ORDER BY org, hash")
        .fetch_all(pool)
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

/// What the database's constraints do not already guarantee: reference counts, parents,
/// current versions.
pub(crate) async fn check(pool: &PgPool) -> Result<MetadataCheck, StoreError> {
    let mut problems = Vec::new();
    let mismatched: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT b.org, b.refcount, COALESCE(v.n, 0) FROM blobs b LEFT JOIN (SELECT org, hash, count(*) AS n FROM versions GROUP BY org, hash) v ON v.org = b.org AND v.hash = b.hash WHERE b.refcount <> COALESCE(v.n, 0)",
    )
    .fetch_all(pool)
    .await?;
    for (org, stored, actual) in mismatched {
        problems.push(format!(
            "a blob of `{org}` has reference count {stored} but {actual} versions refer to it"
        ));
    }
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM nodes n WHERE n.parent NOT IN ('/', '/orgs') AND NOT EXISTS (SELECT 1 FROM nodes p WHERE p.path = n.parent AND p.kind = 1)",
    )
    .fetch_one(pool)
    .await?;
    if orphans > 0 {
        problems.push(format!("{orphans} nodes have no parent directory"));
    }
    let current_missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM nodes n WHERE n.kind = 2 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.file_id = n.id AND v.version = n.version AND v.hash = n.hash)",
    )
    .fetch_one(pool)
    .await?;
    if current_missing > 0 {
        problems.push(format!(
            "{current_missing} files lack their current version"
        ));
    }
    Ok(MetadataCheck { problems })
}
