//! Regression cases from authorization bugs other systems shipped (RELIABILITY.md R01-R20),
//! in engine terms.

use std::time::{Duration, Instant};

use nexus_rebac::{
    CheckError, CheckRequest, CheckResult, Engine, EngineConfig, ObjectRef, Operation,
    Relationship, RelationshipUpdate, Schema, SubjectRef, WriteError,
};

const SCHEMA: &str = r"
definition user {}
definition group {
    relation member: user | group#member
}
definition folder {
    relation parent: folder
    relation viewer: user | group#member | user:*
    relation blocked: user | group#member
    permission view = (viewer + parent->view) - blocked
}
definition doc {
    relation folder: folder
    relation viewer: user | group#member | user:*
    relation blocked: user | group#member
    permission view = (viewer + folder->view) - blocked
}
";

fn build(schema: &str, relationships: &[&str]) -> Engine {
    let mut engine = Engine::new(Schema::parse(schema).unwrap(), EngineConfig::default());
    write(&mut engine, relationships).unwrap();
    engine
}

fn write(engine: &mut Engine, relationships: &[&str]) -> Result<(), WriteError> {
    let updates: Vec<RelationshipUpdate> = relationships
        .iter()
        .map(|text| RelationshipUpdate {
            operation: Operation::Touch,
            relationship: Relationship::parse(text).unwrap(),
        })
        .collect();
    engine.write(&updates, &[], 0).map(drop)
}

fn check(
    engine: &Engine,
    resource: &str,
    permission: &str,
    subject: &str,
) -> Result<CheckResult, CheckError> {
    engine.check(&CheckRequest {
        resource: &ObjectRef::parse(resource).unwrap(),
        permission,
        subject: &SubjectRef::parse(subject).unwrap(),
        context: None,
        now: 0,
    })
}

/// R01: a viewer blocked only through a group nested two levels deep is denied.
#[test]
fn r01_exclusion_through_nested_groups_denies() {
    let engine = build(
        SCHEMA,
        &[
            "doc:d#viewer@user:v",
            "group:inner#member@user:v",
            "group:middle#member@group:inner#member",
            "group:outer#member@group:middle#member",
            "doc:d#blocked@group:outer#member",
        ],
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "user:v"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "user:other"),
        Ok(CheckResult::No)
    );
}

/// R02: blocked reaches a group cycle (A in B in A): never allow, always terminate; a chain
/// longer than the depth limit fails with an explicit error.
#[test]
fn r02_cycles_and_deep_chains_never_allow() {
    let engine = build(
        SCHEMA,
        &[
            "doc:d#viewer@user:v",
            "doc:d#viewer@user:w",
            "group:a#member@group:b#member",
            "group:b#member@group:a#member",
            "group:b#member@user:v",
            "doc:d#blocked@group:a#member",
        ],
    );
    let started = Instant::now();
    assert_eq!(
        check(&engine, "doc:d", "view", "user:v"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "user:w"),
        Ok(CheckResult::Has),
        "w is not in the cycle"
    );
    assert_eq!(
        check(&engine, "group:a", "member", "user:v"),
        Ok(CheckResult::Has)
    );
    assert_eq!(
        check(&engine, "group:a", "member", "user:nobody"),
        Ok(CheckResult::No)
    );
    assert!(started.elapsed() < Duration::from_millis(100));

    let schema = r"
        definition user {}
        definition group {
            relation member: user | group#member
            relation required: user
            permission strict = member & required
        }
    ";
    let mut chain: Vec<String> = (0..80)
        .map(|index| format!("group:g{index}#member@group:g{}#member", index + 1))
        .collect();
    chain.push("group:g80#member@user:deep".to_owned());
    chain.push("group:g0#required@user:deep".to_owned());
    let refs: Vec<&str> = chain.iter().map(String::as_str).collect();
    let deep = build(schema, &refs);
    assert_eq!(
        check(&deep, "group:g0", "strict", "user:deep"),
        Err(CheckError::DepthExceeded { max_depth: 50 }),
        "a walk past the depth limit is an error, never an allow"
    );
}

/// A permission that subtracts itself through the data (a cycle through an exclusion) is
/// an explicit error.
#[test]
fn cycle_through_exclusion_is_an_error() {
    let schema = r"
        definition user {}
        definition node {
            relation next: node
            relation seed: user
            permission on = seed - next->on
        }
    ";
    let cyclic = build(
        schema,
        &[
            "node:a#next@node:b",
            "node:b#next@node:a",
            "node:a#seed@user:u",
            "node:b#seed@user:u",
        ],
    );
    assert!(matches!(
        check(&cyclic, "node:a", "on", "user:u"),
        Err(CheckError::CycleThroughExclusion { .. })
    ));
}

/// R03: a grant to `group:G#member` does not answer for the userset `group:H#member`.
#[test]
fn r03_userset_subjects_match_exactly() {
    let engine = build(
        SCHEMA,
        &["doc:d#viewer@group:g#member", "doc:d#viewer@user:*"],
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "group:h#member"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "group:g#member"),
        Ok(CheckResult::Has)
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "user:anyone"),
        Ok(CheckResult::Has)
    );
}

/// R04: access through two group usersets, one with a wildcard member, one specific: an
/// unrelated user is denied unless the wildcard really reaches the permission.
#[test]
fn r04_wildcards_stay_in_their_userset() {
    let schema = r"
        definition user {}
        definition group {
            relation member: user | user:*
        }
        definition workspace {
            relation reader: group#member
            relation writer: group#member
            permission write = writer
        }
    ";
    let engine = build(
        schema,
        &[
            "group:open#member@user:*",
            "group:closed#member@user:alice",
            "workspace:w#reader@group:open#member",
            "workspace:w#writer@group:closed#member",
        ],
    );
    assert_eq!(
        check(&engine, "workspace:w", "write", "user:mallory"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "workspace:w", "write", "user:alice"),
        Ok(CheckResult::Has)
    );
    assert_eq!(
        check(&engine, "workspace:w", "reader", "user:mallory"),
        Ok(CheckResult::Has)
    );
}

/// R07: writing a wildcard or a userset on an inheritance pointer is refused at write time.
#[test]
fn r07_wildcard_or_userset_parents_are_refused() {
    let mut engine = build(SCHEMA, &[]);
    for bad in [
        "folder:f#parent@folder:*",
        "folder:f#parent@folder:g#viewer",
        "doc:d#folder@folder:*",
    ] {
        let error = write(&mut engine, &[bad]).unwrap_err();
        assert!(
            matches!(error, WriteError::Invalid { .. }),
            "{bad}: {error}"
        );
    }
    assert!(engine.is_empty());
    // And a schema cannot declare an arrow over a wildcard relation.
    let error = Schema::parse(
        "definition user {}\ndefinition folder { relation parent: folder | folder:*\n permission view = parent->view }",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("cannot follow a wildcard"),
        "{error}"
    );
}

/// R10: repeated checks over a cyclic group graph give the same answers every time.
#[test]
fn r10_cyclic_groups_answer_consistently() {
    let engine = build(
        SCHEMA,
        &[
            "group:a#member@group:b#member",
            "group:b#member@group:c#member",
            "group:c#member@group:a#member",
            "group:c#member@user:u",
            "doc:d#viewer@group:a#member",
        ],
    );
    for _ in 0..100 {
        assert_eq!(
            check(&engine, "doc:d", "view", "user:u"),
            Ok(CheckResult::Has)
        );
        assert_eq!(
            check(&engine, "doc:d", "view", "user:x"),
            Ok(CheckResult::No)
        );
        assert_eq!(
            check(&engine, "group:b", "member", "user:u"),
            Ok(CheckResult::Has)
        );
    }
}

/// R12: renaming object ids (keeping the structure, reversing their order) never changes a
/// decision.
#[test]
fn r12_renaming_ids_changes_nothing() {
    let relationships = [
        "folder:f1#viewer@group:g1#member",
        "folder:f2#parent@folder:f1",
        "doc:d1#folder@folder:f2",
        "group:g1#member@group:g2#member",
        "group:g2#member@user:u1",
        "doc:d1#blocked@user:u2",
        "doc:d1#viewer@user:u2",
        "doc:d2#viewer@user:*",
        "doc:d2#blocked@group:g2#member",
    ];
    let rename = |text: &str| {
        let mut renamed = text.to_owned();
        for (from, to) in [
            ("f1", "zz9"),
            ("f2", "zz8"),
            ("d1", "zz7"),
            ("d2", "zz6"),
            ("g1", "zz5"),
            ("g2", "zz4"),
            ("u1", "zz3"),
            ("u2", "zz2"),
        ] {
            renamed = renamed.replace(&format!(":{from}"), &format!(":{to}"));
        }
        renamed
    };
    let original = build(SCHEMA, &relationships);
    let renamed_texts: Vec<String> = relationships.iter().map(|text| rename(text)).collect();
    let renamed = build(
        SCHEMA,
        &renamed_texts.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for resource in ["doc:d1", "doc:d2", "folder:f1", "folder:f2"] {
        for subject in ["user:u1", "user:u2", "user:u3"] {
            assert_eq!(
                check(&original, resource, "view", subject),
                check(&renamed, &rename(resource), "view", &rename(subject)),
                "{resource} {subject}"
            );
        }
    }
}

/// R14: ids differing only in case are different objects.
#[test]
fn r14_case_variants_are_distinct() {
    let engine = build(SCHEMA, &["doc:Doc#viewer@user:Alice"]);
    assert_eq!(
        check(&engine, "doc:Doc", "view", "user:Alice"),
        Ok(CheckResult::Has)
    );
    assert_eq!(
        check(&engine, "doc:doc", "view", "user:Alice"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "doc:Doc", "view", "user:alice"),
        Ok(CheckResult::No)
    );
}

/// R18: a document in two folders, the user blocked in one and a viewer of the other, is
/// allowed (exclusions apply where they are written).
#[test]
fn r18_block_in_one_folder_does_not_hide_the_other() {
    let engine = build(
        SCHEMA,
        &[
            "doc:d#folder@folder:open",
            "doc:d#folder@folder:closed",
            "folder:open#viewer@user:u",
            "folder:closed#viewer@user:u",
            "folder:closed#blocked@user:u",
        ],
    );
    assert_eq!(
        check(&engine, "folder:closed", "view", "user:u"),
        Ok(CheckResult::No)
    );
    assert_eq!(
        check(&engine, "doc:d", "view", "user:u"),
        Ok(CheckResult::Has)
    );
}

/// R20: 70,000 direct grants on one object: correct answers, quickly, no panic.
#[test]
fn r20_seventy_thousand_grants_on_one_object() {
    let mut engine = Engine::new(Schema::parse(SCHEMA).unwrap(), EngineConfig::default());
    let updates: Vec<RelationshipUpdate> = (0..70_000)
        .map(|index| RelationshipUpdate {
            operation: Operation::Create,
            relationship: Relationship::parse(&format!("doc:big#viewer@user:u{index}")).unwrap(),
        })
        .collect();
    engine.write(&updates, &[], 0).unwrap();
    assert_eq!(engine.len(), 70_000);
    let started = Instant::now();
    assert_eq!(
        check(&engine, "doc:big", "view", "user:u69999"),
        Ok(CheckResult::Has)
    );
    assert_eq!(
        check(&engine, "doc:big", "view", "user:u70000"),
        Ok(CheckResult::No)
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    let subjects = engine
        .lookup_subjects(&ObjectRef::new("doc", "big"), "view", "user", None, None, 0)
        .unwrap();
    assert_eq!(subjects.subjects.len(), 70_000);
}

/// Writes are all or nothing: one bad relationship in a batch changes nothing.
#[test]
fn batches_are_atomic() {
    let mut engine = build(SCHEMA, &["doc:d#viewer@user:a"]);
    let revision = engine.revision();
    let error = write(
        &mut engine,
        &["doc:d#viewer@user:b", "doc:d#nonsense@user:c"],
    )
    .unwrap_err();
    assert!(error.to_string().contains("nonsense"), "{error}");
    assert_eq!(engine.revision(), revision);
    assert_eq!(
        check(&engine, "doc:d", "view", "user:b"),
        Ok(CheckResult::No)
    );
    let duplicate =
        write(&mut engine, &["doc:d#viewer@user:b", "doc:d#viewer@user:b"]).unwrap_err();
    assert!(matches!(duplicate, WriteError::Duplicate(_)));
    let create_twice = engine.write(
        &[RelationshipUpdate {
            operation: Operation::Create,
            relationship: Relationship::parse("doc:d#viewer@user:a").unwrap(),
        }],
        &[],
        0,
    );
    assert!(matches!(create_twice, Err(WriteError::AlreadyExists(_))));
}

/// Expired relationships stop counting; preconditions guard batches.
#[test]
fn expiration_and_preconditions() {
    let schema = "use expiration\ndefinition user {}\ndefinition doc { relation viewer: user with expiration\n permission view = viewer }";
    let mut engine = Engine::new(Schema::parse(schema).unwrap(), EngineConfig::default());
    write(
        &mut engine,
        &["doc:d#viewer@user:u[expiration:2030-01-01T00:00:00Z]"],
    )
    .unwrap();
    let at = |time: &str| {
        chrono::DateTime::parse_from_rfc3339(time)
            .unwrap()
            .timestamp_micros()
    };
    let check_at = |now: i64| {
        engine.check(&CheckRequest {
            resource: &ObjectRef::new("doc", "d"),
            permission: "view",
            subject: &SubjectRef::object("user", "u"),
            context: None,
            now,
        })
    };
    assert_eq!(check_at(at("2029-12-31T23:59:59Z")), Ok(CheckResult::Has));
    assert_eq!(
        check_at(at("2030-01-01T00:00:00Z")),
        Ok(CheckResult::Has),
        "expiring exactly now still counts"
    );
    assert_eq!(check_at(at("2030-01-01T00:00:01Z")), Ok(CheckResult::No));

    let must_exist = nexus_rebac::WritePrecondition {
        must_match: true,
        filter: nexus_rebac::RelationshipFilter {
            resource_type: Some("doc".to_owned()),
            resource_id: Some("absent".to_owned()),
            ..nexus_rebac::RelationshipFilter::default()
        },
    };
    let update = RelationshipUpdate {
        operation: Operation::Touch,
        relationship: Relationship::parse("doc:d#viewer@user:v").unwrap(),
    };
    assert!(matches!(
        engine.write(&[update], &[must_exist], 0),
        Err(WriteError::PreconditionFailed(_))
    ));
}

/// Membership answers are cached per subject, but never across a change: removing someone
/// from a (nested) group takes effect on the next check.
#[test]
fn group_removals_take_effect_immediately() {
    let mut engine = build(
        SCHEMA,
        &[
            "group:inner#member@user:u",
            "group:outer#member@group:inner#member",
            "doc:d#viewer@group:outer#member",
        ],
    );
    for _ in 0..3 {
        assert_eq!(
            check(&engine, "doc:d", "view", "user:u"),
            Ok(CheckResult::Has)
        );
    }
    let removal = RelationshipUpdate {
        operation: Operation::Delete,
        relationship: Relationship::parse("group:inner#member@user:u").unwrap(),
    };
    engine.write(&[removal], &[], 0).unwrap();
    assert_eq!(
        check(&engine, "doc:d", "view", "user:u"),
        Ok(CheckResult::No)
    );
    write(&mut engine, &["group:outer#member@user:u"]).unwrap();
    assert_eq!(
        check(&engine, "doc:d", "view", "user:u"),
        Ok(CheckResult::Has)
    );
}
