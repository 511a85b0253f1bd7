//! Integration tests of the filesystem service against a real data directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test; scenario tests read top to bottom"
)]

mod archive;
mod bad_input;
mod changes;
mod concurrency;
mod lockers;
mod nodes;
mod operations;
mod orgs;
mod permissions;
mod reminders;
mod retrieval;
mod roundtrip;
mod search;
mod versions;

use bytes::Bytes;
use nexus_core::{CallContext, Fs, ReadOptions, StoreOptions, WriteOptions};
use tempfile::TempDir;

/// A fresh data directory with `/orgs/acme` created.
pub(crate) async fn fresh() -> (TempDir, Fs) {
    let dir = TempDir::new().unwrap();
    let fs = Fs::open(&dir.path().join("data"), StoreOptions::default())
        .await
        .unwrap();
    fs.files()
        .mkdir(&system(), "/orgs/acme", false)
        .await
        .unwrap();
    (dir, fs)
}

pub(crate) fn system() -> CallContext {
    CallContext::system()
}

pub(crate) async fn put(fs: &Fs, path: &str, content: &str) -> nexus_core::Entry {
    fs.files()
        .write(
            &system(),
            path,
            Bytes::from(content.to_owned()),
            WriteOptions {
                create_parents: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap()
}

pub(crate) async fn cat(fs: &Fs, path: &str) -> String {
    let output = fs
        .files()
        .read(&system(), path, ReadOptions::default())
        .await
        .unwrap();
    String::from_utf8(output.content.to_vec()).unwrap()
}

/// Paths of a recursive listing of `dir`.
pub(crate) async fn tree(fs: &Fs, dir: &str) -> Vec<String> {
    let page = fs
        .files()
        .ls(
            &system(),
            dir,
            nexus_core::ListOptions {
                recursive: true,
                limit: Some(nexus_core::MAX_PAGE_SIZE),
                cursor: None,
            },
        )
        .await
        .unwrap();
    page.entries.into_iter().map(|entry| entry.path).collect()
}
