//! Organizations and the seed's members API: `/api/orgs`, `/api/orgs/{org}/members`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use nexus_api::{
    AddMemberRequest, AddMemberResponse, CreateOrgRequest, MemberList, OrgList, OrgSummary,
    ProvisionReport, RemoveMemberResponse,
};
use nexus_core::{MemberSpec, OrgId, OrgSpec, WorkspaceSpec};

use super::{AppState, Caller, JsonBody};
use crate::error::{ApiError, ApiResult};

/// The organizations the caller belongs to (every one, for the system).
#[utoipa::path(get, path = "/api/orgs", tag = "orgs", operation_id = "orgs_list",
    responses((status = 200, description = "The organizations", body = OrgList)))]
pub async fn orgs_list(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> ApiResult<axum::Json<OrgList>> {
    let orgs = state
        .fs
        .orgs()
        .list(&context)
        .await?
        .into_iter()
        .map(|record| OrgSummary {
            org_id: record.org_id,
            name: record.name,
            created_at: record.created_at,
        })
        .collect();
    Ok(axum::Json(OrgList { orgs }))
}

/// Create an organization with its record, shared folders and workspaces (system
/// administrators).
#[utoipa::path(post, path = "/api/orgs", tag = "orgs", operation_id = "orgs_create",
    request_body = CreateOrgRequest,
    responses(
        (status = 201, description = "Created", body = ProvisionReport),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn orgs_create(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CreateOrgRequest>,
) -> ApiResult<(StatusCode, axum::Json<ProvisionReport>)> {
    let id = OrgId::parse(&body.id).map_err(|error| ApiError::invalid(error.to_string()))?;
    let spec = OrgSpec {
        id,
        name: body.name,
        workspaces: body
            .workspaces
            .into_iter()
            .map(|id| WorkspaceSpec { id, name: None })
            .collect(),
        members: Vec::new(),
        settings: serde_json::Map::new(),
    };
    let report = state.fs.orgs().create(&context, spec).await?;
    Ok((StatusCode::CREATED, axum::Json(report)))
}

/// The members of an organization (the `members` array of its `org.json`).
#[utoipa::path(get, path = "/api/orgs/{org}/members", tag = "orgs", operation_id = "members_list",
    params(("org" = String, Path, description = "The organization id")),
    responses((status = 200, description = "The members", body = MemberList)))]
pub async fn members_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<MemberList>> {
    let members = state.fs.orgs().members(&context, &org).await?;
    Ok(axum::Json(MemberList {
        org_id: org,
        members: members
            .into_iter()
            .map(|member| state.fs.orgs().member_view(member))
            .collect(),
    }))
}

/// Add a member: `org.json` and access change in one transaction.
#[utoipa::path(post, path = "/api/orgs/{org}/members", tag = "orgs", operation_id = "members_add",
    params(("org" = String, Path, description = "The organization id")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = AddMemberResponse),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn members_add(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<AddMemberRequest>,
) -> ApiResult<(StatusCode, axum::Json<AddMemberResponse>)> {
    let member = state
        .fs
        .orgs()
        .add_member(
            &context,
            &org,
            MemberSpec {
                user_id: body.user_id.clone(),
                role: body.role,
                kind: body.kind,
                workspaces: body.workspaces.clone(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AddMemberResponse {
            success: true,
            org_id: org,
            user_id: body.user_id,
            role: body.role,
            workspaces: body.workspaces,
            member: state.fs.orgs().member_view(member),
        }),
    ))
}

/// Remove a member: all their access in the organization ends at once.
#[utoipa::path(delete, path = "/api/orgs/{org}/members/{user}", tag = "orgs", operation_id = "members_remove",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("user" = String, Path, description = "The member's handle, stable id or agent id"),
    ),
    responses(
        (status = 200, description = "Removed", body = RemoveMemberResponse),
        (status = 409, description = "Conflict", body = nexus_api::ErrorBody),
    ))]
pub async fn members_remove(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<axum::Json<RemoveMemberResponse>> {
    state.fs.orgs().remove_member(&context, &org, &user).await?;
    Ok(axum::Json(RemoveMemberResponse {
        success: true,
        removed: user,
    }))
}
