//! What happens over time: organizations' change feeds, the reminder schedule and the
//! notification feeds.

use nexus_path::{OrgId, VfsPath};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::mutate::Failure;
use super::{to_i64, to_u64};
use crate::error::{Rejection, StoreError};
use crate::meta::{
    ChangeQuery, ChangeRecord, NotificationQuery, NotificationRecord, ScheduledReminder,
};
use crate::types::Timestamp;

pub(super) async fn schedule(
    connection: &mut SqliteConnection,
    org: &OrgId,
    path: &VfsPath,
    due: Option<Timestamp>,
) -> Result<(), Failure> {
    match due {
        Some(due) => {
            sqlx::query(
                "INSERT INTO reminders (path, org, due) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET org = ?2, due = ?3",
            )
            .bind(path.as_str())
            .bind(org.as_str())
            .bind(due.as_micros())
            .execute(&mut *connection)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM reminders WHERE path = ?")
                .bind(path.as_str())
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn fire(
    connection: &mut SqliteConnection,
    path: &VfsPath,
    due: Timestamp,
    next: Option<Timestamp>,
) -> Result<(), Failure> {
    let changed = match next {
        Some(next) => sqlx::query("UPDATE reminders SET due = ? WHERE path = ? AND due = ?")
            .bind(next.as_micros())
            .bind(path.as_str())
            .bind(due.as_micros())
            .execute(&mut *connection)
            .await?
            .rows_affected(),
        None => sqlx::query("DELETE FROM reminders WHERE path = ? AND due = ?")
            .bind(path.as_str())
            .bind(due.as_micros())
            .execute(&mut *connection)
            .await?
            .rows_affected(),
    };
    if changed == 0 {
        return Err(Rejection::ReminderMoved { path: path.clone() }.into());
    }
    Ok(())
}

pub(super) async fn add_notifications(
    connection: &mut SqliteConnection,
    notifications: &[NotificationRecord],
) -> Result<(), Failure> {
    // One statement each: a recipient's next number depends on the rows before it.
    for notification in notifications {
        sqlx::query(
            "INSERT INTO notifications (recipient, id, org, kind, title, item_key, created_at)
             VALUES (?1, (SELECT coalesce(max(id), 0) + 1 FROM notifications WHERE recipient = ?1),
                     ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&notification.recipient)
        .bind(
            notification
                .org
                .as_ref()
                .map_or("", |org| org.as_str())
                .to_owned(),
        )
        .bind(&notification.kind)
        .bind(&notification.title)
        .bind(&notification.item_key)
        .bind(notification.created_at.as_micros())
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

pub(super) async fn mark_read(
    connection: &mut SqliteConnection,
    recipient: &str,
    id: u64,
    at: Timestamp,
) -> Result<(), Failure> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM notifications WHERE recipient = ? AND id = ?")
            .bind(recipient)
            .bind(to_i64(id)?)
            .fetch_optional(&mut *connection)
            .await?;
    if found.is_none() {
        return Err(Rejection::NoSuchNotification { id }.into());
    }
    sqlx::query(
        "UPDATE notifications SET read_at = ? WHERE recipient = ? AND id = ? AND read_at IS NULL",
    )
    .bind(at.as_micros())
    .bind(recipient)
    .bind(to_i64(id)?)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn due(
    pool: &SqlitePool,
    until: Timestamp,
    limit: usize,
) -> Result<Vec<ScheduledReminder>, StoreError> {
    let rows = sqlx::query(
        "SELECT path, org, due FROM reminders WHERE due <= ? ORDER BY due, path LIMIT ?",
    )
    .bind(until.as_micros())
    .bind(to_i64(u64::try_from(limit).unwrap_or(u64::MAX))?)
    .fetch_all(pool)
    .await?;
    scheduled(&rows)
}

pub(super) async fn of_org(
    pool: &SqlitePool,
    org: &OrgId,
) -> Result<Vec<ScheduledReminder>, StoreError> {
    let rows = sqlx::query("SELECT path, org, due FROM reminders WHERE org = ? ORDER BY path")
        .bind(org.as_str())
        .fetch_all(pool)
        .await?;
    scheduled(&rows)
}

fn scheduled(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<ScheduledReminder>, StoreError> {
    rows.iter()
        .map(|row| {
            let path: String = row.try_get("path")?;
            let org: String = row.try_get("org")?;
            Ok(ScheduledReminder {
                path: VfsPath::parse(&path).map_err(|error| StoreError::InvalidData {
                    message: format!("scheduled reminder of invalid path `{path}`: {error}"),
                })?,
                org: parse_org(&org)?.ok_or_else(|| StoreError::InvalidData {
                    message: format!("scheduled reminder `{path}` has no organization"),
                })?,
                due: Timestamp(row.try_get("due")?),
            })
        })
        .collect()
}

pub(super) async fn notifications(
    pool: &SqlitePool,
    query: &NotificationQuery,
) -> Result<Vec<NotificationRecord>, StoreError> {
    let mut select = QueryBuilder::<Sqlite>::new(
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
        .push_bind(to_i64(u64::try_from(query.limit).unwrap_or(u64::MAX))?);
    let rows = select.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(NotificationRecord {
                recipient: row.try_get("recipient")?,
                id: to_u64(row.try_get("id")?)?,
                org: parse_org(&row.try_get::<String, _>("org")?)?,
                kind: row.try_get("kind")?,
                title: row.try_get("title")?,
                item_key: row.try_get("item_key")?,
                created_at: Timestamp(row.try_get("created_at")?),
                read_at: row.try_get::<Option<i64>, _>("read_at")?.map(Timestamp),
            })
        })
        .collect()
}

fn parse_org(text: &str) -> Result<Option<OrgId>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    OrgId::parse(text)
        .map(Some)
        .map_err(|error| StoreError::InvalidData {
            message: format!("invalid organization `{text}`: {error}"),
        })
}

pub(super) async fn record_changes(
    connection: &mut SqliteConnection,
    changes: &[ChangeRecord],
) -> Result<(), Failure> {
    // One statement each: an organization's next number depends on the rows before it.
    for change in changes {
        sqlx::query(
            "INSERT INTO changes (org, revision, at, action, path, to_path, author)
             VALUES (?1, (SELECT coalesce(max(revision), 0) + 1 FROM changes WHERE org = ?1),
                     ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(change.org.as_str())
        .bind(change.at.as_micros())
        .bind(&change.action)
        .bind(change.path.as_str())
        .bind(change.to.as_ref().map(VfsPath::as_str))
        .bind(&change.author)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

pub(super) async fn file_changes(
    pool: &SqlitePool,
    query: &ChangeQuery,
) -> Result<Vec<ChangeRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT revision, at, action, path, to_path, author FROM changes
         WHERE org = ? AND revision > ? ORDER BY revision LIMIT ?",
    )
    .bind(query.org.as_str())
    .bind(to_i64(query.after)?)
    .bind(to_i64(u64::try_from(query.limit).unwrap_or(u64::MAX))?)
    .fetch_all(pool)
    .await?;
    let path = |text: String| {
        VfsPath::parse(&text).map_err(|error| StoreError::InvalidData {
            message: format!("change of invalid path `{text}`: {error}"),
        })
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
