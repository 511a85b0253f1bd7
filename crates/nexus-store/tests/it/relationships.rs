//! Relationship persistence: batches, the change log and reloading.

use nexus_path::OrgId;
use nexus_rebac::{ObjectRef, Relationship, RelationshipCaveat, SubjectRef};
use nexus_store::{
    ChangeOperation, Mutation, RelationshipBatch, RelationshipChange, Store, StoreOptions,
};

fn relationship(resource: &str, relation: &str, subject: &str) -> Relationship {
    let (resource_type, resource_id) = resource.split_once(':').unwrap();
    Relationship::new(
        ObjectRef::new(resource_type, resource_id),
        relation,
        SubjectRef::parse(subject).unwrap(),
    )
}

fn touch(relationship: Relationship) -> RelationshipChange {
    RelationshipChange {
        operation: ChangeOperation::Touch,
        org: Some(OrgId::parse("acme").unwrap()),
        relationship,
    }
}

async fn write(store: &Store, revision: u64, changes: Vec<RelationshipChange>) {
    store
        .apply(Mutation::WriteRelationships {
            batch: RelationshipBatch { revision, changes },
        })
        .await
        .unwrap();
}

fn caveated() -> Relationship {
    let mut caveated = relationship("doc:1", "viewer", "user:carol");
    let context = serde_json::json!({
        "ratio": 1.5,
        "big": 9_007_199_254_740_993_i64,
        "quote": "a \"quoted\" value",
        "list": [1, 2, 3],
        "nested": { "ip": "10.0.0.1" },
    });
    caveated.caveat = Some(RelationshipCaveat {
        name: "within".to_owned(),
        context: context.as_object().cloned(),
    });
    caveated.expires_at = Some(1_900_000_000_000_000);
    caveated
}

#[tokio::test]
async fn batches_round_trip_through_the_change_log_and_a_reload() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let store = Store::open(&data, StoreOptions::default()).await.unwrap();
    // Revision 1: five relationships, one of them written twice (the last write wins).
    let mut first = vec![
        touch(relationship("doc:1", "viewer", "user:alice")),
        touch(relationship("doc:1", "viewer", "group:eng#member")),
        touch(relationship("doc:2", "owner", "user:bob")),
        touch(relationship("doc:1", "viewer", "user:carol")),
        touch(caveated()),
    ];
    first[1].org = None;
    write(&store, 1, first.clone()).await;
    // Revision 2: a delete between two touches.
    let second = vec![
        touch(relationship("doc:3", "viewer", "user:dave")),
        RelationshipChange {
            operation: ChangeOperation::Delete,
            org: Some(OrgId::parse("acme").unwrap()),
            relationship: relationship("doc:2", "owner", "user:bob"),
        },
        touch(relationship("doc:2", "owner", "user:erin")),
    ];
    write(&store, 2, second.clone()).await;
    // A stale revision is refused and changes nothing.
    let stale = store
        .apply(Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 2,
                changes: vec![touch(relationship("doc:9", "viewer", "user:mallory"))],
            },
        })
        .await;
    assert!(stale.is_err());
    store.close().await;

    let store = Store::open(&data, StoreOptions::default()).await.unwrap();
    // Whole log, in order, with every attribute intact.
    let log = store.relationship_changes(0, 100).await.unwrap();
    let expected: Vec<(u64, RelationshipChange)> = first
        .iter()
        .map(|change| (1, change.clone()))
        .chain(second.iter().map(|change| (2, change.clone())))
        .collect();
    let found: Vec<(u64, RelationshipChange)> = log
        .iter()
        .map(|recorded| (recorded.revision, recorded.change.clone()))
        .collect();
    assert_eq!(found, expected);

    // Pages hold whole revisions: a limit inside revision 1 still returns all of it, and
    // resuming after the last revision returned continues with revision 2.
    let page = store.relationship_changes(0, 2).await.unwrap();
    assert_eq!(page.len(), first.len());
    assert!(page.iter().all(|recorded| recorded.revision == 1));
    let rest = store.relationship_changes(1, 2).await.unwrap();
    assert_eq!(rest.len(), second.len());
    assert!(store.relationship_changes(2, 2).await.unwrap().is_empty());

    // The stored state is the result of applying the changes in order.
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.revision, 2);
    let mut stored: Vec<String> = snapshot
        .relationships
        .iter()
        .map(|(relationship, _)| relationship.to_string())
        .collect();
    stored.sort();
    let mut wanted: Vec<String> = [
        caveated(),
        relationship("doc:1", "viewer", "user:alice"),
        relationship("doc:1", "viewer", "group:eng#member"),
        relationship("doc:3", "viewer", "user:dave"),
        relationship("doc:2", "owner", "user:erin"),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    wanted.sort();
    assert_eq!(stored, wanted);
    let carol = snapshot
        .relationships
        .iter()
        .find(|(relationship, _)| relationship.subject.object.object_id == "carol")
        .unwrap();
    assert_eq!(carol.0, caveated(), "caveat context and expiry survive");
    store.close().await;
}

#[tokio::test]
async fn large_batches_span_several_statements() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    let many = |count: usize| -> Vec<Relationship> {
        (0..count)
            .rev()
            .map(|index| relationship(&format!("doc:{index}"), "viewer", "user:alice"))
            .collect()
    };
    write(&store, 1, many(12_500).into_iter().map(touch).collect()).await;
    let deletes = many(6_100)
        .into_iter()
        .map(|relationship| RelationshipChange {
            operation: ChangeOperation::Delete,
            org: None,
            relationship,
        })
        .collect();
    write(&store, 2, deletes).await;
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.relationships.len(), 6_400);
    assert!(snapshot.relationships.iter().all(|(relationship, _)| {
        relationship.resource.object_id.parse::<usize>().unwrap() >= 6_100
    }));
    assert_eq!(store.relationship_changes(1, 1).await.unwrap().len(), 6_100);
    // A revision larger than one change-log part comes back whole and in order.
    let large: Vec<RelationshipChange> = (0..25_000)
        .map(|index| touch(relationship(&format!("big:{index}"), "viewer", "user:bob")))
        .collect();
    write(&store, 3, large.clone()).await;
    let log = store.relationship_changes(2, 1).await.unwrap();
    assert_eq!(log.len(), large.len());
    assert!(
        log.iter()
            .zip(&large)
            .all(|(recorded, change)| recorded.revision == 3 && recorded.change == *change)
    );
    store.close().await;
}

#[tokio::test]
async fn a_key_part_with_the_separator_is_refused_and_changes_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    // The engine never admits control characters; built by hand, the store still refuses.
    let mut bad = relationship("doc:1", "viewer", "user:alice");
    bad.subject.object.object_id = "ali\u{1f}ce".to_owned();
    let refused = store
        .apply(Mutation::WriteRelationships {
            batch: RelationshipBatch {
                revision: 1,
                changes: vec![
                    touch(relationship("doc:2", "viewer", "user:bob")),
                    touch(bad),
                ],
            },
        })
        .await;
    assert!(matches!(
        refused,
        Err(nexus_store::Error::Rejected(
            nexus_store::Rejection::InvalidRelationship { .. }
        ))
    ));
    // Nothing was written, the revision did not move, and the store keeps working.
    let snapshot = store.load_authorization().await.unwrap();
    assert_eq!(snapshot.revision, 0);
    assert!(snapshot.relationships.is_empty());
    write(
        &store,
        1,
        vec![touch(relationship("doc:3", "viewer", "user:carol"))],
    )
    .await;
    assert_eq!(
        store
            .load_authorization()
            .await
            .unwrap()
            .relationships
            .len(),
        1
    );
    store.close().await;
}
