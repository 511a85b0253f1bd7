//! The default authorization schema and what any deployment schema must provide.

use std::sync::Arc;

use nexus_path::OrgId;
use nexus_rebac::{DerivedRelation, Schema};

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

definition file {
    // Derived from the path, never stored: the parent directory and the organization.
    relation parent: file
    relation org: org

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

    // Grants inherit downward through parent directories.
    permission read_grant = owner + admin + editor + member + assistant + viewer + acl_read + org->admin + parent->read_grant
    permission write_grant = owner + admin + editor + member + assistant + acl_write + org->admin + parent->write_grant
    permission manage_grant = owner + admin + acl_manage + org->admin + parent->manage_grant

    // Nothing in an organization is accessible without current membership.
    permission read = read_grant & org->membership
    permission write = write_grant & org->membership
    permission manage = manage_grant & org->membership
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

/// `file#parent` and `file#org`, computed from the path.
pub fn derived_relations() -> Vec<DerivedRelation> {
    vec![
        DerivedRelation {
            resource_type: "file".to_owned(),
            relation: "parent".to_owned(),
            // File ids are canonical paths (checked where they enter), so string operations
            // suffice: the parent is everything before the last `/`.
            derive: Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                match id.rsplit_once('/') {
                    Some(("", "")) | None => {}
                    Some(("", _)) => emit("file", "/"),
                    Some((parent, _)) => emit("file", parent),
                }
            }),
        },
        DerivedRelation {
            resource_type: "file".to_owned(),
            relation: "org".to_owned(),
            // `/orgs/<org>/...`: the second segment, if it is a valid organization id.
            derive: Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                let org = id.strip_prefix("/orgs/").unwrap_or("").split('/').next();
                if let Some(org) = org.filter(|org| OrgId::is_valid(org)) {
                    emit("org", org);
                }
            }),
        },
    ]
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
