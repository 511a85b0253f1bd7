//! Tests of the S3 blob store against the S3 stand-in of `scripts/services.sh` (ignored by
//! a plain `cargo test`; `scripts/test.sh` runs them with `--ignored`, and they fail, never
//! skip, without the services).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use nexus_path::OrgId;
use nexus_store::{BlobStore, ContentHash, StoreError};
use nexus_store_s3::{MULTIPART_THRESHOLD, S3BlobStore, S3Options};

fn store(prefix: &str) -> S3BlobStore {
    let url = std::env::var("NEXUS_S3_URL").unwrap_or_else(|_| {
        panic!("NEXUS_S3_URL is not set: run `eval \"$(scripts/services.sh start)\"` first")
    });
    S3BlobStore::connect(&S3Options::new(format!("{url}/{prefix}"))).unwrap()
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Create-only puts, whole and ranged reads, existence, listing per organization, deletes.
#[tokio::test]
#[ignore = "needs the S3 stand-in: scripts/services.sh start, then cargo test -- --ignored"]
async fn blobs_round_trip() {
    let store = store(&unique("round-trip"));
    let acme = OrgId::parse("acme").unwrap();
    let other = OrgId::parse("other").unwrap();
    let content = Bytes::from_static(b"hello, object storage");
    let hash = ContentHash::of(&content);
    assert!(!store.exists(&acme, &hash).await.unwrap());
    store.put(&acme, &hash, content.clone()).await.unwrap();
    // Again, even with other bytes under the name: create-only, the first content stays.
    store.put(&acme, &hash, content.clone()).await.unwrap();
    store
        .put(&acme, &hash, Bytes::from_static(b"not the content"))
        .await
        .unwrap();
    assert!(store.exists(&acme, &hash).await.unwrap());
    assert!(
        !store.exists(&other, &hash).await.unwrap(),
        "organizations never share a blob"
    );
    assert_eq!(store.get(&acme, &hash).await.unwrap(), content);
    assert_eq!(
        store.get_range(&acme, &hash, 7..13).await.unwrap(),
        Bytes::from_static(b"object")
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].org, acme);
    assert_eq!(listed[0].hash, hash);
    assert_eq!(listed[0].size, content.len() as u64);
    store.delete(&acme, &hash).await.unwrap();
    store.delete(&acme, &hash).await.unwrap();
    assert!(matches!(
        store.get(&acme, &hash).await,
        Err(StoreError::MissingBlob { .. })
    ));
    assert!(store.list().await.unwrap().is_empty());
}

/// Content above the multipart threshold goes up in parts and reads back whole and ranged.
#[tokio::test]
#[ignore = "needs the S3 stand-in: scripts/services.sh start, then cargo test -- --ignored"]
async fn large_blobs_go_in_parts() {
    let store = store(&unique("parts"));
    let acme = OrgId::parse("acme").unwrap();
    let content: Bytes = (0..MULTIPART_THRESHOLD + 3_000_001)
        .map(|n| u8::try_from(n % 251).unwrap())
        .collect::<Vec<u8>>()
        .into();
    let hash = ContentHash::of(&content);
    store.put(&acme, &hash, content.clone()).await.unwrap();
    store.put(&acme, &hash, content.clone()).await.unwrap();
    let read = store.get(&acme, &hash).await.unwrap();
    assert_eq!(read.len(), content.len());
    assert_eq!(ContentHash::of(&read), hash);
    let end = content.len() as u64;
    assert_eq!(
        store.get_range(&acme, &hash, end - 10..end).await.unwrap(),
        content.slice(content.len() - 10..)
    );
}

/// An object store that cannot be reached fails as unavailable once the retries are spent,
/// within the configured bound.
#[tokio::test]
async fn an_unreachable_store_is_unavailable() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = S3Options::new("s3://nowhere/prefix");
    options.retry_timeout = Duration::from_secs(1);
    options.max_retries = 2;
    let store = S3BlobStore::connect_to(&options, &format!("http://127.0.0.1:{port}")).unwrap();
    let acme = OrgId::parse("acme").unwrap();
    let started = Instant::now();
    let error = store
        .put(&acme, &ContentHash::of(b"x"), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        store
            .exists(&acme, &ContentHash::of(b"x"))
            .await
            .unwrap_err()
            .is_unavailable()
    );
}
