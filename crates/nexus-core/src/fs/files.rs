//! The files service: every file operation, taking the acting [`CallContext`].
//!
//! Each operation canonicalizes its paths with [`VfsPath::parse`], checks that the paths lie
//! in an organization the context covers, asks the authorizer, then reads the [`Store`] or
//! commits through the unit of work.

use bytes::Bytes;
use nexus_path::{Location, OrgId, VfsPath};
use nexus_store::{
    ListQuery, Mutation, Node, Precondition, Timestamp, VersionPolicy, WriteRequest,
};

use super::{Files, Fs, Scope, cursor};
use crate::authz::{self, Permission};
use crate::entry::{Entry, ListPage, RemoveResult, VersionInfo};
use crate::error::FsError;
use crate::principal::{CallContext, Tenant};

/// Default page size of [`Files::ls`].
pub const DEFAULT_PAGE_SIZE: usize = 1000;
/// Largest page size of [`Files::ls`].
pub const MAX_PAGE_SIZE: usize = 10_000;

/// A byte range of a file. Ends are resolved against the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// From `start` (inclusive) to `end` (exclusive), clamped to the size.
    Span { start: u64, end: u64 },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Last(u64),
}

impl ByteRange {
    /// Parses `START-END` (inclusive, as in HTTP), `START-` or `-LAST`.
    pub fn parse(text: &str) -> Result<Self, FsError> {
        let invalid = || {
            FsError::invalid(format!(
                "invalid byte range `{text}`: use `START-END` (inclusive), `START-` or `-LAST`"
            ))
        };
        let (start, end) = text.split_once('-').ok_or_else(invalid)?;
        let number = |digits: &str| digits.parse::<u64>().map_err(|_| invalid());
        match (start.is_empty(), end.is_empty()) {
            (true, true) => Err(invalid()),
            (true, false) => Ok(ByteRange::Last(number(end)?)),
            (false, true) => Ok(ByteRange::From(number(start)?)),
            (false, false) => {
                let (start, last) = (number(start)?, number(end)?);
                if last < start {
                    return Err(invalid());
                }
                Ok(ByteRange::Span {
                    start,
                    end: last.saturating_add(1),
                })
            }
        }
    }

    /// The half-open span within a file of `size` bytes, or `None` if it selects nothing
    /// that exists.
    fn resolve(self, size: u64) -> Option<(u64, u64)> {
        let (start, end) = match self {
            ByteRange::Span { start, end } => (start, end.min(size)),
            ByteRange::From(start) => (start, size),
            ByteRange::Last(count) => (size.saturating_sub(count), size),
        };
        // Nothing of an empty file can be selected: any range of it is unsatisfiable.
        if start >= size {
            return None;
        }
        Some((start, end))
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteRange::Span { start, end } => {
                write!(formatter, "{start}-{}", end.saturating_sub(1))
            }
            ByteRange::From(start) => write!(formatter, "{start}-"),
            ByteRange::Last(count) => write!(formatter, "-{count}"),
        }
    }
}

/// Options of [`Files::read`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    pub range: Option<ByteRange>,
    /// Read this stored version instead of the current one.
    pub version: Option<u64>,
}

/// What [`Files::read`] returns.
#[derive(Debug, Clone)]
pub struct ReadOutput {
    /// The file (as of the version read).
    pub entry: Entry,
    pub content: Bytes,
    /// The half-open byte span returned, when a range was asked for.
    pub range: Option<(u64, u64)>,
}

/// Options of [`Files::write`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Only write if the file's current etag is this one (`*`: if the file exists).
    pub if_match: Option<String>,
    /// Only write if the file does not exist.
    pub if_none_match: bool,
    /// Create missing parent directories.
    pub create_parents: bool,
}

/// Options of [`Files::ls`].
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// All descendants, in path order, instead of direct children.
    pub recursive: bool,
    /// Page size ([`DEFAULT_PAGE_SIZE`] when unset; at most [`MAX_PAGE_SIZE`]).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Files<'_> {
    /// Metadata of a file or directory.
    pub async fn stat(self, context: &CallContext, path: &str) -> Result<Entry, FsError> {
        let (path, _) = Fs::resolve(context, path)?;
        let Some(node) = self.store.node(&path).await? else {
            // Missing either way; but say so only to a caller who may see the parent.
            self.authorize(context, &path, Permission::Read)?;
            return Err(nexus_store::Rejection::NotFound { path }.into());
        };
        self.authorize_view(context, &node)?;
        Ok(self.show(crate::entry::entry_of(&node)))
    }

    /// Whether a file or directory exists.
    pub async fn exists(self, context: &CallContext, path: &str) -> Result<bool, FsError> {
        match self.stat(context, path).await {
            Ok(_) => Ok(true),
            Err(error) if error.code() == crate::ErrorCode::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Content of a file: whole or a byte range, current or an old version.
    pub async fn read(
        self,
        context: &CallContext,
        path: &str,
        options: ReadOptions,
    ) -> Result<ReadOutput, FsError> {
        let (path, _) = Fs::resolve(context, path)?;
        self.authorize(context, &path, Permission::Read)?;
        let file = self.file(&path).await?;
        self.audit_private_file(
            context,
            &path,
            options
                .version
                .map_or("private_read", |_| "private_read_version"),
        )
        .await?;
        if let Some(number) = options.version.filter(|number| *number != file.version) {
            return self
                .read_old_version(&path, &file, number, options.range)
                .await;
        }
        let entry = self.show(crate::entry::entry_of(&file));
        match options.range {
            None => Ok(ReadOutput {
                entry,
                content: self.store.read(&file).await?,
                range: None,
            }),
            Some(range) => {
                let (start, end) = resolve_range(&path, range, file.size)?;
                Ok(ReadOutput {
                    entry,
                    content: self.store.read_range(&file, start..end).await?,
                    range: Some((start, end)),
                })
            }
        }
    }

    async fn read_old_version(
        self,
        path: &VfsPath,
        file: &Node,
        number: u64,
        range: Option<ByteRange>,
    ) -> Result<ReadOutput, FsError> {
        let record = self.store.version(file, number).await?.ok_or_else(|| {
            nexus_store::Rejection::VersionNotFound {
                path: path.clone(),
                version: number,
            }
        })?;
        let info = self.show_version(crate::entry::version_info(&record, file.version));
        let entry = Entry {
            size: info.size,
            version: info.version,
            etag: Some(info.etag),
            hash: Some(info.hash),
            modified_at: info.created_at,
            author: info.author,
            ..crate::entry::entry_of(file)
        };
        let content = self.store.read_version(&record).await?;
        let Some(range) = range else {
            return Ok(ReadOutput {
                entry,
                content,
                range: None,
            });
        };
        let (start, end) = resolve_range(path, range, record.size)?;
        Ok(ReadOutput {
            entry,
            content: content.slice(to_index(start)..to_index(end)),
            range: Some((start, end)),
        })
    }

    /// Creates or overwrites a file. Returns the new metadata once it is durable.
    pub async fn write(
        self,
        context: &CallContext,
        path: &str,
        content: Bytes,
        options: WriteOptions,
    ) -> Result<Entry, FsError> {
        let (path, org) = Fs::resolve_mutable(context, path)?;
        Fs::refuse_items_tree(&path)?;
        self.authorize(context, &path, Permission::Write)?;
        let is_record = Fs::is_org_record(&path);
        Fs::refuse_beneath_record(&path)?;
        let precondition = match (options.if_match, options.if_none_match) {
            (Some(_), true) => {
                return Err(FsError::invalid(
                    "`if-match` and `if-none-match` cannot be combined",
                ));
            }
            (Some(tag), false) => Precondition::IfMatch(normalize_etag(&tag)?),
            (None, true) => Precondition::IfNoneMatch,
            (None, false) => Precondition::None,
        };
        if is_record {
            return self
                .orgs()
                .write_org_record(context, &org, content, precondition)
                .await;
        }
        let node = self
            .store
            .write(WriteRequest {
                org,
                path,
                content,
                precondition,
                create_parents: options.create_parents,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        Ok(self.show(crate::entry::entry_of(&node)))
    }

    /// Creates a directory; with `parents`, also missing ancestors, and an existing
    /// directory is not an error.
    pub async fn mkdir(
        self,
        context: &CallContext,
        path: &str,
        parents: bool,
    ) -> Result<Entry, FsError> {
        let (path, scope) = Fs::resolve(context, path)?;
        // `/` and `/orgs` always exist: making them is a no-op, as the seed's scripts expect.
        let Scope::Org(org) = scope else {
            let node = self.existing(&path).await?;
            return Ok(crate::entry::entry_of(&node));
        };
        Fs::refuse_record_change(&path, "made a directory")?;
        Fs::refuse_items_tree(&path)?;
        self.authorize(context, &path, Permission::Write)?;
        let applied = self
            .store
            .apply(Mutation::CreateDirectory {
                org,
                path,
                parents,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        self.applied_entry(applied)
    }

    /// Removes a file or an empty directory; with `recursive`, a directory and everything
    /// beneath it.
    pub async fn rm(
        self,
        context: &CallContext,
        path: &str,
        recursive: bool,
    ) -> Result<RemoveResult, FsError> {
        let (checked, _) = Fs::resolve(context, path)?;
        Fs::refuse_items_tree(&checked)?;
        self.remove_path(context, path, recursive, None).await
    }

    /// [`Files::rm`], only if the file's etag is still `if_match` (checked in the transaction).
    pub(crate) async fn remove_path(
        self,
        context: &CallContext,
        path: &str,
        recursive: bool,
        if_match: Option<String>,
    ) -> Result<RemoveResult, FsError> {
        let (path, org) = Fs::resolve_mutable(context, path)?;
        Fs::refuse_record_change(&path, "removed")?;
        if matches!(path.location(), Ok(Location::OrgRoot(_))) {
            return Err(FsError::invalid(format!(
                "`{path}` is an organization root and cannot be removed"
            )));
        }
        let structure = self.layout.is_structure(&path);
        if structure {
            self.authorize(context, &path, Permission::Manage)?;
        }
        if recursive {
            self.authorize_subtree(context, &path, Permission::Write)
                .await?;
        } else {
            self.authorize(context, &path, Permission::Write)?;
        }
        let remove = Mutation::Remove {
            org: org.clone(),
            path: path.clone(),
            recursive,
            if_match,
            author: context.principal.to_string(),
            at: Timestamp::now(),
        };
        let _membership = if structure {
            Some(self.membership.lock().await)
        } else {
            None
        };
        let keep = if structure {
            self.orgs().record_grants_within(&org, &path).await?
        } else {
            Vec::new()
        };
        let applied = self
            .commit
            .rekey_subtree(&path, None, &keep, vec![remove])
            .await?;
        Ok(RemoveResult {
            removed: applied.first().map_or(0, |applied| applied.removed),
        })
    }

    /// Renames a file or a directory with everything beneath it, atomically. `to` is the
    /// new path (not a directory to move into); with `overwrite`, a file at `to` is replaced.
    pub async fn mv(
        self,
        context: &CallContext,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<Entry, FsError> {
        let (from, org) = Fs::resolve_mutable(context, from)?;
        let (to, to_org) = Fs::resolve_mutable(context, to)?;
        Fs::refuse_items_tree(&to)?;
        Fs::refuse_items_tree(&from)?;
        check_same_org(&org, &to_org, &to)?;
        Fs::refuse_record_change(&from, "moved")?;
        Fs::refuse_record_change(&to, "replaced by a move")?;
        if matches!(from.location(), Ok(Location::OrgRoot(_))) {
            return Err(FsError::invalid(format!(
                "`{from}` is an organization root and cannot be moved"
            )));
        }
        let structure = self.layout.is_structure(&from);
        if structure {
            self.authorize(context, &from, Permission::Manage)?;
        }
        // A record's role grants stay where the record puts them, at either end of the move.
        let record_paths = structure || self.layout.is_structure(&to);
        self.authorize_subtree(context, &from, Permission::Write)
            .await?;
        self.authorize(context, &to, Permission::Write)?;
        let rename = Mutation::Move {
            org: org.clone(),
            from: from.clone(),
            to: to.clone(),
            overwrite,
            author: context.principal.to_string(),
            at: Timestamp::now(),
        };
        let _membership = if record_paths {
            Some(self.membership.lock().await)
        } else {
            None
        };
        let mut keep = Vec::new();
        if record_paths {
            keep.extend(self.orgs().record_grants_within(&org, &from).await?);
            keep.extend(self.orgs().record_grants_within(&org, &to).await?);
        }
        let applied = self
            .commit
            .rekey_subtree(&from, Some(&to), &keep, vec![rename])
            .await?;
        self.applied_entry(applied.into_iter().next().unwrap_or_default())
    }

    /// Copies a file, or with `recursive` a directory tree, to the new path `to`. Content is
    /// shared, not duplicated. With `overwrite`, a file at `to` gets a new version.
    pub async fn cp(
        self,
        context: &CallContext,
        from: &str,
        to: &str,
        recursive: bool,
        overwrite: bool,
    ) -> Result<Entry, FsError> {
        let (from, org) = Fs::resolve_mutable(context, from)?;
        let (to, to_org) = Fs::resolve_mutable(context, to)?;
        Fs::refuse_items_tree(&to)?;
        check_same_org(&org, &to_org, &to)?;
        Fs::refuse_record_change(&to, "replaced by a copy")?;
        self.authorize_subtree(context, &from, Permission::Read)
            .await?;
        self.authorize(context, &to, Permission::Write)?;
        let applied = self
            .store
            .apply(Mutation::Copy {
                org,
                from,
                to,
                recursive,
                overwrite,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        self.applied_entry(applied)
    }

    /// One page of a directory listing in name order (path order when recursive). Listing
    /// a file returns just that file.
    pub async fn ls(
        self,
        context: &CallContext,
        path: &str,
        options: ListOptions,
    ) -> Result<ListPage, FsError> {
        let (dir, scope) = Fs::resolve(context, path)?;
        let limit = options.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(FsError::invalid(format!(
                "invalid page size {limit}: use 1 to {MAX_PAGE_SIZE}"
            )));
        }
        let Some(node) = self.store.node(&dir).await? else {
            self.authorize(context, &dir, Permission::Read)?;
            return Err(nexus_store::Rejection::NotFound { path: dir }.into());
        };
        self.authorize_view(context, &node)?;
        if !node.is_dir() {
            if options.cursor.is_some() {
                return Err(FsError::invalid(
                    "invalid cursor: a file listing has one page",
                ));
            }
            return Ok(ListPage {
                entries: vec![self.show(crate::entry::entry_of(&node))],
                next_cursor: None,
            });
        }
        let mut after = options
            .cursor
            .as_deref()
            .map(|cursor| {
                cursor::decode(
                    self.authz.keys(),
                    &context.principal.to_string(),
                    cursor,
                    &dir,
                    options.recursive,
                )
            })
            .transpose()?;
        let visibility = self.authz.visibility(context)?;
        let batch = (limit + 1).max(64);
        let mut kept: Vec<Node> = Vec::with_capacity(limit + 1);
        loop {
            let nodes = match (&scope, &context.tenant) {
                // A caller bound to one organization sees only that organization under `/orgs`.
                (Scope::Fixed, Tenant::Org(org)) => {
                    self.fixed_listing_for(&dir, org, options.recursive, after.as_ref(), batch)
                        .await?
                }
                _ => {
                    self.store
                        .list(&ListQuery {
                            dir: dir.clone(),
                            recursive: options.recursive,
                            after: after.clone(),
                            limit: batch,
                        })
                        .await?
                }
            };
            let exhausted = nodes.len() < batch;
            after = nodes.last().map(|node| node.path.clone());
            self.keep_visible(context, &visibility, nodes, &mut kept, limit + 1)?;
            if kept.len() > limit || exhausted {
                break;
            }
        }
        let more = kept.len() > limit;
        kept.truncate(limit);
        let next_cursor = match kept.last() {
            Some(last) if more => Some(cursor::encode(
                self.authz.keys(),
                &context.principal.to_string(),
                &dir,
                options.recursive,
                &last.path,
            )),
            _ => None,
        };
        Ok(ListPage {
            entries: kept
                .iter()
                .map(|node| self.show(crate::entry::entry_of(node)))
                .collect(),
            next_cursor,
        })
    }

    /// Appends to `kept` (up to `cap`) the nodes the caller may see: files it can read,
    /// directories it can read or holds a grant beneath.
    fn keep_visible(
        self,
        context: &CallContext,
        visibility: &authz::Visibility,
        nodes: Vec<Node>,
        kept: &mut Vec<Node>,
        cap: usize,
    ) -> Result<(), FsError> {
        let engine = self.authz.engine();
        let Some(mut checker) = self.authz.checker(&engine, context)? else {
            kept.extend(nodes.into_iter().take(cap.saturating_sub(kept.len())));
            return Ok(());
        };
        for node in nodes {
            if kept.len() >= cap {
                break;
            }
            let visible = if node.is_dir() {
                visibility.is_visible_with(&mut checker, &node.path)
            } else {
                visibility.can_read_with(&mut checker, &node.path)
            };
            if visible {
                kept.push(node);
            }
        }
        Ok(())
    }

    /// The listing of `/` or `/orgs` as seen from inside organization `org`.
    async fn fixed_listing_for(
        self,
        dir: &VfsPath,
        org: &OrgId,
        recursive: bool,
        after: Option<&VfsPath>,
        limit: usize,
    ) -> Result<Vec<Node>, FsError> {
        let orgs_root = VfsPath::orgs_root();
        let org_root = VfsPath::org_root(org);
        let mut candidates = Vec::new();
        if dir.is_root() {
            candidates.push(self.existing(&orgs_root).await?);
        }
        if (recursive || dir == &orgs_root)
            && let Some(node) = self.store.node(&org_root).await?
        {
            candidates.push(node);
        }
        let mut nodes: Vec<Node> = candidates
            .into_iter()
            .filter(|node| after.is_none_or(|after| node.path > *after))
            .collect();
        if recursive && nodes.len() < limit {
            let rest_after = after.filter(|after| after.starts_with(&org_root)).cloned();
            let rest = self
                .store
                .list(&ListQuery {
                    dir: org_root,
                    recursive: true,
                    after: rest_after,
                    limit: limit - nodes.len(),
                })
                .await?;
            nodes.extend(rest);
        }
        nodes.truncate(limit);
        Ok(nodes)
    }

    /// Stored versions of a file, newest first.
    pub async fn versions(
        self,
        context: &CallContext,
        path: &str,
    ) -> Result<Vec<VersionInfo>, FsError> {
        let (path, _) = Fs::resolve(context, path)?;
        self.authorize(context, &path, Permission::Read)?;
        let file = self.file(&path).await?;
        let records = self.store.versions(&file).await?;
        Ok(records
            .iter()
            .map(|record| self.show_version(crate::entry::version_info(record, file.version)))
            .collect())
    }

    /// Makes an old version the current content (as a new version).
    pub async fn restore(
        self,
        context: &CallContext,
        path: &str,
        version: u64,
    ) -> Result<Entry, FsError> {
        let (path, org) = Fs::resolve_mutable(context, path)?;
        Fs::refuse_record_change(&path, "restored (read the old version and write it)")?;
        Fs::refuse_items_tree(&path)?;
        self.authorize(context, &path, Permission::Write)?;
        let applied = self
            .store
            .apply(Mutation::RestoreVersion {
                org,
                path,
                version,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        self.applied_entry(applied)
    }

    /// The version policy of an organization.
    pub async fn version_policy(
        self,
        context: &CallContext,
        org: &str,
    ) -> Result<VersionPolicy, FsError> {
        let org = Fs::org_of_context(context, org)?;
        let root = VfsPath::org_root(&org);
        if !self.authz.sees(context, &root)? {
            return Err(nexus_store::Rejection::NotFound { path: root }.into());
        }
        Ok(self.store.version_policy(&org).await?)
    }

    /// Sets the version policy of an organization and prunes its files to it.
    pub async fn set_version_policy(
        self,
        context: &CallContext,
        org: &str,
        policy: VersionPolicy,
    ) -> Result<VersionPolicy, FsError> {
        if policy.keep_last == Some(0) {
            return Err(FsError::invalid(
                "`keep` must be at least 1: the current version is always kept",
            ));
        }
        let org = Fs::org_of_context(context, org)?;
        self.authorize(context, &VfsPath::org_root(&org), Permission::Manage)?;
        self.store
            .apply(Mutation::SetVersionPolicy {
                org,
                policy,
                at: Timestamp::now(),
            })
            .await?;
        Ok(policy)
    }
}

/// The entry of the node a mutation produced.
pub(super) fn applied_entry_of(applied: nexus_store::Applied) -> Result<Entry, FsError> {
    applied
        .node
        .map(|node| crate::entry::entry_of(&node))
        .ok_or_else(|| {
            nexus_store::StoreError::InvalidData {
                message: "a mutation committed without a resulting node".to_owned(),
            }
            .into()
        })
}

fn resolve_range(path: &VfsPath, range: ByteRange, size: u64) -> Result<(u64, u64), FsError> {
    range
        .resolve(size)
        .ok_or_else(|| FsError::RangeNotSatisfiable {
            path: path.clone(),
            range: range.to_string(),
            size,
        })
}

fn to_index(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

fn check_same_org(from: &OrgId, to: &OrgId, path: &VfsPath) -> Result<(), FsError> {
    if from == to {
        Ok(())
    } else {
        Err(FsError::invalid(format!(
            "`{path}` is in organization `{to}`: files cannot be moved or copied between organizations"
        )))
    }
}

/// Accepts an entity tag with or without HTTP quotes; weak tags never match (strong
/// comparison, as `If-Match` requires).
pub(crate) fn normalize_etag(tag: &str) -> Result<String, FsError> {
    let trimmed = tag.trim();
    if trimmed.starts_with("W/") {
        return Err(FsError::invalid(
            "weak entity tags cannot be used with `if-match`",
        ));
    }
    let unquoted = trimmed
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(trimmed);
    if unquoted.is_empty() || unquoted.len() > 128 || unquoted.contains(['"', ',']) {
        return Err(FsError::invalid(format!(
            "invalid entity tag `{}`",
            tag.chars().take(130).collect::<String>()
        )));
    }
    Ok(unquoted.to_owned())
}
