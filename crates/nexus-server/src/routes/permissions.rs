//! Permission questions and the schema: `/api/rebac/check`, `/expand`,
//! `/lookup-resources`, `/lookup-subjects`, `/schema`.

use axum::extract::State;
use axum::response::Response;
use nexus_api::{
    CheckRequest, CheckResponse, ExpandRequest, ExpandResponse, FoundResource,
    LookupResourcesRequest, LookupResourcesResponse, LookupSubjectsRequest, LookupSubjectsResponse,
    SchemaResponse, WriteSchemaRequest, WriteSchemaResponse,
};
use nexus_core::views;
use nexus_core::wire::{at_least_text, parse_object, parse_subject};

use super::{AppState, Caller, JsonBody, revisioned};
use crate::error::ApiResult;
use crate::metrics;

/// Whether a subject has a permission on an object.
#[utoipa::path(post, path = "/api/rebac/check", tag = "permissions", operation_id = "permissions_check",
    request_body = CheckRequest,
    responses((status = 200, description = "The answer (also `X-Nexus-Revision`)", body = CheckResponse)))]
pub async fn permissions_check(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CheckRequest>,
) -> ApiResult<Response> {
    let resource = parse_object(&body.object)?;
    let subject = parse_subject(&body.subject)?;
    let at_least = at_least_text(body.at_least.as_ref())?;
    state
        .fs
        .relationships()
        .await_fresh(&context, at_least.as_deref())
        .await?;
    let result = state.fs.relationships().check(
        &context,
        nexus_core::CheckQuery {
            resource: &resource,
            permission: &body.permission,
            subject: &subject,
            context: body.context.as_ref(),
            at_least: at_least.as_deref(),
        },
    )?;
    metrics::permission_check(result == nexus_rebac::CheckResult::Has);
    let org = nexus_core::authz::org_of_object(&resource);
    revisioned(&state, &context, org.as_ref(), |revision| CheckResponse {
        answer: views::check_answer(&result),
        revision,
    })
}

/// The tree of how a permission on an object is formed.
#[utoipa::path(post, path = "/api/rebac/expand", tag = "permissions", operation_id = "permissions_expand",
    request_body = ExpandRequest,
    responses((status = 200, description = "The tree (also `X-Nexus-Revision`)", body = ExpandResponse)))]
pub async fn permissions_expand(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<ExpandRequest>,
) -> ApiResult<Response> {
    let object = parse_object(&body.object)?;
    let tree =
        state
            .fs
            .relationships()
            .expand(&context, &object, &body.permission, body.recursive)?;
    let org = nexus_core::authz::org_of_object(&object);
    revisioned(&state, &context, org.as_ref(), |revision| ExpandResponse {
        tree: views::expand_tree(&tree),
        revision,
    })
}

/// Objects of a type on which a subject has a permission.
#[utoipa::path(post, path = "/api/rebac/lookup-resources", tag = "permissions", operation_id = "permissions_lookup_resources",
    request_body = LookupResourcesRequest,
    responses((status = 200, description = "The resources (also `X-Nexus-Revision`)", body = LookupResourcesResponse)))]
pub async fn permissions_lookup_resources(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<LookupResourcesRequest>,
) -> ApiResult<Response> {
    let found = state.fs.relationships().lookup_resources(
        &context,
        &body.resource_type,
        &body.permission,
        &parse_subject(&body.subject)?,
        body.context.as_ref(),
    )?;
    revisioned(&state, &context, None, |revision| LookupResourcesResponse {
        resources: found
            .iter()
            .map(|found| FoundResource {
                id: found.id.clone(),
                result: views::outcome(&found.result),
            })
            .collect(),
        revision,
    })
}

/// Subjects of a type with a permission on an object.
#[utoipa::path(post, path = "/api/rebac/lookup-subjects", tag = "permissions", operation_id = "permissions_lookup_subjects",
    request_body = LookupSubjectsRequest,
    responses((status = 200, description = "The subjects (also `X-Nexus-Revision`)", body = LookupSubjectsResponse)))]
pub async fn permissions_lookup_subjects(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<LookupSubjectsRequest>,
) -> ApiResult<Response> {
    let (subject_type, relation) = match body.subject_type.split_once('#') {
        Some((kind, relation)) => (kind, Some(relation)),
        None => (body.subject_type.as_str(), None),
    };
    let object = parse_object(&body.object)?;
    let found = state.fs.relationships().lookup_subjects(
        &context,
        &object,
        &body.permission,
        subject_type,
        relation,
        body.context.as_ref(),
    )?;
    let org = nexus_core::authz::org_of_object(&object);
    revisioned(&state, &context, org.as_ref(), |revision| {
        LookupSubjectsResponse {
            found: views::subjects_found(&found),
            revision,
        }
    })
}

/// The permission schema in force.
#[utoipa::path(get, path = "/api/rebac/schema", tag = "permissions", operation_id = "schema_read",
    responses((status = 200, description = "The schema (also `X-Nexus-Revision`)", body = SchemaResponse)))]
pub async fn schema_read(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> ApiResult<Response> {
    let (schema, custom) = state.fs.relationships().schema();
    revisioned(&state, &context, None, |revision| SchemaResponse {
        schema,
        custom,
        revision,
    })
}

/// Replace the permission schema (system administrators).
#[utoipa::path(put, path = "/api/rebac/schema", tag = "permissions", operation_id = "schema_write",
    request_body = WriteSchemaRequest,
    responses((status = 200, description = "Written (also `X-Nexus-Revision`)", body = WriteSchemaResponse)))]
pub async fn schema_write(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<WriteSchemaRequest>,
) -> ApiResult<Response> {
    state
        .fs
        .relationships()
        .write_schema(&context, &body.schema)
        .await?;
    revisioned(&state, &context, None, |written_at| WriteSchemaResponse {
        revision: written_at.clone(),
        written_at,
    })
}
