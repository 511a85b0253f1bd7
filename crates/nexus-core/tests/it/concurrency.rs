//! Concurrent writers lose nothing.

use bytes::Bytes;
use nexus_core::{ErrorCode, ReadOptions, WriteOptions};

use crate::{cat, fresh, put, system};

const WRITERS: usize = 16;
const INCREMENTS: usize = 25;

/// 16 writers each add 25 entries to one JSON list by read-modify-write with `If-Match`,
/// retrying on conflict: every entry lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_match_read_modify_write_loses_no_update() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/members.json", "[]").await;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0_usize;
            for increment in 0..INCREMENTS {
                loop {
                    let current = fs
                        .files()
                        .read(&system(), "/orgs/acme/members.json", ReadOptions::default())
                        .await
                        .unwrap();
                    let mut members: Vec<String> =
                        serde_json::from_slice(&current.content).unwrap();
                    members.push(format!("w{writer}-{increment}"));
                    let body = Bytes::from(serde_json::to_vec(&members).unwrap());
                    let options = WriteOptions {
                        if_match: current.entry.etag.clone(),
                        ..WriteOptions::default()
                    };
                    match fs
                        .files()
                        .write(&system(), "/orgs/acme/members.json", body, options)
                        .await
                    {
                        Ok(_) => break,
                        Err(error) => {
                            assert_eq!(error.code(), ErrorCode::PreconditionFailed, "{error}");
                            assert!(
                                error.current_etag().is_some(),
                                "a conflict carries the current etag"
                            );
                            conflicts += 1;
                        }
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let members: Vec<String> =
        serde_json::from_str(&cat(&fs, "/orgs/acme/members.json").await).unwrap();
    assert_eq!(members.len(), WRITERS * INCREMENTS);
    let mut unique = members.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        WRITERS * INCREMENTS,
        "no entry was written twice"
    );
    let stat = fs
        .files()
        .stat(&system(), "/orgs/acme/members.json")
        .await
        .unwrap();
    assert_eq!(
        stat.version,
        1 + (WRITERS * INCREMENTS) as u64,
        "one version per successful write"
    );
    assert!(conflicts > 0, "the writers really raced");
    let report = fs.store().check(true).await.unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!(
        report.orphan_blobs, 0,
        "refused writes left no content behind"
    );
}

/// 32 simultaneous create-if-absent writes: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_none_match_create_race_has_one_winner() {
    let (_dir, fs) = fresh().await;
    let mut tasks = Vec::new();
    for writer in 0..32 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            let options = WriteOptions {
                if_none_match: true,
                ..WriteOptions::default()
            };
            fs.files()
                .write(
                    &system(),
                    "/orgs/acme/lock",
                    Bytes::from(format!("owner {writer}")),
                    options,
                )
                .await
        }));
    }
    let mut winners = Vec::new();
    for (writer, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(_) => winners.push(writer),
            Err(error) => assert_eq!(error.code(), ErrorCode::PreconditionFailed),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(
        cat(&fs, "/orgs/acme/lock").await,
        format!("owner {}", winners[0])
    );
}

/// Concurrent renames of one file to different targets: exactly one succeeds and the
/// namespace stays a tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_have_one_winner() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/src", "payload").await;
    let mut tasks = Vec::new();
    for target in 0..16 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            fs.files()
                .mv(
                    &system(),
                    "/orgs/acme/src",
                    &format!("/orgs/acme/dst{target}"),
                    false,
                )
                .await
        }));
    }
    let mut moved = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => moved += 1,
            Err(error) => assert_eq!(error.code(), ErrorCode::NotFound),
        }
    }
    assert_eq!(moved, 1);
    let remaining = crate::tree(&fs, "/orgs/acme").await;
    assert_eq!(remaining.len(), 1);
    assert_eq!(cat(&fs, &remaining[0]).await, "payload");
}

/// Writes abandoned at random moments (the caller's future dropped mid-flight, as when an
/// HTTP client hangs up) leave either the old or the complete new content, never a partial
/// file, and no content that garbage collection cannot reclaim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writes_leave_no_partial_state() {
    use rand::{RngExt, SeedableRng};
    let (_dir, fs) = fresh().await;
    fs.files()
        .mkdir(&system(), "/orgs/acme/c", false)
        .await
        .unwrap();
    // Budgets scale with how long a write takes on this machine now (a loaded CI machine
    // can take longer than any fixed budget, and then no write would ever complete).
    let started = std::time::Instant::now();
    fs.files()
        .write(
            &system(),
            "/orgs/acme/warmup",
            Bytes::from(vec![7u8; 100_000]),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let max_budget = u64::try_from(started.elapsed().as_micros().saturating_mul(4))
        .unwrap_or(u64::MAX)
        .max(20_000);
    let mut tasks = Vec::new();
    for worker in 0..8_u64 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            let context = system();
            let mut rng = rand::rngs::SmallRng::seed_from_u64(worker);
            let mut completed = 0;
            for attempt in 0..40_u64 {
                let fill = u8::try_from((worker * 40 + attempt) % 251).unwrap();
                let size = rng.random_range(0..200_000);
                let path = format!("/orgs/acme/c/{}", rng.random_range(0..10));
                let write = fs.files().write(
                    &context,
                    &path,
                    Bytes::from(vec![fill; size]),
                    WriteOptions::default(),
                );
                let budget = std::time::Duration::from_micros(rng.random_range(0..max_budget));
                if tokio::time::timeout(budget, write).await.is_ok() {
                    completed += 1;
                }
            }
            completed
        }));
    }
    let mut completed = 0;
    for task in tasks {
        completed += task.await.unwrap();
    }
    // Let committed-but-unanswered mutations land before inspecting.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for entry in crate::tree(&fs, "/orgs/acme/c").await {
        let content = fs
            .files()
            .read(&system(), &entry, ReadOptions::default())
            .await
            .unwrap()
            .content;
        let first = content.first().copied().unwrap_or(0);
        assert!(
            content.iter().all(|byte| *byte == first),
            "{entry} holds mixed content"
        );
    }
    let report = fs.store().check(true).await.unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    fs.store()
        .collect_garbage(nexus_core::Timestamp(i64::MAX))
        .await
        .unwrap();
    let report = fs.store().check(true).await.unwrap();
    assert_eq!((report.problems.len(), report.orphan_blobs), (0, 0));
    assert!(
        completed > 0 && completed < 320,
        "{completed} of 320 writes completed: both outcomes must occur"
    );
}
