//! The reporting line: `profile:<org>/u_XXXX#manager`, set only by organization admins.
//! The schema gives a manager read access to the Track items of those who report to them
//! (`file#reports->manager`) and lets them reassign those tasks within the team.

use nexus_api::items::ReportingLine;
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{ObjectRef, Operation, Relationship, RelationshipFilter, SubjectRef};

use super::{profile_object, update};
use crate::authz;
use crate::error::FsError;
use crate::fs::{Fs, Orgs};
use crate::principal::CallContext;

/// Longest reporting chain walked when refusing cycles.
const MAX_CHAIN: usize = 1000;

impl Fs {
    /// A member's manager and subordinates, by stable id.
    pub(crate) fn reporting_line_of(&self, org: &OrgId, user: &str) -> ReportingLine {
        let manager = self
            .relationships_on(&profile_object(org, user), "manager")
            .into_iter()
            .next()
            .map(|relationship| relationship.subject.object.object_id);
        let prefix = format!("{org}/");
        let mut subordinates: Vec<String> = self
            .authz
            .engine()
            .read(
                &RelationshipFilter {
                    resource_type: Some("profile".to_owned()),
                    relation: Some("manager".to_owned()),
                    subject_type: Some("user".to_owned()),
                    subject_id: Some(user.to_owned()),
                    ..RelationshipFilter::default()
                },
                None,
                usize::MAX,
                authz::now(),
            )
            .into_iter()
            .filter_map(|relationship| {
                relationship
                    .resource
                    .object_id
                    .strip_prefix(&prefix)
                    .map(str::to_owned)
            })
            .collect();
        subordinates.sort();
        ReportingLine {
            user: user.to_owned(),
            manager,
            subordinates,
        }
    }

    /// The stable id of a current member of `org` named by handle or stable id; anyone
    /// else does not exist here.
    fn member_id(&self, org: &OrgId, text: &str) -> Result<String, FsError> {
        let subject = self.member_subject(text);
        if subject.object.object_type == "user" && self.authz.is_member(&subject, org)? {
            return Ok(subject.object.object_id);
        }
        Err(FsError::Missing {
            message: format!(
                "`{}` is not a member of organization `{org}`",
                text.chars().take(80).collect::<String>()
            ),
        })
    }
}

impl Orgs<'_> {
    /// A member's reporting line (any member of the organization may read it).
    pub fn reporting_line(
        self,
        context: &CallContext,
        org: &str,
        user: &str,
    ) -> Result<ReportingLine, FsError> {
        let org = self.knowledge_org(context, org)?;
        let user = self.member_id(&org, user)?;
        Ok(self.reporting_line_of(&org, &user))
    }

    /// Sets (or with `None` clears) a member's manager. Only an organization admin or the
    /// system administrator may: otherwise anyone could name themselves the manager of
    /// anyone and read their Track items.
    pub async fn set_manager(
        self,
        context: &CallContext,
        org: &str,
        user: &str,
        manager: Option<&str>,
    ) -> Result<ReportingLine, FsError> {
        let org = self.knowledge_org(context, org)?;
        if !self
            .authz
            .holds(context, &ObjectRef::new("org", org.as_str()), "admin")?
        {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "set the manager (organization admins only) of",
                path: VfsPath::org_root(&org),
            });
        }
        let user = self.member_id(&org, user)?;
        let manager = manager
            .map(|manager| self.member_id(&org, manager))
            .transpose()?;
        if manager.as_deref() == Some(user.as_str()) {
            return Err(FsError::invalid(format!(
                "`{user}` cannot be their own manager"
            )));
        }
        if let Some(manager) = &manager {
            // Walk up from the new manager: reaching `user` would close a cycle.
            let mut current = Some(manager.clone());
            for _ in 0..MAX_CHAIN {
                let Some(id) = current else { break };
                if id == user {
                    return Err(FsError::Conflict {
                        message: format!(
                            "`{manager}` reports (directly or not) to `{user}`: the reporting line cannot be a cycle"
                        ),
                    });
                }
                current = self.reporting_line_of(&org, &id).manager;
            }
        }
        let profile = profile_object(&org, &user);
        let mut updates: Vec<_> = self
            .relationships_on(&profile, "manager")
            .into_iter()
            .filter(|existing| Some(&existing.subject.object.object_id) != manager.as_ref())
            .map(|existing| update(Operation::Delete, existing))
            .collect();
        if let Some(manager) = &manager {
            updates.push(update(
                Operation::Touch,
                Relationship::new(profile, "manager", SubjectRef::object("user", manager)),
            ));
        }
        self.commit.write(context, updates, Vec::new()).await?;
        Ok(self.reporting_line_of(&org, &user))
    }
}
