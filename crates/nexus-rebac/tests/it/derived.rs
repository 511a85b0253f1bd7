//! Derived relations against materialized ones, and a long-running [`Checker`] against
//! one-off checks.
//!
//! Engine A derives `file#parent` and `file#org` from the path; engine B stores them as
//! ordinary relationships. Both hold the same random grants. For every user, document and
//! permission, three answers must agree: a one-off check on B, a one-off check on A, and a
//! single [`Checker`] on A walking every document (which shares evaluations between
//! documents the index does not hold, and trims its state on long runs).

use std::sync::Arc;

use nexus_rebac::caveat::CaveatContext;
use nexus_rebac::{
    CheckRequest, CheckResult, DerivedRelation, Engine, EngineConfig, ObjectRef, Operation,
    Relationship, RelationshipUpdate, Schema, SubjectRef,
};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const SCHEMA: &str = r"
caveat at_least(required int, level int) {
    level >= required
}
definition user {}
definition group {
    relation member: user | group#member
}
definition org {
    relation member: user
    permission membership = member
}
definition file {
    relation parent: file
    relation org: org
    relation viewer: user | user:* | group#member | user with at_least
    relation editor: user | group#member
    relation banned: user | group#member
    permission write = editor + parent->write
    permission read = ((viewer + write + parent->read) - banned) & org->membership
    permission local = viewer - parent->read
}
";

const USERS: usize = 6;
const PERMISSIONS: [&str; 3] = ["read", "write", "local"];

fn parent_of(path: &str) -> Option<&str> {
    match path.rsplit_once('/') {
        Some(("", "")) | None => None,
        Some(("", _)) => Some("/"),
        Some((parent, _)) => Some(parent),
    }
}

fn org_of(path: &str) -> Option<&str> {
    path.strip_prefix("/orgs/")?
        .split('/')
        .next()
        .filter(|org| !org.is_empty())
}

fn derived_relations() -> [DerivedRelation; 2] {
    [
        DerivedRelation {
            resource_type: "file".to_owned(),
            relation: "parent".to_owned(),
            derive: Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(parent) = parent_of(id) {
                    emit("file", parent);
                }
            }),
        },
        DerivedRelation {
            resource_type: "file".to_owned(),
            relation: "org".to_owned(),
            derive: Arc::new(|id: &str, emit: &mut dyn FnMut(&str, &str)| {
                if let Some(org) = org_of(id) {
                    emit("org", org);
                }
            }),
        },
    ]
}

struct World {
    folders: Vec<String>,
    documents: Vec<String>,
    grants: Vec<Relationship>,
}

/// A random tree under two organizations, and grants on a few of its nodes.
fn world(seed: u64, folders: usize, documents: usize, grants: usize) -> World {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tree = vec!["/orgs/acme".to_owned(), "/orgs/beta".to_owned()];
    for index in 0..folders {
        let parent = tree[rng.random_range(0..tree.len())].clone();
        tree.push(format!("{parent}/f{index}"));
    }
    let documents: Vec<String> = (0..documents)
        .map(|index| format!("{}/d{index}", tree[rng.random_range(0..tree.len())]))
        .collect();
    let user = |rng: &mut SmallRng| format!("user:u{}", rng.random_range(0..USERS));
    let mut relationships = Vec::new();
    for org in ["acme", "beta"] {
        for index in 0..USERS {
            if rng.random_bool(0.7) {
                relationships.push(format!("org:{org}#member@user:u{index}"));
            }
        }
    }
    for group in 0..3 {
        for _ in 0..2 {
            let member = if rng.random_bool(0.2) {
                format!("group:g{}#member", rng.random_range(0..3))
            } else {
                user(&mut rng)
            };
            relationships.push(format!("group:g{group}#member@{member}"));
        }
    }
    for _ in 0..grants {
        // Mostly folders; sometimes a document, so some documents are in the index.
        let target = if rng.random_bool(0.8) {
            &tree[rng.random_range(0..tree.len())]
        } else {
            &documents[rng.random_range(0..documents.len())]
        };
        let relation = ["viewer", "viewer", "editor", "banned"][rng.random_range(0..4)];
        let subject = match rng.random_range(0..10) {
            0 if relation == "viewer" => "user:*".to_owned(),
            1 | 2 => format!("group:g{}#member", rng.random_range(0..3)),
            3 if relation == "viewer" => format!(
                "{}[at_least:{{\"required\":{}}}]",
                user(&mut rng),
                rng.random_range(1..4)
            ),
            _ => user(&mut rng),
        };
        relationships.push(format!("file:{target}#{relation}@{subject}"));
    }
    // One write per relationship key (a batch may not name a key twice).
    let mut seen = std::collections::BTreeSet::new();
    relationships.retain(|text| seen.insert(text.split('[').next().unwrap_or(text).to_owned()));
    World {
        folders: tree,
        documents,
        grants: relationships
            .iter()
            .map(|text| Relationship::parse(text).unwrap())
            .collect(),
    }
}

fn touch_all(engine: &mut Engine, relationships: impl IntoIterator<Item = Relationship>) {
    let updates: Vec<RelationshipUpdate> = relationships
        .into_iter()
        .map(|relationship| RelationshipUpdate {
            operation: Operation::Touch,
            relationship,
        })
        .collect();
    engine.write(&updates, &[], 0).unwrap();
}

fn engines(world: &World) -> (Engine, Engine) {
    let schema = Schema::parse(SCHEMA).unwrap();
    let mut derived = Engine::new(schema.clone(), EngineConfig::default());
    for relation in derived_relations() {
        derived.add_derived_relation(relation).unwrap();
    }
    touch_all(&mut derived, world.grants.iter().cloned());
    let mut materialized = Engine::new(schema, EngineConfig::default());
    let mut stored = world.grants.clone();
    for path in world.folders.iter().chain(&world.documents) {
        if let Some(parent) = parent_of(path) {
            stored.push(Relationship::parse(&format!("file:{path}#parent@file:{parent}")).unwrap());
        }
        if let Some(org) = org_of(path) {
            stored.push(Relationship::parse(&format!("file:{path}#org@org:{org}")).unwrap());
        }
    }
    touch_all(&mut materialized, stored);
    (derived, materialized)
}

fn one_off(
    engine: &Engine,
    path: &str,
    permission: &str,
    subject: &SubjectRef,
    context: Option<&CaveatContext>,
) -> CheckResult {
    engine
        .check(&CheckRequest {
            resource: &ObjectRef::new("file", path),
            permission,
            subject,
            context,
            now: 0,
        })
        .unwrap()
}

/// Compares the three answers for every user, document and permission; returns how many
/// answers were positive (so a caller can tell the case was not vacuous).
fn compare(world: &World, seed: u64, context: Option<&CaveatContext>) -> usize {
    let (derived, materialized) = engines(world);
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    let mut positive = 0;
    for index in 0..USERS {
        let subject = SubjectRef::parse(&format!("user:u{index}")).unwrap();
        let mut order: Vec<&String> = world.documents.iter().chain(&world.folders).collect();
        order.shuffle(&mut rng);
        for permission in PERMISSIONS {
            let mut checker = derived.checker(&subject, context, 0).unwrap();
            for path in &order {
                let walked = checker.check_object("file", path, permission).unwrap();
                let expected = one_off(&materialized, path, permission, &subject, context);
                assert_eq!(
                    walked, expected,
                    "checker: u{index} {permission} {path} (seed {seed})"
                );
                assert_eq!(
                    one_off(&derived, path, permission, &subject, context),
                    expected,
                    "one-off: u{index} {permission} {path} (seed {seed})"
                );
                positive += usize::from(expected == CheckResult::Has);
            }
        }
    }
    positive
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn derived_relations_match_materialized_ones(seed in any::<u64>()) {
        let world = world(seed, 12, 40, 14);
        compare(&world, seed, None);
        let context: CaveatContext = serde_json::from_str(r#"{"level": 2}"#).unwrap();
        compare(&world, seed, Some(&context));
    }
}

#[test]
fn a_long_checker_run_agrees_with_one_off_checks() {
    // More documents outside the index than a checker keeps state for, so it trims mid-run.
    let world = world(7, 4_500, 3_000, 300);
    let positive = compare(&world, 7, None);
    assert!(positive > 1_000, "only {positive} positive answers");
}
