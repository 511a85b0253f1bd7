//! Relationship rows: encoding, decoding, and applying a batch with its change log entries.

use nexus_path::OrgId;
use std::borrow::Cow;

use nexus_rebac::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{org_from_text, to_i64, to_u64};
use crate::error::{Rejection, StoreError};
use crate::meta::{ChangeOperation, RecordedChange, RelationshipBatch, RelationshipChange};

/// The columns [`RowDecoder`] reads, in its order.
macro_rules! relationship_columns {
    () => {
        "key, org, caveat_name, caveat_context, expires_at"
    };
}
pub(crate) use relationship_columns;

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

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
        let caveat_name: Option<String> = row.try_get(2)?;
        let caveat_context: Option<&str> = row.try_get(3)?;
        let caveat = match caveat_name {
            None => None,
            Some(name) => {
                let context = caveat_context
                    .map(|text| {
                        serde_json::from_str(text)
                            .map_err(|error| invalid(format!("caveat context: {error}")))
                    })
                    .transpose()?;
                Some(RelationshipCaveat { name, context })
            }
        };
        let mut parts = key.split(KEY_SEPARATOR);
        let mut next = || {
            parts
                .next()
                .ok_or_else(|| invalid(format!("relationship key {key:?} has too few parts")))
        };
        let (resource_type, resource_id, relation) = (next()?, next()?, next()?);
        let (subject_type, subject_id, subject_relation) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(invalid(format!(
                "relationship key {key:?} has too many parts"
            )));
        }
        let relationship = Relationship {
            resource: ObjectRef::new(resource_type, resource_id),
            relation: relation.to_owned(),
            subject: SubjectRef {
                object: ObjectRef::new(subject_type, subject_id),
                relation: (!subject_relation.is_empty()).then(|| subject_relation.to_owned()),
            },
            caveat,
            expires_at: row.try_get(4)?,
        };
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

/// One change-log entry as stored in `relationship_change_parts.changes` (a JSON array of
/// these).
/// Short keys keep a large batch's row small; empty and absent fields are omitted.
#[derive(Serialize, Deserialize)]
struct StoredChange<'a> {
    /// `t` (touch) or `d` (delete).
    op: Cow<'a, str>,
    rt: Cow<'a, str>,
    ri: Cow<'a, str>,
    r: Cow<'a, str>,
    st: Cow<'a, str>,
    si: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    sr: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    org: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caveat: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<Cow<'a, Map<String, Value>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
}

const TOUCH: &str = "t";
const DELETE: &str = "d";

impl<'a> StoredChange<'a> {
    fn new(change: &'a RelationshipChange) -> Self {
        let relationship = &change.relationship;
        StoredChange {
            op: Cow::Borrowed(match change.operation {
                ChangeOperation::Touch => TOUCH,
                ChangeOperation::Delete => DELETE,
            }),
            rt: Cow::Borrowed(&relationship.resource.object_type),
            ri: Cow::Borrowed(&relationship.resource.object_id),
            r: Cow::Borrowed(&relationship.relation),
            st: Cow::Borrowed(&relationship.subject.object.object_type),
            si: Cow::Borrowed(&relationship.subject.object.object_id),
            sr: Cow::Borrowed(relationship.subject.relation.as_deref().unwrap_or("")),
            org: Cow::Borrowed(change.org.as_ref().map_or("", OrgId::as_str)),
            caveat: relationship
                .caveat
                .as_ref()
                .map(|caveat| Cow::Borrowed(caveat.name.as_str())),
            context: relationship
                .caveat
                .as_ref()
                .and_then(|caveat| caveat.context.as_ref())
                .map(Cow::Borrowed),
            expires: relationship.expires_at,
        }
    }

    /// The primary key, in the table's column order.
    fn key(&self) -> [&str; 6] {
        [&self.rt, &self.ri, &self.r, &self.st, &self.si, &self.sr]
    }

    /// The stored key: the six parts joined by [`KEY_SEPARATOR`]. Refused if a part holds the
    /// separator (the engine never admits one: ids, types and relations have no control
    /// characters), since the key could then be read back differently.
    fn stored_key(&self) -> Result<String, Rejection> {
        let parts = self.key();
        if parts.iter().any(|part| part.contains(KEY_SEPARATOR)) {
            return Err(Rejection::InvalidRelationship {
                relationship: parts.join(" ").escape_debug().to_string(),
                problem: "a type, relation or id contains a control character".to_owned(),
            });
        }
        Ok(parts.join(KEY_SEPARATOR_STR))
    }

    /// Binds `org, caveat_name, caveat_context, expires_at`.
    fn push_attributes(&self, tuple: &mut Separated<'_, Sqlite, &'static str>) {
        tuple
            .push_bind(self.org.clone().into_owned())
            .push_bind(self.caveat.clone().map(Cow::into_owned))
            .push_bind(
                self.context
                    .as_ref()
                    .map(|context| Value::Object(context.clone().into_owned()).to_string()),
            )
            .push_bind(self.expires);
    }
}

/// Decodes one revision's stored changes.
pub(super) fn decode_changes(revision: u64, text: &str) -> Result<Vec<RecordedChange>, StoreError> {
    let stored: Vec<StoredChange<'_>> = serde_json::from_str(text)
        .map_err(|error| invalid(format!("change log of revision {revision}: {error}")))?;
    stored
        .into_iter()
        .map(|stored| {
            let operation = match stored.op.as_ref() {
                TOUCH => ChangeOperation::Touch,
                DELETE => ChangeOperation::Delete,
                other => {
                    return Err(invalid(format!(
                        "change log of revision {revision}: unknown operation `{other}`"
                    )));
                }
            };
            let relationship = Relationship {
                resource: ObjectRef::new(stored.rt.into_owned(), stored.ri.into_owned()),
                relation: stored.r.into_owned(),
                subject: SubjectRef {
                    object: ObjectRef::new(stored.st.into_owned(), stored.si.into_owned()),
                    relation: (!stored.sr.is_empty()).then(|| stored.sr.into_owned()),
                },
                caveat: stored.caveat.map(|name| RelationshipCaveat {
                    name: name.into_owned(),
                    context: stored.context.map(Cow::into_owned),
                }),
                expires_at: stored.expires,
            };
            let org = if stored.org.is_empty() {
                None
            } else {
                Some(org_from_text(&stored.org)?)
            };
            Ok(RecordedChange {
                revision,
                change: RelationshipChange {
                    operation,
                    relationship,
                    org,
                },
            })
        })
        .collect()
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

/// Joins the parts of a stored relationship key (migration 4).
const KEY_SEPARATOR: char = '\u{1f}';
const KEY_SEPARATOR_STR: &str = "\u{1f}";

/// Changes per change-log row: a revision of any size is stored as parts of bounded size
/// (migration 3 converts older logs with the same figure).
const CHANGES_PER_PART: usize = 10_000;

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
                    row.push_attributes(&mut tuple);
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
    for (part, changes) in stored.chunks(CHANGES_PER_PART).enumerate() {
        let text = serde_json::to_string(changes)
            .map_err(|error| invalid(format!("change log: {error}")))?;
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
