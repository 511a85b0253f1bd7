//! The HTTP API end to end: the server started in-process on 127.0.0.1 over a temporary
//! data directory (provisioned as `nexus init` does), driven by a raw HTTP client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test; scenario tests read top to bottom"
)]

mod archives;
mod audit;
mod auth;
mod changes;
mod client;
mod delegation;
mod hardening;
mod harness;
mod input;
mod isolation;
mod knowledge;
mod matrix;
mod notifications;
mod search;

use harness::{Api, Server, seed_config, token};
use serde_json::json;

/// 32 concurrent additions leave exactly 32 new members, each with access.
#[test]
fn concurrent_member_additions_lose_nothing() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    std::thread::scope(|scope| {
        for n in 0..32 {
            let server = &server;
            let alice = &alice;
            scope.spawn(move || {
                let response = server.call(
                    "POST",
                    "/api/orgs/acme/members",
                    alice,
                    Some(&json!({"user_id": format!("user{n}@acme.com"), "workspaces": ["sales"]})),
                );
                assert_eq!(response.status, 201, "{}", response.text());
            });
        }
    });
    let record = server.get("/api/orgs/acme/org.json", &alice).json();
    assert_eq!(record["members"].as_array().unwrap().len(), 33);
    for n in 0..32 {
        let response = server.get(
            "/api/orgs/acme/sales/context.json",
            &token(&format!("user{n}@acme.com")),
        );
        assert_eq!(response.status, 200, "user{n}");
    }
}

/// The seed's Python pattern: read org.json, append a member, write it back, then setfacl.
/// The write is validated and its membership applies in the same transaction; an edit that
/// drops the member revokes their access.
#[test]
fn writing_org_json_changes_membership() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let current = server.get("/api/fs/orgs/acme/org.json", &alice);
    let etag = current.header("etag").unwrap().to_owned();
    let mut record = current.json();
    record["members"].as_array_mut().unwrap().push(json!({
        "user_id": "charlie@acme.com",
        "role": "member",
        "joined_at": "2025-01-16T11:00:00Z",
        "status": "active"
    }));
    let auth = format!("Bearer {alice}");
    let body = serde_json::to_vec_pretty(&record).unwrap();
    let written = server.request(
        "PUT",
        "/api/fs/orgs/acme/org.json",
        &[("Authorization", &auth), ("If-Match", &etag)],
        Some(&body),
    );
    assert_eq!(written.status, 200, "{}", written.text());
    // The same If-Match again is stale now: 412 with the current ETag.
    let stale = server.request(
        "PUT",
        "/api/fs/orgs/acme/org.json",
        &[("Authorization", &auth), ("If-Match", &etag)],
        Some(&body),
    );
    assert_eq!(stale.status, 412);
    assert_eq!(stale.header("etag"), written.header("etag"));

    let charlie = token("charlie@acme.com");
    // A member with no workspace sees the org but not the sales files.
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &charlie)
            .status,
        404
    );
    let granted = server.call(
        "POST",
        "/api/acl",
        &alice,
        Some(&json!({"path": "/orgs/acme/sales", "entry": "user:charlie@acme.com:rw-"})),
    );
    assert_eq!(granted.status, 200, "{}", granted.text());
    assert!(
        granted.json()["revision"]
            .as_str()
            .is_some_and(|token| token.starts_with("r1."))
    );
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &charlie)
            .status,
        200
    );
    let acl = server.get("/api/acl/orgs/acme/sales", &alice).json();
    assert_eq!(acl["entries"][0]["subject"], "user:charlie@acme.com");

    // Invalid records are refused and change nothing.
    for bad in [
        b"{not json".to_vec(),
        br#"{"org_id":"acme","name":"A","created_at":"x","members":[{"user_id":"x@y.z","role":"owner"}]}"#.to_vec(),
        br#"{"org_id":"techcorp","name":"A","created_at":"x","members":[]}"#.to_vec(),
        br#"{"org_id":"acme","name":"A","created_at":"x","members":[{"user_id":"a b","role":"member"}]}"#.to_vec(),
        br#"{"org_id":"acme","name":"A","created_at":"x","members":[{"user_id":"c@d.e","role":"member"},{"user_id":"c@d.e","role":"admin"}]}"#.to_vec(),
    ] {
        let refused = server.request("PUT", "/api/fs/orgs/acme/org.json", &[("Authorization", &auth)], Some(&bad));
        assert_eq!(refused.status, 400, "{}", refused.text());
    }
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &charlie)
            .status,
        200
    );

    // A member cannot edit the record (it needs manage on the organization).
    let by_charlie = server.request(
        "PUT",
        "/api/fs/orgs/acme/org.json",
        &[("Authorization", &format!("Bearer {charlie}"))],
        Some(&body),
    );
    assert_eq!(by_charlie.status, 403, "{}", by_charlie.text());

    // Dropping charlie from the array revokes everything he had.
    let mut record = server.get("/api/fs/orgs/acme/org.json", &alice).json();
    record["members"]
        .as_array_mut()
        .unwrap()
        .retain(|member| member["user_id"] != "charlie@acme.com");
    let removed = server.call("PUT", "/api/fs/orgs/acme/org.json", &alice, Some(&record));
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &charlie)
            .status,
        404
    );
    // The record cannot be removed or moved away.
    assert_eq!(
        server
            .call("DELETE", "/api/fs/orgs/acme/org.json", &alice, None)
            .status,
        400
    );
    let moved = server.call(
        "POST",
        "/api/mv",
        &alice,
        Some(&json!({"from": "/orgs/acme/org.json", "to": "/orgs/acme/old.json"})),
    );
    assert_eq!(moved.status, 400);
}

/// API keys: created by an admin for one principal, shown once, stored only hashed,
/// revoked with effect on the next request.
#[test]
fn api_keys_act_for_one_principal_until_revoked() {
    let server = Server::start(&seed_config());
    let admin = server.admin_key.clone();
    let who = server.get("/api/whoami", &admin).json();
    assert_eq!(who["kind"], "system");
    let alice = token("alice@acme.com");
    // Alice (an org admin, not a system admin) cannot mint keys for others.
    let refused = server.call(
        "POST",
        "/api/keys",
        &alice,
        Some(&json!({"principal": "user:john@techcorp.com"})),
    );
    assert_eq!(refused.status, 403);
    let created = server.call(
        "POST",
        "/api/keys",
        &admin,
        Some(&json!({"principal": "user:alice@acme.com", "description": "ci"})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json();
    let secret = key["secret"].as_str().unwrap().to_owned();
    let id = key["id"].as_str().unwrap().to_owned();
    let me = server.get("/api/whoami", &secret).json();
    assert_eq!(me["handle"], "alice@acme.com");
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &secret)
            .status,
        200
    );
    // K2: the key acts for alice only; techcorp stays invisible.
    assert_eq!(
        server
            .get("/api/orgs/techcorp/product/context.json", &secret)
            .status,
        404
    );
    // The listing never shows secrets.
    let keys = server.get("/api/keys", &admin);
    assert!(!keys.text().contains(&secret));
    // Revocation works on the next request.
    assert_eq!(
        server
            .call("DELETE", &format!("/api/keys/{id}"), &admin, None)
            .status,
        200
    );
    let after = server.get("/api/whoami", &secret);
    assert_eq!(after.status, 401);
    assert!(after.header("www-authenticate").is_some());
    // K4: the data directory holds no plaintext key.
    let mut server = server;
    assert!(server.stop());
    // A stopped store has closed its files: SQLite's last connection folded the WAL into
    // the database and removed it, so what is read below is everything there is.
    let files = walk(&server.dir.path().join("data"));
    assert!(
        !files
            .iter()
            .any(|file| file.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    for entry in files {
        let bytes = std::fs::read(&entry).unwrap();
        for plain in [&secret, &server.admin_key] {
            assert!(
                !bytes
                    .windows(plain.len())
                    .any(|window| window == plain.as_bytes()),
                "{} holds a plaintext key",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The file routes: conditional writes, ranges, 304, listing, mkdir, move, copy, glob,
/// grep, versions, delete.
#[test]
fn file_routes_speak_http() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let auth = format!("Bearer {alice}");
    let path = "/api/fs/orgs/acme/sales/documents/a.txt";
    let create = |body: &[u8]| {
        server.request(
            "PUT",
            path,
            &[("Authorization", &auth), ("If-None-Match", "*")],
            Some(body),
        )
    };
    assert_eq!(create(b"hello world").status, 201);
    let second = create(b"again");
    assert_eq!(second.status, 412);
    assert_eq!(second.code(), "precondition_failed");
    let read = server.get(path, &alice);
    assert_eq!(read.text(), "hello world");
    let etag = read.header("etag").unwrap().to_owned();
    let not_modified = server.request(
        "GET",
        path,
        &[("Authorization", &auth), ("If-None-Match", &etag)],
        None,
    );
    assert_eq!(not_modified.status, 304);
    let range = server.request(
        "GET",
        path,
        &[("Authorization", &auth), ("Range", "bytes=0-4")],
        None,
    );
    assert_eq!(range.status, 206);
    assert_eq!(range.text(), "hello");
    assert_eq!(range.header("content-range"), Some("bytes 0-4/11"));
    let beyond = server.request(
        "GET",
        path,
        &[("Authorization", &auth), ("Range", "bytes=100-")],
        None,
    );
    assert_eq!(beyond.status, 416);
    let updated = server.request(
        "PUT",
        path,
        &[("Authorization", &auth), ("If-Match", &etag)],
        Some(b"v2"),
    );
    assert_eq!(updated.status, 200);
    let versions = server
        .get("/api/versions/orgs/acme/sales/documents/a.txt", &alice)
        .json();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    let old = server.get(&format!("{path}?version=1"), &alice);
    assert_eq!(old.text(), "hello world");
    let stat = server
        .get("/api/stat/orgs/acme/sales/documents/a.txt", &alice)
        .json();
    assert_eq!(stat["size"], 2);
    assert_eq!(
        server
            .call(
                "POST",
                "/api/mkdir/orgs/acme/sales/x/y?parents=true",
                &alice,
                None
            )
            .status,
        201
    );
    let moved = server.call(
        "POST",
        "/api/mv",
        &alice,
        Some(
            &json!({"from": "/orgs/acme/sales/documents/a.txt", "to": "/orgs/acme/sales/x/b.txt"}),
        ),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    let copied = server.call(
        "POST",
        "/api/cp",
        &alice,
        Some(&json!({"from": "/orgs/acme/sales/x/b.txt", "to": "/orgs/acme/sales/x/c.txt"})),
    );
    assert_eq!(copied.status, 201, "{}", copied.text());
    let listing = server.get("/api/ls/orgs/acme/sales/x", &alice).json();
    let names: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b.txt", "c.txt", "y"]);
    let globbed = server
        .call(
            "POST",
            "/api/glob",
            &alice,
            Some(&json!({"pattern": "/orgs/acme/**/*.txt"})),
        )
        .json();
    assert_eq!(globbed["entries"].as_array().unwrap().len(), 2, "{globbed}");
    let grepped = server
        .call(
            "POST",
            "/api/grep",
            &alice,
            Some(&json!({"pattern": "v2", "path": "/orgs/acme"})),
        )
        .json();
    assert_eq!(grepped["matches"].as_array().unwrap().len(), 2, "{grepped}");
    assert_eq!(
        server
            .call(
                "DELETE",
                "/api/fs/orgs/acme/sales/x?recursive=true",
                &alice,
                None
            )
            .status,
        200
    );
    assert_eq!(
        server.get("/api/stat/orgs/acme/sales/x", &alice).status,
        404
    );
    // Binary bodies round-trip.
    let binary: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        server
            .request(
                "PUT",
                "/api/fs/orgs/acme/sales/bin",
                &[("Authorization", &auth)],
                Some(&binary)
            )
            .status,
        201
    );
    assert_eq!(
        server.get("/api/fs/orgs/acme/sales/bin", &alice).body,
        binary
    );
}

/// ReBAC routes mirror the CLI, with revisions on writes and `at_least` on reads.
#[test]
fn rebac_routes_mirror_the_cli() {
    let server = Server::start(&seed_config());
    let admin = server.admin_key.clone();
    let alice = token("alice@acme.com");
    let added = server.call(
        "POST",
        "/api/orgs/acme/members",
        &alice,
        Some(&json!({"user_id": "bob@acme.com"})),
    );
    assert_eq!(added.status, 201);
    let written = server.call(
        "POST",
        "/api/rebac/relationships",
        &alice,
        Some(&json!({"updates": [{"operation": "touch", "subject": "user:bob@acme.com", "relation": "editor", "object": "/orgs/acme/engineering"}]})),
    );
    assert_eq!(written.status, 200, "{}", written.text());
    let revision = written.json()["written_at"].as_str().unwrap().to_owned();
    assert!(revision.starts_with("r1."), "{revision}");
    let check = server.call(
        "POST",
        "/api/rebac/check",
        &alice,
        Some(&json!({"subject": "user:bob@acme.com", "permission": "write", "object": "/orgs/acme/engineering/x", "at_least": revision})),
    );
    assert_eq!(check.json()["result"], "has_permission", "{}", check.text());
    let future = server.call(
        "POST",
        "/api/rebac/check",
        &alice,
        Some(&json!({"subject": "user:bob@acme.com", "permission": "write", "object": "/orgs/acme/engineering/x", "at_least": 100_000})),
    );
    // A bare revision number is the system's; everyone else passes tokens back.
    assert_eq!(future.status, 400);
    let by_system = server.call(
        "POST",
        "/api/rebac/check",
        &admin,
        Some(&json!({"subject": "user:bob@acme.com", "permission": "write", "object": "/orgs/acme/engineering/x", "at_least": 100_000})),
    );
    assert_eq!(by_system.status, 400, "{}", by_system.text());
    assert!(by_system.text().contains("newer"), "{}", by_system.text());
    let expand = server.call(
        "POST",
        "/api/rebac/expand",
        &alice,
        Some(&json!({"permission": "write", "object": "/orgs/acme/engineering"})),
    );
    assert_eq!(expand.status, 200);
    let subjects = server.call("POST", "/api/rebac/lookup-subjects", &alice, Some(&json!({"object": "/orgs/acme/engineering", "permission": "write", "subject_type": "user"}))).json();
    assert_eq!(
        subjects["subjects"].as_array().unwrap().len(),
        2,
        "{subjects}"
    );
    let read = server
        .call(
            "POST",
            "/api/rebac/relationships/read",
            &alice,
            Some(&json!({"resource": "/orgs/acme/engineering"})),
        )
        .json();
    assert_eq!(read["relationships"].as_array().unwrap().len(), 1, "{read}");
    // Membership is org.json's: writing it as a relationship is refused.
    let direct = server.call(
        "POST",
        "/api/rebac/relationships",
        &admin,
        Some(&json!({"updates": [{"operation": "touch", "relationship": "org:acme#member@user:john@techcorp.com"}]})),
    );
    assert_eq!(direct.status, 400, "{}", direct.text());
    // Cross-tenant grants are refused.
    let cross = server.call(
        "POST",
        "/api/rebac/relationships",
        &alice,
        Some(&json!({"updates": [{"operation": "touch", "subject": "user:john@techcorp.com", "relation": "viewer", "object": "/orgs/acme/sales"}]})),
    );
    assert_eq!(cross.status, 400, "{}", cross.text());
    // The schema is readable; replacing it is the system's.
    assert_eq!(server.get("/api/rebac/schema", &alice).status, 200);
    let replace = server.call(
        "PUT",
        "/api/rebac/schema",
        &alice,
        Some(&json!({"schema": "definition user {}"})),
    );
    assert_eq!(replace.status, 403);
    let deleted = server.call(
        "POST",
        "/api/rebac/relationships/delete",
        &alice,
        Some(&json!({"resource": "/orgs/acme/engineering"})),
    );
    assert_eq!(deleted.json()["deleted"], 1, "{}", deleted.text());
}

/// Organizations: system administrators create them; everyone lists their own.
#[test]
fn organizations_are_created_by_system_admins_and_listed_per_caller() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let refused = server.call(
        "POST",
        "/api/orgs",
        &alice,
        Some(&json!({"id": "newco", "name": "New Co"})),
    );
    assert_eq!(refused.status, 403);
    let created = server.call(
        "POST",
        "/api/orgs",
        &server.admin_key,
        Some(&json!({"id": "newco", "name": "New Co", "workspaces": ["ops"]})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let all = server.get("/api/orgs", &server.admin_key).json();
    assert_eq!(all["orgs"].as_array().unwrap().len(), 3);
    let mine = server.get("/api/orgs", &alice).json();
    let ids: Vec<&str> = mine["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["org_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme"]);
    assert_eq!(
        server
            .get("/api/stat/orgs/newco/ops/context.json", &server.admin_key)
            .status,
        200
    );
}

/// `/metrics` counts requests by route and status. The counters belong to the process,
/// which other tests' servers share, so the test reads how much one request moves them.
#[test]
fn metrics_count_requests() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let counted = |server: &Server| -> u64 {
        let metrics = server.get("/metrics", &server.admin_key).text();
        let series = r#"nexus_http_requests_total{method="GET",route="/api/orgs/{org}/{*path}",status="200"} "#;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series))
            .map_or(0, |value| value.trim().parse().unwrap())
    };
    let before = counted(&server);
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &alice)
            .status,
        200
    );
    assert!(counted(&server) > before);
    assert_eq!(server.request("GET", "/metrics", &[], None).status, 401);
    assert_eq!(server.get("/metrics", &alice).status, 403);
    let metrics = server.get("/metrics", &server.admin_key).text();
    assert!(metrics.contains("nexus_http_request_duration_seconds_bucket"));
}
