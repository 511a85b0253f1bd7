use bytes::Bytes;
use nexus_core::{
    ByteRange, CallContext, EntryKind, ErrorCode, ListOptions, OrgId, Principal, ReadOptions,
    WriteOptions,
};

use crate::{cat, fresh, put, system, tree};

#[tokio::test]
async fn write_read_stat() {
    let (_dir, fs) = fresh().await;
    let entry = put(&fs, "/orgs/acme/sales/notes.md", "# Q1\nhello\n").await;
    assert_eq!(entry.kind, EntryKind::File);
    assert_eq!(entry.size, 11);
    assert_eq!(entry.version, 1);
    assert_eq!(entry.name, "notes.md");
    assert_eq!(entry.author, "system");
    assert_eq!(
        entry.hash.as_deref(),
        Some(blake3::hash(b"# Q1\nhello\n").to_hex().as_str())
    );
    assert_eq!(cat(&fs, "/orgs/acme/sales/notes.md").await, "# Q1\nhello\n");

    let stat = fs
        .files()
        .stat(&system(), "/orgs/acme/sales/notes.md")
        .await
        .unwrap();
    assert_eq!(stat, entry);
    let dir = fs
        .files()
        .stat(&system(), "/orgs/acme/sales/")
        .await
        .unwrap();
    assert_eq!(dir.kind, EntryKind::Directory);
    assert_eq!(dir.etag, None);

    let again = put(&fs, "/orgs/acme/sales/notes.md", "v2").await;
    assert_eq!(again.version, 2);
    assert_ne!(again.etag, entry.etag);
    assert_eq!(again.created_at, entry.created_at);
    assert_eq!(cat(&fs, "/orgs/acme/sales/notes.md").await, "v2");
}

#[tokio::test]
async fn nfd_and_nfc_name_one_file() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/cafe\u{301}.txt", "one").await;
    put(&fs, "/orgs/acme/caf\u{e9}.txt", "two").await;
    assert_eq!(tree(&fs, "/orgs/acme").await, ["/orgs/acme/caf\u{e9}.txt"]);
    assert_eq!(cat(&fs, "/orgs/acme/cafe\u{301}.txt").await, "two");
}

#[tokio::test]
async fn case_variants_are_distinct() {
    let (_dir, fs) = fresh().await;
    fs.files()
        .mkdir(&system(), "/orgs/Acme", false)
        .await
        .unwrap();
    put(&fs, "/orgs/acme/Doc", "upper").await;
    put(&fs, "/orgs/acme/doc", "lower").await;
    put(&fs, "/orgs/Acme/doc", "other org").await;
    assert_eq!(cat(&fs, "/orgs/acme/Doc").await, "upper");
    assert_eq!(cat(&fs, "/orgs/acme/doc").await, "lower");
    assert_eq!(cat(&fs, "/orgs/Acme/doc").await, "other org");
}

#[tokio::test]
async fn byte_ranges() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/f", "0123456789").await;
    let read = |range: &str| {
        let fs = fs.clone();
        let range = ByteRange::parse(range).unwrap();
        async move {
            fs.files()
                .read(
                    &system(),
                    "/orgs/acme/f",
                    ReadOptions {
                        range: Some(range),
                        version: None,
                    },
                )
                .await
        }
    };
    let cases = [
        ("0-3", "0123", (0, 4)),
        ("8-", "89", (8, 10)),
        ("-3", "789", (7, 10)),
        ("5-100", "56789", (5, 10)),
    ];
    for (range, expected, span) in cases {
        let output = read(range).await.unwrap();
        assert_eq!(output.content, expected.as_bytes(), "{range}");
        assert_eq!(output.range, Some(span), "{range}");
    }
    let error = read("10-").await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::RangeNotSatisfiable);
    assert_eq!(
        error.to_string(),
        "byte range 10- is outside `/orgs/acme/f` (10 bytes)"
    );
    for bad in ["", "-", "a-b", "5-2", "1-2-3"] {
        assert_eq!(
            ByteRange::parse(bad).unwrap_err().code(),
            ErrorCode::InvalidInput,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn preconditions() {
    let (_dir, fs) = fresh().await;
    let created = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/c.json",
            Bytes::from_static(b"{}"),
            WriteOptions {
                if_none_match: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let again = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/c.json",
            Bytes::from_static(b"{}"),
            WriteOptions {
                if_none_match: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::PreconditionFailed);
    assert_eq!(again.current_etag(), created.etag.as_deref());

    let etag = created.etag.clone().unwrap();
    let updated = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/c.json",
            Bytes::from_static(b"{\"a\":1}"),
            WriteOptions {
                if_match: Some(format!("\"{etag}\"")),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let stale = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/c.json",
            Bytes::from_static(b"{\"b\":2}"),
            WriteOptions {
                if_match: Some(etag.clone()),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code(), ErrorCode::PreconditionFailed);
    assert_eq!(
        stale.to_string(),
        format!(
            "precondition failed for `/orgs/acme/c.json`: its current etag is `{}`",
            updated.etag.clone().unwrap()
        )
    );
    assert_eq!(cat(&fs, "/orgs/acme/c.json").await, "{\"a\":1}");

    let missing = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/none",
            Bytes::new(),
            WriteOptions {
                if_match: Some("*".to_owned()),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "precondition failed for `/orgs/acme/none`: it does not exist"
    );
    let weak = fs
        .files()
        .write(
            &system(),
            "/orgs/acme/c.json",
            Bytes::new(),
            WriteOptions {
                if_match: Some(format!("W/\"{etag}\"")),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(weak.code(), ErrorCode::InvalidInput);
}

#[tokio::test]
async fn listing_is_sorted_and_paginated() {
    let (_dir, fs) = fresh().await;
    let names: Vec<String> = (0..57).map(|index| format!("f{index:03}")).collect();
    for name in names.iter().rev() {
        put(&fs, &format!("/orgs/acme/d/{name}"), name).await;
    }
    put(&fs, "/orgs/acme/d/sub/deep", "x").await;
    for page_size in [1, 2, 5, 16, 53, 58, 1000] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = fs
                .files()
                .ls(
                    &system(),
                    "/orgs/acme/d",
                    ListOptions {
                        recursive: false,
                        limit: Some(page_size),
                        cursor: cursor.take(),
                    },
                )
                .await
                .unwrap();
            assert!(page.entries.len() <= page_size);
            seen.extend(page.entries.into_iter().map(|entry| entry.name));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut expected = names.clone();
        expected.push("sub".to_owned());
        assert_eq!(seen, expected, "page size {page_size}");
    }
    let recursive = tree(&fs, "/orgs/acme/d").await;
    assert_eq!(recursive.len(), 59);
    assert!(recursive.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(recursive.contains(&"/orgs/acme/d/sub/deep".to_owned()));

    let file = fs
        .files()
        .ls(&system(), "/orgs/acme/d/f000", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(file.entries.len(), 1);
    let bad_limit = fs
        .files()
        .ls(
            &system(),
            "/orgs/acme/d",
            ListOptions {
                limit: Some(0),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad_limit.to_string(), "invalid page size 0: use 1 to 10000");
}

#[tokio::test]
async fn fixed_directories_and_tenant_views() {
    let (_dir, fs) = fresh().await;
    fs.files()
        .mkdir(&system(), "/orgs/techcorp", false)
        .await
        .unwrap();
    put(&fs, "/orgs/acme/a.txt", "a").await;
    put(&fs, "/orgs/techcorp/t.txt", "t").await;
    let root = fs
        .files()
        .ls(&system(), "/", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(
        root.entries
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["/orgs"]
    );
    let orgs = fs
        .files()
        .ls(&system(), "/orgs/", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(
        orgs.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["acme", "techcorp"]
    );

    let alice = CallContext::in_org(
        Principal::User("alice@acme.com".into()),
        OrgId::parse("acme").unwrap(),
    );
    fs.relationships()
        .setfacl(&system(), "/orgs/acme", "user:alice@acme.com:rwx")
        .await
        .unwrap();
    let seen = fs
        .files()
        .ls(&alice, "/orgs", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(
        seen.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["acme"]
    );
    let everything = fs
        .files()
        .ls(
            &alice,
            "/",
            ListOptions {
                recursive: true,
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        everything
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["/orgs", "/orgs/acme", "/orgs/acme/a.txt"]
    );
    // Another organization's paths do not exist for this caller.
    let hidden = fs
        .files()
        .read(&alice, "/orgs/techcorp/t.txt", ReadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), ErrorCode::NotFound);
    assert_eq!(hidden.to_string(), "`/orgs/techcorp/t.txt` does not exist");
    let write = fs
        .files()
        .write(
            &alice,
            "/orgs/techcorp/x",
            Bytes::new(),
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(write.code(), ErrorCode::NotFound);
    assert_eq!(tree(&fs, "/orgs/techcorp").await, ["/orgs/techcorp/t.txt"]);

    let written = fs
        .files()
        .write(
            &alice,
            "/orgs/acme/mine",
            Bytes::new(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(written.author, "user:alice@acme.com");
}

#[tokio::test]
async fn mkdir_semantics() {
    let (_dir, fs) = fresh().await;
    let created = fs
        .files()
        .mkdir(&system(), "/orgs/acme/a/b/c", true)
        .await
        .unwrap();
    assert_eq!(created.kind, EntryKind::Directory);
    assert_eq!(
        tree(&fs, "/orgs/acme").await,
        ["/orgs/acme/a", "/orgs/acme/a/b", "/orgs/acme/a/b/c"]
    );
    fs.files()
        .mkdir(&system(), "/orgs/acme/a/b/c", true)
        .await
        .unwrap();
    let exists = fs
        .files()
        .mkdir(&system(), "/orgs/acme/a/b/c", false)
        .await
        .unwrap_err();
    assert_eq!(exists.code(), ErrorCode::AlreadyExists);
    let missing = fs
        .files()
        .mkdir(&system(), "/orgs/acme/x/y", false)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::ParentNotFound);
    assert_eq!(
        missing.to_string(),
        "parent directory `/orgs/acme/x` does not exist"
    );
    put(&fs, "/orgs/acme/file", "x").await;
    let under_file = fs
        .files()
        .mkdir(&system(), "/orgs/acme/file/sub", true)
        .await
        .unwrap_err();
    assert_eq!(under_file.code(), ErrorCode::NotADirectory);
    // The fixed directories always exist: making them succeeds without changing anything.
    for path in ["/", "/orgs"] {
        for parents in [true, false] {
            let entry = fs.files().mkdir(&system(), path, parents).await.unwrap();
            assert!(entry.is_dir(), "{path}");
        }
    }
}

#[tokio::test]
async fn rm_semantics() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/d/a", "a").await;
    put(&fs, "/orgs/acme/d/e/b", "b").await;
    fs.files()
        .mkdir(&system(), "/orgs/acme/empty", false)
        .await
        .unwrap();
    let refused = fs
        .files()
        .rm(&system(), "/orgs/acme/d", false)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::DirectoryNotEmpty);
    assert_eq!(tree(&fs, "/orgs/acme/d").await.len(), 3);
    assert_eq!(
        fs.files()
            .rm(&system(), "/orgs/acme/empty", false)
            .await
            .unwrap()
            .removed,
        1
    );
    assert_eq!(
        fs.files()
            .rm(&system(), "/orgs/acme/d/a", false)
            .await
            .unwrap()
            .removed,
        1
    );
    assert_eq!(
        fs.files()
            .rm(&system(), "/orgs/acme/d", true)
            .await
            .unwrap()
            .removed,
        3
    );
    assert_eq!(tree(&fs, "/orgs/acme").await, Vec::<String>::new());
    assert_eq!(
        fs.files()
            .rm(&system(), "/orgs/acme/d", true)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        fs.files()
            .rm(&system(), "/orgs", true)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::InvalidInput
    );
}

#[tokio::test]
async fn mv_files_and_directories() {
    let (_dir, fs) = fresh().await;
    let original = put(&fs, "/orgs/acme/a/x.txt", "x").await;
    put(&fs, "/orgs/acme/a/sub/y.txt", "y").await;
    fs.files()
        .mkdir(&system(), "/orgs/acme/b", false)
        .await
        .unwrap();

    let moved = fs
        .files()
        .mv(&system(), "/orgs/acme/a/x.txt", "/orgs/acme/b/z.txt", false)
        .await
        .unwrap();
    assert_eq!(moved.path, "/orgs/acme/b/z.txt");
    assert_eq!(
        moved.etag, original.etag,
        "a rename keeps the content and its version"
    );
    assert_eq!(cat(&fs, "/orgs/acme/b/z.txt").await, "x");
    assert_eq!(
        fs.files()
            .stat(&system(), "/orgs/acme/a/x.txt")
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );

    fs.files()
        .mv(&system(), "/orgs/acme/a", "/orgs/acme/b/a2", false)
        .await
        .unwrap();
    assert_eq!(
        tree(&fs, "/orgs/acme").await,
        [
            "/orgs/acme/b",
            "/orgs/acme/b/a2",
            "/orgs/acme/b/a2/sub",
            "/orgs/acme/b/a2/sub/y.txt",
            "/orgs/acme/b/z.txt"
        ]
    );
    assert_eq!(cat(&fs, "/orgs/acme/b/a2/sub/y.txt").await, "y");
    let listing = fs
        .files()
        .ls(&system(), "/orgs/acme/b/a2", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(listing.entries.len(), 1, "children moved with their parent");

    let into_self = fs
        .files()
        .mv(&system(), "/orgs/acme/b", "/orgs/acme/b/a2/inner", false)
        .await
        .unwrap_err();
    assert_eq!(into_self.code(), ErrorCode::InvalidInput);
    assert_eq!(
        into_self.to_string(),
        "cannot move or copy `/orgs/acme/b` into itself (`/orgs/acme/b/a2/inner`)"
    );

    put(&fs, "/orgs/acme/other.txt", "other").await;
    let taken = fs
        .files()
        .mv(
            &system(),
            "/orgs/acme/other.txt",
            "/orgs/acme/b/z.txt",
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(taken.code(), ErrorCode::AlreadyExists);
    fs.files()
        .mv(
            &system(),
            "/orgs/acme/other.txt",
            "/orgs/acme/b/z.txt",
            true,
        )
        .await
        .unwrap();
    assert_eq!(cat(&fs, "/orgs/acme/b/z.txt").await, "other");
    let over_dir = fs
        .files()
        .mv(&system(), "/orgs/acme/b/z.txt", "/orgs/acme/b/a2", true)
        .await
        .unwrap_err();
    assert_eq!(over_dir.code(), ErrorCode::IsADirectory);
    let no_parent = fs
        .files()
        .mv(
            &system(),
            "/orgs/acme/b/z.txt",
            "/orgs/acme/nope/z.txt",
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(no_parent.code(), ErrorCode::ParentNotFound);

    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    let across = fs
        .files()
        .mv(&system(), "/orgs/acme/b/z.txt", "/orgs/other/z.txt", false)
        .await
        .unwrap_err();
    assert_eq!(across.code(), ErrorCode::InvalidInput);
    let root = fs
        .files()
        .mv(&system(), "/orgs/acme", "/orgs/renamed", false)
        .await
        .unwrap_err();
    assert_eq!(root.code(), ErrorCode::InvalidInput);
}

#[tokio::test]
async fn mv_prefix_siblings_are_untouched() {
    let (_dir, fs) = fresh().await;
    for path in [
        "/orgs/acme/a/f",
        "/orgs/acme/ab/f",
        "/orgs/acme/a-b/f",
        "/orgs/acme/a_b/f",
        "/orgs/acme/a%/f",
    ] {
        put(&fs, path, path).await;
    }
    fs.files()
        .mv(&system(), "/orgs/acme/a", "/orgs/acme/z", false)
        .await
        .unwrap();
    assert_eq!(
        tree(&fs, "/orgs/acme").await,
        [
            "/orgs/acme/a%",
            "/orgs/acme/a%/f",
            "/orgs/acme/a-b",
            "/orgs/acme/a-b/f",
            "/orgs/acme/a_b",
            "/orgs/acme/a_b/f",
            "/orgs/acme/ab",
            "/orgs/acme/ab/f",
            "/orgs/acme/z",
            "/orgs/acme/z/f"
        ]
    );
    fs.files()
        .rm(&system(), "/orgs/acme/z", true)
        .await
        .unwrap();
    assert_eq!(tree(&fs, "/orgs/acme").await.len(), 8);
}

#[tokio::test]
async fn cp_files_and_directories() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/src/a.txt", "a").await;
    put(&fs, "/orgs/acme/src/sub/b.txt", "b").await;
    let copy = fs
        .files()
        .cp(
            &system(),
            "/orgs/acme/src/a.txt",
            "/orgs/acme/a-copy.txt",
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(copy.version, 1);
    assert_eq!(cat(&fs, "/orgs/acme/a-copy.txt").await, "a");
    let dir_without_recursive = fs
        .files()
        .cp(&system(), "/orgs/acme/src", "/orgs/acme/dst", false, false)
        .await
        .unwrap_err();
    assert_eq!(dir_without_recursive.code(), ErrorCode::IsADirectory);
    fs.files()
        .cp(&system(), "/orgs/acme/src", "/orgs/acme/dst", true, false)
        .await
        .unwrap();
    assert_eq!(
        tree(&fs, "/orgs/acme/dst").await,
        [
            "/orgs/acme/dst/a.txt",
            "/orgs/acme/dst/sub",
            "/orgs/acme/dst/sub/b.txt"
        ]
    );
    // The copy is independent of the source.
    put(&fs, "/orgs/acme/src/sub/b.txt", "changed").await;
    assert_eq!(cat(&fs, "/orgs/acme/dst/sub/b.txt").await, "b");
    let into_self = fs
        .files()
        .cp(
            &system(),
            "/orgs/acme/src",
            "/orgs/acme/src/again",
            true,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(into_self.code(), ErrorCode::InvalidInput);
    let exists = fs
        .files()
        .cp(
            &system(),
            "/orgs/acme/src/a.txt",
            "/orgs/acme/a-copy.txt",
            false,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(exists.code(), ErrorCode::AlreadyExists);
    let replaced = fs
        .files()
        .cp(
            &system(),
            "/orgs/acme/src/sub/b.txt",
            "/orgs/acme/a-copy.txt",
            false,
            true,
        )
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(cat(&fs, "/orgs/acme/a-copy.txt").await, "changed");
    let report = fs.store().check(true).await.unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
}

#[tokio::test]
async fn exists_reports_presence() {
    let (_dir, fs) = fresh().await;
    put(&fs, "/orgs/acme/here", "x").await;
    assert!(
        fs.files()
            .exists(&system(), "/orgs/acme/here")
            .await
            .unwrap()
    );
    assert!(
        !fs.files()
            .exists(&system(), "/orgs/acme/gone")
            .await
            .unwrap()
    );
    assert!(
        fs.files()
            .exists(&system(), "/orgs/acme/../x")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn reopen_keeps_everything() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    {
        let fs = nexus_core::Fs::open(&data, nexus_core::StoreOptions::default())
            .await
            .unwrap();
        fs.files()
            .mkdir(&system(), "/orgs/acme", false)
            .await
            .unwrap();
        put(&fs, "/orgs/acme/keep.txt", "kept").await;
        put(&fs, "/orgs/acme/keep.txt", "kept v2").await;
        fs.close().await;
    }
    let fs = nexus_core::Fs::open(&data, nexus_core::StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(cat(&fs, "/orgs/acme/keep.txt").await, "kept v2");
    assert_eq!(
        fs.files()
            .versions(&system(), "/orgs/acme/keep.txt")
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_releases_the_directory_before_returning() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    for round in 0..40 {
        // The default lock timeout is zero: a lock still held after `close` fails here.
        let fs = nexus_core::Fs::open(&data, nexus_core::StoreOptions::default())
            .await
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        put(&fs, &format!("/orgs/acme/round-{round}"), "x").await;
        if round % 2 == 0 {
            fs.close().await;
        } else {
            // Two callers close at once: whichever returns first, the directory is free.
            let other = fs.clone();
            tokio::select! {
                () = fs.close() => {}
                () = other.close() => {}
            }
        }
    }
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let (dir, _fs) = fresh().await;
    let error = nexus_core::Fs::open(
        &dir.path().join("data"),
        nexus_core::StoreOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Unavailable);
    assert!(error.hint().is_some());
}

#[tokio::test]
async fn refuses_foreign_directories() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "mine").unwrap();
    let error = nexus_core::Fs::open(dir.path(), nexus_core::StoreOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Internal);
    assert!(
        error.to_string().contains("is not a nexus data directory"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing was created"
    );
}
