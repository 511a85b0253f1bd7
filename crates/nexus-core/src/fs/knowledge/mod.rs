//! The knowledge layer (seed 004; `docs/knowledge.md`): items of the thirteen
//! environments, group sessions, sharing and the reporting line, built on files and the
//! permission engine and nothing beside them.
//!
//! ```text
//!   items.rs     Items: create, get, update, delete, list and search items; share,
//!                unshare, explain access, assign tasks, resolve workflow, expire Temp
//!   sessions.rs  Sessions: start, list, add members, end
//!   people.rs    the reporting line (managers), on the organizations service
//!   reminders.rs Chrono: the reminder schedule, firing, notification feeds
//!   secrets.rs   Lockers: sealing and opening secrets, the master key
//!   data.rs      each environment's data: typed, validated on write
//! ```
//!
//! An item is the file its key names (`ItemKey::path`); its data is the file's JSON. Every
//! decision is a check in the engine: the schema derives an item's grants from where its
//! file sits (personal, universal and session scopes, the Track owner's manager, lockers
//! kept from organization admins) and stores the rest as relationships (the creator of a
//! shared item, direct, session and universal shares, assignees, session membership,
//! managers).

pub mod data;
mod items;
mod people;
mod reminders;
mod secrets;
mod sessions;

pub use items::ItemQuery;
pub use secrets::LockerRotation;

use nexus_knowledge::{Environment, Scope};
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef,
};

use super::Fs;
use crate::authz;
use crate::error::FsError;
use crate::principal::{CallContext, Principal};

/// The folder of an organization's items.
pub(crate) fn items_root(org: &OrgId) -> Result<VfsPath, FsError> {
    Ok(VfsPath::parse(&format!(
        "{}/{}",
        VfsPath::org_root(org),
        nexus_knowledge::ITEMS_FOLDER
    ))?)
}

/// The folder of one scope of one environment.
pub(crate) fn scope_folder(
    org: &OrgId,
    env: Environment,
    scope: &Scope,
) -> Result<VfsPath, FsError> {
    Ok(VfsPath::parse(&format!(
        "{}/{env}/{scope}",
        items_root(org)?
    ))?)
}

/// `session:<org>/s_XXXX`.
pub(crate) fn session_object(org: &OrgId, session: &str) -> ObjectRef {
    ObjectRef::new("session", format!("{org}/{session}"))
}

/// `profile:<org>/u_XXXX`.
pub(crate) fn profile_object(org: &OrgId, user: &str) -> ObjectRef {
    ObjectRef::new("profile", format!("{org}/{user}"))
}

/// A session's stable id, checked.
pub(crate) fn parse_session_id(text: &str) -> Result<String, FsError> {
    match Scope::parse(text) {
        Ok(Scope::Session(id)) => Ok(id),
        _ => Err(FsError::invalid(format!(
            "`{}` is not a session id: sessions are `s_` and four of `[0-9a-z]`",
            text.chars().take(40).collect::<String>()
        ))),
    }
}

/// One relationship change.
pub(crate) fn update(operation: Operation, relationship: Relationship) -> RelationshipUpdate {
    RelationshipUpdate {
        operation,
        relationship,
    }
}

impl Fs {
    /// The knowledge layer needs the default schema's item relations; a deployment's own
    /// schema without them cannot hold items.
    pub(crate) fn require_knowledge_schema(&self) -> Result<(), FsError> {
        let engine = self.authz.engine();
        let schema = engine.schema();
        let has = |type_name: &str, relation: &str| {
            schema
                .type_id(type_name)
                .and_then(|id| schema.type_definition(id))
                .is_some_and(|definition| definition.relation_id(relation).is_some())
        };
        let complete = [
            ("file", "scope_owner"),
            ("file", "create"),
            ("file", "shared_with"),
            ("session", "participant"),
            ("profile", "manager"),
        ]
        .iter()
        .all(|(type_name, relation)| has(type_name, relation));
        if complete {
            Ok(())
        } else {
            Err(FsError::invalid(
                "this deployment's authorization schema lacks the knowledge layer's relations (see the default schema: `session`, `profile`, and `file#scope_owner`, `create`, `shared_with`)",
            ))
        }
    }

    /// The organization named `org`, which the caller must belong to (the system belongs
    /// everywhere); to anyone else it does not exist.
    pub(crate) fn knowledge_org(&self, context: &CallContext, org: &str) -> Result<OrgId, FsError> {
        let org = Fs::org_of_context(context, org)?;
        self.require_knowledge_schema()?;
        if !self.authz.member(context, &org)? {
            return Err(FsError::WrongOrganization {
                path: VfsPath::org_root(&org),
            });
        }
        Ok(org)
    }

    /// The caller's own scope: a user's stable id, or an agent's `a_XXXX`.
    pub(crate) fn own_scope(&self, context: &CallContext) -> Result<Scope, FsError> {
        // An agent acting for a user works in the user's personal scope.
        let principal = context
            .on_behalf_of
            .clone()
            .unwrap_or_else(|| context.principal.clone());
        match self.resolve_principal(principal) {
            Principal::User(id) => match Scope::parse(&id) {
                Ok(scope @ Scope::User(_)) => Ok(scope),
                _ => Err(FsError::invalid(format!(
                    "`{id}` has no stable id, so no personal scope"
                ))),
            },
            Principal::Agent(id) => match Scope::parse(&id) {
                Ok(scope @ Scope::Agent(_)) => Ok(scope),
                _ => Err(FsError::invalid(format!(
                    "agent `{id}` has no stable id (`a_XXXX`), so no personal scope: name the scope (`UNIV` or `s_XXXX`)"
                ))),
            },
            Principal::System => Err(FsError::invalid(
                "the system administrator has no personal scope: name the scope (`u_XXXX`, `UNIV` or `s_XXXX`)",
            )),
        }
    }

    /// The scope a request names: `personal` (the caller's own), `UNIV`, `u_XXXX`,
    /// `a_XXXX` or `s_XXXX`.
    pub(crate) fn requested_scope(
        &self,
        context: &CallContext,
        text: &str,
    ) -> Result<Scope, FsError> {
        if text == "personal" {
            return self.own_scope(context);
        }
        Scope::parse(text).map_err(|_| {
            FsError::invalid(format!(
                "`{}` is not a scope: use `personal`, `UNIV`, or a session's stable id `s_XXXX`",
                text.chars().take(40).collect::<String>()
            ))
        })
    }

    /// The subject a stable id or handle names, for relationships: `user:u_XXXX` for a
    /// user's id or handle (or `user:<handle>`), `agent:a_XXXX` for an agent's id or
    /// `agent:<name>`. Unknown names are kept as given: the organization filter refuses them
    /// like any non-member.
    pub(crate) fn member_subject(&self, text: &str) -> SubjectRef {
        if let Some(name) = text.strip_prefix("agent:") {
            let id = self
                .registry
                .agent_id(name)
                .unwrap_or_else(|| name.to_owned());
            return SubjectRef::object("agent", id);
        }
        if let Ok(Scope::Agent(id)) = Scope::parse(text) {
            return SubjectRef::object("agent", id);
        }
        let text = text.strip_prefix("user:").unwrap_or(text);
        let id = self
            .registry
            .user_id(text)
            .unwrap_or_else(|| text.to_owned());
        SubjectRef::object("user", id)
    }

    /// Stored relationships on one object with one relation.
    pub(crate) fn relationships_on(&self, object: &ObjectRef, relation: &str) -> Vec<Relationship> {
        let engine = self.authz.engine();
        engine.read(
            &RelationshipFilter {
                resource_type: Some(object.object_type.clone()),
                resource_id: Some(object.object_id.clone()),
                relation: Some(relation.to_owned()),
                ..RelationshipFilter::default()
            },
            None,
            usize::MAX,
            authz::now(),
        )
    }
}

/// Items' parsed data and searchable text by content hash, so listing and searching do not
/// read and parse the same content again. Content-addressed, so never stale; bounded (it
/// starts over when full).
#[derive(Debug, Default)]
pub(crate) struct ItemCache {
    entries: parking_lot::Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    map: std::collections::HashMap<nexus_store::ContentHash, std::sync::Arc<CachedItem>>,
    bytes: usize,
}

/// An item's data, and its key-less text for keyword search (values, lowercased).
#[derive(Debug)]
pub(crate) struct CachedItem {
    pub data: serde_json::Value,
    pub text: String,
}

/// The most the cache holds, counted as three times the content's size.
const ITEM_CACHE_BYTES: usize = 64 * 1024 * 1024;

impl ItemCache {
    pub(crate) fn get(
        &self,
        hash: &nexus_store::ContentHash,
    ) -> Option<std::sync::Arc<CachedItem>> {
        self.entries.lock().map.get(hash).cloned()
    }

    pub(crate) fn insert(
        &self,
        hash: nexus_store::ContentHash,
        size: usize,
        item: std::sync::Arc<CachedItem>,
    ) {
        let mut state = self.entries.lock();
        let cost = size.saturating_mul(3).max(64);
        if state.bytes.saturating_add(cost) > ITEM_CACHE_BYTES {
            state.map.clear();
            state.bytes = 0;
        }
        if state.map.insert(hash, item).is_none() {
            state.bytes += cost;
        }
    }
}
