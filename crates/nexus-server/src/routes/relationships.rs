//! Relationship administration: `/api/rebac/relationships[/read|/delete]` and the change
//! log `/api/rebac/changes`.

use axum::extract::{Query, State};
use axum::response::Response;
use nexus_api::{
    ChangesQuery, ChangesResponse, DeleteRelationshipsResponse, ReadRelationshipsResponse,
    RecordedChange, RelationshipChange, RelationshipFilterRequest, WriteRelationshipsRequest,
    WriteRelationshipsResponse,
};
use nexus_core::ChangeOperation;
use nexus_core::wire::{at_least_text, filter_of, filter_org, parse_relationship, updates_of};
use nexus_rebac::{Operation, WritePrecondition};

use super::{AppState, Caller, JsonBody, QueryResult, revisioned};
use crate::error::ApiResult;

fn operation_name(deleted: bool) -> String {
    if deleted { "delete" } else { "touch" }.to_owned()
}

/// Create, touch or delete relationships atomically, as one revision.
#[utoipa::path(post, path = "/api/rebac/relationships", tag = "relationships", operation_id = "relationships_write",
    request_body = WriteRelationshipsRequest,
    responses(
        (status = 200, description = "Written (also `X-Nexus-Revision`)", body = WriteRelationshipsResponse),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
        (status = 412, description = "Precondition failed", body = nexus_api::ErrorBody),
    ))]
pub async fn relationships_write(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<WriteRelationshipsRequest>,
) -> ApiResult<Response> {
    let updates = updates_of(&body.updates)?;
    let org =
        nexus_core::authz::one_org(updates.iter().map(|update| &update.relationship.resource));
    crate::audit::note_place(
        org.clone(),
        updates.first().map_or_else(String::new, |update| {
            update.relationship.resource.to_string()
        }),
    );
    let outcome = state
        .fs
        .relationships()
        .write(&context, updates, Vec::<WritePrecondition>::new())
        .await?;
    revisioned(&state, &context, org.as_ref(), |written_at| {
        WriteRelationshipsResponse {
            changes: outcome
                .changes
                .iter()
                .map(|change| RelationshipChange {
                    operation: operation_name(change.operation == Operation::Delete),
                    relationship: change.relationship.to_string(),
                })
                .collect(),
            revision: written_at.clone(),
            written_at,
        }
    })
}

/// Stored relationships matching a filter.
#[utoipa::path(post, path = "/api/rebac/relationships/read", tag = "relationships", operation_id = "relationships_read",
    request_body = RelationshipFilterRequest,
    responses((status = 200, description = "The relationships (also `X-Nexus-Revision`)", body = ReadRelationshipsResponse)))]
pub async fn relationships_read(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<RelationshipFilterRequest>,
) -> ApiResult<Response> {
    state
        .fs
        .relationships()
        .await_fresh(&context, at_least_text(body.at_least.as_ref())?.as_deref())
        .await?;
    let filter = filter_of(&body)?;
    let limit = body.limit.unwrap_or(1000).clamp(1, 10_000);
    let after = body.after.as_deref().map(parse_relationship).transpose()?;
    let found = state
        .fs
        .relationships()
        .read(&context, &filter, after.as_ref(), limit)?;
    revisioned(&state, &context, filter_org(&filter).as_ref(), |revision| {
        ReadRelationshipsResponse {
            relationships: found.iter().map(ToString::to_string).collect(),
            revision,
        }
    })
}

/// Delete the relationships matching a filter, as one revision.
#[utoipa::path(post, path = "/api/rebac/relationships/delete", tag = "relationships", operation_id = "relationships_delete",
    request_body = RelationshipFilterRequest,
    responses((status = 200, description = "Deleted (also `X-Nexus-Revision`)", body = DeleteRelationshipsResponse)))]
pub async fn relationships_delete(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<RelationshipFilterRequest>,
) -> ApiResult<Response> {
    let filter = filter_of(&body)?;
    let org = filter_org(&filter);
    crate::audit::note_place(
        org.clone(),
        format!(
            "{}:{}",
            filter.resource_type.as_deref().unwrap_or("*"),
            filter.resource_id.as_deref().unwrap_or("*")
        ),
    );
    let outcome = state.fs.relationships().delete(&context, filter).await?;
    revisioned(&state, &context, org.as_ref(), |written_at| {
        DeleteRelationshipsResponse {
            deleted: outcome.changes.len(),
            revision: written_at.clone(),
            written_at,
        }
    })
}

/// Relationship changes after a revision (system administrators).
#[utoipa::path(get, path = "/api/rebac/changes", tag = "relationships", operation_id = "relationships_changes",
    params(ChangesQuery),
    responses((status = 200, description = "The changes (also `X-Nexus-Revision`)", body = ChangesResponse)))]
pub async fn relationships_changes(
    State(state): State<AppState>,
    Caller(context): Caller,
    query: QueryResult<ChangesQuery>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(1000).clamp(1, 100_000);
    let changes = state
        .fs
        .relationships()
        .changes(&context, query.since, limit)
        .await?;
    revisioned(&state, &context, None, |revision| ChangesResponse {
        changes: changes
            .iter()
            .map(|recorded| RecordedChange {
                revision: recorded.revision,
                operation: operation_name(recorded.change.operation == ChangeOperation::Delete),
                relationship: recorded.change.relationship.to_string(),
            })
            .collect(),
        revision,
    })
}
