//! The engine: a schema, the relationships, the current revision, and every query.

use std::fmt;
use std::sync::Arc;

use crate::caveat::{CaveatContext, CaveatError};
use crate::graph::{
    Graph, NO_RELATION, Object, ObjectId, StoredCaveat, Subject, TupleKey, TupleMeta, WILDCARD_ID,
};
use crate::relationship::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef, WILDCARD};
use crate::schema::{AllowedSubject, AllowedSubjectKind, RelationBody, RelationId, Schema, TypeId};

/// Default limit on nested evaluation steps of one query.
pub const DEFAULT_MAX_DEPTH: u32 = 50;

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Nested evaluation steps before a query fails with [`CheckError::DepthExceeded`].
    pub max_depth: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Computes the subjects of a relation from the resource id instead of storing them (a
/// file's `parent` is the path's parent directory): called with the resource id, it calls
/// `emit(subject_type, subject_id)` once per subject. Emitting borrowed slices of the id
/// keeps a check free of allocations.
pub type Derive = Arc<dyn Fn(&str, &mut dyn FnMut(&str, &str)) + Send + Sync>;

/// A relation whose subjects are derived from the resource id.
#[derive(Clone)]
pub struct DerivedRelation {
    pub resource_type: String,
    pub relation: String,
    pub derive: Derive,
}

impl fmt::Debug for DerivedRelation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "DerivedRelation({}#{})",
            self.resource_type, self.relation
        )
    }
}

/// The answer to a permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// The subject has the permission.
    Has,
    /// The subject does not have the permission.
    No,
    /// It depends on caveat parameters that were not given.
    Conditional { missing: Vec<String> },
}

impl CheckResult {
    /// Whether this is [`CheckResult::Has`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, CheckResult::Has)
    }
}

/// Why a query could not be answered. A failed query never allows anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("unknown object type `{0}`")]
    UnknownType(String),
    #[error("`{object_type}` has no relation or permission `{relation}`")]
    UnknownRelation {
        object_type: String,
        relation: String,
    },
    #[error("invalid object id `{0}`")]
    InvalidId(String),
    #[error("cannot check a wildcard subject (`{0}`)")]
    WildcardSubject(String),
    #[error(
        "the evaluation exceeded the maximum depth of {max_depth}: the relationships are nested too deeply or recursive"
    )]
    DepthExceeded { max_depth: u32 },
    #[error("the answer depends on a cycle through an exclusion at `{at}`: it cannot be decided")]
    CycleThroughExclusion { at: String },
    #[error(transparent)]
    Caveat(#[from] CaveatError),
}

/// A check: may `subject` `permission` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct CheckRequest<'a> {
    pub resource: &'a ObjectRef,
    pub permission: &'a str,
    pub subject: &'a SubjectRef,
    /// Caveat parameters supplied by the caller.
    pub context: Option<&'a CaveatContext>,
    /// The evaluation instant (microseconds since the epoch), for expirations.
    pub now: i64,
}

/// What a write does to one relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Add; fails if the relationship exists.
    Create,
    /// Add or replace (caveat, expiration).
    Touch,
    /// Remove if present.
    Delete,
}

/// One change of a write batch.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipUpdate {
    pub operation: Operation,
    pub relationship: Relationship,
}

/// Selects relationships; unset fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationshipFilter {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Only resources whose id is this one or continues it after a `/` (a path and
    /// everything beneath it: `/a/b` matches `/a/b` and `/a/b/c`, not `/a/bc`).
    pub resource_subtree: Option<String>,
    pub relation: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    /// `Some(None)`: only subjects without a relation; `Some(Some(r))`: only `#r`.
    pub subject_relation: Option<Option<String>>,
}

/// A condition a write batch requires: that some relationship matches (or none does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePrecondition {
    pub must_match: bool,
    pub filter: RelationshipFilter,
}

/// An applied change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `Touch` (created or replaced) or `Delete`.
    pub operation: Operation,
    pub relationship: Relationship,
}

/// An index entry: a relationship's key and metadata.
type Entry = (TupleKey, Option<Arc<TupleMeta>>);

/// A validated write, ready to persist and apply (see [`Engine::plan`]).
#[derive(Debug, Clone)]
pub struct WritePlan {
    base_revision: u64,
    steps: Vec<Step>,
    /// What the write changes; empty when it changes nothing.
    pub changes: Vec<Change>,
}

impl WritePlan {
    /// The revision the write will have once applied.
    pub fn revision(&self) -> u64 {
        self.base_revision + 1
    }
}

#[derive(Debug, Clone)]
enum Step {
    Insert(TupleKey, Option<Arc<TupleMeta>>),
    Remove(TupleKey),
}

/// The result of a committed write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub revision: u64,
    pub changes: Vec<Change>,
}

/// Why a write was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("invalid relationship `{relationship}`: {problem}")]
    Invalid {
        relationship: String,
        problem: String,
    },
    #[error("relationship `{0}` already exists")]
    AlreadyExists(String),
    #[error("relationship `{0}` appears twice in one write")]
    Duplicate(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("the relationships changed while the write was being prepared; retry")]
    StalePlan,
}

/// Memberships of subjects in pure relations, computed once per subject and index version.
#[derive(Debug, Default)]
pub(crate) struct ClosureCache {
    version: u64,
    entries: hashbrown::HashMap<Subject, Arc<hashbrown::HashMap<Subject, u32>>>,
}

/// Subjects whose closures a cache keeps at most.
const CLOSURE_CACHE_ENTRIES: usize = 65_536;

impl ClosureCache {
    pub(crate) fn get(
        &mut self,
        version: u64,
        subject: Subject,
    ) -> Option<Arc<hashbrown::HashMap<Subject, u32>>> {
        if self.version != version {
            self.entries.clear();
            self.version = version;
            return None;
        }
        self.entries.get(&subject).cloned()
    }

    pub(crate) fn put(
        &mut self,
        version: u64,
        subject: Subject,
        closure: Arc<hashbrown::HashMap<Subject, u32>>,
    ) {
        if self.version != version {
            self.entries.clear();
            self.version = version;
        }
        if self.entries.len() >= CLOSURE_CACHE_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(subject, closure);
    }
}

/// A derived relation resolved against the current schema.
#[derive(Clone)]
pub(crate) struct DerivedSlot {
    pub(crate) object_type: TypeId,
    pub(crate) relation: RelationId,
    pub(crate) derive: Derive,
}

impl fmt::Debug for DerivedSlot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "DerivedSlot({}#{})",
            self.object_type, self.relation
        )
    }
}

/// The relationship engine. Queries take `&self`; writes take `&mut self`.
#[derive(Debug)]
pub struct Engine {
    pub(crate) schema: Schema,
    pub(crate) graph: Graph,
    pub(crate) config: EngineConfig,
    pub(crate) derived: Vec<DerivedSlot>,
    /// Per type, bit `r` set when relation `r` is derived.
    derived_mask: Vec<u64>,
    /// Per type, bit `r` set when relation `r` is "pure": stored, without caveats or
    /// expiration, and its usersets only name pure relations. Membership in a pure relation
    /// is plain reachability over stored relationships.
    pure_mask: Vec<u64>,
    /// Reverse closures of recent subjects (see the evaluator), valid for one index version.
    pub(crate) closures: parking_lot::Mutex<ClosureCache>,
    /// Derived subjects of every stored resource (and its derived ancestors), computed once.
    /// Derived subjects of the objects the graph knows, where there are any: an object the
    /// graph knows with no entry for a relation has none (most files have no subjects for
    /// most derived relations, so empty answers are not stored).
    pub(crate) derived_index: hashbrown::HashMap<(Object, RelationId), Arc<[Object]>>,
    /// The one empty answer of a derived relation, shared.
    pub(crate) no_derived: Arc<[Object]>,
    derived_definitions: Vec<DerivedRelation>,
    revision: u64,
}

impl Engine {
    /// An empty engine with a schema.
    pub fn new(schema: Schema, config: EngineConfig) -> Self {
        let mut engine = Engine {
            schema,
            graph: Graph::default(),
            config,
            derived: Vec::new(),
            derived_index: hashbrown::HashMap::new(),
            no_derived: Arc::from(Vec::new()),
            derived_mask: Vec::new(),
            pure_mask: Vec::new(),
            closures: parking_lot::Mutex::new(ClosureCache::default()),
            derived_definitions: Vec::new(),
            revision: 0,
        };
        engine.compute_pure_relations();
        engine
    }

    /// Recomputes [`Engine::is_pure`] (a greatest fixpoint: start from every stored relation
    /// without caveats or expiration, drop those whose usersets reach anything else).
    fn compute_pure_relations(&mut self) {
        let types = self.schema.types();
        let mut masks: Vec<u64> = types
            .iter()
            .enumerate()
            .map(|(type_index, definition)| {
                let mut mask = 0_u64;
                for (index, relation) in definition.relations.iter().enumerate().take(64) {
                    let RelationBody::Relation(allowed) = &relation.body else {
                        continue;
                    };
                    let derived = u16::try_from(type_index)
                        .ok()
                        .zip(u16::try_from(index).ok())
                        .is_some_and(|(type_id, relation_id)| {
                            self.is_derived(type_id, relation_id)
                        });
                    if !derived
                        && allowed
                            .iter()
                            .all(|entry| entry.caveat.is_none() && !entry.expiration)
                    {
                        mask |= 1 << index;
                    }
                }
                mask
            })
            .collect();
        // Only relations some userset names matter: reachability is asked of nothing else.
        let mut named = vec![0_u64; types.len()];
        for definition in types {
            for relation in &definition.relations {
                for entry in relation.allowed() {
                    if let AllowedSubjectKind::Userset(target) = entry.kind
                        && target < 64
                        && let Some(mask) = named.get_mut(usize::from(entry.subject_type))
                    {
                        *mask |= 1 << target;
                    }
                }
            }
        }
        loop {
            let mut changed = false;
            for (type_index, definition) in types.iter().enumerate() {
                for (index, relation) in definition.relations.iter().enumerate().take(64) {
                    let bit = 1_u64 << index;
                    if masks.get(type_index).is_none_or(|mask| mask & bit == 0) {
                        continue;
                    }
                    let impure = relation.allowed().iter().any(|entry| match entry.kind {
                        AllowedSubjectKind::Userset(target) => {
                            target >= 64
                                || masks
                                    .get(usize::from(entry.subject_type))
                                    .is_none_or(|mask| mask & (1 << target) == 0)
                        }
                        AllowedSubjectKind::Object | AllowedSubjectKind::Wildcard => false,
                    });
                    if impure && let Some(mask) = masks.get_mut(type_index) {
                        *mask &= !bit;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for (mask, named) in masks.iter_mut().zip(named) {
            *mask &= named;
        }
        self.pure_mask = masks;
    }

    /// Whether membership in `type#relation` is plain reachability over stored relationships.
    pub(crate) fn is_pure(&self, type_id: TypeId, relation: RelationId) -> bool {
        relation < 64
            && self
                .pure_mask
                .get(usize::from(type_id))
                .is_some_and(|mask| mask & (1 << relation) != 0)
    }

    /// Declares a derived relation (see [`DerivedRelation`]).
    pub fn add_derived_relation(&mut self, derived: DerivedRelation) -> Result<(), CheckError> {
        let (type_id, relation) =
            self.resolve_relation(&derived.resource_type, &derived.relation)?;
        self.derived.push(DerivedSlot {
            object_type: type_id,
            relation,
            derive: derived.derive.clone(),
        });
        if relation < 64 {
            let index = usize::from(type_id);
            if self.derived_mask.len() <= index {
                self.derived_mask.resize(index + 1, 0);
            }
            if let Some(mask) = self.derived_mask.get_mut(index) {
                *mask |= 1 << relation;
            }
        }
        self.compute_pure_relations();
        self.derived_definitions.push(derived);
        Ok(())
    }

    /// Declares a derived relation that applies whenever the schema has it: now if the
    /// current one does (the answer), and after any later schema replacement that brings it.
    pub fn declare_derived_relation(&mut self, derived: DerivedRelation) -> bool {
        if self.add_derived_relation(derived.clone()).is_ok() {
            return true;
        }
        self.derived_definitions.push(derived);
        false
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// The revision of the last committed write.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Sets the current revision (when loading persisted state).
    pub fn set_revision(&mut self, revision: u64) {
        self.revision = revision;
    }

    /// Number of stored relationships.
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.len() == 0
    }

    /// Checks that [`Engine::replace_schema`] would accept `schema`: no definition or relation
    /// that still has relationships may disappear.
    pub fn check_schema_replacement(&self, schema: &Schema) -> Result<(), WriteError> {
        self.remap(schema).map(drop)
    }

    /// Replaces the schema. Refused if a definition or relation that still has
    /// relationships would disappear; relationships that the new schema no longer allows stay
    /// stored but stop counting in every query.
    pub fn replace_schema(&mut self, schema: Schema) -> Result<(), WriteError> {
        let mapped = self.remap(&schema)?;
        let mut rebuilt = Graph::with_interner(std::mem::take(&mut self.graph.interner));
        rebuilt.reserve(mapped.len());
        for (key, meta) in mapped {
            rebuilt.insert(key, meta);
        }
        self.graph = rebuilt;
        self.schema = schema;
        let derived = std::mem::take(&mut self.derived_definitions);
        self.derived.clear();
        self.derived_mask.clear();
        self.derived_index.clear();
        self.compute_pure_relations();
        for definition in derived {
            // A derived relation the new schema lacks stops applying, and applies again
            // under a later schema that has it.
            self.declare_derived_relation(definition);
        }
        let resources: Vec<Object> = self.graph.iter().map(|(key, _)| key.resource).collect();
        for resource in resources {
            self.index_derived(resource);
        }
        Ok(())
    }

    /// Every relationship re-keyed to the ids of `schema`.
    fn remap(&self, schema: &Schema) -> Result<Vec<Entry>, WriteError> {
        let mut remap: Vec<Option<(TypeId, Vec<Option<RelationId>>)>> = Vec::new();
        for definition in self.schema.types() {
            let new_type = schema.type_id(&definition.name);
            let relations = definition
                .relations
                .iter()
                .map(|relation| {
                    let new_definition = new_type.and_then(|id| schema.type_definition(id));
                    new_definition
                        .and_then(|new| new.relation_id(&relation.name))
                        .filter(|id| {
                            new_type
                                .and_then(|type_id| schema.relation(type_id, *id))
                                .is_some_and(|new| new.is_permission() == relation.is_permission())
                        })
                })
                .collect();
            remap.push(new_type.map(|id| (id, relations)));
        }
        let map_relation = |type_id: TypeId, relation: RelationId| -> Option<RelationId> {
            if relation == NO_RELATION {
                return Some(NO_RELATION);
            }
            remap
                .get(usize::from(type_id))?
                .as_ref()?
                .1
                .get(usize::from(relation))
                .copied()
                .flatten()
        };
        let map_type = |type_id: TypeId| {
            remap
                .get(usize::from(type_id))
                .and_then(|entry| entry.as_ref().map(|e| e.0))
        };
        let mut mapped = Vec::with_capacity(self.graph.len());
        for (key, meta) in self.graph.iter() {
            let new_key = (|| {
                Some(TupleKey {
                    resource: Object {
                        object_type: map_type(key.resource.object_type)?,
                        id: key.resource.id,
                    },
                    relation: map_relation(key.resource.object_type, key.relation)?,
                    subject: Subject {
                        subject_type: map_type(key.subject.subject_type)?,
                        relation: map_relation(key.subject.subject_type, key.subject.relation)?,
                        id: key.subject.id,
                    },
                })
            })();
            let Some(new_key) = new_key else {
                let relationship = self.relationship_of(&self.graph, key, meta.as_deref());
                return Err(WriteError::Invalid {
                    relationship: relationship.to_string(),
                    problem: "the new schema removes its type or relation; delete such relationships first".to_owned(),
                });
            };
            mapped.push((new_key, meta.clone()));
        }
        Ok(mapped)
    }

    pub(crate) fn resolve_type(&self, name: &str) -> Result<TypeId, CheckError> {
        self.schema
            .type_id(name)
            .ok_or_else(|| CheckError::UnknownType(name.to_owned()))
    }

    pub(crate) fn resolve_relation(
        &self,
        object_type: &str,
        relation: &str,
    ) -> Result<(TypeId, RelationId), CheckError> {
        let type_id = self.resolve_type(object_type)?;
        let relation_id = self
            .schema
            .type_definition(type_id)
            .and_then(|definition| definition.relation_id(relation))
            .ok_or_else(|| CheckError::UnknownRelation {
                object_type: object_type.to_owned(),
                relation: relation.to_owned(),
            })?;
        Ok((type_id, relation_id))
    }

    pub(crate) fn is_derived(&self, type_id: TypeId, relation: RelationId) -> bool {
        if relation < 64 {
            return self
                .derived_mask
                .get(usize::from(type_id))
                .is_some_and(|mask| mask & (1 << relation) != 0);
        }
        self.derived
            .iter()
            .any(|slot| slot.object_type == type_id && slot.relation == relation)
    }

    /// The text of an interned id.
    pub(crate) fn id_text(graph: &Graph, id: ObjectId) -> &str {
        if id == WILDCARD_ID {
            WILDCARD
        } else {
            graph.interner.resolve(id).unwrap_or("?")
        }
    }

    /// The relationships stored on `object#relation` that are live at `now` (plain subjects,
    /// then usersets), each with its subject.
    pub(crate) fn live_relationships(
        &self,
        object: Object,
        relation: RelationId,
        now: i64,
    ) -> Vec<(Subject, Relationship)> {
        let graph = &self.graph;
        graph
            .object_subjects(object, relation)
            .iter()
            .chain(graph.userset_subjects(object, relation))
            .filter_map(|subject| {
                let key = TupleKey {
                    resource: object,
                    relation,
                    subject: *subject,
                };
                let meta = graph.get(&key)?;
                is_live(meta.as_deref(), now)
                    .then(|| (*subject, self.relationship_of(graph, &key, meta.as_deref())))
            })
            .collect()
    }

    /// Converts an index entry back into a [`Relationship`].
    pub(crate) fn relationship_of(
        &self,
        graph: &Graph,
        key: &TupleKey,
        meta: Option<&TupleMeta>,
    ) -> Relationship {
        let resource = ObjectRef::new(
            self.schema.type_name(key.resource.object_type),
            Self::id_text(graph, key.resource.id),
        );
        let subject = SubjectRef {
            object: ObjectRef::new(
                self.schema.type_name(key.subject.subject_type),
                Self::id_text(graph, key.subject.id),
            ),
            relation: (key.subject.relation != NO_RELATION).then(|| {
                self.schema
                    .relation_name(key.subject.subject_type, key.subject.relation)
                    .to_owned()
            }),
        };
        let mut relationship = Relationship::new(
            resource,
            self.schema
                .relation_name(key.resource.object_type, key.relation),
            subject,
        );
        if let Some(meta) = meta {
            relationship.caveat = meta
                .caveat
                .as_ref()
                .map(|(id, context)| RelationshipCaveat {
                    name: self
                        .schema
                        .caveat(*id)
                        .map(|caveat| caveat.name.clone())
                        .unwrap_or_default(),
                    context: context.as_deref().cloned(),
                });
            relationship.expires_at = meta.expires_at;
        }
        relationship
    }

    /// Validates a relationship against the schema and builds its index entry. A deletion
    /// need not fit the current schema's allowed subjects (it may remove a relationship a
    /// schema change made inert).
    fn prepare(
        &mut self,
        relationship: &Relationship,
        operation: Operation,
    ) -> Result<(TupleKey, Option<Arc<TupleMeta>>), WriteError> {
        let invalid = |problem: String| WriteError::Invalid {
            relationship: relationship.to_string(),
            problem,
        };
        let (resource_type, relation) = self
            .resolve_relation(&relationship.resource.object_type, &relationship.relation)
            .map_err(|error| invalid(error.to_string()))?;
        let definition = self
            .schema
            .relation(resource_type, relation)
            .ok_or_else(|| invalid("unknown relation".to_owned()))?;
        let RelationBody::Relation(allowed) = &definition.body else {
            return Err(invalid(format!(
                "`{}` is a permission: permissions are computed, only relations can be written",
                relationship.relation
            )));
        };
        if self.is_derived(resource_type, relation) {
            return Err(invalid(format!(
                "`{}#{}` is derived from the object id and cannot be written",
                relationship.resource.object_type, relationship.relation
            )));
        }
        validate_id(&relationship.resource.object_id, false)
            .map_err(|error| invalid(error.to_string()))?;
        validate_id(&relationship.subject.object.object_id, true)
            .map_err(|error| invalid(error.to_string()))?;
        let subject_type = self
            .resolve_type(&relationship.subject.object.object_type)
            .map_err(|error| invalid(error.to_string()))?;
        let subject_relation = match &relationship.subject.relation {
            None => NO_RELATION,
            Some(name) => {
                self.resolve_relation(&relationship.subject.object.object_type, name)
                    .map_err(|error| invalid(error.to_string()))?
                    .1
            }
        };
        let caveat = self
            .prepare_caveat(relationship.caveat.as_ref(), operation)
            .map_err(invalid)?;
        let is_wildcard = relationship.subject.is_wildcard();
        let subject = Subject {
            subject_type,
            relation: subject_relation,
            id: if is_wildcard {
                WILDCARD_ID
            } else {
                self.graph
                    .interner
                    .intern(&relationship.subject.object.object_id)
            },
        };
        let caveat_id = caveat.as_ref().map(|(id, _)| *id);
        if operation != Operation::Delete
            && !allows(
                allowed,
                subject,
                caveat_id,
                relationship.expires_at.is_some(),
            )
        {
            return Err(invalid(format!(
                "relation `{}#{}` does not allow `{}`{}",
                relationship.resource.object_type,
                relationship.relation,
                describe_subject(relationship),
                describe_allowed(&self.schema, allowed)
            )));
        }
        let key = TupleKey {
            resource: Object {
                object_type: resource_type,
                id: self.graph.interner.intern(&relationship.resource.object_id),
            },
            relation,
            subject,
        };
        let meta = (caveat.is_some() || relationship.expires_at.is_some()).then(|| {
            Arc::new(TupleMeta {
                caveat,
                expires_at: relationship.expires_at,
            })
        });
        Ok((key, meta))
    }

    /// Resolves a relationship's caveat and checks its stored context.
    fn prepare_caveat(
        &self,
        caveat: Option<&RelationshipCaveat>,
        operation: Operation,
    ) -> Result<Option<StoredCaveat>, String> {
        let Some(caveat) = caveat else {
            return Ok(None);
        };
        let id = self
            .schema
            .caveat_id(&caveat.name)
            .ok_or_else(|| format!("unknown caveat `{}`", caveat.name))?;
        if let (Some(context), Some(compiled), false) = (
            &caveat.context,
            self.schema.caveat(id),
            operation == Operation::Delete,
        ) {
            compiled
                .validate_context(context)
                .map_err(|error| error.to_string())?;
        }
        let context = caveat
            .context
            .clone()
            .filter(|context| !context.is_empty())
            .map(Arc::new);
        Ok(Some((id, context)))
    }

    /// Validates a batch and computes what it would change, without changing anything:
    /// every update is validated and every precondition checked. Apply the plan with
    /// [`Engine::apply`] (after persisting [`WritePlan::changes`], if the state is persisted);
    /// no other write may come between.
    pub fn plan(
        &mut self,
        updates: &[RelationshipUpdate],
        preconditions: &[WritePrecondition],
        now: i64,
    ) -> Result<WritePlan, WriteError> {
        self.check_preconditions(preconditions, now)?;
        let mut plan = WritePlan {
            base_revision: self.revision,
            steps: Vec::with_capacity(updates.len()),
            changes: Vec::new(),
        };
        let mut seen = hashbrown::HashSet::new();
        for update in updates {
            let (key, meta) = self.prepare(&update.relationship, update.operation)?;
            if !seen.insert(key) {
                return Err(WriteError::Duplicate(update.relationship.to_string()));
            }
            let existing = self.graph.get(&key);
            match update.operation {
                Operation::Create if existing.is_some() => {
                    return Err(WriteError::AlreadyExists(update.relationship.to_string()));
                }
                Operation::Create | Operation::Touch => {
                    if existing != Some(&meta) {
                        plan.changes.push(Change {
                            operation: Operation::Touch,
                            relationship: self.relationship_of(&self.graph, &key, meta.as_deref()),
                        });
                        plan.steps.push(Step::Insert(key, meta));
                    }
                }
                Operation::Delete => {
                    if let Some(previous) = existing {
                        plan.changes.push(Change {
                            operation: Operation::Delete,
                            relationship: self.relationship_of(
                                &self.graph,
                                &key,
                                previous.as_deref(),
                            ),
                        });
                        plan.steps.push(Step::Remove(key));
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Plans deleting every relationship matching `filter` (after checking preconditions).
    pub fn plan_delete_matching(
        &mut self,
        filter: &RelationshipFilter,
        preconditions: &[WritePrecondition],
        now: i64,
    ) -> Result<WritePlan, WriteError> {
        self.check_preconditions(preconditions, now)?;
        let keys = self.matching_keys(filter, None);
        let mut plan = WritePlan {
            base_revision: self.revision,
            steps: Vec::with_capacity(keys.len()),
            changes: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let previous = self.graph.get(&key).cloned().flatten();
            plan.changes.push(Change {
                operation: Operation::Delete,
                relationship: self.relationship_of(&self.graph, &key, previous.as_deref()),
            });
            plan.steps.push(Step::Remove(key));
        }
        Ok(plan)
    }

    /// Applies a plan made against the current revision and advances the revision.
    ///
    /// # Errors
    /// [`WriteError::StalePlan`] if another write happened since the plan was made.
    pub fn apply(&mut self, plan: WritePlan) -> Result<WriteOutcome, WriteError> {
        if plan.base_revision != self.revision {
            return Err(WriteError::StalePlan);
        }
        for step in plan.steps {
            match step {
                Step::Insert(key, meta) => {
                    self.graph.insert(key, meta);
                    self.index_derived(key.resource);
                }
                Step::Remove(key) => {
                    self.graph.remove(&key);
                }
            }
        }
        self.revision += 1;
        Ok(WriteOutcome {
            revision: self.revision,
            changes: plan.changes,
        })
    }

    /// Plans and applies a batch atomically (for state that is not persisted).
    pub fn write(
        &mut self,
        updates: &[RelationshipUpdate],
        preconditions: &[WritePrecondition],
        now: i64,
    ) -> Result<WriteOutcome, WriteError> {
        let plan = self.plan(updates, preconditions, now)?;
        self.apply(plan)
    }

    /// Deletes every relationship matching `filter` (for state that is not persisted).
    pub fn delete_matching(
        &mut self,
        filter: &RelationshipFilter,
        preconditions: &[WritePrecondition],
        now: i64,
    ) -> Result<WriteOutcome, WriteError> {
        let plan = self.plan_delete_matching(filter, preconditions, now)?;
        self.apply(plan)
    }

    fn check_preconditions(
        &self,
        preconditions: &[WritePrecondition],
        now: i64,
    ) -> Result<(), WriteError> {
        for precondition in preconditions {
            let found = !self
                .matching_keys(&precondition.filter, Some(now))
                .is_empty();
            if found != precondition.must_match {
                return Err(WriteError::PreconditionFailed(
                    format!(
                        "{} relationship matching {} ",
                        if precondition.must_match {
                            "expected a"
                        } else {
                            "expected no"
                        },
                        describe_filter(&precondition.filter)
                    )
                    .trim_end()
                    .to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Keys of relationships matching a filter (live ones only when `now` is given).
    fn matching_keys(&self, filter: &RelationshipFilter, now: Option<i64>) -> Vec<TupleKey> {
        let Some(compiled) = self.compile_filter(filter) else {
            return Vec::new();
        };
        self.candidates(&compiled)
            .into_iter()
            .filter(|key| {
                compiled.matches(key, &self.graph)
                    && self
                        .graph
                        .get(key)
                        .is_some_and(|meta| now.is_none_or(|now| is_live(meta.as_deref(), now)))
            })
            .collect()
    }

    /// The relation ids of `object_type` a filter can match.
    fn filter_relations(&self, object_type: TypeId, name: Option<&str>) -> Vec<RelationId> {
        let Some(definition) = self.schema.type_definition(object_type) else {
            return Vec::new();
        };
        match name {
            Some(name) => definition.relation_id(name).into_iter().collect(),
            None => (0..definition.relations.len())
                .filter_map(|id| RelationId::try_from(id).ok())
                .collect(),
        }
    }

    /// Keys that may match a filter, found through the narrowest index the filter allows:
    /// one resource, one subject, or a resource subtree; only a filter naming none of
    /// these scans every relationship. Callers still test each key against the filter.
    fn candidates(&self, compiled: &CompiledFilter) -> Vec<TupleKey> {
        let graph = &self.graph;
        let mut keys = Vec::new();
        let of_resource = |resource: Object, keys: &mut Vec<TupleKey>| {
            for relation in
                self.filter_relations(resource.object_type, compiled.relation.as_deref())
            {
                let subjects = graph
                    .object_subjects(resource, relation)
                    .iter()
                    .chain(graph.userset_subjects(resource, relation));
                keys.extend(subjects.map(|subject| TupleKey {
                    resource,
                    relation,
                    subject: *subject,
                }));
            }
        };
        if let (Some(object_type), Some(id)) = (compiled.resource_type, compiled.resource_id) {
            of_resource(Object { object_type, id }, &mut keys);
        } else if let (Some(subject_type), Some(id)) = (compiled.subject_type, compiled.subject_id)
        {
            let relations = match &compiled.subject_relation {
                Some(None) => vec![NO_RELATION],
                Some(Some(name)) => self.filter_relations(subject_type, Some(name)),
                None => std::iter::once(NO_RELATION)
                    .chain(self.filter_relations(subject_type, None))
                    .collect(),
            };
            for relation in relations {
                let subject = Subject {
                    subject_type,
                    relation,
                    id,
                };
                keys.extend(graph.resources_of(subject).iter().map(
                    |&(object_type, relation, id)| TupleKey {
                        resource: Object { object_type, id },
                        relation,
                        subject,
                    },
                ));
            }
        } else if let (Some(object_type), Some(root)) =
            (compiled.resource_type, &compiled.resource_subtree)
        {
            let relations = self
                .schema
                .type_definition(object_type)
                .map_or(0, |definition| {
                    RelationId::try_from(definition.relations.len()).unwrap_or(RelationId::MAX)
                });
            for id in graph.ids_with_prefix(object_type, relations, root) {
                of_resource(Object { object_type, id }, &mut keys);
            }
        } else {
            keys.extend(graph.iter().map(|(key, _)| *key));
        }
        keys
    }

    /// Relationships matching a filter, ordered by resource, relation and subject, after
    /// `after` (exclusive), at most `limit`. Expired relationships are not returned.
    pub fn read(
        &self,
        filter: &RelationshipFilter,
        after: Option<&Relationship>,
        limit: usize,
        now: i64,
    ) -> Vec<Relationship> {
        let Some(compiled) = self.compile_filter(filter) else {
            return Vec::new();
        };
        let mut found: Vec<Relationship> = self
            .candidates(&compiled)
            .iter()
            .filter_map(|key| {
                let meta = self.graph.get(key)?;
                (compiled.matches(key, &self.graph) && is_live(meta.as_deref(), now))
                    .then(|| self.relationship_of(&self.graph, key, meta.as_deref()))
            })
            .filter(|relationship| {
                after.is_none_or(|after| sort_key(relationship) > sort_key(after))
            })
            .collect();
        found.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        found.truncate(limit);
        found
    }

    fn compile_filter(&self, filter: &RelationshipFilter) -> Option<CompiledFilter> {
        let resource_type = match &filter.resource_type {
            Some(name) => Some(self.schema.type_id(name)?),
            None => None,
        };
        let relation = filter.relation.clone();
        let subject_type = match &filter.subject_type {
            Some(name) => Some(self.schema.type_id(name)?),
            None => None,
        };
        let id = |text: &Option<String>| -> Option<Option<ObjectId>> {
            match text {
                None => Some(None),
                Some(text) if text == WILDCARD => Some(Some(WILDCARD_ID)),
                Some(text) => self.graph.interner.get(text).map(Some),
            }
        };
        Some(CompiledFilter {
            resource_type,
            resource_id: id(&filter.resource_id)?,
            resource_subtree: filter.resource_subtree.clone(),
            relation,
            subject_type,
            subject_id: id(&filter.subject_id)?,
            subject_relation: filter.subject_relation.clone(),
            schema: self.schema.clone(),
        })
    }

    /// Looks up an object id without interning it.
    pub(crate) fn lookup_id(&self, text: &str) -> Option<ObjectId> {
        if text == WILDCARD {
            Some(WILDCARD_ID)
        } else {
            self.graph.interner.get(text)
        }
    }

    /// Computes (once) the derived subjects of `object` and, transitively, of the objects
    /// they name (a file's parent, its parent, ...), interning their ids.
    fn index_derived(&mut self, object: Object) {
        let mut pending = vec![object];
        while let Some(current) = pending.pop() {
            let mut text: Option<String> = None;
            for index in 0..self.derived.len() {
                let Some(slot) = self.derived.get(index) else {
                    continue;
                };
                if slot.object_type != current.object_type
                    || self.derived_index.contains_key(&(current, slot.relation))
                {
                    continue;
                }
                let relation = slot.relation;
                let derive = slot.derive.clone();
                let text =
                    text.get_or_insert_with(|| Self::id_text(&self.graph, current.id).to_owned());
                let mut objects = Vec::new();
                let (schema, interner) = (&self.schema, &mut self.graph.interner);
                derive(text, &mut |object_type, object_id| {
                    if let Some(object_type) = schema.type_id(object_type) {
                        let id = interner.intern(object_id);
                        objects.push(Object { object_type, id });
                    }
                });
                if objects.is_empty() {
                    continue;
                }
                pending.extend(objects.iter().copied());
                self.derived_index
                    .insert((current, relation), objects.into());
            }
        }
    }

    /// Pre-sizes the index for a bulk load.
    pub fn reserve(&mut self, additional: usize) {
        self.graph.reserve(additional);
    }

    /// Loads persisted relationships without revision accounting; invalid ones are returned.
    pub fn load(
        &mut self,
        relationships: impl IntoIterator<Item = Relationship>,
    ) -> Vec<(Relationship, WriteError)> {
        let mut rejected = Vec::new();
        for relationship in relationships {
            // Loading keeps relationships a schema change made inert (they stay stored and
            // count again if the schema allows them again).
            match self.prepare(&relationship, Operation::Delete) {
                Ok((key, meta)) => {
                    self.graph.insert(key, meta);
                    self.index_derived(key.resource);
                }
                Err(error) => rejected.push((relationship, error)),
            }
        }
        rejected
    }
}

struct CompiledFilter {
    resource_type: Option<TypeId>,
    resource_id: Option<ObjectId>,
    resource_subtree: Option<String>,
    relation: Option<String>,
    subject_type: Option<TypeId>,
    subject_id: Option<ObjectId>,
    subject_relation: Option<Option<String>>,
    schema: Schema,
}

impl CompiledFilter {
    fn matches(&self, key: &TupleKey, graph: &Graph) -> bool {
        self.resource_type
            .is_none_or(|t| t == key.resource.object_type)
            && self.resource_id.is_none_or(|id| id == key.resource.id)
            && self.resource_subtree.as_ref().is_none_or(|root| {
                graph.interner.resolve(key.resource.id).is_some_and(|id| {
                    id.strip_prefix(root.as_str()).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with('/') || root.ends_with('/')
                    })
                })
            })
            && self.relation.as_ref().is_none_or(|name| {
                self.schema
                    .relation_name(key.resource.object_type, key.relation)
                    == name
            })
            && self
                .subject_type
                .is_none_or(|t| t == key.subject.subject_type)
            && self.subject_id.is_none_or(|id| id == key.subject.id)
            && self
                .subject_relation
                .as_ref()
                .is_none_or(|wanted| match wanted {
                    None => key.subject.relation == NO_RELATION,
                    Some(name) => {
                        key.subject.relation != NO_RELATION
                            && self
                                .schema
                                .relation_name(key.subject.subject_type, key.subject.relation)
                                == name
                    }
                })
    }
}

/// The order of [`Engine::read`]: resource, relation, subject.
fn sort_key(relationship: &Relationship) -> (&str, &str, &str, &str, &str, &str) {
    (
        &relationship.resource.object_type,
        &relationship.resource.object_id,
        &relationship.relation,
        &relationship.subject.object.object_type,
        &relationship.subject.object.object_id,
        relationship.subject.relation.as_deref().unwrap_or(""),
    )
}

/// A relationship counts at `now` unless it expired strictly before.
pub(crate) fn is_live(meta: Option<&TupleMeta>, now: i64) -> bool {
    meta.and_then(|meta| meta.expires_at)
        .is_none_or(|expires_at| expires_at >= now)
}

/// Whether an allowed-subject list admits a subject with this caveat and expiration.
pub(crate) fn allows(
    allowed: &[AllowedSubject],
    subject: Subject,
    caveat: Option<crate::schema::CaveatId>,
    expiring: bool,
) -> bool {
    allowed.iter().any(|entry| {
        admits_kind(entry, subject) && entry.caveat == caveat && (!expiring || entry.expiration)
    })
}

/// Whether an allowed-subject entry admits the subject's type and kind (ignoring caveats
/// and expiration).
pub(crate) fn admits_kind(entry: &AllowedSubject, subject: Subject) -> bool {
    entry.subject_type == subject.subject_type
        && match entry.kind {
            AllowedSubjectKind::Object => {
                subject.relation == NO_RELATION && subject.id != WILDCARD_ID
            }
            AllowedSubjectKind::Wildcard => subject.id == WILDCARD_ID,
            AllowedSubjectKind::Userset(relation) => subject.relation == relation,
        }
}

/// What is wrong with an object id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum InvalidId {
    #[error("object ids are 1 to 1024 bytes long (`{shown}` is {length})")]
    Length { shown: String, length: usize },
    #[error("object ids cannot contain control characters")]
    Control,
    #[error("`{0}`: `*` is only valid alone, as a wildcard subject")]
    Star(String),
    #[error("a resource cannot be a wildcard")]
    WildcardResource,
}

fn validate_id(id: &str, subject: bool) -> Result<(), InvalidId> {
    if subject && id == WILDCARD {
        return Ok(());
    }
    if id.is_empty() || id.len() > 1024 {
        return Err(InvalidId::Length {
            shown: id.chars().take(40).collect(),
            length: id.len(),
        });
    }
    if id.chars().any(char::is_control) {
        return Err(InvalidId::Control);
    }
    if id.contains('*') && id != WILDCARD {
        return Err(InvalidId::Star(id.to_owned()));
    }
    if !subject && id == WILDCARD {
        return Err(InvalidId::WildcardResource);
    }
    Ok(())
}

fn describe_subject(relationship: &Relationship) -> String {
    let mut text = relationship.subject.to_string();
    if let Some(caveat) = &relationship.caveat {
        text.push_str(&format!(" with {}", caveat.name));
    }
    if relationship.expires_at.is_some() {
        text.push_str(" with expiration");
    }
    text
}

fn describe_allowed(schema: &Schema, allowed: &[AllowedSubject]) -> String {
    let forms: Vec<String> = allowed
        .iter()
        .map(|entry| {
            let name = schema.type_name(entry.subject_type);
            let mut form = match entry.kind {
                AllowedSubjectKind::Object => name.to_owned(),
                AllowedSubjectKind::Wildcard => format!("{name}:*"),
                AllowedSubjectKind::Userset(relation) => {
                    format!(
                        "{name}#{}",
                        schema.relation_name(entry.subject_type, relation)
                    )
                }
            };
            if let Some(caveat) = entry.caveat.and_then(|id| schema.caveat(id)) {
                form.push_str(&format!(" with {}", caveat.name));
            }
            if entry.expiration {
                form.push_str(if entry.caveat.is_some() {
                    " and expiration"
                } else {
                    " with expiration"
                });
            }
            form
        })
        .collect();
    format!(" (allowed: {})", forms.join(" | "))
}

fn describe_filter(filter: &RelationshipFilter) -> String {
    let mut parts = Vec::new();
    if let Some(value) = &filter.resource_type {
        parts.push(format!("resource type `{value}`"));
    }
    if let Some(value) = &filter.resource_id {
        parts.push(format!("resource id `{value}`"));
    }
    if let Some(value) = &filter.relation {
        parts.push(format!("relation `{value}`"));
    }
    if let Some(value) = &filter.subject_type {
        parts.push(format!("subject type `{value}`"));
    }
    if let Some(value) = &filter.subject_id {
        parts.push(format!("subject id `{value}`"));
    }
    if parts.is_empty() {
        "anything".to_owned()
    } else {
        parts.join(", ")
    }
}
