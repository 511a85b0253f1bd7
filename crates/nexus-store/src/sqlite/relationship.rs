//! Relationship rows: encoding, decoding, and applying a batch with its change log entries.

use nexus_path::OrgId;
use nexus_rebac::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{org_from_text, to_i64, to_u64};
use crate::error::{Rejection, StoreError};
use crate::meta::{ChangeOperation, RecordedChange, RelationshipBatch, RelationshipChange};

/// The columns [`from_row`] reads, shared by `relationships` and `relationship_changes`.
macro_rules! relationship_columns {
    () => {
        "resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org, caveat_name, caveat_context, expires_at"
    };
}
pub(crate) use relationship_columns;

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

pub(super) fn from_row(row: &SqliteRow) -> Result<(Relationship, Option<OrgId>), StoreError> {
    let subject_relation: String = row.try_get("subject_relation")?;
    let caveat_name: Option<String> = row.try_get("caveat_name")?;
    let caveat_context: Option<String> = row.try_get("caveat_context")?;
    let org: String = row.try_get("org")?;
    let caveat = match caveat_name {
        None => None,
        Some(name) => {
            let context = caveat_context
                .map(|text| {
                    serde_json::from_str(&text)
                        .map_err(|error| invalid(format!("caveat context: {error}")))
                })
                .transpose()?;
            Some(RelationshipCaveat { name, context })
        }
    };
    let relationship = Relationship {
        resource: ObjectRef::new(
            row.try_get::<String, _>("resource_type")?,
            row.try_get::<String, _>("resource_id")?,
        ),
        relation: row.try_get("relation")?,
        subject: SubjectRef {
            object: ObjectRef::new(
                row.try_get::<String, _>("subject_type")?,
                row.try_get::<String, _>("subject_id")?,
            ),
            relation: (!subject_relation.is_empty()).then_some(subject_relation),
        },
        caveat,
        expires_at: row.try_get("expires_at")?,
    };
    let org = if org.is_empty() {
        None
    } else {
        Some(org_from_text(&org)?)
    };
    Ok((relationship, org))
}

pub(super) fn change_from_row(row: &SqliteRow) -> Result<RecordedChange, StoreError> {
    let operation: String = row.try_get("operation")?;
    let (relationship, org) = from_row(row)?;
    Ok(RecordedChange {
        revision: to_u64(row.try_get("revision")?)?,
        change: RelationshipChange {
            operation: if operation == "delete" {
                ChangeOperation::Delete
            } else {
                ChangeOperation::Touch
            },
            relationship,
            org,
        },
    })
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

pub(super) async fn write_batch(
    connection: &mut SqliteConnection,
    batch: &RelationshipBatch,
) -> Result<(), super::mutate::Failure> {
    advance_revision(connection, batch.revision).await?;
    let revision = to_i64(batch.revision)?;
    for (position, change) in batch.changes.iter().enumerate() {
        let relationship = &change.relationship;
        let subject_relation = relationship.subject.relation.as_deref().unwrap_or("");
        let org = change.org.as_ref().map_or("", OrgId::as_str);
        let caveat_name = relationship
            .caveat
            .as_ref()
            .map(|caveat| caveat.name.as_str());
        let caveat_context = relationship
            .caveat
            .as_ref()
            .and_then(|caveat| caveat.context.as_ref())
            .map(|context| serde_json::Value::Object(context.clone()).to_string());
        match change.operation {
            ChangeOperation::Touch => {
                sqlx::query(
                    "INSERT INTO relationships (resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org, caveat_name, caveat_context, expires_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (resource_type, resource_id, relation, subject_type, subject_id, subject_relation) DO UPDATE SET org = excluded.org, caveat_name = excluded.caveat_name, caveat_context = excluded.caveat_context, expires_at = excluded.expires_at, revision = excluded.revision",
                )
                .bind(&relationship.resource.object_type)
                .bind(&relationship.resource.object_id)
                .bind(&relationship.relation)
                .bind(&relationship.subject.object.object_type)
                .bind(&relationship.subject.object.object_id)
                .bind(subject_relation)
                .bind(org)
                .bind(caveat_name)
                .bind(&caveat_context)
                .bind(relationship.expires_at)
                .bind(revision)
                .execute(&mut *connection)
                .await
                .map_err(StoreError::from)?;
            }
            ChangeOperation::Delete => {
                sqlx::query(
                    "DELETE FROM relationships WHERE resource_type = ? AND resource_id = ? AND relation = ? AND subject_type = ? AND subject_id = ? AND subject_relation = ?",
                )
                .bind(&relationship.resource.object_type)
                .bind(&relationship.resource.object_id)
                .bind(&relationship.relation)
                .bind(&relationship.subject.object.object_type)
                .bind(&relationship.subject.object.object_id)
                .bind(subject_relation)
                .execute(&mut *connection)
                .await
                .map_err(StoreError::from)?;
            }
        }
        sqlx::query(
            "INSERT INTO relationship_changes (revision, position, operation, resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org, caveat_name, caveat_context, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(revision)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(match change.operation {
            ChangeOperation::Touch => "touch",
            ChangeOperation::Delete => "delete",
        })
        .bind(&relationship.resource.object_type)
        .bind(&relationship.resource.object_id)
        .bind(&relationship.relation)
        .bind(&relationship.subject.object.object_type)
        .bind(&relationship.subject.object.object_id)
        .bind(subject_relation)
        .bind(org)
        .bind(caveat_name)
        .bind(&caveat_context)
        .bind(relationship.expires_at)
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
