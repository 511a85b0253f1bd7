//! The change feed: an organization's committed changes to files and knowledge items, in
//! order, each shown to a caller only if the caller may read what it is about **when the
//! feed is read** (so a revocation hides later and earlier events of that object alike, and
//! nobody learns of a change to something they cannot read).
//!
//! The store records the changes in the transaction of the mutation that made them
//! (`nexus_store::ChangeRecord`); this service pages through them and filters. A move is
//! shown as a move when the caller may read both ends, as the creation of its destination
//! or the removal of its source when only one, and not at all otherwise.

use nexus_api::changes::{Change, ChangePage, ChangeQuery};
use nexus_path::{OrgId, VfsPath};
use nexus_store::ChangeRecord;

use super::{Changes, Fs};
use crate::authz::Permission;
use crate::authz::tokens::Scope as TokenScope;
use crate::error::FsError;
use crate::principal::CallContext;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Records read from the store per batch while filling a page.
const SCAN_BATCH: usize = 1000;
/// Most records one page reads: a page may come back short (even empty) when the caller
/// sees little; its cursor continues after what was read.
const SCAN_LIMIT: usize = 20_000;

impl Changes<'_> {
    /// A page of the changes of `org` the caller may see, after `query.cursor`.
    pub async fn list(
        self,
        context: &CallContext,
        org: &str,
        query: &ChangeQuery,
    ) -> Result<ChangePage, FsError> {
        let org = self.feed_org(context, org)?;
        let scope = Self::cursor_scope(context, &org);
        let after = super::cursor::position(
            self.authz.keys(),
            query.cursor.as_deref(),
            &scope,
            "another caller or organization",
        )?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let (changes, last) = self.after(context, &org, after, limit).await?;
        Ok(ChangePage {
            changes,
            next_cursor: self.authz.keys().issue(&scope, last),
        })
    }

    /// Up to `limit` changes of `org` after revision `after` that the caller may see, and
    /// the last revision read (continue after it).
    pub async fn after(
        self,
        context: &CallContext,
        org: &OrgId,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Change>, u64), FsError> {
        let mut shown = Vec::new();
        let mut last = after;
        let mut scanned = 0;
        while shown.len() < limit && scanned < SCAN_LIMIT {
            let batch = self
                .store
                .file_changes(&nexus_store::ChangeQuery {
                    org: org.clone(),
                    after: last,
                    limit: SCAN_BATCH,
                })
                .await?;
            let full = batch.len() == SCAN_BATCH;
            for record in batch {
                if shown.len() == limit {
                    break;
                }
                last = record.revision;
                scanned += 1;
                if let Some(change) = self.visible(context, &record)? {
                    shown.push(change);
                }
            }
            if !full {
                break;
            }
        }
        Ok((shown, last))
    }

    /// The organization of a feed: the caller must belong to it (or be the system).
    pub fn feed_org(self, context: &CallContext, org: &str) -> Result<OrgId, FsError> {
        let org = Fs::org_of_context(context, org)?;
        if !self.authz.member(context, &org)? {
            return Err(FsError::WrongOrganization {
                path: VfsPath::org_root(&org),
            });
        }
        Ok(org)
    }

    fn cursor_scope(context: &CallContext, org: &OrgId) -> TokenScope {
        TokenScope::Caller(format!("changes:{}:{org}", context.principal))
    }

    /// The change as the caller may see it, or `None`.
    fn visible(
        self,
        context: &CallContext,
        record: &ChangeRecord,
    ) -> Result<Option<Change>, FsError> {
        let unfiltered = self.authz.faults().unfiltered_changes();
        let reads = |path: &VfsPath| -> Result<bool, FsError> {
            Ok(unfiltered || self.authz.allowed(context, path, Permission::Read)?)
        };
        let (action, path, to) = match &record.to {
            Some(to) => match (reads(&record.path)?, reads(to)?) {
                (true, true) => ("moved", &record.path, Some(to)),
                (false, true) => ("created", to, None),
                (true, false) => ("removed", &record.path, None),
                (false, false) => return Ok(None),
            },
            None if reads(&record.path)? => (record.action.as_str(), &record.path, None),
            None => return Ok(None),
        };
        let key = nexus_knowledge::ItemKey::from_path(path)
            .ok()
            .map(|(_, key)| key.to_string());
        Ok(Some(Change {
            revision: record.revision,
            action: action.to_owned(),
            path: key.is_none().then(|| path.to_string()),
            key,
            to: to.map(ToString::to_string),
            at: crate::format_timestamp(record.at),
            author: record
                .author
                .as_deref()
                .map(|author| self.display_subject(author)),
        }))
    }

    /// Changes after every commit (to anything): a feed's stream waits on it, then reads.
    pub fn subscribe(self) -> tokio::sync::watch::Receiver<u64> {
        self.store.subscribe_commits()
    }
}
