//! ACLs: `POST /api/acl` (setfacl) and `GET /api/acl/{path}` (getfacl).

use axum::extract::{Path, State};
use axum::response::Response;
use nexus_api::{AclResponse, SetfaclRequest};
use nexus_core::wire::org_of_path;

use super::{AppState, Caller, JsonBody, absolute, revisioned};
use crate::error::ApiResult;

/// Set one subject's ACL entry on a path (`---` removes it).
#[utoipa::path(post, path = "/api/acl", tag = "acl", operation_id = "acl_setfacl",
    request_body = SetfaclRequest,
    responses((status = 200, description = "The path's ACL after the change (also `X-Nexus-Revision`)", body = AclResponse)))]
pub async fn acl_setfacl(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<SetfaclRequest>,
) -> ApiResult<Response> {
    crate::audit::note_place(crate::audit::org_of_path(&body.path), body.path.clone());
    let listing = state
        .fs
        .relationships()
        .setfacl(&context, &body.path, &body.entry)
        .await?;
    revisioned(
        &state,
        &context,
        org_of_path(&body.path).as_ref(),
        |revision| AclResponse { listing, revision },
    )
}

/// The ACL entries and role grants stored on a path.
#[utoipa::path(get, path = "/api/acl/{*path}", tag = "acl", operation_id = "acl_getfacl",
    params(("path" = String, Path, description = "A path below `/` without the leading slash; may contain `/`.")),
    responses((status = 200, description = "The path's ACL (also `X-Nexus-Revision`)", body = AclResponse)))]
pub async fn acl_getfacl(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let path = absolute(&path);
    let listing = state.fs.relationships().getfacl(&context, &path)?;
    revisioned(&state, &context, org_of_path(&path).as_ref(), |revision| {
        AclResponse { listing, revision }
    })
}
