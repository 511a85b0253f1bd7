//! The default authorization schema and what any deployment schema must provide.

use std::sync::Arc;

use nexus_knowledge::{Environment, Place, Scope};
use nexus_path::OrgId;
use nexus_rebac::{DerivedRelation, Schema};

use crate::accounts::RESERVED_UNIVERSAL;

/// The schema used until a deployment writes its own (documented in `docs/permissions.md`).
pub const DEFAULT_SCHEMA: &str = r"// Nexus default authorization schema.
definition user {}

definition agent {}

definition group {
    relation member: user | agent | group#member
}

definition org {
    relation admin: user | agent | group#member
    relation member: user | agent | group#member
    permission membership = admin + member
}

definition session {
    // A knowledge-layer session (`<org>/s_XXXX`): its organization is derived from the id.
    relation org: org
    relation owner: user | agent
    relation member: user | agent
    // Held by everyone (`user:*`, `agent:*`) while the session is active; ending it deletes it.
    relation active: user:* | agent:*
    permission participant = (owner + member) & org->membership
    permission contribute = participant & active
    permission administer = (owner + org->admin) & org->membership
}

definition profile {
    // A person's place in an organization (`<org>/u_XXXX`): its organization is derived
    // from the id. Only organization admins set the manager.
    relation org: org
    relation manager: user
}

definition file {
    // Derived from the path, never stored: the parent directory and the organization.
    relation parent: file
    relation org: org

    // Knowledge items (`/orgs/<org>/.nexus/<env>/<scope>/...`), derived from the path and
    // never stored: the scope folder of an item (so files elsewhere evaluate one relation
    // for all of these); on the scope folder, the personal scope's owner, the organization
    // of a universal scope (and of a universal scope folder members may add to), the
    // session of a session scope, the profile of a Track scope's owner (for the manager);
    // and the organization whose admins a personal locker keeps out.
    relation knowledge: file
    relation scope_owner: user | agent
    relation universal: org
    relation commons: org
    relation session: session
    relation reports: profile
    relation sealed: org

    // Roles. The seed's admin means rwx, member and assistant rw-.
    relation owner: user | agent | group#member
    relation admin: user | agent | group#member
    relation editor: user | agent | group#member
    relation member: user | agent | group#member
    relation assistant: user | agent | group#member
    relation viewer: user | agent | group#member | user:* | agent:*

    // ACL entries: the r, w and x of setfacl.
    relation acl_read: user | agent | group#member
    relation acl_write: user | agent | group#member
    relation acl_manage: user | agent | group#member

    // Sharing of items: directly, with a session's members, with the whole organization,
    // and the assignees of a task.
    relation shared_with: user | agent | group#member | org#admin
    relation shared_session: session
    relation published: org
    relation assignee: user | agent

    // Organization admins reach everything in their organization but personal lockers.
    permission admin_reach = org->admin - sealed->admin

    // What a scope folder gives every item in it.
    permission scope_read = scope_owner + universal->membership + session->participant + reports->manager
    permission scope_write = scope_owner + session->contribute

    // Grants inherit downward through parent directories.
    permission read_grant = owner + admin + editor + member + assistant + viewer + acl_read + admin_reach + parent->read_grant + knowledge->scope_read + shared_with + shared_session->participant + published->membership + assignee
    permission write_grant = owner + admin + editor + member + assistant + acl_write + admin_reach + parent->write_grant + knowledge->scope_write + assignee
    permission manage_grant = owner + admin + acl_manage + admin_reach + parent->manage_grant + knowledge->scope_owner

    // Nothing in an organization is accessible without current membership.
    permission read = read_grant & org->membership
    permission write = write_grant & org->membership
    permission manage = manage_grant & org->membership

    // Adding an item to a scope folder, and reassigning a task (its owner's manager may).
    permission create = (write_grant + commons->membership) & org->membership
    permission reassign = (write_grant + knowledge->via_manager) & org->membership

    // Why someone may read an item (the reasons `GET .../items/{key}/access` shows).
    permission via_owner = owner + knowledge->scope_owner
    permission via_universal = knowledge->via_scope_universal + published->membership
    permission via_session = knowledge->via_scope_session + shared_session->participant
    permission via_shared = shared_with
    permission via_assignee = assignee
    permission via_manager = reports->manager
    permission via_scope_universal = universal->membership
    permission via_scope_session = session->participant
    permission via_org_admin = admin_reach
    permission via_acl = admin + editor + member + assistant + viewer + acl_read + parent->via_acl
}
";

/// What a schema lacks that the filesystem relies on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("a Nexus schema must define `{0}`")]
    MissingType(&'static str),
    #[error("a Nexus schema must give `{0}` a relation or permission `{1}`")]
    MissingRelation(&'static str, &'static str),
    #[error("`file#{0}` must be a relation: it is derived from the path")]
    DerivedNotRelation(&'static str),
}

/// Checks that a schema provides what the filesystem relies on.
pub fn check_contract(schema: &Schema) -> Result<(), ContractError> {
    let require = |type_name: &'static str, names: &[&'static str]| {
        let definition = schema
            .type_id(type_name)
            .and_then(|id| schema.type_definition(id))
            .ok_or(ContractError::MissingType(type_name))?;
        for name in names {
            if definition.relation_id(name).is_none() {
                return Err(ContractError::MissingRelation(type_name, name));
            }
        }
        Ok(())
    };
    require("user", &[])?;
    require("org", &["membership"])?;
    require("file", &["parent", "org", "read", "write", "manage"])?;
    for derived in ["parent", "org"] {
        let file = schema
            .type_id("file")
            .and_then(|id| schema.type_definition(id));
        let is_relation = file
            .and_then(|definition| {
                definition
                    .relation_id(derived)
                    .and_then(|id| definition.relations.get(usize::from(id)))
            })
            .is_some_and(|relation| !relation.is_permission());
        if !is_relation {
            return Err(ContractError::DerivedNotRelation(derived));
        }
    }
    Ok(())
}

/// The relations computed from ids instead of stored: a file's `parent` and `org` (from its
/// path), the knowledge layer's relations of items (from where the path sits in the items
/// tree, see `docs/knowledge.md`), and the organization of sessions and profiles (from
/// their ids, `<org>/<stable id>`). A schema without one of the optional ones simply does
/// without it.
#[allow(
    clippy::too_many_lines,
    reason = "one entry per derived relation, read as a table"
)]
pub fn derived_relations() -> Vec<DerivedRelation> {
    let derived =
        |resource_type: &str, relation: &str, derive: nexus_rebac::Derive| DerivedRelation {
            resource_type: resource_type.to_owned(),
            relation: relation.to_owned(),
            derive,
        };
    vec![
        // File ids are canonical paths (checked where they enter), so string operations
        // suffice: the parent is everything before the last `/`. Grants do not inherit into
        // an organization's items folder: above a scope folder there is no parent.
        derived(
            "file",
            "parent",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if Place::of(id).is_some_and(|place| place.is_inheritance_root()) {
                    return;
                }
                match id.rsplit_once('/') {
                    Some(("", "")) | None => {}
                    Some(("", _)) => emit("file", "/"),
                    Some((parent, _)) => emit("file", parent),
                }
            }),
        ),
        // `/orgs/<org>/...`: the second segment, if it is a valid organization id.
        derived(
            "file",
            "org",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                let org = id.strip_prefix("/orgs/").unwrap_or("").split('/').next();
                if let Some(org) = org.filter(|org| OrgId::is_valid(org)) {
                    emit("org", org);
                }
            }),
        ),
        derived(
            "file",
            "knowledge",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && let (Some(env), Some(scope)) = (place.env, place.scope)
                {
                    // The scope folder, `/orgs/<org>/.nexus/<env>/<scope>`: a prefix of the id.
                    let end = "/orgs/".len()
                        + place.org.len()
                        + nexus_knowledge::ITEMS_FOLDER.len()
                        + 2
                        + env.len()
                        + 1
                        + scope.len();
                    if let Some(folder) = id.get(..end) {
                        emit("file", folder);
                    }
                }
            }),
        ),
        derived(
            "file",
            "scope_owner",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id) {
                    match place.scope.map(Scope::parse) {
                        Some(Ok(Scope::User(user))) => emit("user", &user),
                        Some(Ok(Scope::Agent(agent))) => emit("agent", &agent),
                        _ => {}
                    }
                }
            }),
        ),
        derived(
            "file",
            "universal",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && place.scope == Some(RESERVED_UNIVERSAL)
                {
                    emit("org", place.org);
                }
            }),
        ),
        derived(
            "file",
            "commons",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && place.scope == Some(RESERVED_UNIVERSAL)
                    && !place.below_scope
                    && place
                        .env
                        .and_then(|env| env.parse::<Environment>().ok())
                        .is_some_and(Environment::members_add_universal)
                {
                    emit("org", place.org);
                }
            }),
        ),
        derived(
            "file",
            "session",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && let Some(Ok(Scope::Session(session))) = place.scope.map(Scope::parse)
                {
                    emit("session", &format!("{}/{session}", place.org));
                }
            }),
        ),
        derived(
            "file",
            "reports",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && place.env == Some(Environment::Track.as_str())
                    && let Some(Ok(Scope::User(user))) = place.scope.map(Scope::parse)
                {
                    emit("profile", &format!("{}/{user}", place.org));
                }
            }),
        ),
        derived(
            "file",
            "sealed",
            Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(place) = item_place(id)
                    && place.env == Some(Environment::Locker.as_str())
                    && matches!(
                        place.scope.map(Scope::parse),
                        Some(Ok(Scope::User(_) | Scope::Agent(_)))
                    )
                {
                    emit("org", place.org);
                }
            }),
        ),
        derived("session", "org", Arc::new(org_of_prefixed_id)),
        derived("profile", "org", Arc::new(org_of_prefixed_id)),
    ]
}

/// The place of an items-tree path of a valid organization.
fn item_place(id: &str) -> Option<Place<'_>> {
    Place::of(id).filter(|place| OrgId::is_valid(place.org))
}

/// `<org>/<rest>` ids name their organization first.
fn org_of_prefixed_id(id: &str, emit: &mut dyn FnMut(&str, &str)) {
    if let Some((org, _)) = id.split_once('/')
        && OrgId::is_valid(org)
    {
        emit("org", org);
    }
}

/// Relations the filesystem derives but a deployment's schema may leave out.
pub fn is_optional_derived(relation: &DerivedRelation) -> bool {
    !(relation.resource_type == "file" && matches!(relation.relation.as_str(), "parent" | "org"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schema_meets_the_contract() {
        let schema = Schema::parse(DEFAULT_SCHEMA).unwrap();
        check_contract(&schema).unwrap();
        let broken =
            Schema::parse("definition user {}\ndefinition org { relation membership: user }")
                .unwrap();
        assert_eq!(
            check_contract(&broken).unwrap_err().to_string(),
            "a Nexus schema must define `file`"
        );
    }

    #[test]
    fn derived_relations_follow_the_path() {
        let relations = derived_relations();
        let derive = |relation: usize, id: &str| {
            let mut found = Vec::new();
            (relations[relation].derive)(id, &mut |object_type, object_id| {
                found.push(format!("{object_type}:{object_id}"));
            });
            found
        };
        assert_eq!(derive(0, "/orgs/acme/x"), ["file:/orgs/acme"]);
        assert_eq!(derive(0, "/orgs"), ["file:/"]);
        assert_eq!(derive(0, "/"), Vec::<String>::new());
        assert_eq!(derive(1, "/orgs/acme/x/y"), ["org:acme"]);
        assert_eq!(derive(1, "/orgs/acme"), ["org:acme"]);
        assert_eq!(derive(1, "/orgs"), Vec::<String>::new());
        assert_eq!(derive(1, "/orgs/Bad Org/x"), Vec::<String>::new());
    }
}
