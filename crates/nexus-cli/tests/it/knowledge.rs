//! `nexus item`, `session`, `share`, `workflow` and `admin set-manager` on a data
//! directory, acting as members with `--as`.

use super::Nexus;

fn provisioned() -> Nexus {
    let nexus = Nexus::new();
    let config = nexus.dir.path().join("nexus.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\norganizations:\n  - id: acme\n    name: Acme\n    workspaces:\n      - id: sales\n    members:\n      - user_id: alice@acme.com\n        role: admin\n      - user_id: bob@acme.com\n        role: member\n        workspaces: [sales]\n      - user_id: carol@acme.com\n        role: member\n        workspaces: [sales]\n",
            nexus.data_dir().display()
        ),
    )
    .unwrap();
    nexus.ok(&["init", "--config", config.to_str().unwrap()]);
    nexus
}

/// `args` acting as bob.
fn as_bob<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["--as", "user:bob@acme.com"][..], args].concat()
}

#[test]
fn items_sessions_and_sharing_from_the_command_line() {
    let nexus = provisioned();
    let created = nexus.json(&as_bob(&[
        "item",
        "create",
        "kb",
        "--kind",
        "node",
        "--id",
        "deploys",
        "--data",
        r#"{"title": "Deploys", "body": "blue green"}"#,
    ]));
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("kb:u_") && key.ends_with(":node:deploys"),
        "{key}"
    );
    assert_eq!(created["sharing_hint"], serde_json::Value::Null);
    // Listing, search and get, as bob; carol sees nothing (not found: exit 3).
    let listed = nexus.ok(&as_bob(&["item", "ls", "--env", "kb"]));
    assert_eq!(listed, format!("{key}\tuser:bob@acme.com\tDeploys\n"));
    assert_eq!(nexus.ok(&as_bob(&["item", "search", "GREEN"])), listed);
    assert_eq!(nexus.ok(&as_bob(&["item", "search", "red"])), "");
    let shown = nexus.ok(&as_bob(&["item", "get", &key]));
    assert!(
        shown.starts_with(&format!("{key}\nowner user:bob@acme.com  version 1")),
        "{shown}"
    );
    let carol = nexus.run(&["--as", "user:carol@acme.com", "item", "get", &key]);
    assert_eq!(carol.code, 3, "{}", carol.stderr);
    // Sharing: with carol, then who can read it and why.
    nexus.ok(&as_bob(&["share", &key, "--with", "carol@acme.com"]));
    assert_eq!(
        nexus
            .run(&["--as", "user:carol@acme.com", "item", "get", &key])
            .code,
        0
    );
    let access = nexus.ok(&as_bob(&["share", &key]));
    assert!(access.contains("user:carol@acme.com\tshared\n"), "{access}");
    assert!(access.contains("user:bob@acme.com\towner\n"), "{access}");
    nexus.ok(&as_bob(&[
        "share",
        &key,
        "--with",
        "carol@acme.com",
        "--revoke",
    ]));
    assert_eq!(
        nexus
            .run(&["--as", "user:carol@acme.com", "item", "get", &key])
            .code,
        3
    );
    // A group session: joining prints the shell line; creating while in it offers to share.
    let started = nexus.json(&as_bob(&[
        "session",
        "start",
        "Phoenix sprint",
        "--group",
        "--members",
        "carol@acme.com",
    ]));
    let session = started["stable_id"].as_str().unwrap().to_owned();
    let joined = nexus.ok(&["--as", "user:carol@acme.com", "session", "join", &session]);
    assert_eq!(joined, format!("export NEXUS_SESSION={session}\n"));
    let listed = nexus.ok(&["--as", "user:carol@acme.com", "session", "ls", "--active"]);
    assert!(
        listed.starts_with(&format!("{session}\tgroup\tactive\tPhoenix sprint\t")),
        "{listed}"
    );
    let note = nexus.run(&[
        "--as",
        "user:carol@acme.com",
        "item",
        "create",
        "context",
        "--kind",
        "note",
        "--session",
        &session,
        "--data",
        r#"{"text": "idea"}"#,
    ]);
    assert!(note.stdout.starts_with("context:u_"), "{}", note.stdout);
    assert!(
        note.stderr.contains(&format!("--session {session}")),
        "{}",
        note.stderr
    );
    let shared = nexus.json(&as_bob(&[
        "item",
        "create",
        "track",
        "--scope",
        &session,
        "--kind",
        "project",
        "--data",
        r#"{"title": "Phoenix"}"#,
    ]));
    let project = shared["key"].as_str().unwrap().to_owned();
    assert_eq!(
        nexus
            .run(&["--as", "user:carol@acme.com", "item", "get", &project])
            .code,
        0
    );
    let ended = nexus.json(&as_bob(&["session", "end", &session]));
    assert_eq!(ended["active"], false);
    // Outside the matrix: exit 2 with the environment named.
    let refused = nexus.run(&as_bob(&[
        "item", "create", "temp", "--scope", "UNIV", "--kind", "draft", "--data", "{}",
    ]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("`temp` environment has no universal scope"),
        "{}",
        refused.stderr
    );
    // Workflow: the organization's protocol, overridden by bob's.
    nexus.ok(&[
        "--as",
        "user:alice@acme.com",
        "item",
        "create",
        "workflow",
        "--scope",
        "UNIV",
        "--kind",
        "protocol",
        "--data",
        r#"{"name": "voice"}"#,
    ]);
    assert!(
        nexus
            .ok(&as_bob(&["workflow", "resolve"]))
            .starts_with("voice\tUNIV\t")
    );
    nexus.ok(&as_bob(&[
        "item",
        "create",
        "workflow",
        "--kind",
        "protocol",
        "--data",
        r#"{"name": "voice"}"#,
    ]));
    assert!(
        nexus
            .ok(&as_bob(&["workflow", "resolve"]))
            .starts_with("voice\tu_")
    );
    // Managers: set by an admin only.
    let claim = nexus.run(&as_bob(&[
        "admin",
        "set-manager",
        "--org",
        "acme",
        "--user",
        "carol@acme.com",
        "--manager",
        "bob@acme.com",
    ]));
    assert_eq!(claim.code, 5, "{}", claim.stderr);
    let set = nexus.ok(&[
        "--as",
        "user:alice@acme.com",
        "admin",
        "set-manager",
        "--org",
        "acme",
        "--user",
        "carol@acme.com",
        "--manager",
        "bob@acme.com",
    ]);
    assert!(set.starts_with("carol@acme.com (u_"), "{set}");
    // Updates and deletes, with etags.
    let item = nexus.json(&as_bob(&["item", "get", &key]));
    let stale = nexus.run(&as_bob(&[
        "item",
        "update",
        &key,
        "--data",
        r#"{"title": "x"}"#,
        "--if-match",
        "v9-0000000000000000",
    ]));
    assert_eq!(stale.code, 4, "{}", stale.stderr);
    nexus.ok(&as_bob(&[
        "item",
        "update",
        &key,
        "--data",
        r#"{"title": "Deploys v2"}"#,
        "--if-match",
        item["etag"].as_str().unwrap(),
    ]));
    nexus.ok(&as_bob(&["item", "rm", &key]));
    assert_eq!(nexus.run(&as_bob(&["item", "get", &key])).code, 3);
}

#[test]
fn the_operator_locks_unlocks_and_deletes_accounts() {
    let nexus = provisioned();
    let key = nexus.ok(&as_bob(&[
        "item",
        "create",
        "context",
        "--kind",
        "note",
        "--data",
        r#"{"text": "mine"}"#,
    ]));
    let key = key.trim();
    let locked = nexus.ok(&["admin", "lock", "bob@acme.com"]);
    assert!(
        locked.starts_with("locked bob@acme.com (u_") && locked.ends_with("; in acme)\n"),
        "{locked}"
    );
    assert_eq!(nexus.run(&as_bob(&["item", "get", key])).code, 3);
    nexus.ok(&["admin", "unlock", "bob@acme.com"]);
    assert_eq!(nexus.run(&as_bob(&["item", "get", key])).code, 0);
    // Only the operator: bob cannot lock carol.
    assert_eq!(
        nexus
            .run(&as_bob(&["admin", "lock", "carol@acme.com"]))
            .code,
        5
    );
    let deleted = nexus.json(&["admin", "delete-user", "bob@acme.com"]);
    assert_eq!(deleted["orgs"], serde_json::json!(["acme"]));
    assert!(deleted["removed_items"].as_u64().unwrap() >= 1, "{deleted}");
    assert_eq!(nexus.run(&["item", "get", key, "--org", "acme"]).code, 3);
}

#[test]
fn the_audit_log_from_the_command_line() {
    let nexus = provisioned();
    nexus.ok(&as_bob(&["write", "/orgs/acme/sales/plan.md", "the plan"]));
    let lines = nexus.ok(&[
        "--as",
        "user:alice@acme.com",
        "audit",
        "ls",
        "--org",
        "acme",
        "--actor",
        "user:bob@acme.com",
    ]);
    let line = lines
        .lines()
        .find(|line| line.contains("files_write"))
        .unwrap_or_else(|| panic!("{lines}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(
        fields[1..],
        [
            "user:bob@acme.com",
            "files_write",
            "/orgs/acme/sales/plan.md",
            "ok"
        ]
    );
    // JSON Lines: one object per entry.
    let exported = nexus.ok(&["audit", "ls", "--org", "acme", "--jsonl"]);
    for line in exported.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["org"], "acme");
    }
    assert!(exported.lines().count() >= 1);
    // A member reads no log.
    let refused = nexus.run(&as_bob(&["audit", "ls", "--org", "acme"]));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("permission denied"),
        "{}",
        refused.stderr
    );
}

#[test]
fn notifications_from_the_command_line() {
    let nexus = provisioned();
    let created = nexus.json(&as_bob(&[
        "item",
        "create",
        "kb",
        "--kind",
        "node",
        "--data",
        r#"{"title": "Deploys", "body": "blue green"}"#,
    ]));
    let key = created["key"].as_str().unwrap().to_owned();
    nexus.ok(&as_bob(&["share", &key, "--with", "carol@acme.com"]));
    let as_carol = |args: &[&'static str]| [&["--as", "user:carol@acme.com"][..], args].concat();
    let listed = nexus.ok(&as_carol(&["notifications", "ls"]));
    let fields: Vec<&str> = listed.trim_end().split('\t').collect();
    assert_eq!(fields[0], "1", "{listed}");
    assert_eq!(
        fields[2..],
        ["shared", "user:bob@acme.com shared \"Deploys\" with you"]
    );
    nexus.ok(&as_carol(&["notifications", "read", "1"]));
    assert_eq!(
        nexus.ok(&as_carol(&["notifications", "ls", "--unread"])),
        ""
    );
    assert!(
        nexus
            .ok(&as_carol(&["notifications", "ls"]))
            .ends_with("\t[read]\n")
    );
    let json = nexus.json(&as_carol(&["notifications", "ls"]));
    assert_eq!(json["notifications"][0]["item_key"], key.as_str());
    // Bob's feed is his own: nothing, and carol's number 1 is not his to mark.
    assert_eq!(nexus.ok(&as_bob(&["notifications", "ls"])), "");
    let refused = nexus.run(&as_bob(&["notifications", "read", "1"]));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
}

#[test]
fn the_change_feed_from_the_command_line() {
    let nexus = provisioned();
    nexus.ok(&as_bob(&["write", "/orgs/acme/sales/plan.md", "the plan"]));
    let created = nexus.json(&as_bob(&[
        "item",
        "create",
        "kb",
        "--kind",
        "node",
        "--data",
        r#"{"title": "Mine", "body": "private"}"#,
    ]));
    let key = created["key"].as_str().unwrap().to_owned();
    let bobs = nexus.ok(&as_bob(&["changes", "--org", "acme"]));
    let plan = bobs
        .lines()
        .find(|line| line.contains("/orgs/acme/sales/plan.md"))
        .unwrap_or_else(|| panic!("{bobs}"));
    let fields: Vec<&str> = plan.split('\t').collect();
    assert_eq!(
        fields[2..],
        [
            "created",
            "/orgs/acme/sales/plan.md",
            "-",
            "user:bob@acme.com"
        ]
    );
    assert!(bobs.contains(&key), "{bobs}");
    // Carol reads the plan's workspace, not bob's personal item.
    let carols = nexus.ok(&["--as", "user:carol@acme.com", "changes", "--org", "acme"]);
    assert!(carols.contains("/orgs/acme/sales/plan.md"), "{carols}");
    assert!(!carols.contains(&key), "{carols}");
    // `--after` skips what was seen.
    let revision: u64 = fields[0].parse().unwrap();
    let later = nexus.ok(&as_bob(&["changes", "--org", "acme", "--after", fields[0]]));
    assert!(!later.contains("plan.md"), "{later}");
    assert!(
        later
            .lines()
            .all(|line| line.split('\t').next().unwrap().parse::<u64>().unwrap() > revision)
    );
}

#[test]
fn export_and_import_from_the_command_line() {
    let nexus = provisioned();
    let created = nexus.json(&as_bob(&[
        "item",
        "create",
        "kb",
        "--kind",
        "node",
        "--data",
        r#"{"title": "Moves along"}"#,
    ]));
    let key = created["key"].as_str().unwrap().to_owned();
    nexus.ok(&["write", "/orgs/acme/sales/plan.md", "v1"]);
    nexus.ok(&["write", "/orgs/acme/sales/plan.md", "v2"]);
    let archive = nexus.dir.path().join("acme.tar.zst");
    let archive = archive.to_str().unwrap();
    // Only the operator exports.
    let refused = nexus.run(&as_bob(&["export", "--org", "acme", "--output", archive]));
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    let report = nexus.json(&["export", "--org", "acme", "--output", archive]);
    assert_eq!(report["org"], "acme");
    assert!(report["files"].as_u64().unwrap() >= 3, "{report}");
    // Into a fresh data directory: the same item, versions and answers.
    let other = super::Nexus::new();
    let imported = other.run(&["import", archive]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(
        imported.stdout.starts_with("imported acme: "),
        "{}",
        imported.stdout
    );
    let read = other.json(&as_bob(&["item", "get", &key]));
    assert_eq!(read["data"]["title"], "Moves along");
    assert!(
        other
            .ok(&["versions", "/orgs/acme/sales/plan.md"])
            .contains("v2-")
    );
    assert_eq!(
        other.ok(&[
            "rebac",
            "check",
            "user:carol@acme.com",
            "read",
            "/orgs/acme/sales/plan.md"
        ]),
        nexus.ok(&[
            "rebac",
            "check",
            "user:carol@acme.com",
            "read",
            "/orgs/acme/sales/plan.md"
        ])
    );
    // Again: refused (conflict) unless replacing; from standard input.
    let again = other.run(&["import", archive]);
    assert_eq!(again.code, 4, "{}", again.stderr);
    assert!(again.stderr.contains("--replace"), "{}", again.stderr);
    let bytes = std::fs::read(archive).unwrap();
    let replaced = other.run_with_stdin(&["import", "-", "--replace"], Some(&bytes));
    assert_eq!(replaced.code, 0, "{}", replaced.stderr);
    assert!(
        replaced.stdout.starts_with("replaced acme: "),
        "{}",
        replaced.stdout
    );
    let damaged = other.run_with_stdin(
        &["import", "-", "--replace"],
        Some(&bytes[..bytes.len() / 2]),
    );
    assert_eq!(damaged.code, 2, "{}", damaged.stderr);
}
