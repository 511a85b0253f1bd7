//! The services of one data directory, each the one owner of its operations:
//!
//! ```text
//!   Fs                  the handle: store, authorizer, unit of work, account registry
//!     ├── files()          Files          files.rs, search.rs (glob, grep), retention.rs
//!     ├── orgs()           Orgs           orgs.rs: records, membership, provisioning
//!     ├── accounts()       Accounts       accounts.rs: users, agents, API keys
//!     ├── relationships()  Relationships  relationships.rs: relationship administration,
//!     │                                   permission queries, schema, ACLs
//!     ├── items()          Items          knowledge/items.rs: the knowledge layer's items,
//!     │                                   sharing, workflow resolution
//!     ├── sessions()       Sessions       knowledge/sessions.rs: solo and group sessions
//!     ├── reminders()      Reminders      knowledge/reminders.rs: firing due reminders
//!     ├── notifications()  Notifications  knowledge/reminders.rs: notification feeds
//!     ├── changes()        Changes        changes.rs: the permission-filtered change feed
//!     ├── search()         Search         retrieval.rs: permission-filtered full-text search
//!     ├── audit()          Audit          audit.rs: the audit log
//!     └── archives()       Archives       archive.rs: exporting and importing organizations
//! ```
//!
//! Every operation takes the acting [`CallContext`], canonicalizes its paths with
//! [`VfsPath::parse`], checks that they lie in an organization the context covers, asks the
//! pure [`Authorizer`], then reads the [`Store`] or commits through the one
//! [`UnitOfWork`]. The services share the handle's state and helpers (they dereference to
//! [`Fs`]); none keeps state of its own.

mod accounts;
pub mod archive;
mod audit;
mod changes;
mod cursor;
mod files;
pub mod knowledge;
mod orgs;
mod relationships;
pub mod retention;
mod retrieval;
pub use retrieval::{DEFAULT_EXACT_LIMIT, DEFAULT_MIN_SIMILARITY};
mod search;

use std::path::Path;

use nexus_path::{Location, OrgId, VfsPath};
use nexus_store::{ListQuery, Node, Store, StoreOptions};

pub use files::{
    ByteRange, DEFAULT_PAGE_SIZE, ListOptions, MAX_PAGE_SIZE, ReadOptions, ReadOutput, WriteOptions,
};
pub use knowledge::{ItemQuery, LockerRotation};
pub use orgs::{
    Layout, MemberKind, MemberRecord, MemberSpec, MemberStatus, ORG_RECORD, OrgRecord, OrgSpec,
    ProvisionReport, Provisioning, Role, WorkspaceSpec,
};
pub use relationships::CheckQuery;
pub use search::{GlobOptions, GrepOptions};

use std::sync::Arc;

use nexus_rebac::EngineConfig;

use crate::accounts::Registry;
use crate::authz::{Authorizer, Permission, PermissionState};
use crate::commit::UnitOfWork;
use crate::entry::{Entry, VersionInfo};
use crate::error::FsError;
use crate::principal::{CallContext, Principal};
use files::applied_entry_of;

/// The filesystem of one data directory.
#[derive(Debug, Clone)]
pub struct Fs {
    store: Store,
    authz: Arc<Authorizer>,
    commit: Arc<UnitOfWork>,
    registry: Arc<Registry>,
    /// Serializes changes of organization records (`org.json`) and memberships.
    membership: Arc<tokio::sync::Mutex<()>>,
    layout: Layout,
    /// The folders provisioning creates.
    provisioning: Arc<Provisioning>,
    /// Knowledge items' parsed data, by content hash.
    item_cache: Arc<knowledge::ItemCache>,
    /// The master key and organizations' data keys sealing Locker secrets.
    locker: Arc<crate::locker::Locker>,
    /// Bumped after notifications are committed; feeds' streams wait on it.
    notices: Arc<tokio::sync::watch::Sender<u64>>,
    /// The organizations' search indexes.
    search_indexes: Arc<retrieval::Indexes>,
    /// Whether other nodes write the same store (see [`Fs::follow`]).
    shared_store: bool,
    /// The store's accounts version the registry holds (`u64::MAX`: not known yet).
    accounts_seen: Arc<std::sync::atomic::AtomicU64>,
    /// This filesystem's name as the holder of leases (random).
    node: Arc<str>,
}

macro_rules! service {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            fs: &'a Fs,
        }

        impl std::ops::Deref for $name<'_> {
            type Target = Fs;

            fn deref(&self) -> &Fs {
                self.fs
            }
        }
    };
}

service!(
    /// The files service of a [`Fs`] (see [`Fs::files`]).
    Files
);
service!(
    /// The organizations service of a [`Fs`] (see [`Fs::orgs`]).
    Orgs
);
service!(
    /// The accounts service of a [`Fs`] (see [`Fs::accounts`]).
    Accounts
);
service!(
    /// The relationships service of a [`Fs`] (see [`Fs::relationships`]).
    Relationships
);
service!(
    /// The knowledge layer's items service of a [`Fs`] (see [`Fs::items`]).
    Items
);
service!(
    /// The knowledge layer's sessions service of a [`Fs`] (see [`Fs::sessions`]).
    Sessions
);
service!(
    /// The audit log service of a [`Fs`] (see [`Fs::audit`]).
    Audit
);
service!(
    /// Organization archives of a [`Fs`] (see [`Fs::archives`]).
    Archives
);
service!(
    /// The change feeds of a [`Fs`] (see [`Fs::changes`]).
    Changes
);
service!(
    /// Search over files and knowledge items (see [`Fs::search`]).
    Search
);
service!(
    /// The reminder scheduler of a [`Fs`] (see [`Fs::reminders`]).
    Reminders
);
service!(
    /// The notification feeds of a [`Fs`] (see [`Fs::notifications`]).
    Notifications
);

/// Loads the accounts again when the store's accounts version moved since `seen` (another
/// node registered someone, created or revoked a key, locked someone out).
async fn follow_accounts(
    store: &Store,
    registry: &Registry,
    locker: &crate::locker::Locker,
    seen: &std::sync::atomic::AtomicU64,
) -> Result<(), FsError> {
    let Some(version) = store.accounts_version().await? else {
        return Ok(());
    };
    if seen.load(std::sync::atomic::Ordering::Acquire) == version {
        return Ok(());
    }
    let _registering = registry.registering.lock().await;
    registry.reload(store.load_accounts().await?);
    // Organizations' locker data keys another node created or re-wrapped (the same version
    // counts them).
    for record in store.load_locker_keys().await? {
        locker.install_stored(&record);
    }
    seen.store(version, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// How often a node sharing its store with others polls it for their changes.
pub const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// The organization that owns a path, or the fixed directory it is (`/` and `/orgs`,
/// defined by [`nexus_path::Location::is_fixed`] and materialized by the store).
pub(crate) enum Scope {
    Fixed,
    Org(OrgId),
}

impl Fs {
    /// Opens the embedded store in `data_dir`.
    pub async fn open(data_dir: &Path, options: StoreOptions) -> Result<Fs, FsError> {
        Ok(Self::from_store(Store::open(data_dir, options).await?)
            .await?
            .with_search_dir(data_dir.join("search")))
    }

    /// Opens the store `storage` describes (the backends chosen by configuration).
    pub async fn connect(storage: &crate::Storage, options: StoreOptions) -> Result<Fs, FsError> {
        let fs = Self::from_store(storage.open(options).await?)
            .await?
            .with_search_dir(storage.local_dir().join("search"));
        Ok(match storage {
            crate::Storage::Embedded { .. } => fs,
            crate::Storage::ScaleOut(_) => fs.follow(FOLLOW_INTERVAL),
        })
    }

    /// The same filesystem following a store that other nodes write too: every `interval`
    /// it puts in force the permission changes they committed (from the change log), and a
    /// request carrying a newer revision token catches up first. Call within a Tokio
    /// runtime; the follower stops once the store is closed.
    #[must_use]
    pub fn follow(mut self, interval: std::time::Duration) -> Fs {
        self.shared_store = true;
        let commit = Arc::downgrade(&self.commit);
        let authz = Arc::downgrade(&self.authz);
        let registry = Arc::downgrade(&self.registry);
        let locker = Arc::downgrade(&self.locker);
        let seen = self.accounts_seen.clone();
        let notices = Arc::downgrade(&self.notices);
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticker.tick().await;
                let (Some(commit), Some(authz), Some(registry), Some(locker)) = (
                    commit.upgrade(),
                    authz.upgrade(),
                    registry.upgrade(),
                    locker.upgrade(),
                ) else {
                    break;
                };
                if store.is_closed() {
                    break;
                }
                if authz.faults().no_following() {
                    continue;
                }
                let followed = async {
                    // Accounts and caches are followed even while a local write holds
                    // the relationship state (it catches up itself).
                    commit.try_catch_up().await?;
                    follow_accounts(&store, &registry, &locker, &seen).await?;
                    if store.follow_others().await?
                        && let Some(notices) = notices.upgrade()
                    {
                        // Notification feeds' streams look again (another node may have
                        // notified someone).
                        notices.send_modify(|count| *count = count.wrapping_add(1));
                    }
                    Ok::<(), FsError>(())
                }
                .await;
                match followed {
                    Ok(()) if failing => {
                        tracing::info!("following the store again");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "cannot follow the store; retrying");
                        }
                        failing = true;
                    }
                }
            }
        });
        self
    }

    /// Takes or renews the lease `name` on background work for `ttl` (see
    /// [`nexus_store::MetadataStore::hold_lease`]): whether this node may do the work now.
    /// Always `true` on a store no other node shares.
    pub async fn hold_lease(&self, name: &str, ttl: std::time::Duration) -> Result<bool, FsError> {
        Ok(self.store.hold_lease(name, &self.node, ttl).await?)
    }

    /// On a node sharing its store, puts in force the account changes other nodes
    /// committed (before deciding whether a principal must be registered).
    pub(crate) async fn catch_up_accounts(&self) -> Result<(), FsError> {
        if !self.shared_store {
            return Ok(());
        }
        follow_accounts(
            &self.store,
            &self.registry,
            &self.locker,
            &self.accounts_seen,
        )
        .await
    }

    /// Waits until answers are at least as fresh as the revision token `at_least` (see
    /// [`Relationships::await_fresh`]).
    pub(crate) async fn await_fresh(
        &self,
        context: &CallContext,
        at_least: Option<&str>,
    ) -> Result<(), FsError> {
        let Some(wanted) = self.authz.wanted_revision(context, at_least)? else {
            return Ok(());
        };
        if wanted > self.authz.revision()
            && self.shared_store
            && !self.authz.faults().no_following()
        {
            self.commit.catch_up().await?;
        }
        self.authz.require_fresh(context, at_least)
    }

    /// Wraps an already open store, loading its authorization state.
    pub async fn from_store(store: Store) -> Result<Fs, FsError> {
        let registry = Arc::new(Registry::load(store.load_accounts().await?));
        let (state, keys) =
            PermissionState::load(store.load_authorization().await?, EngineConfig::default())?;
        let state = Arc::new(state);
        let fs = Fs {
            authz: Arc::new(Authorizer::new(state.clone(), registry.clone(), keys)),
            commit: Arc::new(UnitOfWork::new(state, store.clone())),
            store,
            registry,
            membership: Arc::new(tokio::sync::Mutex::new(())),
            layout: Layout::Simple,
            provisioning: Arc::new(Provisioning::default()),
            item_cache: Arc::new(knowledge::ItemCache::default()),
            locker: Arc::new(crate::locker::Locker::default()),
            notices: Arc::new(tokio::sync::watch::Sender::new(0)),
            search_indexes: Arc::new(retrieval::Indexes::at(None)),
            shared_store: false,
            accounts_seen: Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
            node: format!("node-{:016x}", rand::random::<u64>()).into(),
        };
        fs.accounts().adopt_unregistered_users().await?;
        fs.accounts().give_agents_stable_ids().await?;
        fs.reminders().schedule_existing(chrono::Utc::now()).await?;
        Ok(fs)
    }

    /// The same filesystem with its search indexes in `dir` (one folder per organization).
    #[must_use]
    pub fn with_search_dir(mut self, dir: std::path::PathBuf) -> Fs {
        self.search_indexes = Arc::new(retrieval::Indexes::at(Some(dir)));
        self
    }

    /// The same filesystem with semantic (and hybrid) search: documents and queries are
    /// embedded by `embedder`, and a document is a semantic match from `min_similarity`
    /// (cosine). Indexes built by another embedder (or none) are rebuilt when opened.
    #[must_use]
    pub fn with_embedder(
        mut self,
        embedder: Arc<dyn nexus_search::Embedder>,
        min_similarity: f32,
    ) -> Fs {
        self.search_indexes = Arc::new(self.search_indexes.with_embedder(embedder, min_similarity));
        self
    }

    /// The same filesystem, comparing every vector in a semantic search of up to
    /// `exact_limit` candidates (documents matching its filters) and searching larger index
    /// segments through their graphs beyond ([`crate::DEFAULT_EXACT_LIMIT`] unless set).
    #[must_use]
    pub fn with_exact_limit(mut self, exact_limit: usize) -> Fs {
        self.search_indexes = Arc::new(self.search_indexes.with_exact_limit(exact_limit));
        self
    }

    /// The search service.
    pub fn search(&self) -> Search<'_> {
        Search { fs: self }
    }

    /// The same filesystem with workspaces placed by `layout`.
    #[must_use]
    pub fn with_layout(mut self, layout: Layout) -> Fs {
        self.layout = layout;
        self
    }

    /// The same filesystem provisioning the folders `provisioning` names (validated).
    pub fn with_provisioning(mut self, provisioning: Provisioning) -> Result<Fs, FsError> {
        provisioning.validate()?;
        self.provisioning = Arc::new(provisioning);
        Ok(self)
    }

    /// Where workspaces live.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The registry of principals and API keys, as last committed.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Breaks a property on purpose, for the tests that prove they can fail (only with the
    /// test-only `fault-inject` feature).
    #[cfg(feature = "fault-inject")]
    pub fn inject_fault(&self, fault: crate::fault::Fault) {
        self.authz.inject_fault(fault);
    }

    /// The files service: reading, writing, listing, moving, versioning and searching files.
    pub fn files(&self) -> Files<'_> {
        Files { fs: self }
    }

    /// The organizations service: records, membership and provisioning.
    pub fn orgs(&self) -> Orgs<'_> {
        Orgs { fs: self }
    }

    /// The accounts service: users, agents and API keys.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { fs: self }
    }

    /// The relationships service: relationship administration, permission queries, the
    /// schema and ACLs.
    pub fn relationships(&self) -> Relationships<'_> {
        Relationships { fs: self }
    }

    /// The knowledge layer's items: create, read, update, delete, list and search them;
    /// share them; resolve workflow protocols.
    pub fn items(&self) -> Items<'_> {
        Items { fs: self }
    }

    /// The knowledge layer's sessions: start, list, add members, end.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { fs: self }
    }

    /// The audit log: record, read, prune.
    pub fn audit(&self) -> Audit<'_> {
        Audit { fs: self }
    }

    /// Organization archives: export one organization, import one (system administrators).
    pub fn archives(&self) -> Archives<'_> {
        Archives { fs: self }
    }

    /// Organizations' change feeds, each caller seeing what it may read.
    pub fn changes(&self) -> Changes<'_> {
        Changes { fs: self }
    }

    /// Chrono's scheduler: fires due reminders into notification feeds.
    pub fn reminders(&self) -> Reminders<'_> {
        Reminders { fs: self }
    }

    /// Each principal's notification feed: read, mark read, wait for more.
    pub fn notifications(&self) -> Notifications<'_> {
        Notifications { fs: self }
    }

    /// The permission engine of this filesystem.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authz
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Refuses unless the caller is the system administrator; `what` names the operation.
    pub fn require_system(context: &CallContext, what: &'static str) -> Result<(), FsError> {
        if context.principal == Principal::System {
            Ok(())
        } else {
            Err(FsError::SystemOnly { what })
        }
    }

    /// The context of `principal` acting across organizations (checked by permissions),
    /// with a user handle resolved to the stable id and kept for messages.
    pub fn context(&self, principal: Principal) -> CallContext {
        let principal = self.resolve_principal(principal);
        let name = match &principal {
            Principal::User(id) => self
                .registry
                .handle("user", id)
                .map(|handle| format!("user:{handle}")),
            Principal::Agent(id) => self
                .registry
                .handle("agent", id)
                .map(|handle| format!("agent:{handle}")),
            Principal::System => None,
        };
        CallContext {
            principal,
            tenant: crate::Tenant::System,
            name,
            origin: None,
            on_behalf_of: None,
        }
    }

    /// The context of an agent acting on behalf of a user (a delegation): both resolved to
    /// stable ids; every decision is made for both.
    pub fn delegated_context(&self, agent: Principal, user: Principal) -> CallContext {
        CallContext {
            on_behalf_of: Some(self.resolve_principal(user)),
            ..self.context(agent)
        }
    }

    /// The principal with a user's handle or an agent's name replaced by the stable id
    /// (unknown principals are kept as given: they hold nothing).
    pub fn resolve_principal(&self, principal: Principal) -> Principal {
        match principal {
            Principal::User(text) => Principal::User(self.registry.user_id(&text).unwrap_or(text)),
            Principal::Agent(text) => {
                Principal::Agent(self.registry.agent_id(&text).unwrap_or(text))
            }
            Principal::System => Principal::System,
        }
    }

    /// A subject with a user's stable id replaced by the handle, for people to read.
    pub fn display_subject(&self, subject: &str) -> String {
        self.registry.display_subject(subject)
    }

    /// Whether `path` is an organization's record.
    pub(crate) fn is_org_record(path: &VfsPath) -> bool {
        path.parent()
            .is_some_and(|parent| matches!(parent.location(), Ok(nexus_path::Location::OrgRoot(_))))
            && path.name() == ORG_RECORD
    }

    /// Waits for queued commits and releases the data directory.
    pub async fn close(&self) {
        // The indexes' writers let go of their directories.
        self.search_indexes.close();
        self.store.close().await;
    }

    /// An entry as people read it: its author by handle (`user:alice@acme.com`), as
    /// `getfacl` shows subjects.
    fn show(&self, mut entry: Entry) -> Entry {
        entry.author = self.registry.display_subject(&entry.author);
        entry
    }

    /// A version as people read it (its author by handle).
    fn show_version(&self, mut version: VersionInfo) -> VersionInfo {
        version.author = self.registry.display_subject(&version.author);
        version
    }

    /// The entry of the node a mutation produced, as people read it.
    fn applied_entry(&self, applied: nexus_store::Applied) -> Result<Entry, FsError> {
        applied_entry_of(applied).map(|entry| self.show(entry))
    }

    /// Canonicalizes `path` and checks the context may address it.
    fn resolve(context: &CallContext, path: &str) -> Result<(VfsPath, Scope), FsError> {
        let path = VfsPath::parse(path)?;
        let scope = match path.location()? {
            Location::OrgRoot(org) | Location::InOrg(org) => {
                if !context.covers(&org) {
                    return Err(FsError::WrongOrganization { path });
                }
                Scope::Org(org)
            }
            location if location.is_fixed() => Scope::Fixed,
            _ => return Err(FsError::OutsideOrganization { path }),
        };
        Ok((path, scope))
    }

    /// An organization's record changes only by being written (see `orgs.rs`), and nothing
    /// can live beneath its name.
    fn refuse_record_change(path: &VfsPath, what: &str) -> Result<(), FsError> {
        if Self::is_org_record(path) {
            return Err(FsError::invalid(format!(
                "`{path}` holds the organization's membership and cannot be {what}; write it instead"
            )));
        }
        Self::refuse_beneath_record(path)
    }

    /// The knowledge layer's items (`/orgs/<org>/.nexus/...`) change only through the items
    /// and sessions services, which validate them and keep their relationships: through
    /// the file operations they are read-only.
    fn refuse_items_tree(path: &VfsPath) -> Result<(), FsError> {
        if nexus_knowledge::Place::of(path.as_str()).is_some() {
            return Err(FsError::invalid(format!(
                "`{path}` is in the organization's knowledge items: change items through `/api/orgs/{{org}}/items` (files there are read-only)"
            )));
        }
        Ok(())
    }

    /// Refuses paths beneath an organization's record (which would make it a directory).
    fn refuse_beneath_record(path: &VfsPath) -> Result<(), FsError> {
        let mut ancestor = path.parent();
        while let Some(current) = ancestor {
            if Self::is_org_record(&current) {
                return Err(FsError::invalid(format!(
                    "`{current}` is the organization's record, a file: nothing can be created beneath it"
                )));
            }
            ancestor = current.parent();
        }
        Ok(())
    }

    /// Like [`Fs::resolve`] for a path that is about to change.
    fn resolve_mutable(context: &CallContext, path: &str) -> Result<(VfsPath, OrgId), FsError> {
        match Self::resolve(context, path)? {
            (path, Scope::Fixed) => Err(FsError::FixedDirectory { path }),
            (path, Scope::Org(org)) => Ok((path, org)),
        }
    }

    /// Every node in `dir` (with `recursive`, beneath it), read a page at a time; nothing
    /// if `dir` does not exist. For maintenance passes, not for answers to callers.
    pub(crate) async fn all_nodes(
        &self,
        dir: &VfsPath,
        recursive: bool,
    ) -> Result<Vec<Node>, FsError> {
        let mut nodes = Vec::new();
        if self.store.node(dir).await?.is_none() {
            return Ok(nodes);
        }
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    dir: dir.clone(),
                    recursive,
                    after: after.take(),
                    limit: MAX_PAGE_SIZE,
                })
                .await?;
            let full = page.len() == MAX_PAGE_SIZE;
            after = page.last().map(|node| node.path.clone());
            nodes.extend(page);
            if !full {
                return Ok(nodes);
            }
        }
    }

    async fn existing(&self, path: &VfsPath) -> Result<Node, FsError> {
        self.store
            .node(path)
            .await?
            .ok_or_else(|| nexus_store::Rejection::NotFound { path: path.clone() }.into())
    }

    async fn file(&self, path: &VfsPath) -> Result<Node, FsError> {
        let node = self.existing(path).await?;
        if node.is_dir() {
            return Err(nexus_store::Rejection::IsADirectory { path: path.clone() }.into());
        }
        Ok(node)
    }

    /// Refuses unless the caller may `permission` the path.
    fn authorize(
        &self,
        context: &CallContext,
        path: &VfsPath,
        permission: Permission,
    ) -> Result<(), FsError> {
        self.authz.authorize(context, path, permission)
    }

    /// Refuses unless the caller may `permission` the path and everything beneath it.
    async fn authorize_subtree(
        &self,
        context: &CallContext,
        root: &VfsPath,
        permission: Permission,
    ) -> Result<(), FsError> {
        self.authorize(context, root, permission)?;
        if self.authz.subject_of(&context.principal).is_none() {
            return Ok(());
        }
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    dir: root.clone(),
                    recursive: true,
                    after: after.take(),
                    limit: MAX_PAGE_SIZE,
                })
                .await?;
            {
                let engine = self.authz.engine();
                let Some(mut checker) = self.authz.checker(&engine, context)? else {
                    return Ok(());
                };
                for node in &page {
                    if checker.check_file(&node.path, permission.name())?
                        != nexus_rebac::CheckResult::Has
                    {
                        return Err(FsError::PermissionDenied {
                            principal: context.name(),
                            permission: permission.name(),
                            path: node.path.clone(),
                        });
                    }
                }
            }
            if page.len() < MAX_PAGE_SIZE {
                return Ok(());
            }
            after = page.last().map(|node| node.path.clone());
        }
    }

    /// Refuses unless the caller may see `node`: read a file; read, or hold a grant
    /// beneath, a directory.
    fn authorize_view(&self, context: &CallContext, node: &Node) -> Result<(), FsError> {
        if !node.is_dir() {
            return self.authorize(context, &node.path, Permission::Read);
        }
        if self.authz.sees(context, &node.path)? {
            return Ok(());
        }
        self.authorize(context, &node.path, Permission::Read)
    }

    /// The organization named `org`, if the context covers it.
    fn org_of_context(context: &CallContext, org: &str) -> Result<OrgId, FsError> {
        let org = OrgId::parse(org)?;
        if !context.covers(&org) {
            return Err(FsError::WrongOrganization {
                path: VfsPath::org_root(&org),
            });
        }
        Ok(org)
    }
}
