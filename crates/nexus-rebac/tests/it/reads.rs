//! Relationship reads go through indexes (one resource, one subject, a resource subtree):
//! for random relationships and random filters, a read answers exactly what filtering every
//! written relationship by hand answers, in order, across pages, and after deletions.

use nexus_rebac::{
    Engine, EngineConfig, ObjectRef, Operation, Relationship, RelationshipFilter,
    RelationshipUpdate, Schema, SubjectRef,
};
use proptest::prelude::*;

const SCHEMA: &str = "
definition user {}
definition group {
    relation member: user | group#member
}
definition file {
    relation viewer: user | group#member | user:*
    relation editor: user | group#member
}
";

const FILES: [&str; 7] = ["/a", "/a/b", "/a/b/c", "/a/bc", "/a%", "/ab", "/z/a/b"];
const USERS: [&str; 3] = ["u0", "u1", "u2"];
const GROUPS: [&str; 2] = ["g0", "g1"];

fn relationship(pick: (u8, u8, u8, u8)) -> Relationship {
    let (kind, resource, relation, subject) = pick;
    if kind % 4 == 0 {
        let group = GROUPS[usize::from(resource) % GROUPS.len()];
        let subject = if subject % 3 == 0 {
            SubjectRef::userset(
                "group",
                GROUPS[usize::from(subject) % GROUPS.len()],
                "member",
            )
        } else {
            SubjectRef::object("user", USERS[usize::from(subject) % USERS.len()])
        };
        return Relationship::new(ObjectRef::new("group", group), "member", subject);
    }
    let file = FILES[usize::from(resource) % FILES.len()];
    let relation = if relation % 2 == 0 {
        "viewer"
    } else {
        "editor"
    };
    let subject = match subject % 5 {
        0 => SubjectRef::userset(
            "group",
            GROUPS[usize::from(subject) % GROUPS.len()],
            "member",
        ),
        1 if relation == "viewer" => SubjectRef::object("user", "*"),
        _ => SubjectRef::object("user", USERS[usize::from(subject) % USERS.len()]),
    };
    Relationship::new(ObjectRef::new("file", file), relation, subject)
}

fn filter(pick: (u8, u8, u8, u8, u8)) -> RelationshipFilter {
    let (shape, resource, relation, subject, subject_relation) = pick;
    let mut filter = RelationshipFilter::default();
    match shape % 6 {
        0 => {
            filter.resource_type = Some("file".to_owned());
            filter.resource_id = Some(FILES[usize::from(resource) % FILES.len()].to_owned());
        }
        1 => {
            filter.resource_type = Some("file".to_owned());
            filter.resource_subtree = Some(FILES[usize::from(resource) % FILES.len()].to_owned());
        }
        2 => {
            filter.subject_type = Some("user".to_owned());
            filter.subject_id = Some(
                if subject % 4 == 0 {
                    "*"
                } else {
                    USERS[usize::from(subject) % USERS.len()]
                }
                .to_owned(),
            );
        }
        3 => {
            filter.subject_type = Some("group".to_owned());
            filter.subject_id = Some(GROUPS[usize::from(subject) % GROUPS.len()].to_owned());
        }
        4 => filter.resource_type = Some("group".to_owned()),
        _ => {}
    }
    if relation % 3 == 0 {
        filter.relation = Some(
            if relation % 2 == 0 {
                "viewer"
            } else {
                "member"
            }
            .to_owned(),
        );
    }
    match subject_relation % 4 {
        0 => filter.subject_relation = Some(None),
        1 => filter.subject_relation = Some(Some("member".to_owned())),
        _ => {}
    }
    filter
}

/// The filter's meaning, written out.
fn matches(filter: &RelationshipFilter, relationship: &Relationship) -> bool {
    let resource = &relationship.resource;
    let subject = &relationship.subject;
    filter
        .resource_type
        .as_ref()
        .is_none_or(|t| *t == resource.object_type)
        && filter
            .resource_id
            .as_ref()
            .is_none_or(|id| *id == resource.object_id)
        && filter.resource_subtree.as_ref().is_none_or(|root| {
            resource.object_id == *root || resource.object_id.starts_with(&format!("{root}/"))
        })
        && filter
            .relation
            .as_ref()
            .is_none_or(|r| *r == relationship.relation)
        && filter
            .subject_type
            .as_ref()
            .is_none_or(|t| *t == subject.object.object_type)
        && filter
            .subject_id
            .as_ref()
            .is_none_or(|id| *id == subject.object.object_id)
        && filter
            .subject_relation
            .as_ref()
            .is_none_or(|r| *r == subject.relation)
}

fn order(relationship: &Relationship) -> (String, String, String, String, String, String) {
    (
        relationship.resource.object_type.clone(),
        relationship.resource.object_id.clone(),
        relationship.relation.clone(),
        relationship.subject.object.object_type.clone(),
        relationship.subject.object.object_id.clone(),
        relationship.subject.relation.clone().unwrap_or_default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn indexed_reads_equal_filtering_everything(
        written in prop::collection::vec(any::<(u8, u8, u8, u8)>(), 0..40),
        deleted in prop::collection::vec(any::<(u8, u8, u8, u8)>(), 0..10),
        filters in prop::collection::vec(any::<(u8, u8, u8, u8, u8)>(), 1..12),
        page in 1_usize..5,
    ) {
        let mut engine = Engine::new(Schema::parse(SCHEMA).unwrap(), EngineConfig::default());
        let mut all: Vec<Relationship> = Vec::new();
        for pick in written {
            let relationship = relationship(pick);
            if !all.contains(&relationship) {
                all.push(relationship.clone());
                engine.write(&[RelationshipUpdate { operation: Operation::Touch, relationship }], &[], 0).unwrap();
            }
        }
        for pick in deleted {
            let relationship = relationship(pick);
            if let Some(position) = all.iter().position(|kept| *kept == relationship) {
                all.remove(position);
                engine.write(&[RelationshipUpdate { operation: Operation::Delete, relationship }], &[], 0).unwrap();
            }
        }
        all.sort_by_key(order);
        for pick in filters {
            let filter = filter(pick);
            let expected: Vec<&Relationship> = all.iter().filter(|r| matches(&filter, r)).collect();
            let everything = engine.read(&filter, None, usize::MAX, 0);
            prop_assert_eq!(everything.iter().collect::<Vec<_>>(), expected.clone(), "{:?}", filter);
            // Page by page, each page continuing after the last of the previous one.
            let mut paged = Vec::new();
            let mut after: Option<Relationship> = None;
            loop {
                let next = engine.read(&filter, after.as_ref(), page, 0);
                prop_assert!(next.len() <= page);
                let Some(last) = next.last().cloned() else { break };
                paged.extend(next);
                after = Some(last);
            }
            prop_assert_eq!(paged.iter().collect::<Vec<_>>(), expected, "{:?}", filter);
        }
    }
}
