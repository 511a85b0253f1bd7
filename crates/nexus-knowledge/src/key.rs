//! Item keys and the files that hold items.
//!
//! A key is `env:scope:YYYYMMDD:kind:id` (`kb:u_z1p5:20260103:node:abc123`). Its file is
//! `/orgs/<org>/.nexus/<env>/<scope>/<YYYYMMDD>/<kind>/<id>.json`: one path per key and
//! one key per path, so versions, history, listing, grep, search and every permission rule
//! apply to items as to files.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use nexus_path::{OrgId, VfsPath};

use crate::env::Environment;

/// The folder, in each organization's root, that holds its items.
pub const ITEMS_FOLDER: &str = ".nexus";

/// Longest `kind` and `id` of a key, in bytes.
const MAX_PART_BYTES: usize = 64;

/// Whose an item is: a person's, an agent's, the whole organization's, or a session's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A user's personal item (`u_XXXX`, the user's stable id).
    User(String),
    /// An agent's own item (`a_XXXX`, the agent's stable id).
    Agent(String),
    /// The organization's item, readable by its members (`UNIV`).
    Universal,
    /// A session's item, shared with its members (`s_XXXX`).
    Session(String),
}

/// Why a key (or a path said to hold an item) is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    #[error(
        "an item key has five parts, `env:scope:YYYYMMDD:kind:id` (e.g. `kb:u_z1p5:20260103:node:abc123`)"
    )]
    Shape,
    #[error(
        "`{0}` is not an environment (user, locker, track, kb, contact, session, context, documents, links, workflow, temp, transcript, chrono)"
    )]
    UnknownEnvironment(String),
    #[error(
        "`{0}` is not a scope: use a user's stable id `u_XXXX`, an agent's `a_XXXX`, a session's `s_XXXX`, or `UNIV`"
    )]
    Scope(String),
    #[error("`{0}` is not a date of the form YYYYMMDD")]
    Date(String),
    #[error(
        "`{0}` is not a valid {1}: 1 to 64 of lowercase letters, digits, `-` and `_`, starting with a letter or digit"
    )]
    Part(String, &'static str),
    #[error("`{0}` is not the path of an item")]
    Path(String),
}

/// Whether `text` is `prefix` followed by four of `[0-9a-z]` (the stable-id form).
fn is_stable_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 4
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
    })
}

impl Scope {
    /// Parses `u_XXXX`, `a_XXXX`, `s_XXXX` or `UNIV` (exactly; no case folding).
    pub fn parse(text: &str) -> Result<Scope, InvalidKey> {
        if text == "UNIV" {
            Ok(Scope::Universal)
        } else if is_stable_id(text, "u_") {
            Ok(Scope::User(text.to_owned()))
        } else if is_stable_id(text, "a_") {
            Ok(Scope::Agent(text.to_owned()))
        } else if is_stable_id(text, "s_") {
            Ok(Scope::Session(text.to_owned()))
        } else {
            Err(InvalidKey::Scope(text.chars().take(40).collect()))
        }
    }

    /// The text of the scope in keys and paths.
    pub fn as_str(&self) -> &str {
        match self {
            Scope::User(id) | Scope::Agent(id) | Scope::Session(id) => id,
            Scope::Universal => "UNIV",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An item's key: `env:scope:YYYYMMDD:kind:id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    pub env: Environment,
    pub scope: Scope,
    /// The day the item was created.
    pub date: NaiveDate,
    /// What the item is within its environment (`node`, `project`, `profile`, ...).
    pub kind: String,
    pub id: String,
}

/// Checks a `kind` or `id`: 1-64 of `[a-z0-9_-]`, starting with a letter or digit.
fn check_part(text: &str, what: &'static str) -> Result<(), InvalidKey> {
    let valid = !text.is_empty()
        && text.len() <= MAX_PART_BYTES
        && text.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
        })
        && text
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(InvalidKey::Part(
            text.chars().take(MAX_PART_BYTES).collect(),
            what,
        ))
    }
}

fn parse_date(text: &str) -> Result<NaiveDate, InvalidKey> {
    if text.len() != 8 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(InvalidKey::Date(text.chars().take(40).collect()));
    }
    NaiveDate::parse_from_str(text, "%Y%m%d").map_err(|_| InvalidKey::Date(text.to_owned()))
}

impl ItemKey {
    /// A key from its parts, checked.
    pub fn new(
        env: Environment,
        scope: Scope,
        date: NaiveDate,
        kind: &str,
        id: &str,
    ) -> Result<ItemKey, InvalidKey> {
        check_part(kind, "kind")?;
        check_part(id, "id")?;
        let key = ItemKey {
            env,
            scope,
            date,
            kind: kind.to_owned(),
            id: id.to_owned(),
        };
        // Years outside 0000-9999 have no eight-digit form.
        if !(0..=9999).contains(&key.date.year()) {
            return Err(InvalidKey::Date(key.date.to_string()));
        }
        Ok(key)
    }

    /// Parses `env:scope:YYYYMMDD:kind:id`.
    pub fn parse(text: &str) -> Result<ItemKey, InvalidKey> {
        let mut parts = text.split(':');
        let (Some(env), Some(scope), Some(date), Some(kind), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(InvalidKey::Shape);
        };
        ItemKey::new(
            env.parse()?,
            Scope::parse(scope)?,
            parse_date(date)?,
            kind,
            id,
        )
    }

    fn date_text(&self) -> String {
        use chrono::Datelike as _;
        format!(
            "{:04}{:02}{:02}",
            self.date.year(),
            self.date.month(),
            self.date.day()
        )
    }

    /// The file that holds the item in `org`:
    /// `/orgs/<org>/.nexus/<env>/<scope>/<YYYYMMDD>/<kind>/<id>.json`.
    pub fn path(&self, org: &OrgId) -> Result<VfsPath, InvalidKey> {
        let text = format!(
            "{}/{ITEMS_FOLDER}/{}/{}/{}/{}/{}.json",
            VfsPath::org_root(org),
            self.env,
            self.scope,
            self.date_text(),
            self.kind,
            self.id
        );
        // Every part was checked to be a plain path segment, so this cannot fail; a key
        // built around the checks is refused rather than mapped somewhere else.
        VfsPath::parse(&text).map_err(|_| InvalidKey::Path(text))
    }

    /// The key held by the file at `path`, and its organization; refused for any path that
    /// [`ItemKey::path`] does not produce.
    pub fn from_path(path: &VfsPath) -> Result<(OrgId, ItemKey), InvalidKey> {
        let refuse = || InvalidKey::Path(path.as_str().chars().take(200).collect());
        let mut segments = path.as_str().split('/').skip(1);
        let (
            Some("orgs"),
            Some(org),
            Some(ITEMS_FOLDER),
            Some(env),
            Some(scope),
            Some(date),
            Some(kind),
            Some(file),
            None,
        ) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        )
        else {
            return Err(refuse());
        };
        let id = file.strip_suffix(".json").ok_or_else(refuse)?;
        let org = OrgId::parse(org).map_err(|_| refuse())?;
        // Each part is checked exactly as `parse` checks it, and a checked part has one
        // spelling (a date is eight digits, names are lowercase), so the path is the one
        // `path` would give: the mapping stays one-to-one.
        let key = ItemKey::new(
            env.parse().map_err(|_| refuse())?,
            Scope::parse(scope).map_err(|_| refuse())?,
            parse_date(date).map_err(|_| refuse())?,
            kind,
            id,
        )
        .map_err(|_| refuse())?;
        Ok((org, key))
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}:{}:{}",
            self.env,
            self.scope,
            self.date_text(),
            self.kind,
            self.id
        )
    }
}
