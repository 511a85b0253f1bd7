//! Sessions: solo (one user) or group (an owner and members). A session is the object
//! `session:<org>/s_XXXX` (`owner`, `member`, and `active` while it runs) and a record, the
//! item `session:s_XXXX:<YYYYMMDD>:<type>:s_XXXX`, in the seed's JSON shape. Items in the
//! session's scope are its members' to read and, while it is active, to add to and edit.
//!
//! Ending a session deletes `active`: members keep reading what was created in or shared
//! with it, and nobody adds, edits or shares into it any more (creators keep their own
//! items, which they may still change or delete).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use nexus_api::items::{CreateSession, Session, SessionList, SessionType};
use nexus_knowledge::{Environment, ItemKey, Scope};
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    CheckResult, ObjectRef, Operation, Relationship, RelationshipFilter, SubjectRef,
};
use nexus_store::{ListQuery, Node, Precondition, Timestamp, WriteRequest};
use serde::{Deserialize, Serialize};

use super::{items_root, parse_session_id, scope_folder, session_object, update};
use crate::authz::{self, Permission};
use crate::error::FsError;
use crate::fs::{Fs, MAX_PAGE_SIZE, Sessions};
use crate::principal::CallContext;

/// The stored record: the seed's session JSON without `shared_items` (computed when read).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    session_id: String,
    stable_id: String,
    #[serde(rename = "type")]
    session_type: SessionType,
    owner: String,
    members: Vec<String>,
    title: String,
    active: bool,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_at: Option<String>,
}

/// Longest session title, in characters.
const MAX_TITLE_CHARS: usize = 200;

fn not_found(session: &str) -> FsError {
    FsError::Missing {
        message: format!("session `{session}` does not exist"),
    }
}

/// `YYYYMMDD_HHMM_<slug>`: the seed's readable session id.
fn session_id(now: DateTime<Utc>, title: &str) -> String {
    let mut slug = String::new();
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        if slug.len() + word.len() > 24 {
            break;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        slug.push_str("session");
    }
    format!("{}_{slug}", now.format("%Y%m%d_%H%M"))
}

/// A random `s_XXXX`.
fn random_session_id() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let mut id = String::from("s_");
    id.extend((0..4).filter_map(|_| char::from_digit(rng.random_range(0..36), 36)));
    id
}

fn to_json(record: &Record) -> Result<Bytes, FsError> {
    serde_json::to_vec(record)
        .map(Bytes::from)
        .map_err(|error| FsError::Internal {
            message: error.to_string(),
        })
}

impl Fs {
    /// Refuses unless the session is one the caller may see (a participant, its owner, an
    /// organization admin, the system) and is still active: "not found" to anyone else, a
    /// conflict once it has ended. Whether the caller may add to it is the engine's
    /// `create` on its scope folder.
    pub(crate) fn require_session_open(
        &self,
        context: &CallContext,
        org: &OrgId,
        session: &str,
    ) -> Result<(), FsError> {
        let object = session_object(org, session);
        let visible = self.authz.holds(context, &object, "participant")?
            || self.authz.holds(context, &object, "administer")?;
        if self.relationships_on(&object, "owner").is_empty() || !visible {
            return Err(not_found(session));
        }
        if self.relationships_on(&object, "active").is_empty() {
            return Err(FsError::Conflict {
                message: format!(
                    "session `{session}` has ended: nothing more is created in or shared with it"
                ),
            });
        }
        Ok(())
    }

    /// The record's file, if the session exists.
    async fn session_file(&self, org: &OrgId, session: &str) -> Result<Option<Node>, FsError> {
        let folder = scope_folder(
            org,
            Environment::Session,
            &Scope::Session(session.to_owned()),
        )?;
        if self.store.node(&folder).await?.is_none() {
            return Ok(None);
        }
        let nodes = self
            .store
            .list(&ListQuery {
                dir: folder,
                recursive: true,
                after: None,
                limit: MAX_PAGE_SIZE,
            })
            .await?;
        Ok(nodes.into_iter().find(|node| {
            !node.is_dir()
                && ItemKey::from_path(&node.path)
                    .is_ok_and(|(_, key)| key.id == session && key.env == Environment::Session)
        }))
    }

    async fn read_record(&self, node: &Node) -> Result<Record, FsError> {
        let content = self.store.read(node).await?;
        serde_json::from_slice(&content).map_err(|error| FsError::Internal {
            message: format!("session record `{}` is unreadable: {error}", node.path),
        })
    }

    /// A session the caller may see (a participant, an organization admin, the system).
    pub(crate) async fn session_record(
        &self,
        context: &CallContext,
        org: &OrgId,
        session: &str,
    ) -> Result<Session, FsError> {
        let node = self
            .session_file(org, session)
            .await?
            .ok_or_else(|| not_found(session))?;
        if !self.authz.allowed(context, &node.path, Permission::Read)? {
            return Err(not_found(session));
        }
        let record = self.read_record(&node).await?;
        self.session_view(org, record).await
    }

    /// The seed's shape of a record, with the items created in or shared with the session.
    async fn session_view(&self, org: &OrgId, record: Record) -> Result<Session, FsError> {
        let mut shared_items: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let scope = Scope::Session(record.stable_id.clone());
        for env in Environment::ALL {
            if env == Environment::Session {
                continue;
            }
            let folder = scope_folder(org, env, &scope)?;
            for node in self.all_nodes(&folder, true).await? {
                if node.is_dir() {
                    continue;
                }
                if let Ok((_, key)) = ItemKey::from_path(&node.path) {
                    shared_items
                        .entry(env.to_string())
                        .or_default()
                        .push(key.to_string());
                }
            }
        }
        let object = session_object(org, &record.stable_id);
        let shared = self.authz.engine().read(
            &RelationshipFilter {
                resource_type: Some(authz::FILE.to_owned()),
                relation: Some("shared_session".to_owned()),
                subject_type: Some(object.object_type.clone()),
                subject_id: Some(object.object_id.clone()),
                ..RelationshipFilter::default()
            },
            None,
            usize::MAX,
            authz::now(),
        );
        for relationship in shared {
            if let Ok(path) = VfsPath::parse(&relationship.resource.object_id)
                && let Ok((_, key)) = ItemKey::from_path(&path)
            {
                shared_items
                    .entry(key.env.to_string())
                    .or_default()
                    .push(key.to_string());
            }
        }
        for keys in shared_items.values_mut() {
            keys.sort();
            keys.dedup();
        }
        Ok(Session {
            session_id: record.session_id,
            stable_id: record.stable_id,
            session_type: record.session_type,
            owner: record.owner,
            members: record.members,
            title: record.title,
            shared_items,
            active: record.active,
            created_at: record.created_at,
            ended_at: record.ended_at,
        })
    }
}

impl Sessions<'_> {
    /// An agent acting for a user starts the user's session and takes part in it: a session
    /// it could not see would be of no use to it.
    fn with_delegated_agent(
        self,
        context: &CallContext,
        mut request: CreateSession,
    ) -> Result<CreateSession, FsError> {
        let Some(agent) = context
            .on_behalf_of
            .as_ref()
            .and(self.authz.subject_of(&context.principal))
        else {
            return Ok(request);
        };
        if request.session_type == SessionType::Solo {
            return Err(FsError::invalid(
                "acting for a user, start a `group` session: the user owns it and you take part in it",
            ));
        }
        request
            .members
            .push(format!("agent:{}", agent.object.object_id));
        Ok(request)
    }

    /// Starts a session owned by the caller: solo, or group with members of the
    /// organization.
    pub async fn start(
        self,
        context: &CallContext,
        org: &str,
        request: CreateSession,
    ) -> Result<Session, FsError> {
        let org = self.knowledge_org(context, org)?;
        let owner = self.own_scope(context)?;
        let title = request.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(FsError::invalid(format!(
                "a session's `title` is 1-{MAX_TITLE_CHARS} characters"
            )));
        }
        if request.session_type == SessionType::Solo && !request.members.is_empty() {
            return Err(FsError::invalid(
                "a solo session has one member, its owner: start a `group` session to work with others",
            ));
        }
        let request = self.with_delegated_agent(context, request)?;
        let owner_subject = match &owner {
            Scope::Agent(id) => SubjectRef::object("agent", id),
            other => SubjectRef::object("user", other.as_str()),
        };
        let mut members = vec![owner.as_str().to_owned()];
        let mut member_subjects = Vec::new();
        for member in &request.members {
            let subject = self.member_subject(member);
            if !members.contains(&subject.object.object_id) {
                members.push(subject.object.object_id.clone());
                member_subjects.push(subject);
            }
        }
        let now = Utc::now();
        let stable_id = self.fresh_session_id(&org).await?;
        let object = session_object(&org, &stable_id);
        let record = Record {
            session_id: session_id(now, &title),
            stable_id: stable_id.clone(),
            session_type: request.session_type,
            owner: owner.as_str().to_owned(),
            members,
            title,
            active: true,
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ended_at: None,
        };
        let type_kind = match record.session_type {
            SessionType::Solo => "solo",
            SessionType::Group => "group",
        };
        let key = ItemKey::new(
            Environment::Session,
            Scope::Session(stable_id.clone()),
            now.date_naive(),
            type_kind,
            &stable_id,
        )?;
        let mut updates = vec![update(
            Operation::Create,
            Relationship::new(object.clone(), "owner", owner_subject),
        )];
        for subject in member_subjects {
            updates.push(update(
                Operation::Touch,
                Relationship::new(object.clone(), "member", subject),
            ));
        }
        for everyone in ["user", "agent"] {
            updates.push(update(
                Operation::Touch,
                Relationship::new(object.clone(), "active", SubjectRef::object(everyone, "*")),
            ));
        }
        let mutation = self
            .store
            .stage_write(WriteRequest {
                org: org.clone(),
                path: key.path(&org)?,
                content: to_json(&record)?,
                precondition: Precondition::IfNoneMatch,
                create_parents: true,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        self.commit
            .write_with(context, updates, Vec::new(), vec![mutation])
            .await?;
        let added: Vec<String> = record.members.iter().skip(1).cloned().collect();
        self.tell_added(context, &org, &key, &record.title, &added)
            .await;
        self.session_view(&org, record).await
    }

    /// Tells members (stable ids) that they were added to a session.
    async fn tell_added(
        self,
        context: &CallContext,
        org: &OrgId,
        key: &ItemKey,
        title: &str,
        members: &[String],
    ) {
        let actor = self.display_subject(&context.principal.to_string());
        let notifications = members
            .iter()
            .map(|member| {
                super::reminders::notice(
                    super::reminders::principal_of_id(member),
                    org,
                    "session_added",
                    format!("{actor} added you to the session \"{title}\""),
                    Some(key.to_string()),
                )
            })
            .collect();
        self.send_notifications(notifications).await;
    }

    /// An unused session id of `org`.
    async fn fresh_session_id(self, org: &OrgId) -> Result<String, FsError> {
        for _ in 0..64 {
            let id = random_session_id();
            let taken = !self
                .relationships_on(&session_object(org, &id), "owner")
                .is_empty()
                || self.session_file(org, &id).await?.is_some();
            if !taken {
                return Ok(id);
            }
        }
        Err(FsError::Conflict {
            message: format!("no free session id found in `{org}`; try again"),
        })
    }

    /// The sessions the caller takes part in (all of the organization's, for the system),
    /// newest first; `active` keeps only running (or only ended) ones.
    pub async fn list(
        self,
        context: &CallContext,
        org: &str,
        active: Option<bool>,
    ) -> Result<SessionList, FsError> {
        let org = self.knowledge_org(context, org)?;
        let ids = match self.authz.acting_for(context) {
            Some(subject) => {
                let prefix = format!("{org}/");
                let found = self.authz.engine().lookup_resources(
                    "session",
                    "participant",
                    &subject,
                    None,
                    authz::now(),
                )?;
                let mut ids = Vec::new();
                for found in found {
                    // A delegated call sees the sessions both the agent and the user take
                    // part in.
                    if found.result == CheckResult::Has
                        && let Some(id) = found.id.strip_prefix(&prefix)
                        && self.authz.holds(
                            context,
                            &ObjectRef::new("session", found.id.as_str()),
                            "participant",
                        )?
                    {
                        ids.push(id.to_owned());
                    }
                }
                ids
            }
            None => self.all_session_ids(&org).await?,
        };
        let mut sessions = Vec::new();
        for id in ids {
            let Some(node) = self.session_file(&org, &id).await? else {
                continue;
            };
            let record = self.read_record(&node).await?;
            if active.is_some_and(|wanted| wanted != record.active) {
                continue;
            }
            sessions.push(self.session_view(&org, record).await?);
        }
        sessions.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.stable_id.cmp(&b.stable_id))
        });
        Ok(SessionList { sessions })
    }

    /// Every session of `org` (for the system administrator).
    async fn all_session_ids(self, org: &OrgId) -> Result<Vec<String>, FsError> {
        let folder = VfsPath::parse(&format!("{}/session", items_root(org)?))?;
        Ok(self
            .all_nodes(&folder, false)
            .await?
            .iter()
            .map(|node| node.path.name().to_owned())
            .filter(|name| matches!(Scope::parse(name), Ok(Scope::Session(_))))
            .collect())
    }

    /// Ends the sessions that started longer ago than their organization's
    /// `retention_policy.sessions` (as of `now`); returns the ones ended, with their
    /// organization. Each is ended as by its owner, and logged.
    pub async fn end_expired(self, now: DateTime<Utc>) -> Result<Vec<(OrgId, String)>, FsError> {
        let system = CallContext::system();
        let mut ended = Vec::new();
        for org in self.files().store_org_ids().await? {
            let Ok(Some((record, _))) = self.orgs().org_record(&org).await else {
                continue;
            };
            let Some(kept) = crate::fs::retention::sessions_kept(&record.settings) else {
                continue;
            };
            let Ok(kept) = chrono::Duration::from_std(kept) else {
                continue;
            };
            for id in self.all_session_ids(&org).await? {
                let Some(node) = self.session_file(&org, &id).await? else {
                    continue;
                };
                let Ok(session) = self.read_record(&node).await else {
                    continue;
                };
                let started = DateTime::parse_from_rfc3339(&session.created_at)
                    .map(|at| at.with_timezone(&Utc));
                if !session.active || started.is_ok_and(|at| at + kept > now) {
                    continue;
                }
                match self.end(&system, org.as_str(), &id).await {
                    Ok(_) => {
                        tracing::info!(%org, session = %id, "ended by the retention policy");
                        ended.push((org.clone(), id));
                    }
                    Err(error) => {
                        tracing::debug!(%org, session = %id, %error, "a session stays until the next pass");
                    }
                }
            }
        }
        Ok(ended)
    }

    /// One session the caller may see.
    pub async fn get(
        self,
        context: &CallContext,
        org: &str,
        session: &str,
    ) -> Result<Session, FsError> {
        let org = self.knowledge_org(context, org)?;
        let session = parse_session_id(session)?;
        self.session_record(context, &org, &session).await
    }

    /// Adds a member of the organization to an active group session: they see every item
    /// of it at once. The owner or an organization admin may.
    pub async fn add_member(
        self,
        context: &CallContext,
        org: &str,
        session: &str,
        user: &str,
    ) -> Result<Session, FsError> {
        let org = self.knowledge_org(context, org)?;
        let session = parse_session_id(session)?;
        let (node, mut record) = self.administered(context, &org, &session).await?;
        if !record.active {
            return Err(FsError::Conflict {
                message: format!("session `{session}` has ended: it takes no new members"),
            });
        }
        if record.session_type == SessionType::Solo {
            return Err(FsError::Conflict {
                message: format!(
                    "session `{session}` is solo: start a group session to work with others"
                ),
            });
        }
        let subject = self.member_subject(user);
        if record.members.contains(&subject.object.object_id) {
            return self.session_view(&org, record).await;
        }
        let member = subject.object.object_id.clone();
        record.members.push(member.clone());
        let updates = vec![update(
            Operation::Touch,
            Relationship::new(session_object(&org, &session), "member", subject),
        )];
        self.rewrite(context, &org, &node, &record, updates).await?;
        if let Ok((_, key)) = ItemKey::from_path(&node.path) {
            self.tell_added(context, &org, &key, &record.title, &[member])
                .await;
        }
        self.session_view(&org, record).await
    }

    /// Ends a session (see the module documentation for what members keep). Ending an
    /// ended session changes nothing.
    pub async fn end(
        self,
        context: &CallContext,
        org: &str,
        session: &str,
    ) -> Result<Session, FsError> {
        let org = self.knowledge_org(context, org)?;
        let session = parse_session_id(session)?;
        let (node, mut record) = self.administered(context, &org, &session).await?;
        if !record.active {
            return self.session_view(&org, record).await;
        }
        record.active = false;
        record.ended_at = Some(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let updates = self
            .relationships_on(&session_object(&org, &session), "active")
            .into_iter()
            .map(|relationship| update(Operation::Delete, relationship))
            .collect();
        self.rewrite(context, &org, &node, &record, updates).await?;
        self.session_view(&org, record).await
    }

    /// The record of a session the caller may administer (its owner, an organization
    /// admin, the system); "not found" to anyone who cannot see it.
    async fn administered(
        self,
        context: &CallContext,
        org: &OrgId,
        session: &str,
    ) -> Result<(Node, Record), FsError> {
        let node = self
            .session_file(org, session)
            .await?
            .ok_or_else(|| not_found(session))?;
        if !self.authz.allowed(context, &node.path, Permission::Read)? {
            return Err(not_found(session));
        }
        let object: ObjectRef = session_object(org, session);
        if !self.authz.holds(context, &object, "administer")? {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "administer (owner or organization admin)",
                path: node.path,
            });
        }
        let record = self.read_record(&node).await?;
        Ok((node, record))
    }

    /// Writes a changed record with its relationship changes, in one transaction.
    async fn rewrite(
        self,
        context: &CallContext,
        org: &OrgId,
        node: &Node,
        record: &Record,
        updates: Vec<nexus_rebac::RelationshipUpdate>,
    ) -> Result<(), FsError> {
        let mutation = self
            .store
            .stage_write(WriteRequest {
                org: org.clone(),
                path: node.path.clone(),
                content: to_json(record)?,
                precondition: Precondition::IfMatch(node.etag()),
                create_parents: false,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        self.commit
            .write_with(context, updates, Vec::new(), vec![mutation])
            .await?;
        Ok(())
    }
}
