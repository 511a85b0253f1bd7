//! The one commit path: the unit of work that persists file mutations and relationship
//! changes together, as one revision in one transaction, and only then puts them in force
//! in the permission state. Every change of relationships, the schema, or a file change that
//! carries relationships along (moves, removals, membership) goes through here; decisions
//! are the [`crate::authz::Authorizer`]'s and happen before.

use std::collections::BTreeSet;
use std::sync::Arc;

use nexus_path::{OrgId, VfsPath};
use nexus_rebac::{
    CheckRequest, CheckResult, ObjectRef, Operation, Relationship, RelationshipFilter,
    RelationshipUpdate, Schema, SubjectRef, WriteOutcome, WritePrecondition,
};
use nexus_store::{
    ChangeOperation, Mutation, Rejection, RelationshipBatch, RelationshipChange, Store,
};

use crate::authz::{PermissionState, now, org_of, org_of_object, schema};
use crate::error::FsError;
use crate::principal::CallContext;

/// How many times a write is planned again after another node committed first.
const REPLANS: usize = 8;
/// Changes read from the change log at a time while catching up.
const CATCH_UP_PAGE: usize = 10_000;

/// See the module documentation.
#[derive(Debug)]
pub struct UnitOfWork {
    state: Arc<PermissionState>,
    store: Store,
    /// Serializes plans: each is made against the state the previous one left.
    writes: tokio::sync::Mutex<()>,
}

impl UnitOfWork {
    /// The commit path into `store` for `state`.
    pub fn new(state: Arc<PermissionState>, store: Store) -> Self {
        UnitOfWork {
            state,
            store,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// Plans, persists (with `mutations`, atomically) and applies relationship updates.
    /// Returns what changed; with no change, nothing is written and the revision stays.
    pub async fn write(
        &self,
        context: &CallContext,
        updates: Vec<RelationshipUpdate>,
        preconditions: Vec<WritePrecondition>,
    ) -> Result<WriteOutcome, FsError> {
        Ok(self
            .write_with(context, updates, preconditions, Vec::new())
            .await?
            .0)
    }

    /// Like [`UnitOfWork::write`], committing `mutations` in the same transaction.
    pub async fn write_with(
        &self,
        context: &CallContext,
        updates: Vec<RelationshipUpdate>,
        preconditions: Vec<WritePrecondition>,
        mutations: Vec<Mutation>,
    ) -> Result<(WriteOutcome, Vec<nexus_store::Applied>), FsError> {
        let _serialized = self.writes.lock().await;
        let _ = context;
        self.commit_planned(
            |engine| {
                let plan = engine.plan(&updates, &preconditions, now())?;
                check_tenancy(engine, &plan.changes)?;
                Ok(plan)
            },
            mutations,
        )
        .await
    }

    /// Commits relationship updates and mutations that only rename what is stored (a
    /// migration giving principals stable ids): the tenancy check is skipped, since a renamed
    /// relationship was admitted when it was first written and must not be dropped now.
    pub(crate) async fn write_renames(
        &self,
        updates: Vec<RelationshipUpdate>,
        mutations: Vec<Mutation>,
    ) -> Result<WriteOutcome, FsError> {
        let _serialized = self.writes.lock().await;
        Ok(self
            .commit_planned(|engine| Ok(engine.plan(&updates, &[], now())?), mutations)
            .await?
            .0)
    }

    /// Plans deleting every relationship matching `filter`, then persists and applies it.
    pub async fn delete_matching(
        &self,
        filter: &RelationshipFilter,
        preconditions: Vec<WritePrecondition>,
    ) -> Result<WriteOutcome, FsError> {
        let _serialized = self.writes.lock().await;
        Ok(self
            .commit_planned(
                |engine| Ok(engine.plan_delete_matching(filter, &preconditions, now())?),
                Vec::new(),
            )
            .await?
            .0)
    }

    /// Commits a file mutation that removes (`new_root: None`) or moves the subtree at
    /// `root`, together with the matching change to every relationship on the subtree: they
    /// are deleted, or move along to `new_root`. Relationships already on `new_root`'s
    /// subtree (a replaced file) are deleted. Relationships in `keep` (those an organization's
    /// record gives) stay where they are. Returns what the mutations did.
    pub async fn rekey_subtree(
        &self,
        root: &VfsPath,
        new_root: Option<&VfsPath>,
        keep: &[Relationship],
        mutations: Vec<Mutation>,
    ) -> Result<Vec<nexus_store::Applied>, FsError> {
        let kept = |relationship: &Relationship| {
            keep.iter().any(|kept| {
                kept.resource == relationship.resource
                    && kept.relation == relationship.relation
                    && kept.subject == relationship.subject
            })
        };
        let _serialized = self.writes.lock().await;
        let subtree = |path: &VfsPath| RelationshipFilter {
            resource_type: Some("file".to_owned()),
            resource_subtree: Some(path.to_string()),
            ..RelationshipFilter::default()
        };
        let plan = |engine: &mut nexus_rebac::Engine| {
            let mut updates = LastWordWins::default();
            if let Some(new_root) = new_root {
                for relationship in engine.read(&subtree(new_root), None, usize::MAX, i64::MIN) {
                    if kept(&relationship) {
                        continue;
                    }
                    updates.push(Operation::Delete, relationship);
                }
            }
            for relationship in engine.read(&subtree(root), None, usize::MAX, i64::MIN) {
                if kept(&relationship) {
                    continue;
                }
                updates.push(Operation::Delete, relationship.clone());
                let moved = new_root.and_then(|new_root| {
                    VfsPath::parse(&relationship.resource.object_id)
                        .ok()
                        .and_then(|path| path.rebase(root, new_root))
                });
                if let Some(moved) = moved {
                    let mut renamed = relationship;
                    renamed.resource.object_id = moved.to_string();
                    updates.push(Operation::Touch, renamed);
                }
            }
            Ok(engine.plan(&updates.updates, &[], now())?)
        };
        Ok(self.commit_planned(plan, mutations).await?.1)
    }

    /// Commits an imported organization: `mutations` (its store state) together with its
    /// relationships, which replace every relationship the organization has. The archive's
    /// relationships were checked to stay inside the organization before (see
    /// `fs/archive.rs`); the engine still checks them against the schema.
    pub(crate) async fn import_org(
        &self,
        org: &OrgId,
        relationships: Vec<Relationship>,
        mutations: Vec<Mutation>,
    ) -> Result<Vec<nexus_store::Applied>, FsError> {
        let _serialized = self.writes.lock().await;
        let plan = |engine: &mut nexus_rebac::Engine| {
            // The archive's word wins over a stored relationship's deletion.
            let mut updates = LastWordWins::default();
            for relationship in org_relationships(engine, org) {
                updates.push(Operation::Delete, relationship);
            }
            for relationship in &relationships {
                updates.push(Operation::Touch, relationship.clone());
            }
            Ok(engine.plan(&updates.updates, &[], now())?)
        };
        Ok(self.commit_planned(plan, mutations).await?.1)
    }

    /// Every stored relationship of `org` (expired ones too).
    pub(crate) fn relationships_of(&self, org: &OrgId) -> Vec<Relationship> {
        org_relationships(&self.state.engine.read(), org)
    }

    /// Plans against the current state, persists and applies; when another node committed
    /// a revision first (the store refuses the plan's revision), catches up from the
    /// change log and plans again, a few times. Call with `writes` held.
    async fn commit_planned(
        &self,
        plan: impl Fn(&mut nexus_rebac::Engine) -> Result<nexus_rebac::WritePlan, FsError>,
        mutations: Vec<Mutation>,
    ) -> Result<(WriteOutcome, Vec<nexus_store::Applied>), FsError> {
        // Nodes sharing the store take turns: within its turn, a node that caught up plans
        // against what every node committed.
        let turn = self.store.relationship_turn().await?;
        let shared = turn.is_some();
        let outcome = async {
            if shared {
                self.catch_up_locked().await?;
            }
            let mut attempt = 0;
            loop {
                let planned = plan(&mut self.state.engine.write())?;
                match self.persist_and_apply(planned, mutations.clone()).await {
                    Err(FsError::Rejected(Rejection::RevisionConflict { .. }))
                        if attempt < REPLANS =>
                    {
                        attempt += 1;
                        self.catch_up_locked().await?;
                    }
                    outcome => return outcome,
                }
            }
        }
        .await;
        if let Some(turn) = turn {
            turn.release().await;
        }
        outcome
    }

    /// Puts in force what other nodes sharing the store committed since this node's
    /// revision (relationships from the change log; the whole state again after a schema
    /// replacement). Returns the revision now in force.
    pub async fn catch_up(&self) -> Result<u64, FsError> {
        // Most polls find nothing new: they need not wait for (or hold up) local writers.
        let stored = self.store.authorization_revision().await?;
        let current = self.state.engine.read().revision();
        if stored <= current {
            return Ok(current);
        }
        let _serialized = self.writes.lock().await;
        self.catch_up_locked().await
    }

    /// Like [`UnitOfWork::catch_up`], unless a local write is under way (it catches up
    /// itself, within its turn): then nothing, rather than waiting behind it.
    pub async fn try_catch_up(&self) -> Result<(), FsError> {
        let stored = self.store.authorization_revision().await?;
        if stored <= self.state.engine.read().revision() {
            return Ok(());
        }
        let Ok(_serialized) = self.writes.try_lock() else {
            return Ok(());
        };
        self.catch_up_locked().await.map(drop)
    }

    async fn catch_up_locked(&self) -> Result<u64, FsError> {
        let stored = self.store.authorization_revision().await?;
        loop {
            let current = self.state.engine.read().revision();
            if current >= stored {
                return Ok(current);
            }
            let changes = self
                .store
                .relationship_changes(current, CATCH_UP_PAGE)
                .await?;
            let followed = self.state.apply_recorded(&changes)?;
            let reached = self.state.engine.read().revision();
            if !followed || (changes.is_empty() && reached < stored) {
                // A schema replacement (not in the log) came between: load it all again.
                tracing::info!(
                    from = reached,
                    to = stored,
                    "reloading the permission state"
                );
                self.state.reload(self.store.load_authorization().await?)?;
                return Ok(self.state.engine.read().revision());
            }
        }
    }

    async fn persist_and_apply(
        &self,
        plan: nexus_rebac::WritePlan,
        mut mutations: Vec<Mutation>,
    ) -> Result<(WriteOutcome, Vec<nexus_store::Applied>), FsError> {
        if plan.changes.is_empty() {
            let applied = if mutations.is_empty() {
                Vec::new()
            } else {
                self.store.apply_group(mutations).await?
            };
            let revision = self.state.engine.read().revision();
            return Ok((
                WriteOutcome {
                    revision,
                    changes: Vec::new(),
                },
                applied,
            ));
        }
        let changes = plan
            .changes
            .iter()
            .map(|change| RelationshipChange {
                operation: match change.operation {
                    Operation::Delete => ChangeOperation::Delete,
                    Operation::Create | Operation::Touch => ChangeOperation::Touch,
                },
                org: org_of(&change.relationship),
                relationship: change.relationship.clone(),
            })
            .collect();
        mutations.push(Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: plan.revision(),
                changes,
            },
        });
        let applied = self.store.apply_group(mutations).await?;
        let outcome = self.state.apply_committed(plan)?;
        Ok((outcome, applied))
    }

    /// Replaces the schema (validated, checked against the filesystem's contract, and
    /// refused if relationships would lose their relation).
    pub async fn write_schema(&self, source: &str) -> Result<u64, FsError> {
        let parsed = Schema::parse(source)?;
        schema::check_contract(&parsed).map_err(|error| FsError::invalid(error.to_string()))?;
        let _serialized = self.writes.lock().await;
        let turn = self.store.relationship_turn().await?;
        let outcome = self
            .write_schema_in_turn(parsed, source, turn.is_some())
            .await;
        if let Some(turn) = turn {
            turn.release().await;
        }
        outcome
    }

    async fn write_schema_in_turn(
        &self,
        parsed: Schema,
        source: &str,
        shared: bool,
    ) -> Result<u64, FsError> {
        if shared {
            self.catch_up_locked().await?;
        }
        let mut attempt = 0;
        loop {
            let revision = {
                let engine = self.state.engine.read();
                engine.check_schema_replacement(&parsed)?;
                engine.revision() + 1
            };
            match self
                .store
                .apply(Mutation::SetAuthorizationSchema {
                    source: source.to_owned(),
                    revision,
                })
                .await
            {
                Ok(_) => {
                    self.state.replace_schema_committed(parsed, revision)?;
                    return Ok(revision);
                }
                Err(nexus_store::Error::Rejected(Rejection::RevisionConflict { .. }))
                    if attempt < REPLANS =>
                {
                    attempt += 1;
                    self.catch_up_locked().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// A relationship inside an organization may only name subjects of that organization:
/// members (users, agents) and its own groups. Membership relationships themselves, and
/// wildcards (which membership limits anyway), are exempt.
fn check_tenancy(
    engine: &nexus_rebac::Engine,
    changes: &[nexus_rebac::Change],
) -> Result<(), FsError> {
    let at = now();
    let joining: BTreeSet<(String, SubjectRef)> = changes
        .iter()
        .filter(|change| {
            change.operation != Operation::Delete
                && change.relationship.resource.object_type == "org"
        })
        .map(|change| {
            (
                change.relationship.resource.object_id.clone(),
                change.relationship.subject.clone(),
            )
        })
        .collect();
    for change in changes
        .iter()
        .filter(|change| change.operation != Operation::Delete)
    {
        let relationship = &change.relationship;
        if relationship.subject.is_wildcard() {
            continue;
        }
        let Some(org) = org_of(relationship) else {
            continue;
        };
        let subject = &relationship.subject;
        if relationship.resource.object_type == "org" {
            // Users and agents join through these; groups must be the organization's own.
            if subject.object.object_type == "group"
                && org_of_object(&subject.object).as_ref() != Some(&org)
            {
                return Err(FsError::CrossTenant {
                    subject: subject.to_string(),
                    org: org.to_string(),
                });
            }
            continue;
        }
        let belongs = match subject.object.object_type.as_str() {
            "group" | "session" | "profile" | "org" => {
                org_of_object(&subject.object).as_ref() == Some(&org)
            }
            "user" | "agent" => {
                joining.contains(&(org.to_string(), subject.clone()))
                    || engine
                        .check(&CheckRequest {
                            resource: &ObjectRef::new("org", org.as_str()),
                            permission: "membership",
                            subject,
                            context: None,
                            now: at,
                        })
                        .is_ok_and(|result| result == CheckResult::Has)
            }
            _ => true,
        };
        if !belongs {
            return Err(FsError::CrossTenant {
                subject: subject.to_string(),
                org: org.to_string(),
            });
        }
    }
    Ok(())
}

/// Relationship updates keyed by the relationship without caveat and expiration, in first
/// order: a later update of the same key replaces the earlier one (the last word wins).
#[derive(Default)]
struct LastWordWins {
    updates: Vec<RelationshipUpdate>,
    index: std::collections::HashMap<(ObjectRef, String, SubjectRef), usize>,
}

impl LastWordWins {
    fn push(&mut self, operation: Operation, relationship: Relationship) {
        let key = (
            relationship.resource.clone(),
            relationship.relation.clone(),
            relationship.subject.clone(),
        );
        let update = RelationshipUpdate {
            operation,
            relationship,
        };
        if let Some(slot) = self
            .index
            .get(&key)
            .and_then(|&at| self.updates.get_mut(at))
        {
            *slot = update;
        } else {
            self.index.insert(key, self.updates.len());
            self.updates.push(update);
        }
    }
}

/// Every stored relationship whose resource belongs to `org` (expired ones too).
fn org_relationships(engine: &nexus_rebac::Engine, org: &OrgId) -> Vec<Relationship> {
    let mut found = engine.read(
        &RelationshipFilter {
            resource_type: Some("file".to_owned()),
            resource_subtree: Some(VfsPath::org_root(org).to_string()),
            ..RelationshipFilter::default()
        },
        None,
        usize::MAX,
        i64::MIN,
    );
    for object_type in ["org", "group", "session", "profile"] {
        let filter = RelationshipFilter {
            resource_type: Some(object_type.to_owned()),
            ..RelationshipFilter::default()
        };
        found.extend(
            engine
                .read(&filter, None, usize::MAX, i64::MIN)
                .into_iter()
                .filter(|relationship| org_of(relationship).as_ref() == Some(org)),
        );
    }
    found
}
