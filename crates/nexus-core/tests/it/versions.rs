use std::time::Duration;

use bytes::Bytes;
use nexus_core::{ErrorCode, OrgId, ReadOptions, VersionPolicy, VfsPath};
use nexus_store::{Precondition, Timestamp, WriteRequest};

use crate::{cat, fresh, put, system};

#[tokio::test]
async fn every_write_adds_a_version() {
    let (_dir, fs) = fresh().await;
    for content in ["one", "two", "three"] {
        put(&fs, "/orgs/acme/doc.md", content).await;
    }
    let versions = fs
        .files()
        .versions(&system(), "/orgs/acme/doc.md")
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(
        versions.iter().map(|v| v.current).collect::<Vec<_>>(),
        [true, false, false]
    );
    assert_eq!(versions[2].size, 3);
    let stat = fs
        .files()
        .stat(&system(), "/orgs/acme/doc.md")
        .await
        .unwrap();
    assert_eq!(Some(versions[0].etag.clone()), stat.etag);

    let old = fs
        .files()
        .read(
            &system(),
            "/orgs/acme/doc.md",
            ReadOptions {
                version: Some(1),
                range: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(old.content, "one");
    assert_eq!(old.entry.version, 1);
    assert_eq!(old.entry.etag.as_deref(), Some(versions[2].etag.as_str()));

    let restored = fs
        .files()
        .restore(&system(), "/orgs/acme/doc.md", 1)
        .await
        .unwrap();
    assert_eq!(restored.version, 4);
    assert_eq!(cat(&fs, "/orgs/acme/doc.md").await, "one");
    assert_eq!(
        fs.files()
            .versions(&system(), "/orgs/acme/doc.md")
            .await
            .unwrap()
            .len(),
        4
    );

    let missing = fs
        .files()
        .restore(&system(), "/orgs/acme/doc.md", 99)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
    assert_eq!(
        missing.to_string(),
        "version 99 of `/orgs/acme/doc.md` does not exist"
    );
    let on_dir = fs
        .files()
        .versions(&system(), "/orgs/acme")
        .await
        .unwrap_err();
    assert_eq!(on_dir.code(), ErrorCode::IsADirectory);
}

#[tokio::test]
async fn keep_last_prunes_and_gc_reclaims() {
    let (_dir, fs) = fresh().await;
    let policy = VersionPolicy {
        keep_last: Some(3),
        keep_days: None,
    };
    fs.files()
        .set_version_policy(&system(), "acme", policy)
        .await
        .unwrap();
    assert_eq!(
        fs.files().version_policy(&system(), "acme").await.unwrap(),
        policy
    );
    for index in 1..=10 {
        put(&fs, "/orgs/acme/log", &format!("entry {index}")).await;
    }
    let versions = fs
        .files()
        .versions(&system(), "/orgs/acme/log")
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [10, 9, 8]
    );
    let before = fs.store().check(true).await.unwrap();
    assert_eq!(before.problems, Vec::<String>::new());
    assert_eq!(before.referenced_blobs, 3);

    // Unreferenced blobs survive until the grace period has passed.
    let early = fs
        .store()
        .collect_garbage(Timestamp::now().minus(Duration::from_hours(1)))
        .await
        .unwrap();
    assert_eq!(early.unreferenced, 0);
    let report = fs
        .store()
        .collect_garbage(Timestamp(i64::MAX))
        .await
        .unwrap();
    assert_eq!(report.unreferenced, 7);
    let after = fs.store().check(true).await.unwrap();
    assert_eq!(after.problems, Vec::<String>::new());
    assert_eq!(after.orphan_blobs, 0);
    assert_eq!(cat(&fs, "/orgs/acme/log").await, "entry 10");

    let zero = fs
        .files()
        .set_version_policy(
            &system(),
            "acme",
            VersionPolicy {
                keep_last: Some(0),
                keep_days: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(zero.code(), ErrorCode::InvalidInput);
}

#[tokio::test]
async fn keep_days_drops_old_versions_but_never_the_current_one() {
    let (_dir, fs) = fresh().await;
    let org = OrgId::parse("acme").unwrap();
    let now = Timestamp::now();
    let day = Duration::from_hours(24);
    for (age_days, content) in [(30, "a"), (20, "b"), (10, "c"), (1, "d")] {
        fs.store()
            .write(WriteRequest {
                org: org.clone(),
                path: VfsPath::parse("/orgs/acme/aging").unwrap(),
                content: Bytes::from_static(content.as_bytes()),
                precondition: Precondition::None,
                create_parents: false,
                author: "system".to_owned(),
                at: now.minus(day * age_days),
            })
            .await
            .unwrap();
    }
    fs.store()
        .write(WriteRequest {
            org: org.clone(),
            path: VfsPath::parse("/orgs/acme/ancient").unwrap(),
            content: Bytes::from_static(b"only version"),
            precondition: Precondition::None,
            create_parents: false,
            author: "system".to_owned(),
            at: now.minus(day * 400),
        })
        .await
        .unwrap();
    fs.files()
        .set_version_policy(
            &system(),
            "acme",
            VersionPolicy {
                keep_last: None,
                keep_days: Some(15),
            },
        )
        .await
        .unwrap();
    let versions = fs
        .files()
        .versions(&system(), "/orgs/acme/aging")
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [4, 3]
    );
    assert_eq!(
        fs.files()
            .versions(&system(), "/orgs/acme/ancient")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(cat(&fs, "/orgs/acme/ancient").await, "only version");
}

#[tokio::test]
async fn removing_a_file_releases_all_its_versions() {
    let (_dir, fs) = fresh().await;
    for content in ["1", "2", "3"] {
        put(&fs, "/orgs/acme/tmp/f", content).await;
    }
    put(&fs, "/orgs/acme/keep", "2").await;
    fs.files()
        .rm(&system(), "/orgs/acme/tmp", true)
        .await
        .unwrap();
    let report = fs
        .store()
        .collect_garbage(Timestamp(i64::MAX))
        .await
        .unwrap();
    assert_eq!(
        report.unreferenced, 2,
        "blob `2` is still used by /orgs/acme/keep"
    );
    assert_eq!(cat(&fs, "/orgs/acme/keep").await, "2");
    let check = fs.store().check(true).await.unwrap();
    assert_eq!(check.problems, Vec::<String>::new());
    assert_eq!(check.referenced_blobs, 1);
}

#[tokio::test]
async fn file_ids_survive_renames_and_history_follows() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/a", "1").await;
    put(&fs, "/orgs/acme/a", "2").await;
    fs.files()
        .mv(&system(), "/orgs/acme/a", "/orgs/acme/b", false)
        .await
        .unwrap();
    let versions = fs
        .files()
        .versions(&system(), "/orgs/acme/b")
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    // A new file at the old path starts a new history.
    put(&fs, "/orgs/acme/a", "fresh").await;
    assert_eq!(
        fs.files()
            .versions(&system(), "/orgs/acme/a")
            .await
            .unwrap()
            .len(),
        1
    );
}
