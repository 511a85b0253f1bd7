use proptest::prelude::*;

use super::*;

fn path(text: &str) -> VfsPath {
    VfsPath::parse(text).unwrap()
}

#[derive(serde::Deserialize)]
struct Case {
    #[serde(rename = "in")]
    input: Option<String>,
    in_bytes: Option<Vec<u8>>,
    ok: Option<String>,
    err: Option<String>,
}

/// The golden corpus: every input has exactly one expected outcome.
#[test]
fn golden_corpus() {
    let corpus = include_str!("../testdata/path_corpus.jsonl");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
        count += 1;
        let case: Case = serde_json::from_str(line).unwrap();
        let result = match (&case.input, &case.in_bytes) {
            (Some(text), None) => VfsPath::parse(text),
            (None, Some(bytes)) => VfsPath::parse_bytes(bytes),
            _ => panic!("case needs exactly one of `in` and `in_bytes`: {line}"),
        };
        let outcome = match &result {
            Ok(path) => format!("ok:{path}"),
            Err(error) => format!("err:{}", error.reason()),
        };
        let expected = match (&case.ok, &case.err) {
            (Some(canonical), None) => format!("ok:{canonical}"),
            (None, Some(reason)) => format!("err:{reason}"),
            _ => panic!("case needs exactly one of `ok` and `err`: {line}"),
        };
        if outcome != expected {
            failures.push(format!("{line}\n  got {outcome:?}"));
        }
        if let Ok(canonical) = result {
            assert_eq!(VfsPath::parse(canonical.as_str()), Ok(canonical.clone()));
        }
    }
    assert!(count >= 240, "corpus shrank to {count} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_messages_name_the_problem() {
    let messages: Vec<String> = [
        "",
        "orgs/acme",
        "/a//b",
        "/a/../b",
        "/a/\u{1b}[31m",
        "/a/\u{202e}txt.exe",
    ]
    .iter()
    .map(|input| VfsPath::parse(input).unwrap_err().to_string())
    .collect();
    assert_eq!(
        messages,
        [
            "invalid path: the path is empty",
            "invalid path `orgs/acme`: it must be absolute (start with `/`)",
            "invalid path `/a//b`: it contains an empty segment (`//`)",
            "invalid path `/a/../b`: `..` segments are not allowed",
            "invalid path `/a/\\u{1b}[31m`: it contains the forbidden character U+001B",
            "invalid path `/a/\\u{202e}txt.exe`: it contains the forbidden character U+202E",
        ]
    );
    let long = VfsPath::parse(&format!("/{}", "x".repeat(300))).unwrap_err();
    assert_eq!(long.reason(), "segment_too_long");
    assert!(
        long.to_string()
            .ends_with("a segment is 300 bytes long (the limit is 255)")
    );
}

#[test]
fn parent_name_and_ancestors() {
    let file = path("/orgs/acme/sales/notes.md");
    assert_eq!(file.name(), "notes.md");
    assert_eq!(file.parent(), Some(path("/orgs/acme/sales")));
    assert_eq!(file.depth(), 4);
    let ancestors: Vec<String> = file.ancestors().map(|p| p.to_string()).collect();
    assert_eq!(ancestors, ["/orgs/acme/sales", "/orgs/acme", "/orgs", "/"]);
    assert_eq!(path("/orgs").parent(), Some(VfsPath::root()));
    assert_eq!(VfsPath::root().parent(), None);
    assert_eq!(VfsPath::root().name(), "");
    assert_eq!(VfsPath::root().depth(), 0);
    assert_eq!(
        file.segments().collect::<Vec<_>>(),
        ["orgs", "acme", "sales", "notes.md"]
    );
}

#[test]
fn join_validates_the_name() {
    let dir = path("/orgs/acme");
    assert_eq!(dir.join("x.txt").unwrap(), path("/orgs/acme/x.txt"));
    assert_eq!(VfsPath::root().join("orgs").unwrap(), path("/orgs"));
    assert_eq!(dir.join("a/b").unwrap_err().reason(), "invalid_name");
    assert_eq!(dir.join("").unwrap_err().reason(), "invalid_name");
    assert_eq!(dir.join("..").unwrap_err().reason(), "dot_segment");
    assert_eq!(dir.join("e\u{301}").unwrap(), path("/orgs/acme/\u{e9}"));
}

#[test]
fn starts_with_respects_segment_boundaries() {
    let a = path("/ws/a");
    for sibling in ["/ws/ab", "/ws/a-b", "/ws/a_b", "/ws/a%", "/ws/a.b", "/ws"] {
        assert!(!path(sibling).starts_with(&a), "{sibling}");
    }
    assert!(path("/ws/a").starts_with(&a));
    assert!(path("/ws/a/b").starts_with(&a));
    assert!(path("/ws/a/b").starts_with(&VfsPath::root()));
}

#[test]
fn rebase_moves_subtrees() {
    let from = path("/orgs/acme/a");
    let to = path("/orgs/acme/z/y");
    assert_eq!(
        path("/orgs/acme/a/b/c").rebase(&from, &to),
        Some(path("/orgs/acme/z/y/b/c"))
    );
    assert_eq!(path("/orgs/acme/a").rebase(&from, &to), Some(to.clone()));
    assert_eq!(path("/orgs/acme/ab").rebase(&from, &to), None);
    assert_eq!(
        path("/x/y").rebase(&VfsPath::root(), &path("/r")),
        Some(path("/r/x/y"))
    );
    let long_target = path(&format!("/{}/{}", "a".repeat(255), "b".repeat(255)));
    let deep = path(&format!("/s/{}", vec!["c".repeat(250); 15].join("/")));
    assert_eq!(
        deep.rebase(&path("/s"), &long_target),
        None,
        "too long after the move"
    );
}

#[test]
fn location_classifies_tenants() {
    let acme = OrgId::parse("acme").unwrap();
    assert_eq!(VfsPath::root().location(), Ok(Location::Root));
    assert_eq!(path("/orgs").location(), Ok(Location::OrgsRoot));
    assert_eq!(
        path("/orgs/acme").location(),
        Ok(Location::OrgRoot(acme.clone()))
    );
    assert_eq!(
        path("/orgs/acme/x/y").location(),
        Ok(Location::InOrg(acme.clone()))
    );
    assert_eq!(path("/tmp/x").location(), Ok(Location::Outside));
    assert_eq!(path("/orgsx/acme").location(), Ok(Location::Outside));
    assert_eq!(path("/orgs/bad id/x").location().unwrap_err().id, "bad id");
    assert_eq!(VfsPath::org_root(&acme), path("/orgs/acme"));
    assert_eq!(path("/orgs/acme/x").location().unwrap().org(), Some(&acme));
}

#[test]
fn the_fixed_directories_are_exactly_root_and_orgs() {
    assert_eq!(VfsPath::orgs_root(), path("/orgs"));
    for fixed in ["/", "/orgs"] {
        assert!(path(fixed).is_fixed(), "{fixed}");
        assert!(path(fixed).location().unwrap().is_fixed(), "{fixed}");
    }
    for other in ["/orgs/acme", "/orgs/acme/x", "/tmp", "/orgsx"] {
        assert!(!path(other).is_fixed(), "{other}");
        assert!(!path(other).location().unwrap().is_fixed(), "{other}");
    }
}

#[test]
fn org_ids() {
    for valid in [
        "acme",
        "Acme",
        "a",
        "techcorp",
        "org_acme",
        "a.b-c_d",
        "0day",
        &"x".repeat(64),
    ] {
        assert_eq!(OrgId::parse(valid).unwrap().as_str(), valid);
    }
    for invalid in [
        "",
        ".acme",
        "-acme",
        "_acme",
        "ac me",
        "acmé",
        "a/b",
        "a:b",
        "a%",
        &"x".repeat(65),
    ] {
        assert!(OrgId::parse(invalid).is_err(), "{invalid}");
    }
    assert_ne!(OrgId::parse("Acme").unwrap(), OrgId::parse("acme").unwrap());
    assert_eq!(
        OrgId::parse("a b").unwrap_err().to_string(),
        "invalid organization id `a b`: use 1 to 64 characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit"
    );
}

/// Strings built mostly from characters that matter to the canonicalizer.
fn tricky_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("\u{e9}".to_owned()),
        Just("\u{212b}".to_owned()),
        Just("\u{1100}\u{1161}".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{0}".to_owned()),
        Just("%2e".to_owned()),
        "[a-zA-Z0-9 _.-]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    (any::<bool>(), prop::collection::vec(piece, 0..12)).prop_map(|(absolute, pieces)| {
        let body = pieces.concat();
        if absolute { format!("/{body}") } else { body }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn canonicalization_is_idempotent(input in tricky_path()) {
        if let Ok(canonical) = VfsPath::parse(&input) {
            prop_assert_eq!(VfsPath::parse(canonical.as_str()), Ok(canonical.clone()));
            prop_assert!(canonical.as_str().len() <= MAX_PATH_BYTES);
            prop_assert!(canonical.is_root() || !canonical.as_str().ends_with('/'));
            prop_assert!(canonical.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
            let rebuilt = canonical.segments().fold(VfsPath::root(), |dir, name| dir.join(name).unwrap());
            prop_assert_eq!(rebuilt, canonical);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        if let Ok(canonical) = VfsPath::parse(&input) {
            prop_assert_eq!(VfsPath::parse(canonical.as_str()), Ok(canonical.clone()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![b'/'];
        bytes.extend(input);
        if let Ok(canonical) = VfsPath::parse_bytes(&bytes) {
            prop_assert_eq!(VfsPath::parse(canonical.as_str()), Ok(canonical.clone()));
        }
    }

    #[test]
    fn parent_and_join_are_inverse(input in tricky_path()) {
        if let Ok(canonical) = VfsPath::parse(&input)
            && let Some(parent) = canonical.parent()
        {
            prop_assert_eq!(parent.join(canonical.name()).unwrap(), canonical.clone());
            prop_assert!(canonical.starts_with(&parent));
        }
    }
}
