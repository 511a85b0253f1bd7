use bytes::Bytes;
use nexus_core::{
    CallContext, ErrorCode, GlobOptions, GrepOptions, OrgId, Principal, WriteOptions,
};

use crate::{fresh, put, system};

async fn sample() -> (tempfile::TempDir, nexus_core::Fs) {
    let (dir, fs) = fresh().await;
    put(
        &fs,
        "/orgs/acme/sales/notes.md",
        "Pipeline review\npricing strategy\nPricing deck\n",
    )
    .await;
    put(
        &fs,
        "/orgs/acme/sales/deals/q1.md",
        "one\ntwo\nthree\nfour\nfive\n",
    )
    .await;
    put(
        &fs,
        "/orgs/acme/sales/context.json",
        "{\"topic\": \"pricing\"}",
    )
    .await;
    put(
        &fs,
        "/orgs/acme/eng/code/main.rs",
        "fn main() {}\r\n// pricing? no\r\n",
    )
    .await;
    put(&fs, "/orgs/acme/eng/a[1].md", "bracketed").await;
    fs.files()
        .write(
            &system(),
            "/orgs/acme/eng/blob.bin",
            Bytes::from_static(b"pricing\0\x01\x02"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    fs.files()
        .write(
            &system(),
            "/orgs/acme/eng/latin1.txt",
            Bytes::from_static(b"pricing caf\xe9"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    fs.files()
        .mkdir(&system(), "/orgs/other", false)
        .await
        .unwrap();
    put(&fs, "/orgs/other/secret.md", "pricing secret").await;
    (dir, fs)
}

async fn glob(fs: &nexus_core::Fs, context: &CallContext, pattern: &str) -> Vec<String> {
    fs.files()
        .glob(context, pattern, GlobOptions::default())
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|entry| entry.path)
        .collect()
}

#[tokio::test]
async fn glob_patterns() {
    let (_dir, fs) = sample().await;
    let system = system();
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/sales/*.md").await,
        ["/orgs/acme/sales/notes.md"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/**/*.md").await,
        [
            "/orgs/acme/eng/a[1].md",
            "/orgs/acme/sales/deals/q1.md",
            "/orgs/acme/sales/notes.md"
        ]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/*/*.{json,rs}").await,
        ["/orgs/acme/sales/context.json"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/sales/deals/q?.md").await,
        ["/orgs/acme/sales/deals/q1.md"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/eng/a\\[1\\].md").await,
        ["/orgs/acme/eng/a[1].md"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/*/secret.md").await,
        ["/orgs/other/secret.md"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/sales/notes.md").await,
        ["/orgs/acme/sales/notes.md"]
    );
    assert_eq!(
        glob(&fs, &system, "/orgs/acme/nothing/**").await,
        Vec::<String>::new()
    );

    let alice = CallContext::in_org(
        Principal::User("alice".into()),
        OrgId::parse("acme").unwrap(),
    );
    fs.relationships()
        .setfacl(&system, "/orgs/acme", "user:alice:r--")
        .await
        .unwrap();
    assert_eq!(
        glob(&fs, &alice, "/orgs/*/secret.md").await,
        Vec::<String>::new()
    );
    assert_eq!(
        glob(&fs, &alice, "/**/secret.md").await,
        Vec::<String>::new()
    );
    assert_eq!(
        glob(&fs, &alice, "/orgs/*/sales").await,
        ["/orgs/acme/sales"]
    );

    let limited = fs
        .files()
        .glob(&system, "/orgs/acme/**", GlobOptions { limit: Some(2) })
        .await
        .unwrap();
    assert_eq!(limited.entries.len(), 2);
    assert!(limited.truncated);

    for bad in [
        "relative/*.md",
        "/orgs/acme/../*",
        "/orgs/acme/[",
        "/orgs/acme/{a",
    ] {
        let error = fs
            .files()
            .glob(&system, bad, GlobOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidInput, "{bad}");
    }
}

#[tokio::test]
async fn grep_lines_with_context() {
    let (_dir, fs) = sample().await;
    let result = fs
        .files()
        .grep(
            &system(),
            "pricing",
            "/orgs/acme",
            GrepOptions {
                ignore_case: true,
                ..GrepOptions::default()
            },
        )
        .await
        .unwrap();
    let found: Vec<(String, u64, String)> = result
        .matches
        .iter()
        .map(|m| (m.path.clone(), m.line_number, m.text.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "/orgs/acme/eng/code/main.rs".to_owned(),
                2,
                "// pricing? no".to_owned()
            ),
            (
                "/orgs/acme/sales/context.json".to_owned(),
                1,
                "{\"topic\": \"pricing\"}".to_owned()
            ),
            (
                "/orgs/acme/sales/notes.md".to_owned(),
                2,
                "pricing strategy".to_owned()
            ),
            (
                "/orgs/acme/sales/notes.md".to_owned(),
                3,
                "Pricing deck".to_owned()
            ),
        ]
    );
    assert_eq!(
        result.files_skipped, 2,
        "binary and non-UTF-8 files are skipped"
    );
    assert_eq!(result.files_searched, 5);
    assert!(!result.truncated);

    let case_sensitive = fs
        .files()
        .grep(
            &system(),
            "Pricing",
            "/orgs/acme/sales",
            GrepOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(case_sensitive.matches.len(), 1);

    let with_context = fs
        .files()
        .grep(
            &system(),
            "^three$",
            "/orgs/acme/sales/deals/q1.md",
            GrepOptions {
                context: 2,
                ..GrepOptions::default()
            },
        )
        .await
        .unwrap();
    let only = &with_context.matches[0];
    assert_eq!(only.line_number, 3);
    assert_eq!(
        only.before
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(
        only.after
            .iter()
            .map(|l| (l.line_number, l.text.as_str()))
            .collect::<Vec<_>>(),
        [(4, "four"), (5, "five")]
    );

    let included = fs
        .files()
        .grep(
            &system(),
            "p",
            "/orgs/acme",
            GrepOptions {
                include: Some("*.json".to_owned()),
                ..GrepOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(included.matches.len(), 1);

    let limited = fs
        .files()
        .grep(
            &system(),
            ".",
            "/orgs/acme/sales/deals",
            GrepOptions {
                max_matches: Some(2),
                ..GrepOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(limited.matches.len(), 2);
    assert!(limited.truncated);

    let alice = CallContext::in_org(
        Principal::User("alice".into()),
        OrgId::parse("acme").unwrap(),
    );
    fs.relationships()
        .setfacl(&system(), "/orgs/acme", "user:alice:r--")
        .await
        .unwrap();
    let everywhere = fs
        .files()
        .grep(&alice, "secret", "/", GrepOptions::default())
        .await
        .unwrap();
    assert_eq!(
        everywhere.matches.len(),
        0,
        "another organization's files are never searched"
    );

    let bad = fs
        .files()
        .grep(&system(), "(unclosed", "/orgs/acme", GrepOptions::default())
        .await
        .unwrap_err();
    assert_eq!(bad.code(), ErrorCode::InvalidInput);
    assert!(
        bad.to_string().starts_with("invalid regular expression: "),
        "{bad}"
    );
    let missing = fs
        .files()
        .grep(&system(), "x", "/orgs/acme/none", GrepOptions::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
}
