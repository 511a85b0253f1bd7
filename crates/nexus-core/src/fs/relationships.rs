//! Relationship and ACL operations on the filesystem's permission engine, with the caller's
//! right to perform them checked.
//!
//! Who may do what:
//! - writing or deleting a relationship needs `manage` on what the resource governs: the
//!   file's path, `/orgs/<org>` for `org:<org>` and `group:<org>/...`; other resource types
//!   are the system's alone;
//! - a check is open to the system, to the subject asking about itself, and to whoever
//!   manages the resource; resource lookups to the system and the subject itself; subject
//!   lookups, expansions and relationship reads to whoever manages the resource;
//! - the schema and the change log are the system's.
//!
//! When the system (the local operator) grants something inside an organization to a user or
//! agent who is not yet a member, the grant also makes them a member: the operator vouches
//! for them. Anyone else granting to a non-member is refused (cross-tenant).

use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    CheckRequest, CheckResult, ExpandNode, FoundResource, ObjectRef, Operation, Relationship,
    RelationshipFilter, RelationshipUpdate, SubjectLookup, SubjectRef, WriteOutcome,
    WritePrecondition,
};

use super::accounts::registrations;
use super::orgs::{MemberKind, MemberRecord, MemberStatus, Role};
use super::{Fs, Relationships};
use crate::authz::acl::{self, AclEntry, AclListing};
use crate::authz::{self, Permission, org_of};
use crate::error::FsError;
use crate::principal::{CallContext, Principal};

/// Arguments of a check.
#[derive(Debug, Clone, Copy)]
pub struct CheckQuery<'a> {
    pub resource: &'a ObjectRef,
    pub permission: &'a str,
    pub subject: &'a SubjectRef,
    /// Caveat parameters.
    pub context: Option<&'a nexus_rebac::caveat::CaveatContext>,
    /// Answer at least as fresh as this revision token (see [`Relationships::revision_token`]).
    pub at_least: Option<&'a str>,
}

/// The path whose `manage` permission governs relationships on `resource`.
fn governing_path(resource: &ObjectRef) -> Option<VfsPath> {
    match resource.object_type.as_str() {
        "file" => VfsPath::parse(&resource.object_id).ok(),
        "org" | "group" => org_of(&Relationship::new(
            resource.clone(),
            "x",
            SubjectRef::object("x", "x"),
        ))
        .map(|org| VfsPath::org_root(&org)),
        _ => None,
    }
}

/// An error with every subject named as the caller typed it (never a stable id the caller
/// did not give, nor one made up for a registration that was rolled back).
fn as_typed(error: FsError, typed: &[(String, String)]) -> FsError {
    let retype = |text: String| {
        typed
            .iter()
            .filter(|(resolved, given)| resolved != given)
            .fold(text, |text, (resolved, given)| {
                // Whole subjects only: `user:u_ab12` must not rewrite `user:u_ab123`.
                let mut out = String::with_capacity(text.len());
                let mut rest = text.as_str();
                while let Some(at) = rest.find(resolved.as_str()) {
                    let end = at + resolved.len();
                    let next = rest.get(end..).and_then(|tail| tail.chars().next());
                    out.push_str(rest.get(..at).unwrap_or_default());
                    if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        out.push_str(resolved);
                    } else {
                        out.push_str(given);
                    }
                    rest = rest.get(end..).unwrap_or_default();
                }
                out.push_str(rest);
                out
            })
    };
    match error {
        FsError::CrossTenant { subject, org } => FsError::CrossTenant {
            subject: retype(subject),
            org,
        },
        FsError::Relationship(error) => FsError::Relationship(match error {
            nexus_rebac::WriteError::Invalid {
                relationship,
                problem,
            } => nexus_rebac::WriteError::Invalid {
                relationship: retype(relationship),
                problem: retype(problem),
            },
            nexus_rebac::WriteError::AlreadyExists(text) => {
                nexus_rebac::WriteError::AlreadyExists(retype(text))
            }
            nexus_rebac::WriteError::Duplicate(text) => {
                nexus_rebac::WriteError::Duplicate(retype(text))
            }
            nexus_rebac::WriteError::PreconditionFailed(text) => {
                nexus_rebac::WriteError::PreconditionFailed(retype(text))
            }
            nexus_rebac::WriteError::StalePlan => nexus_rebac::WriteError::StalePlan,
        }),
        other => other,
    }
}

/// The refusal of a subject that is not a member of the relationship's organization (or that
/// nobody has): one message for both, naming the subject as typed.
fn cross_tenant(subject: &str, relationship: &Relationship) -> FsError {
    FsError::CrossTenant {
        subject: subject.to_owned(),
        org: org_of(relationship).map_or_else(|| "?".to_owned(), |org| org.to_string()),
    }
}

fn is_system(context: &CallContext) -> bool {
    context.principal == Principal::System
}

impl Relationships<'_> {
    /// Refuses unless the caller may manage what `resource` belongs to.
    fn authorize_manage(self, context: &CallContext, resource: &ObjectRef) -> Result<(), FsError> {
        if is_system(context) {
            return Ok(());
        }
        let Some(path) = governing_path(resource) else {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "manage",
                path: VfsPath::root(),
            });
        };
        if let Some(org) = path
            .location()
            .ok()
            .and_then(|location| location.org().cloned())
            && !context.covers(&org)
        {
            return Err(FsError::WrongOrganization { path });
        }
        self.authorize(context, &path, Permission::Manage)
    }

    /// Writes relationships atomically as one revision.
    pub async fn write(
        self,
        context: &CallContext,
        mut updates: Vec<RelationshipUpdate>,
        preconditions: Vec<WritePrecondition>,
    ) -> Result<WriteOutcome, FsError> {
        for update in &mut updates {
            if update.relationship.resource.object_type == "file" {
                let path = VfsPath::parse(&update.relationship.resource.object_id)?;
                update.relationship.resource.object_id = path.to_string();
            }
            self.authorize_manage(context, &update.relationship.resource)?;
        }
        // Only the operator (or an organization's record) makes people members: whether a
        // grant of membership succeeds must not tell anyone else whether a principal exists.
        if !is_system(context)
            && let Some(update) = updates.iter().find(|update| {
                let relationship = &update.relationship;
                update.operation != Operation::Delete
                    && relationship.resource.object_type == "org"
                    && matches!(relationship.relation.as_str(), "admin" | "member")
                    && matches!(
                        relationship.subject.object.object_type.as_str(),
                        "user" | "agent"
                    )
            })
        {
            return Err(FsError::PrincipalRefused {
                message: format!(
                    "members of organization `{}` are added by the system administrator or through its {}: write that file (or use the members API) once it exists",
                    update.relationship.resource.object_id,
                    super::ORG_RECORD
                ),
            });
        }
        // Whoever another node registered is known before deciding who must be registered.
        self.catch_up_accounts().await?;
        // Whether an organization is managed by its record cannot change while we hold this.
        let _membership = self.membership.lock().await;
        let managed = self
            .managed_orgs(updates.iter().map(|update| &update.relationship))
            .await?;
        Self::refuse_membership_changes(
            updates.iter().map(|update| &update.relationship),
            &managed,
        )?;
        let _registering = self.registry.registering.lock().await;
        let mut pending = Vec::new();
        // Subjects as the caller typed them, for errors: a refusal never names a handle or
        // a stable id the caller did not give.
        let mut typed: Vec<(String, String)> = Vec::new();
        for update in &mut updates {
            let writing = update.operation != Operation::Delete;
            let register = is_system(context) && writing;
            let as_typed = update.relationship.subject.to_string();
            let resolved = self.resolve_subject(
                &mut update.relationship.subject,
                register.then_some(&mut pending),
            );
            if let Err(error) = resolved {
                return Err(match error {
                    FsError::InvalidInput { .. } if !is_system(context) => {
                        cross_tenant(&as_typed, &update.relationship)
                    }
                    other => other,
                });
            }
            typed.push((update.relationship.subject.to_string(), as_typed.clone()));
            let subject = &update.relationship.subject.object;
            if writing
                && subject.object_type == "user"
                && subject.object_id != "*"
                && self.registry.user_id(&subject.object_id).is_none()
                && !pending.iter().any(|record| record.id == subject.object_id)
            {
                // Only registered users hold anything: a grant to a name nobody has (or to an
                // id no one was given yet) would wait for whoever gets it. To anyone but the
                // operator this is the same refusal as for someone of another organization.
                if !is_system(context) {
                    return Err(cross_tenant(&as_typed, &update.relationship));
                }
                return Err(FsError::invalid(format!(
                    "there is no user `{}`: add them to an organization first",
                    as_typed.strip_prefix("user:").unwrap_or(&as_typed)
                )));
            }
        }
        let mut record_writes = Vec::new();
        if is_system(context) {
            let joining = self.memberships_needed(&updates, &managed)?;
            updates.extend(joining);
            let (enrolled, writes) = self
                .enroll_in_records(context, &updates, &managed, &typed, &mut pending)
                .await?;
            updates.extend(enrolled);
            record_writes = writes;
        }
        let mut mutations = registrations(&pending);
        mutations.extend(record_writes);
        let (outcome, _) = self
            .commit
            .write_with(context, updates, preconditions, mutations)
            .await
            .map_err(|error| as_typed(error, &typed))?;
        self.registry.commit(&pending);
        Ok(outcome)
    }

    /// Rewrites a `user:` or `agent:` subject given by handle (an agent's name) to its stable
    /// id. Unknown principals are registered into `pending` when given (the system vouches
    /// for them), else left as given (they hold nothing, so a check answers "no" and a
    /// delete deletes nothing).
    pub(crate) fn resolve_subject(
        self,
        subject: &mut SubjectRef,
        pending: Option<&mut Vec<nexus_store::PrincipalRecord>>,
    ) -> Result<(), FsError> {
        if subject.is_wildcard() {
            return Ok(());
        }
        match subject.object.object_type.as_str() {
            "user" => {
                let text = subject.object.object_id.clone();
                if let Some(id) = self.registry.user_id(&text) {
                    subject.object.object_id = id;
                } else if let Some(pending) = pending {
                    subject.object.object_id = self.accounts().user_for(&text, Some(pending))?;
                }
            }
            "agent" => {
                let text = subject.object.object_id.clone();
                if let Some(id) = self.registry.agent_id(&text) {
                    subject.object.object_id = id;
                } else if let Some(pending) = pending {
                    subject.object.object_id = self.accounts().agent_for(&text, Some(pending))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Users and agents the updates grant something in an organization with a record, who
    /// are not its members and belong to no other organization: the operator vouches for
    /// them, so they are added to the record (as `member`, in the same transaction as the
    /// grant). Returns the relationship changes and staged record writes. Someone of another
    /// organization is not added (the grant is then refused as cross-tenant).
    async fn enroll_in_records(
        self,
        context: &CallContext,
        updates: &[RelationshipUpdate],
        managed: &[OrgId],
        typed: &[(String, String)],
        pending: &mut Vec<nexus_store::PrincipalRecord>,
    ) -> Result<(Vec<RelationshipUpdate>, Vec<nexus_store::Mutation>), FsError> {
        let mut wanted: Vec<(OrgId, SubjectRef)> = Vec::new();
        for (relationship, org) in grants_to_principals(updates) {
            if !managed.contains(&org) {
                continue;
            }
            let subject = &relationship.subject;
            if wanted
                .iter()
                .any(|(known, who)| *known == org && who == subject)
                || self.belongs_anywhere(subject)?
            {
                continue;
            }
            wanted.push((org, subject.clone()));
        }
        let mut changes = Vec::new();
        let mut writes = Vec::new();
        let mut orgs: Vec<&OrgId> = wanted.iter().map(|(org, _)| org).collect();
        orgs.sort();
        orgs.dedup();
        for org in orgs {
            let Some((record, etag)) = self.orgs().org_record(org).await? else {
                continue;
            };
            let mut new = record.clone();
            for (_, subject) in wanted.iter().filter(|(known, _)| known == org) {
                let text = subject.to_string();
                let as_typed = typed
                    .iter()
                    .find(|(resolved, _)| *resolved == text)
                    .map_or(text.as_str(), |(_, as_typed)| as_typed.as_str());
                let (kind, name) = as_typed.split_once(':').unwrap_or(("user", as_typed));
                let listed = new.members.iter().any(|member| {
                    self.orgs().member_subject(member, None).ok().as_ref() == Some(subject)
                });
                if listed {
                    // Listed but not active (suspended): the record decides; no grant.
                    continue;
                }
                new.members.push(MemberRecord {
                    user_id: name.to_owned(),
                    role: Role::Member,
                    kind: if kind == "agent" {
                        MemberKind::Agent
                    } else {
                        MemberKind::Human
                    },
                    joined_at: Some(crate::format_timestamp(nexus_store::Timestamp::now())),
                    status: MemberStatus::Active,
                    workspaces: Vec::new(),
                    extra: std::iter::once((
                        "added_by".to_owned(),
                        serde_json::Value::String("system".to_owned()),
                    ))
                    .collect(),
                });
            }
            if new.members.len() == record.members.len() {
                continue;
            }
            let (updates, write) = self
                .orgs()
                .prepare_org_record(
                    context,
                    org,
                    Some(&record),
                    &new,
                    new.to_bytes()?,
                    nexus_store::Precondition::IfMatch(etag),
                    pending,
                )
                .await?;
            changes.extend(updates);
            writes.push(write);
        }
        Ok((changes, writes))
    }

    /// Whether `subject` is a member of any organization.
    fn belongs_anywhere(self, subject: &SubjectRef) -> Result<bool, FsError> {
        belongs_anywhere(&self.authz.engine(), subject)
    }

    /// `org:<org>#member@subject` for every user or agent the updates grant something in an
    /// organization they do not belong to.
    fn memberships_needed(
        self,
        updates: &[RelationshipUpdate],
        managed: &[OrgId],
    ) -> Result<Vec<RelationshipUpdate>, FsError> {
        let engine = self.authz.engine();
        let mut needed: Vec<RelationshipUpdate> = Vec::new();
        for (relationship, org) in grants_to_principals(updates) {
            let subject = &relationship.subject;
            if managed.contains(&org) {
                // Its record decides membership: a grant never makes a member.
                continue;
            }
            let membership = Relationship::new(
                ObjectRef::new("org", org.as_str()),
                "member",
                subject.clone(),
            );
            if needed
                .iter()
                .any(|existing| existing.relationship == membership)
            {
                continue;
            }
            let member = engine.check(&CheckRequest {
                resource: &membership.resource,
                permission: "membership",
                subject,
                context: None,
                now: authz::now(),
            })?;
            // Someone of another organization is not vouched for: the grant is refused.
            if member != CheckResult::Has && !belongs_anywhere(&engine, subject)? {
                needed.push(RelationshipUpdate {
                    operation: Operation::Touch,
                    relationship: membership,
                });
            }
        }
        Ok(needed)
    }

    /// A filter naming one resource needs `manage` on it; a broader one is the system's.
    fn authorize_filter(
        self,
        context: &CallContext,
        filter: &RelationshipFilter,
        what: &'static str,
    ) -> Result<(), FsError> {
        match (&filter.resource_type, &filter.resource_id) {
            (Some(resource_type), Some(resource_id)) => self.authorize_manage(
                context,
                &ObjectRef::new(resource_type.clone(), resource_id.clone()),
            ),
            _ => Fs::require_system(context, what),
        }
    }

    /// A filter with a user subject given by handle naming the stable id instead.
    fn resolve_filter(self, mut filter: RelationshipFilter) -> RelationshipFilter {
        if filter.subject_type.as_deref() == Some("user")
            && let Some(id) = filter.subject_id.as_deref()
            && let Some(stable) = self.registry.user_id(id)
        {
            filter.subject_id = Some(stable);
        }
        filter
    }

    /// Deletes every relationship matching `filter` (which must name a resource).
    pub async fn delete(
        self,
        context: &CallContext,
        filter: RelationshipFilter,
    ) -> Result<WriteOutcome, FsError> {
        let filter = self.resolve_filter(filter);
        self.authorize_filter(context, &filter, "deleting relationships by a broad filter")?;
        let _membership = self.membership.lock().await;
        let matching = self
            .authz
            .engine()
            .read(&filter, None, usize::MAX, i64::MIN);
        let managed = self.managed_orgs(matching.iter()).await?;
        Self::refuse_membership_changes(matching.iter(), &managed)?;
        self.commit.delete_matching(&filter, Vec::new()).await
    }

    /// The organizations among those of `relationships` whose membership their record manages.
    async fn managed_orgs(
        self,
        relationships: impl Iterator<Item = &Relationship>,
    ) -> Result<Vec<OrgId>, FsError> {
        let mut managed: Vec<OrgId> = Vec::new();
        let mut seen: Vec<OrgId> = Vec::new();
        for relationship in relationships {
            if let Some(org) = org_of(relationship)
                && !seen.contains(&org)
            {
                if self.orgs().is_managed(&org).await? {
                    managed.push(org.clone());
                }
                seen.push(org);
            }
        }
        Ok(managed)
    }

    /// Membership of an organization with a record changes only through that record.
    fn refuse_membership_changes<'a>(
        relationships: impl Iterator<Item = &'a Relationship>,
        managed: &[OrgId],
    ) -> Result<(), FsError> {
        for relationship in relationships {
            if relationship.resource.object_type == "org"
                && matches!(relationship.relation.as_str(), "admin" | "member")
                && org_of(relationship).is_some_and(|org| managed.contains(&org))
            {
                return Err(FsError::invalid(format!(
                    "membership of organization `{}` is its {}: add or remove members with the members API (`nexus admin add-user`) or by editing that file",
                    relationship.resource.object_id,
                    super::ORG_RECORD
                )));
            }
        }
        Ok(())
    }

    /// Relationships matching `filter`, in order, after `after` (the last relationship of
    /// the previous page), at most `limit`.
    pub fn read(
        self,
        context: &CallContext,
        filter: &RelationshipFilter,
        after: Option<&Relationship>,
        limit: usize,
    ) -> Result<Vec<Relationship>, FsError> {
        let filter = &self.resolve_filter(filter.clone());
        self.authorize_filter(context, filter, "reading relationships by a broad filter")?;
        Ok(self.authz.engine().read(filter, after, limit, authz::now()))
    }

    /// Answers a permission check.
    pub fn check(
        self,
        context: &CallContext,
        query: CheckQuery<'_>,
    ) -> Result<CheckResult, FsError> {
        self.authz.require_fresh(context, query.at_least)?;
        let mut subject = query.subject.clone();
        self.resolve_subject(&mut subject, None)?;
        let query = CheckQuery {
            subject: &subject,
            ..query
        };
        // A delegated call has no "self" of its own: it asks as whoever may manage.
        let asking_for_self = context.on_behalf_of.is_none()
            && self.authz.subject_of(&context.principal).as_ref() == Some(query.subject);
        if !asking_for_self {
            self.authorize_manage(context, query.resource)?;
        }
        let resource = normalize_file(query.resource)?;
        // A non-member holds nothing in an organization, whatever is stored there.
        if asking_for_self
            && let Some(org) = authz::org_of_object(&resource)
            && !self.authz.is_member(query.subject, &org)?
        {
            return Ok(CheckResult::No);
        }
        Ok(self.authz.engine().check(&CheckRequest {
            resource: &resource,
            permission: query.permission,
            subject: query.subject,
            context: query.context,
            now: authz::now(),
        })?)
    }

    /// The tree of why: how `permission` on `resource` is formed.
    pub fn expand(
        self,
        context: &CallContext,
        resource: &ObjectRef,
        permission: &str,
        recursive: bool,
    ) -> Result<ExpandNode, FsError> {
        self.authorize_manage(context, resource)?;
        let resource = normalize_file(resource)?;
        Ok(self
            .authz
            .engine()
            .expand(&resource, permission, recursive, authz::now())?)
    }

    /// Resources of a type on which `subject` has `permission`.
    pub fn lookup_resources(
        self,
        context: &CallContext,
        resource_type: &str,
        permission: &str,
        subject: &SubjectRef,
        caveat_context: Option<&nexus_rebac::caveat::CaveatContext>,
    ) -> Result<Vec<FoundResource>, FsError> {
        let mut resolved = subject.clone();
        self.resolve_subject(&mut resolved, None)?;
        let subject = &resolved;
        if context.on_behalf_of.is_some()
            || self.authz.subject_of(&context.principal).as_ref() != Some(subject)
        {
            Fs::require_system(context, "looking up another subject's resources")?;
        }
        let found = self.authz.engine().lookup_resources(
            resource_type,
            permission,
            subject,
            caveat_context,
            authz::now(),
        )?;
        if is_system(context) {
            return Ok(found);
        }
        // Only objects of organizations the subject currently belongs to.
        let mut decided: Vec<(OrgId, bool)> = Vec::new();
        let mut kept = Vec::with_capacity(found.len());
        for resource in found {
            let object = ObjectRef::new(resource_type, resource.id.as_str());
            let member = match authz::org_of_object(&object) {
                None => true,
                Some(org) => {
                    if let Some((_, member)) = decided.iter().find(|(known, _)| *known == org) {
                        *member
                    } else {
                        let member = self.authz.is_member(subject, &org)?;
                        decided.push((org, member));
                        member
                    }
                }
            };
            if member {
                kept.push(resource);
            }
        }
        Ok(kept)
    }

    /// Subjects of a type that have `permission` on `resource`.
    pub fn lookup_subjects(
        self,
        context: &CallContext,
        resource: &ObjectRef,
        permission: &str,
        subject_type: &str,
        subject_relation: Option<&str>,
        caveat_context: Option<&nexus_rebac::caveat::CaveatContext>,
    ) -> Result<SubjectLookup, FsError> {
        self.authorize_manage(context, resource)?;
        let resource = normalize_file(resource)?;
        Ok(self.authz.engine().lookup_subjects(
            &resource,
            permission,
            subject_type,
            subject_relation,
            caveat_context,
            authz::now(),
        )?)
    }

    /// Relationship changes committed after `revision`.
    pub async fn changes(
        self,
        context: &CallContext,
        revision: u64,
        limit: usize,
    ) -> Result<Vec<nexus_store::RecordedChange>, FsError> {
        Fs::require_system(context, "reading the change log")?;
        Ok(self.store.relationship_changes(revision, limit).await?)
    }

    /// The revision token for an answer to `context` about `about` (see
    /// [`crate::authz::tokens`]).
    pub fn revision_token(
        self,
        context: &CallContext,
        about: Option<&OrgId>,
    ) -> Result<String, FsError> {
        self.authz.revision_token(context, about)
    }

    /// Waits until answers are at least as fresh as the token `at_least`: on a node sharing
    /// its store with others, it first puts in force what they committed up to now (a token
    /// is issued after its revision committed, so that covers it). Refuses a token this
    /// store did not issue, or one for another organization or caller.
    pub async fn await_fresh(
        self,
        context: &CallContext,
        at_least: Option<&str>,
    ) -> Result<(), FsError> {
        self.fs.await_fresh(context, at_least).await
    }

    /// Refuses unless answers are at least as fresh as the token `at_least`.
    pub fn require_fresh(
        self,
        context: &CallContext,
        at_least: Option<&str>,
    ) -> Result<(), FsError> {
        self.authz.require_fresh(context, at_least)
    }

    /// The schema text and whether it is a deployment's own.
    pub fn schema(self) -> (String, bool) {
        self.authz.schema_source()
    }

    /// Replaces the schema.
    pub async fn write_schema(self, context: &CallContext, source: &str) -> Result<u64, FsError> {
        Fs::require_system(context, "replacing the schema")?;
        self.commit.write_schema(source).await
    }

    /// Sets the caller-given entry as the subject's ACL entry at `path` (`---` removes it).
    pub async fn setfacl(
        self,
        context: &CallContext,
        path: &str,
        entry: &str,
    ) -> Result<AclListing, FsError> {
        let (path, scope) = Fs::resolve(context, path)?;
        let org = match scope {
            super::Scope::Org(org) => org,
            super::Scope::Fixed => return Err(FsError::FixedDirectory { path }),
        };
        let entry = AclEntry::parse(entry)?;
        self.authorize(context, &path, Permission::Manage)?;
        self.write(context, entry.updates(&path, Some(&org)), Vec::new())
            .await?;
        Ok(self.acl_listing(&path, Some(&org)))
    }

    /// The ACL entries and role grants stored on `path` (not inherited ones).
    pub fn getfacl(self, context: &CallContext, path: &str) -> Result<AclListing, FsError> {
        let (path, scope) = Fs::resolve(context, path)?;
        let org: Option<OrgId> = match scope {
            super::Scope::Org(org) => Some(org),
            super::Scope::Fixed => None,
        };
        self.authorize(context, &path, Permission::Read)?;
        Ok(self.acl_listing(&path, org.as_ref()))
    }

    fn acl_listing(self, path: &VfsPath, org: Option<&OrgId>) -> AclListing {
        let relationships =
            self.authz
                .engine()
                .read(&acl::path_filter(path), None, usize::MAX, authz::now());
        let mut listing = acl::listing(path, org, &relationships);
        for entry in &mut listing.entries {
            entry.subject = self.display_subject(&entry.subject);
        }
        for role in &mut listing.roles {
            role.subject = self.display_subject(&role.subject);
        }
        // Sorted as people read them (by handle), not by the random stable ids.
        listing.entries.sort_by(|a, b| a.subject.cmp(&b.subject));
        listing
            .roles
            .sort_by(|a, b| (&a.relation, &a.subject).cmp(&(&b.relation, &b.subject)));
        listing
    }
}

/// The grants (not deletions, not membership itself) the updates make to a single user or
/// agent inside an organization, with that organization.
fn grants_to_principals(
    updates: &[RelationshipUpdate],
) -> impl Iterator<Item = (&Relationship, OrgId)> {
    updates
        .iter()
        .filter(|update| update.operation != Operation::Delete)
        .map(|update| &update.relationship)
        .filter(|relationship| {
            let subject = &relationship.subject;
            relationship.resource.object_type != "org"
                && matches!(subject.object.object_type.as_str(), "user" | "agent")
                && subject.relation.is_none()
                && !subject.is_wildcard()
        })
        .filter_map(|relationship| Some((relationship, org_of(relationship)?)))
}

/// Whether `subject` is a member of any organization (with the engine already borrowed).
fn belongs_anywhere(engine: &nexus_rebac::Engine, subject: &SubjectRef) -> Result<bool, FsError> {
    Ok(engine
        .lookup_resources("org", "membership", subject, None, authz::now())?
        .iter()
        .any(|found| found.result == CheckResult::Has))
}

/// File ids are canonical paths: `file:/orgs/acme/sales/` names `file:/orgs/acme/sales`.
fn normalize_file(resource: &ObjectRef) -> Result<ObjectRef, FsError> {
    if resource.object_type == "file" {
        let path = VfsPath::parse(&resource.object_id)?;
        return Ok(ObjectRef::new("file", path.as_str()));
    }
    Ok(resource.clone())
}
