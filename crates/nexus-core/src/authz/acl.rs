//! ACLs: a second front door over the same relationships.
//!
//! `setfacl PATH user:ID:rwx` stores one relationship per bit (`acl_read`, `acl_write`,
//! `acl_manage`) between `file:PATH` and the subject; the entry replaces that subject's entry
//! at that path, and `---` removes it. Entries apply to everything beneath the path because
//! the schema's grants inherit through `parent`. `r` is read and list, `w` create, modify and
//! delete, `x` manage (change ACLs and relationships, manage members).

use std::fmt;

use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef,
};
use serde::Serialize;

use crate::error::FsError;

/// The relations behind the three bits, in `rwx` order.
pub const ACL_RELATIONS: [&str; 3] = ["acl_read", "acl_write", "acl_manage"];
/// Role relations a path may carry besides ACL bits.
pub const ROLE_RELATIONS: [&str; 6] = ["owner", "admin", "editor", "member", "assistant", "viewer"];

/// The kind of subject an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AclSubjectKind {
    User,
    Agent,
    Group,
}

/// One ACL entry: `user:ID:rwx`, `agent:ID:r--`, `group:NAME:rw-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub kind: AclSubjectKind,
    pub id: String,
    pub read: bool,
    pub write: bool,
    pub manage: bool,
}

impl AclEntry {
    /// Parses `kind:id:mode` where mode is three characters from `r-`, `w-`, `x-`.
    pub fn parse(text: &str) -> Result<AclEntry, FsError> {
        let invalid = |problem: &str| {
            FsError::invalid(format!(
                "invalid ACL entry `{}`: {problem}; use `user:ID:rwx`, `agent:ID:rw-` or `group:NAME:r--`",
                text.chars().take(200).collect::<String>()
            ))
        };
        let (kind, rest) = text.split_once(':').ok_or_else(|| invalid("missing `:`"))?;
        let (id, mode) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing the mode"))?;
        let kind = match kind {
            "user" => AclSubjectKind::User,
            "agent" => AclSubjectKind::Agent,
            "group" => AclSubjectKind::Group,
            _ => return Err(invalid("the subject must be `user`, `agent` or `group`")),
        };
        if id.is_empty()
            || id.len() > 256
            || id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '*')
        {
            return Err(invalid(
                "the id is empty or contains whitespace, `#` or `*`",
            ));
        }
        let bits: Vec<char> = mode.chars().collect();
        let [r, w, x] = bits.as_slice() else {
            return Err(invalid("the mode must be three characters such as `rw-`"));
        };
        let bit = |found: char, letter: char| match found {
            '-' => Ok(false),
            c if c == letter => Ok(true),
            _ => Err(invalid(&format!(
                "mode position for `{letter}` must be `{letter}` or `-`"
            ))),
        };
        Ok(AclEntry {
            kind,
            id: id.to_owned(),
            read: bit(*r, 'r')?,
            write: bit(*w, 'w')?,
            manage: bit(*x, 'x')?,
        })
    }

    /// The subject in relationships. Groups belong to an organization: a group name without
    /// `org/` is taken in the path's organization.
    pub fn subject(&self, org: Option<&OrgId>) -> SubjectRef {
        match self.kind {
            AclSubjectKind::User => SubjectRef::object("user", &self.id),
            AclSubjectKind::Agent => SubjectRef::object("agent", &self.id),
            AclSubjectKind::Group => {
                SubjectRef::userset("group", qualify_group(&self.id, org), "member")
            }
        }
    }

    /// The mode as `rwx` / `r--` ...
    pub fn mode(&self) -> String {
        format!(
            "{}{}{}",
            if self.read { 'r' } else { '-' },
            if self.write { 'w' } else { '-' },
            if self.manage { 'x' } else { '-' }
        )
    }

    /// The relationship updates that make this entry the subject's entry at `path`.
    pub fn updates(&self, path: &VfsPath, org: Option<&OrgId>) -> Vec<RelationshipUpdate> {
        let subject = self.subject(org);
        [self.read, self.write, self.manage]
            .into_iter()
            .zip(ACL_RELATIONS)
            .map(|(granted, relation)| RelationshipUpdate {
                operation: if granted {
                    Operation::Touch
                } else {
                    Operation::Delete
                },
                relationship: Relationship::new(
                    ObjectRef::new("file", path.as_str()),
                    relation,
                    subject.clone(),
                ),
            })
            .collect()
    }
}

impl fmt::Display for AclEntry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AclSubjectKind::User => "user",
            AclSubjectKind::Agent => "agent",
            AclSubjectKind::Group => "group",
        };
        write!(formatter, "{kind}:{}:{}", self.id, self.mode())
    }
}

/// `acme/eng` stays; `eng` in organization `acme` becomes `acme/eng`.
pub fn qualify_group(name: &str, org: Option<&OrgId>) -> String {
    match org {
        Some(org) if !name.contains('/') => format!("{org}/{name}"),
        _ => name.to_owned(),
    }
}

pub use nexus_api::{AclListing, AclListingEntry, RoleGrant};

/// Builds the listing from the relationships stored on the path.
pub fn listing(path: &VfsPath, org: Option<&OrgId>, relationships: &[Relationship]) -> AclListing {
    let mut bits: Vec<(String, [bool; 3])> = Vec::new();
    let mut roles = Vec::new();
    for relationship in relationships {
        let subject = display_subject(&relationship.subject, org);
        if let Some(position) = ACL_RELATIONS
            .iter()
            .position(|relation| *relation == relationship.relation)
        {
            let index =
                if let Some(index) = bits.iter().position(|(existing, _)| *existing == subject) {
                    index
                } else {
                    bits.push((subject.clone(), [false; 3]));
                    bits.len() - 1
                };
            if let Some((_, flags)) = bits.get_mut(index)
                && let Some(flag) = flags.get_mut(position)
            {
                *flag = true;
            }
        } else {
            roles.push(RoleGrant {
                relation: relationship.relation.clone(),
                subject,
            });
        }
    }
    bits.sort();
    roles.sort_by(|a, b| (&a.relation, &a.subject).cmp(&(&b.relation, &b.subject)));
    AclListing {
        path: path.to_string(),
        entries: bits
            .into_iter()
            .map(|(subject, [r, w, x])| AclListingEntry {
                subject,
                mode: format!(
                    "{}{}{}",
                    if r { 'r' } else { '-' },
                    if w { 'w' } else { '-' },
                    if x { 'x' } else { '-' }
                ),
            })
            .collect(),
        roles,
    }
}

/// `user:ID`, `agent:ID`, `group:NAME` (the organization prefix dropped inside it).
fn display_subject(subject: &SubjectRef, org: Option<&OrgId>) -> String {
    if subject.object.object_type == "group" {
        let name = &subject.object.object_id;
        let short = org
            .and_then(|org| name.strip_prefix(&format!("{org}/")))
            .unwrap_or(name);
        return format!("group:{short}");
    }
    subject.object.to_string()
}

/// The filter for the relationships `getfacl` shows.
pub fn path_filter(path: &VfsPath) -> RelationshipFilter {
    RelationshipFilter {
        resource_type: Some("file".to_owned()),
        resource_id: Some(path.to_string()),
        ..RelationshipFilter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_print() {
        let entry = AclEntry::parse("user:bob@acme.com:rw-").unwrap();
        assert_eq!((entry.read, entry.write, entry.manage), (true, true, false));
        assert_eq!(entry.to_string(), "user:bob@acme.com:rw-");
        assert_eq!(
            AclEntry::parse("agent:sales_bot_001:r--").unwrap().kind,
            AclSubjectKind::Agent
        );
        let group = AclEntry::parse("group:eng:--x").unwrap();
        let acme = OrgId::parse("acme").unwrap();
        assert_eq!(
            group.subject(Some(&acme)).to_string(),
            "group:acme/eng#member"
        );
        for bad in [
            "bob:rwx",
            "user:bob",
            "user::rwx",
            "user:bob:rwxx",
            "user:bob:wr-",
            "robot:x:rwx",
            "user:a b:rwx",
            "user:*:r--",
        ] {
            assert!(AclEntry::parse(bad).is_err(), "{bad}");
        }
    }
}
