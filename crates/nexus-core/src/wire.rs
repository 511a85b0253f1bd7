//! Requests of the wire contract ([`nexus_api`]) turned into engine values, once for every
//! front end. Malformed input is `invalid_input`.

use nexus_api::{RelationshipFilterRequest, RelationshipUpdateRequest};
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipCaveat, RelationshipFilter, RelationshipUpdate,
    SubjectRef,
};
use serde_json::Value;

use crate::error::FsError;

/// An object: `type:id`, or a path (`/orgs/...`) for a file.
pub fn parse_object(text: &str) -> Result<ObjectRef, FsError> {
    if text.starts_with('/') {
        let path = VfsPath::parse(text).map_err(|error| FsError::invalid(error.to_string()))?;
        return Ok(ObjectRef::new("file", path.as_str()));
    }
    ObjectRef::parse(text).map_err(|error| FsError::invalid(error.to_string()))
}

/// A subject: `type:id` or `type:id#relation`.
pub fn parse_subject(text: &str) -> Result<SubjectRef, FsError> {
    SubjectRef::parse(text).map_err(|error| FsError::invalid(error.to_string()))
}

/// A relationship: `resource#relation@subject`.
pub fn parse_relationship(text: &str) -> Result<Relationship, FsError> {
    Relationship::parse(text).map_err(|error| FsError::invalid(error.to_string()))
}

/// Microseconds since the epoch of an RFC 3339 time (as relationships store expiries).
pub fn parse_rfc3339_micros(text: &str) -> Result<i64, FsError> {
    let probe = Relationship::parse(&format!("file:/x#r@user:u[expiration:{text}]"))
        .map_err(|_| FsError::invalid(format!("invalid `expires_at` `{text}`: use RFC 3339")))?;
    probe
        .expires_at
        .ok_or_else(|| FsError::invalid(format!("invalid `expires_at` `{text}`")))
}

/// The relationship an update names.
pub fn relationship_of(body: &RelationshipUpdateRequest) -> Result<Relationship, FsError> {
    let mut relationship = match (
        &body.relationship,
        &body.subject,
        &body.relation,
        &body.object,
    ) {
        (Some(text), None, None, None) => {
            let mut relationship = parse_relationship(text)?;
            if relationship.resource.object_type == "file"
                && let Ok(resource) = parse_object(&relationship.resource.object_id)
            {
                relationship.resource = resource;
            }
            relationship
        }
        (None, Some(subject), Some(relation), Some(object)) => Relationship::new(
            parse_object(object)?,
            relation.clone(),
            parse_subject(subject)?,
        ),
        _ => {
            return Err(FsError::invalid(
                "give either `relationship` or all of `subject`, `relation` and `object`",
            ));
        }
    };
    if let Some(expires) = &body.expires_at {
        relationship.expires_at = Some(parse_rfc3339_micros(expires)?);
    }
    if let Some(caveat) = &body.caveat {
        relationship.caveat = Some(RelationshipCaveat {
            name: caveat.name.clone(),
            context: caveat.context.clone(),
        });
    }
    Ok(relationship)
}

/// The updates of a write request.
pub fn updates_of(
    updates: &[RelationshipUpdateRequest],
) -> Result<Vec<RelationshipUpdate>, FsError> {
    if updates.is_empty() {
        return Err(FsError::invalid("`updates` is empty"));
    }
    updates
        .iter()
        .map(|update| {
            let operation = match update.operation.as_str() {
                "create" => Operation::Create,
                "touch" => Operation::Touch,
                "delete" => Operation::Delete,
                other => {
                    return Err(FsError::invalid(format!(
                        "unknown operation `{other}`: use create, touch or delete"
                    )));
                }
            };
            Ok(RelationshipUpdate {
                operation,
                relationship: relationship_of(update)?,
            })
        })
        .collect()
}

/// The filter a request describes.
pub fn filter_of(body: &RelationshipFilterRequest) -> Result<RelationshipFilter, FsError> {
    let mut filter = RelationshipFilter {
        relation: body.relation.clone(),
        ..RelationshipFilter::default()
    };
    if let Some(resource) = &body.resource {
        if resource.contains(':') || resource.starts_with('/') {
            let object = parse_object(resource)?;
            filter.resource_type = Some(object.object_type);
            filter.resource_id = Some(object.object_id);
        } else {
            filter.resource_type = Some(resource.clone());
        }
    }
    if let Some(subject) = &body.subject {
        if subject.contains(':') {
            let subject = parse_subject(subject)?;
            filter.subject_type = Some(subject.object.object_type);
            filter.subject_id = Some(subject.object.object_id);
            filter.subject_relation = Some(subject.relation);
        } else {
            filter.subject_type = Some(subject.clone());
        }
    }
    Ok(filter)
}

/// The organization of the one resource a filter names.
pub fn filter_org(filter: &RelationshipFilter) -> Option<OrgId> {
    match (&filter.resource_type, &filter.resource_id) {
        (Some(kind), Some(id)) => {
            crate::authz::org_of_object(&ObjectRef::new(kind.clone(), id.clone()))
        }
        _ => None,
    }
}

/// The organization of a path (none for `/`, `/orgs` and invalid paths).
pub fn org_of_path(path: &str) -> Option<OrgId> {
    crate::authz::org_of_object(&ObjectRef::new("file", path))
}

/// A client's `at_least`: a revision token (or, from the system, a revision number).
pub fn at_least_text(value: Option<&Value>) -> Result<Option<String>, FsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) if number.is_u64() => Ok(Some(number.to_string())),
        Some(_) => Err(FsError::invalid(
            "`at_least` is the `revision` token of an earlier response",
        )),
    }
}
