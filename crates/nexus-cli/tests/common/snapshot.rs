//! What the CLI printed, written down for a snapshot (insta): each command line, its exit
//! code, standard output and standard error, with what changes from run to run (times,
//! stable ids, entity tags, hashes, revision tokens, keys, ports) replaced by placeholders,
//! so a snapshot changes only when what users see changes.
//! `INSTA_UPDATE=always cargo test -p nexus-cli` rewrites them after an intended change;
//! review the diff before committing.

/// Appends one command (`label` names who runs it, if anyone) and what it printed.
pub fn record(
    out: &mut String,
    label: Option<&str>,
    args: &[&str],
    code: i32,
    stdout: &str,
    stderr: &str,
) {
    match label {
        Some(label) => out.push_str(&format!("[{label}] $ nexus {}\n", args.join(" "))),
        None => out.push_str(&format!("$ nexus {}\n", args.join(" "))),
    }
    if code != 0 {
        out.push_str(&format!("[exit {code}]\n"));
    }
    for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
        if !text.is_empty() {
            out.push_str(&format!("--- {name}\n{text}"));
            if !text.ends_with('\n') {
                out.push_str("\n[no newline at end]\n");
            }
        }
    }
    out.push('\n');
}

/// The snapshot settings: snapshots beside the tests, placeholders for what varies.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", "[TIME]"),
        (r"\bu_[0-9a-z]{4}\b", "[USER_ID]"),
        (r"\bv(\d+)-[0-9a-f]{16}\b", "v$1-[ETAG]"),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\br1\.[A-Za-z0-9_-]+", "[REVISION]"),
        (r"\bnx_[A-Za-z0-9_-]+", "[API_KEY]"),
        (r"\bk_[0-9a-z]+\b", "[KEY_ID]"),
        (r"\bkey_[0-9a-f]{16}\b", "[KEY_ID]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (
            r#""request_id": ?"[0-9a-f]+""#,
            r#""request_id":"[REQUEST_ID]""#,
        ),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings
}
