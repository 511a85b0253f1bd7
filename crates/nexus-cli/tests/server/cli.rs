//! The CLI against a running server: `--url` / `NEXUS_URL` (or the seed's `NEXUS_HOST` and
//! `NEXUS_PORT`) with `NEXUS_API_KEY` or `NEXUS_TOKEN`.

use crate::harness::{Server, cli, seed_config, token};

#[test]
fn every_kind_of_command_works_against_a_server() {
    let server = Server::start(&seed_config());
    let url = format!("http://{}", server.address);
    let admin: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_API_KEY", &server.admin_key)];
    let ok = |env: &[(&str, &str)], args: &[&str]| {
        let (code, stdout, stderr) = cli(env, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stdout
    };

    // The seed's Option 3, exactly: NEXUS_HOST and NEXUS_PORT name the server.
    let port = server.address.port().to_string();
    let seed_env: &[(&str, &str)] = &[
        ("NEXUS_HOST", "127.0.0.1"),
        ("NEXUS_PORT", &port),
        ("NEXUS_API_KEY", &server.admin_key),
    ];
    let added = ok(
        seed_env,
        &[
            "admin",
            "add-user",
            "--org",
            "acme",
            "--user",
            "charlie@acme.com",
            "--role",
            "member",
            "--workspaces",
            "sales",
        ],
    );
    assert_eq!(added, "added charlie@acme.com to acme as member\n");
    let members = ok(admin, &["admin", "list-users", "--org", "acme"]);
    assert!(
        members.contains("charlie@acme.com\tmember\thuman\tactive"),
        "{members}"
    );
    let users = ok(admin, &["--json", "admin", "list-users"]);
    assert!(
        users.contains("charlie@acme.com") && users.contains("\"u_"),
        "{users}"
    );

    // Files.
    ok(
        admin,
        &["write", "/orgs/acme/sales/documents/plan.md", "# Plan"],
    );
    assert_eq!(
        ok(admin, &["cat", "/orgs/acme/sales/documents/plan.md"]),
        "# Plan"
    );
    assert_eq!(
        ok(
            admin,
            &[
                "cat",
                "--range",
                "2-5",
                "/orgs/acme/sales/documents/plan.md"
            ]
        ),
        "Plan"
    );
    let listing = ok(admin, &["ls", "/orgs/acme/sales"]);
    assert!(
        listing.contains("context.json") && listing.contains("documents/"),
        "{listing}"
    );
    ok(admin, &["mkdir", "-p", "/orgs/acme/sales/a/b"]);
    ok(
        admin,
        &[
            "cp",
            "/orgs/acme/sales/documents/plan.md",
            "/orgs/acme/sales/a/",
        ],
    );
    ok(
        admin,
        &[
            "mv",
            "/orgs/acme/sales/a/plan.md",
            "/orgs/acme/sales/a/b/moved.md",
        ],
    );
    assert_eq!(
        ok(admin, &["glob", "/orgs/acme/**/moved.md"]),
        "/orgs/acme/sales/a/b/moved.md\n"
    );
    assert!(ok(admin, &["grep", "Plan", "/orgs/acme/sales"]).contains("moved.md"));
    ok(
        admin,
        &["write", "/orgs/acme/sales/documents/plan.md", "# Plan v2"],
    );
    assert!(
        ok(admin, &["versions", "/orgs/acme/sales/documents/plan.md"])
            .lines()
            .count()
            >= 2
    );
    ok(
        admin,
        &[
            "versions",
            "restore",
            "/orgs/acme/sales/documents/plan.md",
            "1",
        ],
    );
    assert_eq!(
        ok(admin, &["cat", "/orgs/acme/sales/documents/plan.md"]),
        "# Plan"
    );
    let policy = ok(admin, &["versions", "policy", "acme", "--keep", "5"]);
    assert!(policy.contains("at most 5 versions"), "{policy}");
    ok(admin, &["rm", "-r", "/orgs/acme/sales/a"]);
    let stat = cli(admin, &["stat", "/orgs/acme/sales/a"]);
    assert_eq!(stat.0, 3, "{}", stat.2);

    // ACLs and ReBAC.
    ok(
        admin,
        &[
            "setfacl",
            "/orgs/acme/engineering",
            "user:charlie@acme.com:r--",
        ],
    );
    let acl = ok(admin, &["getfacl", "/orgs/acme/engineering"]);
    assert!(acl.contains("user:charlie@acme.com:r--"), "{acl}");
    assert_eq!(
        ok(
            admin,
            &[
                "rebac",
                "check",
                "user:charlie@acme.com",
                "read",
                "/orgs/acme/engineering/context.json"
            ]
        ),
        "true\n"
    );
    assert_eq!(
        ok(
            admin,
            &[
                "rebac",
                "check",
                "user:charlie@acme.com",
                "write",
                "/orgs/acme/engineering/context.json"
            ]
        ),
        "false\n"
    );
    ok(
        admin,
        &[
            "rebac",
            "create",
            "user:charlie@acme.com",
            "editor",
            "/orgs/acme/engineering",
        ],
    );
    let read = ok(
        admin,
        &[
            "rebac",
            "read",
            "--resource",
            "/orgs/acme/engineering",
            "--relation",
            "editor",
        ],
    );
    assert_eq!(read.lines().count(), 1, "{read}");
    let tree = ok(
        admin,
        &["rebac", "expand", "write", "/orgs/acme/engineering"],
    );
    assert!(tree.contains("union"), "{tree}");
    let subjects = ok(
        admin,
        &[
            "rebac",
            "lookup-subjects",
            "/orgs/acme/engineering",
            "write",
            "user",
        ],
    );
    assert_eq!(subjects.lines().count(), 2, "{subjects}");
    assert!(ok(admin, &["rebac", "schema", "read"]).contains("definition file"));
    assert!(ok(admin, &["rebac", "changes"]).lines().count() >= 3);

    // Keys: create one for charlie, use it, revoke it.
    let key: serde_json::Value = serde_json::from_str(&ok(
        admin,
        &[
            "--json",
            "admin",
            "create-key",
            "--principal",
            "user:charlie@acme.com",
        ],
    ))
    .unwrap();
    let secret = key["secret"].as_str().unwrap();
    let charlie: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_API_KEY", secret)];
    assert_eq!(
        ok(charlie, &["cat", "/orgs/acme/sales/documents/plan.md"]),
        "# Plan"
    );
    let refused = cli(charlie, &["write", "/orgs/acme/x.md", "x"]);
    assert_eq!(refused.0, 5, "{}", refused.2);
    assert!(ok(admin, &["admin", "list-keys"]).contains("user:u_"));
    ok(admin, &["admin", "revoke-key", key["id"].as_str().unwrap()]);
    let revoked = cli(charlie, &["ls", "/orgs"]);
    assert_eq!(revoked.0, 5, "{}", revoked.2);
    assert!(
        revoked.2.contains("invalid or revoked API key"),
        "{}",
        revoked.2
    );

    // A bearer token works as well, and `--as` is refused remotely.
    let alice_token = token("alice@acme.com");
    let alice: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice_token)];
    assert!(ok(alice, &["ls", "/orgs"]).contains("acme/"));
    let spoof = cli(alice, &["--as", "user:john@techcorp.com", "ls", "/orgs"]);
    assert_eq!(spoof.0, 2, "{}", spoof.2);

    // Removing charlie with the CLI, then organizations.
    ok(
        seed_env,
        &[
            "admin",
            "remove-user",
            "--org",
            "acme",
            "--user",
            "charlie@acme.com",
        ],
    );
    let created = ok(
        admin,
        &[
            "admin",
            "create-org",
            "--id",
            "newco",
            "--name",
            "New Co",
            "--workspaces",
            "ops",
        ],
    );
    assert!(created.contains("created /orgs/newco/ops/"), "{created}");

    // Commands that only make sense on a data directory say so.
    let gc = cli(admin, &["gc"]);
    assert_eq!(gc.0, 2, "{}", gc.2);
    // An unreachable server is a clear error.
    let down = cli(&[("NEXUS_URL", "http://127.0.0.1:9")], &["ls", "/orgs"]);
    assert_eq!(down.0, 6, "{}", down.2);
    assert!(down.2.contains("cannot reach the server"), "{}", down.2);
}

/// Through the CLI, a body over the server's limit says which setting limits it, every time.
#[test]
fn oversize_uploads_through_the_cli_say_why() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_body_bytes: 65536\n",
    ));
    let alice = token("alice@acme.com");
    let big = vec![b'x'; 2 * 1024 * 1024];
    let file = server.dir.path().join("big.bin");
    std::fs::write(&file, &big).unwrap();
    let url = format!("http://{}", server.address);
    for _ in 0..5 {
        let (code, _, stderr) = cli(
            &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice)],
            &[
                "write",
                "/orgs/acme/sales/big.bin",
                "--file",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("limits.max_body_bytes"), "{stderr}");
        assert!(!stderr.contains("cannot reach"), "{stderr}");
    }
}

/// The CLI without credentials says which variables to set; ordinary 4xx errors
/// carry no request-id line (5xx and `--json` still do).
#[test]
fn cli_errors_speak_to_people() {
    let server = Server::start(&seed_config());
    let url = format!("http://{}", server.address);
    let (code, _, stderr) = cli(&[("NEXUS_URL", &url)], &["ls", "/orgs"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("NEXUS_API_KEY") && stderr.contains("NEXUS_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("Authorization: Bearer"), "{stderr}");
    let alice = token("alice@acme.com");
    let (code, _, stderr) = cli(
        &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice)],
        &["cat", "/orgs/acme/sales/missing.md"],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(!stderr.contains("request id"), "{stderr}");
    let (code, _, stderr) = cli(
        &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice)],
        &["--json", "cat", "/orgs/acme/sales/missing.md"],
    );
    assert_eq!(code, 3, "{stderr}");
    let body: serde_json::Value = serde_json::from_str(&stderr).unwrap();
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{stderr}"
    );
}
