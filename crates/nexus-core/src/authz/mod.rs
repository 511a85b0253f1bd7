//! Authorization for the filesystem: the relationship engine, kept exactly current with the
//! relationships persisted in the store.
//!
//! Reads take a shared lock on the in-memory engine. Writes are serialized: plan against the
//! current state, persist the changes (with any file mutation they belong to, in one
//! transaction, as one new revision), then apply the plan to the engine. A reader therefore
//! never sees a relationship that is not durable, and sees every acknowledged change at once.

pub mod acl;
pub mod schema;
mod state;
pub mod tokens;

pub use state::PermissionState;

use std::sync::Arc;

use nexus_path::{Location, OrgId, VfsPath};
use nexus_rebac::{CheckRequest, CheckResult, Engine, ObjectRef, Relationship, SubjectRef};
use nexus_store::Timestamp;
use parking_lot::RwLockReadGuard;

use crate::accounts::Registry;
use crate::error::FsError;
use crate::principal::{CallContext, Principal};

/// What a file operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Manage,
}

impl Permission {
    /// The permission's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Manage => "manage",
        }
    }
}

/// Decides: who may do what, from the committed permission state. It never writes; changes
/// go through the one commit path ([`crate::commit::UnitOfWork`]).
#[derive(Debug)]
pub struct Authorizer {
    state: Arc<PermissionState>,
    accounts: Arc<Registry>,
    /// Each recent caller's visibility and the revision it was computed at.
    visibility_cache:
        parking_lot::Mutex<std::collections::HashMap<SubjectRef, (u64, Arc<Visibility>)>>,
    visibility_computations: std::sync::atomic::AtomicU64,
    /// Per caller and organization: the folders leading to the caller's grants there, and
    /// the (organization, shared) revisions they were computed at.
    grants_in_org: parking_lot::Mutex<GrantsCache>,
    keys: tokens::Keys,
    /// Test-only faults (see `fault.rs`); none in a build without `fault-inject`.
    faults: crate::fault::Faults,
}

/// See [`Authorizer::towards_grants_in`].
type GrantsCache = std::collections::HashMap<
    (SubjectRef, OrgId),
    (u64, u64, Arc<std::collections::HashSet<VfsPath>>),
>;

/// Callers whose visibility is remembered (the cache starts over when full).
const VISIBILITY_CACHE_ENTRIES: usize = 4096;

/// The object for a path: `file:<canonical path>`.
pub fn file_object(path: &VfsPath) -> ObjectRef {
    ObjectRef::new(FILE, path.as_str())
}

/// The object type of files.
pub const FILE: &str = "file";

/// The organization a relationship belongs to: a file's, an `org`'s own, or a group's,
/// session's or profile's (`group:<org>/<name>`, `session:<org>/s_XXXX`,
/// `profile:<org>/u_XXXX`).
pub fn org_of(relationship: &Relationship) -> Option<OrgId> {
    org_of_object(&relationship.resource)
}

/// The organization an object belongs to: a file's, an `org`'s own, or a group's,
/// session's or profile's.
pub fn org_of_object(object: &ObjectRef) -> Option<OrgId> {
    match object.object_type.as_str() {
        "file" => VfsPath::parse(&object.object_id)
            .ok()?
            .location()
            .ok()?
            .org()
            .cloned(),
        "org" => OrgId::parse(&object.object_id).ok(),
        "group" | "session" | "profile" => OrgId::parse(object.object_id.split_once('/')?.0).ok(),
        _ => None,
    }
}

/// The one organization all of `objects` belong to, if there is one (revision tokens of an
/// answer about several objects speak for it).
pub fn one_org<'a>(objects: impl IntoIterator<Item = &'a ObjectRef>) -> Option<OrgId> {
    let mut found: Option<OrgId> = None;
    for object in objects {
        let org = org_of_object(object)?;
        match &found {
            Some(known) if *known != org => return None,
            _ => found = Some(org),
        }
    }
    found
}

/// The current time, for expirations.
pub(crate) fn now() -> i64 {
    Timestamp::now().as_micros()
}

impl Authorizer {
    /// The decisions over `state`, with the keys of tokens and cursors.
    pub fn new(state: Arc<PermissionState>, accounts: Arc<Registry>, keys: tokens::Keys) -> Self {
        Authorizer {
            state,
            accounts,
            visibility_cache: parking_lot::Mutex::new(std::collections::HashMap::new()),
            visibility_computations: std::sync::atomic::AtomicU64::new(0),
            grants_in_org: parking_lot::Mutex::new(std::collections::HashMap::new()),
            keys,
            faults: crate::fault::Faults::default(),
        }
    }

    /// Switches a test-only fault on (see `fault.rs`).
    #[cfg(feature = "fault-inject")]
    pub fn inject_fault(&self, fault: crate::fault::Fault) {
        self.faults.inject(fault);
    }

    /// The test-only faults of this authorizer.
    pub fn faults(&self) -> &crate::fault::Faults {
        &self.faults
    }

    /// The subject a principal acts as (`None` for the system, which is not checked). A user
    /// named by handle, or an agent by name, acts as its stable id.
    pub fn subject_of(&self, principal: &Principal) -> Option<SubjectRef> {
        match principal {
            Principal::System => None,
            Principal::User(id) => Some(SubjectRef::object(
                "user",
                self.accounts.user_id(id).unwrap_or_else(|| id.clone()),
            )),
            Principal::Agent(id) => Some(SubjectRef::object(
                "agent",
                self.accounts.agent_id(id).unwrap_or_else(|| id.clone()),
            )),
        }
    }

    /// Whether `subject` is a current member of `org`. This, with [`member_of`], is the
    /// organization filter: nothing about an organization is answered to a non-member.
    pub fn is_member(&self, subject: &SubjectRef, org: &OrgId) -> Result<bool, FsError> {
        if self.faults.drop_org_filter() {
            return Ok(true);
        }
        let engine = self.state.engine.read();
        Ok(engine.check(&CheckRequest {
            resource: &ObjectRef::new("org", org.as_str()),
            permission: "membership",
            subject,
            context: None,
            now: now(),
        })? == CheckResult::Has)
    }

    /// Shared access to the engine for queries. Do not hold it across an `.await`.
    pub fn engine(&self) -> RwLockReadGuard<'_, Engine> {
        self.state.engine.read()
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.state.engine.read().revision()
    }

    /// The schema text, and whether it is a deployment's own (else the default).
    pub fn schema_source(&self) -> (String, bool) {
        (
            self.state.engine.read().schema().source().to_owned(),
            *self.state.custom_schema.read(),
        )
    }

    /// Whether `context` may `permission` the path (the system may do anything).
    pub fn allowed(
        &self,
        context: &CallContext,
        path: &VfsPath,
        permission: Permission,
    ) -> Result<bool, FsError> {
        self.holds(context, &file_object(path), permission.name())
    }

    /// Whether `context` has `permission` (any permission or relation of the schema) on
    /// `object` (the system has everything). A delegated call has it only when both the
    /// agent (or its reach through the delegation, see [`delegated_org`]) and the user do.
    pub fn holds(
        &self,
        context: &CallContext,
        object: &ObjectRef,
        permission: &str,
    ) -> Result<bool, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(true);
        };
        let engine = self.state.engine.read();
        let Some(user) = self.delegator(context) else {
            return holds_as(&engine, &subject, object, permission);
        };
        let agent = reaches_by_delegation(&engine, &subject, &user, object, permission)?
            || holds_as(&engine, &subject, object, permission)?;
        Ok(agent && holds_as(&engine, &user, object, permission)?)
    }

    /// Whether `subject` itself has `permission` on `object` (no delegation involved).
    pub fn subject_holds(
        &self,
        subject: &SubjectRef,
        object: &ObjectRef,
        permission: &str,
    ) -> Result<bool, FsError> {
        holds_as(&self.state.engine.read(), subject, object, permission)
    }

    /// For a delegated call, the subject of the user the agent acts for.
    pub fn delegator(&self, context: &CallContext) -> Option<SubjectRef> {
        if self.faults.ignore_delegation() {
            return None;
        }
        context
            .on_behalf_of
            .as_ref()
            .and_then(|user| self.subject_of(user))
    }

    /// Whether the caller belongs to `org` (for a delegated call: the agent and the user
    /// both do; the system belongs everywhere).
    pub fn member(&self, context: &CallContext, org: &OrgId) -> Result<bool, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(true);
        };
        if !self.is_member(&subject, org)? {
            return Ok(false);
        }
        match self.delegator(context) {
            Some(user) => self.is_member(&user, org),
            None => Ok(true),
        }
    }

    /// The subject a call acts for: the user of a delegated call (everything both may read
    /// is among what the user may, so the user's grants propose what a listing may show,
    /// each then decided for the call), else the caller's (`None`: the system).
    pub fn acting_for(&self, context: &CallContext) -> Option<SubjectRef> {
        self.delegator(context)
            .or_else(|| self.subject_of(&context.principal))
    }

    /// Many checks for the call, sharing work between them; `None` for the system (which
    /// is not checked). Borrows `engine`: use it within one read of the state.
    pub fn checker<'a>(
        &self,
        engine: &'a Engine,
        context: &CallContext,
    ) -> Result<Option<ContextChecker<'a>>, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(None);
        };
        let at = now();
        let user = match self.delegator(context) {
            Some(user) => Some((
                engine.checker(&user, None, at)?,
                user.object.object_id.clone(),
            )),
            None => None,
        };
        Ok(Some(ContextChecker {
            acting: engine.checker(&subject, None, at)?,
            user,
        }))
    }

    /// Refuses unless `context` may `permission` the path. A caller who cannot see the parent
    /// gets "not found", never "permission denied".
    ///
    /// A denial costs about what an allowed answer costs: membership and the parent's `read`
    /// are single checks, and only a parent the caller cannot read asks the caller's
    /// visibility (grants beneath it), which is computed once per caller and revision.
    pub fn authorize(
        &self,
        context: &CallContext,
        path: &VfsPath,
        permission: Permission,
    ) -> Result<(), FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(());
        };
        if self.allowed(context, path, permission)? {
            return Ok(());
        }
        let _ = subject;
        // A non-member learns nothing about an organization, not even that it exists.
        let outsider = match path
            .location()
            .ok()
            .and_then(|location| location.org().cloned())
        {
            Some(org) => !self.member(context, &org)?,
            None => false,
        };
        let visible_parent = !outsider
            && match path.parent() {
                None => true,
                Some(parent) => self.sees(context, &parent)?,
            };
        if visible_parent {
            Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: permission.name(),
                path: path.clone(),
            })
        } else {
            Err(nexus_store::Rejection::NotFound { path: path.clone() }.into())
        }
    }

    /// Whether the caller sees the directory `path`: the fixed directories, the roots of
    /// its organizations, what it can read, and folders it holds a grant beneath (the way
    /// down to what was shared with it). Decided from the path's organization only. A
    /// delegated call sees what both the agent (with its reach through the delegation) and
    /// the user see.
    pub fn sees(&self, context: &CallContext, path: &VfsPath) -> Result<bool, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(true);
        };
        let org = match path.location() {
            Ok(Location::OrgRoot(org)) => return self.member(context, &org),
            Ok(Location::InOrg(org)) => org,
            Ok(location) if location.is_fixed() => return Ok(true),
            Ok(_) | Err(_) => return Ok(false),
        };
        if !self.member(context, &org)? {
            return Ok(false);
        }
        if self.allowed(context, path, Permission::Read)? {
            return Ok(true);
        }
        let Some(user) = self.delegator(context) else {
            return Ok(self.towards_grants_in(&subject, &org)?.contains(path));
        };
        let agent = delegated_way(path.as_str(), &user.object.object_id)
            || self.sees_as(&subject, &org, path)?;
        Ok(agent && self.sees_as(&user, &org, path)?)
    }

    /// Whether `subject`, a member of `org`, may read `path` or holds a grant beneath it.
    fn sees_as(&self, subject: &SubjectRef, org: &OrgId, path: &VfsPath) -> Result<bool, FsError> {
        let readable = holds_as(
            &self.state.engine.read(),
            subject,
            &file_object(path),
            Permission::Read.name(),
        )?;
        Ok(readable || self.towards_grants_in(subject, org)?.contains(path))
    }

    /// The paths of `org` the subject holds a grant on, with every folder above them. A
    /// relationship inside an organization names only that organization's members and
    /// groups, so this changes only with the organization's revision (or the shared one):
    /// it is computed once per caller, organization and those revisions, and writes in
    /// other organizations do not throw it away.
    fn towards_grants_in(
        &self,
        subject: &SubjectRef,
        org: &OrgId,
    ) -> Result<Arc<std::collections::HashSet<VfsPath>>, FsError> {
        // Read before the engine: what is computed below is at least this fresh.
        let org_revision = self.org_revision(org);
        let shared = self
            .state
            .shared_revision
            .load(std::sync::atomic::Ordering::Acquire);
        let key = (subject.clone(), org.clone());
        // A deployment's own schema may let an organization's relationships name objects of
        // types outside every organization: computed every time then.
        let custom = *self.state.custom_schema.read();
        let engine = self.state.engine.read();
        let cacheable = !custom && !engine.schema().uses_expiration();
        if cacheable
            && let Some((at_org, at_shared, found)) = self.grants_in_org.lock().get(&key)
            && (*at_org, *at_shared) == (org_revision, shared)
        {
            return Ok(found.clone());
        }
        self.visibility_computations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let found = towards_grants(&engine, subject, Some(&VfsPath::org_root(org)))?;
        drop(engine);
        let found = Arc::new(found);
        if cacheable {
            let mut cache = self.grants_in_org.lock();
            if cache.len() >= VISIBILITY_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (org_revision, shared, found.clone()));
        }
        Ok(found)
    }

    /// What a caller can see when listing: paths it holds grants on, organizations it is in.
    /// Computed once per caller and revision (a schema with expiring relationships computes
    /// it every time, since time alone can change it). A delegated call sees what both the
    /// agent and the user see.
    pub fn visibility(&self, context: &CallContext) -> Result<Arc<Visibility>, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(Arc::new(Visibility::Everything));
        };
        let acting = self.visibility_of(subject)?;
        match self.delegator(context) {
            None => Ok(acting),
            Some(user) => {
                let user_id = user.object.object_id.clone();
                Ok(Arc::new(Visibility::Delegated {
                    agent: acting,
                    user: self.visibility_of(user)?,
                    user_id,
                }))
            }
        }
    }

    fn visibility_of(&self, subject: SubjectRef) -> Result<Arc<Visibility>, FsError> {
        let engine = self.state.engine.read();
        let revision = engine.revision();
        let cacheable = !engine.schema().uses_expiration();
        if cacheable
            && let Some((at, visibility)) = self.visibility_cache.lock().get(&subject)
            && *at == revision
        {
            return Ok(visibility.clone());
        }
        self.visibility_computations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let towards_grants = towards_grants(&engine, &subject, None)?;
        let orgs = engine
            .lookup_resources("org", "membership", &subject, None, now())?
            .into_iter()
            .filter(|found| found.result == CheckResult::Has)
            .filter_map(|found| OrgId::parse(&found.id).ok())
            .collect();
        drop(engine);
        let visibility = Arc::new(Visibility::Limited {
            towards_grants,
            orgs,
            every_org: self.faults.drop_org_filter(),
        });
        if cacheable {
            let mut cache = self.visibility_cache.lock();
            if cache.len() >= VISIBILITY_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(subject, (revision, visibility.clone()));
        }
        Ok(visibility)
    }

    /// How many times a caller's visibility was computed (not served from the cache).
    pub fn visibility_computations(&self) -> u64 {
        self.visibility_computations
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last revision that changed a relationship of `org` (0: none yet).
    pub fn org_revision(&self, org: &OrgId) -> u64 {
        self.state
            .org_revisions
            .read()
            .get(org)
            .copied()
            .unwrap_or(0)
    }

    /// The revision token to show `context` for an answer about `about` (an organization, or
    /// none for answers spanning the caller's organizations). It changes only when what it
    /// speaks for changes: the organization (if the caller belongs to it), else any of the
    /// caller's organizations; for the system, anything.
    pub fn revision_token(
        &self,
        context: &CallContext,
        about: Option<&OrgId>,
    ) -> Result<String, FsError> {
        let Some(subject) = self.subject_of(&context.principal) else {
            return Ok(self.keys.issue(&tokens::Scope::Global, self.revision()));
        };
        if let Some(org) = about
            && self.is_member(&subject, org)?
        {
            return Ok(self
                .keys
                .issue(&tokens::Scope::Org(org.clone()), self.org_revision(org)));
        }
        let orgs = self.state.engine.read().lookup_resources(
            "org",
            "membership",
            &subject,
            None,
            now(),
        )?;
        let revision = orgs
            .iter()
            .filter(|found| found.result == CheckResult::Has)
            .filter_map(|found| OrgId::parse(&found.id).ok())
            .map(|org| self.org_revision(&org))
            .max()
            .unwrap_or(0);
        Ok(self
            .keys
            .issue(&tokens::Scope::Caller(subject.to_string()), revision))
    }

    /// Checks that answers for `context` are at least as fresh as the revision token
    /// `at_least` (read-your-writes across requests and clients). A token the server did not
    /// issue is refused, and so is one issued for an organization the caller does not belong
    /// to or for another caller. The system may also give a bare revision number (as the
    /// change log shows them).
    pub fn require_fresh(
        &self,
        context: &CallContext,
        at_least: Option<&str>,
    ) -> Result<(), FsError> {
        let Some(wanted) = self.wanted_revision(context, at_least)? else {
            return Ok(());
        };
        if wanted > self.revision() {
            return Err(FsError::invalid(
                "the revision asked for is newer than this server's state: it was not issued by this store",
            ));
        }
        Ok(())
    }

    /// The revision the token `at_least` asks for, once checked as
    /// [`Authorizer::require_fresh`] checks it (`None` without a token).
    pub fn wanted_revision(
        &self,
        context: &CallContext,
        at_least: Option<&str>,
    ) -> Result<Option<u64>, FsError> {
        let Some(text) = at_least else {
            return Ok(None);
        };
        let subject = self.subject_of(&context.principal);
        let wanted = if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            if subject.is_some() {
                return Err(FsError::invalid(
                    "a bare revision number is accepted from the system administrator only: pass the `revision` token of an earlier response",
                ));
            }
            text.parse::<u64>()
                .map_err(|_| FsError::invalid(format!("invalid revision `{text}`")))?
        } else {
            let (scope, revision) = self.keys.open(text)?;
            let allowed = match (&subject, &scope) {
                (None, _) => true,
                (Some(_), tokens::Scope::Global) => false,
                (Some(subject), tokens::Scope::Org(org)) => self.is_member(subject, org)?,
                (Some(subject), tokens::Scope::Caller(caller)) => subject.to_string() == *caller,
            };
            if !allowed {
                return Err(FsError::invalid(
                    "this revision token was issued for another organization or caller: use the `revision` of one of your own responses",
                ));
            }
            revision
        };
        Ok(Some(wanted))
    }

    /// The keys of revision tokens and list cursors.
    pub fn keys(&self) -> &tokens::Keys {
        &self.keys
    }
}

/// The paths `subject` holds a grant on (any of `read`, `write`, `manage`: a caller who may
/// only write somewhere must still find the way), and every folder above them, within
/// `within` when given. A grant that cannot be evaluated (a group nested too deep, ...) is
/// left out, with a warning; everything else still counts.
fn towards_grants(
    engine: &Engine,
    subject: &SubjectRef,
    within: Option<&VfsPath>,
) -> Result<std::collections::HashSet<VfsPath>, FsError> {
    let at = now();
    let inside = |path: &VfsPath| within.is_none_or(|root| path.starts_with(root));
    let mut found = std::collections::HashSet::new();
    for permission in [Permission::Read, Permission::Write, Permission::Manage] {
        let (resources, failed) =
            engine.lookup_resources_partial("file", permission.name(), subject, None, at)?;
        for (path, error) in failed {
            tracing::warn!(%subject, %path, %error, "a grant could not be evaluated; it makes nothing visible");
        }
        for resource in resources {
            let Ok(path) = VfsPath::parse(&resource.id) else {
                continue;
            };
            if resource.result != CheckResult::Has || !inside(&path) {
                continue;
            }
            let mut current = Some(path);
            while let Some(path) = current.filter(|path| inside(path)) {
                let parent = path.parent();
                if !found.insert(path) {
                    break;
                }
                current = parent;
            }
        }
    }
    Ok(found)
}

/// Whether `subject` has `permission` on `object` now.
fn holds_as(
    engine: &Engine,
    subject: &SubjectRef,
    object: &ObjectRef,
    permission: &str,
) -> Result<bool, FsError> {
    Ok(engine.check(&CheckRequest {
        resource: object,
        permission,
        subject,
        context: None,
        now: now(),
    })? == CheckResult::Has)
}

/// The organization of `path` when it is among the personal items of the user `user_id`
/// (their scope folder or anything in it), in any environment but Locker: what a delegation
/// lets the agent reach on the user's behalf. Secrets are never delegated.
pub fn delegated_org<'a>(path: &'a str, user_id: &str) -> Option<&'a str> {
    let place = nexus_knowledge::Place::of(path)?;
    (place.scope == Some(user_id) && place.env.is_some_and(|env| env != "locker"))
        .then_some(place.org)
}

/// Whether `path` is on the way down to a delegated user's personal items: the items
/// folder, an environment folder other than Locker, or the items themselves.
fn delegated_way(path: &str, user_id: &str) -> bool {
    match nexus_knowledge::Place::of(path) {
        Some(place) => match (place.env, place.scope) {
            (None, _) => true,
            (Some(env), None) => env != "locker",
            (Some(_), Some(_)) => delegated_org(path, user_id).is_some(),
        },
        None => false,
    }
}

/// The permissions a delegation reaches on the user's personal items: using them, never
/// managing them (sharing, ACLs, ownership): an agent acting for a user cannot give itself
/// access that would outlive the delegation.
const DELEGATED_PERMISSIONS: [&str; 3] = ["read", "write", "create"];

/// Whether the agent `agent`, acting for `user`, reaches `permission` on `object` through
/// the delegation: one of [`DELEGATED_PERMISSIONS`] on the user's personal items (see
/// [`delegated_org`]) of an organization the agent belongs to.
fn reaches_by_delegation(
    engine: &Engine,
    agent: &SubjectRef,
    user: &SubjectRef,
    object: &ObjectRef,
    permission: &str,
) -> Result<bool, FsError> {
    if object.object_type != FILE || !DELEGATED_PERMISSIONS.contains(&permission) {
        return Ok(false);
    }
    match delegated_org(&object.object_id, &user.object.object_id) {
        Some(org) => holds_as(engine, agent, &ObjectRef::new("org", org), "membership"),
        None => Ok(false),
    }
}

/// Checks for one call, sharing work between them: the caller's, and for a delegated call
/// the user's too (see [`Authorizer::checker`]).
#[derive(Debug)]
pub struct ContextChecker<'a> {
    acting: nexus_rebac::Checker<'a>,
    /// The delegating user's checker and stable id.
    user: Option<(nexus_rebac::Checker<'a>, String)>,
}

impl ContextChecker<'_> {
    /// Whether the call has `permission` on the file `path` (both the agent, or its reach,
    /// and the user for a delegated call).
    pub fn check_file(
        &mut self,
        path: &VfsPath,
        permission: &str,
    ) -> Result<CheckResult, nexus_rebac::CheckError> {
        self.check_canonical(path.as_str(), permission)
    }

    /// [`ContextChecker::check_file`] of a path known to be canonical (the text of a
    /// [`VfsPath`], e.g. as a search index recorded it): not parsed again.
    pub fn check_canonical(
        &mut self,
        path: &str,
        permission: &str,
    ) -> Result<CheckResult, nexus_rebac::CheckError> {
        let Some((user, user_id)) = &mut self.user else {
            return self.acting.check_object(FILE, path, permission);
        };
        let reached = match delegated_org(path, user_id) {
            Some(org) if DELEGATED_PERMISSIONS.contains(&permission) => {
                self.acting.check_object("org", org, "membership")? == CheckResult::Has
            }
            _ => false,
        };
        if !reached {
            let agent = self.acting.check_object(FILE, path, permission)?;
            if agent != CheckResult::Has {
                return Ok(agent);
            }
        }
        user.check_object(FILE, path, permission)
    }
}

/// What a caller can see in listings.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// The system sees everything.
    Everything,
    Limited {
        /// Paths the caller holds a grant on, and every folder above them.
        towards_grants: std::collections::HashSet<VfsPath>,
        /// Organizations the caller belongs to.
        orgs: Vec<OrgId>,
        /// Test-only fault: every organization counts as the caller's.
        every_org: bool,
    },
    /// An agent acting for a user: what both see (the agent also sees the way to the
    /// user's personal items, which the delegation lets it reach).
    Delegated {
        agent: Arc<Visibility>,
        user: Arc<Visibility>,
        /// The user's stable id.
        user_id: String,
    },
}

impl Visibility {
    /// A path is visible when the caller can read it, holds a grant beneath it, or it is the
    /// root of an organization the caller belongs to (or `/`, `/orgs`).
    pub fn is_visible(
        &self,
        authorizer: &Authorizer,
        context: &CallContext,
        path: &VfsPath,
    ) -> Result<bool, FsError> {
        if let Visibility::Delegated { .. } = self {
            let engine = authorizer.engine();
            return Ok(match authorizer.checker(&engine, context)? {
                Some(mut checker) => self.is_visible_with(&mut checker, path),
                None => true,
            });
        }
        match self.decide(path) {
            Some(decided) => Ok(decided),
            None => authorizer.allowed(context, path, Permission::Read),
        }
    }

    /// Like [`Visibility::is_visible`] with a checker shared across many paths. A path
    /// whose permission cannot be evaluated (a group nested too deep, ...) is not visible;
    /// the listing goes on without it.
    pub fn is_visible_with(&self, checker: &mut ContextChecker<'_>, path: &VfsPath) -> bool {
        match (self, &mut checker.user) {
            (
                Visibility::Delegated {
                    agent,
                    user,
                    user_id,
                },
                Some((user_checker, _)),
            ) => {
                let agent_sees = delegated_way(path.as_str(), user_id)
                    && member_org_of(&mut checker.acting, path)
                    || agent.side_visible(&mut checker.acting, path);
                agent_sees && user.side_visible(user_checker, path)
            }
            _ => self.side_visible(&mut checker.acting, path),
        }
    }

    /// Whether this is a file the caller can read (files are never visible by grants beneath).
    pub fn can_read_with(&self, checker: &mut ContextChecker<'_>, path: &VfsPath) -> bool {
        match self {
            Visibility::Everything => true,
            Visibility::Limited { .. } | Visibility::Delegated { .. } => {
                match checker.check_file(path, Permission::Read.name()) {
                    Ok(result) => result == CheckResult::Has,
                    Err(error) => {
                        tracing::warn!(%path, %error, "a permission could not be evaluated; the entry is left out of the listing");
                        false
                    }
                }
            }
        }
    }

    /// One subject's visibility of `path`, with its checker.
    fn side_visible(&self, checker: &mut nexus_rebac::Checker<'_>, path: &VfsPath) -> bool {
        match self.decide(path) {
            Some(decided) => decided,
            None => readable(checker, path),
        }
    }

    /// What can be decided without a check (`None`: check `read`).
    fn decide(&self, path: &VfsPath) -> Option<bool> {
        let (towards_grants, orgs, every_org) = match self {
            Visibility::Everything => return Some(true),
            Visibility::Limited {
                towards_grants,
                orgs,
                every_org,
            } => (towards_grants, orgs, every_org),
            // Decided side by side (see `is_visible_with`); never as a whole.
            Visibility::Delegated { .. } => return Some(false),
        };
        match path.location() {
            Ok(location) if location.is_fixed() => return Some(true),
            Ok(Location::OrgRoot(org)) if member_of(orgs, &org, *every_org) => return Some(true),
            Ok(Location::Outside) | Err(_) => return Some(false),
            Ok(Location::OrgRoot(org) | Location::InOrg(org))
                if !member_of(orgs, &org, *every_org) =>
            {
                return Some(false);
            }
            Ok(_) => {}
        }
        if towards_grants.contains(path) {
            return Some(true);
        }
        None
    }
}

/// Whether the checker's subject belongs to the organization of `path`.
fn member_org_of(checker: &mut nexus_rebac::Checker<'_>, path: &VfsPath) -> bool {
    match path.location() {
        Ok(Location::OrgRoot(org) | Location::InOrg(org)) => matches!(
            checker.check_object("org", org.as_str(), "membership"),
            Ok(CheckResult::Has)
        ),
        _ => false,
    }
}

/// Whether the checker's subject may read `path`; an evaluation failure is a "no", logged.
fn readable(checker: &mut nexus_rebac::Checker<'_>, path: &VfsPath) -> bool {
    match checker.check_object(FILE, path.as_str(), Permission::Read.name()) {
        Ok(result) => result == CheckResult::Has,
        Err(error) => {
            tracing::warn!(%path, %error, "a permission could not be evaluated; the entry is left out of the listing");
            false
        }
    }
}

/// Whether `org` is among the caller's organizations (the one organization filter of
/// visibility decisions).
fn member_of(orgs: &[OrgId], org: &OrgId, every_org: bool) -> bool {
    orgs.contains(org) || every_org
}
