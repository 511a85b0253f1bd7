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
    /// For an agent acting on behalf of a user (a delegation): that user, as people know it
    /// (`user:alice@acme.com`). The organizations are those both belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: String,
    pub principal: String,
    pub description: String,
    pub created_at: String,
    pub revoked: bool,
    /// For a delegation: the user the agent acts for (`user:u_k3x9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// When the key stops working by itself (delegations), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
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

/// A delegation: an agent acting on behalf of a user, with the intersection of their
/// permissions, until it expires (see `docs/mcp.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delegation {
    /// The delegation's id (its key's id).
    pub id: String,
    /// The agent, as stored (`agent:a_7pq2`).
    pub agent: String,
    /// The user it acts for, as stored (`user:u_k3x9`).
    pub user: String,
    pub description: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked: bool,
}

/// `POST /api/delegations`: a user lets an agent act on their behalf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDelegation {
    /// The agent, by name or stable id (`notes-bot`, `a_7pq2`, `agent:notes-bot`); it must
    /// belong to one of the caller's organizations.
    pub agent: String,
    /// How long it lasts: `<number><s|m|h|d>`, at most `30d` (default `8h`).
    #[serde(default)]
    pub expires_in: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// A new delegation: the only time its secret is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewDelegation {
    #[serde(flatten)]
    pub delegation: Delegation,
    /// The credential the agent presents (`Authorization: Bearer <secret>`); shown once.
    pub secret: String,
}

/// `GET /api/delegations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DelegationList {
    pub delegations: Vec<Delegation>,
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
