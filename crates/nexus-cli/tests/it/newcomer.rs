//! What a newcomer ran into: ambiguous targets, mistyped data directories, inconsistent
//! commands, configuration that needed secrets it never used.

use std::process::Command;

use super::{Nexus, Run};
use crate::snapshot::{record, settings};

fn nexus_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nexus"));
    command
        .env_remove("NEXUS_LOG")
        .env_remove("NEXUS_URL")
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_PORT")
        .env_remove("NEXUS_DATA_DIR")
        .env_remove("NEXUS_API_KEY")
        .env_remove("NEXUS_TOKEN")
        .env_remove("JWT_SECRET");
    command
}

fn run(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// What each command printed, for a snapshot; the environment it ran with is its label.
#[derive(Default)]
struct Transcript {
    out: String,
}

impl Transcript {
    fn run(&mut self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut command = nexus_command();
        for (name, value) in env {
            command.env(name, value);
        }
        let done = run(command.args(args));
        let label: Vec<String> = env
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let label = label.join(" ");
        record(
            &mut self.out,
            (!label.is_empty()).then_some(label.as_str()),
            args,
            done.code,
            &done.stdout,
            &done.stderr,
        );
        done
    }

    /// Records a run made elsewhere (with the data directory of [`Nexus`]).
    fn add(&mut self, args: &[&str], done: &Run) {
        record(
            &mut self.out,
            None,
            args,
            done.code,
            &done.stdout,
            &done.stderr,
        );
    }

    /// The transcript with the temporary directory `dir` shown as `[DIR]`.
    fn snapshot(&self, name: &str, dir: &std::path::Path) {
        let text = self.out.replace(&dir.display().to_string(), "[DIR]");
        settings().bind(|| insta::assert_snapshot!(name, text));
    }
}

/// An explicit flag beats an environment variable; two explicit targets (or two
/// from the environment) are an error naming both (`snapshots/one_target_per_command.snap`).
#[test]
fn one_target_per_command() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    let data = nexus.data_dir();
    let data = data.to_str().unwrap();
    let mut t = Transcript::default();
    // Nothing listens on port 1.
    let server = "http://127.0.0.1:1";
    let both = t.run(&[], &["--data-dir", data, "--url", server, "ls", "/orgs"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    for (name, value) in [("NEXUS_URL", server), ("NEXUS_HOST", "127.0.0.1")] {
        let flag_wins = t.run(
            &[(name, value), ("NEXUS_PORT", "1")],
            &["--data-dir", data, "ls", "/orgs"],
        );
        assert_eq!(flag_wins.code, 0, "{name}: {}", flag_wins.stderr);
    }
    let url_wins = t.run(
        &[("NEXUS_DATA_DIR", data)],
        &["--url", server, "ls", "/orgs"],
    );
    assert_eq!(url_wins.code, 6, "{}", url_wins.stderr);
    let two_envs = t.run(
        &[("NEXUS_DATA_DIR", data), ("NEXUS_URL", server)],
        &["ls", "/orgs"],
    );
    assert_eq!(two_envs.code, 2, "{}", two_envs.stderr);
    t.snapshot("one_target_per_command", nexus.dir.path());
}

/// Only commands that write create a data directory; others say there is none
/// (`snapshots/a_mistyped_data_directory_is_not_created.snap`).
#[test]
fn a_mistyped_data_directory_is_not_created() {
    let nexus = Nexus::new();
    let missing = nexus.dir.path().join("typo");
    let missing_text = missing.to_str().unwrap();
    let mut t = Transcript::default();
    for args in [
        vec!["ls", "/"],
        vec!["stat", "/orgs/acme"],
        vec!["cat", "/orgs/acme/x"],
        vec!["rebac", "check", "user:a@b.c", "read", "/orgs/acme"],
        vec!["admin", "list-users"],
    ] {
        let mut full = vec!["--data-dir", missing_text];
        full.extend(&args);
        let refused = t.run(&[], &full);
        assert_eq!(refused.code, 3, "{args:?}: {}", refused.stderr);
        assert!(!missing.exists(), "{args:?} created {missing_text}");
    }
    let file = t.run(&[], &["--data-dir", "/etc/passwd", "ls"]);
    assert_ne!(file.code, 0);
    // A command that writes creates it.
    let created = t.run(&[], &["--data-dir", missing_text, "mkdir", "/orgs/acme"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let listed = t.run(&[], &["--data-dir", missing_text, "ls", "/orgs"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    t.snapshot("a_mistyped_data_directory_is_not_created", nexus.dir.path());
}

/// Grep without a match exits alike with and without `--json`; creating an existing
/// relationship and setting an existing ACL entry are both idempotent; creating an existing
/// organization says so; `stat` and listings show authors by handle
/// (`snapshots/commands_behave_consistently.snap`).
#[test]
fn commands_behave_consistently() {
    let nexus = Nexus::new();
    nexus.ok(&[
        "admin",
        "create-org",
        "--id",
        "acme",
        "--name",
        "Acme",
        "--workspaces",
        "sales",
    ]);
    nexus.ok(&[
        "admin",
        "add-user",
        "--org",
        "acme",
        "--user",
        "alice@acme.com",
        "--role",
        "admin",
    ]);
    nexus.ok(&["write", "/orgs/acme/sales/a.md", "hello"]);
    let text = nexus.run(&["grep", "nomatch", "/orgs/acme"]);
    let json = nexus.run(&["--json", "grep", "nomatch", "/orgs/acme"]);
    assert_eq!(text.code, json.code, "{} / {}", text.stderr, json.stderr);
    assert_ne!(text.code, 0);
    let matches: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(matches["matches"], serde_json::json!([]));

    for _ in 0..2 {
        let created = nexus.run(&[
            "rebac",
            "create",
            "user:alice@acme.com",
            "viewer",
            "/orgs/acme/sales",
        ]);
        assert_eq!(created.code, 0, "{}", created.stderr);
        let set = nexus.run(&["setfacl", "/orgs/acme/sales", "user:alice@acme.com:r--"]);
        assert_eq!(set.code, 0, "{}", set.stderr);
    }
    let mut t = Transcript::default();
    for args in [
        &[
            "rebac",
            "create",
            "user:alice@acme.com",
            "viewer",
            "/orgs/acme/sales",
        ][..],
        &["admin", "create-org", "--id", "acme", "--name", "Acme"],
        &[
            "--as",
            "user:alice@acme.com",
            "write",
            "/orgs/acme/sales/b.md",
            "by alice",
        ],
        &["stat", "/orgs/acme/sales/b.md"],
        &["--json", "ls", "/orgs/acme/sales"],
    ] {
        t.add(args, &nexus.run(args));
    }
    t.snapshot("commands_behave_consistently", nexus.dir.path());
}

/// `init` and `config validate` do not need `JWT_SECRET`; `serve` does.
/// `nexus token create` mints a token the configured server accepts
/// (`snapshots/secrets_are_needed_only_where_they_are_used.snap`).
#[test]
fn secrets_are_needed_only_where_they_are_used() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("nexus.yaml");
    std::fs::write(
        &config,
        "data_dir: ./data\norganizations:\n  - id: acme\n    name: Acme\n    members:\n      - user_id: alice@acme.com\n        role: admin\nauth:\n  type: jwt\n  jwt_secret: ${JWT_SECRET}\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut t = Transcript::default();
    let validated = t.run(&[], &["config", "validate", config]);
    assert_eq!(validated.code, 0, "{}", validated.stderr);
    let init = run(nexus_command().args(["init", "--config", config]));
    assert_eq!(init.code, 0, "{}", init.stderr);
    let serve = t.run(&[], &["serve", "--port", "0", "--config", config]);
    assert_eq!(serve.code, 2, "{}", serve.stderr);

    let secret = "a-secret-of-at-least-32-bytes-0123456789";
    let minted = run(nexus_command().env("JWT_SECRET", secret).args([
        "token",
        "create",
        "--config",
        config,
        "--sub",
        "alice@acme.com",
        "--ttl",
        "1h",
    ]));
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let jwt = minted.stdout.trim();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice@acme.com");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 3600);
    for bad in [
        vec!["--sub", "system", "--ttl", "1h"],
        vec!["--sub", "alice@acme.com", "--ttl", "forever"],
        vec!["--sub", "alice@acme.com", "--ttl", "0s"],
    ] {
        let mut args = vec!["token", "create", "--config", config];
        args.extend(&bad);
        let refused = run(nexus_command().env("JWT_SECRET", secret).args(&args));
        assert_eq!(refused.code, 2, "{bad:?}: {}", refused.stderr);
    }
    let no_secret = t.run(
        &[],
        &[
            "token",
            "create",
            "--config",
            config,
            "--sub",
            "alice@acme.com",
        ],
    );
    assert_eq!(no_secret.code, 2, "{}", no_secret.stderr);
    t.snapshot("secrets_are_needed_only_where_they_are_used", dir.path());
}

/// `nexus gc --retention` applies the retention policies on a data directory.
#[test]
fn gc_applies_retention_policies() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("nexus.yaml");
    std::fs::write(
        &config,
        "data_dir: ./data\norganizations:\n  - id: acme\n    name: Acme\n    settings:\n      retention_policy:\n        conversations: 1s\n    workspaces:\n      - id: sales\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let init = run(nexus_command().args(["init", "--config", config]));
    assert_eq!(init.code, 0, "{}", init.stderr);
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let nexus = |args: &[&str]| {
        let mut full = vec!["--data-dir", data];
        full.extend(args);
        run(nexus_command().args(&full))
    };
    assert_eq!(
        nexus(&[
            "write",
            "/orgs/acme/sales/conversations/a/old.md",
            "-p",
            "x"
        ])
        .code,
        0
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        nexus(&["write", "/orgs/acme/sales/conversations/new.md", "x"]).code,
        0
    );
    // Without `--retention`, nothing expires.
    assert_eq!(nexus(&["gc"]).code, 0);
    assert_eq!(
        nexus(&["stat", "/orgs/acme/sales/conversations/a/old.md"]).code,
        0
    );
    let swept = nexus(&["--json", "gc", "--retention"]);
    assert_eq!(swept.code, 0, "{}", swept.stderr);
    let report: serde_json::Value = serde_json::from_str(&swept.stdout).unwrap();
    assert_eq!(
        report["expired"],
        serde_json::json!(["/orgs/acme/sales/conversations/a/old.md"])
    );
    assert_eq!(
        nexus(&["stat", "/orgs/acme/sales/conversations/a/old.md"]).code,
        3
    );
    assert_eq!(
        nexus(&["stat", "/orgs/acme/sales/conversations/new.md"]).code,
        0
    );
}
