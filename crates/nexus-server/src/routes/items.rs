//! The knowledge layer: `/api/orgs/{org}/items`, `/sessions`, `/workflow/resolved` and
//! `/users/{user}/manager` (see `docs/knowledge.md`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nexus_api::{
    AddSessionMember, AssignRequest, CreateItem, CreateSession, Item, ItemAccess, ItemCreated,
    ItemList, ItemListQuery, ReportingLine, ResolvedWorkflow, Session, SessionList,
    SessionListQuery, SetManager, ShareRequest, UpdateItem,
};
use nexus_core::ItemQuery;

use super::{AppState, Caller, JsonBody, QueryResult, header_text, quoted};
use crate::error::ApiResult;

/// An item as JSON with its `ETag`.
fn item_response(status: StatusCode, item: &Item) -> Response {
    let mut response = (status, axum::Json(item)).into_response();
    if let Some(value) = quoted(&item.etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn if_match(headers: &HeaderMap) -> ApiResult<Option<String>> {
    Ok(header_text(headers, &header::IF_MATCH)?.map(ToOwned::to_owned))
}

/// Create an item: `scope` is `personal`, `UNIV` or a session's `s_XXXX`; `data` follows
/// the environment's schema.
#[utoipa::path(post, path = "/api/orgs/{org}/items", tag = "items", operation_id = "items_create",
    params(("org" = String, Path, description = "The organization id")),
    request_body = CreateItem,
    responses(
        (status = 201, description = "Created (durable)", body = ItemCreated, headers(("ETag" = String, description = "The item's entity tag"))),
        (status = 409, description = "An item with this key exists", body = nexus_api::ErrorBody),
        (status = 422, description = "Outside the scoping matrix", body = nexus_api::ErrorBody),
    ))]
pub async fn items_create(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<CreateItem>,
) -> ApiResult<Response> {
    let created = state.fs.items().create(&context, &org, body).await?;
    let mut response = (StatusCode::CREATED, axum::Json(&created)).into_response();
    if let Some(value) = quoted(&created.etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// The items the caller may read, filtered, a page at a time (`q`: keyword search).
#[utoipa::path(get, path = "/api/orgs/{org}/items", tag = "items", operation_id = "items_list",
    params(("org" = String, Path, description = "The organization id"), ItemListQuery),
    responses((status = 200, description = "One page", body = ItemList)))]
pub async fn items_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    query: QueryResult<ItemListQuery>,
) -> ApiResult<axum::Json<ItemList>> {
    let Query(query) = query?;
    let list = state
        .fs
        .items()
        .list(
            &context,
            &org,
            ItemQuery {
                env: query.env,
                scope: query.scope,
                kind: query.kind,
                owner: query.owner,
                since: query.since,
                until: query.until,
                q: query.q,
                cursor: query.cursor,
                limit: query.limit,
            },
        )
        .await?;
    Ok(axum::Json(list))
}

/// One item.
#[utoipa::path(get, path = "/api/orgs/{org}/items/{key}", tag = "items", operation_id = "items_get",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
    ),
    responses((status = 200, description = "The item", body = Item, headers(("ETag" = String, description = "The item's entity tag")))))]
pub async fn items_get(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let item = state.fs.items().get(&context, &org, &key).await?;
    Ok(item_response(StatusCode::OK, &item))
}

/// Replace an item's data (with `If-Match`, only if nobody changed it since).
#[utoipa::path(put, path = "/api/orgs/{org}/items/{key}", tag = "items", operation_id = "items_update",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Update only if the current ETag is this one"),
    ),
    request_body = UpdateItem,
    responses(
        (status = 200, description = "Updated", body = Item, headers(("ETag" = String, description = "The new entity tag"))),
        (status = 412, description = "Changed meanwhile", body = nexus_api::ErrorBody),
    ))]
pub async fn items_update(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateItem>,
) -> ApiResult<Response> {
    let item = state
        .fs
        .items()
        .update(&context, &org, &key, body.data, if_match(&headers)?)
        .await?;
    Ok(item_response(StatusCode::OK, &item))
}

/// Delete an item with its shares (its creator, the scope's owner, an organization admin).
#[utoipa::path(delete, path = "/api/orgs/{org}/items/{key}", tag = "items", operation_id = "items_delete",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Delete only if the current ETag is this one"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "Changed meanwhile", body = nexus_api::ErrorBody),
    ))]
pub async fn items_delete(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    state
        .fs
        .items()
        .delete(&context, &org, &key, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Share an item: with named users, the whole organization, or a session's members.
#[utoipa::path(post, path = "/api/orgs/{org}/items/{key}/share", tag = "items", operation_id = "items_share",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
    ),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "Who can read it now", body = ItemAccess),
        (status = 409, description = "The session has ended", body = nexus_api::ErrorBody),
        (status = 422, description = "Outside the scoping matrix", body = nexus_api::ErrorBody),
    ))]
pub async fn items_share(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<ShareRequest>,
) -> ApiResult<axum::Json<ItemAccess>> {
    let access = state
        .fs
        .items()
        .share(&context, &org, &key, body, true)
        .await?;
    Ok(axum::Json(access))
}

/// Take a share back (same shapes as sharing).
#[utoipa::path(post, path = "/api/orgs/{org}/items/{key}/unshare", tag = "items", operation_id = "items_unshare",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
    ),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "Who can read it now", body = ItemAccess),
        (status = 422, description = "Outside the scoping matrix", body = nexus_api::ErrorBody),
    ))]
pub async fn items_unshare(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<ShareRequest>,
) -> ApiResult<axum::Json<ItemAccess>> {
    let access = state
        .fs
        .items()
        .share(&context, &org, &key, body, false)
        .await?;
    Ok(axum::Json(access))
}

/// Who can read an item, and why.
#[utoipa::path(get, path = "/api/orgs/{org}/items/{key}/access", tag = "items", operation_id = "items_access",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
    ),
    responses((status = 200, description = "Readers and reasons", body = ItemAccess)))]
pub async fn items_access(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
) -> ApiResult<axum::Json<ItemAccess>> {
    Ok(axum::Json(state.fs.items().access(&context, &org, &key)?))
}

/// Set a Track task's assignees (a manager: within the team).
#[utoipa::path(post, path = "/api/orgs/{org}/items/{key}/assign", tag = "items", operation_id = "items_assign",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("key" = String, Path, description = "`env:scope:YYYYMMDD:kind:id`"),
    ),
    request_body = AssignRequest,
    responses((status = 200, description = "The item", body = Item, headers(("ETag" = String, description = "The new entity tag")))))]
pub async fn items_assign(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignRequest>,
) -> ApiResult<Response> {
    let item = state
        .fs
        .items()
        .assign(&context, &org, &key, body.assignees)
        .await?;
    Ok(item_response(StatusCode::OK, &item))
}

/// The caller's effective protocols: the organization's, overridden name by name by the
/// caller's own.
#[utoipa::path(get, path = "/api/orgs/{org}/workflow/resolved", tag = "items", operation_id = "workflow_resolve",
    params(("org" = String, Path, description = "The organization id")),
    responses((status = 200, description = "The resolved protocols", body = ResolvedWorkflow)))]
pub async fn workflow_resolve(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
) -> ApiResult<axum::Json<ResolvedWorkflow>> {
    Ok(axum::Json(
        state.fs.items().resolve_workflow(&context, &org).await?,
    ))
}

/// A member's reporting line.
#[utoipa::path(get, path = "/api/orgs/{org}/users/{user}/manager", tag = "orgs", operation_id = "users_manager",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("user" = String, Path, description = "A member's handle or stable id"),
    ),
    responses((status = 200, description = "Manager and subordinates", body = ReportingLine)))]
pub async fn users_manager(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<axum::Json<ReportingLine>> {
    Ok(axum::Json(
        state.fs.orgs().reporting_line(&context, &org, &user)?,
    ))
}

/// Set or clear a member's manager (organization admins).
#[utoipa::path(put, path = "/api/orgs/{org}/users/{user}/manager", tag = "orgs", operation_id = "users_set_manager",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("user" = String, Path, description = "A member's handle or stable id"),
    ),
    request_body = SetManager,
    responses(
        (status = 200, description = "The new reporting line", body = ReportingLine),
        (status = 409, description = "It would make a cycle", body = nexus_api::ErrorBody),
    ))]
pub async fn users_set_manager(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetManager>,
) -> ApiResult<axum::Json<ReportingLine>> {
    Ok(axum::Json(
        state
            .fs
            .orgs()
            .set_manager(&context, &org, &user, body.manager.as_deref())
            .await?,
    ))
}

/// Start a session owned by the caller.
#[utoipa::path(post, path = "/api/orgs/{org}/sessions", tag = "sessions", operation_id = "sessions_start",
    params(("org" = String, Path, description = "The organization id")),
    request_body = CreateSession,
    responses((status = 201, description = "Started", body = Session)))]
pub async fn sessions_start(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<CreateSession>,
) -> ApiResult<(StatusCode, axum::Json<Session>)> {
    let session = state.fs.sessions().start(&context, &org, body).await?;
    Ok((StatusCode::CREATED, axum::Json(session)))
}

/// The sessions the caller takes part in, newest first.
#[utoipa::path(get, path = "/api/orgs/{org}/sessions", tag = "sessions", operation_id = "sessions_list",
    params(("org" = String, Path, description = "The organization id"), SessionListQuery),
    responses((status = 200, description = "The sessions", body = SessionList)))]
pub async fn sessions_list(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(org): Path<String>,
    query: QueryResult<SessionListQuery>,
) -> ApiResult<axum::Json<SessionList>> {
    let Query(query) = query?;
    Ok(axum::Json(
        state
            .fs
            .sessions()
            .list(&context, &org, query.active)
            .await?,
    ))
}

/// One session.
#[utoipa::path(get, path = "/api/orgs/{org}/sessions/{stable_id}", tag = "sessions", operation_id = "sessions_get",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("stable_id" = String, Path, description = "`s_XXXX`"),
    ),
    responses((status = 200, description = "The session", body = Session)))]
pub async fn sessions_get(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, session)): Path<(String, String)>,
) -> ApiResult<axum::Json<Session>> {
    Ok(axum::Json(
        state.fs.sessions().get(&context, &org, &session).await?,
    ))
}

/// Add a member of the organization to a group session (its owner or an organization
/// admin).
#[utoipa::path(post, path = "/api/orgs/{org}/sessions/{stable_id}/members", tag = "sessions", operation_id = "sessions_add",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("stable_id" = String, Path, description = "`s_XXXX`"),
    ),
    request_body = AddSessionMember,
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 409, description = "Ended, or solo", body = nexus_api::ErrorBody),
    ))]
pub async fn sessions_add(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, session)): Path<(String, String)>,
    JsonBody(body): JsonBody<AddSessionMember>,
) -> ApiResult<axum::Json<Session>> {
    Ok(axum::Json(
        state
            .fs
            .sessions()
            .add_member(&context, &org, &session, &body.user_id)
            .await?,
    ))
}

/// End a session (its owner or an organization admin).
#[utoipa::path(post, path = "/api/orgs/{org}/sessions/{stable_id}/end", tag = "sessions", operation_id = "sessions_end",
    params(
        ("org" = String, Path, description = "The organization id"),
        ("stable_id" = String, Path, description = "`s_XXXX`"),
    ),
    responses((status = 200, description = "The ended session", body = Session)))]
pub async fn sessions_end(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path((org, session)): Path<(String, String)>,
) -> ApiResult<axum::Json<Session>> {
    Ok(axum::Json(
        state.fs.sessions().end(&context, &org, &session).await?,
    ))
}
