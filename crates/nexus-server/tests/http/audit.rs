//! The audit log: what is recorded, who reads it, and that every mutating operation of the
//! API document leaves an entry (with its negative control).

use serde_json::{Value, json};

use crate::harness::{Api, Server};
use crate::knowledge::{People, knowledge_config};

/// Every entry of a log the credential may read (all pages).
fn entries(server: &Server, credential: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/api/audit?limit=50{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = server.get(&path, credential);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        let body = page.json();
        all.extend(body["entries"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
    panic!("more than 1000 pages");
}

#[test]
fn mutations_denials_and_private_reads_are_recorded_for_admins_to_read() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let bob = format!("Bearer {}", people.token("bob"));
    let written = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/notes.md",
        &[
            ("Authorization", &bob),
            ("User-Agent", "audit-test/1.0"),
            ("X-Request-Id", "audit-write-1"),
        ],
        Some(b"meeting notes"),
    );
    assert!(written.status < 300, "{}", written.text());
    let denied = server.request(
        "PUT",
        "/api/fs/orgs/acme/.nexus/kb/planted.json",
        &[("Authorization", &bob), ("X-Request-Id", "audit-denied-1")],
        Some(b"{}"),
    );
    assert!(denied.status >= 400);
    // A personal locker read by the system administrator is recorded as such; the secret
    // itself never is.
    let locker = server.call(
        "POST",
        "/api/orgs/acme/items",
        people.token("bob"),
        Some(&json!({"env": "locker", "scope": "personal", "kind": "cred", "data": {"name": "db", "secret": "CANARY-audit-secret"}})),
    );
    assert_eq!(locker.status, 201, "{}", locker.text());
    let key = locker.json()["key"].as_str().unwrap().to_owned();
    let read = server.get(&format!("/api/orgs/acme/items/{key}"), &server.admin_key);
    assert_eq!(read.json()["data"]["secret"], "CANARY-audit-secret");
    let item_path = read.json()["path"].as_str().unwrap().to_owned();
    // The system's listing of personal items and its read of the item's file are recorded.
    let listed = server.get("/api/orgs/acme/items?env=locker", &server.admin_key);
    assert_eq!(listed.status, 200);
    let file = server.get(&format!("/api/fs{item_path}"), &server.admin_key);
    assert_eq!(file.status, 200);
    // A move names its source, in the organization's log.
    let moved = server.call(
        "POST",
        "/api/mv",
        people.token("bob"),
        Some(&json!({"from": "/orgs/acme/sales/notes.md", "to": "/orgs/acme/sales/notes-2.md"})),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    // Someone without credentials writes only to the system log.
    let stranger = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/x.md",
        &[("X-Request-Id", "audit-anonymous-1")],
        Some(b"x"),
    );
    assert_eq!(stranger.status, 401);
    // Neither does a member of another organization.
    let foreign = format!("Bearer {}", people.token("john"));
    let probe = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/y.md",
        &[
            ("Authorization", &foreign),
            ("X-Request-Id", "audit-foreign-1"),
        ],
        Some(b"y"),
    );
    assert!(probe.status >= 400);

    let log = entries(&server, people.token("alice"), "&org=acme");
    let write = log
        .iter()
        .find(|entry| entry["request_id"] == "audit-write-1")
        .expect("the write is recorded");
    assert_eq!(write["action"], "files_write");
    assert_eq!(write["actor"], "user:bob@acme.com");
    assert_eq!(write["target"], "/orgs/acme/sales/notes.md");
    assert_eq!(write["outcome"], "ok");
    assert_eq!(write["org"], "acme");
    assert_eq!(write["user_agent"], "audit-test/1.0");
    assert_eq!(write["client"], "127.0.0.1");
    let refusal = log
        .iter()
        .find(|entry| entry["request_id"] == "audit-denied-1")
        .expect("the refused write is recorded");
    assert_ne!(refusal["outcome"], "ok");
    let private = log
        .iter()
        .find(|entry| entry["action"] == "locker_read")
        .expect("the system's locker read is recorded");
    assert_eq!(private["actor"], "system");
    assert_eq!(private["target"], key.as_str());
    let actions = |action: &str| log.iter().filter(|entry| entry["action"] == action).count();
    assert_eq!(actions("private_list"), 1, "{log:?}");
    assert!(
        log.iter()
            .any(|entry| entry["action"] == "private_read" && entry["target"] == item_path.as_str())
    );
    assert!(log.iter().any(
        |entry| entry["action"] == "files_mv" && entry["target"] == "/orgs/acme/sales/notes.md"
    ));
    assert!(
        !log.iter()
            .any(|entry| entry["request_id"] == "audit-anonymous-1")
    );
    assert!(
        !log.iter()
            .any(|entry| entry["request_id"] == "audit-foreign-1")
    );
    let system_log = entries(&server, &server.admin_key, "&org=system");
    let anonymous = system_log
        .iter()
        .find(|entry| entry["request_id"] == "audit-anonymous-1")
        .expect("the refused stranger is in the system log");
    assert_eq!(anonymous["actor"], "anonymous");
    assert_eq!(anonymous["outcome"], "unauthenticated");
    assert!(
        system_log
            .iter()
            .any(|entry| entry["request_id"] == "audit-foreign-1")
    );
    let everything = serde_json::to_string(&entries(&server, &server.admin_key, "")).unwrap();
    assert!(!everything.contains("CANARY-audit-secret"));
    // Filters: actor (by handle), action, path prefix, time.
    let bobs = entries(
        &server,
        people.token("alice"),
        "&org=acme&actor=user:bob@acme.com&action=files_write&path_prefix=/orgs/acme/sales/",
    );
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    let later = entries(
        &server,
        people.token("alice"),
        "&org=acme&since=2999-01-01T00:00:00Z",
    );
    assert!(later.is_empty());
    // Who reads what: members and other organizations' admins are refused; the system's
    // log is the system administrator's.
    let member = server.get("/api/audit?org=acme", people.token("bob"));
    assert_eq!(member.status, 403, "{}", member.text());
    let outsider = server.get("/api/audit?org=acme", people.token("john"));
    assert_eq!(outsider.status, 404, "{}", outsider.text());
    assert_eq!(server.get("/api/audit", people.token("alice")).status, 400);
    assert_eq!(
        server
            .get("/api/audit?org=system", people.token("alice"))
            .status,
        400
    );
    // A cursor answers only the query it was issued for.
    let page = server
        .get("/api/audit?org=acme&limit=1", people.token("alice"))
        .json();
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = server.get(
        &format!("/api/audit?org=acme&limit=1&cursor={cursor}"),
        people.token("alice"),
    );
    assert_eq!(next.status, 200, "{}", next.text());
    let other_filter = server.get(
        &format!("/api/audit?org=acme&action=files_write&cursor={cursor}"),
        people.token("alice"),
    );
    assert_eq!(other_filter.status, 400, "{}", other_filter.text());
    let as_revision = server.call(
        "POST",
        "/api/rebac/check",
        people.token("alice"),
        Some(&json!({"object": "/orgs/acme/sales", "permission": "read", "subject": "user:alice@acme.com", "at_least": cursor})),
    );
    assert_eq!(as_revision.status, 400, "{}", as_revision.text());
    assert!(
        as_revision.text().contains("revision"),
        "{}",
        as_revision.text()
    );
    let foreign = server.get(
        &format!("/api/audit?org=techcorp&cursor={cursor}"),
        people.token("john"),
    );
    assert_eq!(foreign.status, 400, "{}", foreign.text());
    // Nothing writes, edits or deletes entries: every such request is refused, and the log
    // only grows (by the record of each attempt).
    let before = entries(&server, &server.admin_key, "").len();
    for (method, path) in [
        ("POST", "/api/audit"),
        ("PUT", "/api/audit"),
        ("DELETE", "/api/audit"),
        ("PATCH", "/api/audit"),
        ("DELETE", "/api/audit/1"),
        ("PUT", "/api/audit/1"),
    ] {
        let attempt = server.call(
            method,
            path,
            &server.admin_key,
            Some(&json!({"entries": []})),
        );
        assert!(attempt.status >= 400, "{method} {path}: {}", attempt.status);
    }
    let after = entries(&server, &server.admin_key, "");
    assert!(after.len() >= before);
    let first = entries(&server, &server.admin_key, "");
    assert_eq!(first[..before], after[..before]);
}

/// Every operation of the API document that can change something, called once (mostly
/// refused: the point is the entry, not the change), by an organization admin.
fn call_every_mutating_operation(server: &Server, credential: &str) -> Vec<(String, String)> {
    let document = server.get("/api/openapi.json", credential).json();
    let mut called = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            if method == "get" || nexus_server::audit::READ_ONLY_POSTS.contains(&id) {
                continue;
            }
            let url = path
                .replace("{path}", "orgs/acme/sales/audit-probe")
                .replace("{org}", "acme")
                .replace("{key}", "kb:UNIV:20260101:node:absent")
                .replace("{user}", "ghost@acme.com")
                .replace("{stable_id}", "s_zzzz")
                .replace("{id}", "key_absent");
            let request_id = format!("complete-{id}");
            let auth = format!("Bearer {credential}");
            let response = server.request(
                &method.to_uppercase(),
                &url,
                &[("Authorization", &auth), ("X-Request-Id", &request_id)],
                Some(b"{}"),
            );
            assert!(response.status != 500, "{id}: {}", response.text());
            called.push((id.to_owned(), request_id));
        }
    }
    called
}

fn missing_entries(server: &Server, called: &[(String, String)]) -> Vec<String> {
    let log = entries(server, &server.admin_key, "");
    called
        .iter()
        .filter(|(id, request_id)| {
            !log.iter().any(|entry| {
                entry["request_id"] == request_id.as_str() && entry["action"] == id.as_str()
            })
        })
        .map(|(id, _)| id.clone())
        .collect()
}

#[test]
fn every_mutating_operation_leaves_an_entry() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let called = call_every_mutating_operation(&server, people.token("alice"));
    assert!(called.len() >= 25, "{called:?}");
    let missing = missing_entries(&server, &called);
    assert!(
        missing.is_empty(),
        "operations without an audit entry: {missing:?}"
    );
}

/// Negative control: with audit entries dropped on purpose, the completeness test fails.
#[test]
fn dropping_entries_is_caught() {
    let server = Server::start_with_fault(
        &knowledge_config(),
        nexus_core::fault::Fault::DropAuditEntries,
    );
    let people = People::of(&server);
    let called = call_every_mutating_operation(&server, people.token("alice"));
    assert_eq!(missing_entries(&server, &called).len(), called.len());
}
