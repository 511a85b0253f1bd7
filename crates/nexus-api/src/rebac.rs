//! ACLs and the relationship (ReBAC) API.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// One subject's bits at a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AclListingEntry {
    /// `user:alice@acme.com`, `agent:bot`, `group:eng`.
    pub subject: String,
    /// `rwx`, `r--`, ...
    pub mode: String,
}

/// One role relationship at a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleGrant {
    pub relation: String,
    pub subject: String,
}

/// The ACL entries and role grants stored on one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AclListing {
    pub path: String,
    pub entries: Vec<AclListingEntry>,
    /// Role relationships on the path (owner, admin, editor, member, assistant, viewer).
    pub roles: Vec<RoleGrant>,
}

/// An ACL listing with the revision it reflects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AclResponse {
    #[serde(flatten)]
    pub listing: AclListing,
    pub revision: RevisionToken,
}

/// `POST /api/acl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetfaclRequest {
    pub path: String,
    /// `user:ID:rwx`, `agent:ID:r--`, `group:NAME:rw-`; `---` removes the subject's entry.
    #[schema(example = "user:bob@acme.com:r--")]
    pub entry: String,
}

/// An opaque revision token: pass it back as `at_least` (or `X-Nexus-At-Least`) to read
/// state at least as fresh as the answer that returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct RevisionToken(pub String);

impl std::fmt::Display for RevisionToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// How a relationship update applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOperation {
    /// Fails if the relationship exists.
    Create,
    /// Creates or replaces.
    Touch,
    Delete,
}

/// A caveat on a relationship: its name and (optionally) part of its context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaveatRequest {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// One relationship update: `relationship`, or all of `subject`, `relation` and `object`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipUpdateRequest {
    /// `create` (fails if present), `touch` (create or replace) or `delete`.
    #[schema(example = "touch")]
    pub operation: String,
    /// `resource#relation@subject`.
    #[serde(default)]
    #[schema(example = "file:/orgs/acme/eng#viewer@user:bob@acme.com")]
    pub relationship: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub relation: Option<String>,
    /// `type:id`, or a path for a file.
    #[serde(default)]
    pub object: Option<String>,
    /// RFC 3339 expiry.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub caveat: Option<CaveatRequest>,
}

/// `POST /api/rebac/relationships`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRelationshipsRequest {
    pub updates: Vec<RelationshipUpdateRequest>,
}

/// A relationship as changed: touched (created or replaced) or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RelationshipChange {
    /// `touch` or `delete`.
    pub operation: String,
    pub relationship: String,
}

/// The answer to writing relationships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteRelationshipsResponse {
    pub changes: Vec<RelationshipChange>,
    pub written_at: RevisionToken,
    pub revision: RevisionToken,
}

/// A filter over relationships (`POST /api/rebac/relationships/read` and `/delete`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipFilterRequest {
    /// `type`, `type:id` or a path.
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub relation: Option<String>,
    /// `type`, `type:id` or `type:id#relation`.
    #[serde(default)]
    pub subject: Option<String>,
    /// At most this many (default 1000, at most 10000; read only).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Answer at least as fresh as this revision token (read only).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at_least: Option<Value>,
    /// Continue after this relationship, the last of the previous page (read only).
    #[serde(default)]
    pub after: Option<String>,
}

/// The answer to reading relationships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadRelationshipsResponse {
    pub relationships: Vec<String>,
    pub revision: RevisionToken,
}

/// The answer to deleting relationships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeleteRelationshipsResponse {
    pub deleted: usize,
    pub written_at: RevisionToken,
    pub revision: RevisionToken,
}

/// The answer of a check for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    HasPermission,
    NoPermission,
    /// Depends on caveat context that was not given (`missing_context`).
    Conditional,
}

impl CheckOutcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::HasPermission => "has_permission",
            CheckOutcome::NoPermission => "no_permission",
            CheckOutcome::Conditional => "conditional",
        }
    }
}

/// `POST /api/rebac/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    #[schema(example = "user:alice@acme.com")]
    pub subject: String,
    #[schema(example = "read")]
    pub permission: String,
    /// `type:id`, or a path for a file.
    #[schema(example = "/orgs/acme/engineering")]
    pub object: String,
    /// Caveat context.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
    /// Answer at least as fresh as this revision token.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at_least: Option<Value>,
}

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckAnswer {
    pub result: CheckOutcome,
    /// Whether the permission is held unconditionally.
    pub allowed: bool,
    /// Caveat parameters a `conditional` answer needs.
    pub missing_context: Vec<String>,
}

/// The answer to a check, with the revision it reflects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    #[serde(flatten)]
    pub answer: CheckAnswer,
    pub revision: RevisionToken,
}

/// `POST /api/rebac/expand`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpandRequest {
    pub permission: String,
    pub object: String,
    /// Expand usersets down to their members.
    #[serde(default)]
    pub recursive: bool,
}

/// A subject stored on a relation, with its condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpandSubject {
    pub subject: String,
    pub caveat: Option<String>,
    /// Microseconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

/// One node of a permission's expansion tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpandTree {
    pub object: String,
    pub relation: String,
    /// The tupleset relation of an arrow.
    pub tupleset: Option<String>,
    /// `direct`, `union`, `intersection`, `exclusion`, `arrow`, `arrow_all`, `nil`, `cycle`.
    pub kind: String,
    pub subjects: Vec<ExpandSubject>,
    #[schema(no_recursion)]
    pub children: Vec<ExpandTree>,
}

/// The answer to an expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExpandResponse {
    pub tree: ExpandTree,
    pub revision: RevisionToken,
}

/// `POST /api/rebac/lookup-resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupResourcesRequest {
    pub subject: String,
    pub permission: String,
    pub resource_type: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// A resource found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FoundResource {
    pub id: String,
    pub result: CheckOutcome,
}

/// The answer to a resource lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LookupResourcesResponse {
    pub resources: Vec<FoundResource>,
    pub revision: RevisionToken,
}

/// `POST /api/rebac/lookup-subjects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupSubjectsRequest {
    pub object: String,
    pub permission: String,
    /// `user`, `agent` or `group#member`.
    pub subject_type: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

/// A subject found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FoundSubject {
    pub subject: String,
    pub result: CheckOutcome,
}

/// Every subject of the type has the permission, except the excluded ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FoundWildcard {
    pub result: CheckOutcome,
    pub excluded: Vec<String>,
}

/// The subjects found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubjectsFound {
    pub subjects: Vec<FoundSubject>,
    /// Present when the permission is granted to every subject of the type (`type:*`).
    pub wildcard: Option<FoundWildcard>,
}

/// The answer to a subject lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LookupSubjectsResponse {
    #[serde(flatten)]
    pub found: SubjectsFound,
    pub revision: RevisionToken,
}

/// Query of `GET /api/rebac/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Changes after this revision.
    #[serde(default)]
    pub since: u64,
    /// At most this many (default 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One recorded relationship change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordedChange {
    pub revision: u64,
    /// `touch` or `delete`.
    pub operation: String,
    pub relationship: String,
}

/// The answer to `GET /api/rebac/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangesResponse {
    pub changes: Vec<RecordedChange>,
    pub revision: RevisionToken,
}

/// The permission schema in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemaResponse {
    pub schema: String,
    /// Whether it was written through the API (not the built-in default).
    pub custom: bool,
    pub revision: RevisionToken,
}

/// `PUT /api/rebac/schema`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteSchemaRequest {
    pub schema: String,
}

/// The answer to writing the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteSchemaResponse {
    pub written_at: RevisionToken,
    pub revision: RevisionToken,
}
