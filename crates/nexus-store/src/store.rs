//! [`Store`]: metadata + blobs + caches behind one handle, with a single committing task.
//!
//! Write path of a file (the order is what makes it crash- and cancel-safe):
//!
//! 1. hash the content and put the blob, create-only and fsynced (invisible until referenced);
//! 2. hand the mutation to the committer task and wait for its answer;
//! 3. the committer batches whatever mutations are waiting, checks that each new blob still
//!    exists, applies the batch in one SQLite transaction (one fsync for all: group commit),
//!    invalidates caches, deletes blobs that only refused mutations had brought in, answers.
//!
//! A caller dropped before step 2 leaves at most an unreferenced blob, which garbage
//! collection removes; once the mutation is handed over it commits or fails as a whole
//! regardless of the caller. Garbage collection deletes blobs from within the committer too,
//! so "the blob exists" checked in step 3 still holds when the batch commits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nexus_path::{OrgId, VfsPath};
use tokio::sync::{mpsc, oneshot, watch};

use crate::blob::{BlobStore, LocalBlobStore};
use crate::cache::{ContentCache, ListingCache, NodeCache};
use crate::error::{Error, Rejection, StoreError};
use crate::meta::{Applied, MetadataStore, Mutation, Precondition};
use crate::sqlite::SqliteMetadataStore;
use crate::types::{
    BlobRef, ContentHash, ListQuery, Node, Timestamp, VersionPolicy, VersionRecord,
};

/// Name of the marker file that identifies a data directory.
pub const MARKER_FILE: &str = "nexus-data.json";
const LOCK_FILE: &str = "LOCK";
const MARKER_CONTENT: &str = "{\"format\": 1}\n";
/// Content larger than this is hashed on a blocking thread.
const INLINE_HASH_LIMIT: usize = 256 * 1024;
/// Attempts at a write whose blob was collected between upload and commit.
const WRITE_ATTEMPTS: usize = 5;

/// Tuning of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long an unreferenced blob is kept before garbage collection may delete it.
    pub gc_grace: Duration,
    /// How long to wait for another process to release the data directory.
    pub lock_timeout: Duration,
    /// Upper bound of the metadata cache, in entries.
    pub node_cache_entries: usize,
    /// Upper bound of the directory listing cache, in entries of all listings together.
    pub listing_cache_entries: usize,
    /// Upper bound of the content cache, in bytes.
    pub content_cache_bytes: usize,
    /// Largest blob the content cache keeps.
    pub content_cache_max_entry: usize,
    /// Most mutations committed in one transaction.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            gc_grace: Duration::from_hours(1),
            lock_timeout: Duration::ZERO,
            node_cache_entries: 200_000,
            listing_cache_entries: 400_000,
            content_cache_bytes: 64 << 20,
            content_cache_max_entry: 256 << 10,
            max_batch: 256,
        }
    }
}

/// A request to create or overwrite a file.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub org: OrgId,
    pub path: VfsPath,
    pub content: Bytes,
    pub precondition: Precondition,
    pub create_parents: bool,
    pub author: String,
    pub at: Timestamp,
}

/// What one garbage collection pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs whose last reference went away before the grace period.
    pub unreferenced: u64,
    /// Blobs never referenced by any commit (uploads interrupted before committing).
    pub orphans: u64,
    /// Partial uploads left by a crash.
    pub interrupted: u64,
}

/// Result of [`Store::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Inconsistencies; empty when the store is sound.
    pub problems: Vec<String>,
    /// Blobs referenced by metadata.
    pub referenced_blobs: u64,
    /// Blob files no metadata refers to (harmless; removed by garbage collection).
    pub orphan_blobs: u64,
    /// Blobs whose content was read back and hashed.
    pub verified_blobs: u64,
}

/// Where the committer sends the outcome of a mutation group.
type GroupReply = oneshot::Sender<Result<Vec<Applied>, Error>>;

enum Job {
    Apply {
        group: Vec<Mutation>,
        reply: GroupReply,
    },
    CollectUnreferenced {
        cutoff: Timestamp,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    DeleteOrphans {
        candidates: Vec<(OrgId, ContentHash)>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    Close,
}

/// The storage engine of one data directory. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    nodes: Arc<NodeCache>,
    listings: Arc<ListingCache>,
    contents: Arc<ContentCache>,
    jobs: mpsc::Sender<Job>,
    /// Becomes `true` once the committer has stopped and released the data directory.
    closed: watch::Receiver<bool>,
    /// Counts committed batches.
    commits: Arc<watch::Sender<u64>>,
    options: StoreOptions,
}

/// An exclusive lock on a data directory, held for the life of the committer.
#[derive(Debug)]
struct DirectoryLock {
    _file: std::fs::File,
}

impl Store {
    /// A store over backends built elsewhere (a backend crate): caches, the group-commit
    /// committer and garbage collection are the same above every backend. Call within a
    /// Tokio runtime.
    pub fn with_backends(
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        options: StoreOptions,
    ) -> Store {
        Self::assemble(meta, blobs, None, options)
    }

    /// Opens the data directory `dir` (creating it if needed) with SQLite metadata and local
    /// blobs. Fails if another process has it open.
    pub async fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        prepare_directory(dir)?;
        let lock = lock_directory(dir, options.lock_timeout).await?;
        let meta = SqliteMetadataStore::open(&dir.join("meta.db")).await?;
        let blobs = LocalBlobStore::open(&dir.join("blobs"))?;
        Ok(Self::assemble(
            Arc::new(meta),
            Arc::new(blobs),
            Some(lock),
            options,
        ))
    }

    fn assemble(
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        lock: Option<DirectoryLock>,
        options: StoreOptions,
    ) -> Store {
        let nodes = Arc::new(NodeCache::new(options.node_cache_entries));
        let listings = Arc::new(ListingCache::new(options.listing_cache_entries));
        let contents = Arc::new(ContentCache::new(
            options.content_cache_bytes,
            options.content_cache_max_entry,
        ));
        let (jobs, receiver) = mpsc::channel(1024);
        let (closed_sender, closed) = watch::channel(false);
        let commits = Arc::new(watch::Sender::new(0));
        let committer = Committer {
            commits: commits.clone(),
            meta: meta.clone(),
            blobs: blobs.clone(),
            nodes: nodes.clone(),
            listings: listings.clone(),
            contents: contents.clone(),
            max_batch: options.max_batch.max(1),
            poisoned: None,
            lock,
            closed: closed_sender,
        };
        tokio::spawn(committer.run(receiver));
        Store {
            inner: Arc::new(Inner {
                meta,
                blobs,
                nodes,
                listings,
                contents,
                jobs,
                closed,
                commits,
                options,
            }),
        }
    }

    /// Whether the store has been closed (its committer stopped).
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// The node at `path`: stored, or one of the fixed directories `/` and `/orgs`.
    pub async fn node(&self, path: &VfsPath) -> Result<Option<Node>, StoreError> {
        if path.is_fixed() {
            return Ok(Some(Node::virtual_directory(path.clone())));
        }
        if let Some(node) = self.inner.nodes.get(path) {
            return Ok(Some(node));
        }
        let generation = self.inner.nodes.generation(path);
        let node = self.inner.meta.node(path).await?;
        if let Some(node) = &node {
            self.inner.nodes.fill(node.clone(), generation);
        }
        Ok(node)
    }

    /// Nodes beneath a directory in path order (see [`ListQuery`]). `/` lists `/orgs`.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Node>, StoreError> {
        if !query.dir.is_root() {
            if query.recursive {
                return self.inner.meta.list(query).await;
            }
            return self.list_children(query).await;
        }
        let orgs = VfsPath::orgs_root();
        let mut nodes = Vec::new();
        if query.after.as_ref().is_none_or(|after| *after < orgs) && query.limit > 0 {
            nodes.push(Node::virtual_directory(orgs.clone()));
        }
        if query.recursive {
            let rest = ListQuery {
                dir: orgs,
                recursive: true,
                after: query.after.clone(),
                limit: query.limit.saturating_sub(nodes.len()),
            };
            nodes.extend(self.inner.meta.list(&rest).await?);
        }
        Ok(nodes)
    }

    /// Direct children, served from a cached complete listing when there is one. A query that
    /// returns a whole directory (first page, shorter than the limit) fills the cache.
    async fn list_children(&self, query: &ListQuery) -> Result<Vec<Node>, StoreError> {
        let listings = &self.inner.listings;
        if let Some(listing) = listings.get(&query.dir) {
            let start = query.after.as_ref().map_or(0, |after| {
                listing.partition_point(|node| node.path <= *after)
            });
            return Ok(listing
                .iter()
                .skip(start)
                .take(query.limit)
                .cloned()
                .collect());
        }
        let generation = listings.generation(&query.dir);
        let page = self.inner.meta.list(query).await?;
        if query.after.is_none() && page.len() < query.limit {
            listings.fill(query.dir.clone(), page.clone(), generation);
        }
        Ok(page)
    }

    /// The whole current content of a file, verified against its hash.
    pub async fn read(&self, file: &Node) -> Result<Bytes, StoreError> {
        let (org, hash) = file_blob(file)?;
        self.read_blob(org, hash).await
    }

    /// Bytes `range` of a file's current content (clamped to its size).
    pub async fn read_range(
        &self,
        file: &Node,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, StoreError> {
        let (org, hash) = file_blob(file)?;
        let end = range.end.min(file.size);
        let start = range.start.min(end);
        if let Some(content) = self.inner.contents.get(org, hash) {
            let slice = usize::try_from(start).unwrap_or(usize::MAX)
                ..usize::try_from(end).unwrap_or(usize::MAX);
            return Ok(content.slice(slice));
        }
        self.inner.blobs.get_range(org, hash, start..end).await
    }

    /// The content of a stored version, verified against its hash.
    pub async fn read_version(&self, version: &VersionRecord) -> Result<Bytes, StoreError> {
        self.read_blob(&version.org, &version.hash).await
    }

    async fn read_blob(&self, org: &OrgId, hash: &ContentHash) -> Result<Bytes, StoreError> {
        if let Some(content) = self.inner.contents.get(org, hash) {
            return Ok(content);
        }
        let content = self.inner.blobs.get(org, hash).await?;
        if ContentHash::of(&content) != *hash {
            return Err(StoreError::Corrupt {
                org: org.to_string(),
                hash: hash.to_hex(),
            });
        }
        self.inner.contents.insert(org, *hash, &content);
        Ok(content)
    }

    /// All stored versions of a file, newest first.
    pub async fn versions(&self, file: &Node) -> Result<Vec<VersionRecord>, StoreError> {
        self.inner.meta.versions(file.id).await
    }

    /// One stored version of a file.
    pub async fn version(
        &self,
        file: &Node,
        version: u64,
    ) -> Result<Option<VersionRecord>, StoreError> {
        self.inner.meta.version(file.id, version).await
    }

    /// An organization's version policy.
    pub async fn version_policy(&self, org: &OrgId) -> Result<VersionPolicy, StoreError> {
        self.inner.meta.version_policy(org).await
    }

    /// Creates or overwrites a file; returns the file as committed.
    pub async fn write(&self, request: WriteRequest) -> Result<Node, Error> {
        // Refuse what is certain to fail before storing any content for it.
        if let Some(existing) = self.node(&request.path).await? {
            if existing.is_dir() {
                return Err(Rejection::IsADirectory { path: request.path }.into());
            }
            if let Precondition::IfMatch(tag) = &request.precondition
                && tag != "*"
                && *tag != existing.etag()
            {
                return Err(Rejection::PreconditionFailed {
                    path: request.path,
                    current_etag: Some(existing.etag()),
                }
                .into());
            }
            if request.precondition == Precondition::IfNoneMatch {
                return Err(Rejection::PreconditionFailed {
                    path: request.path,
                    current_etag: Some(existing.etag()),
                }
                .into());
            }
        }
        let hash = hash_content(&request.content).await?;
        let blob = BlobRef {
            org: request.org.clone(),
            hash,
            size: u64::try_from(request.content.len()).unwrap_or(u64::MAX),
        };
        let mut attempt = 1;
        loop {
            self.inner
                .blobs
                .put(&request.org, &hash, request.content.clone())
                .await?;
            let mutation = Mutation::WriteFile {
                org: request.org.clone(),
                path: request.path.clone(),
                blob: blob.clone(),
                precondition: request.precondition.clone(),
                create_parents: request.create_parents,
                author: request.author.clone(),
                at: request.at,
            };
            match self.apply(mutation).await {
                Err(Error::Rejected(Rejection::BlobMissing { .. })) if attempt < WRITE_ATTEMPTS => {
                    attempt += 1;
                }
                Ok(applied) => {
                    if request.content.len() <= self.inner.options.content_cache_max_entry {
                        self.inner
                            .contents
                            .insert(&request.org, hash, &request.content);
                    }
                    return applied.node.ok_or_else(|| {
                        StoreError::InvalidData {
                            message: "a write committed without a node".to_owned(),
                        }
                        .into()
                    });
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Commits one mutation (batched with concurrent ones) and returns what it did.
    pub async fn apply(&self, mutation: Mutation) -> Result<Applied, Error> {
        let mut applied = self.apply_group(vec![mutation]).await?;
        applied.pop().ok_or_else(|| {
            StoreError::InvalidData {
                message: "a mutation committed without a result".to_owned(),
            }
            .into()
        })
    }

    /// Commits mutations that take effect together or not at all (e.g. removing a
    /// directory and the relationships on it). Returns one result per mutation.
    pub async fn apply_group(&self, group: Vec<Mutation>) -> Result<Vec<Applied>, Error> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .send(Job::Apply { group, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Every registered principal and API key.
    pub async fn load_accounts(&self) -> Result<crate::meta::AccountsSnapshot, StoreError> {
        self.inner.meta.load_accounts().await
    }

    /// Audit entries matching `query`, oldest first.
    pub async fn audit(
        &self,
        query: &crate::meta::AuditQuery,
    ) -> Result<Vec<crate::meta::AuditRecord>, StoreError> {
        self.inner.meta.audit(query).await
    }

    /// One organization's changes after `query.after`, oldest first.
    pub async fn file_changes(
        &self,
        query: &crate::meta::ChangeQuery,
    ) -> Result<Vec<crate::meta::ChangeRecord>, StoreError> {
        self.inner.meta.file_changes(query).await
    }

    /// Changes (to a count) after every batch that commits: a change feed's stream waits on
    /// it, then reads.
    pub fn subscribe_commits(&self) -> watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    /// One-time tasks the store's migrations left for the services (see
    /// [`crate::meta::MetadataStore::pending_tasks`]).
    pub async fn pending_tasks(&self) -> Result<Vec<String>, StoreError> {
        self.inner.meta.pending_tasks().await
    }

    /// The reminder schedule of one organization, by path.
    pub async fn org_reminders(
        &self,
        org: &OrgId,
    ) -> Result<Vec<crate::meta::ScheduledReminder>, StoreError> {
        self.inner.meta.org_reminders(org).await
    }

    /// Stores `content` as a blob of `org` unless it is there already (content-addressed:
    /// its name is its hash). It stays unreferenced, and garbage collection removes it after
    /// the grace period, until a committed mutation refers to it.
    pub async fn put_blob(&self, org: &OrgId, content: Bytes) -> Result<BlobRef, StoreError> {
        let hash = hash_content(&content).await?;
        let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
        self.inner.blobs.put(org, &hash, content).await?;
        Ok(BlobRef {
            org: org.clone(),
            hash,
            size,
        })
    }

    /// The content of blob `hash` of `org`, verified against its hash.
    pub async fn blob(&self, org: &OrgId, hash: &ContentHash) -> Result<Bytes, StoreError> {
        self.read_blob(org, hash).await
    }

    /// Reminders scheduled to fire at or before `until`, earliest first.
    pub async fn due_reminders(
        &self,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<crate::meta::ScheduledReminder>, StoreError> {
        self.inner.meta.due_reminders(until, limit).await
    }

    /// One feed's notifications, oldest first.
    pub async fn notifications(
        &self,
        query: &crate::meta::NotificationQuery,
    ) -> Result<Vec<crate::meta::NotificationRecord>, StoreError> {
        self.inner.meta.notifications(query).await
    }

    /// Every organization's wrapped locker data key.
    pub async fn load_locker_keys(&self) -> Result<Vec<crate::meta::LockerKeyRecord>, StoreError> {
        self.inner.meta.load_locker_keys().await
    }

    /// Stores `content` as a blob of `org` and returns the mutation that writes it to `path`,
    /// for committing together with other mutations (see [`Store::apply_group`]).
    pub async fn stage_write(&self, request: WriteRequest) -> Result<Mutation, Error> {
        let blob = self.put_blob(&request.org, request.content).await?;
        Ok(Mutation::WriteFile {
            org: request.org,
            path: request.path,
            blob,
            precondition: request.precondition,
            create_parents: request.create_parents,
            author: request.author,
            at: request.at,
        })
    }

    /// The persisted authorization state.
    pub async fn load_authorization(
        &self,
    ) -> Result<crate::meta::AuthorizationSnapshot, StoreError> {
        self.inner.meta.load_authorization().await
    }

    /// This node's turn at changing relationships (see
    /// [`MetadataStore::relationship_turn`]).
    pub async fn relationship_turn(
        &self,
    ) -> Result<Option<Box<dyn crate::meta::Turn>>, StoreError> {
        self.inner.meta.relationship_turn().await
    }

    /// Drops cached metadata (nodes, listings) when another process sharing the database
    /// committed since the last call, and wakes whoever waits for commits; returns whether
    /// it did. Content is cached by hash and never goes stale.
    pub async fn follow_others(&self) -> Result<bool, StoreError> {
        let others = self.inner.meta.others_committed().await?;
        if others {
            self.inner.nodes.clear();
            self.inner.listings.clear();
            // Whoever waits for commits (change streams, indexers) looks again.
            self.inner
                .commits
                .send_modify(|count| *count = count.wrapping_add(1));
        }
        Ok(others)
    }

    /// See [`MetadataStore::hold_lease`].
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.meta.hold_lease(name, holder, ttl).await
    }

    /// See [`MetadataStore::accounts_version`].
    pub async fn accounts_version(&self) -> Result<Option<u64>, StoreError> {
        self.inner.meta.accounts_version().await
    }

    /// The stored authorization revision (see [`MetadataStore::authorization_revision`]).
    pub async fn authorization_revision(&self) -> Result<u64, StoreError> {
        self.inner.meta.authorization_revision().await
    }

    /// Relationship changes committed after `revision`.
    pub async fn relationship_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::meta::RecordedChange>, StoreError> {
        self.inner.meta.relationship_changes(after, limit).await
    }

    /// Deletes blobs unreferenced since before `cutoff`, orphan blobs older than `cutoff` and
    /// leftovers of interrupted uploads older than `cutoff`.
    pub async fn collect_garbage(&self, cutoff: Timestamp) -> Result<GcReport, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::CollectUnreferenced { cutoff, reply })
            .await?;
        let unreferenced = answer.await.map_err(|_| StoreError::Closed)??;

        let mut candidates = Vec::new();
        for blob in self.inner.blobs.list().await? {
            if blob.modified < cutoff && !self.inner.meta.blob_known(&blob.org, &blob.hash).await? {
                candidates.push((blob.org, blob.hash));
            }
        }
        let (reply, answer) = oneshot::channel();
        self.send(Job::DeleteOrphans { candidates, reply }).await?;
        let orphans = answer.await.map_err(|_| StoreError::Closed)??;

        let interrupted = self
            .inner
            .blobs
            .sweep_interrupted(system_time(cutoff))
            .await?;
        Ok(GcReport {
            unreferenced,
            orphans,
            interrupted,
        })
    }

    /// The default garbage collection cutoff: now minus the grace period.
    pub fn gc_cutoff(&self) -> Timestamp {
        Timestamp::now().minus(self.inner.options.gc_grace)
    }

    /// Checks the store: database integrity, reference counts, and that every referenced blob
    /// exists with the recorded size (and, with `verify_content`, the recorded hash).
    pub async fn check(&self, verify_content: bool) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport {
            problems: self.inner.meta.check().await?.problems,
            ..CheckReport::default()
        };
        let files: std::collections::HashMap<(OrgId, ContentHash), u64> = self
            .inner
            .blobs
            .list()
            .await?
            .into_iter()
            .map(|blob| ((blob.org, blob.hash), blob.size))
            .collect();
        let rows = self.inner.meta.blob_rows().await?;
        let known: std::collections::HashSet<(OrgId, ContentHash)> =
            rows.iter().map(|row| (row.org.clone(), row.hash)).collect();
        report.orphan_blobs =
            u64::try_from(files.keys().filter(|key| !known.contains(*key)).count())
                .unwrap_or(u64::MAX);
        for row in rows.iter().filter(|row| row.refcount > 0) {
            report.referenced_blobs += 1;
            match files.get(&(row.org.clone(), row.hash)) {
                None => report.problems.push(format!(
                    "blob `{}` of `{}` is referenced but missing",
                    row.hash, row.org
                )),
                Some(size) if *size != row.size => report.problems.push(format!(
                    "blob `{}` of `{}` has {size} bytes, {} expected",
                    row.hash, row.org, row.size
                )),
                Some(_) if verify_content => {
                    report.verified_blobs += 1;
                    let content = self.inner.blobs.get(&row.org, &row.hash).await?;
                    if ContentHash::of(&content) != row.hash {
                        report
                            .problems
                            .push(format!("blob `{}` of `{}` is corrupt", row.hash, row.org));
                    }
                }
                Some(_) => {}
            }
        }
        Ok(report)
    }

    /// Finishes queued commits, stops the committer and releases the data directory. Returns
    /// once the directory is released, also when another caller closed the store first.
    pub async fn close(&self) {
        // A failed send means the committer is already closing; wait for it all the same.
        let _ = self.send(Job::Close).await;
        let mut closed = self.inner.closed.clone();
        // An error means the committer is gone, which also means the lock is released.
        let _ = closed.wait_for(|closed| *closed).await;
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)
    }
}

fn file_blob(file: &Node) -> Result<(&OrgId, &ContentHash), StoreError> {
    match (&file.org, &file.hash) {
        (Some(org), Some(hash)) => Ok((org, hash)),
        _ => Err(StoreError::InvalidData {
            message: format!("`{}` has no content", file.path),
        }),
    }
}

async fn hash_content(content: &Bytes) -> Result<ContentHash, StoreError> {
    if content.len() <= INLINE_HASH_LIMIT {
        return Ok(ContentHash::of(content));
    }
    let content = content.clone();
    tokio::task::spawn_blocking(move || ContentHash::of(&content))
        .await
        .map_err(|error| StoreError::InvalidData {
            message: format!("hashing failed: {error}"),
        })
}

/// Creates the directory, or checks that an existing one is a data directory (or empty).
fn prepare_directory(dir: &Path) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let marker = dir.join(MARKER_FILE);
    if marker.exists() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
    if !empty {
        return Err(StoreError::InvalidData {
            message: format!(
                "`{}` is not a nexus data directory: it is not empty and has no `{MARKER_FILE}`",
                dir.display()
            ),
        });
    }
    std::fs::write(&marker, MARKER_CONTENT).map_err(io(&marker))?;
    std::fs::File::open(&marker)
        .and_then(|file| file.sync_all())
        .map_err(io(&marker))?;
    std::fs::File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

async fn lock_directory(dir: &Path, timeout: Duration) -> Result<DirectoryLock, StoreError> {
    let path: PathBuf = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(DirectoryLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// The single task that commits mutations and deletes blobs.
struct Committer {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    nodes: Arc<NodeCache>,
    listings: Arc<ListingCache>,
    contents: Arc<ContentCache>,
    max_batch: usize,
    /// Set after a commit failed: the database state is unknown, so writes stop (fail-stop).
    poisoned: Option<String>,
    /// Released before `close` answers, so the directory can be reopened at once.
    lock: Option<DirectoryLock>,
    /// Set once the directory is released (see `Store::close`).
    closed: watch::Sender<bool>,
    /// Counts committed batches (see `Store::subscribe_commits`).
    commits: Arc<watch::Sender<u64>>,
}

impl Committer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Job>) {
        let mut jobs = Vec::with_capacity(self.max_batch);
        loop {
            if receiver.recv_many(&mut jobs, self.max_batch).await == 0 {
                break;
            }
            let mut batch = Vec::new();
            let mut closing = false;
            for job in jobs.drain(..) {
                match job {
                    Job::Apply { group, reply } => batch.push((group, reply)),
                    Job::CollectUnreferenced { cutoff, reply } => {
                        self.commit(std::mem::take(&mut batch)).await;
                        let _ = reply.send(self.collect_unreferenced(cutoff).await);
                    }
                    Job::DeleteOrphans { candidates, reply } => {
                        self.commit(std::mem::take(&mut batch)).await;
                        let _ = reply.send(self.delete_orphans(candidates).await);
                    }
                    Job::Close => closing = true,
                }
            }
            self.commit(batch).await;
            if closing {
                receiver.close();
                // Writes already queued still commit. Maintenance jobs queued after a close
                // are dropped (their callers see the store closed).
                while let Ok(job) = receiver.try_recv() {
                    if let Job::Apply { group, reply } = job {
                        self.commit(vec![(group, reply)]).await;
                    }
                }
                self.meta.close().await;
                drop(self.lock.take());
                // Every `close` caller waits for this.
                self.closed.send_replace(true);
                break;
            }
        }
    }

    async fn commit(&mut self, batch: Vec<(Vec<Mutation>, GroupReply)>) {
        if batch.is_empty() {
            return;
        }
        if let Some(message) = &self.poisoned {
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Poisoned {
                    message: message.clone(),
                }
                .into()));
            }
            return;
        }
        // A new blob must exist now; collection runs on this task, so it cannot vanish
        // between this check and the commit.
        let checks = futures::future::join_all(batch.iter().map(|(group, _)| async {
            let mut checked = std::collections::HashSet::new();
            for blob in group.iter().flat_map(Mutation::new_blobs) {
                if checked.insert((&blob.org, blob.hash))
                    && !self.blobs.exists(&blob.org, &blob.hash).await?
                {
                    return Ok(false);
                }
            }
            Ok::<bool, StoreError>(true)
        }))
        .await;
        let mut admitted = Vec::with_capacity(batch.len());
        for ((group, reply), present) in batch.into_iter().zip(checks) {
            match present {
                Ok(true) => admitted.push((group, reply)),
                Ok(false) => {
                    let path = group
                        .iter()
                        .find_map(Mutation::path)
                        .cloned()
                        .unwrap_or_else(VfsPath::root);
                    let _ = reply.send(Err(Rejection::BlobMissing { path }.into()));
                }
                Err(error) => {
                    let _ = reply.send(Err(error.into()));
                }
            }
        }
        let groups: Vec<Vec<Mutation>> = admitted.iter().map(|(group, _)| group.clone()).collect();
        let results = match self.meta.apply(&groups).await {
            Ok(results) => results,
            Err(error) if error.is_unavailable() => {
                // The database is out of reach (a remote backend): nothing is acknowledged,
                // and the store stays open for when it is back. If the connection broke
                // while committing, the batch may have committed: forget cached metadata.
                tracing::warn!(%error, "commit failed: the metadata database is unavailable");
                self.nodes.clear();
                self.listings.clear();
                for (_, reply) in admitted {
                    let _ = reply.send(Err(StoreError::Unavailable {
                        what: "the metadata database",
                        source: error.to_string().into(),
                    }
                    .into()));
                }
                return;
            }
            Err(error) => {
                tracing::error!(%error, "commit failed; refusing further writes");
                self.poisoned = Some(error.to_string());
                self.nodes.clear();
                self.listings.clear();
                for (_, reply) in admitted {
                    let _ = reply.send(Err(StoreError::Poisoned {
                        message: error.to_string(),
                    }
                    .into()));
                }
                return;
            }
        };
        for ((group, reply), result) in admitted.into_iter().zip(results) {
            if let Ok(applied) = &result {
                for applied in applied {
                    self.invalidate(applied);
                }
            } else if self.lock.is_some() {
                // Only a store this process has alone deletes the content a refused write
                // brought: on a shared one, another node may have checked that the same
                // content exists and be about to commit a reference to it.
                let mut discarded = std::collections::HashSet::new();
                for blob in group.iter().flat_map(Mutation::new_blobs) {
                    if discarded.insert((&blob.org, blob.hash)) {
                        self.discard_if_unknown(blob).await;
                    }
                }
            }
            let _ = reply.send(result.map_err(Error::from));
        }
        self.commits
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Drops cached metadata and listings a committed mutation changed.
    fn invalidate(&self, applied: &Applied) {
        if applied.changed_subtrees.is_empty() {
            for path in &applied.changed {
                self.nodes.invalidate(path);
                if let Some(parent) = path.parent() {
                    self.listings.invalidate(&parent);
                }
            }
        } else {
            self.nodes.clear();
            self.listings.clear();
        }
    }

    /// Refuses deleting content from a store that other processes share (see
    /// docs/scale-out.md: collection across nodes needs the existence check of a write and
    /// the deletion to exclude each other through the database).
    fn exclusive(&self) -> Result<(), StoreError> {
        if self.lock.is_some() {
            Ok(())
        } else {
            Err(StoreError::InvalidData {
                message: "garbage collection is not available on a store shared by several nodes in this version".to_owned(),
            })
        }
    }

    /// Deletes a blob that a refused mutation uploaded, unless metadata refers to it.
    async fn discard_if_unknown(&self, blob: &BlobRef) {
        match self.meta.blob_known(&blob.org, &blob.hash).await {
            Ok(false) => {
                if let Err(error) = self.blobs.delete(&blob.org, &blob.hash).await {
                    tracing::warn!(%error, "could not delete the blob of a refused write; garbage collection will");
                }
            }
            Ok(true) => {}
            Err(error) => tracing::warn!(%error, "could not check a refused write's blob"),
        }
    }

    async fn collect_unreferenced(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        self.exclusive()?;
        let mut total = 0;
        loop {
            let collected = self.meta.collect_unreferenced(cutoff, 1000).await?;
            if collected.is_empty() {
                return Ok(total);
            }
            for (org, hash) in &collected {
                // A crash between the metadata commit above and this delete leaves an orphan
                // blob, which the orphan pass removes later.
                self.blobs.delete(org, hash).await?;
                self.contents.remove(org, hash);
                total += 1;
            }
        }
    }

    async fn delete_orphans(
        &self,
        candidates: Vec<(OrgId, ContentHash)>,
    ) -> Result<u64, StoreError> {
        self.exclusive()?;
        let mut deleted = 0;
        for (org, hash) in candidates {
            if !self.meta.blob_known(&org, &hash).await? {
                self.blobs.delete(&org, &hash).await?;
                self.contents.remove(&org, &hash);
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Committer").finish_non_exhaustive()
    }
}

/// A [`Timestamp`] as a [`SystemTime`] (the epoch for negative timestamps).
fn system_time(timestamp: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(timestamp.as_micros()).unwrap_or(0))
}
