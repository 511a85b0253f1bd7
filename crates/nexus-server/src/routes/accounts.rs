//! Who is calling, the registry of principals, API keys and delegations: `/api/whoami`,
//! `/api/users`, `/api/keys`, `/api/delegations`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use nexus_api::{
    AccountChange, CreateDelegation, CreateKeyRequest, DelegationList, KeyList, NewApiKey,
    NewDelegation, RevokeKeyResponse, UserList, Whoami,
};

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

/// Lock an account (system administrators): its memberships are suspended in every
/// organization, ending all access at once.
#[utoipa::path(post, path = "/api/admin/users/{user}/lock", tag = "accounts", operation_id = "users_lock",
    params(("user" = String, Path, description = "A user's handle or stable id")),
    responses((status = 200, description = "Locked", body = AccountChange)))]
pub async fn users_lock(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(user): Path<String>,
) -> ApiResult<axum::Json<AccountChange>> {
    Ok(axum::Json(state.fs.accounts().lock(&context, &user).await?))
}

/// Unlock an account: the memberships its lock suspended are active again.
#[utoipa::path(post, path = "/api/admin/users/{user}/unlock", tag = "accounts", operation_id = "users_unlock",
    params(("user" = String, Path, description = "A user's handle or stable id")),
    responses((status = 200, description = "Unlocked", body = AccountChange)))]
pub async fn users_unlock(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(user): Path<String>,
) -> ApiResult<axum::Json<AccountChange>> {
    Ok(axum::Json(
        state.fs.accounts().unlock(&context, &user).await?,
    ))
}

/// Emergency lockout: every credential of the user stops working from the next request on
/// (API keys revoked, tokens issued before now refused), and the account is locked.
#[utoipa::path(post, path = "/api/admin/users/{user}/lockout", tag = "accounts", operation_id = "users_lockout",
    params(("user" = String, Path, description = "A user's handle or stable id")),
    responses((status = 200, description = "Locked out", body = AccountChange)))]
pub async fn users_lockout(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(user): Path<String>,
) -> ApiResult<axum::Json<AccountChange>> {
    Ok(axum::Json(
        state.fs.accounts().lockout(&context, &user).await?,
    ))
}

/// Delete an account: removed from every organization, its keys revoked, its personal
/// knowledge items removed; its stable id is never reused.
#[utoipa::path(delete, path = "/api/admin/users/{user}", tag = "accounts", operation_id = "users_delete",
    params(("user" = String, Path, description = "A user's handle or stable id")),
    responses((status = 200, description = "Deleted", body = AccountChange)))]
pub async fn users_delete(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(user): Path<String>,
) -> ApiResult<axum::Json<AccountChange>> {
    Ok(axum::Json(
        state.fs.accounts().delete_user(&context, &user).await?,
    ))
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

/// Let an agent act on your behalf until the delegation expires (users only). The agent
/// presents the returned `secret`; each of its requests then has the intersection of the
/// agent's and your permissions (your personal items, except Locker, count as the agent's),
/// and the audit log names both. The secret is shown once.
#[utoipa::path(post, path = "/api/delegations", tag = "keys", operation_id = "delegations_create",
    request_body = CreateDelegation,
    responses((status = 201, description = "Created; `secret` is shown only now", body = NewDelegation)))]
pub async fn delegations_create(
    State(state): State<AppState>,
    Caller(context): Caller,
    JsonBody(body): JsonBody<CreateDelegation>,
) -> ApiResult<(StatusCode, axum::Json<NewDelegation>)> {
    let ttl = crate::auth::parse_ttl(body.expires_in.as_deref().unwrap_or("8h"))
        .map_err(|error| crate::error::ApiError::invalid(format!("`expires_in`: {error}")))?;
    let created = state
        .fs
        .accounts()
        .create_delegation(&context, &body.agent, ttl, &body.description)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// The delegations you granted (a user), those granted to you (an agent), or all (the
/// system administrator); never their secrets.
#[utoipa::path(get, path = "/api/delegations", tag = "keys", operation_id = "delegations_list",
    responses((status = 200, description = "The delegations", body = DelegationList)))]
pub async fn delegations_list(
    State(state): State<AppState>,
    Caller(context): Caller,
) -> axum::Json<DelegationList> {
    axum::Json(DelegationList {
        delegations: state.fs.accounts().delegations(&context),
    })
}

/// End a delegation now (the user who granted it, the agent, or the system administrator).
#[utoipa::path(delete, path = "/api/delegations/{id}", tag = "keys", operation_id = "delegations_revoke",
    params(("id" = String, Path, description = "The delegation's id")),
    responses((status = 200, description = "Revoked", body = RevokeKeyResponse)))]
pub async fn delegations_revoke(
    State(state): State<AppState>,
    Caller(context): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RevokeKeyResponse>> {
    state.fs.accounts().revoke_delegation(&context, &id).await?;
    Ok(axum::Json(RevokeKeyResponse { revoked: id }))
}
