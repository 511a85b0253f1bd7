//! The audit log: appended, read with filters, pruned by retention, never edited.

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::mutate::Failure;
use super::{to_i64, to_u64};
use crate::error::StoreError;
use crate::meta::{AuditQuery, AuditRecord};
use crate::types::Timestamp;

/// Entries per statement (11 bound values each, well under SQLite's 32,766).
const ENTRIES_PER_STATEMENT: usize = 1000;

pub(super) async fn append(
    connection: &mut SqliteConnection,
    entries: &[AuditRecord],
) -> Result<(), Failure> {
    for chunk in entries.chunks(ENTRIES_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
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
        insert.build().execute(&mut *connection).await?;
    }
    Ok(())
}

pub(super) async fn prune(
    connection: &mut SqliteConnection,
    before: Timestamp,
) -> Result<(), Failure> {
    sqlx::query("DELETE FROM audit WHERE at < ?")
        .bind(before.as_micros())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

pub(super) async fn read(
    pool: &SqlitePool,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut select = QueryBuilder::<Sqlite>::new(
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
        .push_bind(to_i64(u64::try_from(query.limit).unwrap_or(u64::MAX))?);
    let rows = select.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let org: String = row.try_get("org")?;
            let org = if org.is_empty() {
                None
            } else {
                Some(
                    nexus_path::OrgId::parse(&org).map_err(|error| StoreError::InvalidData {
                        message: format!("audit entry of invalid organization `{org}`: {error}"),
                    })?,
                )
            };
            Ok(AuditRecord {
                seq: to_u64(row.try_get("seq")?)?,
                org,
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
