//! Relationship rows: encoding, decoding, and applying a batch with its change log entries.

use nexus_path::OrgId;
use std::borrow::Cow;

use nexus_rebac::Relationship;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

#[cfg(test)]
pub(super) use crate::codec::decode_changes;
use crate::codec::{
    StoredChange, TOUCH, change_log_parts, decode_relationship, org_from_text, to_i64, to_u64,
};
use crate::error::{Rejection, StoreError};
use crate::meta::RelationshipBatch;

/// The columns [`RowDecoder`] reads, in its order.
macro_rules! relationship_columns {
    () => {
        "key, org, caveat_name, caveat_context, expires_at"
    };
}
pub(crate) use relationship_columns;

/// Decodes rows selected with [`relationship_columns`], by position. Rows of one
/// organization usually come together, so the last organization parsed is reused.
#[derive(Default)]
pub(super) struct RowDecoder {
    last_org: Option<(String, OrgId)>,
}

impl RowDecoder {
    pub(super) fn decode(
        &mut self,
        row: &SqliteRow,
    ) -> Result<(Relationship, Option<OrgId>), StoreError> {
        let key: &str = row.try_get(0)?;
        let org: &str = row.try_get(1)?;
        let relationship =
            decode_relationship(key, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?)?;
        Ok((relationship, self.org(org)?))
    }

    fn org(&mut self, text: &str) -> Result<Option<OrgId>, StoreError> {
        if text.is_empty() {
            return Ok(None);
        }
        match &self.last_org {
            Some((last, org)) if last == text => Ok(Some(org.clone())),
            _ => {
                let org = org_from_text(text)?;
                self.last_org = Some((text.to_owned(), org.clone()));
                Ok(Some(org))
            }
        }
    }
}

/// Checks that `revision` follows the stored one and records it.
pub(super) async fn advance_revision(
    connection: &mut SqliteConnection,
    revision: u64,
) -> Result<(), super::mutate::Failure> {
    let stored: i64 = sqlx::query_scalar("SELECT revision FROM authorization_state WHERE id = 1")
        .fetch_one(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    let stored = to_u64(stored)?;
    if revision != stored + 1 {
        return Err(Rejection::RevisionConflict {
            stored,
            attempted: revision,
        }
        .into());
    }
    sqlx::query("UPDATE authorization_state SET revision = ? WHERE id = 1")
        .bind(to_i64(revision)?)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// Rows per multi-row statement: 6 columns each stays far below SQLite's 32,766 variables.
const ROWS_PER_STATEMENT: usize = 5000;

/// Applies a batch in a few multi-row statements. Consecutive changes with the same
/// operation are grouped, so the result equals applying the changes one by one in order (a
/// later upsert of the same key inside one statement wins, as it would sequentially).
pub(super) async fn write_batch(
    connection: &mut SqliteConnection,
    batch: &RelationshipBatch,
) -> Result<(), super::mutate::Failure> {
    advance_revision(connection, batch.revision).await?;
    let revision = to_i64(batch.revision)?;
    let stored: Vec<StoredChange<'_>> = batch.changes.iter().map(StoredChange::new).collect();
    for run in stored.chunk_by(|a, b| a.op == b.op) {
        // Key order turns scattered B-tree inserts into near-sequential ones; the sort is
        // stable, so repeated keys keep their order and the last one still wins.
        let mut run: Vec<&StoredChange<'_>> = run.iter().collect();
        run.sort_by(|a, b| a.key().cmp(&b.key()));
        let keyed: Vec<(String, &StoredChange<'_>)> = run
            .into_iter()
            .map(|row| Ok((row.stored_key()?, row)))
            .collect::<Result<_, Rejection>>()?;
        for rows in keyed.chunks(ROWS_PER_STATEMENT) {
            let Some((_, first)) = rows.first() else {
                continue;
            };
            let mut builder = if first.op == TOUCH {
                let mut builder = QueryBuilder::<Sqlite>::new(concat!(
                    "INSERT INTO relationships (",
                    relationship_columns!(),
                    ", revision) "
                ));
                builder.push_values(rows, |mut tuple, (key, row)| {
                    tuple.push_bind(key.clone());
                    push_attributes(row, &mut tuple);
                    tuple.push_bind(revision);
                });
                builder.push(
                    " ON CONFLICT (key) DO UPDATE SET org = excluded.org, caveat_name = excluded.caveat_name, caveat_context = excluded.caveat_context, expires_at = excluded.expires_at, revision = excluded.revision",
                );
                builder
            } else {
                let mut builder =
                    QueryBuilder::<Sqlite>::new("DELETE FROM relationships WHERE key IN (");
                let mut keys = builder.separated(", ");
                for (key, _) in rows {
                    keys.push_bind(key.clone());
                }
                builder.push(")");
                builder
            };
            // Full-size statements recur and stay prepared; a batch's last, odd-sized one
            // would only fill the statement cache.
            builder
                .build()
                .persistent(rows.len() == ROWS_PER_STATEMENT)
                .execute(&mut *connection)
                .await
                .map_err(StoreError::from)?;
        }
    }
    // The change log: the batch's changes in order, a JSON array per part.
    for (part, text) in change_log_parts(&stored)?.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO relationship_change_parts (revision, part, changes) VALUES (?, ?, ?)",
        )
        .bind(revision)
        .bind(i64::try_from(part).unwrap_or(i64::MAX))
        .bind(text)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    }
    // Each organization the batch touched was last changed at this revision.
    let mut orgs: Vec<&str> = batch
        .changes
        .iter()
        .filter_map(|change| change.org.as_ref().map(OrgId::as_str))
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    for org in orgs {
        sqlx::query(
            "INSERT INTO org_revisions (org, revision) VALUES (?, ?) ON CONFLICT (org) DO UPDATE SET revision = excluded.revision",
        )
        .bind(org)
        .bind(revision)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    }
    Ok(())
}

pub(super) async fn set_schema(
    connection: &mut SqliteConnection,
    source: &str,
    revision: u64,
) -> Result<(), super::mutate::Failure> {
    advance_revision(connection, revision).await?;
    sqlx::query("UPDATE authorization_state SET schema = ? WHERE id = 1")
        .bind(source)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// Binds `org, caveat_name, caveat_context, expires_at` of a stored change.
fn push_attributes(change: &StoredChange<'_>, tuple: &mut Separated<'_, Sqlite, &'static str>) {
    tuple
        .push_bind(change.org.clone().into_owned())
        .push_bind(change.caveat.clone().map(Cow::into_owned))
        .push_bind(change.context_text())
        .push_bind(change.expires);
}
