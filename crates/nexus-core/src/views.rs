//! Engine answers as the wire contract shows them ([`nexus_api`] types), for every front end.

use nexus_api::{
    CheckAnswer, CheckOutcome, ExpandSubject, ExpandTree, FoundSubject, FoundWildcard,
    SubjectsFound,
};
use nexus_rebac::{CheckResult, ExpandKind, ExpandNode, SubjectLookup};

/// The wire form of a check result.
pub fn outcome(result: &CheckResult) -> CheckOutcome {
    match result {
        CheckResult::Has => CheckOutcome::HasPermission,
        CheckResult::No => CheckOutcome::NoPermission,
        CheckResult::Conditional { .. } => CheckOutcome::Conditional,
    }
}

/// A check's answer: result, whether allowed, and the missing caveat context.
pub fn check_answer(result: &CheckResult) -> CheckAnswer {
    let missing: &[String] = match result {
        CheckResult::Conditional { missing } => missing,
        _ => &[],
    };
    CheckAnswer {
        result: outcome(result),
        allowed: *result == CheckResult::Has,
        missing_context: missing.to_vec(),
    }
}

/// The subjects of a lookup.
pub fn subjects_found(found: &SubjectLookup) -> SubjectsFound {
    SubjectsFound {
        subjects: found
            .subjects
            .iter()
            .map(|subject| FoundSubject {
                subject: subject.subject.to_string(),
                result: outcome(&subject.result),
            })
            .collect(),
        wildcard: found.wildcard.as_ref().map(|wildcard| FoundWildcard {
            result: outcome(&wildcard.result),
            excluded: wildcard.excluded.iter().map(ToString::to_string).collect(),
        }),
    }
}

/// The tree of an expansion.
pub fn expand_tree(node: &ExpandNode) -> ExpandTree {
    let (kind, children, subjects): (&str, Vec<&ExpandNode>, Vec<ExpandSubject>) = match &node.kind
    {
        ExpandKind::Direct { subjects, children } => (
            "direct",
            children.iter().collect(),
            subjects
                .iter()
                .map(|subject| ExpandSubject {
                    subject: subject.subject.to_string(),
                    caveat: subject.caveat.clone(),
                    expires_at: subject.expires_at,
                })
                .collect(),
        ),
        ExpandKind::Union(children) => ("union", children.iter().collect(), Vec::new()),
        ExpandKind::Intersection(children) => {
            ("intersection", children.iter().collect(), Vec::new())
        }
        ExpandKind::Exclusion(base, subtracted) => (
            "exclusion",
            vec![base.as_ref(), subtracted.as_ref()],
            Vec::new(),
        ),
        ExpandKind::Arrow { all, children, .. } => (
            if *all { "arrow_all" } else { "arrow" },
            children.iter().collect(),
            Vec::new(),
        ),
        ExpandKind::Nil => ("nil", Vec::new(), Vec::new()),
        ExpandKind::Cycle => ("cycle", Vec::new(), Vec::new()),
    };
    let tupleset = match &node.kind {
        ExpandKind::Arrow { tupleset, .. } => Some(tupleset.clone()),
        _ => None,
    };
    ExpandTree {
        object: node.object.to_string(),
        relation: node.relation.clone(),
        tupleset,
        kind: kind.to_owned(),
        subjects,
        children: children.into_iter().map(expand_tree).collect(),
    }
}
