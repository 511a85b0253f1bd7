//! The CLI against a running server: `--url` / `NEXUS_URL` (or the seed's `NEXUS_HOST` and
//! `NEXUS_PORT`) with `NEXUS_API_KEY` or `NEXUS_TOKEN`.

use crate::harness::{Server, cli, seed_config, token};
use crate::snapshot::{record, settings};

/// A transcript of CLI commands against the server, each run with the credentials its label
/// names.
struct Transcript {
    out: String,
}

impl Transcript {
    fn run(&mut self, label: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let (code, stdout, stderr) = cli(env, args);
        record(&mut self.out, Some(label), args, code, &stdout, &stderr);
        (code, stdout, stderr)
    }
}

/// Every kind of command against a server, as a snapshot of what each printed
/// (`snapshots/cli_against_a_server.snap`).
#[test]
fn every_kind_of_command_works_against_a_server() {
    let server = Server::start(&seed_config());
    let url = format!("http://{}", server.address);
    let admin: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_API_KEY", &server.admin_key)];
    let mut t = Transcript { out: String::new() };

    // The seed's Option 3, exactly: NEXUS_HOST and NEXUS_PORT name the server.
    let port = server.address.port().to_string();
    let seed_env: &[(&str, &str)] = &[
        ("NEXUS_HOST", "127.0.0.1"),
        ("NEXUS_PORT", &port),
        ("NEXUS_API_KEY", &server.admin_key),
    ];
    let seed = "admin via NEXUS_HOST/NEXUS_PORT";
    t.run(
        seed,
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
    t.run("admin", admin, &["admin", "list-users", "--org", "acme"]);
    t.run("admin", admin, &["--json", "admin", "list-users"]);

    // Files.
    for args in [
        &["write", "/orgs/acme/sales/documents/plan.md", "# Plan"][..],
        &["cat", "/orgs/acme/sales/documents/plan.md"],
        &[
            "cat",
            "--range",
            "2-5",
            "/orgs/acme/sales/documents/plan.md",
        ],
        &["ls", "/orgs/acme/sales"],
        &["mkdir", "-p", "/orgs/acme/sales/a/b"],
        &[
            "cp",
            "/orgs/acme/sales/documents/plan.md",
            "/orgs/acme/sales/a/",
        ],
        &[
            "mv",
            "/orgs/acme/sales/a/plan.md",
            "/orgs/acme/sales/a/b/moved.md",
        ],
        &["glob", "/orgs/acme/**/moved.md"],
        &["grep", "Plan", "/orgs/acme/sales"],
        &["write", "/orgs/acme/sales/documents/plan.md", "# Plan v2"],
        &["versions", "/orgs/acme/sales/documents/plan.md"],
        &[
            "versions",
            "restore",
            "/orgs/acme/sales/documents/plan.md",
            "1",
        ],
        &["cat", "/orgs/acme/sales/documents/plan.md"],
        &["versions", "policy", "acme", "--keep", "5"],
        &["rm", "-r", "/orgs/acme/sales/a"],
        &["stat", "/orgs/acme/sales/a"],
    ] {
        t.run("admin", admin, args);
    }

    // ACLs and ReBAC.
    for args in [
        &[
            "setfacl",
            "/orgs/acme/engineering",
            "user:charlie@acme.com:r--",
        ][..],
        &["getfacl", "/orgs/acme/engineering"],
        &[
            "rebac",
            "check",
            "user:charlie@acme.com",
            "read",
            "/orgs/acme/engineering/context.json",
        ],
        &[
            "rebac",
            "check",
            "user:charlie@acme.com",
            "write",
            "/orgs/acme/engineering/context.json",
        ],
        &[
            "rebac",
            "create",
            "user:charlie@acme.com",
            "editor",
            "/orgs/acme/engineering",
        ],
        &[
            "rebac",
            "read",
            "--resource",
            "/orgs/acme/engineering",
            "--relation",
            "editor",
        ],
        &["rebac", "expand", "write", "/orgs/acme/engineering"],
        &[
            "rebac",
            "lookup-subjects",
            "/orgs/acme/engineering",
            "write",
            "user",
        ],
        &["rebac", "changes"],
        &["rebac", "schema", "read"],
    ] {
        t.run("admin", admin, args);
    }

    // Keys: create one for charlie, use it, revoke it.
    let (_, created, _) = t.run(
        "admin",
        admin,
        &[
            "--json",
            "admin",
            "create-key",
            "--principal",
            "user:charlie@acme.com",
        ],
    );
    let key: serde_json::Value = serde_json::from_str(&created).unwrap();
    let secret = key["secret"].as_str().unwrap();
    let charlie: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_API_KEY", secret)];
    t.run(
        "charlie's key",
        charlie,
        &["cat", "/orgs/acme/sales/documents/plan.md"],
    );
    t.run("charlie's key", charlie, &["write", "/orgs/acme/x.md", "x"]);
    t.run("admin", admin, &["admin", "list-keys"]);
    t.run(
        "admin",
        admin,
        &["admin", "revoke-key", key["id"].as_str().unwrap()],
    );
    t.run("charlie's key", charlie, &["ls", "/orgs"]);

    // A bearer token works as well, and `--as` is refused remotely.
    let alice_token = token("alice@acme.com");
    let alice: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice_token)];
    t.run("alice's token", alice, &["ls", "/orgs"]);
    t.run(
        "alice's token",
        alice,
        &["--as", "user:john@techcorp.com", "ls", "/orgs"],
    );

    // Removing charlie with the CLI, then organizations.
    t.run(
        seed,
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
    t.run(
        "admin",
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

    // Commands that only make sense on a data directory say so; an unreachable server is
    // a clear error.
    t.run("admin", admin, &["gc"]);
    t.run(
        "nobody",
        &[("NEXUS_URL", "http://127.0.0.1:9")],
        &["ls", "/orgs"],
    );

    settings().bind(|| insta::assert_snapshot!("cli_against_a_server", t.out));
}

/// The CLI's errors against a server, as a snapshot (`snapshots/cli_errors_against_a_server.snap`):
/// without credentials it says which variables to set; ordinary 4xx errors carry no
/// request-id line (`--json` does); a body over the server's limit names the setting, every
/// time, and is not mistaken for an unreachable server.
#[test]
fn cli_errors_speak_to_people() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_body_bytes: 65536\n",
    ));
    let url = format!("http://{}", server.address);
    let alice_token = token("alice@acme.com");
    let alice: &[(&str, &str)] = &[("NEXUS_URL", &url), ("NEXUS_TOKEN", &alice_token)];
    let mut t = Transcript { out: String::new() };
    t.run("no credentials", &[("NEXUS_URL", &url)], &["ls", "/orgs"]);
    t.run(
        "alice's token",
        alice,
        &["cat", "/orgs/acme/sales/missing.md"],
    );
    let (_, _, json) = t.run(
        "alice's token",
        alice,
        &["--json", "cat", "/orgs/acme/sales/missing.md"],
    );
    let body: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{json}"
    );

    let file = server.dir.path().join("big.bin");
    std::fs::write(&file, vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let upload = [
        "write",
        "/orgs/acme/sales/big.bin",
        "--file",
        file.to_str().unwrap(),
    ];
    let first = t.run("alice's token", alice, &upload);
    for _ in 0..4 {
        assert_eq!(cli(alice, &upload), first, "the same refusal every time");
    }
    let text = t
        .out
        .replace(&server.dir.path().display().to_string(), "[DIR]");
    settings().bind(|| insta::assert_snapshot!("cli_errors_against_a_server", text));
}
