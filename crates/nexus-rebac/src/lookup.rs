//! Lookups: which resources a subject can reach, which subjects can reach a resource.
//!
//! Both enumerate candidates by walking the relationship index (backwards from the subject,
//! or forwards from the resource) and then keep exactly the candidates a check allows, so a
//! lookup never disagrees with a check. One evaluator serves all candidates of a lookup, so
//! shared sub-answers (a group's membership, a folder's grants) are computed once.

use hashbrown::HashSet;

use crate::caveat::CaveatContext;
use crate::engine::{CheckError, CheckResult, Engine};
use crate::eval::{Evaluator, Tri};
use crate::graph::{NO_RELATION, Object, Subject, WILDCARD_ID};
use crate::relationship::{ObjectRef, SubjectRef};
use crate::schema::RelationId;

/// A resource a subject has the permission on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundResource {
    pub id: String,
    /// [`CheckResult::Has`] or [`CheckResult::Conditional`].
    pub result: CheckResult,
}

/// The resources found, and the candidates (by id) whose evaluation failed.
pub type PartialLookup = (Vec<FoundResource>, Vec<(String, CheckError)>);

/// A subject that has the permission on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSubject {
    pub subject: SubjectRef,
    /// [`CheckResult::Has`] or [`CheckResult::Conditional`].
    pub result: CheckResult,
}

/// Every object of the subject type has the permission, except the excluded ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWildcard {
    pub result: CheckResult,
    pub excluded: Vec<SubjectRef>,
}

/// The answer to a subject lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectLookup {
    pub subjects: Vec<FoundSubject>,
    /// Present when the permission is granted to every object of the type (`type:*`).
    pub wildcard: Option<FoundWildcard>,
}

/// An id no relationship can contain (ids cannot hold control characters): it stands for
/// "some object not mentioned anywhere" when probing wildcard access.
const UNLISTED_PROBE: &str = "\u{1}unlisted";

impl Engine {
    fn relation_count(&self, object_type: u16) -> RelationId {
        self.schema
            .type_definition(object_type)
            .map_or(0, |definition| {
                u16::try_from(definition.relations.len()).unwrap_or(u16::MAX)
            })
    }

    /// Every resource of `resource_type` on which `subject` has `permission` (sorted by id).
    /// Resources reachable only through derived relations (a file below a granted
    /// directory that has no relationships of its own) are the caller's to enumerate.
    pub fn lookup_resources(
        &self,
        resource_type: &str,
        permission: &str,
        subject: &SubjectRef,
        context: Option<&CaveatContext>,
        now: i64,
    ) -> Result<Vec<FoundResource>, CheckError> {
        let (found, failed) =
            self.lookup_resources_partial(resource_type, permission, subject, context, now)?;
        match failed.into_iter().next() {
            Some((_, error)) => Err(error),
            None => Ok(found),
        }
    }

    /// Like [`Engine::lookup_resources`], with the candidates whose evaluation failed (too
    /// deep, a cycle through an exclusion, a caveat error) reported apart, by id, instead of
    /// failing the whole lookup. Failures never allow: they are not among the found.
    pub fn lookup_resources_partial(
        &self,
        resource_type: &str,
        permission: &str,
        subject: &SubjectRef,
        context: Option<&CaveatContext>,
        now: i64,
    ) -> Result<PartialLookup, CheckError> {
        let (target_type, relation) = self.resolve_relation(resource_type, permission)?;
        let mut evaluator = Evaluator::new(self, context, now);
        let start = evaluator.subject_of(subject)?;
        let mut candidates = Vec::new();
        let mut seen_objects = HashSet::new();
        let mut seen_subjects = HashSet::new();
        let mut frontier = vec![start, Subject::wildcard_of(start.subject_type)];
        if start.relation != NO_RELATION && start.subject_type == target_type {
            seen_objects.insert(start.object());
            candidates.push(start.object());
        }
        while let Some(current) = frontier.pop() {
            if !seen_subjects.insert(current) {
                continue;
            }
            for &(object_type, _, id) in self.graph.resources_of(current) {
                let object = Object { object_type, id };
                if !seen_objects.insert(object) {
                    continue;
                }
                if object_type == target_type {
                    candidates.push(object);
                }
                frontier.push(Subject {
                    subject_type: object_type,
                    relation: NO_RELATION,
                    id,
                });
                for relation in 0..self.relation_count(object_type) {
                    frontier.push(Subject {
                        subject_type: object_type,
                        relation,
                        id,
                    });
                }
            }
        }
        let mut found = Vec::new();
        let mut failed = Vec::new();
        for candidate in candidates {
            match evaluator.check(candidate, relation, start) {
                Ok(Tri::No) => {}
                Ok(tri) => found.push(FoundResource {
                    id: evaluator.text_of(candidate.id),
                    result: tri.into_result(),
                }),
                Err(error) => {
                    failed.push((evaluator.text_of(candidate.id), error));
                    // Nothing half-evaluated carries over to the next candidate.
                    evaluator = Evaluator::new(self, context, now);
                    evaluator.subject_of(subject)?;
                }
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((found, failed))
    }

    /// Every subject of `subject_type` (with `subject_relation`, if given) that has
    /// `permission` on `resource`, and whether every object of the type has it (wildcard).
    pub fn lookup_subjects(
        &self,
        resource: &ObjectRef,
        permission: &str,
        subject_type: &str,
        subject_relation: Option<&str>,
        context: Option<&CaveatContext>,
        now: i64,
    ) -> Result<SubjectLookup, CheckError> {
        let mut evaluator = Evaluator::new(self, context, now);
        let (start, relation) = evaluator.resource_of(resource, permission)?;
        let wanted_type = self.resolve_type(subject_type)?;
        let wanted_relation = match subject_relation {
            None => NO_RELATION,
            Some(name) => self.resolve_relation(subject_type, name)?.1,
        };
        let mut candidates = Vec::new();
        let mut seen_candidates = HashSet::new();
        let mut seen_objects: HashSet<Object> = HashSet::new();
        seen_objects.insert(start);
        let mut queue = vec![start];
        if wanted_relation != NO_RELATION && start.object_type == wanted_type {
            let itself = Subject {
                subject_type: wanted_type,
                relation: wanted_relation,
                id: start.id,
            };
            seen_candidates.insert(itself);
            candidates.push(itself);
        }
        while let Some(object) = queue.pop() {
            for relation_id in 0..self.relation_count(object.object_type) {
                let mut reached: Vec<Subject> = self
                    .graph
                    .object_subjects(object, relation_id)
                    .iter()
                    .chain(self.graph.userset_subjects(object, relation_id))
                    .copied()
                    .collect();
                if let Some(derived) = evaluator.derived_subjects(object, relation_id) {
                    reached.extend(derived.iter().map(|derived| Subject {
                        subject_type: derived.object_type,
                        relation: NO_RELATION,
                        id: derived.id,
                    }));
                }
                for subject in reached {
                    if subject.id == WILDCARD_ID {
                        continue;
                    }
                    if subject.subject_type == wanted_type
                        && subject.relation == wanted_relation
                        && seen_candidates.insert(subject)
                    {
                        candidates.push(subject);
                    }
                    if wanted_relation != NO_RELATION && subject.subject_type == wanted_type {
                        let as_userset = Subject {
                            relation: wanted_relation,
                            ..subject
                        };
                        if seen_candidates.insert(as_userset) {
                            candidates.push(as_userset);
                        }
                    }
                    if seen_objects.insert(subject.object()) {
                        queue.push(subject.object());
                    }
                }
            }
        }
        let mut lookup = SubjectLookup::default();
        let mut excluded = Vec::new();
        for candidate in candidates {
            let subject_ref = self.subject_ref(&evaluator, candidate);
            match evaluator.check(start, relation, candidate)? {
                Tri::No => excluded.push(subject_ref),
                tri => lookup.subjects.push(FoundSubject {
                    subject: subject_ref,
                    result: tri.into_result(),
                }),
            }
        }
        if wanted_relation == NO_RELATION {
            let probe = Subject {
                subject_type: wanted_type,
                relation: NO_RELATION,
                id: evaluator.id_of(UNLISTED_PROBE),
            };
            let tri = evaluator.check(start, relation, probe)?;
            if tri != Tri::No {
                excluded.sort();
                lookup.wildcard = Some(FoundWildcard {
                    result: tri.into_result(),
                    excluded,
                });
            }
        }
        lookup.subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
        Ok(lookup)
    }

    fn subject_ref(&self, evaluator: &Evaluator<'_>, subject: Subject) -> SubjectRef {
        SubjectRef {
            object: ObjectRef::new(
                self.schema.type_name(subject.subject_type),
                evaluator.text_of(subject.id),
            ),
            relation: (subject.relation != NO_RELATION).then(|| {
                self.schema
                    .relation_name(subject.subject_type, subject.relation)
                    .to_owned()
            }),
        }
    }

    /// Sizes of the index, for diagnostics and benchmarks.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            relationships: self.graph.len(),
            interned_ids: self.graph.interner.len(),
        }
    }
}

/// Sizes of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    pub relationships: usize,
    pub interned_ids: usize,
}
