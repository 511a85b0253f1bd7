//! The audit log: one log per organization plus the system log, append-only. Front ends
//! record what callers did (`record`); organization admins read their organization's log and
//! the system administrator every log (`list`); retention prunes it (`prune`). Nothing else
//! changes it: no route writes, edits or deletes entries.

use chrono::{DateTime, Utc};
use nexus_api::audit::{AuditEntry, AuditPage, AuditQuery};
use nexus_path::{OrgId, VfsPath};
use nexus_store::{AuditRecord, Mutation, Timestamp};

use super::{Audit, Fs};
use crate::authz::Permission;
use crate::authz::tokens::Scope as TokenScope;
use crate::error::FsError;
use crate::principal::{CallContext, Principal};

/// Entries per page when the caller does not say.
const DEFAULT_LIMIT: usize = 100;
/// Most entries per page.
const MAX_LIMIT: usize = 1000;

/// The name of the system log in queries.
pub const SYSTEM_LOG: &str = "system";

fn timestamp(field: &str, text: &str) -> Result<Timestamp, FsError> {
    let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
        FsError::invalid(format!(
            "`{field}` must be an RFC 3339 time such as 2026-12-07T10:00:00Z"
        ))
    })?;
    let micros = at.with_timezone(&Utc).timestamp_micros();
    Ok(Timestamp(micros))
}

impl Audit<'_> {
    /// Appends entries to the log; they are durable when this returns.
    pub async fn record(self, entries: Vec<AuditRecord>) -> Result<(), FsError> {
        if entries.is_empty() || self.authz.faults().drop_audit_entries() {
            return Ok(());
        }
        self.store.apply(Mutation::AppendAudit { entries }).await?;
        Ok(())
    }

    /// A page of the entries the caller may read: the system administrator reads every log
    /// (or one, with `org`; `org=system` is the system log), an organization's admins its
    /// log (`org` is then required). Anyone else is refused.
    pub async fn list(
        self,
        context: &CallContext,
        query: AuditQuery,
    ) -> Result<AuditPage, FsError> {
        let log: Option<Option<OrgId>> = match query.org.as_deref() {
            None => None,
            Some(SYSTEM_LOG) => Some(None),
            Some(text) => {
                Some(Some(OrgId::parse(text).map_err(|error| {
                    FsError::invalid(format!("`org`: {error}"))
                })?))
            }
        };
        if context.principal != Principal::System {
            let Some(Some(org)) = &log else {
                return Err(FsError::invalid(
                    "name the organization whose audit log to read (`org`); only the system administrator reads every log",
                ));
            };
            if !context.covers(org) {
                return Err(FsError::WrongOrganization {
                    path: VfsPath::org_root(org),
                });
            }
            self.authorize(context, &VfsPath::org_root(org), Permission::Manage)?;
        }
        // A cursor is sealed with the query it pages (caller, log and filters, but not the
        // position or page size), so it answers that query only.
        let fingerprint = blake3::hash(
            serde_json::json!([
                context.principal.to_string(),
                query.org,
                query.actor,
                query.path_prefix,
                query.action,
                query.since,
                query.until,
            ])
            .to_string()
            .as_bytes(),
        );
        let scope = TokenScope::Caller(format!("audit:{}", fingerprint.to_hex()));
        let after = super::cursor::position(
            self.authz.keys(),
            query.cursor.as_deref(),
            &scope,
            "another audit query (same filters needed)",
        )?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let actor = query
            .actor
            .as_deref()
            .map(|actor| self.actor_subject(actor));
        let records = self
            .store
            .audit(&nexus_store::AuditQuery {
                org: log,
                actor,
                action: query.action.clone(),
                target_prefix: query.path_prefix.clone(),
                since: query
                    .since
                    .as_deref()
                    .map(|text| timestamp("since", text))
                    .transpose()?,
                until: query
                    .until
                    .as_deref()
                    .map(|text| timestamp("until", text))
                    .transpose()?,
                after,
                limit: limit + 1,
            })
            .await?;
        let more = records.len() > limit;
        let entries: Vec<AuditRecord> = records.into_iter().take(limit).collect();
        let next_cursor = more
            .then(|| {
                entries
                    .last()
                    .map(|last| self.authz.keys().issue(&scope, last.seq))
            })
            .flatten();
        Ok(AuditPage {
            entries: entries.iter().map(|record| self.entry_of(record)).collect(),
            next_cursor,
        })
    }

    /// Deletes entries recorded more than `keep` ago (the retention setting).
    pub async fn prune(self, keep: std::time::Duration) -> Result<(), FsError> {
        let keep = i64::try_from(keep.as_micros()).unwrap_or(i64::MAX);
        let before = Timestamp(Timestamp::now().as_micros().saturating_sub(keep));
        self.store.apply(Mutation::PruneAudit { before }).await?;
        Ok(())
    }

    /// The subject an actor filter names, as entries store it (stable ids).
    fn actor_subject(self, text: &str) -> String {
        match Principal::parse(text) {
            Ok(principal) => self.resolve_principal(principal).to_string(),
            Err(_) => text.to_owned(),
        }
    }

    fn entry_of(self, record: &AuditRecord) -> AuditEntry {
        AuditEntry {
            at: crate::format_timestamp(record.at),
            org: record.org.as_ref().map(ToString::to_string),
            actor: self.display_subject(&record.actor),
            on_behalf_of: record
                .on_behalf_of
                .as_deref()
                .map(|subject| self.display_subject(subject)),
            action: record.action.clone(),
            target: record.target.clone(),
            outcome: record.outcome.clone(),
            request_id: record.request_id.clone(),
            client: record.client.clone(),
            user_agent: record.user_agent.clone(),
        }
    }
}

impl Fs {
    /// Records the system administrator's access to someone's personal knowledge item (a
    /// locker read explicitly), in the organization's log, before the answer is given.
    pub(crate) async fn audit_private_access(
        &self,
        context: &CallContext,
        org: &OrgId,
        key: &nexus_knowledge::ItemKey,
        what: &str,
    ) -> Result<(), FsError> {
        use nexus_knowledge::{Environment, Scope};
        if context.principal != Principal::System
            || !matches!(key.scope, Scope::User(_) | Scope::Agent(_))
        {
            return Ok(());
        }
        let action = if key.env == Environment::Locker && what == "read" {
            "locker_read".to_owned()
        } else {
            format!("private_{what}")
        };
        self.audit_private(context, org, &action, key.to_string())
            .await
    }

    /// Records the system administrator's read of a file that is someone's personal
    /// knowledge item (through the files API: the file holds a sealed secret, never a clear
    /// one, but the access is recorded all the same).
    pub(crate) async fn audit_private_file(
        &self,
        context: &CallContext,
        path: &VfsPath,
        action: &str,
    ) -> Result<(), FsError> {
        if context.principal != Principal::System {
            return Ok(());
        }
        let text = path.to_string();
        let Some(place) = nexus_knowledge::Place::of(&text) else {
            return Ok(());
        };
        let personal = place.scope.is_some_and(|scope| {
            matches!(
                nexus_knowledge::Scope::parse(scope),
                Ok(nexus_knowledge::Scope::User(_) | nexus_knowledge::Scope::Agent(_))
            )
        });
        let Ok(org) = OrgId::parse(place.org) else {
            return Ok(());
        };
        if personal {
            self.audit_private(context, &org, action, text.clone())
                .await?;
        }
        Ok(())
    }

    /// Records that the system administrator did `action` to someone's personal data
    /// `target` in `org` (its organization's log), before the answer is given.
    pub(crate) async fn audit_private(
        &self,
        context: &CallContext,
        org: &OrgId,
        action: &str,
        target: String,
    ) -> Result<(), FsError> {
        tracing::info!(target: "nexus::audit", %target, %action, "system administrator accessed personal data");
        self.audit()
            .record(vec![AuditRecord {
                org: Some(org.clone()),
                at: Timestamp::now(),
                actor: context.principal.to_string(),
                action: action.to_owned(),
                target,
                outcome: "ok".to_owned(),
                request_id: context
                    .origin
                    .as_ref()
                    .map(|origin| origin.request_id.clone()),
                client: context
                    .origin
                    .as_ref()
                    .and_then(|origin| origin.client.clone()),
                user_agent: context
                    .origin
                    .as_ref()
                    .and_then(|origin| origin.user_agent.clone()),
                ..AuditRecord::default()
            }])
            .await
    }
}
