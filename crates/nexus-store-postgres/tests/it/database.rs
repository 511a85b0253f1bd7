//! What is particular to the PostgreSQL backend: migrations, collation, concurrent writers.

use nexus_store_postgres::{PgMetadataStore, SCHEMA_VERSION};

use crate::support::TestSchema;

/// Migrating twice does nothing the second time; opening without migrating refuses a
/// database that is behind and accepts one that is current.
#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/services.sh start, then cargo test -- --ignored"]
async fn migrations_are_idempotent() {
    let schema = TestSchema::new().await;
    let mut options = schema.options();
    options.migrate = false;
    let refused = PgMetadataStore::open(&options).await.unwrap_err();
    assert!(refused.to_string().contains("nexus migrate"), "{refused}");
    assert_eq!(
        PgMetadataStore::migrate(&options).await.unwrap(),
        (0, SCHEMA_VERSION)
    );
    assert_eq!(
        PgMetadataStore::migrate(&options).await.unwrap(),
        (SCHEMA_VERSION, SCHEMA_VERSION)
    );
    let store = PgMetadataStore::open(&options).await.unwrap();
    let key: Vec<u8> = sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'server_key'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(key.len(), 32);
    store.pool().close().await;
}

/// Nodes starting together migrate once between them.
#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/services.sh start, then cargo test -- --ignored"]
async fn concurrent_migrations_agree() {
    let schema = TestSchema::new().await;
    let options = schema.options();
    let runs = futures_join(&options).await;
    let from_empty = runs.iter().filter(|(from, _)| *from == 0).count();
    assert_eq!(from_empty, 1, "exactly one node migrated: {runs:?}");
    assert!(runs.iter().all(|(_, to)| *to == SCHEMA_VERSION));
}

async fn futures_join(options: &nexus_store_postgres::PgOptions) -> Vec<(i64, i64)> {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            PgMetadataStore::migrate(&options).await.unwrap()
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    runs
}

/// Two stores on one database (two nodes) writing at once: every write lands, each once,
/// and the reference counts stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/services.sh start, then cargo test -- --ignored"]
async fn two_writers_take_turns() {
    use nexus_path::{OrgId, VfsPath};
    use nexus_store::{BlobRef, ContentHash, MetadataStore, Mutation, Precondition, Timestamp};

    let schema = TestSchema::new().await;
    let first = std::sync::Arc::new(schema.open().await);
    let second = std::sync::Arc::new(schema.open().await);
    let org = OrgId::parse("acme").unwrap();
    let dir = Mutation::CreateDirectory {
        org: org.clone(),
        path: VfsPath::parse("/orgs/acme").unwrap(),
        parents: false,
        author: "system".to_owned(),
        at: Timestamp(1),
    };
    assert!(first.apply(&[vec![dir]]).await.unwrap()[0].is_ok());
    let write = |n: usize| Mutation::WriteFile {
        org: org.clone(),
        path: VfsPath::parse(&format!("/orgs/acme/f{}", n % 20)).unwrap(),
        blob: BlobRef {
            org: org.clone(),
            hash: ContentHash::of(format!("{n}").as_bytes()),
            size: 1,
        },
        precondition: Precondition::None,
        create_parents: false,
        author: "system".to_owned(),
        at: Timestamp(2),
    };
    let mut tasks = Vec::new();
    for (index, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        let writes: Vec<Mutation> = (0..200).filter(|n| n % 2 == index).map(write).collect();
        tasks.push(tokio::spawn(async move {
            for chunk in writes.chunks(10) {
                let groups: Vec<Vec<Mutation>> = chunk
                    .iter()
                    .map(|mutation| vec![mutation.clone()])
                    .collect();
                for result in store.apply(&groups).await.unwrap() {
                    assert!(result.is_ok(), "{result:?}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM versions")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(versions, 200, "every write is a version");
    let files: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes WHERE kind = 2")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(files, 20);
    assert!(first.check().await.unwrap().problems.is_empty());
    first.close().await;
    second.close().await;
}

/// A lease is held by one holder at a time, renewed by it, and taken by another once it
/// expires.
#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/services.sh start, then cargo test -- --ignored"]
async fn leases_are_exclusive_until_they_expire() {
    use nexus_store::MetadataStore;
    use std::time::Duration;

    let schema = TestSchema::new().await;
    let store = schema.open().await;
    let ttl = Duration::from_millis(300);
    assert!(store.hold_lease("reminders", "a", ttl).await.unwrap());
    assert!(!store.hold_lease("reminders", "b", ttl).await.unwrap());
    assert!(
        store.hold_lease("retention", "b", ttl).await.unwrap(),
        "leases are per name"
    );
    assert!(
        store.hold_lease("reminders", "a", ttl).await.unwrap(),
        "the holder renews"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.hold_lease("reminders", "b", ttl).await.unwrap(),
        "expired: taken over"
    );
    assert!(!store.hold_lease("reminders", "a", ttl).await.unwrap());
    store.close().await;
}
