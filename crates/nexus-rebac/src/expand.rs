//! Expand: the tree of why, following the schema's rewrite rules from a resource.

use hashbrown::HashSet;

use crate::engine::{CheckError, Engine, is_live};
use crate::eval::Evaluator;
use crate::graph::{NO_RELATION, Object, TupleKey};
use crate::relationship::{ObjectRef, SubjectRef};
use crate::schema::{Expr, RelationBody, RelationId};

/// One node of an expansion: `object#relation` and how its subjects are formed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandNode {
    pub object: ObjectRef,
    pub relation: String,
    pub kind: ExpandKind,
}

/// How a node's subjects are formed.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpandKind {
    /// The subjects stored on a relation (usersets are expanded as children when the
    /// expansion is recursive).
    Direct {
        subjects: Vec<ExpandedSubject>,
        children: Vec<ExpandNode>,
    },
    Union(Vec<ExpandNode>),
    Intersection(Vec<ExpandNode>),
    Exclusion(Box<ExpandNode>, Box<ExpandNode>),
    /// `tupleset->target` (or `.all`): one child per object of the tupleset.
    Arrow {
        tupleset: String,
        all: bool,
        children: Vec<ExpandNode>,
    },
    Nil,
    /// Already expanded higher up this branch (a cycle).
    Cycle,
}

/// A stored subject with its condition.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandedSubject {
    pub subject: SubjectRef,
    pub caveat: Option<String>,
    pub expires_at: Option<i64>,
}

struct Expander<'a, 'e> {
    evaluator: Evaluator<'e>,
    engine: &'a Engine,
    recursive: bool,
    path: HashSet<(Object, RelationId)>,
    depth: u32,
}

impl Engine {
    /// Expands `resource#permission`. With `recursive`, usersets are expanded down to
    /// objects too; otherwise they are leaves (SpiceDB's one-level expand).
    pub fn expand(
        &self,
        resource: &ObjectRef,
        permission: &str,
        recursive: bool,
        now: i64,
    ) -> Result<ExpandNode, CheckError> {
        let mut evaluator = Evaluator::new(self, None, now);
        let (object, relation) = evaluator.resource_of(resource, permission)?;
        let mut expander = Expander {
            evaluator,
            engine: self,
            recursive,
            path: HashSet::new(),
            depth: 0,
        };
        expander.node(object, relation)
    }
}

impl Expander<'_, '_> {
    fn object_ref(&self, object: Object) -> ObjectRef {
        ObjectRef::new(
            self.engine.schema.type_name(object.object_type),
            self.evaluator.text_of(object.id),
        )
    }

    fn node(&mut self, object: Object, relation: RelationId) -> Result<ExpandNode, CheckError> {
        let kind = if !self.path.insert((object, relation)) {
            ExpandKind::Cycle
        } else if self.depth >= self.engine.config.max_depth {
            return Err(CheckError::DepthExceeded {
                max_depth: self.engine.config.max_depth,
            });
        } else {
            self.depth += 1;
            let kind = self.kind(object, relation);
            self.depth -= 1;
            self.path.remove(&(object, relation));
            kind?
        };
        Ok(ExpandNode {
            object: self.object_ref(object),
            relation: self
                .engine
                .schema
                .relation_name(object.object_type, relation)
                .to_owned(),
            kind,
        })
    }

    fn kind(&mut self, object: Object, relation: RelationId) -> Result<ExpandKind, CheckError> {
        let engine = self.engine;
        let Some(definition) = engine.schema.relation(object.object_type, relation) else {
            return Ok(ExpandKind::Nil);
        };
        match &definition.body {
            RelationBody::Permission(expression) => self.expression(object, expression),
            RelationBody::Relation(_) => {
                let mut subjects = Vec::new();
                let mut children = Vec::new();
                if let Some(derived) = self.evaluator.derived_subjects(object, relation) {
                    for derived in derived.iter().copied() {
                        subjects.push(ExpandedSubject {
                            subject: SubjectRef {
                                object: self.object_ref(derived),
                                relation: None,
                            },
                            caveat: None,
                            expires_at: None,
                        });
                    }
                    return Ok(ExpandKind::Direct { subjects, children });
                }
                let mut stored = engine.live_relationships(object, relation, self.evaluator.now);
                stored.sort_by_key(|(subject, _)| *subject);
                for (subject, relationship) in stored {
                    subjects.push(ExpandedSubject {
                        subject: relationship.subject.clone(),
                        caveat: relationship.caveat.map(|caveat| caveat.name),
                        expires_at: relationship.expires_at,
                    });
                    if self.recursive && subject.relation != NO_RELATION {
                        children.push(self.node(subject.object(), subject.relation)?);
                    }
                }
                Ok(ExpandKind::Direct { subjects, children })
            }
        }
    }

    fn expression(&mut self, object: Object, expression: &Expr) -> Result<ExpandKind, CheckError> {
        Ok(match expression {
            Expr::Nil => ExpandKind::Nil,
            Expr::Computed(relation) => {
                let child = self.node(object, *relation)?;
                ExpandKind::Union(vec![child])
            }
            Expr::Union(operands) => ExpandKind::Union(self.operands(object, operands)?),
            Expr::Intersection(operands) => {
                ExpandKind::Intersection(self.operands(object, operands)?)
            }
            Expr::Exclusion(base, subtracted) => {
                let base = self.wrapped(object, base)?;
                let subtracted = self.wrapped(object, subtracted)?;
                ExpandKind::Exclusion(Box::new(base), Box::new(subtracted))
            }
            Expr::Arrow {
                tupleset,
                targets,
                all,
                ..
            } => {
                let mut targets_found = Vec::new();
                if let Some(derived) = self.evaluator.derived_subjects(object, *tupleset) {
                    targets_found.extend(derived.iter().copied());
                } else {
                    let graph = &self.engine.graph;
                    for subject in graph
                        .object_subjects(object, *tupleset)
                        .iter()
                        .chain(graph.userset_subjects(object, *tupleset))
                    {
                        let key = TupleKey {
                            resource: object,
                            relation: *tupleset,
                            subject: *subject,
                        };
                        if graph
                            .get(&key)
                            .is_some_and(|meta| is_live(meta.as_deref(), self.evaluator.now))
                        {
                            targets_found.push(subject.object());
                        }
                    }
                }
                targets_found.sort();
                targets_found.dedup();
                let mut children = Vec::new();
                for target_object in targets_found {
                    if let Some(target) = targets
                        .get(usize::from(target_object.object_type))
                        .copied()
                        .flatten()
                    {
                        children.push(self.node(target_object, target)?);
                    }
                }
                ExpandKind::Arrow {
                    tupleset: self
                        .engine
                        .schema
                        .relation_name(object.object_type, *tupleset)
                        .to_owned(),
                    all: *all,
                    children,
                }
            }
        })
    }

    fn operands(
        &mut self,
        object: Object,
        operands: &[Expr],
    ) -> Result<Vec<ExpandNode>, CheckError> {
        operands
            .iter()
            .map(|operand| self.wrapped(object, operand))
            .collect()
    }

    /// An operand as a node of its own (labelled with the object, relation left empty for
    /// anonymous sub-expressions).
    fn wrapped(&mut self, object: Object, expression: &Expr) -> Result<ExpandNode, CheckError> {
        if let Expr::Computed(relation) = expression {
            return self.node(object, *relation);
        }
        let kind = self.expression(object, expression)?;
        Ok(ExpandNode {
            object: self.object_ref(object),
            relation: String::new(),
            kind,
        })
    }
}
