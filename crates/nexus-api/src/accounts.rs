//! Principals and API keys.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A registered principal, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrincipalInfo {
    /// `user` or `agent`.
    pub kind: String,
    /// The stable id.
    pub id: String,
    pub handle: String,
    pub created_at: String,
}

/// `GET /api/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<PrincipalInfo>,
}

/// `GET /api/whoami`: who the credentials act as, and the organizations they reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Whoami {
    /// `system`, `user` or `agent`.
    pub kind: String,
    /// The stable id (`system` for the operator).
    pub id: String,
    /// The login handle (users and agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    pub orgs: Vec<String>,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: String,
    pub principal: String,
    pub description: String,
    pub created_at: String,
    pub revoked: bool,
}

/// `GET /api/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<ApiKeyInfo>,
}

/// A newly created key: the only time its secret is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewApiKey {
    pub id: String,
    /// The secret to present as `Authorization: Bearer <secret>`; shown once.
    pub secret: String,
    /// Whom the key acts as, as stored (`user:u_k3x9`).
    pub principal: String,
    /// The same as people know it (`user:alice@acme.com`).
    #[serde(default)]
    pub name: String,
}

/// `POST /api/keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// `system`, `user:<handle or id>` or `agent:<name or id>`; the caller itself when absent.
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// The answer to revoking a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevokeKeyResponse {
    pub revoked: String,
}

/// What locking, unlocking or deleting an account did (`POST /api/users/{user}/lock`,
/// `.../unlock`, `DELETE /api/users/{user}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountChange {
    /// The user's stable id.
    pub user: String,
    /// The organizations where the change applied.
    pub orgs: Vec<String>,
    /// Whether the account is locked now.
    pub locked: bool,
    /// API keys revoked (deleting).
    #[serde(default)]
    pub revoked_keys: u64,
    /// Files of the user's personal knowledge items removed (deleting).
    #[serde(default)]
    pub removed_items: u64,
}
