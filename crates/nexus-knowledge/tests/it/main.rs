//! The knowledge layer's vocabulary: the scoping matrix against the seed's table, and item
//! keys against their paths.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use nexus_knowledge::{Environment, InvalidKey, ItemKey, Scope, Scoping, Sharing};
use nexus_path::{OrgId, VfsPath};
use proptest::prelude::*;

/// The seed's "Environment Scoping Matrix", as written (seed 004).
const SEED_MATRIX: &str = "
| Environment | Personal | Universal | Session/Share | Admin |
|---|---|---|---|---|
| User | ✅ Profile | ✅ Guest/Default | Role-based | ✅ |
| Locker | ✅ My creds | ✅ Env passwords | Role-based | ✅ |
| Track | ✅ Default | ✅ Org projects | ✅ Session | ✅ |
| KB | ✅ Private | ✅ Org knowledge | ✅ Session/Direct | ✅ |
| Contact | ✅ Personal | ✅ Company CRM | ✅ Assign | ✅ |
| Session | ✅ Solo | ✅ Default? | ✅ Group | ✅ |
| Context | ✅ Notes | ✅ Org learnings | ✅ Via session | ✅ |
| Documents | ✅ My docs | ✅ Company docs | ✅ Session/Direct | ✅ |
| Links | ✅ Bookmarks | ✅ Shared resources | ✅ Via session | ✅ |
| Workflow | ✅ User prefs | ✅ System protocols | ❌ No | ✅ |
| Temp | ✅ My staging | ❌ No | ✅ Via session | ✅ |
| Transcript | ✅ Personal | ✅ Shared recordings | ✅ Session/Direct | ✅ |
| Chrono | ✅ My reminders | ❌ No | ✅ Session reminders | ✅ |
";

/// What a cell of the seed's "Session/Share" column means. Track's "Session" also allows
/// direct sharing: the knowledge-layer contract says so, and `docs/knowledge.md` records it.
fn sharing_of(cell: &str, env: &str) -> Sharing {
    match cell {
        "Role-based" => Sharing::RoleBased,
        "✅ Session/Direct" => Sharing::SessionOrDirect,
        "✅ Session" if env == "Track" => Sharing::SessionOrDirect,
        "✅ Assign" => Sharing::Assign,
        "✅ Group" => Sharing::Group,
        "✅ Via session" | "✅ Session reminders" => Sharing::ViaSession,
        "❌ No" => Sharing::No,
        other => panic!("a cell this test does not know: {other}"),
    }
}

#[test]
fn the_matrix_is_the_seeds_table() {
    let rows: Vec<Vec<&str>> = SEED_MATRIX
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| Environment"))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 13);
    for (row, env) in rows.iter().zip(Environment::ALL) {
        assert_eq!(row[0].to_lowercase(), env.as_str(), "the seed's order");
        let expected = Scoping {
            personal: row[1].starts_with('✅'),
            universal: row[2].starts_with('✅'),
            sharing: sharing_of(row[3], row[0]),
            admin: row[4].starts_with('✅'),
        };
        assert_eq!(env.scoping(), expected, "{env}");
    }
    // What the forms of sharing allow, spelled out for the rows the contract names.
    let workflow = Environment::Workflow.scoping();
    assert!(!workflow.session_sharing() && !workflow.direct_sharing());
    for env in [Environment::Temp, Environment::Chrono] {
        assert!(!env.scoping().universal, "{env} has no universal scope");
        assert!(env.scoping().session_sharing(), "{env}");
    }
    for env in [Environment::User, Environment::Locker] {
        let scoping = env.scoping();
        assert!(
            scoping.role_sharing() && !scoping.session_sharing(),
            "{env}"
        );
    }
    for env in [
        Environment::Track,
        Environment::Kb,
        Environment::Documents,
        Environment::Transcript,
    ] {
        let scoping = env.scoping();
        assert!(
            scoping.session_sharing() && scoping.direct_sharing(),
            "{env}"
        );
    }
    assert!(Environment::Contact.scoping().direct_sharing());
    assert!(!Environment::Contact.scoping().session_sharing());
}

#[test]
fn the_seeds_keys_parse_and_map_to_their_files() {
    let acme = OrgId::parse("acme").unwrap();
    for (text, scope, path) in [
        (
            "kb:u_z1p5:20260103:node:abc123",
            Scope::User("u_z1p5".to_owned()),
            "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/abc123.json",
        ),
        (
            "kb:UNIV:20260103:node:def456",
            Scope::Universal,
            "/orgs/acme/.nexus/kb/UNIV/20260103/node/def456.json",
        ),
        (
            "track:s_grp1:20260103:project:t_abc1",
            Scope::Session("s_grp1".to_owned()),
            "/orgs/acme/.nexus/track/s_grp1/20260103/project/t_abc1.json",
        ),
        (
            "context:a_7k2q:20261206:note:n-1",
            Scope::Agent("a_7k2q".to_owned()),
            "/orgs/acme/.nexus/context/a_7k2q/20261206/note/n-1.json",
        ),
    ] {
        let key = ItemKey::parse(text).unwrap();
        assert_eq!(key.scope, scope);
        assert_eq!(key.to_string(), text);
        let file = key.path(&acme).unwrap();
        assert_eq!(file.as_str(), path);
        assert_eq!(ItemKey::from_path(&file).unwrap(), (acme.clone(), key));
    }
}

#[test]
fn invalid_keys_are_refused_with_their_reason() {
    for (text, expected) in [
        ("kb:u_z1p5:20260103:node", InvalidKey::Shape),
        ("kb:u_z1p5:20260103:node:abc:extra", InvalidKey::Shape),
        ("", InvalidKey::Shape),
        (
            "wiki:u_z1p5:20260103:node:abc",
            InvalidKey::UnknownEnvironment("wiki".to_owned()),
        ),
        (
            "KB:u_z1p5:20260103:node:abc",
            InvalidKey::UnknownEnvironment("KB".to_owned()),
        ),
        (
            "kb:univ:20260103:node:abc",
            InvalidKey::Scope("univ".to_owned()),
        ),
        (
            "kb:u_Z1P5:20260103:node:abc",
            InvalidKey::Scope("u_Z1P5".to_owned()),
        ),
        (
            "kb:u_z1p55:20260103:node:abc",
            InvalidKey::Scope("u_z1p55".to_owned()),
        ),
        (
            "kb:alice@acme.com:20260103:node:abc",
            InvalidKey::Scope("alice@acme.com".to_owned()),
        ),
        (
            "kb:UNIV:20260230:node:abc",
            InvalidKey::Date("20260230".to_owned()),
        ),
        (
            "kb:UNIV:2026-01-03:node:abc",
            InvalidKey::Date("2026-01-03".to_owned()),
        ),
        (
            "kb:UNIV:20260103:Node:abc",
            InvalidKey::Part("Node".to_owned(), "kind"),
        ),
        (
            "kb:UNIV:20260103:node:../x",
            InvalidKey::Part("../x".to_owned(), "id"),
        ),
        (
            "kb:UNIV:20260103:node:_x",
            InvalidKey::Part("_x".to_owned(), "id"),
        ),
        (
            "kb:UNIV:20260103:node:a.json",
            InvalidKey::Part("a.json".to_owned(), "id"),
        ),
    ] {
        assert_eq!(ItemKey::parse(text), Err(expected), "{text}");
    }
    let long = format!("kb:UNIV:20260103:node:{}", "a".repeat(65));
    assert!(matches!(
        ItemKey::parse(&long),
        Err(InvalidKey::Part(_, "id"))
    ));
}

#[test]
fn only_the_paths_of_keys_are_items() {
    for path in [
        "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/abc123",
        "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/abc123.json.json",
        "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/x/abc123.json",
        "/orgs/acme/sales/.nexus/kb/u_z1p5/20260103/node/abc123.json",
        "/orgs/acme/.Nexus/kb/u_z1p5/20260103/node/abc123.json",
        "/orgs/acme/.nexus/kb/u_z1p5/20260103/node/ABC.json",
        "/orgs/acme/.nexus/wiki/u_z1p5/20260103/node/abc.json",
        "/orgs/acme/.nexus/kb",
    ] {
        let path = VfsPath::parse(path).unwrap();
        assert!(ItemKey::from_path(&path).is_err(), "{path}");
    }
}

fn part() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,63}"
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Universal),
        "u_[0-9a-z]{4}".prop_map(Scope::User),
        "a_[0-9a-z]{4}".prop_map(Scope::Agent),
        "s_[0-9a-z]{4}".prop_map(Scope::Session),
    ]
}

proptest! {
    /// Every key maps to one path and back, and prints and parses to itself.
    #[test]
    fn keys_and_paths_round_trip(
        env in prop::sample::select(Environment::ALL.to_vec()),
        scope in scope(),
        days in 0_i64..3_000_000,
        kind in part(),
        id in part(),
        org in "[a-z][a-z0-9-]{0,20}",
    ) {
        let date = chrono::NaiveDate::from_ymd_opt(1, 1, 1).unwrap()
            + chrono::Days::new(u64::try_from(days).unwrap());
        let key = ItemKey::new(env, scope, date, &kind, &id).unwrap();
        prop_assert_eq!(ItemKey::parse(&key.to_string()).unwrap(), key.clone());
        let org = OrgId::parse(&org).unwrap();
        let path = key.path(&org).unwrap();
        prop_assert_eq!(ItemKey::from_path(&path).unwrap(), (org, key));
    }
}
