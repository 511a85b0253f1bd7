//! The knowledge layer: items of the thirteen environments, group sessions, sharing,
//! workflow resolution and the reporting line (seed 004; `docs/knowledge.md`).
//!
//! An item's `data` is the JSON of its environment's schema below; the server validates it
//! on every write and refuses unknown fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// `POST /api/orgs/{org}/items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItem {
    /// One of the thirteen environments: `user`, `locker`, `track`, `kb`, `contact`,
    /// `session`, `context`, `documents`, `links`, `workflow`, `temp`, `transcript`, `chrono`.
    #[schema(example = "kb")]
    pub env: String,
    /// `personal` (the caller's own stable id), `UNIV` (the organization), or a session's
    /// stable id `s_XXXX` (shared with its members).
    #[schema(example = "personal")]
    pub scope: String,
    /// What the item is within its environment (`node`, `project`, `task`, `note`, ...): 1-64
    /// of lowercase letters, digits, `-` and `_`.
    #[schema(example = "node")]
    pub kind: String,
    /// The item's id (same form as `kind`); a random one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item's data, in its environment's schema (`KbNode`, `TrackItem`, ...).
    pub data: Value,
    /// The session the caller is working in (`s_XXXX`): when it is an active group session
    /// and the item is not created in it, the answer carries a `sharing_hint`. A `chrono`
    /// reminder is instead shared with the session: a session reminder, which reaches every
    /// member when it falls due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// `PUT /api/orgs/{org}/items/{key}` (with `If-Match`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItem {
    /// The item's new data, in its environment's schema.
    pub data: Value,
}

/// An item: its key, where its file is, and its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    /// `env:scope:YYYYMMDD:kind:id`.
    #[schema(example = "kb:u_z1p5:20260103:node:abc123")]
    pub key: String,
    pub env: String,
    /// `u_XXXX`, `a_XXXX`, `UNIV` or `s_XXXX`.
    pub scope: String,
    /// The day it was created, `YYYYMMDD`.
    pub date: String,
    pub kind: String,
    pub id: String,
    /// The file that holds it.
    #[schema(example = "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/abc123.json")]
    pub path: String,
    /// Pass as `If-Match` to update it.
    pub etag: String,
    pub version: u64,
    /// Who created it (a user by handle, `user:alice@acme.com`, or an agent).
    pub owner: String,
    /// Who wrote the current version.
    pub author: String,
    /// RFC 3339.
    pub modified_at: String,
    /// When a Temp item stops being visible and is removed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub data: Value,
}

/// What creating an item answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemCreated {
    pub key: String,
    pub path: String,
    pub etag: String,
    pub item: Item,
    /// Set when the creator is working in an active group session and kept the item out
    /// of it: the seed's "offer to share with the session". Items stay personal unless
    /// asked.
    pub sharing_hint: Option<SharingHint>,
}

/// An offer to share a new item with the creator's group session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharingHint {
    /// The session's stable id: `POST .../items/{key}/share` with `{"session": ...}`.
    pub session: String,
    pub title: String,
    /// Its members, by stable id.
    pub members: Vec<String>,
    pub message: String,
}

/// `GET /api/orgs/{org}/items`: one page of the items the caller may read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    pub items: Vec<Item>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `POST .../items/{key}/share` and `.../unshare`: exactly one of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Members to share with directly: users by handle or stable id, agents by stable id
    /// (`a_XXXX`) or as `agent:<name>`; in Contact, the users the contact is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// Readable by every member of the organization ("this is for everyone").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universal: Option<bool>,
    /// A group session (`s_XXXX`) whose members may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Groups of the organization whose members may read it (role-based sharing: User
    /// and Locker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// A role of the organization whose holders may read it: `admin` (role-based
    /// sharing; every member is `universal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `GET .../items/{key}/access`: who can read the item and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemAccess {
    pub key: String,
    /// Everyone who may read it, each with the reasons (by handle where there is one).
    pub readers: Vec<Reader>,
}

/// One reader of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reader {
    /// `user:bob@acme.com` or `agent:<name>` (by handle where there is one).
    pub subject: String,
    /// Why: `owner` (personal scope or creator), `universal` (a member of the organization,
    /// for a `UNIV` item or one made universal), `session` (a member of the item's session
    /// or a session it was shared with), `shared` (shared directly), `assignee`, `manager`
    /// (the owner's manager, Track), `org_admin`, `acl` (a file grant or ACL entry).
    pub via: Vec<String>,
}

/// `POST .../items/{key}/assign`: a Track task's assignees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Handles or stable ids. A manager reassigning a subordinate's task may name only the
    /// team: themselves and their subordinates.
    pub assignees: Vec<String>,
}

/// A session's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionType {
    /// One user; items created in it are personal.
    #[default]
    Solo,
    /// An owner and members; items created in it are shared with all of them.
    Group,
}

/// `POST /api/orgs/{org}/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub title: String,
    #[serde(rename = "type", default)]
    pub session_type: SessionType,
    /// Members besides the owner (handles or stable ids): group sessions only.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A session, in the seed's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// `YYYYMMDD_HHMM_<slug of the title>`.
    #[schema(example = "20260103_1500_collab")]
    pub session_id: String,
    #[schema(example = "s_grp1")]
    pub stable_id: String,
    #[serde(rename = "type")]
    pub session_type: SessionType,
    /// The owner's stable id.
    pub owner: String,
    /// Stable ids, the owner first.
    pub members: Vec<String>,
    pub title: String,
    /// Keys of the items created in or shared with the session, grouped by environment.
    pub shared_items: BTreeMap<String, Vec<String>>,
    /// False once ended.
    pub active: bool,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
}

/// `GET /api/orgs/{org}/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

/// `POST /api/orgs/{org}/sessions/{stable_id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSessionMember {
    /// A member of the organization, by handle or stable id.
    pub user_id: String,
}

/// `GET /api/orgs/{org}/workflow/resolved`: the caller's effective protocols.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedWorkflow {
    pub protocols: Vec<ResolvedProtocol>,
}

/// One effective protocol: the caller's own if it has one of that name, else the
/// organization's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResolvedProtocol {
    pub name: String,
    /// `UNIV` or the caller's stable id.
    pub source: String,
    pub key: String,
    /// Universal protocols of the same name this one overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    pub data: Value,
}

/// `PUT /api/orgs/{org}/users/{user}/manager`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetManager {
    /// A member's handle or stable id; `null` clears it.
    pub manager: Option<String>,
}

/// A member's reporting line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportingLine {
    /// The member's stable id.
    pub user: String,
    /// The manager's stable id.
    pub manager: Option<String>,
    /// Stable ids of those who report to the member.
    pub subordinates: Vec<String>,
}

// The environments' data. Unknown fields are refused; free-form extensions go in the
// fields typed as objects.

/// `user` / `profile`: a member's profile (`UNIV`: the guest/default profile).
/// `manager` and `subordinates` are shown from the reporting line and set only through
/// `PUT .../users/{user}/manager`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserProfile {
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subordinates: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub preferences: Map<String, Value>,
}

/// A Track item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    #[default]
    Todo,
    InProgress,
    Blocked,
    Done,
}

/// `track` / `project` or `task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackItem {
    pub title: String,
    #[serde(default)]
    pub status: TrackStatus,
    /// Stable ids; set through `POST .../items/{key}/assign`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The key of the project a task belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A typed link from a KB node to another item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KbLink {
    /// The link's type (`related`, `depends_on`, `part_of`, ...): 1-64 of `[a-z0-9_-]`.
    pub rel: String,
    /// The target's key.
    pub to: String,
}

/// `kb` / `node`: a knowledge node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KbNode {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<KbLink>,
}

/// `contact`: a person (`UNIV`: the company CRM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `session` / `template` in `UNIV`: what new sessions start from. (Sessions themselves are
/// written through `/api/orgs/{org}/sessions`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "type", default)]
    pub session_type: SessionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `locker`: a secret (personal credentials, the organization's environment passwords).
/// `secret` is the only secret field: it is stored sealed (encrypted) and returned in clear
/// only by `GET` of the item to those who may read it; listings, search, versions, grep and
/// exports never contain it in clear. The other fields are metadata and appear wherever the
/// item does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Locker {
    /// What the secret is for (`Production database`).
    pub name: String,
    /// The secret value. Required on create and update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `context` / `note`: notes (`UNIV`: organizational learnings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextNote {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `documents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `markdown` or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `links`: a bookmark (`UNIV`: shared resources).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// `http://` or `https://`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `workflow` / `protocol`: a protocol (`UNIV`: the organization's; personal: overrides
/// of the same `name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowProtocol {
    /// What resolution matches on: 1-64 of `[a-z0-9_-]`.
    #[schema(example = "voice")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub settings: Map<String, Value>,
}

/// `temp`: staging; removed once it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TempItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// RFC 3339 with offset, in the future; 24 hours after creation when absent, at most
    /// 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `transcript`: a recording's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub title: String,
    pub text: String,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
}

/// `chrono` / `reminder` (delivery comes with the scheduler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    pub title: String,
    /// RFC 3339 with offset.
    pub due: String,
    /// `daily`, `weekly` or `monthly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Query of `GET /api/orgs/{org}/items`: every filter optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemListQuery {
    /// One environment (`kb`, `track`, ...).
    #[serde(default)]
    pub env: Option<String>,
    /// `personal`, `UNIV`, `u_XXXX` or `s_XXXX`.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// Who created the items (handle or stable id).
    #[serde(default)]
    pub owner: Option<String>,
    /// Created on or after this day (`YYYYMMDD` or `YYYY-MM-DD`).
    #[serde(default)]
    pub since: Option<String>,
    /// Created on or before this day.
    #[serde(default)]
    pub until: Option<String>,
    /// Keywords that must all appear in the item's data (case-insensitive).
    #[serde(default)]
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page (100 when absent).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Query of `GET /api/orgs/{org}/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    /// `true`: only running sessions; `false`: only ended ones.
    #[serde(default)]
    pub active: Option<bool>,
}
