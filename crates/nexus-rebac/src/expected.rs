//! The `validation:` section of validation files: for `resource#permission`, every subject
//! that has it and the relations where the relationship granting it is stored.
//!
//! ```yaml
//! validation:
//!   document:1#view:
//!   - "[user:tom] is <document:1#viewer>"
//!   - "[user:* - {user:tom}] is <document:1#viewer>/<folder:f#viewer>"
//!   - "[user:ann[...]] is <document:1#viewer>"       # caveated
//!   - "[group:eng#member] is <document:1#viewer>"    # usersets are listed too
//! ```
//!
//! Found subjects come from expanding the permission all the way down: each stored subject
//! reached is found "at" the relation holding it; usersets are listed and expanded. Sets
//! combine as in subject lookups: union, intersection, and exclusion (a wildcard minus
//! subjects keeps those subjects as exclusions; a caveated subtraction makes the result
//! caveated). Expected and found sets must match exactly.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::Engine;
use crate::eval::Evaluator;
use crate::graph::{NO_RELATION, Object};
use crate::relationship::{ObjectRef, SubjectRef};
use crate::schema::{Expr, RelationBody, RelationId};
use crate::validation::{ValidationFailure, ValidationReport};

/// One subject found (or expected) for a permission.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Found {
    /// `type:id#relation` of every relation holding the subject.
    resources: BTreeSet<String>,
    caveated: bool,
    /// For a wildcard: subjects excepted, with whether the exception is caveated.
    excluded: BTreeMap<String, bool>,
}

type FoundSet = BTreeMap<String, Found>;

fn is_wildcard_key(key: &str) -> bool {
    key.ends_with(":*")
}

fn wildcard_type(key: &str) -> Option<&str> {
    key.strip_suffix(":*")
}

fn subject_type(key: &str) -> &str {
    key.split(':').next().unwrap_or("")
}

fn union(mut left: FoundSet, right: FoundSet) -> FoundSet {
    for (key, found) in right {
        match left.get_mut(&key) {
            None => {
                left.insert(key, found);
            }
            Some(existing) => {
                existing.resources.extend(found.resources);
                existing.caveated = existing.caveated && found.caveated;
                // A wildcard minus A, united with a wildcard minus B, excepts A and B only
                // where both except them.
                let kept: BTreeMap<String, bool> = existing
                    .excluded
                    .iter()
                    .filter(|(subject, _)| found.excluded.contains_key(*subject))
                    .map(|(subject, caveated)| (subject.clone(), *caveated))
                    .collect();
                existing.excluded = kept;
            }
        }
    }
    // Concrete subjects united with a wildcard are no longer excepted from it.
    let concrete: Vec<String> = left
        .iter()
        .filter(|(key, found)| !is_wildcard_key(key) && !found.caveated)
        .map(|(key, _)| key.clone())
        .collect();
    for (key, found) in &mut left {
        if is_wildcard_key(key) {
            for subject in &concrete {
                found.excluded.remove(subject);
            }
        }
    }
    left
}

fn intersection(left: &FoundSet, right: &FoundSet) -> FoundSet {
    let mut result = FoundSet::new();
    let lookup = |set: &FoundSet, key: &str| -> Option<Found> {
        if let Some(found) = set.get(key) {
            return Some(found.clone());
        }
        let wildcard = set.get(&format!("{}:*", subject_type(key)))?;
        if is_wildcard_key(key) || wildcard.excluded.get(key) == Some(&false) {
            return None;
        }
        Some(Found {
            resources: wildcard.resources.clone(),
            caveated: wildcard.caveated || wildcard.excluded.contains_key(key),
            excluded: BTreeMap::new(),
        })
    };
    let keys: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for key in keys {
        if let (Some(a), Some(b)) = (lookup(left, key), lookup(right, key)) {
            let mut excluded = a.excluded.clone();
            excluded.extend(b.excluded.clone());
            let mut resources = a.resources;
            resources.extend(b.resources);
            result.insert(
                key.clone(),
                Found {
                    resources,
                    caveated: a.caveated || b.caveated,
                    excluded,
                },
            );
        }
    }
    result
}

fn exclusion(base: FoundSet, subtracted: &FoundSet) -> FoundSet {
    let mut result = FoundSet::new();
    for (key, mut found) in base {
        let direct = subtracted.get(&key);
        let wildcard = if is_wildcard_key(&key) {
            None
        } else {
            subtracted
                .get(&format!("{}:*", subject_type(&key)))
                .filter(|w| !w.excluded.contains_key(&key))
        };
        match (direct, wildcard) {
            (Some(removed), _) | (None, Some(removed)) if !removed.caveated => {}
            (Some(_), _) | (None, Some(_)) => {
                found.caveated = true;
                result.insert(key, found);
            }
            (None, None) => {
                if let Some(wildcard_type) = wildcard_type(&key) {
                    for (subject, removed) in subtracted {
                        if subject_type(subject) == wildcard_type && !is_wildcard_key(subject) {
                            found.excluded.insert(subject.clone(), removed.caveated);
                        }
                    }
                }
                result.insert(key, found);
            }
        }
    }
    result
}

struct Collector<'a> {
    evaluator: Evaluator<'a>,
    engine: &'a Engine,
    path: BTreeSet<(Object, RelationId)>,
}

impl Collector<'_> {
    fn label(&self, object: Object, relation: RelationId) -> String {
        format!(
            "{}:{}#{}",
            self.engine.schema.type_name(object.object_type),
            self.evaluator.text_of(object.id),
            self.engine
                .schema
                .relation_name(object.object_type, relation)
        )
    }

    fn collect(&mut self, object: Object, relation: RelationId) -> FoundSet {
        if !self.path.insert((object, relation)) {
            return FoundSet::new();
        }
        let engine = self.engine;
        let result = match engine
            .schema
            .relation(object.object_type, relation)
            .map(|definition| &definition.body)
        {
            Some(RelationBody::Permission(expression)) => self.expression(object, expression),
            Some(RelationBody::Relation(_)) => self.direct(object, relation),
            None => FoundSet::new(),
        };
        self.path.remove(&(object, relation));
        result
    }

    fn direct(&mut self, object: Object, relation: RelationId) -> FoundSet {
        let engine = self.engine;
        let label = self.label(object, relation);
        let mut found = FoundSet::new();
        for (subject, relationship) in
            engine.live_relationships(object, relation, self.evaluator.now)
        {
            let caveated = relationship.caveat.is_some();
            let entry = Found {
                resources: BTreeSet::from([label.clone()]),
                caveated,
                excluded: BTreeMap::new(),
            };
            found = union(
                found,
                FoundSet::from([(relationship.subject.to_string(), entry)]),
            );
            if subject.relation != NO_RELATION {
                let mut inner = self.collect(subject.object(), subject.relation);
                if caveated {
                    for member in inner.values_mut() {
                        member.caveated = true;
                    }
                }
                found = union(found, inner);
            }
        }
        found
    }

    fn expression(&mut self, object: Object, expression: &Expr) -> FoundSet {
        match expression {
            Expr::Nil => FoundSet::new(),
            Expr::Computed(relation) => self.collect(object, *relation),
            Expr::Union(operands) => operands.iter().fold(FoundSet::new(), |acc, operand| {
                union(acc, self.expression(object, operand))
            }),
            Expr::Intersection(operands) => {
                let mut iter = operands.iter();
                let Some(first) = iter.next() else {
                    return FoundSet::new();
                };
                let mut acc = self.expression(object, first);
                for operand in iter {
                    let next = self.expression(object, operand);
                    acc = intersection(&acc, &next);
                }
                acc
            }
            Expr::Exclusion(base, subtracted) => {
                let base = self.expression(object, base);
                let subtracted = self.expression(object, subtracted);
                exclusion(base, &subtracted)
            }
            Expr::Arrow {
                tupleset,
                targets,
                all,
                ..
            } => {
                let graph = &self.engine.graph;
                let mut pointed: Vec<Object> =
                    match self.evaluator.derived_subjects(object, *tupleset) {
                        Some(derived) => derived.to_vec(),
                        None => graph
                            .object_subjects(object, *tupleset)
                            .iter()
                            .chain(graph.userset_subjects(object, *tupleset))
                            .map(|subject| subject.object())
                            .collect(),
                    };
                pointed.sort();
                pointed.dedup();
                let mut sets = Vec::new();
                for target_object in pointed {
                    if let Some(target) = targets
                        .get(usize::from(target_object.object_type))
                        .copied()
                        .flatten()
                    {
                        sets.push(self.collect(target_object, target));
                    } else if *all {
                        return FoundSet::new();
                    }
                }
                if *all {
                    let mut iter = sets.into_iter();
                    let Some(first) = iter.next() else {
                        return FoundSet::new();
                    };
                    iter.fold(first, |acc, next| intersection(&acc, &next))
                } else {
                    sets.into_iter().fold(FoundSet::new(), union)
                }
            }
        }
    }
}

/// Why an expected-relation line does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ExpectedParseError {
    #[error("expected `[subject] is <resource#relation>`")]
    Start,
    #[error("expected `] is <resource#relation>` after the subject")]
    Is,
    #[error("unterminated `{{` exceptions")]
    Exceptions,
    #[error(transparent)]
    Subject(#[from] crate::relationship::RelationshipParseError),
    #[error("expected `<resource#relation>`, found `{0}`")]
    Resources(String),
}

/// Parses `[subject] is <a>/<b>`.
fn parse_expected(text: &str) -> Result<(String, Found), ExpectedParseError> {
    let rest = text
        .trim()
        .strip_prefix('[')
        .ok_or(ExpectedParseError::Start)?;
    let close = rest.rfind("] is ").ok_or(ExpectedParseError::Is)?;
    let subject_part = rest.get(..close).unwrap_or("");
    let resources_part = rest.get(close + 5..).unwrap_or("");
    let (subject_part, exceptions) = match subject_part.split_once(" - {") {
        Some((subject, exceptions)) => (
            subject,
            Some(
                exceptions
                    .strip_suffix('}')
                    .ok_or(ExpectedParseError::Exceptions)?,
            ),
        ),
        None => (subject_part, None),
    };
    let (subject, caveated) = match subject_part.strip_suffix("[...]") {
        Some(subject) => (subject, true),
        None => (subject_part, false),
    };
    let subject = SubjectRef::parse(subject.trim())?;
    let mut excluded = BTreeMap::new();
    for exception in exceptions.into_iter().flat_map(|list| list.split(',')) {
        let exception = exception.trim();
        let (name, caveated) = match exception.strip_suffix("[...]") {
            Some(name) => (name, true),
            None => (exception, false),
        };
        let parsed = SubjectRef::parse(name)?;
        excluded.insert(parsed.to_string(), caveated);
    }
    // `<a>/<b>`: ids may contain `/`, so entries are separated by `>/<`.
    let trimmed = resources_part.trim();
    let inner = trimmed
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .ok_or_else(|| ExpectedParseError::Resources(trimmed.to_owned()))?;
    let resources: BTreeSet<String> = inner.split(">/<").map(str::to_owned).collect();
    Ok((
        subject.to_string(),
        Found {
            resources,
            caveated,
            excluded,
        },
    ))
}

pub(crate) fn check_expected_relations(
    engine: &Engine,
    validation: &BTreeMap<String, Vec<String>>,
    now: i64,
    report: &mut ValidationReport,
) {
    for (key, expectations) in validation {
        let fail = |report: &mut ValidationReport, message: String| {
            report.failures.push(ValidationFailure {
                assertion: key.clone(),
                message,
            });
        };
        let Some((object_text, relation)) = key.rsplit_once('#') else {
            fail(report, "expected `type:id#relation`".to_owned());
            continue;
        };
        let object = match ObjectRef::parse(object_text) {
            Ok(object) => object,
            Err(error) => {
                fail(report, error.to_string());
                continue;
            }
        };
        let mut evaluator = Evaluator::new(engine, None, now);
        let (start, relation_id) = match evaluator.resource_of(&object, relation) {
            Ok(resolved) => resolved,
            Err(error) => {
                fail(report, error.to_string());
                continue;
            }
        };
        let mut collector = Collector {
            evaluator,
            engine,
            path: BTreeSet::new(),
        };
        let found = collector.collect(start, relation_id);
        let mut expected = FoundSet::new();
        let mut parse_failed = false;
        for text in expectations {
            match parse_expected(text) {
                Ok((subject, entry)) => {
                    expected.insert(subject, entry);
                }
                Err(message) => {
                    fail(report, format!("`{text}`: {message}"));
                    parse_failed = true;
                }
            }
        }
        if parse_failed {
            continue;
        }
        let mut problems = Vec::new();
        for (subject, wanted) in &expected {
            match found.get(subject) {
                None => problems.push(format!("missing expected subject `{subject}`")),
                Some(got) => {
                    if got.resources != wanted.resources {
                        problems.push(format!(
                            "found different relationships for subject `{subject}`: expected {:?}, found {:?}",
                            wanted.resources, got.resources
                        ));
                    }
                    if got.caveated != wanted.caveated {
                        problems.push(format!("found caveat mismatch for subject `{subject}`"));
                    }
                    if got.excluded != wanted.excluded {
                        problems.push(format!(
                            "found different excluded subjects for `{subject}`: expected {:?}, found {:?}",
                            wanted.excluded.keys().collect::<Vec<_>>(),
                            got.excluded.keys().collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
        for subject in found.keys() {
            if !expected.contains_key(subject) {
                problems.push(format!(
                    "subject `{subject}` found but not listed in expected subjects"
                ));
            }
        }
        if problems.is_empty() {
            report.passed += 1;
        } else {
            fail(report, problems.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse() {
        let (subject, found) = parse_expected(
            "[user:* - {user:tom, user:ann[...]}] is <document:1#viewer>/<folder:f#viewer>",
        )
        .unwrap();
        assert_eq!(subject, "user:*");
        assert_eq!(found.resources.len(), 2);
        assert_eq!(found.excluded.get("user:ann"), Some(&true));
        assert_eq!(found.excluded.get("user:tom"), Some(&false));
        let (subject, found) =
            parse_expected("[group:eng#member[...]] is <document:1#viewer>").unwrap();
        assert_eq!(
            (subject.as_str(), found.caveated),
            ("group:eng#member", true)
        );
        assert!(parse_expected("user:tom is <document:1#viewer>").is_err());
        assert!(parse_expected("[user:tom] is document:1#viewer").is_err());
    }
}
