//! Organizations and their members (the seed's members API).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// rwx on the whole organization.
    Admin,
    /// rw- on the member's workspaces.
    Member,
    /// An AI assistant: rw- on its workspaces.
    Assistant,
}

impl Role {
    /// The relation that grants this role on organization and workspace folders.
    pub fn relation(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Assistant => "assistant",
        }
    }
}

/// Whether a member is a person or an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    #[default]
    Human,
    Agent,
}

/// Only `active` members belong to the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    #[default]
    Active,
    Suspended,
    Inactive,
}

/// One entry of `members` in `org.json`. Fields other than these are kept as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberRecord {
    /// A user handle or stable id (`type: human`), or an agent name or stable id
    /// (`type: agent`).
    #[schema(example = "alice@acme.com")]
    pub user_id: String,
    pub role: Role,
    #[serde(rename = "type", default)]
    pub kind: MemberKind,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<String>,
    #[serde(default)]
    pub status: MemberStatus,
    /// Workspaces a `member` or `assistant` works in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
    /// Other fields of the record, kept as written.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// A member as the members API shows it: the record, plus the member's stable id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    #[serde(flatten)]
    pub record: MemberRecord,
    /// The member's stable id: `u_XXXX` for a person, `a_XXXX` for an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `GET /api/orgs/{org}/members`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    pub org_id: String,
    pub members: Vec<Member>,
}

/// `POST /api/orgs/{org}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// A handle (e.g. an email) or an agent's name; the system administrator may also name
    /// a registered principal by stable id.
    #[schema(example = "bob@acme.com")]
    pub user_id: String,
    #[serde(default = "default_role")]
    #[schema(default = "member")]
    pub role: Role,
    #[serde(default)]
    pub workspaces: Vec<String>,
    #[serde(rename = "type", default)]
    pub kind: MemberKind,
}

fn default_role() -> Role {
    Role::Member
}

/// The answer to adding a member (the seed's shape, plus the stored record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AddMemberResponse {
    pub success: bool,
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
    pub workspaces: Vec<String>,
    pub member: Member,
}

/// The answer to removing a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemoveMemberResponse {
    pub success: bool,
    /// The member as named in the request.
    pub removed: String,
}

/// An organization as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgSummary {
    pub org_id: String,
    pub name: String,
    pub created_at: String,
}

/// `GET /api/orgs`: the organizations the caller belongs to (all of them for the system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgList {
    pub orgs: Vec<OrgSummary>,
}

/// `POST /api/orgs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// The organization id (lowercase letters, digits, `-`, `_`).
    #[schema(example = "acme")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub workspaces: Vec<String>,
}

/// What provisioning changed (and what it left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionReport {
    pub changes: Vec<String>,
    pub unchanged: usize,
}
