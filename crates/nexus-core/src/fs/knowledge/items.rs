//! Items: the knowledge layer's records, each a JSON file at the path its key names.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use nexus_api::items::{
    CreateItem, Item, ItemAccess, ItemCreated, ItemList, Reader, ResolvedProtocol,
    ResolvedWorkflow, ShareRequest, SharingHint,
};
use nexus_knowledge::{Environment, ItemKey, Scope};
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    CheckResult, ObjectRef, Operation, Relationship, RelationshipFilter, SubjectRef,
};
use nexus_store::{ListQuery, Mutation, Node, Precondition, Rejection, Timestamp, WriteRequest};
use serde_json::Value;

use super::CachedItem;
use super::data;
use super::{items_root, parse_session_id, profile_object, scope_folder, session_object, update};
use crate::accounts::RESERVED_UNIVERSAL;
use crate::authz::{self, Permission, file_object};
use crate::error::FsError;
use crate::fs::{Items, MAX_PAGE_SIZE, cursor};
use crate::principal::CallContext;

/// Filters of [`Items::list`]; every one optional.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    pub env: Option<String>,
    /// `personal`, `UNIV`, `u_XXXX`, `a_XXXX` or `s_XXXX`.
    pub scope: Option<String>,
    pub kind: Option<String>,
    /// Who created the items (a handle or stable id).
    pub owner: Option<String>,
    /// Created on or after this day (`YYYYMMDD` or `YYYY-MM-DD`).
    pub since: Option<String>,
    /// Created on or before this day.
    pub until: Option<String>,
    /// Words that must all appear in the item's data (case-insensitive).
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The most entries read from one folder of the items tree at once (a folder holds a day's
/// items of one kind in one scope).
const ENTRIES_LIMIT: usize = 1 << 24;

/// Items in a page when the caller does not say.
const DEFAULT_ITEMS_PAGE: usize = 100;

/// Why a scope's folder is listed: everything in it is readable, or only the candidates
/// beneath it that stored relationships may open to the caller (each checked).
#[derive(Clone, PartialEq, Eq)]
enum Reach {
    All,
    Granted(Vec<VfsPath>),
}

/// Where a caller's items may be, worked out once per listing: the scope folders that may
/// be readable whole (`None`: any may be, for the system and organization admins) and the
/// items (or folders) outside them that stored relationships may open to the caller. These
/// only propose; the engine decides each one.
struct Visible {
    scopes: Option<std::collections::BTreeSet<String>>,
    candidates: std::collections::BTreeSet<VfsPath>,
}

/// The checked filters of a listing.
struct Filters {
    envs: Vec<Environment>,
    scope: Option<Scope>,
    kind: Option<String>,
    owner: Option<String>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    words: Vec<String>,
}

fn parse_day(field: &str, text: &str) -> Result<NaiveDate, FsError> {
    NaiveDate::parse_from_str(text, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
        .map_err(|_| {
            FsError::invalid(format!(
                "`{field}` must be a day, `YYYYMMDD` or `YYYY-MM-DD`"
            ))
        })
}

fn parse_env(text: &str) -> Result<Environment, FsError> {
    Ok(text.parse::<Environment>()?)
}

/// The text of a JSON value's strings (not its keys), lowercased, for keyword matching.
fn text_of(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            out.push_str(&text.to_lowercase());
            out.push('\n');
        }
        Value::Array(values) => values.iter().for_each(|value| text_of(value, out)),
        // A sealed secret is not text anyone searches for.
        Value::Object(_) if crate::locker::is_sealed(value) => {}
        Value::Object(map) => map.values().for_each(|value| text_of(value, out)),
        Value::Number(number) => {
            out.push_str(&number.to_string());
            out.push('\n');
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn not_found(key: &ItemKey) -> FsError {
    FsError::Missing {
        message: format!("item `{key}` does not exist"),
    }
}

/// The matrix refuses `what` in `env`.
fn outside_matrix(env: Environment, what: &str) -> FsError {
    FsError::ScopeNotAllowed {
        message: format!(
            "the `{env}` environment has no {what} (see the scoping matrix in docs/knowledge.md)"
        ),
    }
}

/// What the matrix says about items of `env` in `scope`.
pub(crate) fn check_matrix(env: Environment, scope: &Scope) -> Result<(), FsError> {
    let scoping = env.scoping();
    match scope {
        Scope::Universal if !scoping.universal => {
            Err(outside_matrix(env, "universal scope (`UNIV`)"))
        }
        Scope::Session(_) if env == Environment::Session => Err(FsError::invalid(
            "sessions are started with `POST /api/orgs/{org}/sessions`, not created as items",
        )),
        Scope::Session(_) if !scoping.session_sharing() => Err(outside_matrix(
            env,
            "session scope: its items are not shared with sessions",
        )),
        _ => Ok(()),
    }
}

impl Items<'_> {
    /// Creates an item; it is durable when this returns.
    pub async fn create(
        self,
        context: &CallContext,
        org: &str,
        request: CreateItem,
    ) -> Result<ItemCreated, FsError> {
        let org = self.knowledge_org(context, org)?;
        let env = parse_env(&request.env)?;
        if env == Environment::Locker && !self.locker.enabled() {
            return Err(FsError::LockerUnavailable);
        }
        let scope = self.requested_scope(context, &request.scope)?;
        check_matrix(env, &scope)?;
        let now = Utc::now();
        let id = match &request.id {
            Some(id) => id.clone(),
            None => random_id(),
        };
        let key = ItemKey::new(env, scope.clone(), now.date_naive(), &request.kind, &id)?;
        let stored = data::validate(env, &scope, &key.kind, &request.data, now)?;
        if env == Environment::User {
            self.check_profile_fields(&org, &key, &stored)?;
            self.refuse_second_profile(&org, &key).await?;
        }
        // A reminder created `session` is a session reminder: shared with the session, so
        // its members are notified when it falls due. Other items get the offer to share.
        let (hint, reminder_session) = match &request.session {
            Some(session) if env == Environment::Chrono => {
                let session = parse_session_id(session)?;
                self.require_session_open(context, &org, &session)?;
                let shared = (scope != Scope::Session(session.clone())).then_some(session);
                (None, shared)
            }
            Some(session) => (
                self.sharing_hint(context, &org, session, &scope).await?,
                None,
            ),
            None => (None, None),
        };
        let folder = scope_folder(&org, env, &scope)?;
        if let Scope::Session(session) = &scope {
            self.require_session_open(context, &org, session)?;
        }
        if !self.authz.holds(context, &file_object(&folder), "create")? {
            return Err(FsError::PermissionDenied {
                principal: context.name(),
                permission: "create",
                path: folder,
            });
        }
        self.audit_private_access(context, &org, &key, "create")
            .await?;
        let path = key.path(&org)?;
        let sealed = if env == Environment::Locker {
            self.seal_secret(&org, &key, stored.clone()).await?
        } else {
            stored.clone()
        };
        let content =
            Bytes::from(
                serde_json::to_vec(&sealed).map_err(|error| FsError::Internal {
                    message: error.to_string(),
                })?,
            );
        let request_write = WriteRequest {
            org: org.clone(),
            path: path.clone(),
            content,
            precondition: Precondition::IfNoneMatch,
            create_parents: true,
            author: context.principal.to_string(),
            at: Timestamp::now(),
        };
        let written = self
            .commit_new_item(
                context,
                (&org, &key, &path),
                request_write,
                reminder_session.as_deref(),
                super::reminders::schedule(&org, &key, &stored, now),
            )
            .await;
        let node = written.map_err(|error| match error {
            FsError::Rejected(Rejection::PreconditionFailed { .. }) => FsError::Conflict {
                message: format!("item `{key}` already exists"),
            },
            other => other,
        })?;
        let item = self.item_of(&org, &key, &node, stored);
        Ok(ItemCreated {
            key: item.key.clone(),
            path: item.path.clone(),
            etag: item.etag.clone(),
            item,
            sharing_hint: hint,
        })
    }

    /// Commits a new item's file with what goes with it, in one transaction: its creator's
    /// ownership (outside their own scope), a reminder's share with its session and its
    /// place on the schedule.
    async fn commit_new_item(
        self,
        context: &CallContext,
        (org, key, path): (&OrgId, &ItemKey, &VfsPath),
        request_write: WriteRequest,
        reminder_session: Option<&str>,
        schedule: Option<Mutation>,
    ) -> Result<Node, FsError> {
        // The creator of an item outside their own scope owns it: they may change, share
        // and delete it.
        let mut updates = Vec::new();
        // An agent acting for a user creates it for the user: the agent gains nothing that
        // outlives the delegation.
        if let (Scope::Universal | Scope::Session(_), Some(creator)) =
            (&key.scope, self.authz.acting_for(context))
        {
            let owner = Relationship::new(file_object(path), "owner", creator);
            updates.push(update(Operation::Touch, owner));
        }
        if let Some(session) = reminder_session {
            let object = session_object(org, session);
            updates.push(update(
                Operation::Touch,
                Relationship::new(
                    file_object(path),
                    "shared_session",
                    SubjectRef::object(object.object_type, object.object_id),
                ),
            ));
        }
        if updates.is_empty() && schedule.is_none() {
            return Ok(self.store.write(request_write).await?);
        }
        let mut mutations = vec![self.store.stage_write(request_write).await?];
        mutations.extend(schedule);
        let applied = if updates.is_empty() {
            self.store.apply_group(mutations).await?
        } else {
            self.commit
                .write_with(context, updates, Vec::new(), mutations)
                .await?
                .1
        };
        applied_node(applied)
    }

    /// An item the caller may read.
    pub async fn get(self, context: &CallContext, org: &str, key: &str) -> Result<Item, FsError> {
        let org = self.knowledge_org(context, org)?;
        let key = ItemKey::parse(key)?;
        let (node, mut data) = self.readable(context, &org, &key).await?;
        self.audit_private_access(context, &org, &key, "read")
            .await?;
        if key.env == Environment::Locker {
            data = self.open_secret(&org, &key, data)?;
        }
        Ok(self.item_of(&org, &key, &node, data))
    }

    /// Replaces an item's data (only if its etag is still `if_match`, when given).
    pub async fn update(
        self,
        context: &CallContext,
        org: &str,
        key: &str,
        new_data: Value,
        if_match: Option<String>,
    ) -> Result<Item, FsError> {
        let org = self.knowledge_org(context, org)?;
        let key = ItemKey::parse(key)?;
        let (node, current) = self.readable(context, &org, &key).await?;
        let path = key.path(&org)?;
        self.authorize(context, &path, Permission::Write)?;
        if key.env == Environment::Locker && !self.locker.enabled() {
            return Err(FsError::LockerUnavailable);
        }
        let stored = data::validate(key.env, &key.scope, &key.kind, &new_data, Utc::now())?;
        if key.env == Environment::User {
            self.check_profile_fields(&org, &key, &stored)?;
        }
        if key.env == Environment::Track && stored.get("assignees") != current.get("assignees") {
            return Err(FsError::invalid(
                "a task's assignees change through `POST .../items/{key}/assign`",
            ));
        }
        self.audit_private_access(context, &org, &key, "update")
            .await?;
        let etag = match if_match {
            Some(tag) => crate::fs::files::normalize_etag(&tag)?,
            None => node.etag(),
        };
        let written = if key.env == Environment::Locker {
            self.seal_secret(&org, &key, stored.clone()).await?
        } else {
            stored.clone()
        };
        let schedule = super::reminders::reschedules(&key, &current, &stored)
            .then(|| super::reminders::schedule(&org, &key, &stored, Utc::now()))
            .flatten();
        let node = self
            .write_item(context, &org, &path, &written, etag, schedule)
            .await?;
        Ok(self.item_of(&org, &key, &node, stored))
    }

    /// Deletes an item with every share of it (only if its etag is still `if_match`, when
    /// given). Needs `manage`: its creator, the scope's owner, an organization admin.
    pub async fn delete(
        self,
        context: &CallContext,
        org: &str,
        key: &str,
        if_match: Option<String>,
    ) -> Result<(), FsError> {
        let org = self.knowledge_org(context, org)?;
        let key = ItemKey::parse(key)?;
        self.readable(context, &org, &key).await?;
        if key.env == Environment::Session && key.scope != Scope::Universal {
            return Err(FsError::invalid(
                "a session is ended (`POST /api/orgs/{org}/sessions/{stable_id}/end`), not deleted",
            ));
        }
        let path = key.path(&org)?;
        self.authorize(context, &path, Permission::Manage)?;
        self.audit_private_access(context, &org, &key, "delete")
            .await?;
        let if_match = if_match
            .map(|tag| crate::fs::files::normalize_etag(&tag))
            .transpose()?;
        let unschedule = (key.env == Environment::Chrono).then(|| Mutation::ScheduleReminder {
            org: org.clone(),
            path: path.clone(),
            due: None,
        });
        self.remove_item(context, &org, &path, if_match, unschedule)
            .await
    }

    /// Removes an item's file and its relationships, in one transaction.
    async fn remove_item(
        self,
        context: &CallContext,
        org: &OrgId,
        path: &VfsPath,
        if_match: Option<String>,
        also: Option<Mutation>,
    ) -> Result<(), FsError> {
        let remove = Mutation::Remove {
            org: org.clone(),
            path: path.clone(),
            recursive: false,
            if_match,
            author: context.principal.to_string(),
            at: Timestamp::now(),
        };
        let mut mutations = vec![remove];
        mutations.extend(also);
        self.commit
            .rekey_subtree(path, None, &[], mutations)
            .await?;
        Ok(())
    }

    /// Writes an item's new data if its etag is still `etag` (with `also`, in the same
    /// transaction).
    async fn write_item(
        self,
        context: &CallContext,
        org: &OrgId,
        path: &VfsPath,
        stored: &Value,
        etag: String,
        also: Option<Mutation>,
    ) -> Result<Node, FsError> {
        let content =
            Bytes::from(
                serde_json::to_vec(stored).map_err(|error| FsError::Internal {
                    message: error.to_string(),
                })?,
            );
        let request = WriteRequest {
            org: org.clone(),
            path: path.clone(),
            content,
            precondition: Precondition::IfMatch(etag),
            create_parents: false,
            author: context.principal.to_string(),
            at: Timestamp::now(),
        };
        match also {
            None => Ok(self.store.write(request).await?),
            Some(also) => {
                let mutations = vec![self.store.stage_write(request).await?, also];
                applied_node(self.store.apply_group(mutations).await?)
            }
        }
    }

    /// The item's file and data, if the caller may read it and it has not expired; else
    /// "not found", whether or not it exists.
    async fn readable(
        self,
        context: &CallContext,
        org: &OrgId,
        key: &ItemKey,
    ) -> Result<(Node, Value), FsError> {
        let path = key.path(org)?;
        if !self.authz.faults().skip_item_read_check()
            && !self.authz.allowed(context, &path, Permission::Read)?
        {
            return Err(not_found(key));
        }
        let Some(node) = self.store.node(&path).await? else {
            return Err(not_found(key));
        };
        if node.is_dir() {
            return Err(not_found(key));
        }
        let data = self.data_of(&node).await?;
        if data::expires_at(key.env, &data).is_some_and(|at| at <= Utc::now()) {
            return Err(not_found(key));
        }
        Ok((node, data))
    }

    pub(crate) async fn data_of(self, node: &Node) -> Result<Value, FsError> {
        Ok(self.cached(node).await?.data.clone())
    }

    /// An item's parsed data and searchable text (sealed secrets left out), for the
    /// search index.
    pub(crate) async fn searchable(
        self,
        node: &Node,
    ) -> Result<std::sync::Arc<CachedItem>, FsError> {
        self.cached(node).await
    }

    /// An item's parsed data and searchable text, from the cache or its content.
    async fn cached(self, node: &Node) -> Result<std::sync::Arc<CachedItem>, FsError> {
        if let Some(hash) = &node.hash
            && let Some(found) = self.item_cache.get(hash)
        {
            return Ok(found);
        }
        let content = self.store.read(node).await?;
        let data: Value = serde_json::from_slice(&content).map_err(|error| FsError::Internal {
            message: format!("item `{}` does not hold JSON: {error}", node.path),
        })?;
        let mut text = String::new();
        text_of(&data, &mut text);
        let item = std::sync::Arc::new(CachedItem { data, text });
        if let Some(hash) = node.hash {
            self.item_cache.insert(hash, content.len(), item.clone());
        }
        Ok(item)
    }

    /// The wire form of an item.
    fn item_of(self, org: &OrgId, key: &ItemKey, node: &Node, mut data: Value) -> Item {
        let entry = crate::entry::entry_of(node);
        if key.env == Environment::User
            && let Scope::User(user) = &key.scope
            && let Some(fields) = data.as_object_mut()
        {
            let line = self.reporting_line_of(org, user);
            match line.manager {
                Some(manager) => fields.insert("manager".to_owned(), Value::String(manager)),
                None => fields.remove("manager"),
            };
            fields.insert("subordinates".to_owned(), Value::from(line.subordinates));
        }
        let expires_at = data::expires_at(key.env, &data)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        Item {
            key: key.to_string(),
            env: key.env.to_string(),
            scope: key.scope.to_string(),
            date: key.date.format("%Y%m%d").to_string(),
            kind: key.kind.clone(),
            id: key.id.clone(),
            path: entry.path,
            etag: entry.etag.unwrap_or_default(),
            version: entry.version,
            owner: self.display_subject(&self.owner_of(org, key)),
            author: self.display_subject(&entry.author),
            modified_at: entry.modified_at,
            expires_at,
            data,
        }
    }

    /// Who created an item: the personal scope's owner, else its `owner` relationship.
    fn owner_of(self, org: &OrgId, key: &ItemKey) -> String {
        match &key.scope {
            Scope::User(id) => format!("user:{id}"),
            Scope::Agent(id) => format!("agent:{id}"),
            Scope::Universal | Scope::Session(_) => key
                .path(org)
                .ok()
                .and_then(|path| {
                    self.relationships_on(&file_object(&path), "owner")
                        .into_iter()
                        .next()
                })
                .map_or_else(
                    || "system".to_owned(),
                    |relationship| relationship.subject.to_string(),
                ),
        }
    }

    /// A page of the items the caller may read, in the order of environments (as the seed
    /// lists them), then scopes and paths.
    pub async fn list(
        self,
        context: &CallContext,
        org: &str,
        query: ItemQuery,
    ) -> Result<ItemList, FsError> {
        let org = self.knowledge_org(context, org)?;
        let filters = self.filters(context, &query)?;
        let limit = query
            .limit
            .unwrap_or(DEFAULT_ITEMS_PAGE)
            .clamp(1, MAX_PAGE_SIZE);
        let root = items_root(&org)?;
        let caller = context.principal.to_string();
        let after = query
            .cursor
            .as_deref()
            .map(|cursor| cursor::decode(self.authz.keys(), &caller, cursor, &root, true))
            .transpose()?;
        let resume = match &after {
            Some(path) => Some(ItemKey::from_path(path)?.1),
            None => None,
        };
        let visible = self.visible(context, &org)?;
        let mut found: Vec<Item> = Vec::new();
        let mut more = false;
        'envs: for env in filters.envs.iter().copied() {
            if let Some(resume) = &resume
                && env_index(env) < env_index(resume.env)
            {
                continue;
            }
            for (scope, folder, reach) in
                self.reachable_scopes(context, &org, env, &visible).await?
            {
                if filters
                    .scope
                    .as_ref()
                    .is_some_and(|wanted| *wanted != scope)
                {
                    continue;
                }
                let mut position = None;
                if let Some(resume) = &resume
                    && resume.env == env
                {
                    match scope.as_str().cmp(resume.scope.as_str()) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal => position = after.clone(),
                        std::cmp::Ordering::Greater => {}
                    }
                }
                // Enough nodes for the rest of the page (with the folders between items),
                // growing while filters keep turning nodes down.
                let mut batch = ((limit - found.len()) * 2 + 16).min(MAX_PAGE_SIZE);
                loop {
                    let (page, full) = self.scan(&folder, &reach, position.take(), batch).await?;
                    batch = (batch * 2).min(MAX_PAGE_SIZE);
                    for node in &page {
                        if let Some(item) = self
                            .listed_item(context, &org, node, &reach, &filters)
                            .await?
                        {
                            if found.len() == limit {
                                more = true;
                                break 'envs;
                            }
                            found.push(item);
                        }
                    }
                    if !full {
                        break;
                    }
                    position = page.last().map(|node| node.path.clone());
                }
            }
        }
        let next_cursor = match found.last() {
            Some(last) if more => Some(cursor::encode(
                self.authz.keys(),
                &caller,
                &root,
                true,
                &VfsPath::parse(&last.path)?,
            )),
            _ => None,
        };
        if context.principal == crate::principal::Principal::System {
            let private: Vec<&str> = found
                .iter()
                .filter(|item| item.scope.starts_with("u_") || item.scope.starts_with("a_"))
                .map(|item| item.key.as_str())
                .collect();
            if !private.is_empty() {
                self.audit_private(context, &org, "private_list", private.join(" "))
                    .await?;
            }
        }
        Ok(ItemList {
            items: found,
            next_cursor,
        })
    }

    /// The checked filters of a listing.
    fn filters(self, context: &CallContext, query: &ItemQuery) -> Result<Filters, FsError> {
        Ok(Filters {
            envs: match &query.env {
                Some(env) => vec![parse_env(env)?],
                None => Environment::ALL.to_vec(),
            },
            scope: query
                .scope
                .as_deref()
                .map(|scope| self.requested_scope(context, scope))
                .transpose()?,
            kind: query.kind.clone(),
            owner: query
                .owner
                .as_deref()
                .map(|owner| self.member_subject(owner).to_string()),
            since: query
                .since
                .as_deref()
                .map(|day| parse_day("since", day))
                .transpose()?,
            until: query
                .until
                .as_deref()
                .map(|day| parse_day("until", day))
                .transpose()?,
            words: query
                .q
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_lowercase)
                .collect(),
        })
    }

    /// One page of the item files of a scope folder after `after`, in tree order (each
    /// folder's entries by name, depth first), and whether there may be more: everything
    /// beneath it, or beneath its candidates.
    async fn scan(
        self,
        folder: &VfsPath,
        reach: &Reach,
        after: Option<VfsPath>,
        batch: usize,
    ) -> Result<(Vec<Node>, bool), FsError> {
        let Reach::Granted(candidates) = reach else {
            return self.walk(folder, after.as_ref(), batch).await;
        };
        let mut nodes = Vec::new();
        for candidate in candidates {
            if let Some(node) = self.store.node(candidate).await? {
                if node.is_dir() {
                    // A grant on a folder of items: everything beneath it.
                    nodes.extend(self.walk(candidate, None, usize::MAX).await?.0);
                } else {
                    nodes.push(node);
                }
            }
        }
        nodes.sort_by(|a, b| tree_order(&a.path, &b.path));
        nodes.dedup_by(|a, b| a.path == b.path);
        if let Some(after) = &after {
            nodes.retain(|node| tree_order(&node.path, after).is_gt());
        }
        Ok((nodes, false))
    }

    /// Up to `want` files beneath `folder` after `after`, in tree order, and whether there
    /// may be more. Walks whole-directory listings, which the store keeps cached until
    /// something in the directory changes.
    async fn walk(
        self,
        folder: &VfsPath,
        after: Option<&VfsPath>,
        want: usize,
    ) -> Result<(Vec<Node>, bool), FsError> {
        let mut found = Vec::new();
        // Each level: the directory's entries still to visit.
        let mut stack: Vec<std::iter::Skip<std::vec::IntoIter<Node>>> = Vec::new();
        let entries = self.entries(folder).await?;
        let start = match after {
            Some(after) => resume_index(&entries, folder, after),
            None => 0,
        };
        stack.push(entries.into_iter().skip(start));
        // While positioning at `after`, the path to descend along.
        let mut descend_after = after.cloned();
        while let Some(level) = stack.last_mut() {
            let Some(node) = level.next() else {
                stack.pop();
                continue;
            };
            if node.is_dir() {
                let children = self.entries(&node.path).await?;
                let start = match &descend_after {
                    Some(after) if after.starts_with(&node.path) && *after != node.path => {
                        resume_index(&children, &node.path, after)
                    }
                    _ => {
                        descend_after = None;
                        0
                    }
                };
                stack.push(children.into_iter().skip(start));
                continue;
            }
            descend_after = None;
            if found.len() == want {
                return Ok((found, true));
            }
            found.push(node);
        }
        Ok((found, false))
    }

    /// A directory's entries, by name (a complete listing, cached by the store).
    async fn entries(self, dir: &VfsPath) -> Result<Vec<Node>, FsError> {
        Ok(self
            .store
            .list(&ListQuery {
                dir: dir.clone(),
                recursive: false,
                after: None,
                limit: ENTRIES_LIMIT,
            })
            .await?)
    }

    /// Where the caller's items may be (see [`Visible`]): only proposals, each decided by
    /// the engine when listed.
    fn visible(self, context: &CallContext, org: &OrgId) -> Result<Visible, FsError> {
        let mut found = std::collections::BTreeSet::new();
        let Some(subject) = self.authz.acting_for(context) else {
            return Ok(Visible {
                scopes: None,
                candidates: found,
            });
        };
        // Organization admins may read nearly every scope folder: each is checked.
        let admin =
            self.authz
                .subject_holds(&subject, &ObjectRef::new("org", org.as_str()), "admin")?;
        let mut scopes = std::collections::BTreeSet::new();
        scopes.insert(RESERVED_UNIVERSAL.to_owned());
        if let Ok(own) = self.own_scope(context) {
            scopes.insert(own.to_string());
            scopes.extend(self.reporting_line_of(org, own.as_str()).subordinates);
        }
        let root = items_root(org)?;
        let engine = self.authz.engine();
        let at = authz::now();
        let mut subjects = vec![subject.clone(), SubjectRef::object("org", org.as_str())];
        let prefix = format!("{org}/");
        for (object_type, permission, relation) in [
            ("session", "participant", None),
            ("group", "member", Some("member")),
        ] {
            let Ok(resources) =
                engine.lookup_resources(object_type, permission, &subject, None, at)
            else {
                continue;
            };
            for resource in resources {
                if resource.result == CheckResult::Has && resource.id.starts_with(&prefix) {
                    if object_type == "session"
                        && let Some(id) = resource.id.strip_prefix(&prefix)
                    {
                        scopes.insert(id.to_owned());
                    }
                    subjects.push(SubjectRef {
                        object: ObjectRef::new(object_type, resource.id),
                        relation: relation.map(str::to_owned),
                    });
                }
            }
        }
        for subject in subjects {
            let filter = RelationshipFilter {
                resource_type: Some(authz::FILE.to_owned()),
                subject_type: Some(subject.object.object_type.clone()),
                subject_id: Some(subject.object.object_id.clone()),
                subject_relation: Some(subject.relation.clone()),
                ..RelationshipFilter::default()
            };
            for relationship in engine.read(&filter, None, usize::MAX, at) {
                if let Ok(path) = VfsPath::parse(&relationship.resource.object_id)
                    && path.starts_with(&root)
                {
                    found.insert(path);
                }
            }
        }
        Ok(Visible {
            scopes: (!admin).then_some(scopes),
            candidates: found,
        })
    }

    /// The scope folders of `env` the caller may list, in name order: those it may read
    /// (everything inside is readable) and those it holds grants beneath.
    async fn reachable_scopes(
        self,
        context: &CallContext,
        org: &OrgId,
        env: Environment,
        visible: &Visible,
    ) -> Result<Vec<(Scope, VfsPath, Reach)>, FsError> {
        let env_folder = VfsPath::parse(&format!("{}/{env}", items_root(org)?))?;
        let mut scopes = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    dir: env_folder.clone(),
                    recursive: false,
                    after: after.take(),
                    limit: MAX_PAGE_SIZE,
                })
                .await;
            let page = match page {
                Ok(page) => page,
                Err(_) if self.store.node(&env_folder).await?.is_none() => return Ok(scopes),
                Err(error) => return Err(error.into()),
            };
            for node in &page {
                let Ok(scope) = Scope::parse(node.path.name()) else {
                    continue;
                };
                if !node.is_dir() {
                    continue;
                }
                let proposed = visible
                    .scopes
                    .as_ref()
                    .is_none_or(|scopes| scopes.contains(scope.as_str()));
                if proposed && self.authz.allowed(context, &node.path, Permission::Read)? {
                    scopes.push((scope, node.path.clone(), Reach::All));
                    continue;
                }
                let beneath: Vec<VfsPath> = visible
                    .candidates
                    .range(node.path.clone()..)
                    .take_while(|path| path.starts_with(&node.path))
                    .cloned()
                    .collect();
                if !beneath.is_empty() {
                    scopes.push((scope, node.path.clone(), Reach::Granted(beneath)));
                }
            }
            if page.len() < MAX_PAGE_SIZE {
                break;
            }
            after = page.last().map(|node| node.path.clone());
        }
        scopes.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Ok(scopes)
    }

    /// The item a listed node holds, if it is one the caller may read and the filters keep.
    async fn listed_item(
        self,
        context: &CallContext,
        org: &OrgId,
        node: &Node,
        reach: &Reach,
        filters: &Filters,
    ) -> Result<Option<Item>, FsError> {
        if node.is_dir() {
            return Ok(None);
        }
        let Ok((_, key)) = ItemKey::from_path(&node.path) else {
            return Ok(None);
        };
        if filters.kind.as_ref().is_some_and(|kind| *kind != key.kind)
            || filters.since.is_some_and(|since| key.date < since)
            || filters.until.is_some_and(|until| key.date > until)
        {
            return Ok(None);
        }
        if matches!(reach, Reach::Granted(_))
            && !self.authz.allowed(context, &node.path, Permission::Read)?
        {
            return Ok(None);
        }
        if let Some(owner) = &filters.owner
            && self.owner_of(org, &key) != *owner
        {
            return Ok(None);
        }
        let cached = self.cached(node).await?;
        if data::expires_at(key.env, &cached.data).is_some_and(|at| at <= Utc::now()) {
            return Ok(None);
        }
        if !filters.words.is_empty() {
            let mut key_text: Option<String> = None;
            let matches = filters.words.iter().all(|word| {
                cached.text.contains(word.as_str())
                    || key_text
                        .get_or_insert_with(|| key.to_string().to_lowercase())
                        .contains(word.as_str())
            });
            if !matches {
                return Ok(None);
            }
        }
        let mut data = cached.data.clone();
        if key.env == Environment::Locker {
            data = Self::without_secret(data);
        }
        Ok(Some(self.item_of(org, &key, node, data)))
    }

    /// Shares an item (`grant`) or takes a share back: with named users, the whole
    /// organization, or a session's members, as the environment's row of the matrix allows.
    /// Needs `manage` on the item. Returns who can read it now.
    pub async fn share(
        self,
        context: &CallContext,
        org: &str,
        key: &str,
        request: ShareRequest,
        grant: bool,
    ) -> Result<ItemAccess, FsError> {
        let org_id = self.knowledge_org(context, org)?;
        let item_key = ItemKey::parse(key)?;
        let (_, data) = self.readable(context, &org_id, &item_key).await?;
        let path = item_key.path(&org_id)?;
        self.authorize(context, &path, Permission::Manage)?;
        let resource = file_object(&path);
        let updates =
            self.share_updates(context, &org_id, item_key.env, &resource, &request, grant)?;
        self.audit_private_access(
            context,
            &org_id,
            &item_key,
            if grant { "share" } else { "unshare" },
        )
        .await?;
        // Those the share names who cannot read the item yet are told once it lets them.
        let mut told = Vec::new();
        if grant {
            for candidate in self.share_recipients(&org_id, &request) {
                if candidate != context.principal.to_string()
                    && !told.contains(&candidate)
                    && !self.may_read(&candidate, &path)?
                {
                    told.push(candidate);
                }
            }
        }
        self.commit.write(context, updates, Vec::new()).await?;
        let title = format!(
            "{} shared \"{}\" with you",
            self.display_subject(&context.principal.to_string()),
            item_title(&data).unwrap_or(key)
        );
        let mut notifications = Vec::new();
        for recipient in told {
            if self.may_read(&recipient, &path).unwrap_or(false) {
                notifications.push(super::reminders::notice(
                    recipient,
                    &org_id,
                    "shared",
                    title.clone(),
                    Some(item_key.to_string()),
                ));
            }
        }
        self.send_notifications(notifications).await;
        self.access(context, org, key)
    }

    /// The principals a share names one by one: its users, or its session's participants
    /// (a share with groups, a role or everyone notifies no one).
    fn share_recipients(self, org: &OrgId, request: &ShareRequest) -> Vec<String> {
        if let Some(users) = &request.users {
            return users
                .iter()
                .map(|user| {
                    let subject = self.member_subject(user);
                    format!(
                        "{}:{}",
                        subject.object.object_type, subject.object.object_id
                    )
                })
                .collect();
        }
        match request.session.as_deref().map(parse_session_id) {
            Some(Ok(session)) => self.session_participants(org, &session),
            _ => Vec::new(),
        }
    }

    /// The relationship changes of a share (or, with `grant` false, of taking it back), as
    /// the environment's row of the matrix allows.
    fn share_updates(
        self,
        context: &CallContext,
        org_id: &OrgId,
        env: Environment,
        resource: &ObjectRef,
        request: &ShareRequest,
        grant: bool,
    ) -> Result<Vec<nexus_rebac::RelationshipUpdate>, FsError> {
        let scoping = env.scoping();
        let operation = if grant {
            Operation::Touch
        } else {
            Operation::Delete
        };
        let targets = usize::from(request.users.is_some())
            + usize::from(request.universal.is_some())
            + usize::from(request.session.is_some())
            + usize::from(request.groups.is_some())
            + usize::from(request.role.is_some());
        if targets != 1 {
            return Err(FsError::invalid(
                "name exactly one of `users` (a list), `universal: true`, `session`, `groups` (a list) or `role`",
            ));
        }
        let share = |subject: SubjectRef| {
            update(
                operation,
                Relationship::new(resource.clone(), "shared_with", subject),
            )
        };
        let updates = if let Some(users) = &request.users {
            if !scoping.direct_sharing() {
                return Err(outside_matrix(env, "direct sharing with named users"));
            }
            if users.is_empty() {
                return Err(FsError::invalid("`users` names no one"));
            }
            users
                .iter()
                .map(|user| share(self.member_subject(user)))
                .collect()
        } else if let Some(groups) = &request.groups {
            if !scoping.role_sharing() {
                return Err(outside_matrix(env, "sharing with groups or roles"));
            }
            if groups.is_empty() {
                return Err(FsError::invalid("`groups` names none"));
            }
            groups
                .iter()
                .map(|group| {
                    share(SubjectRef::userset(
                        "group",
                        format!("{org_id}/{group}"),
                        "member",
                    ))
                })
                .collect()
        } else if let Some(role) = &request.role {
            if !scoping.role_sharing() {
                return Err(outside_matrix(env, "sharing with groups or roles"));
            }
            if role != "admin" {
                return Err(FsError::invalid(
                    "`role` is `admin` (to share with every member, use `universal: true`)",
                ));
            }
            vec![share(SubjectRef::userset("org", org_id.as_str(), "admin"))]
        } else if let Some(universal) = request.universal {
            if !universal {
                return Err(FsError::invalid("`universal` is `true` or absent"));
            }
            if !scoping.universal {
                return Err(outside_matrix(env, "universal scope (`UNIV`)"));
            }
            vec![update(
                operation,
                Relationship::new(
                    resource.clone(),
                    "published",
                    SubjectRef::object("org", org_id.as_str()),
                ),
            )]
        } else {
            let session = request.session.as_deref().unwrap_or_default();
            if env == Environment::Session || !scoping.session_sharing() {
                return Err(outside_matrix(env, "sharing with sessions"));
            }
            let session = parse_session_id(session)?;
            if grant {
                self.require_session_open(context, org_id, &session)?;
            }
            let object = session_object(org_id, &session);
            vec![update(
                operation,
                Relationship::new(
                    resource.clone(),
                    "shared_session",
                    SubjectRef::object(object.object_type, object.object_id),
                ),
            )]
        };
        Ok(updates)
    }

    /// Who can read an item, and why (each reason a permission of the schema).
    pub fn access(
        self,
        context: &CallContext,
        org: &str,
        key: &str,
    ) -> Result<ItemAccess, FsError> {
        let org = self.knowledge_org(context, org)?;
        let key = ItemKey::parse(key)?;
        let path = key.path(&org)?;
        if !self.authz.allowed(context, &path, Permission::Read)? {
            return Err(not_found(&key));
        }
        let resource = file_object(&path);
        let engine = self.authz.engine();
        let at = authz::now();
        let mut readers = Vec::new();
        for subject_type in ["user", "agent"] {
            let lookup = engine.lookup_subjects(&resource, "read", subject_type, None, None, at)?;
            for found in lookup.subjects {
                if found.result != CheckResult::Has || found.subject.is_wildcard() {
                    continue;
                }
                let mut checker = engine.checker(&found.subject, None, at)?;
                let mut via = Vec::new();
                for reason in [
                    "owner",
                    "universal",
                    "session",
                    "shared",
                    "assignee",
                    "manager",
                    "org_admin",
                    "acl",
                ] {
                    let permission = format!("via_{reason}");
                    if checker.check_object(authz::FILE, path.as_str(), &permission)?
                        == CheckResult::Has
                    {
                        via.push(reason.to_owned());
                    }
                }
                readers.push(Reader {
                    subject: self.display_subject(&found.subject.to_string()),
                    via,
                });
            }
        }
        readers.sort_by(|a, b| a.subject.cmp(&b.subject));
        Ok(ItemAccess {
            key: key.to_string(),
            readers,
        })
    }

    /// Sets a Track item's assignees (who may then read and update it). Whoever manages the
    /// item (its owner, an organization admin) may name any member; the owner's manager may
    /// name only the team: themselves and those who report to them. Assignees do not
    /// reassign.
    pub async fn assign(
        self,
        context: &CallContext,
        org: &str,
        key: &str,
        assignees: Vec<String>,
    ) -> Result<Item, FsError> {
        let org = self.knowledge_org(context, org)?;
        let key = ItemKey::parse(key)?;
        if key.env != Environment::Track {
            return Err(FsError::invalid("only Track items have assignees"));
        }
        let (node, mut current) = self.readable(context, &org, &key).await?;
        let path = key.path(&org)?;
        let resource = file_object(&path);
        let subjects: Vec<SubjectRef> = assignees
            .iter()
            .map(|assignee| self.member_subject(assignee))
            .collect();
        if !self.authz.holds(context, &resource, "manage")? {
            if !self.authz.holds(context, &resource, "reassign")? {
                return Err(FsError::PermissionDenied {
                    principal: context.name(),
                    permission: "reassign",
                    path,
                });
            }
            let caller = self.authz.acting_for(context);
            for subject in &subjects {
                let in_team = Some(subject) == caller.as_ref()
                    || self.authz.holds(
                        context,
                        &profile_object(&org, &subject.object.object_id),
                        "manager",
                    )?;
                if !in_team {
                    return Err(FsError::PermissionDenied {
                        principal: context.name(),
                        permission: "reassign outside the team to",
                        path: VfsPath::parse(&format!(
                            "{}/{}",
                            VfsPath::org_root(&org),
                            subject.object.object_id
                        ))
                        .unwrap_or(path),
                    });
                }
            }
        }
        let mut updates: Vec<_> = self
            .relationships_on(&resource, "assignee")
            .into_iter()
            .filter(|existing| !subjects.contains(&existing.subject))
            .map(|existing| update(Operation::Delete, existing))
            .collect();
        updates.extend(subjects.iter().map(|subject| {
            update(
                Operation::Touch,
                Relationship::new(resource.clone(), "assignee", subject.clone()),
            )
        }));
        let ids: Vec<Value> = subjects
            .iter()
            .map(|subject| Value::String(subject.object.object_id.clone()))
            .collect();
        if let Some(fields) = current.as_object_mut() {
            if ids.is_empty() {
                fields.remove("assignees");
            } else {
                fields.insert("assignees".to_owned(), Value::Array(ids));
            }
        }
        let content =
            Bytes::from(
                serde_json::to_vec(&current).map_err(|error| FsError::Internal {
                    message: error.to_string(),
                })?,
            );
        let mutation = self
            .store
            .stage_write(WriteRequest {
                org: org.clone(),
                path: path.clone(),
                content,
                precondition: Precondition::IfMatch(node.etag()),
                create_parents: false,
                author: context.principal.to_string(),
                at: Timestamp::now(),
            })
            .await?;
        let (_, applied) = self
            .commit
            .write_with(context, updates, Vec::new(), vec![mutation])
            .await?;
        let node = applied_node(applied)?;
        Ok(self.item_of(&org, &key, &node, current))
    }

    /// The caller's effective protocols: the organization's (`UNIV`) overridden, name by
    /// name, by the caller's own.
    pub async fn resolve_workflow(
        self,
        context: &CallContext,
        org: &str,
    ) -> Result<ResolvedWorkflow, FsError> {
        let mut resolved: BTreeMap<String, ResolvedProtocol> = BTreeMap::new();
        let own = self.own_scope(context).ok();
        let mut scopes = vec![Scope::Universal];
        scopes.extend(own);
        for scope in scopes {
            let mut cursor = None;
            loop {
                let page = self
                    .list(
                        context,
                        org,
                        ItemQuery {
                            env: Some(Environment::Workflow.as_str().to_owned()),
                            scope: Some(scope.to_string()),
                            cursor: cursor.take(),
                            limit: Some(MAX_PAGE_SIZE),
                            ..ItemQuery::default()
                        },
                    )
                    .await?;
                for item in page.items {
                    let Some(name) = item.data.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let overrides = match resolved.get(name) {
                        Some(earlier) if earlier.source == "UNIV" && scope != Scope::Universal => {
                            vec![earlier.key.clone()]
                        }
                        // Two protocols of one name in one scope: the later key wins.
                        Some(earlier) => earlier.overrides.clone(),
                        None => Vec::new(),
                    };
                    resolved.insert(
                        name.to_owned(),
                        ResolvedProtocol {
                            name: name.to_owned(),
                            source: item.scope.clone(),
                            key: item.key,
                            overrides,
                            data: item.data,
                        },
                    );
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(ResolvedWorkflow {
            protocols: resolved.into_values().collect(),
        })
    }

    /// Removes Temp items that expired by `now`, in every organization. Each removal is its
    /// own operation, only of the version that was seen expired.
    pub async fn remove_expired(self, now: DateTime<Utc>) -> Result<Vec<String>, FsError> {
        let mut removed = Vec::new();
        for org in self.files().store_org_ids().await? {
            let folder = VfsPath::parse(&format!("{}/temp", items_root(&org)?))?;
            for node in self.all_nodes(&folder, true).await? {
                if node.is_dir() {
                    continue;
                }
                let Ok((_, key)) = ItemKey::from_path(&node.path) else {
                    continue;
                };
                let Ok(data) = self.data_of(&node).await else {
                    continue;
                };
                if data::expires_at(key.env, &data).is_none_or(|at| at > now) {
                    continue;
                }
                match self
                    .remove_item(
                        &CallContext::system(),
                        &org,
                        &node.path,
                        Some(node.etag()),
                        None,
                    )
                    .await
                {
                    Ok(()) => {
                        tracing::info!(%org, %key, "removed an expired Temp item");
                        removed.push(key.to_string());
                    }
                    Err(error) => {
                        tracing::debug!(%key, %error, "an expired item stays until the next pass");
                    }
                }
            }
        }
        Ok(removed)
    }

    /// The offer to share a new item with the session the caller works in, when that is an
    /// active group session the item is not created in.
    async fn sharing_hint(
        self,
        context: &CallContext,
        org: &OrgId,
        session: &str,
        scope: &Scope,
    ) -> Result<Option<SharingHint>, FsError> {
        let session = parse_session_id(session)?;
        let record = self.session_record(context, org, &session).await?;
        if !record.active
            || record.session_type != nexus_api::items::SessionType::Group
            || *scope == Scope::Session(session.clone())
        {
            return Ok(None);
        }
        Ok(Some(SharingHint {
            message: format!(
                "you are working in the group session \"{}\": share this item with its members?",
                record.title
            ),
            session: record.stable_id,
            title: record.title,
            members: record.members,
        }))
    }

    /// Refuses a profile whose `manager` or `subordinates` differ from the reporting line:
    /// only organization admins set it.
    fn check_profile_fields(
        self,
        org: &OrgId,
        key: &ItemKey,
        stored: &Value,
    ) -> Result<(), FsError> {
        let line = match &key.scope {
            Scope::User(user) => self.reporting_line_of(org, user),
            _ => nexus_api::items::ReportingLine {
                user: String::new(),
                manager: None,
                subordinates: Vec::new(),
            },
        };
        let manager = stored.get("manager").and_then(Value::as_str);
        let manager_ok = manager.is_none_or(|manager| {
            line.manager.as_deref() == Some(manager)
                || line
                    .manager
                    .as_deref()
                    .is_some_and(|id| self.registry.user_id(manager).as_deref() == Some(id))
        });
        let subordinates_ok = stored.get("subordinates").is_none_or(|given| {
            let mut given: Vec<String> = given
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|text| {
                            self.registry
                                .user_id(text)
                                .unwrap_or_else(|| text.to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            given.sort();
            given == line.subordinates
        });
        if manager_ok && subordinates_ok {
            Ok(())
        } else {
            Err(FsError::PermissionDenied {
                principal: "a profile's owner".to_owned(),
                permission: "set `manager` or `subordinates` (an organization admin sets the reporting line with PUT /api/orgs/{org}/users/{user}/manager) in",
                path: key.path(org)?,
            })
        }
    }

    /// One profile per person and organization.
    async fn refuse_second_profile(self, org: &OrgId, key: &ItemKey) -> Result<(), FsError> {
        let folder = scope_folder(org, key.env, &key.scope)?;
        if self.store.node(&folder).await?.is_none() {
            return Ok(());
        }
        let existing = self
            .store
            .list(&ListQuery {
                dir: folder,
                recursive: true,
                after: None,
                limit: MAX_PAGE_SIZE,
            })
            .await?;
        if let Some(node) = existing.iter().find(|node| !node.is_dir()) {
            let existing = ItemKey::from_path(&node.path)
                .map(|(_, key)| key.to_string())
                .unwrap_or_default();
            return Err(FsError::Conflict {
                message: format!(
                    "`{}` already has a profile here, `{existing}`: update it instead",
                    key.scope
                ),
            });
        }
        Ok(())
    }
}

/// What people call an item: its data's `title` or `name`, when it has one.
fn item_title(data: &Value) -> Option<&str> {
    ["title", "name"]
        .iter()
        .find_map(|field| data.get(*field).and_then(Value::as_str))
        .filter(|title| !title.trim().is_empty())
}

/// The node a staged write produced.
fn applied_node(applied: Vec<nexus_store::Applied>) -> Result<Node, FsError> {
    applied
        .into_iter()
        .next()
        .and_then(|applied| applied.node)
        .ok_or_else(|| FsError::Internal {
            message: "a committed item write returned no file".to_owned(),
        })
}

/// Tree order: segment by segment (a folder's entries by name, each followed by what is
/// beneath it).
fn tree_order(a: &VfsPath, b: &VfsPath) -> std::cmp::Ordering {
    a.as_str().split('/').cmp(b.as_str().split('/'))
}

/// Where to start among the `entries` of `dir` to continue after `after` (a path beneath
/// `dir`): at the entry leading to it when `after` lies deeper, else past it.
fn resume_index(entries: &[Node], dir: &VfsPath, after: &VfsPath) -> usize {
    let Some(rest) = after
        .as_str()
        .strip_prefix(dir.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return 0;
    };
    let (name, deeper) = match rest.split_once('/') {
        Some((name, _)) => (name, true),
        None => (rest, false),
    };
    let index = entries.partition_point(|node| node.path.name() < name);
    match entries.get(index) {
        Some(node) if node.path.name() == name && !deeper => index + 1,
        _ => index,
    }
}

/// The position of an environment in listings.
fn env_index(env: Environment) -> usize {
    Environment::ALL
        .iter()
        .position(|candidate| *candidate == env)
        .unwrap_or(usize::MAX)
}

/// A new item id: twelve of `[0-9a-z]`.
fn random_id() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..12)
        .filter_map(|_| char::from_digit(rng.random_range(0..36), 36))
        .collect()
}
