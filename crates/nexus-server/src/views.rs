//! JSON views of engine answers, shared by the API and the CLI's `--json` output.

use nexus_rebac::{CheckResult, ExpandKind, ExpandNode, SubjectLookup};
use serde_json::{Value, json};

/// The wire name of a check result.
pub fn result_name(result: &CheckResult) -> &'static str {
    match result {
        CheckResult::Has => "has_permission",
        CheckResult::No => "no_permission",
        CheckResult::Conditional { .. } => "conditional",
    }
}

/// `{"result", "allowed", "missing_context"}`.
pub fn check_json(result: &CheckResult) -> Value {
    let missing: &[String] = match result {
        CheckResult::Conditional { missing } => missing,
        _ => &[],
    };
    json!({
        "result": result_name(result),
        "allowed": *result == CheckResult::Has,
        "missing_context": missing,
    })
}

/// A subject lookup as JSON.
pub fn subjects_json(found: &SubjectLookup) -> Value {
    json!({
        "subjects": found.subjects.iter().map(|subject| json!({
            "subject": subject.subject.to_string(),
            "result": result_name(&subject.result),
        })).collect::<Vec<_>>(),
        "wildcard": found.wildcard.as_ref().map(|wildcard| json!({
            "result": result_name(&wildcard.result),
            "excluded": wildcard.excluded.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
    })
}

/// The tree of an expansion as JSON.
pub fn expand_json(node: &ExpandNode) -> Value {
    let (kind, children, subjects): (&str, Vec<&ExpandNode>, Vec<Value>) = match &node.kind {
        ExpandKind::Direct { subjects, children } => (
            "direct",
            children.iter().collect(),
            subjects
                .iter()
                .map(|subject| {
                    json!({
                        "subject": subject.subject.to_string(),
                        "caveat": subject.caveat,
                        "expires_at": subject.expires_at,
                    })
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
    json!({
        "object": node.object.to_string(),
        "relation": node.relation,
        "tupleset": tupleset,
        "kind": kind,
        "subjects": subjects,
        "children": children.into_iter().map(expand_json).collect::<Vec<_>>(),
    })
}
