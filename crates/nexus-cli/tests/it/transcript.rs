//! The CLI's output as people and scripts see it, as one snapshot per scenario (see
//! `tests/common/snapshot.rs` for the placeholders). `INSTA_UPDATE=always cargo test -p
//! nexus-cli --test it transcript` rewrites them after an intended change; review the diff
//! before committing.

use super::Nexus;
use crate::snapshot::{record, settings};

/// Runs each command line in turn and writes down what it printed.
fn transcript(nexus: &Nexus, lines: &[&[&str]]) -> String {
    let mut out = String::new();
    for args in lines {
        let run = nexus.run(args);
        record(&mut out, None, args, run.code, &run.stdout, &run.stderr);
    }
    out.replace(&nexus.data_dir().display().to_string(), "[DATA_DIR]")
}

#[test]
fn files_versions_and_errors() {
    let nexus = Nexus::new();
    let text = transcript(
        &nexus,
        &[
            &["mkdir", "/orgs/acme"],
            &[
                "write",
                "-p",
                "/orgs/acme/sales/notes.md",
                "# Q1\npricing\n",
            ],
            &[
                "write",
                "/orgs/acme/sales/notes.md",
                "# Q1\npricing, again\n",
            ],
            &["ls", "/orgs/acme/sales"],
            &["ls", "-r", "/orgs"],
            &["cat", "/orgs/acme/sales/notes.md"],
            &["cat", "/orgs/acme/sales/notes.md", "--range", "0-3"],
            &["--json", "stat", "/orgs/acme/sales/notes.md"],
            &["versions", "/orgs/acme/sales/notes.md"],
            &["versions", "cat", "/orgs/acme/sales/notes.md", "1"],
            &["versions", "restore", "/orgs/acme/sales/notes.md", "1"],
            &[
                "cp",
                "/orgs/acme/sales/notes.md",
                "/orgs/acme/sales/copy.md",
            ],
            &[
                "mv",
                "/orgs/acme/sales/copy.md",
                "/orgs/acme/sales/moved.md",
            ],
            &["glob", "/orgs/**/*.md"],
            &["grep", "pricing", "/orgs/acme"],
            &["--json", "grep", "again", "/orgs/acme"],
            &["rm", "/orgs/acme/sales/moved.md"],
            &["cat", "/orgs/acme/none"],
            &["--json", "cat", "/orgs/acme/none"],
            &["cat", "orgs/acme/relative"],
            &["write", "/tmp/x", "z"],
            &["rm", "/orgs/acme/sales"],
            &[
                "write",
                "/orgs/acme/sales/notes.md",
                "x",
                "--if-match",
                "v1-0000000000000000",
            ],
        ],
    );
    settings().bind(|| insta::assert_snapshot!("files_versions_and_errors", text));
}

#[test]
fn permissions_members_and_keys() {
    let nexus = Nexus::new();
    let text = transcript(
        &nexus,
        &[
            &[
                "admin",
                "create-org",
                "--id",
                "acme",
                "--name",
                "Acme",
                "--workspaces",
                "sales,eng",
            ],
            &[
                "admin",
                "add-user",
                "--org",
                "acme",
                "--user",
                "alice@acme.com",
                "--role",
                "admin",
            ],
            &[
                "admin",
                "add-user",
                "--org",
                "acme",
                "--user",
                "bob@acme.com",
                "--role",
                "member",
                "--workspaces",
                "sales",
            ],
            &["admin", "list-users", "--org", "acme"],
            &["admin", "list-users"],
            &["setfacl", "/orgs/acme/eng", "user:bob@acme.com:r--"],
            &["getfacl", "/orgs/acme/eng"],
            &[
                "rebac",
                "check",
                "user:bob@acme.com",
                "read",
                "/orgs/acme/eng",
            ],
            &[
                "rebac",
                "check",
                "user:bob@acme.com",
                "write",
                "/orgs/acme/eng",
            ],
            &[
                "rebac",
                "create",
                "user:alice@acme.com",
                "viewer",
                "/orgs/acme/sales",
            ],
            &["rebac", "read", "--resource", "/orgs/acme/eng"],
            &["rebac", "lookup-subjects", "/orgs/acme/eng", "read", "user"],
            &["--as", "user:bob@acme.com", "ls", "/orgs/acme"],
            &[
                "--as",
                "user:bob@acme.com",
                "write",
                "/orgs/acme/eng/x",
                "no",
            ],
            &["--as", "user:bob@acme.com", "admin", "list-users"],
            &[
                "admin",
                "remove-user",
                "--org",
                "acme",
                "--user",
                "bob@acme.com",
            ],
            &["--as", "user:bob@acme.com", "ls", "/orgs/acme"],
        ],
    );
    settings().bind(|| insta::assert_snapshot!("permissions_members_and_keys", text));
}
