//! What every SQL backend stores the same way: the encoding of relationship keys and of the
//! relationship change log, the key range of a subtree, and conversions of stored values.
//! Backend crates use it so that a database's rows mean the same on every backend (and an
//! archive moves between them unchanged).

use std::borrow::Cow;

use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Rejection, StoreError};
use crate::meta::{ChangeOperation, RecordedChange, RelationshipChange};
use crate::types::ContentHash;

/// Joins the six parts of a stored relationship key (resource type, id, relation, subject
/// type, id, relation): no type, relation or id may contain it, so the key orders as the
/// tuple does.
pub const KEY_SEPARATOR: char = '\u{1f}';
const KEY_SEPARATOR_STR: &str = "\u{1f}";

/// Changes per change-log row: a revision of any size is stored as parts of bounded size.
pub const CHANGES_PER_PART: usize = 10_000;

/// A stored integer from an unsigned value; refused when it does not fit.
pub fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| invalid(format!("value {value} does not fit the database")))
}

/// An unsigned value from a stored integer; refused when negative.
pub fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| invalid(format!("negative value {value} in the database")))
}

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

/// A content hash from its stored 32 bytes.
pub fn hash_from_bytes(bytes: &[u8]) -> Result<ContentHash, StoreError> {
    ContentHash::from_slice(bytes).ok_or_else(|| invalid(format!("hash of {} bytes", bytes.len())))
}

/// An organization id from its stored text.
pub fn org_from_text(text: &str) -> Result<OrgId, StoreError> {
    OrgId::parse(text).map_err(|error| invalid(error.to_string()))
}

/// The half-open key range `[low, high)` holding every path strictly beneath `dir` (in
/// byte order, which both backends compare paths in).
pub fn subtree_range(dir: &VfsPath) -> (String, String) {
    let low = if dir.is_root() {
        "/".to_owned()
    } else {
        format!("{dir}/")
    };
    // '0' is the character after '/', so `high` bounds exactly the paths starting with `low`.
    let high = format!("{}0", low.get(..low.len() - 1).unwrap_or(""));
    (low, high)
}

/// A stored relationship from its key, organization (`""`: none) and attributes.
pub fn decode_relationship(
    key: &str,
    caveat_name: Option<String>,
    caveat_context: Option<&str>,
    expires_at: Option<i64>,
) -> Result<Relationship, StoreError> {
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
    Ok(Relationship {
        resource: ObjectRef::new(resource_type, resource_id),
        relation: relation.to_owned(),
        subject: SubjectRef {
            object: ObjectRef::new(subject_type, subject_id),
            relation: (!subject_relation.is_empty()).then(|| subject_relation.to_owned()),
        },
        caveat,
        expires_at,
    })
}

/// One change-log entry as stored in `relationship_change_parts.changes` (a JSON array of
/// these).
/// Short keys keep a large batch's row small; empty and absent fields are omitted.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredChange<'a> {
    /// `t` (touch) or `d` (delete).
    pub op: Cow<'a, str>,
    pub rt: Cow<'a, str>,
    pub ri: Cow<'a, str>,
    pub r: Cow<'a, str>,
    pub st: Cow<'a, str>,
    pub si: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub sr: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub org: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Cow<'a, Map<String, Value>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

pub const TOUCH: &str = "t";
pub const DELETE: &str = "d";

impl<'a> StoredChange<'a> {
    pub fn new(change: &'a RelationshipChange) -> Self {
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
    pub fn key(&self) -> [&str; 6] {
        [&self.rt, &self.ri, &self.r, &self.st, &self.si, &self.sr]
    }

    /// The stored key: the six parts joined by [`KEY_SEPARATOR`]. Refused if a part holds the
    /// separator (the engine never admits one: ids, types and relations have no control
    /// characters), since the key could then be read back differently.
    pub fn stored_key(&self) -> Result<String, Rejection> {
        let parts = self.key();
        if parts.iter().any(|part| part.contains(KEY_SEPARATOR)) {
            return Err(Rejection::InvalidRelationship {
                relationship: parts.join(" ").escape_debug().to_string(),
                problem: "a type, relation or id contains a control character".to_owned(),
            });
        }
        Ok(parts.join(KEY_SEPARATOR_STR))
    }
}

/// Decodes one revision's stored changes.
pub fn decode_changes(revision: u64, text: &str) -> Result<Vec<RecordedChange>, StoreError> {
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

impl StoredChange<'_> {
    /// The caveat context as stored (JSON text).
    pub fn context_text(&self) -> Option<String> {
        self.context
            .as_ref()
            .map(|context| Value::Object(context.clone().into_owned()).to_string())
    }
}

/// The change log of a batch: its changes in order, as JSON arrays of at most
/// [`CHANGES_PER_PART`] changes (one row each).
pub fn change_log_parts(changes: &[StoredChange<'_>]) -> Result<Vec<String>, StoreError> {
    changes
        .chunks(CHANGES_PER_PART)
        .map(|part| {
            serde_json::to_string(part).map_err(|error| invalid(format!("change log: {error}")))
        })
        .collect()
}
