//! Organizations: the `org.json` record, membership, and provisioning.
//!
//! An organization's membership *is* the `members` array of `/orgs/<org>/org.json`. Every
//! write of that file is validated and its membership consequences are committed in the same
//! transaction as the file:
//!
//! - each `active` member is `org:<org>#admin` (role `admin`) or `org:<org>#member`;
//! - a `member` or `assistant` holds that role on each workspace listed in its `workspaces`
//!   (rw- there); workspaces added or dropped from the list gain or lose the role;
//! - a member who disappears from the array loses every relationship they had in the
//!   organization (grants, ACL entries, group memberships), so re-adding them later starts
//!   from nothing.
//!
//! All changes of one organization's record are serialized (members API, raw writes of
//! `org.json`, provisioning), so concurrent additions never lose one another.

use std::collections::BTreeMap;

use bytes::Bytes;
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    ObjectRef, Operation, Relationship, RelationshipFilter, RelationshipUpdate, SubjectRef,
};
use nexus_store::{Mutation, Precondition, PrincipalRecord, Timestamp, WriteRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Fs, Orgs};
use crate::accounts::{is_stable_agent_id, is_stable_user_id, validate_agent_ref, validate_handle};
use crate::authz::{self, Permission, org_of};
use crate::entry::Entry;
use crate::error::FsError;
use crate::principal::{CallContext, Principal};
use nexus_api::Member;

/// The name of an organization's record, at its root.
pub const ORG_RECORD: &str = "org.json";

/// Where workspaces live inside an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `/orgs/<org>/<workspace>/`
    #[default]
    Simple,
    /// `/orgs/<org>/workspaces/<workspace>/`
    Canonical,
}

impl Layout {
    /// The folder of workspace `workspace` of `org`.
    pub fn workspace_path(self, org: &OrgId, workspace: &str) -> Result<VfsPath, FsError> {
        let root = VfsPath::org_root(org);
        let parent = match self {
            Layout::Simple => root,
            Layout::Canonical => root.join("workspaces")?,
        };
        if workspace.contains('/') || workspace == "shared" || workspace == ORG_RECORD {
            return Err(FsError::invalid(format!(
                "invalid workspace id `{workspace}`"
            )));
        }
        OrgId::parse(workspace).map_err(|_| {
            FsError::invalid(format!(
                "invalid workspace id `{}`: use lowercase letters, digits and `-`/`_`",
                workspace.chars().take(80).collect::<String>()
            ))
        })?;
        Ok(parent.join(workspace)?)
    }
}

/// The folders provisioning creates in every organization (`provisioning:` in
/// `nexus.yaml`). The default is the seed's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Provisioning {
    /// Folders created in every workspace, relative to it (`documents`, `conversations`).
    pub workspace_folders: Vec<String>,
    /// Organization-wide folders, relative to the organization's root; each is `shared` or
    /// beneath it (`shared/knowledge-base`, `shared/templates`).
    pub shared_folders: Vec<String>,
}

impl Default for Provisioning {
    fn default() -> Self {
        Provisioning {
            workspace_folders: vec!["documents".to_owned(), "conversations".to_owned()],
            shared_folders: vec![
                "shared".to_owned(),
                "shared/knowledge-base".to_owned(),
                "shared/templates".to_owned(),
            ],
        }
    }
}

impl Provisioning {
    /// Refuses folder names that are not relative paths of valid names, and shared folders
    /// outside `shared`.
    pub fn validate(&self) -> Result<(), FsError> {
        let probe = VfsPath::org_root(&OrgId::parse("probe")?);
        for (what, folders) in [
            ("workspace_folders", &self.workspace_folders),
            ("shared_folders", &self.shared_folders),
        ] {
            for folder in folders {
                Self::relative(&probe, folder).map_err(|error| {
                    FsError::invalid(format!("provisioning.{what}: `{folder}`: {error}"))
                })?;
                if what == "shared_folders" && folder != "shared" && !folder.starts_with("shared/")
                {
                    return Err(FsError::invalid(format!(
                        "provisioning.shared_folders: `{folder}` is not `shared` or beneath it (other folders in an organization's root are workspaces)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `base` joined with the relative path `folder` (`a/b`), each parent included.
    fn relative(base: &VfsPath, folder: &str) -> Result<Vec<VfsPath>, FsError> {
        if folder.is_empty() || folder.starts_with('/') || folder.ends_with('/') {
            return Err(FsError::invalid(
                "use a relative path such as `documents` or `shared/notes`",
            ));
        }
        let mut paths = Vec::new();
        let mut path = base.clone();
        for part in folder.split('/') {
            if part.is_empty() || part == "." || part == ".." || part == ORG_RECORD {
                return Err(FsError::invalid(format!("`{part}` is not a folder name")));
            }
            path = path.join(part)?;
            paths.push(path.clone());
        }
        Ok(paths)
    }

    /// The folders to create beneath `base`, parents first.
    fn folders(base: &VfsPath, folders: &[String]) -> Result<Vec<VfsPath>, FsError> {
        let mut paths: Vec<VfsPath> = Vec::new();
        for folder in folders {
            for path in Self::relative(base, folder)? {
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        Ok(paths)
    }
}

impl Layout {
    /// The role relationships an active `member` or `assistant` holds on its workspaces.
    fn role_grants(
        self,
        org: &OrgId,
        member: &MemberRecord,
        subject: &SubjectRef,
    ) -> Vec<Relationship> {
        if member.role == Role::Admin || member.status != MemberStatus::Active {
            return Vec::new();
        }
        member
            .workspaces
            .iter()
            .filter_map(|workspace| self.workspace_path(org, workspace).ok())
            .map(|path| {
                Relationship::new(
                    ObjectRef::new(authz::FILE, path.as_str()),
                    member.role.relation(),
                    subject.clone(),
                )
            })
            .collect()
    }

    /// Whether `path` is part of an organization's structure: a folder directly in its
    /// root (a workspace, `shared`, `workspaces`) or, in the canonical layout, a workspace
    /// folder. Removing, moving or renaming these needs `manage`.
    pub fn is_structure(self, path: &VfsPath) -> bool {
        let Some(parent) = path.parent() else {
            return false;
        };
        if matches!(parent.location(), Ok(nexus_path::Location::OrgRoot(_))) {
            return true;
        }
        self == Layout::Canonical
            && parent.name() == "workspaces"
            && parent.parent().is_some_and(|grand| {
                matches!(grand.location(), Ok(nexus_path::Location::OrgRoot(_)))
            })
    }
}

pub use nexus_api::{MemberKind, MemberRecord, MemberStatus, ProvisionReport, Role};

/// `/orgs/<org>/org.json`. Fields other than these are kept as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub org_id: String,
    pub name: String,
    pub created_at: String,
    #[serde(default)]
    pub settings: Map<String, Value>,
    pub members: Vec<MemberRecord>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OrgRecord {
    /// Parses and checks a record for `org`.
    pub fn parse(org: &OrgId, content: &[u8]) -> Result<OrgRecord, FsError> {
        let record: OrgRecord = serde_json::from_slice(content).map_err(|error| {
            FsError::invalid(format!("invalid {ORG_RECORD} for `{org}`: {error}"))
        })?;
        record.validate(org)?;
        Ok(record)
    }

    /// Checks a record for `org`: its id, a name, well-formed members.
    pub fn validate(&self, org: &OrgId) -> Result<(), FsError> {
        let record = self;
        if record.org_id != org.as_str() {
            return Err(FsError::invalid(format!(
                "invalid {ORG_RECORD}: `org_id` is `{}` but the file belongs to `{org}`",
                record.org_id.chars().take(80).collect::<String>()
            )));
        }
        if record.name.trim().is_empty() {
            return Err(FsError::invalid(format!(
                "invalid {ORG_RECORD}: `name` is empty"
            )));
        }
        for member in &record.members {
            match member.kind {
                MemberKind::Human => validate_handle_or_id(&member.user_id)?,
                MemberKind::Agent => validate_agent_ref(&member.user_id)?,
            }
        }
        Ok(())
    }

    /// Refuses keys the record does not know (a misspelled `Members` would otherwise be
    /// kept while the real list is missing), unless `previous` (the record this one replaces)
    /// already had them: records written before keys were checked keep what they hold.
    pub fn check_keys(&self, previous: Option<&OrgRecord>) -> Result<(), FsError> {
        let unknown = |key: &str, known: &[&str], place: &str| {
            let hint = known
                .iter()
                .find(|name| name.eq_ignore_ascii_case(key))
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            FsError::invalid(format!(
                "invalid {ORG_RECORD}: unknown key `{}` in {place}{hint}; known keys are {}",
                key.chars().take(80).collect::<String>(),
                known
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let kept = |key: &String| previous.is_some_and(|old| old.extra.contains_key(key));
        if let Some(key) = self.extra.keys().find(|key| !kept(key)) {
            return Err(unknown(key, &RECORD_KEYS, "the record"));
        }
        for member in &self.members {
            let before = previous.and_then(|old| {
                old.members
                    .iter()
                    .find(|known| known.user_id == member.user_id)
            });
            let kept = |key: &String| before.is_some_and(|old| old.extra.contains_key(key));
            if let Some(key) = member
                .extra
                .keys()
                .find(|key| !matches!(key.as_str(), "added_by" | LOCK_MARK) && !kept(key))
            {
                return Err(unknown(key, &MEMBER_KEYS, "a member"));
            }
        }
        Ok(())
    }

    /// How many active admins the record has.
    fn active_admins(&self) -> usize {
        self.members
            .iter()
            .filter(|member| member.role == Role::Admin && member.status == MemberStatus::Active)
            .count()
    }

    /// The record as stored (pretty JSON, newline-terminated).
    pub fn to_bytes(&self) -> Result<Bytes, FsError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|error| FsError::Internal {
            message: format!(
                "organization record `{}` cannot be encoded: {error}",
                self.org_id
            ),
        })?;
        text.push('\n');
        Ok(Bytes::from(text))
    }
}

/// The keys of a record.
const RECORD_KEYS: [&str; 5] = ["org_id", "name", "created_at", "settings", "members"];
/// The keys of a member.
const MEMBER_KEYS: [&str; 8] = [
    "user_id",
    "role",
    "type",
    "joined_at",
    "status",
    "workspaces",
    "added_by",
    LOCK_MARK,
];

/// The mark `nexus admin lock` leaves on the memberships it suspends, so `unlock` restores
/// exactly those.
pub(crate) const LOCK_MARK: &str = "locked_by_system";

fn validate_handle_or_id(text: &str) -> Result<(), FsError> {
    if is_stable_user_id(text) {
        Ok(())
    } else {
        validate_handle(text)
    }
}

/// A member to add through the members API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    pub user_id: String,
    pub role: Role,
    pub kind: MemberKind,
    pub workspaces: Vec<String>,
}

/// One workspace of an organization in configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSpec {
    pub id: String,
    pub name: Option<String>,
}

/// An organization as configuration describes it (see `nexus init`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSpec {
    pub id: OrgId,
    pub name: String,
    pub workspaces: Vec<WorkspaceSpec>,
    pub members: Vec<(MemberSpec, Vec<(String, String)>)>,
    pub settings: Map<String, Value>,
}

fn now_text() -> String {
    crate::format_timestamp(Timestamp::now())
}

/// The record's path for `org`.
fn record_path(org: &OrgId) -> Result<VfsPath, FsError> {
    Ok(VfsPath::org_root(org).join(ORG_RECORD)?)
}

impl Orgs<'_> {
    /// A member record as the members API shows it (with a person's stable id).
    pub fn member_view(self, record: MemberRecord) -> Member {
        let id = match record.kind {
            MemberKind::Human => self.registry.user_id(&record.user_id),
            MemberKind::Agent => self.registry.agent_id(&record.user_id),
        };
        Member { record, id }
    }

    /// The current record of `org` and its etag (`None` if the organization has none).
    pub(crate) async fn org_record(
        self,
        org: &OrgId,
    ) -> Result<Option<(OrgRecord, String)>, FsError> {
        let path = record_path(org)?;
        let Some(node) = self.store.node(&path).await? else {
            return Ok(None);
        };
        let content = self.store.read(&node).await?;
        let record = OrgRecord::parse(org, &content)?;
        Ok(Some((record, node.etag())))
    }

    /// Whether `org` has a record (its membership is then managed by it).
    pub(crate) async fn is_managed(self, org: &OrgId) -> Result<bool, FsError> {
        Ok(self.store.node(&record_path(org)?).await?.is_some())
    }

    /// Writes `org.json` through the membership rules: validated, and committed together
    /// with the membership changes it implies. Needs `manage` on the organization.
    pub(crate) async fn write_org_record(
        self,
        context: &CallContext,
        org: &OrgId,
        content: Bytes,
        precondition: Precondition,
    ) -> Result<Entry, FsError> {
        self.authorize(context, &VfsPath::org_root(org), Permission::Manage)?;
        let record = OrgRecord::parse(org, &content)?;
        let _serialized = self.membership.lock().await;
        // A damaged record can always be repaired by writing a valid one (its membership
        // relationships are then replaced by the new record's).
        let old = match self.org_record(org).await {
            Ok(found) => found.map(|(record, _)| record),
            Err(error) if error.code() == crate::ErrorCode::InvalidInput => {
                tracing::warn!(%org, %error, "replacing a damaged organization record");
                None
            }
            Err(error) => return Err(error),
        };
        self.commit_org_record(context, org, old.as_ref(), &record, content, precondition)
            .await
    }

    /// Commits `new` as the record of `org` (replacing `old`) with every membership change it
    /// implies. The caller holds the membership lock.
    async fn commit_org_record(
        self,
        context: &CallContext,
        org: &OrgId,
        old: Option<&OrgRecord>,
        new: &OrgRecord,
        content: Bytes,
        precondition: Precondition,
    ) -> Result<Entry, FsError> {
        let _registering = self.registry.registering.lock().await;
        let mut pending: Vec<PrincipalRecord> = Vec::new();
        let (updates, write) = self
            .prepare_org_record(context, org, old, new, content, precondition, &mut pending)
            .await?;
        let mut mutations = super::accounts::registrations(&pending);
        mutations.push(write);
        let (_, applied) = self
            .commit
            .write_with(context, updates, Vec::new(), mutations)
            .await?;
        self.registry.commit(&pending);
        let node = applied
            .into_iter()
            .find_map(|applied| applied.node)
            .ok_or_else(|| FsError::Internal {
                message: "the organization record's commit produced no node".to_owned(),
            })?;
        Ok(self.show(crate::entry::entry_of(&node)))
    }

    /// Checks `new` as the record of `org` (replacing `old`) and returns the relationship
    /// changes it implies and the staged write of the file, for committing together. Users it
    /// names for the first time are registered into `pending`. The caller holds the membership
    /// and registration locks.
    #[expect(
        clippy::too_many_arguments,
        reason = "one record change: its organization, both versions, the bytes and the precondition"
    )]
    pub(crate) async fn prepare_org_record(
        self,
        context: &CallContext,
        org: &OrgId,
        old: Option<&OrgRecord>,
        new: &OrgRecord,
        content: Bytes,
        precondition: Precondition,
        pending: &mut Vec<PrincipalRecord>,
    ) -> Result<(Vec<RelationshipUpdate>, Mutation), FsError> {
        new.validate(org)?;
        new.check_keys(old)?;
        super::retention::validate_settings(&new.settings)?;
        refuse_new_stable_ids(context, org, old, new)?;
        // The operator may create a record without admins (`admin create-org`); nobody may
        // leave an organization that had one, and nobody else may write a record without one.
        let had_admin = old.is_some_and(|old| old.active_admins() > 0);
        if new.active_admins() == 0 && (had_admin || context.principal != Principal::System) {
            return Err(FsError::Conflict {
                message: format!(
                    "`{org}` would have no active admin left: the last admin of an organization cannot be removed, demoted or suspended; make someone else an admin first"
                ),
            });
        }
        let mut new_subjects: BTreeMap<SubjectRef, &MemberRecord> = BTreeMap::new();
        // Workspaces already named for a member are not checked again: removing a workspace
        // folder must not block every later change of the record.
        let known: Vec<(&str, &str)> = old
            .map(|record| record.members.as_slice())
            .unwrap_or_default()
            .iter()
            .flat_map(|member| {
                member
                    .workspaces
                    .iter()
                    .map(move |workspace| (member.user_id.as_str(), workspace.as_str()))
            })
            .collect();
        for member in &new.members {
            let subject = self.member_subject(member, Some(pending))?;
            if new_subjects.insert(subject, member).is_some() {
                return Err(FsError::invalid(format!(
                    "invalid {ORG_RECORD}: `{}` is listed twice in `members`",
                    member.user_id
                )));
            }
            for workspace in &member.workspaces {
                let path = self.layout.workspace_path(org, workspace)?;
                if member.role != Role::Admin
                    && !known.contains(&(member.user_id.as_str(), workspace.as_str()))
                    && self
                        .store
                        .node(&path)
                        .await?
                        .is_none_or(|node| !node.is_dir())
                {
                    return Err(FsError::invalid(format!(
                        "invalid {ORG_RECORD}: member `{}` names workspace `{workspace}`, but `{path}` is not a directory",
                        member.user_id
                    )));
                }
            }
        }
        let mut old_subjects: BTreeMap<SubjectRef, &MemberRecord> = BTreeMap::new();
        for member in old
            .map(|record| record.members.as_slice())
            .unwrap_or_default()
        {
            if let Ok(subject) = self.member_subject(member, None) {
                old_subjects.insert(subject, member);
            }
        }
        let updates = self.membership_updates(org, &old_subjects, &new_subjects);
        let path = record_path(org)?;
        let write = self
            .store
            .stage_write(WriteRequest {
                org: org.clone(),
                path,
                content,
                precondition,
                create_parents: false,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        Ok((updates, write))
    }

    /// The role grants the record of `org` gives on `root` or beneath it. They belong to the
    /// record, not to the folder: removing or moving the folder leaves them where the record
    /// says, so a workspace recreated under its id gets them back. The caller holds the
    /// membership lock.
    pub(crate) async fn record_grants_within(
        self,
        org: &OrgId,
        root: &VfsPath,
    ) -> Result<Vec<Relationship>, FsError> {
        let record = match self.org_record(org).await {
            Ok(Some((record, _))) => record,
            Ok(None) => return Ok(Vec::new()),
            Err(error) if error.code() == crate::ErrorCode::InvalidInput => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut grants = Vec::new();
        for member in &record.members {
            let Ok(subject) = self.member_subject(member, None) else {
                continue;
            };
            grants.extend(
                self.layout
                    .role_grants(org, member, &subject)
                    .into_iter()
                    .filter(|grant| {
                        VfsPath::parse(&grant.resource.object_id)
                            .is_ok_and(|path| path.starts_with(root))
                    }),
            );
        }
        Ok(grants)
    }

    /// The relationship changes that take the organization from `old` to `new` members.
    fn membership_updates(
        self,
        org: &OrgId,
        old: &BTreeMap<SubjectRef, &MemberRecord>,
        new: &BTreeMap<SubjectRef, &MemberRecord>,
    ) -> Vec<RelationshipUpdate> {
        let org_object = ObjectRef::new("org", org.as_str());
        let engine = self.authz.engine();
        let mut wanted = RelationshipSet::default();
        let mut dropped = RelationshipSet::default();
        for (subject, member) in new {
            if member.status == MemberStatus::Active {
                let relation = if member.role == Role::Admin {
                    "admin"
                } else {
                    "member"
                };
                wanted.insert(Relationship::new(
                    org_object.clone(),
                    relation,
                    subject.clone(),
                ));
            }
        }
        let role_grants = |member: &MemberRecord, subject: &SubjectRef| {
            let mut grants = RelationshipSet::default();
            for grant in self.layout.role_grants(org, member, subject) {
                grants.insert(grant);
            }
            grants
        };
        for (subject, member) in old {
            match new.get(subject) {
                None => {
                    // Gone: everything the subject had in this organization goes too, unless
                    // the same entry now names the other kind of principal (a person listed
                    // as an agent, or the reverse): then what it had moves to that one.
                    let successor = new
                        .iter()
                        .find(|(_, now)| now.user_id == member.user_id && now.kind != member.kind)
                        .map(|(successor, _)| successor);
                    // The roles the old entry gave stay the record's to give: the new entry's
                    // own role grants follow from it below.
                    let roles = self.layout.role_grants(org, member, subject);
                    let successor = successor.map(|successor| (successor, roles.as_slice()));
                    leave_org(&engine, org, subject, successor, &mut dropped, &mut wanted);
                }
                Some(now) => {
                    let before = role_grants(member, subject);
                    let after = role_grants(now, subject);
                    for relationship in before.0.into_values() {
                        if !after.contains(&relationship) {
                            dropped.insert(relationship);
                        }
                    }
                }
            }
        }
        for (subject, member) in new {
            for relationship in role_grants(member, subject).0.into_values() {
                wanted.insert(relationship);
            }
        }
        // Membership relationships are exactly those of the record.
        let current = engine.read(
            &RelationshipFilter {
                resource_type: Some("org".to_owned()),
                resource_id: Some(org.to_string()),
                ..RelationshipFilter::default()
            },
            None,
            usize::MAX,
            i64::MIN,
        );
        for relationship in current {
            if matches!(relationship.relation.as_str(), "admin" | "member")
                && !wanted.contains(&relationship)
            {
                dropped.insert(relationship);
            }
        }
        let mut updates: Vec<RelationshipUpdate> = dropped
            .0
            .into_values()
            .filter(|relationship| !wanted.contains(relationship))
            .map(|relationship| RelationshipUpdate {
                operation: Operation::Delete,
                relationship,
            })
            .collect();
        updates.extend(
            wanted
                .0
                .into_values()
                .map(|relationship| RelationshipUpdate {
                    operation: Operation::Touch,
                    relationship,
                }),
        );
        updates
    }

    /// The subject a member record names; unknown users are registered into `pending` when
    /// given, else refused.
    pub(crate) fn member_subject(
        self,
        member: &MemberRecord,
        pending: Option<&mut Vec<PrincipalRecord>>,
    ) -> Result<SubjectRef, FsError> {
        match member.kind {
            MemberKind::Agent => Ok(SubjectRef::object(
                "agent",
                self.accounts().agent_for(&member.user_id, pending)?,
            )),
            MemberKind::Human => Ok(SubjectRef::object(
                "user",
                self.accounts().user_for(&member.user_id, pending)?,
            )),
        }
    }

    /// The organization's record, for a caller who may manage it.
    async fn managed_record(
        self,
        context: &CallContext,
        org: &OrgId,
        permission: Permission,
    ) -> Result<(OrgRecord, String), FsError> {
        self.authorize(context, &VfsPath::org_root(org), permission)?;
        self.org_record(org).await?.ok_or_else(|| {
            FsError::invalid(format!(
                "organization `{org}` has no {ORG_RECORD}: provision it with `nexus init` or create it first"
            ))
        })
    }

    /// Adds a member (the members API): updates `org.json` and the member's access in one
    /// transaction. Refused if they are already a member. Needs `manage` on the organization.
    pub async fn add_member(
        self,
        context: &CallContext,
        org: &str,
        spec: MemberSpec,
    ) -> Result<MemberRecord, FsError> {
        let org = Fs::org_of_context(context, org)?;
        let _serialized = self.membership.lock().await;
        let (old, etag) = self
            .managed_record(context, &org, Permission::Manage)
            .await?;
        let candidate = MemberRecord {
            user_id: spec.user_id.clone(),
            role: spec.role,
            kind: spec.kind,
            joined_at: Some(now_text()),
            status: MemberStatus::Active,
            workspaces: spec.workspaces,
            extra: added_by(context, &self),
        };
        if context.principal != Principal::System && names_by_stable_id(&candidate) {
            return Err(stable_id_refused(&candidate.user_id, &org));
        }
        let wanted = self.member_subject(&candidate, Some(&mut Vec::new()))?;
        if old.members.iter().any(|member| {
            self.member_subject(member, None).ok().as_ref() == Some(&wanted)
                || member.user_id == spec.user_id
        }) {
            return Err(FsError::invalid(format!(
                "`{}` is already a member of `{org}`",
                spec.user_id
            )));
        }
        let mut new = old.clone();
        new.members.push(candidate.clone());
        self.replace_record(context, &org, &old, etag, &new).await?;
        Ok(candidate)
    }

    /// Removes a member (by handle or id): updates `org.json` and revokes everything they
    /// had in the organization, in one transaction.
    pub async fn remove_member(
        self,
        context: &CallContext,
        org: &str,
        user: &str,
    ) -> Result<MemberRecord, FsError> {
        let org = Fs::org_of_context(context, org)?;
        let _serialized = self.membership.lock().await;
        let (old, etag) = self
            .managed_record(context, &org, Permission::Manage)
            .await?;
        let Some(position) = self.member_position(&old, user) else {
            return Err(FsError::Missing {
                message: format!("`{user}` is not a member of `{org}`"),
            });
        };
        let mut new = old.clone();
        let removed = new.members.remove(position);
        self.replace_record(context, &org, &old, etag, &new).await?;
        Ok(removed)
    }

    /// Where `user` (an agent id, a handle or a stable id) is in a record's members.
    fn member_position(self, record: &OrgRecord, user: &str) -> Option<usize> {
        let target = self.registry.user_id(user);
        record.members.iter().position(|member| {
            member.user_id == user
                || (member.kind == MemberKind::Human
                    && target.is_some()
                    && self.registry.user_id(&member.user_id) == target)
        })
    }

    /// Changes the member `user` of `org` with `change` (which says whether it changed
    /// anything) and commits the record; `None` if `user` is not a member.
    pub(crate) async fn change_member(
        self,
        context: &CallContext,
        org: &OrgId,
        user: &str,
        change: impl FnOnce(&mut MemberRecord) -> bool,
    ) -> Result<Option<MemberRecord>, FsError> {
        let _serialized = self.membership.lock().await;
        let (old, etag) = self
            .managed_record(context, org, Permission::Manage)
            .await?;
        let Some(position) = self.member_position(&old, user) else {
            return Ok(None);
        };
        let mut new = old.clone();
        let Some(member) = new.members.get_mut(position) else {
            return Ok(None);
        };
        if change(member) {
            let changed = member.clone();
            self.replace_record(context, org, &old, etag, &new).await?;
            return Ok(Some(changed));
        }
        Ok(Some(member.clone()))
    }

    /// Commits `new` in place of `old`, which must still be current (`etag`). The caller
    /// holds the membership lock.
    async fn replace_record(
        self,
        context: &CallContext,
        org: &OrgId,
        old: &OrgRecord,
        etag: String,
        new: &OrgRecord,
    ) -> Result<Entry, FsError> {
        self.commit_org_record(
            context,
            org,
            Some(old),
            new,
            new.to_bytes()?,
            Precondition::IfMatch(etag),
        )
        .await
    }

    /// The members of an organization, for its members.
    pub async fn members(
        self,
        context: &CallContext,
        org: &str,
    ) -> Result<Vec<MemberRecord>, FsError> {
        let org = Fs::org_of_context(context, org)?;
        // Every member may see who else is in the organization; outsiders learn nothing.
        if !self.authz.sees(context, &VfsPath::org_root(&org))? {
            return Err(FsError::WrongOrganization {
                path: VfsPath::org_root(&org),
            });
        }
        let record = self
            .org_record(&org)
            .await?
            .ok_or_else(|| FsError::Missing {
                message: format!("organization `{org}` has no {ORG_RECORD}"),
            })?;
        Ok(record.0.members)
    }

    /// Organizations the caller belongs to (every one, for the system), sorted.
    pub async fn list(self, context: &CallContext) -> Result<Vec<OrgRecord>, FsError> {
        let mut entries = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .files()
                .ls(
                    context,
                    "/orgs",
                    crate::ListOptions {
                        cursor: cursor.take(),
                        limit: Some(super::MAX_PAGE_SIZE),
                        ..crate::ListOptions::default()
                    },
                )
                .await?;
            entries.extend(page.entries);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // The listing of `/orgs` already holds only the caller's organizations.
        let mut records = Vec::new();
        for entry in entries {
            let Ok(org) = OrgId::parse(&entry.name) else {
                continue;
            };
            match self.org_record(&org).await {
                Ok(Some((record, _))) => records.push(record),
                Ok(None) => {}
                // One damaged record must not hide every other organization.
                Err(error) => tracing::warn!(%org, %error, "organization record unreadable"),
            }
        }
        Ok(records)
    }

    /// Creates or completes organizations from configuration. Idempotent: what exists is
    /// left as users left it (existing members, files and settings are never overwritten);
    /// only what is missing is added. The system's alone.
    pub async fn provision(
        self,
        context: &CallContext,
        specs: &[OrgSpec],
    ) -> Result<ProvisionReport, FsError> {
        if context.principal != Principal::System {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "system",
                path: VfsPath::root(),
            });
        }
        for spec in specs {
            Self::validate_spec(self.layout, spec)?;
        }
        let mut report = ProvisionReport::default();
        for spec in specs {
            self.provision_org(context, spec, &mut report).await?;
        }
        Ok(report)
    }

    /// Creates one organization (the system's alone): refused if it exists already (use
    /// [`Orgs::provision`] to complete an existing one).
    pub async fn create(
        self,
        context: &CallContext,
        spec: OrgSpec,
    ) -> Result<ProvisionReport, FsError> {
        Fs::require_system(context, "creating organizations")?;
        let root = VfsPath::org_root(&spec.id);
        if self.store.node(&root).await?.is_some() {
            return Err(FsError::Rejected(nexus_store::Rejection::AlreadyExists {
                path: root,
            }));
        }
        self.provision(context, &[spec]).await
    }

    /// Refuses a specification that could not be provisioned completely, before anything
    /// is created.
    fn validate_spec(layout: Layout, spec: &OrgSpec) -> Result<(), FsError> {
        if spec.name.trim().is_empty() {
            return Err(FsError::invalid(format!(
                "organization `{}` needs a name",
                spec.id
            )));
        }
        for workspace in &spec.workspaces {
            layout.workspace_path(&spec.id, &workspace.id)?;
        }
        for (member, permissions) in &spec.members {
            match member.kind {
                MemberKind::Human => validate_handle_or_id(&member.user_id)?,
                MemberKind::Agent => validate_agent_ref(&member.user_id)?,
            }
            for workspace in &member.workspaces {
                if !spec.workspaces.iter().any(|known| &known.id == workspace) {
                    return Err(FsError::invalid(format!(
                        "member `{}` names workspace `{workspace}`, which `{}` does not have",
                        member.user_id, spec.id
                    )));
                }
            }
            for (path, _) in permissions {
                VfsPath::parse(path)?;
            }
        }
        Ok(())
    }

    async fn ensure_dir(
        self,
        context: &CallContext,
        path: &VfsPath,
        report: &mut ProvisionReport,
    ) -> Result<(), FsError> {
        if self.store.node(path).await?.is_some() {
            report.unchanged += 1;
        } else {
            self.files().mkdir(context, path.as_str(), true).await?;
            report.changes.push(format!("created {path}/"));
        }
        Ok(())
    }

    async fn ensure_file(
        self,
        context: &CallContext,
        path: &VfsPath,
        content: &Value,
        report: &mut ProvisionReport,
    ) -> Result<(), FsError> {
        if self.store.node(path).await?.is_some() {
            report.unchanged += 1;
            return Ok(());
        }
        let mut text =
            serde_json::to_string_pretty(content).map_err(|error| FsError::Internal {
                message: format!("`{path}` could not be serialized: {error}"),
            })?;
        text.push('\n');
        self.files()
            .write(
                context,
                path.as_str(),
                Bytes::from(text),
                crate::WriteOptions {
                    if_none_match: true,
                    ..crate::WriteOptions::default()
                },
            )
            .await?;
        report.changes.push(format!("created {path}"));
        Ok(())
    }

    async fn provision_org(
        self,
        context: &CallContext,
        spec: &OrgSpec,
        report: &mut ProvisionReport,
    ) -> Result<(), FsError> {
        let org = &spec.id;
        let root = VfsPath::org_root(org);
        self.ensure_dir(context, &root, report).await?;
        for workspace in &spec.workspaces {
            let path = self.layout.workspace_path(org, &workspace.id)?;
            self.ensure_dir(context, &path, report).await?;
            for folder in Provisioning::folders(&path, &self.provisioning.workspace_folders)? {
                self.ensure_dir(context, &folder, report).await?;
            }
            let created = now_text();
            let context_json = serde_json::json!({
                "workspace_id": workspace.id,
                "org_id": org.as_str(),
                "name": workspace.name.clone().unwrap_or_else(|| workspace.id.clone()),
                "created_at": created,
                "last_updated": created,
                "active_topics": [],
                "current_context": {},
            });
            self.ensure_file(context, &path.join("context.json")?, &context_json, report)
                .await?;
        }
        for folder in Provisioning::folders(&root, &self.provisioning.shared_folders)? {
            self.ensure_dir(context, &folder, report).await?;
        }
        self.provision_record(context, spec, report).await?;
        // Explicit permissions: added where the subject has no entry yet (an entry someone
        // changed since is theirs to keep).
        for (member, permissions) in &spec.members {
            let kind = match member.kind {
                MemberKind::Human => "user",
                MemberKind::Agent => "agent",
            };
            for (path, mode) in permissions {
                let listing = self.relationships().getfacl(context, path)?;
                let shown = format!("{kind}:{}", member.user_id);
                if listing.entries.iter().any(|entry| entry.subject == shown) {
                    report.unchanged += 1;
                    continue;
                }
                self.relationships()
                    .setfacl(context, path, &format!("{shown}:{mode}"))
                    .await?;
                report
                    .changes
                    .push(format!("granted {shown} {mode} on {path}"));
            }
        }
        Ok(())
    }
    /// Creates the organization's record, or completes it with missing members and
    /// settings (existing ones are never changed).
    async fn provision_record(
        self,
        context: &CallContext,
        spec: &OrgSpec,
        report: &mut ProvisionReport,
    ) -> Result<(), FsError> {
        let org = &spec.id;
        let _serialized = self.membership.lock().await;
        let existing = self.org_record(org).await?;
        let (old, mut record, precondition) = match existing {
            Some((record, etag)) => (Some(record.clone()), record, Precondition::IfMatch(etag)),
            None => (
                None,
                OrgRecord {
                    org_id: org.to_string(),
                    name: spec.name.clone(),
                    created_at: now_text(),
                    settings: Map::new(),
                    members: Vec::new(),
                    extra: Map::new(),
                },
                Precondition::IfNoneMatch,
            ),
        };
        let mut changed = old.is_none();
        for (key, value) in &spec.settings {
            if !record.settings.contains_key(key) {
                record.settings.insert(key.clone(), value.clone());
                changed = true;
                report.changes.push(format!("set {org} setting `{key}`"));
            }
        }
        for (member, _) in &spec.members {
            let candidate = MemberRecord {
                user_id: member.user_id.clone(),
                role: member.role,
                kind: member.kind,
                joined_at: Some(now_text()),
                status: MemberStatus::Active,
                workspaces: member.workspaces.clone(),
                extra: Map::new(),
            };
            let subject = self.member_subject(&candidate, Some(&mut Vec::new()))?;
            let present = record.members.iter().any(|existing| {
                existing.user_id == candidate.user_id
                    || self.member_subject(existing, None).ok().as_ref() == Some(&subject)
            });
            if present {
                report.unchanged += 1;
            } else {
                record.members.push(candidate);
                changed = true;
                report.changes.push(format!(
                    "added {} to {org} as {}",
                    member.user_id,
                    member.role.relation()
                ));
            }
        }
        if changed {
            if old.is_none() {
                report
                    .changes
                    .push(format!("created {}", record_path(org)?));
            }
            self.commit_org_record(
                context,
                org,
                old.as_ref(),
                &record,
                record.to_bytes()?,
                precondition,
            )
            .await?;
        } else {
            report.unchanged += 1;
        }
        Ok(())
    }
}

/// Only the operator names new members by stable id: to anyone else, an id of someone in
/// another organization and an id nobody has are refused alike.
fn refuse_new_stable_ids(
    context: &CallContext,
    org: &OrgId,
    old: Option<&OrgRecord>,
    new: &OrgRecord,
) -> Result<(), FsError> {
    if context.principal == Principal::System {
        return Ok(());
    }
    for member in &new.members {
        let listed_before = old.is_some_and(|old| {
            old.members
                .iter()
                .any(|known| known.user_id == member.user_id)
        });
        if names_by_stable_id(member) && !listed_before {
            return Err(stable_id_refused(&member.user_id, org));
        }
    }
    Ok(())
}

/// Whether a member record names its user or agent by stable id rather than by handle.
fn names_by_stable_id(member: &MemberRecord) -> bool {
    match member.kind {
        MemberKind::Human => is_stable_user_id(&member.user_id),
        MemberKind::Agent => is_stable_agent_id(&member.user_id),
    }
}

/// The refusal of a new member named by stable id by someone other than the operator.
fn stable_id_refused(user: &str, org: &OrgId) -> FsError {
    FsError::PrincipalRefused {
        message: format!(
            "cannot add `{user}` to `{org}`: add people by their handle and agents by their name (stable ids name new members only for the system administrator)"
        ),
    }
}

/// `added_by` for a member added by `context`.
fn added_by(context: &CallContext, fs: &Fs) -> Map<String, Value> {
    let mut extra = Map::new();
    let who = match &context.principal {
        Principal::System => "system".to_owned(),
        Principal::User(id) => fs.registry.handle("user", id).unwrap_or_else(|| id.clone()),
        Principal::Agent(id) => fs
            .registry
            .handle("agent", id)
            .unwrap_or_else(|| id.clone()),
    };
    extra.insert("added_by".to_owned(), Value::String(who));
    extra
}

/// Drops every relationship `subject` has in `org`; with a `successor`, its relationships
/// move to that subject instead, except membership and the given role grants (which the
/// record decides).
fn leave_org(
    engine: &nexus_rebac::Engine,
    org: &OrgId,
    subject: &SubjectRef,
    successor: Option<(&SubjectRef, &[Relationship])>,
    dropped: &mut RelationshipSet,
    wanted: &mut RelationshipSet,
) {
    let filter = RelationshipFilter {
        subject_type: Some(subject.object.object_type.clone()),
        subject_id: Some(subject.object.object_id.clone()),
        ..RelationshipFilter::default()
    };
    for relationship in engine.read(&filter, None, usize::MAX, i64::MIN) {
        if org_of(&relationship).as_ref() != Some(org) {
            continue;
        }
        if let Some((successor, roles)) = successor
            && relationship.resource.object_type != "org"
            && !roles.contains(&relationship)
        {
            let mut moved = relationship.clone();
            moved.subject.object = successor.object.clone();
            wanted.insert(moved);
        }
        dropped.insert(relationship);
    }
}

/// Relationships keyed by their text form (relationships with caveats are not `Ord`).
#[derive(Debug, Default)]
struct RelationshipSet(BTreeMap<(ObjectRef, String, SubjectRef), Relationship>);

impl RelationshipSet {
    /// A relationship's identity: resource, relation and subject (the engine keeps one
    /// relationship per triple; its caveat and expiry are values of that one).
    fn key(relationship: &Relationship) -> (ObjectRef, String, SubjectRef) {
        (
            relationship.resource.clone(),
            relationship.relation.clone(),
            relationship.subject.clone(),
        )
    }

    fn insert(&mut self, relationship: Relationship) {
        self.0.insert(Self::key(&relationship), relationship);
    }

    /// Whether exactly this relationship (caveat and expiry included) is in the set.
    fn contains(&self, relationship: &Relationship) -> bool {
        self.0.get(&Self::key(relationship)) == Some(relationship)
    }
}
