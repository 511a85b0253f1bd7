//! Check evaluation: a depth-first walk of the schema's rewrite rules over the index.
//!
//! Results are three-valued (has / no / depends on missing caveat parameters) and combine
//! with Kleene logic: `+` is OR, `&` is AND, `a - b` is `a AND NOT b`.
//!
//! Recursion: relationship graphs may contain cycles (groups inside each other). A step that
//! reaches an (object, relation) already being evaluated answers "no" for that path and
//! records how far up the cycle reaches (`floor`, an index into the evaluation stack). For
//! unions, intersections and arrows this computes the least fixpoint, i.e. the answer from
//! what is reachable. Through an exclusion it would not be sound (a cut "no" would turn into
//! "yes"), so an exclusion whose right side depends on a cycle through the exclusion itself
//! fails with [`CheckError::CycleThroughExclusion`]. Walks deeper than the configured depth
//! fail with [`CheckError::DepthExceeded`]. Failures never allow.

use std::sync::Arc;

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::caveat::{CaveatContext, CaveatOutcome};
use crate::engine::{CheckError, CheckResult, Engine, admits_kind, allows, is_live};
use crate::graph::{EPHEMERAL_BASE, NO_RELATION, Object, ObjectId, Subject, TupleKey, TupleMeta};
use crate::relationship::{ObjectRef, SubjectRef, WILDCARD};
use crate::schema::{Expr, RelationBody, RelationId, TypeId};

/// A three-valued answer; `Maybe` carries the missing caveat parameters (sorted, unique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tri {
    No,
    Yes,
    Maybe(Vec<String>),
}

impl Tri {
    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, other) | (other, Tri::No) => other,
            (Tri::Maybe(a), Tri::Maybe(b)) => Tri::Maybe(merge(a, b)),
        }
    }

    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, other) | (other, Tri::Yes) => other,
            (Tri::Maybe(a), Tri::Maybe(b)) => Tri::Maybe(merge(a, b)),
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            maybe @ Tri::Maybe(_) => maybe,
        }
    }

    pub(crate) fn into_result(self) -> CheckResult {
        match self {
            Tri::Yes => CheckResult::Has,
            Tri::No => CheckResult::No,
            Tri::Maybe(missing) => CheckResult::Conditional { missing },
        }
    }
}

fn merge(mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.extend(b);
    a.sort();
    a.dedup();
    a
}

/// An answer and the highest stack frame a cycle cut it depended on reaches.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) tri: Tri,
    pub(crate) floor: Option<usize>,
}

impl Outcome {
    fn definite(tri: Tri) -> Outcome {
        Outcome { tri, floor: None }
    }
}

fn lower(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// How many ids of objects outside the index a [`Checker`] keeps between checks.
const EPHEMERAL_KEPT: usize = 4096;

/// State of one query.
pub(crate) struct Evaluator<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) context: Option<&'a CaveatContext>,
    pub(crate) now: i64,
    stack: Vec<(Object, RelationId)>,
    memo: HashMap<(Object, RelationId), Tri>,
    /// Strings that are not interned (ids only a query mentions), by ephemeral id.
    ephemeral: Vec<Arc<str>>,
    ephemeral_index: HashMap<Arc<str>, ObjectId>,
    /// The usersets of pure relations the subject belongs to, with the number of steps a
    /// walk down to the subject takes (computed on first use, for the current subject).
    member_of: Option<Arc<HashMap<Subject, u32>>>,
    /// The last object whose presence bits were looked up, and the bits.
    presence: Option<(Object, u64)>,
    /// Derived relations computed so far (they depend on the object only).
    derived_cache: HashMap<(Object, RelationId), Arc<[Object]>>,
    subject: Subject,
    /// Answers for objects outside the index, by type, relation and derived subjects (see
    /// [`Checker::check`]).
    shapes: HashMap<Shape, Tri>,
    /// An object outside the index being checked for `shapes`, and whether a derived
    /// relation led back to it (its answer then depends on its identity and is not shared).
    watched: Option<(ObjectId, bool)>,
}

/// What the answer for an object outside the index depends on: its type, the relation
/// asked, and the subjects of its derived relations.
type Shape = (TypeId, RelationId, SmallVec<[(RelationId, Object); 4]>);

/// The collections of an [`Evaluator`], kept per thread between queries so that a check
/// does not start by allocating them. Always empty when stored.
#[derive(Default)]
struct Scratch {
    stack: Vec<(Object, RelationId)>,
    memo: HashMap<(Object, RelationId), Tri>,
    ephemeral: Vec<Arc<str>>,
    ephemeral_index: HashMap<Arc<str>, ObjectId>,
    derived_cache: HashMap<(Object, RelationId), Arc<[Object]>>,
    shapes: HashMap<Shape, Tri>,
}

/// Collections that grew past this many entries are freed rather than kept for reuse.
const SCRATCH_KEPT: usize = 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

impl Drop for Evaluator<'_> {
    fn drop(&mut self) {
        let mut scratch = Scratch {
            stack: std::mem::take(&mut self.stack),
            memo: std::mem::take(&mut self.memo),
            ephemeral: std::mem::take(&mut self.ephemeral),
            ephemeral_index: std::mem::take(&mut self.ephemeral_index),
            derived_cache: std::mem::take(&mut self.derived_cache),
            shapes: std::mem::take(&mut self.shapes),
        };
        if scratch.memo.capacity() > SCRATCH_KEPT
            || scratch.ephemeral_index.capacity() > SCRATCH_KEPT
            || scratch.derived_cache.capacity() > SCRATCH_KEPT
            || scratch.shapes.capacity() > SCRATCH_KEPT
            || scratch.stack.capacity() > SCRATCH_KEPT
            || scratch.ephemeral.capacity() > SCRATCH_KEPT
        {
            return;
        }
        scratch.stack.clear();
        scratch.memo.clear();
        scratch.ephemeral.clear();
        scratch.ephemeral_index.clear();
        scratch.derived_cache.clear();
        scratch.shapes.clear();
        // `try_with`: during thread teardown the slot may be gone; the scratch is then dropped.
        let _ = SCRATCH.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                *slot = Some(scratch);
            }
        });
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(engine: &'a Engine, context: Option<&'a CaveatContext>, now: i64) -> Self {
        let scratch = SCRATCH
            .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
            .ok()
            .flatten()
            .unwrap_or_default();
        Evaluator {
            engine,
            context,
            now,
            stack: scratch.stack,
            memo: scratch.memo,
            ephemeral: scratch.ephemeral,
            ephemeral_index: scratch.ephemeral_index,
            derived_cache: scratch.derived_cache,
            presence: None,
            member_of: None,
            shapes: scratch.shapes,
            watched: None,
            subject: Subject {
                subject_type: 0,
                relation: NO_RELATION,
                id: 0,
            },
        }
    }

    /// The id of a string: interned, or a per-query ephemeral id.
    pub(crate) fn id_of(&mut self, text: &str) -> ObjectId {
        if let Some(id) = self.engine.lookup_id(text) {
            return id;
        }
        if let Some(id) = self.ephemeral_index.get(text) {
            return *id;
        }
        let id = EPHEMERAL_BASE + ObjectId::try_from(self.ephemeral.len()).unwrap_or(0);
        let shared: Arc<str> = text.into();
        self.ephemeral.push(shared.clone());
        self.ephemeral_index.insert(shared, id);
        id
    }

    /// The text of an id.
    pub(crate) fn text_of(&self, id: ObjectId) -> String {
        if id >= EPHEMERAL_BASE && id != crate::graph::WILDCARD_ID {
            return self
                .ephemeral
                .get((id - EPHEMERAL_BASE) as usize)
                .map_or_else(String::new, ToString::to_string);
        }
        Engine::id_text(&self.engine.graph, id).to_owned()
    }

    /// Resolves a subject reference.
    pub(crate) fn subject_of(&mut self, subject: &SubjectRef) -> Result<Subject, CheckError> {
        if subject.object.object_id == WILDCARD {
            return Err(CheckError::WildcardSubject(subject.to_string()));
        }
        let subject_type = self.engine.resolve_type(&subject.object.object_type)?;
        let relation = match &subject.relation {
            None => NO_RELATION,
            Some(name) => {
                self.engine
                    .resolve_relation(&subject.object.object_type, name)?
                    .1
            }
        };
        Ok(Subject {
            subject_type,
            relation,
            id: self.id_of(&subject.object.object_id),
        })
    }

    /// Resolves an object reference and a relation or permission name on it.
    pub(crate) fn resource_of(
        &mut self,
        resource: &ObjectRef,
        relation: &str,
    ) -> Result<(Object, RelationId), CheckError> {
        if resource.object_id == WILDCARD || resource.object_id.is_empty() {
            return Err(CheckError::InvalidId(resource.object_id.clone()));
        }
        let (object_type, relation) = self
            .engine
            .resolve_relation(&resource.object_type, relation)?;
        let id = self.id_of(&resource.object_id);
        Ok((Object { object_type, id }, relation))
    }

    /// Between checks of a long run (a [`Checker`] over thousands of resources), forgets what
    /// earlier checks learned once they have named many objects the index does not hold, so
    /// the state stays small. Nothing is forgotten while `subject` itself is such an object.
    pub(crate) fn trim(&mut self, subject: Subject) {
        if self.ephemeral.len() < EPHEMERAL_KEPT || subject.id >= EPHEMERAL_BASE {
            return;
        }
        self.memo.clear();
        self.derived_cache.clear();
        self.ephemeral.clear();
        self.ephemeral_index.clear();
        self.shapes.clear();
    }

    /// Answers for an object the index does not hold at all (no relationship names it, as
    /// resource or subject). Such an object's answer depends only on its type, the relation
    /// and the subjects of its derived relations, so objects alike in those (the documents
    /// of one folder) share one evaluation. `None` when the shortcut does not apply.
    pub(crate) fn check_by_shape(
        &mut self,
        object_type: TypeId,
        relation: RelationId,
        id: &str,
        subject: Subject,
    ) -> Result<Option<Tri>, CheckError> {
        if id == WILDCARD
            || id.is_empty()
            || self.engine.lookup_id(id).is_some()
            || self.ephemeral_index.contains_key(id)
        {
            return Ok(None);
        }
        let engine = self.engine;
        let mut derived = SmallVec::new();
        for slot in engine
            .derived
            .iter()
            .filter(|slot| slot.object_type == object_type)
        {
            (slot.derive)(id, &mut |derived_type, derived_id| {
                if let Some(derived_type) = engine.schema.type_id(derived_type) {
                    let object = Object {
                        object_type: derived_type,
                        id: self.id_of(derived_id),
                    };
                    derived.push((slot.relation, object));
                }
            });
        }
        if self.subject != subject {
            self.memo.clear();
            self.shapes.clear();
            self.member_of = None;
            self.subject = subject;
        }
        let shape = (object_type, relation, derived);
        if let Some(known) = self.shapes.get(&shape) {
            return Ok(Some(known.clone()));
        }
        let object = Object {
            object_type,
            id: self.id_of(id),
        };
        self.watched = Some((object.id, false));
        let answer = self.check(object, relation, subject);
        let revisited = self.watched.take().is_some_and(|(_, revisited)| revisited);
        let answer = answer?;
        if !revisited && shape.2.iter().all(|(_, derived)| derived.id != object.id) {
            self.shapes.insert(shape, answer.clone());
        }
        Ok(Some(answer))
    }

    /// Answers `subject` in `resource#relation`, fresh state per subject.
    pub(crate) fn check(
        &mut self,
        resource: Object,
        relation: RelationId,
        subject: Subject,
    ) -> Result<Tri, CheckError> {
        if self.subject != subject {
            self.memo.clear();
            self.shapes.clear();
            self.member_of = None;
            self.subject = subject;
        }
        self.stack.clear();
        let outcome = self.visit(resource, relation)?;
        Ok(outcome.tri)
    }

    fn visit(&mut self, resource: Object, relation: RelationId) -> Result<Outcome, CheckError> {
        let subject = self.subject;
        // A userset is a member of itself.
        if subject.relation == relation
            && subject.subject_type == resource.object_type
            && subject.id == resource.id
        {
            return Ok(Outcome::definite(Tri::Yes));
        }
        if let Some(known) = self.memo.get(&(resource, relation)) {
            return Ok(Outcome::definite(known.clone()));
        }
        if let Some(position) = self
            .stack
            .iter()
            .position(|frame| *frame == (resource, relation))
        {
            return Ok(Outcome {
                tri: Tri::No,
                floor: Some(position),
            });
        }
        if self.stack.len() >= self.engine.config.max_depth as usize {
            return Err(CheckError::DepthExceeded {
                max_depth: self.engine.config.max_depth,
            });
        }
        let depth = self.stack.len();
        self.stack.push((resource, relation));
        let engine: &'a Engine = self.engine;
        let body = engine
            .schema
            .relation(resource.object_type, relation)
            .map(|definition| &definition.body);
        let outcome = match body {
            Some(RelationBody::Relation(_)) => self.direct(resource, relation),
            Some(RelationBody::Permission(expression)) => self.expression(resource, expression),
            None => Ok(Outcome::definite(Tri::No)),
        };
        self.stack.pop();
        let mut outcome = outcome?;
        outcome.floor = outcome.floor.filter(|floor| *floor < depth);
        if outcome.floor.is_none() {
            self.memo.insert((resource, relation), outcome.tri.clone());
        }
        Ok(outcome)
    }

    /// Steps from `userset` (of a pure relation) down to the subject, if it is a member.
    fn member_distance(&mut self, userset: Subject) -> Option<u32> {
        if self.member_of.is_none() {
            let engine = self.engine;
            let version = engine.graph.version();
            // Only interned subjects can be cached: ephemeral ids are this query's own.
            let cacheable = self.subject.id < EPHEMERAL_BASE;
            let cached = if cacheable {
                engine.closures.lock().get(version, self.subject)
            } else {
                None
            };
            let closure = if let Some(closure) = cached {
                closure
            } else {
                let closure = Arc::new(self.reverse_closure());
                if cacheable {
                    engine
                        .closures
                        .lock()
                        .put(version, self.subject, closure.clone());
                }
                closure
            };
            self.member_of = Some(closure);
        }
        self.member_of.as_ref()?.get(&userset).copied()
    }

    /// Breadth-first from the subject (and its type's wildcard) up the reverse index through
    /// pure relations: every userset the subject belongs to, at its shortest distance.
    fn reverse_closure(&self) -> HashMap<Subject, u32> {
        let engine = self.engine;
        let mut distances: HashMap<Subject, u32> = HashMap::new();
        let mut queue = std::collections::VecDeque::new();
        queue.push_back((self.subject, 0_u32));
        queue.push_back((Subject::wildcard_of(self.subject.subject_type), 0));
        let mut seen: hashbrown::HashSet<Subject> = hashbrown::HashSet::new();
        while let Some((current, distance)) = queue.pop_front() {
            if !seen.insert(current) {
                continue;
            }
            for &(object_type, relation, id) in engine.graph.resources_of(current) {
                if !engine.is_pure(object_type, relation) {
                    continue;
                }
                let key = TupleKey {
                    resource: Object { object_type, id },
                    relation,
                    subject: current,
                };
                // Pure relations admit no caveats or expirations, so admitted means counted.
                if !matches!(self.admitted(&key), Some(None)) {
                    continue;
                }
                let userset = Subject {
                    subject_type: object_type,
                    relation,
                    id,
                };
                if !distances.contains_key(&userset) {
                    distances.insert(userset, distance + 1);
                    queue.push_back((userset, distance + 1));
                }
            }
        }
        distances
    }

    /// Whether `resource#relation` may have stored subjects (`false`: certainly none).
    fn may_have(&mut self, resource: Object, relation: RelationId) -> bool {
        if relation >= 64 {
            return true;
        }
        let mask = match self.presence {
            Some((object, mask)) if object == resource => mask,
            _ => {
                let mask = self.engine.graph.presence_mask(resource);
                self.presence = Some((resource, mask));
                mask
            }
        };
        mask & (1 << relation) != 0
    }

    /// The relationship's own condition: absent -> yes; expired -> no; caveat -> evaluated.
    fn edge(&self, meta: Option<&TupleMeta>) -> Result<Tri, CheckError> {
        let Some(meta) = meta else {
            return Ok(Tri::Yes);
        };
        if !is_live(Some(meta), self.now) {
            return Ok(Tri::No);
        }
        let Some((caveat_id, stored)) = &meta.caveat else {
            return Ok(Tri::Yes);
        };
        let Some(caveat) = self.engine.schema.caveat(*caveat_id) else {
            return Ok(Tri::No);
        };
        Ok(match caveat.evaluate(stored.as_deref(), self.context)? {
            CaveatOutcome::True => Tri::Yes,
            CaveatOutcome::False => Tri::No,
            CaveatOutcome::Missing(missing) => Tri::Maybe(missing),
        })
    }

    /// Metadata of a stored relationship if the current schema still admits it.
    fn admitted(&self, key: &TupleKey) -> Option<Option<&'a TupleMeta>> {
        let meta = self.engine.graph.get(key)?;
        let definition = self
            .engine
            .schema
            .relation(key.resource.object_type, key.relation)?;
        let caveat = meta
            .as_ref()
            .and_then(|meta| meta.caveat.as_ref().map(|(id, _)| *id));
        let expiring = meta.as_ref().is_some_and(|meta| meta.expires_at.is_some());
        allows(definition.allowed(), key.subject, caveat, expiring).then_some(meta.as_deref())
    }

    /// A stored relation: the subject directly, through a wildcard, or through usersets.
    fn direct(&mut self, resource: Object, relation: RelationId) -> Result<Outcome, CheckError> {
        let subject = self.subject;
        if let Some(derived) = self.derived_subjects(resource, relation) {
            let found = derived
                .iter()
                .any(|object| subject.relation == NO_RELATION && *object == subject.object());
            return Ok(Outcome::definite(if found { Tri::Yes } else { Tri::No }));
        }
        if !self.may_have(resource, relation) {
            return Ok(Outcome::definite(Tri::No));
        }
        let mut result = Tri::No;
        let engine: &'a Engine = self.engine;
        let allowed = engine
            .schema
            .relation(resource.object_type, relation)
            .map_or(&[][..], |definition| definition.allowed());
        let candidates = [subject, Subject::wildcard_of(subject.subject_type)];
        for candidate in candidates {
            // Only look up what the schema could have stored.
            if !allowed.iter().any(|entry| admits_kind(entry, candidate)) {
                continue;
            }
            let key = TupleKey {
                resource,
                relation,
                subject: candidate,
            };
            if let Some(meta) = self.admitted(&key) {
                result = result.or(self.edge(meta)?);
                if result == Tri::Yes {
                    return Ok(Outcome::definite(Tri::Yes));
                }
            }
        }
        let mut floor = None;
        let usersets = self.engine.graph.userset_subjects(resource, relation);
        for &userset in usersets {
            if userset == subject {
                continue;
            }
            let key = TupleKey {
                resource,
                relation,
                subject: userset,
            };
            let Some(meta) = self.admitted(&key) else {
                continue;
            };
            let edge = self.edge(meta)?;
            if edge == Tri::No {
                continue;
            }
            let inner = if self.engine.is_pure(userset.subject_type, userset.relation) {
                // Reachability, answered from the subject's side in one lookup.
                match self.member_distance(userset) {
                    None => continue,
                    Some(distance) => {
                        let max_depth = self.engine.config.max_depth as usize;
                        if self.stack.len() + distance as usize > max_depth {
                            return Err(CheckError::DepthExceeded {
                                max_depth: self.engine.config.max_depth,
                            });
                        }
                        Outcome::definite(Tri::Yes)
                    }
                }
            } else {
                self.visit(userset.object(), userset.relation)?
            };
            floor = lower(floor, inner.floor);
            result = result.or(edge.and(inner.tri));
            if result == Tri::Yes {
                return Ok(Outcome::definite(Tri::Yes));
            }
        }
        Ok(Outcome { tri: result, floor })
    }

    /// Subjects of a derived relation, if `relation` is one: from the engine's index for
    /// objects it knows, else computed (and remembered for this query).
    pub(crate) fn derived_subjects(
        &mut self,
        resource: Object,
        relation: RelationId,
    ) -> Option<Arc<[Object]>> {
        if !self.engine.is_derived(resource.object_type, relation) {
            return None;
        }
        if let Some(indexed) = self.engine.derived_index.get(&(resource, relation)) {
            return Some(indexed.clone());
        }
        if let Some(cached) = self.derived_cache.get(&(resource, relation)) {
            return Some(cached.clone());
        }
        let derive = self
            .engine
            .derived
            .iter()
            .find(|slot| slot.object_type == resource.object_type && slot.relation == relation)
            .map(|slot| slot.derive.clone())?;
        let engine = self.engine;
        // Borrowed from the index, or a shared handle on this query's own string: the closure
        // below needs `self` mutably.
        let shared;
        let text: &str =
            if resource.id >= EPHEMERAL_BASE && resource.id != crate::graph::WILDCARD_ID {
                shared = self
                    .ephemeral
                    .get((resource.id - EPHEMERAL_BASE) as usize)
                    .cloned()
                    .unwrap_or_else(|| Arc::from(""));
                &shared
            } else {
                Engine::id_text(&engine.graph, resource.id)
            };
        let mut objects = Vec::new();
        derive(text, &mut |object_type, object_id| {
            if let Some(object_type) = engine.schema.type_id(object_type) {
                let id = self.id_of(object_id);
                objects.push(Object { object_type, id });
            }
        });
        if let Some((watched, revisited)) = &mut self.watched {
            *revisited |= objects.iter().any(|object| object.id == *watched);
        }
        if objects.is_empty() {
            // Cheap to derive again, and most derived relations of most objects are empty:
            // not remembered, so the common answer allocates nothing.
            return Some(self.engine.no_derived.clone());
        }
        let objects: Arc<[Object]> = objects.into();
        self.derived_cache
            .insert((resource, relation), objects.clone());
        Some(objects)
    }

    fn expression(&mut self, resource: Object, expression: &Expr) -> Result<Outcome, CheckError> {
        match expression {
            Expr::Nil => Ok(Outcome::definite(Tri::No)),
            Expr::Computed(relation) => {
                // A stored relation with nothing stored answers no without a step.
                let subject = self.subject;
                let itself = subject.relation == *relation
                    && subject.subject_type == resource.object_type
                    && subject.id == resource.id;
                let stored = self
                    .engine
                    .schema
                    .type_definition(resource.object_type)
                    .is_some_and(|definition| definition.is_stored_fast(*relation));
                if stored
                    && !itself
                    && !self.may_have(resource, *relation)
                    && !self.engine.is_derived(resource.object_type, *relation)
                {
                    return Ok(Outcome::definite(Tri::No));
                }
                self.visit(resource, *relation)
            }
            Expr::Union(operands) => {
                let mut result = Tri::No;
                let mut floor = None;
                for operand in operands {
                    let outcome = self.expression(resource, operand)?;
                    if outcome.tri == Tri::Yes {
                        return Ok(Outcome::definite(Tri::Yes));
                    }
                    floor = lower(floor, outcome.floor);
                    result = result.or(outcome.tri);
                }
                Ok(Outcome { tri: result, floor })
            }
            Expr::Intersection(operands) => {
                let mut result = Tri::Yes;
                let mut floor = None;
                for operand in operands {
                    let outcome = self.expression(resource, operand)?;
                    if outcome.tri == Tri::No {
                        return Ok(outcome);
                    }
                    floor = lower(floor, outcome.floor);
                    result = result.and(outcome.tri);
                }
                Ok(Outcome { tri: result, floor })
            }
            Expr::Exclusion(base, subtracted) => {
                let left = self.expression(resource, base)?;
                if left.tri == Tri::No {
                    return Ok(left);
                }
                let right = self.expression(resource, subtracted)?;
                if right.tri == Tri::Yes {
                    return Ok(Outcome::definite(Tri::No));
                }
                if right.floor.is_some() {
                    let at = format!(
                        "{}:{}",
                        self.engine.schema.type_name(resource.object_type),
                        self.text_of(resource.id)
                    );
                    return Err(CheckError::CycleThroughExclusion { at });
                }
                Ok(Outcome {
                    tri: left.tri.and(right.tri.not()),
                    floor: left.floor,
                })
            }
            Expr::Arrow {
                tupleset,
                targets,
                all,
                ..
            } => self.arrow(resource, *tupleset, targets, *all),
        }
    }

    /// The objects a tupleset relation points at, with each relationship's condition.
    fn tupleset(
        &mut self,
        resource: Object,
        tupleset: RelationId,
    ) -> Result<Vec<(Object, Tri)>, CheckError> {
        if let Some(derived) = self.derived_subjects(resource, tupleset) {
            return Ok(derived.iter().map(|object| (*object, Tri::Yes)).collect());
        }
        let graph = &self.engine.graph;
        let mut found = Vec::new();
        for &subject in graph
            .object_subjects(resource, tupleset)
            .iter()
            .chain(graph.userset_subjects(resource, tupleset))
        {
            let key = TupleKey {
                resource,
                relation: tupleset,
                subject,
            };
            let Some(meta) = self.admitted(&key) else {
                continue;
            };
            // Expired relationships are invisible; caveated ones carry their condition.
            if !is_live(meta, self.now) {
                continue;
            }
            let edge = self.edge(meta)?;
            found.push((subject.object(), edge));
        }
        Ok(found)
    }

    fn arrow(
        &mut self,
        resource: Object,
        tupleset: RelationId,
        targets: &[Option<RelationId>],
        all: bool,
    ) -> Result<Outcome, CheckError> {
        let subjects = self.tupleset(resource, tupleset)?;
        let mut floor = None;
        if all {
            if subjects.is_empty() {
                return Ok(Outcome::definite(Tri::No));
            }
            let mut result = Tri::Yes;
            for (object, edge) in subjects {
                let Some(target) = targets
                    .get(usize::from(object.object_type))
                    .copied()
                    .flatten()
                else {
                    return Ok(Outcome::definite(Tri::No));
                };
                let inner = self.visit(object, target)?;
                floor = lower(floor, inner.floor);
                result = result.and(edge.and(inner.tri));
                if result == Tri::No {
                    return Ok(Outcome {
                        tri: Tri::No,
                        floor,
                    });
                }
            }
            return Ok(Outcome { tri: result, floor });
        }
        let mut result = Tri::No;
        for (object, edge) in subjects {
            if edge == Tri::No {
                continue;
            }
            let Some(target) = targets
                .get(usize::from(object.object_type))
                .copied()
                .flatten()
            else {
                continue;
            };
            let inner = self.visit(object, target)?;
            if inner.tri == Tri::Yes && edge == Tri::Yes {
                return Ok(Outcome::definite(Tri::Yes));
            }
            floor = lower(floor, inner.floor);
            result = result.or(edge.and(inner.tri));
        }
        Ok(Outcome { tri: result, floor })
    }
}

impl Engine {
    /// Answers one check.
    pub fn check(
        &self,
        request: &crate::engine::CheckRequest<'_>,
    ) -> Result<CheckResult, CheckError> {
        let mut evaluator = Evaluator::new(self, request.context, request.now);
        let (resource, relation) = evaluator.resource_of(request.resource, request.permission)?;
        let subject = evaluator.subject_of(request.subject)?;
        Ok(evaluator.check(resource, relation, subject)?.into_result())
    }

    /// Answers many checks; each succeeds or fails on its own.
    pub fn check_bulk(
        &self,
        requests: &[crate::engine::CheckRequest<'_>],
    ) -> Vec<Result<CheckResult, CheckError>> {
        requests.iter().map(|request| self.check(request)).collect()
    }
}

/// Many checks for one subject, sharing work between them (a folder's grants, a group's
/// members are evaluated once). Borrows the engine: use it within one read of the state.
pub struct Checker<'a> {
    evaluator: Evaluator<'a>,
    subject: Subject,
    /// The last type and permission names resolved, with their ids.
    resolved: Option<(String, String, TypeId, RelationId)>,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Checker").finish_non_exhaustive()
    }
}

impl Engine {
    /// A [`Checker`] for `subject`.
    pub fn checker<'a>(
        &'a self,
        subject: &SubjectRef,
        context: Option<&'a CaveatContext>,
        now: i64,
    ) -> Result<Checker<'a>, CheckError> {
        let mut evaluator = Evaluator::new(self, context, now);
        let subject = evaluator.subject_of(subject)?;
        Ok(Checker {
            evaluator,
            subject,
            resolved: None,
        })
    }
}

impl Checker<'_> {
    /// Whether the subject has `permission` on `resource`.
    pub fn check(
        &mut self,
        resource: &ObjectRef,
        permission: &str,
    ) -> Result<CheckResult, CheckError> {
        self.check_object(&resource.object_type, &resource.object_id, permission)
    }

    /// Whether the subject has `permission` on `object_type:object_id`.
    pub fn check_object(
        &mut self,
        object_type: &str,
        object_id: &str,
        permission: &str,
    ) -> Result<CheckResult, CheckError> {
        if object_id == WILDCARD || object_id.is_empty() {
            return Err(CheckError::InvalidId(object_id.to_owned()));
        }
        let (type_id, relation) = self.resolve(object_type, permission)?;
        self.evaluator.trim(self.subject);
        if let Some(answer) =
            self.evaluator
                .check_by_shape(type_id, relation, object_id, self.subject)?
        {
            return Ok(answer.into_result());
        }
        let resource = Object {
            object_type: type_id,
            id: self.evaluator.id_of(object_id),
        };
        Ok(self
            .evaluator
            .check(resource, relation, self.subject)?
            .into_result())
    }

    fn resolve(
        &mut self,
        object_type: &str,
        permission: &str,
    ) -> Result<(TypeId, RelationId), CheckError> {
        if let Some((last_type, last_permission, type_id, relation)) = &self.resolved
            && last_type == object_type
            && last_permission == permission
        {
            return Ok((*type_id, *relation));
        }
        let (type_id, relation) = self
            .evaluator
            .engine
            .resolve_relation(object_type, permission)?;
        self.resolved = Some((
            object_type.to_owned(),
            permission.to_owned(),
            type_id,
            relation,
        ));
        Ok((type_id, relation))
    }
}
