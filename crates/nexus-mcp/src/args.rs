//! The tools' arguments. Their doc comments are the descriptions a model reads in
//! `tools/list`; unknown arguments are refused.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// An organization, when the caller belongs to several.
pub(crate) type Org = Option<String>;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathArg {
    /// Absolute path, e.g. `/orgs/acme/sales/notes.md`.
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadFile {
    /// Absolute path of the file, e.g. `/orgs/acme/sales/notes.md`.
    pub path: String,
    /// Read this stored version instead of the current one (see `versions`).
    #[serde(default)]
    pub version: Option<u64>,
    /// Bytes to read: `START-END` (inclusive), `START-` or `-LAST` (the last LAST bytes).
    #[serde(default)]
    pub range: Option<String>,
}

/// How `content` is written.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Encoding {
    /// The text as given.
    #[default]
    Text,
    /// Bytes, base64-encoded (standard alphabet, with padding).
    Base64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteFile {
    /// Absolute path of the file; missing parent directories are created.
    pub path: String,
    /// The whole new content.
    pub content: String,
    /// `text` (default) or `base64` for binary content.
    #[serde(default)]
    pub encoding: Encoding,
    /// Write only if the file's current etag is this one (from `read_file` or `stat`): a
    /// change made by someone else in between is refused, not overwritten.
    #[serde(default)]
    pub if_match: Option<String>,
    /// Refuse to overwrite an existing file.
    #[serde(default)]
    pub create_only: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditFile {
    /// Absolute path of a text file.
    pub path: String,
    /// The exact text to replace; it must occur exactly once unless `replace_all` is set.
    pub old: String,
    /// The text to put in its place.
    pub new: String,
    /// Replace every occurrence of `old`.
    #[serde(default)]
    pub replace_all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct List {
    /// Absolute path of a directory (`/orgs` lists your organizations).
    pub path: String,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Entries per page (at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// List everything below the directory, not only its children.
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Glob {
    /// An absolute glob pattern: `*` within a name, `**` across directories, e.g.
    /// `/orgs/acme/**/*.md`.
    pub pattern: String,
    /// Most paths returned.
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grep {
    /// A regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// A file, or a directory searched recursively.
    pub path: String,
    #[serde(default)]
    pub ignore_case: bool,
    /// Lines of context before and after each match (at most 100).
    #[serde(default)]
    pub context: usize,
    /// Most matches returned.
    #[serde(default)]
    pub max_matches: Option<usize>,
    /// Only files whose name matches this glob (e.g. `*.md`).
    #[serde(default)]
    pub include: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mkdir {
    /// Absolute path of the directory.
    pub path: String,
    /// Create missing parents too (default true).
    #[serde(default = "yes")]
    pub parents: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Move {
    /// Absolute path of what to move.
    pub from: String,
    /// Absolute path it gets.
    pub to: String,
    /// Replace an existing file at `to`.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Delete {
    /// Absolute path of the file or directory.
    pub path: String,
    /// Delete a directory with everything in it.
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Restore {
    /// Absolute path of the file.
    pub path: String,
    /// The version to make current again (see `versions`).
    pub version: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateItem {
    /// Your organization; needed only when you belong to several.
    #[serde(default)]
    pub org: Org,
    /// The environment: `kb` (knowledge nodes), `track` (projects and tasks), `context`
    /// (notes), `documents`, `links` (bookmarks), `contact`, `workflow` (protocols), `temp`
    /// (expiring staging), `transcript`, `chrono` (reminders), `user` (profile), `session`,
    /// `locker` (secrets).
    pub env: String,
    /// `personal` (default: yours only), `UNIV` (everyone in the organization; only when
    /// the person says it is for everyone) or a session's stable id `s_XXXX` (its members).
    #[serde(default)]
    pub scope: Option<String>,
    /// What the item is in its environment: `node` (kb), `project` or `task` (track),
    /// `note` (context), `protocol` (workflow), `reminder` (chrono), ...
    pub kind: String,
    /// The item's data, in the schema of its environment (see this tool's schema: `data`
    /// by `env`), e.g. kb `{"title": "Phoenix", "body": "..."}`, context `{"text": "..."}`.
    pub data: Map<String, Value>,
    /// The item's id (lowercase letters, digits, `-`, `_`); a random one when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The group session you are working in (`s_XXXX`); by default the one you started or
    /// joined. The answer then offers to share the item with it (`sharing_hint`).
    #[serde(default)]
    pub session: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemKey {
    /// The item's key, `env:scope:YYYYMMDD:kind:id`.
    pub key: String,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateItem {
    /// The item's key, `env:scope:YYYYMMDD:kind:id`.
    pub key: String,
    /// The item's whole new data (validated against its environment's schema).
    pub data: Map<String, Value>,
    /// Update only if the item's etag is still this one (from `get_item`).
    #[serde(default)]
    pub if_match: Option<String>,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteItem {
    /// The item's key, `env:scope:YYYYMMDD:kind:id`.
    pub key: String,
    /// Delete only if the item's etag is still this one.
    #[serde(default)]
    pub if_match: Option<String>,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListItems {
    #[serde(default)]
    pub org: Org,
    /// One environment (`kb`, `track`, ...).
    #[serde(default)]
    pub env: Option<String>,
    /// `personal`, `UNIV`, a user's `u_XXXX` or a session's `s_XXXX`.
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// Who created the items (handle or stable id).
    #[serde(default)]
    pub owner: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`).
    #[serde(default)]
    pub since: Option<String>,
    /// Created on or before this day.
    #[serde(default)]
    pub until: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Items per page (100 when absent).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Search {
    /// Words (all must match; `deploying` also finds `deployed`), `"quoted phrases"`,
    /// `prefix*` and `-excluded` words.
    pub query: String,
    #[serde(default)]
    pub org: Org,
    /// Only files under this folder (or this file), e.g. `/orgs/acme/eng`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only knowledge items of this environment.
    #[serde(default)]
    pub env: Option<String>,
    /// Only items of this scope: `personal`, `UNIV`, `u_XXXX` or `s_XXXX`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Only items of this kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// `keyword` (the default), `semantic` or `hybrid` (the last two need an embedder).
    #[serde(default)]
    pub mode: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Hits per page (10 by default, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Say on each hit why you may read it (`why`: the relationship path to you).
    #[serde(default)]
    pub explain: bool,
}

/// `solo` or `group`.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SessionKind {
    /// Just you: items created in it are personal.
    #[default]
    Solo,
    /// You and members: items created in it are shared with all of them.
    Group,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartSession {
    pub title: String,
    /// `group` when working together with others ("let's work on this together").
    #[serde(rename = "type", default)]
    pub kind: SessionKind,
    /// Members besides you (handles like `bob@acme.com`, or stable ids): group sessions only.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionArg {
    /// The session's stable id `s_XXXX`.
    pub session: String,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddSessionMember {
    /// The session's stable id `s_XXXX`.
    pub session: String,
    /// The member to add: a handle like `bob@acme.com`, or a stable id.
    pub user: String,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListSessions {
    /// Only sessions still active (default true).
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Share {
    /// The item's key, `env:scope:YYYYMMDD:kind:id`.
    pub key: String,
    /// People to share with directly ("share this with Andrew"): handles like
    /// `andrew@acme.com` or stable ids.
    #[serde(default)]
    pub users: Option<Vec<String>>,
    /// A group session's stable id `s_XXXX`, or `current` for the session you work in.
    #[serde(default)]
    pub session: Option<String>,
    /// For everyone in the organization ("this is for everyone"); refused where the
    /// environment or your role does not allow it.
    #[serde(default)]
    pub universal: Option<bool>,
    /// Groups of the organization (User and Locker share by role).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// A role of the organization: `admin` (User and Locker).
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateReminder {
    pub title: String,
    /// When, RFC 3339 with an offset, e.g. `2026-12-08T09:00:00+01:00`.
    pub due: String,
    /// `daily`, `weekly` or `monthly`.
    #[serde(default)]
    pub recurrence: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// A group session (`s_XXXX`, or `current`): the reminder reaches every member.
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub org: Org,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListReminders {
    #[serde(default)]
    pub org: Org,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Notifications {
    /// Only notifications not marked read.
    #[serde(default)]
    pub unread: Option<bool>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Per page (100 when absent).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Mark these notifications (by id) read first.
    #[serde(default)]
    pub mark_read: Vec<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgOnly {
    #[serde(default)]
    pub org: Org,
}
