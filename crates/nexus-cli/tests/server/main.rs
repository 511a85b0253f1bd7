//! End-to-end tests of the `nexus` binary as a server: `init`, `serve`, signals and the
//! seed's workflow, driven over HTTP, and the CLI against a running server. The HTTP API
//! itself is tested next to the server (`crates/nexus-server/tests/http`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test; scenario tests read top to bottom"
)]

mod cli;
mod harness;
mod reminders;
#[path = "../common/snapshot.rs"]
mod snapshot;

use harness::{Api, Server, seed_config, token};
use serde_json::json;

/// The seed's "Complete Workflow", as written: init, serve, add bob with an admin token,
/// bob reads the sales context, is refused engineering, techcorp's admin sees nothing of
/// acme, and bob loses access on his next request once removed.
#[test]
fn the_seed_complete_workflow() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let john = token("john@techcorp.com");

    assert_eq!(server.request("GET", "/health", &[], None).status, 200);
    assert_eq!(server.request("GET", "/ready", &[], None).status, 200);

    // Bob has no account yet: his token names nobody.
    assert_eq!(
        server.get("/api/whoami", &token("bob@acme.com")).status,
        401
    );

    // Step 4, exactly as the seed's curl sends it: JSON with curl's default form label.
    let added = server.request(
        "POST",
        "/api/orgs/acme/members",
        &[
            ("Authorization", &format!("Bearer {alice}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(br#"{"user_id": "bob@acme.com", "role": "member", "workspaces": ["sales"]}"#),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(added.json()["success"], true);
    let bob = token("bob@acme.com");

    // Step 5.
    let context = server.get("/api/orgs/acme/sales/context.json", &bob);
    assert_eq!(context.status, 200, "{}", context.text());
    assert_eq!(context.json()["workspace_id"], "sales");
    assert_eq!(context.header("content-type"), Some("application/json"));
    assert!(context.header("etag").is_some());
    // Bob can write in sales, not in engineering.
    let proposal = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/documents/proposal.md",
        &[("Authorization", &format!("Bearer {bob}"))],
        Some(b"# Q1 Sales Proposal"),
    );
    assert_eq!(proposal.status, 201, "{}", proposal.text());
    for path in [
        "/api/orgs/acme/engineering/context.json",
        "/api/fs/orgs/acme/engineering/context.json",
    ] {
        let refused = server.get(path, &bob);
        assert!(
            matches!(refused.status, 403 | 404),
            "{path}: {}",
            refused.status
        );
    }
    let write = server.request(
        "PUT",
        "/api/fs/orgs/acme/engineering/notes.md",
        &[("Authorization", &format!("Bearer {bob}"))],
        Some(b"x"),
    );
    assert!(matches!(write.status, 403 | 404), "{}", write.text());

    // The membership record is org.json, and it now lists bob.
    let record = server.get("/api/orgs/acme/org.json", &alice).json();
    let members: Vec<&str> = record["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["alice@acme.com", "bob@acme.com"]);
    assert_eq!(record["members"][1]["added_by"], "alice@acme.com");
    // Adding him twice is a 400, as the seed's API says.
    let again = server.call(
        "POST",
        "/api/orgs/acme/members",
        &alice,
        Some(&json!({"user_id": "bob@acme.com", "role": "member", "workspaces": ["sales"]})),
    );
    assert_eq!(again.status, 400);

    // techcorp's admin sees nothing of acme: not in listings, and 404 (never 403) inside.
    let orgs = server.get("/api/ls/orgs", &john).json();
    let names: Vec<&str> = orgs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["techcorp"]);
    for path in [
        "/api/orgs/acme/members",
        "/api/orgs/acme/sales/context.json",
        "/api/orgs/acme/org.json",
        "/api/stat/orgs/acme",
        "/api/ls/orgs/acme",
        "/api/acl/orgs/acme/sales",
    ] {
        let response = server.get(path, &john);
        assert_eq!(response.status, 404, "{path}: {}", response.text());
        assert!(
            !response.text().contains("bob"),
            "{path} leaks: {}",
            response.text()
        );
    }
    let intrusion = server.call(
        "POST",
        "/api/orgs/acme/members",
        &john,
        Some(&json!({"user_id": "john@techcorp.com", "role": "admin"})),
    );
    assert_eq!(intrusion.status, 404, "{}", intrusion.text());
    let removal = server.call(
        "DELETE",
        "/api/orgs/acme/members/alice@acme.com",
        &john,
        None,
    );
    assert_eq!(removal.status, 404);
    // A missing organization and a foreign one answer alike.
    let missing = server.get("/api/orgs/nosuchorg/members", &john);
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.code(),
        server.get("/api/orgs/acme/members", &john).code()
    );

    // Members list: members of that org only.
    let listed = server.get("/api/orgs/acme/members", &bob).json();
    assert_eq!(listed["members"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("john"));

    // Removal: bob loses everything on his very next request.
    let removed = server.call(
        "DELETE",
        "/api/orgs/acme/members/bob@acme.com",
        &alice,
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    for path in [
        "/api/orgs/acme/sales/context.json",
        "/api/fs/orgs/acme/sales/documents/proposal.md",
        "/api/orgs/acme/members",
    ] {
        assert_eq!(server.get(path, &bob).status, 404, "{path}");
    }
    let names: Vec<String> = server.get("/api/ls/orgs", &bob).json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // Removing him again: he is not a member.
    assert_eq!(
        server
            .call(
                "DELETE",
                "/api/orgs/acme/members/bob@acme.com",
                &alice,
                None
            )
            .status,
        404
    );
}

/// SIGTERM: requests in flight finish, the process exits 0, acknowledged writes survive a
/// restart.
#[test]
fn graceful_shutdown_keeps_acknowledged_writes() {
    let mut server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let put = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/documents/kept.md",
        &[("Authorization", &format!("Bearer {alice}"))],
        Some(b"durable"),
    );
    assert_eq!(put.status, 201);
    assert!(server.stop(), "the server did not exit cleanly on SIGTERM");
    server.launch();
    assert_eq!(
        server
            .get("/api/fs/orgs/acme/sales/documents/kept.md", &alice)
            .text(),
        "durable"
    );
}

/// `nexus init` is idempotent and merges: members users added stay, edits to the config
/// add what is new.
#[test]
fn init_is_idempotent_and_merges() {
    let mut server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    assert_eq!(
        server
            .call(
                "POST",
                "/api/orgs/acme/members",
                &alice,
                Some(&json!({"user_id": "dave@acme.com"}))
            )
            .status,
        201
    );
    let write = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/context.json",
        &[("Authorization", &format!("Bearer {alice}"))],
        Some(b"{\"mine\": true}"),
    );
    assert_eq!(write.status, 200);
    assert!(server.stop());
    let edited = seed_config().replace(
        "      - id: engineering\n",
        "      - id: engineering\n      - id: support\n",
    );
    std::fs::write(server.config_path(), edited).unwrap();
    let again = harness::nexus()
        .args(["--json", "init", "--config"])
        .arg(server.config_path())
        .output()
        .unwrap();
    assert!(again.status.success());
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let changes: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        changes.contains(&"created /orgs/acme/support/"),
        "{changes:?}"
    );
    assert!(
        changes.iter().all(|change| !change.contains("sales")),
        "{changes:?}"
    );
    assert!(
        report["admin_key"].is_null(),
        "a second admin key was minted"
    );
    server.launch();
    let record = server.get("/api/orgs/acme/org.json", &alice).json();
    assert!(record.to_string().contains("dave@acme.com"));
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &alice)
            .text(),
        "{\"mine\": true}"
    );
}

/// A locker master key other than the one the data keys are wrapped with stops the server
/// before it listens, naming both fingerprints; the right one starts it.
#[test]
fn a_wrong_locker_key_refuses_to_start() {
    let dir = tempfile::TempDir::new().unwrap();
    let (right, right_text) = nexus_core::locker::MasterKey::generate();
    let (wrong, wrong_text) = nexus_core::locker::MasterKey::generate();
    std::fs::write(dir.path().join("right.key"), &right_text).unwrap();
    std::fs::write(dir.path().join("wrong.key"), &wrong_text).unwrap();
    let config = |key: &str| {
        format!(
            "data_dir: ./d\nauth:\n  type: api_key\norganizations:\n  - id: acme\n    name: Acme\n    members:\n      - user_id: alice@acme.com\n        role: admin\nlocker:\n  key_file: {key}\n"
        )
    };
    let path = dir.path().join("nexus.yaml");
    std::fs::write(&path, config("right.key")).unwrap();
    let run = |args: &[&str]| {
        harness::nexus()
            .env_remove("NEXUS_LOCKER_KEY")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["init", "--config", "nexus.yaml"]).status.success());
    let created = harness::nexus()
        .env("NEXUS_LOCKER_KEY", &right_text)
        .current_dir(dir.path())
        .args([
            "--data-dir",
            "d",
            "item",
            "create",
            "locker",
            "--org",
            "acme",
            "--scope",
            "UNIV",
            "--kind",
            "env",
            "--data",
            r#"{"name": "prod", "secret": "p4ss"}"#,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    std::fs::write(&path, config("wrong.key")).unwrap();
    let refused = run(&["serve", "--port", "0", "--config", "nexus.yaml"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(wrong.id())
            && stderr.contains(right.id())
            && stderr.contains("rotate-locker-key"),
        "{stderr}"
    );
    assert!(!stderr.contains(&wrong_text) && !stderr.contains(&right_text));
}

/// Misconfiguration stops the server before it listens.
#[test]
fn unsafe_or_broken_configurations_refuse_to_start() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut out = String::new();
    for config in [
        "data_dir: ./d\nauth:\n  type: jwt\n",
        "data_dir: ./d\nauth:\n  type: jwt\n  jwt_algorithm: RS256\n",
        "data_dir: ./d\nauth:\n  type: jwt\n  jwt_algorithm: RS256\n  jwt_public_key_file: missing.pem\n",
        "data_dir: ./d\nauth:\n  type: none\nserver:\n  host: 0.0.0.0\n",
        "data_dir: ./d\nunknown: 1\n",
        "data_dir: ${UNSET_NEXUS_TEST_VAR}\n",
        "data_dir: ./d\nauth:\n  type: api_key\nlocker:\n  enabled: true\n",
        "data_dir: ./d\nauth:\n  type: api_key\nlocker:\n  key_file: short.key\n",
    ] {
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, config).unwrap();
        std::fs::write(dir.path().join("short.key"), "c2hvcnQ=\n").unwrap();
        let output = harness::nexus()
            .env_remove("NEXUS_LOCKER_KEY")
            .args(["serve", "--port", "0", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{config}");
        out.push_str(&format!("# bad.yaml\n{config}"));
        snapshot::record(
            &mut out,
            None,
            &["serve", "--port", "0", "--config", "bad.yaml"],
            output.status.code().unwrap_or(-1),
            &String::from_utf8_lossy(&output.stdout),
            &String::from_utf8_lossy(&output.stderr),
        );
    }
    let text = out.replace(&dir.path().display().to_string(), "[DIR]");
    snapshot::settings().bind(|| insta::assert_snapshot!("refused_configurations", text));
}
