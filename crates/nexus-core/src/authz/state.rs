//! The committed permission state: the engine (schema and relationships) and the revisions
//! that say what changed when. The [`super::Authorizer`] reads it; only the unit of work
//! ([`crate::commit::UnitOfWork`]) changes it, after the change is durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use nexus_path::OrgId;
use nexus_rebac::{
    Engine, EngineConfig, Operation, RelationshipUpdate, Schema, WriteOutcome, WritePlan,
};
use nexus_store::{AuthorizationSnapshot, ChangeOperation, RecordedChange};
use parking_lot::RwLock;

use super::{org_of, schema, tokens};
use crate::error::FsError;

/// See the module documentation.
#[derive(Debug)]
pub struct PermissionState {
    pub(crate) engine: RwLock<Engine>,
    /// Whether the schema is a deployment's own (else the default).
    pub(crate) custom_schema: RwLock<bool>,
    /// Per organization, the last revision that changed one of its relationships.
    pub(crate) org_revisions: RwLock<HashMap<OrgId, u64>>,
    /// The last revision that changed something of no organization (a deployment's own
    /// types) or the schema: it can change any organization's answers.
    pub(crate) shared_revision: AtomicU64,
}

impl PermissionState {
    /// The state as persisted, and the keys of tokens and cursors (from the store's server
    /// key).
    pub fn load(
        snapshot: AuthorizationSnapshot,
        config: EngineConfig,
    ) -> Result<(PermissionState, tokens::Keys), FsError> {
        let custom = snapshot.schema.is_some();
        let source = snapshot.schema.as_deref().unwrap_or(schema::DEFAULT_SCHEMA);
        let parsed = Schema::parse(source)?;
        let mut engine = Engine::new(parsed, config);
        for derived in schema::derived_relations() {
            if schema::is_optional_derived(&derived) {
                engine.declare_derived_relation(derived);
            } else {
                engine.add_derived_relation(derived)?;
            }
        }
        engine.reserve(snapshot.relationships.len());
        let rejected = engine.load(
            snapshot
                .relationships
                .into_iter()
                .map(|(relationship, _)| relationship),
        );
        for (relationship, error) in &rejected {
            tracing::warn!(%relationship, %error, "stored relationship does not fit the schema; ignored");
        }
        engine.set_revision(snapshot.revision);
        let keys = tokens::Keys::new(&snapshot.server_key);
        Ok((
            PermissionState {
                engine: RwLock::new(engine),
                custom_schema: RwLock::new(custom),
                org_revisions: RwLock::new(snapshot.org_revisions.into_iter().collect()),
                shared_revision: AtomicU64::new(snapshot.revision),
            },
            keys,
        ))
    }

    /// Applies a plan whose changes are durable, and records which organizations (or all
    /// of them) it changed.
    pub(crate) fn apply_committed(&self, plan: WritePlan) -> Result<WriteOutcome, FsError> {
        let orgs: Vec<OrgId> = plan
            .changes
            .iter()
            .filter_map(|change| org_of(&change.relationship))
            .collect();
        let shared_change = orgs.len() < plan.changes.len();
        let outcome = self.engine.write().apply(plan)?;
        if shared_change {
            self.shared_revision
                .fetch_max(outcome.revision, Ordering::Release);
        }
        let mut org_revisions = self.org_revisions.write();
        for org in orgs {
            org_revisions.insert(org, outcome.revision);
        }
        Ok(outcome)
    }

    /// Applies changes another node committed, as the change log recorded them, revision by
    /// revision; revisions already in force are skipped. Returns `false` (and stops) at a
    /// revision that does not follow the state's: a schema replacement came between, which
    /// the log does not hold (reload the state).
    pub(crate) fn apply_recorded(&self, changes: &[RecordedChange]) -> Result<bool, FsError> {
        for batch in changes.chunk_by(|a, b| a.revision == b.revision) {
            let Some(revision) = batch.first().map(|change| change.revision) else {
                continue;
            };
            let current = self.engine.read().revision();
            if revision <= current {
                continue;
            }
            if revision != current + 1 {
                return Ok(false);
            }
            let updates: Vec<RelationshipUpdate> = batch
                .iter()
                .map(|recorded| RelationshipUpdate {
                    operation: match recorded.change.operation {
                        ChangeOperation::Touch => Operation::Touch,
                        ChangeOperation::Delete => Operation::Delete,
                    },
                    relationship: recorded.change.relationship.clone(),
                })
                .collect();
            let plan = self.engine.write().plan(&updates, &[], super::now())?;
            self.apply_committed(plan)?;
        }
        Ok(true)
    }

    /// Replaces the whole state with a fresh snapshot (a node that fell behind a schema
    /// replacement). The keys stay: the server key never changes.
    pub(crate) fn reload(&self, snapshot: AuthorizationSnapshot) -> Result<(), FsError> {
        let (fresh, _keys) = PermissionState::load(snapshot, EngineConfig::default())?;
        let mut engine = self.engine.write();
        *engine = fresh.engine.into_inner();
        *self.custom_schema.write() = fresh.custom_schema.into_inner();
        *self.org_revisions.write() = fresh.org_revisions.into_inner();
        self.shared_revision
            .fetch_max(fresh.shared_revision.into_inner(), Ordering::Release);
        Ok(())
    }

    /// Puts a durable schema replacement in force as `revision`.
    pub(crate) fn replace_schema_committed(
        &self,
        parsed: Schema,
        revision: u64,
    ) -> Result<(), FsError> {
        let mut engine = self.engine.write();
        engine.replace_schema(parsed)?;
        engine.set_revision(revision);
        self.shared_revision.fetch_max(revision, Ordering::Release);
        *self.custom_schema.write() = true;
        Ok(())
    }
}
