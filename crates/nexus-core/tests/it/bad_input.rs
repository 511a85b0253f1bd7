//! Bad input gets a typed error with a stable code, and changes nothing.

use bytes::Bytes;
use nexus_core::{
    ByteRange, ErrorCode, Fs, FsError, GlobOptions, GrepOptions, ListOptions, ReadOptions,
    WriteOptions,
};

use crate::{fresh, put, system, tree};

/// Everything observable: every path with its etag, every file's versions, the blob files.
async fn snapshot(fs: &Fs) -> (Vec<String>, u64, u64) {
    let mut state = Vec::new();
    for path in tree(fs, "/").await {
        let entry = fs.files().stat(&system(), &path).await.unwrap();
        let versions = if entry.is_dir() {
            Vec::new()
        } else {
            fs.files()
                .versions(&system(), &path)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.etag)
                .collect()
        };
        state.push(format!("{path} {:?} {versions:?}", entry.etag));
    }
    let report = fs.store().check(false).await.unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    (state, report.referenced_blobs, report.orphan_blobs)
}

fn no_parents() -> WriteOptions {
    WriteOptions::default()
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let (_dir, fs) = fresh().await;
    let file = put(&fs, "/orgs/acme/docs/a.txt", "a").await;
    put(&fs, "/orgs/acme/docs/sub/b.txt", "b").await;
    let stale = file.etag.clone().unwrap();
    put(&fs, "/orgs/acme/docs/a.txt", "a2").await;
    let before = snapshot(&fs).await;
    let s = system();
    let content = || Bytes::from_static(b"new content that must not land");

    let attempts: Vec<(&str, ErrorCode, Result<(), FsError>)> = vec![
        (
            "relative path",
            ErrorCode::InvalidPath,
            fs.files()
                .write(&s, "orgs/acme/x", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "dot-dot",
            ErrorCode::InvalidPath,
            fs.files()
                .write(&s, "/orgs/acme/../x", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "empty segment",
            ErrorCode::InvalidPath,
            fs.files()
                .write(&s, "/orgs/acme//x", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "nul",
            ErrorCode::InvalidPath,
            fs.files()
                .write(&s, "/orgs/acme/x\0y", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "bidi override",
            ErrorCode::InvalidPath,
            fs.files()
                .mkdir(&s, "/orgs/acme/\u{202e}x", false)
                .await
                .map(drop),
        ),
        (
            "long segment",
            ErrorCode::InvalidPath,
            fs.files()
                .write(
                    &s,
                    &format!("/orgs/acme/{}", "x".repeat(256)),
                    content(),
                    no_parents(),
                )
                .await
                .map(drop),
        ),
        (
            "bad org id",
            ErrorCode::InvalidPath,
            fs.files().mkdir(&s, "/orgs/bad org", false).await.map(drop),
        ),
        (
            "outside orgs",
            ErrorCode::InvalidInput,
            fs.files()
                .write(&s, "/etc/passwd", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "into fixed dir",
            ErrorCode::InvalidInput,
            fs.files()
                .write(&s, "/orgs", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "missing parent",
            ErrorCode::ParentNotFound,
            fs.files()
                .write(&s, "/orgs/acme/nope/x", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "missing org",
            ErrorCode::ParentNotFound,
            fs.files()
                .write(&s, "/orgs/ghost/x", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "parent is a file",
            ErrorCode::NotADirectory,
            fs.files()
                .write(
                    &s,
                    "/orgs/acme/docs/a.txt/x",
                    content(),
                    WriteOptions {
                        create_parents: true,
                        ..WriteOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "write over directory",
            ErrorCode::IsADirectory,
            fs.files()
                .write(&s, "/orgs/acme/docs", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "write org root",
            ErrorCode::IsADirectory,
            fs.files()
                .write(&s, "/orgs/acme", content(), no_parents())
                .await
                .map(drop),
        ),
        (
            "stale if-match",
            ErrorCode::PreconditionFailed,
            fs.files()
                .write(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    content(),
                    WriteOptions {
                        if_match: Some(stale.clone()),
                        ..WriteOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "if-none-match on existing",
            ErrorCode::PreconditionFailed,
            fs.files()
                .write(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    content(),
                    WriteOptions {
                        if_none_match: true,
                        ..WriteOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "both preconditions",
            ErrorCode::InvalidInput,
            fs.files()
                .write(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    content(),
                    WriteOptions {
                        if_none_match: true,
                        if_match: Some(stale.clone()),
                        ..WriteOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "malformed etag",
            ErrorCode::InvalidInput,
            fs.files()
                .write(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    content(),
                    WriteOptions {
                        if_match: Some("\"a\"b\"".to_owned()),
                        ..WriteOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "rm non-empty",
            ErrorCode::DirectoryNotEmpty,
            fs.files().rm(&s, "/orgs/acme/docs", false).await.map(drop),
        ),
        (
            "rm missing",
            ErrorCode::NotFound,
            fs.files().rm(&s, "/orgs/acme/ghost", true).await.map(drop),
        ),
        (
            "rm fixed",
            ErrorCode::InvalidInput,
            fs.files().rm(&s, "/", true).await.map(drop),
        ),
        (
            "mkdir existing",
            ErrorCode::AlreadyExists,
            fs.files()
                .mkdir(&s, "/orgs/acme/docs", false)
                .await
                .map(drop),
        ),
        (
            "mkdir over file",
            ErrorCode::AlreadyExists,
            fs.files()
                .mkdir(&s, "/orgs/acme/docs/a.txt", true)
                .await
                .map(drop),
        ),
        (
            "mv into itself",
            ErrorCode::InvalidInput,
            fs.files()
                .mv(&s, "/orgs/acme/docs", "/orgs/acme/docs/sub/inner", false)
                .await
                .map(drop),
        ),
        (
            "mv missing",
            ErrorCode::NotFound,
            fs.files()
                .mv(&s, "/orgs/acme/ghost", "/orgs/acme/x", false)
                .await
                .map(drop),
        ),
        (
            "mv onto file",
            ErrorCode::AlreadyExists,
            fs.files()
                .mv(
                    &s,
                    "/orgs/acme/docs/sub/b.txt",
                    "/orgs/acme/docs/a.txt",
                    false,
                )
                .await
                .map(drop),
        ),
        (
            "mv dir onto file",
            ErrorCode::AlreadyExists,
            fs.files()
                .mv(&s, "/orgs/acme/docs/sub", "/orgs/acme/docs/a.txt", true)
                .await
                .map(drop),
        ),
        (
            "mv org root",
            ErrorCode::InvalidInput,
            fs.files()
                .mv(&s, "/orgs/acme", "/orgs/acme2", false)
                .await
                .map(drop),
        ),
        (
            "cp dir without recursive",
            ErrorCode::IsADirectory,
            fs.files()
                .cp(&s, "/orgs/acme/docs", "/orgs/acme/copy", false, false)
                .await
                .map(drop),
        ),
        (
            "cp into itself",
            ErrorCode::InvalidInput,
            fs.files()
                .cp(
                    &s,
                    "/orgs/acme/docs",
                    "/orgs/acme/docs/sub/copy",
                    true,
                    false,
                )
                .await
                .map(drop),
        ),
        (
            "cp missing parent",
            ErrorCode::ParentNotFound,
            fs.files()
                .cp(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    "/orgs/acme/no/where",
                    false,
                    false,
                )
                .await
                .map(drop),
        ),
        (
            "restore missing version",
            ErrorCode::NotFound,
            fs.files()
                .restore(&s, "/orgs/acme/docs/a.txt", 42)
                .await
                .map(drop),
        ),
        (
            "restore directory",
            ErrorCode::IsADirectory,
            fs.files().restore(&s, "/orgs/acme/docs", 1).await.map(drop),
        ),
        (
            "read directory",
            ErrorCode::IsADirectory,
            fs.files()
                .read(&s, "/orgs/acme/docs", ReadOptions::default())
                .await
                .map(drop),
        ),
        (
            "range past end",
            ErrorCode::RangeNotSatisfiable,
            fs.files()
                .read(
                    &s,
                    "/orgs/acme/docs/a.txt",
                    ReadOptions {
                        range: Some(ByteRange::From(99)),
                        version: None,
                    },
                )
                .await
                .map(drop),
        ),
        (
            "bad cursor",
            ErrorCode::InvalidInput,
            fs.files()
                .ls(
                    &s,
                    "/orgs/acme",
                    ListOptions {
                        cursor: Some("garbage".to_owned()),
                        ..ListOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "huge page",
            ErrorCode::InvalidInput,
            fs.files()
                .ls(
                    &s,
                    "/orgs/acme",
                    ListOptions {
                        limit: Some(1_000_000),
                        ..ListOptions::default()
                    },
                )
                .await
                .map(drop),
        ),
        (
            "bad glob",
            ErrorCode::InvalidInput,
            fs.files()
                .glob(&s, "/orgs/acme/[", GlobOptions::default())
                .await
                .map(drop),
        ),
        (
            "bad regex",
            ErrorCode::InvalidInput,
            fs.files()
                .grep(&s, "a{99999999}", "/orgs/acme", GrepOptions::default())
                .await
                .map(drop),
        ),
        (
            "bad policy org",
            ErrorCode::InvalidPath,
            fs.files()
                .version_policy(&s, "no such org!")
                .await
                .map(drop),
        ),
    ];
    let mut failures = Vec::new();
    for (name, expected, result) in attempts {
        match result {
            Ok(()) => failures.push(format!("{name}: succeeded")),
            Err(error) if error.code() != expected => {
                failures.push(format!("{name}: {} ({error})", error.code()));
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(
        snapshot(&fs).await,
        before,
        "a refused operation changed the store"
    );
}
