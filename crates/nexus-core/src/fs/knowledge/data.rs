//! Each environment's data: parsed into its typed schema (`nexus_api::items`), checked
//! beyond what types say (non-empty titles, dates, URLs), and stored as JSON. Unknown fields
//! are refused, so what is stored always reads back as the environment's type.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use nexus_api::items::{
    Contact, ContextNote, Document, KbNode, Link, Locker, Reminder, SessionTemplate, TempItem,
    TrackItem, Transcript, UserProfile, WorkflowProtocol,
};
use nexus_knowledge::{Environment, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::FsError;

/// Largest item, as stored JSON.
pub const MAX_ITEM_BYTES: usize = 1024 * 1024;
/// How long a Temp item lives when its data does not say.
pub const TEMP_DEFAULT_TTL: Duration = Duration::hours(24);
/// The longest a Temp item may live.
pub const TEMP_MAX_TTL: Duration = Duration::days(30);

/// The kinds an environment accepts, when it restricts them.
pub fn kinds(env: Environment) -> Option<&'static [&'static str]> {
    match env {
        Environment::User => Some(&["profile"]),
        Environment::Track => Some(&["project", "task"]),
        Environment::Kb => Some(&["node"]),
        Environment::Workflow => Some(&["protocol"]),
        Environment::Chrono => Some(&["reminder"]),
        Environment::Session => Some(&["template"]),
        _ => None,
    }
}

fn parse<T: DeserializeOwned + Serialize>(env: Environment, data: &Value) -> Result<T, FsError> {
    serde_json::from_value(data.clone()).map_err(|error| {
        FsError::invalid(format!(
            "invalid `{env}` item data: {error} (see the `{}` schema in the API document)",
            schema_name(env)
        ))
    })
}

/// The name of an environment's data schema in the OpenAPI document.
pub fn schema_name(env: Environment) -> &'static str {
    match env {
        Environment::User => "UserProfile",
        Environment::Locker => "Locker",
        Environment::Track => "TrackItem",
        Environment::Kb => "KbNode",
        Environment::Contact => "Contact",
        Environment::Session => "SessionTemplate",
        Environment::Context => "ContextNote",
        Environment::Documents => "Document",
        Environment::Links => "Link",
        Environment::Workflow => "WorkflowProtocol",
        Environment::Temp => "TempItem",
        Environment::Transcript => "Transcript",
        Environment::Chrono => "Reminder",
    }
}

fn required(env: Environment, field: &str, text: &str) -> Result<(), FsError> {
    if text.trim().is_empty() {
        return Err(FsError::invalid(format!(
            "invalid `{env}` item data: `{field}` must not be empty"
        )));
    }
    Ok(())
}

fn name_like(env: Environment, field: &str, text: &str) -> Result<(), FsError> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(FsError::invalid(format!(
            "invalid `{env}` item data: `{field}` must be 1-64 of lowercase letters, digits, `-` and `_`"
        )));
    }
    Ok(())
}

/// Parses an RFC 3339 time with offset.
pub fn parse_time(env: Environment, field: &str, text: &str) -> Result<DateTime<Utc>, FsError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            FsError::invalid(format!(
                "invalid `{env}` item data: `{field}` must be an RFC 3339 time with offset (e.g. `2026-01-03T15:00:00Z`)"
            ))
        })
}

/// The checked data of a new or updated item, as it is stored. `now` fixes a Temp item's
/// default expiry.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per environment, read as a table"
)]
pub fn validate(
    env: Environment,
    scope: &Scope,
    kind: &str,
    data: &Value,
    now: DateTime<Utc>,
) -> Result<Value, FsError> {
    if let Some(allowed) = kinds(env)
        && !allowed.contains(&kind)
    {
        return Err(FsError::invalid(format!(
            "`{env}` items are of kind {}, not `{kind}`",
            allowed
                .iter()
                .map(|kind| format!("`{kind}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if !data.is_object() {
        return Err(FsError::invalid(format!(
            "invalid `{env}` item data: a JSON object is expected"
        )));
    }
    let stored = match env {
        Environment::Locker => {
            let locker: Locker = parse(env, data)?;
            required(env, "name", &locker.name)?;
            if locker.secret.as_deref().is_none_or(str::is_empty) {
                return Err(FsError::invalid(
                    "invalid `locker` item data: `secret` must be a non-empty string",
                ));
            }
            serde_json::to_value(locker)
        }
        Environment::User => {
            let profile: UserProfile = parse(env, data)?;
            required(env, "display_name", &profile.display_name)?;
            serde_json::to_value(profile)
        }
        Environment::Track => {
            let item: TrackItem = parse(env, data)?;
            required(env, "title", &item.title)?;
            if let Some(due) = &item.due
                && NaiveDate::parse_from_str(due, "%Y-%m-%d").is_err()
            {
                return Err(FsError::invalid(format!(
                    "invalid `{env}` item data: `due` must be a date `YYYY-MM-DD`"
                )));
            }
            if let Some(project) = &item.project {
                nexus_knowledge::ItemKey::parse(project)?;
            }
            serde_json::to_value(item)
        }
        Environment::Kb => {
            let node: KbNode = parse(env, data)?;
            required(env, "title", &node.title)?;
            for link in &node.links {
                name_like(env, "links[].rel", &link.rel)?;
                nexus_knowledge::ItemKey::parse(&link.to)?;
            }
            serde_json::to_value(node)
        }
        Environment::Contact => {
            let contact: Contact = parse(env, data)?;
            required(env, "name", &contact.name)?;
            serde_json::to_value(contact)
        }
        Environment::Session => {
            if *scope != Scope::Universal {
                return Err(FsError::invalid(
                    "sessions are started with `POST /api/orgs/{org}/sessions`; the `session` environment's items are the organization's default template (`UNIV`, kind `template`)",
                ));
            }
            let template: SessionTemplate = parse(env, data)?;
            serde_json::to_value(template)
        }
        Environment::Context => {
            let note: ContextNote = parse(env, data)?;
            required(env, "text", &note.text)?;
            serde_json::to_value(note)
        }
        Environment::Documents => {
            let document: Document = parse(env, data)?;
            required(env, "title", &document.title)?;
            if let Some(format) = &document.format
                && !matches!(format.as_str(), "markdown" | "text")
            {
                return Err(FsError::invalid(
                    "invalid `documents` item data: `format` is `markdown` or `text`",
                ));
            }
            serde_json::to_value(document)
        }
        Environment::Links => {
            let link: Link = parse(env, data)?;
            let scheme_ok = ["http://", "https://"]
                .iter()
                .any(|scheme| link.url.starts_with(scheme) && link.url.len() > scheme.len());
            if !scheme_ok || link.url.chars().any(char::is_whitespace) {
                return Err(FsError::invalid(
                    "invalid `links` item data: `url` must be an `http://` or `https://` URL",
                ));
            }
            serde_json::to_value(link)
        }
        Environment::Workflow => {
            let protocol: WorkflowProtocol = parse(env, data)?;
            name_like(env, "name", &protocol.name)?;
            serde_json::to_value(protocol)
        }
        Environment::Temp => {
            let mut item: TempItem = parse(env, data)?;
            let expires = match &item.expires_at {
                Some(text) => parse_time(env, "expires_at", text)?,
                None => now + TEMP_DEFAULT_TTL,
            };
            if expires <= now || expires > now + TEMP_MAX_TTL {
                return Err(FsError::invalid(
                    "invalid `temp` item data: `expires_at` must be in the future and at most 30 days away",
                ));
            }
            item.expires_at = Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            serde_json::to_value(item)
        }
        Environment::Transcript => {
            let transcript: Transcript = parse(env, data)?;
            required(env, "title", &transcript.title)?;
            if let Some(at) = &transcript.recorded_at {
                parse_time(env, "recorded_at", at)?;
            }
            serde_json::to_value(transcript)
        }
        Environment::Chrono => {
            let reminder: Reminder = parse(env, data)?;
            required(env, "title", &reminder.title)?;
            parse_time(env, "due", &reminder.due)?;
            if let Some(recurrence) = &reminder.recurrence
                && !matches!(recurrence.as_str(), "daily" | "weekly" | "monthly")
            {
                return Err(FsError::invalid(
                    "invalid `chrono` item data: `recurrence` is `daily`, `weekly` or `monthly`",
                ));
            }
            serde_json::to_value(reminder)
        }
    };
    let stored = stored.map_err(|error| FsError::Internal {
        message: format!("item data did not serialize: {error}"),
    })?;
    if serde_json::to_vec(&stored).map_or(usize::MAX, |bytes| bytes.len()) > MAX_ITEM_BYTES {
        return Err(FsError::invalid(format!(
            "an item is at most {MAX_ITEM_BYTES} bytes of JSON"
        )));
    }
    Ok(stored)
}

/// When a stored Temp item expires (`None` for other environments or unreadable data).
pub fn expires_at(env: Environment, data: &Value) -> Option<DateTime<Utc>> {
    if env != Environment::Temp {
        return None;
    }
    let text = data.get("expires_at")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}
