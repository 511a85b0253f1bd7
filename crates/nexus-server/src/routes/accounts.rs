//! Who is calling, the registry of principals, and API keys: `/api/whoami`, `/api/users`,
//! `/api/keys`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use nexus_api::{CreateKeyRequest, KeyList, NewApiKey, RevokeKeyResponse, UserList, Whoami};

use super::{AppState, Caller, JsonBody};
use crate::error::ApiResult;

/// Who the credentials act as, and the organizations they reach.
#[utoipa::path(get, path = "/api/whoami", tag = "accounts", operation_id = "accounts_whoami",
    responses((status = 200, description = "The caller", body = Whoami)))]
pub async fn accounts_whoami(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> ApiResult<axum::Json<Whoami>> {
    Ok(axum::Json(state.fs.accounts().whoami(&context).await?))
}

/// Every registered user and agent (system administrators).
#[utoipa::path(get, path = "/api/users", tag = "accounts", operation_id = "users_list",
    responses((status = 200, description = "The principals", body = UserList)))]
pub async fn users_list(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> ApiResult<axum::Json<UserList>> {
    Ok(axum::Json(UserList {
        users: state.fs.accounts().users(&context)?,
    }))
}

/// API keys the caller may see: all for the system, else its own (never their secrets).
#[utoipa::path(get, path = "/api/keys", tag = "keys", operation_id = "keys_list",
    responses((status = 200, description = "The keys", body = KeyList)))]
pub async fn keys_list(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> axum::Json<KeyList> {
    axum::Json(KeyList {
        keys: state.fs.accounts().keys(&context),
    })
}

/// Create an API key (its secret is shown once).
#[utoipa::path(post, path = "/api/keys", tag = "keys", operation_id = "keys_create",
    request_body = CreateKeyRequest,
    responses((status = 201, description = "Created; `secret` is shown only now", body = NewApiKey)))]
pub async fn keys_create(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CreateKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<NewApiKey>)> {
    let principal = body
        .principal
        .unwrap_or_else(|| context.principal.to_string());
    let key = state
        .fs
        .accounts()
        .create_key(&context, &principal, &body.description)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(key)))
}

/// Revoke an API key: refused from the next request on.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys", operation_id = "keys_revoke",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "Revoked", body = RevokeKeyResponse)))]
pub async fn keys_revoke(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RevokeKeyResponse>> {
    state.fs.accounts().revoke_key(&context, &id).await?;
    Ok(axum::Json(RevokeKeyResponse { revoked: id }))
}
