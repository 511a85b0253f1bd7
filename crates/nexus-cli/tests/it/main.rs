//! End-to-end tests of the `nexus` binary on a temporary data directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test; scenario tests read top to bottom"
)]

use std::io::Write;
use std::process::{Command, Stdio};

use tempfile::TempDir;

mod knowledge;
mod newcomer;
#[path = "../common/snapshot.rs"]
mod snapshot;
mod transcript;

struct Nexus {
    dir: TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Nexus {
    fn new() -> Self {
        Nexus {
            dir: TempDir::new().unwrap(),
        }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nexus"))
            .args(args)
            .env("NEXUS_DATA_DIR", self.data_dir())
            .env_remove("NEXUS_LOG")
            .env_remove("NEXUS_URL")
            .env_remove("NEXUS_HOST")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "{args:?} failed: {}", run.stderr);
        run.stdout
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

#[test]
fn write_list_read_workflow() {
    let nexus = Nexus::new();
    assert_eq!(
        nexus.run(&["mkdir", "/orgs/acme"]).stderr,
        "created /orgs/acme\n"
    );
    let wrote = nexus.run(&[
        "write",
        "-p",
        "/orgs/acme/sales/notes.md",
        "# Q1\npricing\n",
    ]);
    assert_eq!(wrote.code, 0);
    assert!(
        wrote
            .stderr
            .starts_with("wrote /orgs/acme/sales/notes.md (13 bytes, version 1, etag v1-"),
        "{}",
        wrote.stderr
    );
    assert_eq!(wrote.stdout, "");
    assert_eq!(
        nexus.ok(&["cat", "/orgs/acme/sales/notes.md"]),
        "# Q1\npricing\n"
    );
    assert_eq!(
        nexus.ok(&["cat", "/orgs/acme/sales/notes.md", "--range", "0-3"]),
        "# Q1"
    );

    let listing = nexus.ok(&["ls", "/orgs/acme/sales"]);
    let fields: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{listing}");
    assert_eq!(
        (fields[0], fields[1], fields[4]),
        ("file", "13", "notes.md")
    );
    assert_eq!(nexus.ok(&["ls", "/"]), "dir  -  -  orgs/\n");

    let stat = nexus.json(&["stat", "/orgs/acme/sales/notes.md"]);
    assert_eq!(stat["kind"], "file");
    assert_eq!(stat["size"], 13);
    assert_eq!(stat["version"], 1);
    assert_eq!(stat["author"], "system");
    let etag = stat["etag"].as_str().unwrap().to_owned();

    // Conditional write with a stale and then the current etag.
    nexus.ok(&[
        "write",
        "/orgs/acme/sales/notes.md",
        "v2",
        "--if-match",
        &etag,
    ]);
    let stale = nexus.run(&[
        "write",
        "/orgs/acme/sales/notes.md",
        "v3",
        "--if-match",
        &etag,
    ]);
    assert_eq!(stale.code, 4);
    assert!(
        stale.stderr.starts_with(
            "error: precondition failed for `/orgs/acme/sales/notes.md`: its current etag is `v2-"
        ),
        "{}",
        stale.stderr
    );
    assert!(
        stale
            .stderr
            .ends_with("hint: read the file again and retry with its current etag\n")
    );

    let versions = nexus.json(&["versions", "/orgs/acme/sales/notes.md"]);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(
        nexus.ok(&["versions", "cat", "/orgs/acme/sales/notes.md", "1"]),
        "# Q1\npricing\n"
    );
    nexus.ok(&["versions", "restore", "/orgs/acme/sales/notes.md", "1"]);
    assert_eq!(
        nexus.ok(&["cat", "/orgs/acme/sales/notes.md"]),
        "# Q1\npricing\n"
    );
    let table = nexus.ok(&["versions", "list", "/orgs/acme/sales/notes.md"]);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.lines().nth(1).unwrap().trim_start().starts_with("*3"));

    assert_eq!(
        nexus.ok(&["glob", "/orgs/**/*.md"]),
        "/orgs/acme/sales/notes.md\n"
    );
    assert_eq!(
        nexus.ok(&["grep", "pricing", "/orgs"]),
        "/orgs/acme/sales/notes.md:2:pricing\n"
    );

    nexus.ok(&["cp", "/orgs/acme/sales", "/orgs/acme/archive", "-r"]);
    nexus.ok(&[
        "mv",
        "/orgs/acme/archive/notes.md",
        "/orgs/acme/archive/old.md",
    ]);
    assert_eq!(
        nexus.ok(&["glob", "/orgs/acme/**"]),
        "/orgs/acme/archive\n/orgs/acme/archive/old.md\n/orgs/acme/sales\n/orgs/acme/sales/notes.md\n"
    );
    nexus.ok(&["rm", "-r", "/orgs/acme/archive"]);
    assert_eq!(
        nexus
            .ok(&["fsck", "--verify-content"])
            .lines()
            .last()
            .unwrap(),
        "ok: 2 referenced blobs (2 verified), 0 orphan blobs"
    );
}

#[test]
fn content_from_stdin_and_files() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    let binary: Vec<u8> = (0..=255).collect();
    let run = nexus.run_with_stdin(&["write", "/orgs/acme/bin"], Some(&binary));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let local = nexus.dir.path().join("local.txt");
    std::fs::write(&local, "from a file").unwrap();
    nexus.ok(&[
        "write",
        "/orgs/acme/f.txt",
        "--file",
        local.to_str().unwrap(),
    ]);
    assert_eq!(nexus.ok(&["cat", "/orgs/acme/f.txt"]), "from a file");
    let cat = Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["cat", "/orgs/acme/bin"])
        .env("NEXUS_DATA_DIR", nexus.data_dir())
        .output()
        .unwrap();
    assert_eq!(cat.stdout, binary);
    let json = nexus.json(&["cat", "/orgs/acme/bin"]);
    assert!(json["content"].is_null());
    assert_eq!(json["content_base64"].as_str().unwrap().len(), 344);
    let missing = nexus.run(&["write", "/orgs/acme/x", "--file", "/nonexistent/file"]);
    assert_eq!(missing.code, 2);
}

#[test]
fn exit_codes_and_messages() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    nexus.ok(&["write", "/orgs/acme/a", "a"]);
    nexus.ok(&["write", "-p", "/orgs/acme/d/b", "b"]);
    let cases: [(&[&str], i32, &str); 10] = [
        (
            &["cat", "/orgs/acme/none"],
            3,
            "error: `/orgs/acme/none` does not exist\n",
        ),
        (
            &["cat", "orgs/acme/a"],
            2,
            "error: invalid path `orgs/acme/a`: it must be absolute (start with `/`)\n",
        ),
        (
            &["cat", "/orgs/acme/../a"],
            2,
            "error: invalid path `/orgs/acme/../a`: `..` segments are not allowed\n",
        ),
        (
            &["write", "/orgs/acme/x/y", "z"],
            3,
            "error: parent directory `/orgs/acme/x` does not exist\nhint: pass `-p` to create missing parent directories\n",
        ),
        (
            &["write", "/orgs/acme/d", "z"],
            4,
            "error: `/orgs/acme/d` is a directory\n",
        ),
        (
            &["rm", "/orgs/acme/d"],
            4,
            "error: directory `/orgs/acme/d` is not empty\nhint: remove it recursively to delete everything beneath it\n",
        ),
        (
            &["cp", "/orgs/acme/d", "/orgs/acme/e"],
            4,
            "error: `/orgs/acme/d` is a directory\nhint: pass `-r` to copy a directory\n",
        ),
        (
            &["mv", "/orgs/acme/d", "/orgs/acme/d/inner"],
            2,
            "error: cannot move or copy `/orgs/acme/d` into itself (`/orgs/acme/d/inner`)\n",
        ),
        (
            &["mkdir", "/orgs/acme"],
            4,
            "error: `/orgs/acme` already exists\n",
        ),
        (
            &["write", "/tmp/x", "z"],
            2,
            "error: `/tmp/x` is outside every organization: files live under `/orgs/<org>/`\nhint: create an organization root first, e.g. `mkdir /orgs/acme`\n",
        ),
    ];
    for (args, code, stderr) in cases {
        let run = nexus.run(args);
        assert_eq!(
            (run.code, run.stderr.as_str(), run.stdout.as_str()),
            (code, stderr, ""),
            "{args:?}"
        );
    }
    let json = nexus.run(&["--json", "cat", "/orgs/acme/none"]);
    assert_eq!(json.code, 3);
    let body: serde_json::Value = serde_json::from_str(&json.stderr).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let usage = nexus.run(&["frobnicate"]);
    assert_eq!(usage.code, 2);
    let no_dir = Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["ls"])
        .env_remove("NEXUS_DATA_DIR")
        .output()
        .unwrap();
    assert_eq!(no_dir.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(no_dir.stderr).unwrap(),
        "error: no data directory or server given\nhint: pass `--data-dir DIR` (or set NEXUS_DATA_DIR), or `--url http://HOST:PORT` (or set NEXUS_URL)\n"
    );
    // Nothing above changed the store.
    assert_eq!(
        nexus.ok(&["glob", "/orgs/**"]),
        "/orgs/acme\n/orgs/acme/a\n/orgs/acme/d\n/orgs/acme/d/b\n"
    );
}

#[test]
fn paginated_listing() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    for index in 0..5 {
        nexus.ok(&["write", &format!("/orgs/acme/f{index}"), "x"]);
    }
    let first = nexus.run(&["ls", "/orgs/acme", "--limit", "2"]);
    assert_eq!(first.stdout.lines().count(), 2);
    let cursor = first
        .stderr
        .trim()
        .strip_prefix("more entries: continue with `--cursor ")
        .unwrap()
        .strip_suffix('`')
        .unwrap();
    let second = nexus.json(&["ls", "/orgs/acme", "--limit", "2", "--cursor", cursor]);
    let names: Vec<&str> = second["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["f2", "f3"]);
    let everything = nexus.json(&["ls", "/orgs/acme"]);
    assert_eq!(everything["entries"].as_array().unwrap().len(), 5);
    assert!(everything.get("next_cursor").is_none());
    let bad = nexus.run(&["ls", "/orgs/acme", "--cursor", "bogus"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn grep_prints_context_groups() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    nexus.ok(&[
        "write",
        "/orgs/acme/t",
        "a\nmatch 1\nb\nc\nd\ne\nmatch 2\nmatch 3\nf\n",
    ]);
    assert_eq!(
        nexus.ok(&["grep", "match", "/orgs/acme/t", "-C", "1"]),
        "/orgs/acme/t-1-a\n/orgs/acme/t:2:match 1\n/orgs/acme/t-3-b\n--\n/orgs/acme/t-6-e\n/orgs/acme/t:7:match 2\n/orgs/acme/t:8:match 3\n/orgs/acme/t-9-f\n"
    );
    let none = nexus.run(&["grep", "absent", "/orgs"]);
    assert_eq!((none.code, none.stdout.as_str()), (3, ""));
}

#[test]
fn version_policy_command() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    assert_eq!(
        nexus.ok(&["versions", "policy", "acme"]),
        "organization acme keeps at most 100 versions of each file\n"
    );
    for index in 0..5 {
        nexus.ok(&["write", "/orgs/acme/f", &index.to_string()]);
    }
    assert_eq!(
        nexus.ok(&[
            "versions",
            "policy",
            "/orgs/acme",
            "--keep",
            "2",
            "--keep-days",
            "30"
        ]),
        "organization acme keeps at most 2 versions of each file, dropping old versions after 30 days\n"
    );
    assert_eq!(
        nexus
            .json(&["versions", "/orgs/acme/f"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let gc = nexus.json(&["gc", "--grace", "0"]);
    assert_eq!(gc["unreferenced"], 3);
    let zero = nexus.run(&["versions", "policy", "acme", "--keep", "0"]);
    assert_eq!(zero.code, 2);
}

#[test]
fn a_busy_data_directory_is_reported() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fs = runtime
        .block_on(nexus_core::Fs::open(
            &nexus.data_dir(),
            nexus_core::StoreOptions::default(),
        ))
        .unwrap();
    let busy = nexus.run(&["--lock-timeout", "0", "ls"]);
    assert_eq!(busy.code, 6);
    let shown = busy
        .stderr
        .replace(&nexus.data_dir().display().to_string(), "[DATA_DIR]");
    snapshot::settings().bind(|| insta::assert_snapshot!("a_busy_data_directory", shown));
    runtime.block_on(fs.close());
    drop(fs);
    nexus.ok(&["ls"]);
}

#[test]
fn refuses_a_directory_that_is_not_a_data_directory() {
    let nexus = Nexus::new();
    std::fs::create_dir_all(nexus.data_dir()).unwrap();
    std::fs::write(nexus.data_dir().join("thesis.tex"), "precious").unwrap();
    let run = nexus.run(&["ls"]);
    assert_eq!(run.code, 1);
    let shown = run
        .stderr
        .replace(&nexus.data_dir().display().to_string(), "[DATA_DIR]");
    snapshot::settings().bind(|| insta::assert_snapshot!("not_a_data_directory", shown));
    assert_eq!(std::fs::read_dir(nexus.data_dir()).unwrap().count(), 1);
}

/// The seed's ReBAC and ACL commands, as written.
#[test]
fn seed_permission_commands() {
    let nexus = Nexus::new();
    nexus.ok(&[
        "mkdir",
        "-p",
        "/orgs/acme/sales/documents",
        "/orgs/acme/engineering",
    ]);
    nexus.ok(&[
        "rebac",
        "create",
        "user:alice@acme.com",
        "admin",
        "/orgs/acme",
    ]);
    nexus.ok(&[
        "rebac",
        "create",
        "user:bob@acme.com",
        "member",
        "/orgs/acme/sales",
    ]);
    nexus.ok(&[
        "rebac",
        "create",
        "agent:sales_bot_001",
        "assistant",
        "/orgs/acme/sales",
    ]);
    assert_eq!(
        nexus.ok(&[
            "rebac",
            "check",
            "user:bob@acme.com",
            "write",
            "/orgs/acme/sales/documents/"
        ]),
        "true\n"
    );
    assert_eq!(
        nexus.ok(&[
            "rebac",
            "check",
            "user:bob@acme.com",
            "write",
            "/orgs/acme/engineering/"
        ]),
        "false\n"
    );
    assert_eq!(
        nexus.ok(&[
            "rebac",
            "check",
            "user:alice@acme.com",
            "manage",
            "/orgs/acme/engineering"
        ]),
        "true\n"
    );
    nexus.ok(&["setfacl", "/orgs/acme", "user:alice@acme.com:rwx"]);
    nexus.ok(&["setfacl", "/orgs/acme/sales", "user:bob@acme.com:rw-"]);
    nexus.ok(&["setfacl", "/orgs/acme/sales", "agent:sales_bot_001:rw-"]);
    assert_eq!(
        nexus.ok(&["getfacl", "/orgs/acme/sales"]),
        "# file: /orgs/acme/sales\nagent:sales_bot_001:rw-\nuser:bob@acme.com:rw-\n# role assistant: agent:sales_bot_001\n# role member: user:bob@acme.com\n"
    );
    // The seed's revocation: `---` removes the entry; the role still grants until deleted.
    nexus.ok(&["setfacl", "/orgs/acme/sales", "user:bob@acme.com:---"]);
    nexus.ok(&[
        "rebac",
        "delete",
        "user:bob@acme.com",
        "member",
        "/orgs/acme/sales",
    ]);
    assert_eq!(
        nexus.ok(&[
            "rebac",
            "check",
            "user:bob@acme.com",
            "read",
            "/orgs/acme/sales/documents/"
        ]),
        "false\n"
    );
    let json = nexus.json(&[
        "rebac",
        "check",
        "agent:sales_bot_001",
        "write",
        "/orgs/acme/sales/x",
    ]);
    assert_eq!(json["result"], "has_permission");
    let subjects = nexus.ok(&[
        "rebac",
        "lookup-subjects",
        "/orgs/acme/sales",
        "write",
        "agent",
    ]);
    // The engine answers with stable ids: the agent's is `a_XXXX`.
    let agent = subjects.trim_end();
    assert!(
        agent.starts_with("agent:a_")
            && agent.len() == "agent:a_0000".len()
            && !agent.contains('\n'),
        "{subjects}"
    );
    let changes = nexus.ok(&["rebac", "changes"]);
    assert!(changes.lines().count() >= 8, "{changes}");
}

#[test]
fn acting_as_a_principal_is_checked() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "-p", "/orgs/acme/sales", "/orgs/acme/engineering"]);
    nexus.ok(&["write", "/orgs/acme/engineering/secret.md", "s"]);
    nexus.ok(&["setfacl", "/orgs/acme/sales", "user:bob:rw-"]);
    let bob = |args: &[&str]| {
        let mut all = vec!["--as", "user:bob"];
        all.extend_from_slice(args);
        nexus.run(&all)
    };
    assert_eq!(
        bob(&["write", "/orgs/acme/sales/notes.md", "hello"]).code,
        0
    );
    assert_eq!(bob(&["cat", "/orgs/acme/sales/notes.md"]).stdout, "hello");
    let hidden = bob(&["cat", "/orgs/acme/engineering/secret.md"]);
    assert_eq!(
        (hidden.code, hidden.stderr.as_str()),
        (
            3,
            "error: `/orgs/acme/engineering/secret.md` does not exist\n"
        )
    );
    let denied = bob(&["ls", "/orgs/acme/engineering"]);
    assert_eq!(denied.code, 5);
    assert_eq!(
        denied.stderr,
        "error: permission denied: `user:bob` lacks `read` on `/orgs/acme/engineering`\n"
    );
    assert_eq!(
        bob(&["ls", "/orgs/acme"]).stdout.split_whitespace().last(),
        Some("sales/")
    );
    let escalate = bob(&["setfacl", "/orgs/acme/sales", "user:bob:rwx"]);
    assert_eq!(escalate.code, 5);
    let stranger = bob(&[
        "rebac",
        "create",
        "user:eve@evil.com",
        "viewer",
        "/orgs/acme/sales",
    ]);
    assert_eq!(stranger.code, 5, "{}", stranger.stderr);
    nexus.ok(&["setfacl", "/orgs/acme/sales", "user:bob:rwx"]);
    let nobody = bob(&[
        "rebac",
        "create",
        "user:zed@nowhere.org",
        "viewer",
        "/orgs/acme/sales",
    ]);
    assert_eq!(
        (nobody.code, nobody.stderr.as_str()),
        (
            2,
            "error: cross-organization relationship refused: `user:zed@nowhere.org` is not a member of organization `acme`\n"
        )
    );
    // eve exists, in another organization.
    nexus.ok(&["mkdir", "/orgs/evil"]);
    nexus.ok(&["setfacl", "/orgs/evil", "user:eve@evil.com:r--"]);
    let cross = bob(&[
        "rebac",
        "create",
        "user:eve@evil.com",
        "viewer",
        "/orgs/acme/sales",
    ]);
    assert_eq!(
        (cross.code, cross.stderr.as_str()),
        (
            2,
            "error: cross-organization relationship refused: `user:eve@evil.com` is not a member of organization `acme`\n"
        )
    );
    let bad_principal = nexus.run(&["--as", "bob", "ls"]);
    assert_eq!(bad_principal.code, 2);
}

#[test]
fn rebac_validate_runs_spicedb_validation_files() {
    let nexus = Nexus::new();
    let conformance = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../conformance/spicedb/caveatip.yaml"
    );
    let run = nexus.run(&["rebac", "validate", conformance]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "20 passed, 0 failed\n")
    );
    let wrong = nexus.dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        "schema: |-\n  definition user {}\n  definition doc {\n    relation viewer: user\n    permission view = viewer\n  }\nrelationships: |-\n  doc:1#viewer@user:tom\nassertions:\n  assertTrue:\n  - doc:1#view@user:tom\n  - doc:1#view@user:jerry\n  assertFalse:\n  - doc:1#view@user:tom\n",
    )
    .unwrap();
    let failing = nexus.run(&["rebac", "validate", wrong.to_str().unwrap()]);
    assert_ne!(failing.code, 0);
    let shown = failing
        .stdout
        .replace(&nexus.dir.path().display().to_string(), "[DIR]");
    snapshot::settings().bind(|| insta::assert_snapshot!("failing_validation_file", shown));
}

#[test]
fn schema_read_and_write() {
    let nexus = Nexus::new();
    nexus.ok(&["mkdir", "/orgs/acme"]);
    let schema = nexus.ok(&["rebac", "schema", "read"]);
    snapshot::settings().bind(|| insta::assert_snapshot!("default_schema", schema));
    let file = nexus.dir.path().join("schema.zed");
    std::fs::write(
        &file,
        schema.replace(
            "definition agent {}",
            "definition agent {}\ndefinition team {}",
        ),
    )
    .unwrap();
    nexus.ok(&["rebac", "schema", "write", file.to_str().unwrap()]);
    let written = nexus.ok(&["rebac", "schema", "read"]);
    assert_eq!(
        written,
        schema.replace(
            "definition agent {}",
            "definition agent {}\ndefinition team {}",
        )
    );
    std::fs::write(&file, "definition user {\n  relation x: nothing\n}").unwrap();
    let bad = nexus.run(&["rebac", "schema", "write", file.to_str().unwrap()]);
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stderr,
        "error: schema error at line 2, column 15: unknown definition `nothing`\n"
    );
}
