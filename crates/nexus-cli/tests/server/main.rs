//! End-to-end tests of `nexus serve`: the real binary on 127.0.0.1, driven over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test; scenario tests read top to bottom"
)]

mod auth;
mod cli;
mod hardening;
mod harness;
mod input;
mod isolation;

use harness::{Server, seed_config, token};
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
    for entry in walk(&server.dir.path().join("data")) {
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

/// Misconfiguration stops the server before it listens.
#[test]
fn unsafe_or_broken_configurations_refuse_to_start() {
    let dir = tempfile::TempDir::new().unwrap();
    for (config, expected) in [
        ("data_dir: ./d\nauth:\n  type: jwt\n", "jwt_secret"),
        (
            "data_dir: ./d\nauth:\n  type: jwt\n  jwt_algorithm: RS256\n",
            "jwt_public_key_file",
        ),
        (
            "data_dir: ./d\nauth:\n  type: jwt\n  jwt_algorithm: RS256\n  jwt_public_key_file: missing.pem\n",
            "missing.pem",
        ),
        (
            "data_dir: ./d\nauth:\n  type: none\nserver:\n  host: 0.0.0.0\n",
            "loopback",
        ),
        ("data_dir: ./d\nunknown: 1\n", "unknown field"),
        (
            "data_dir: ${UNSET_NEXUS_TEST_VAR}\n",
            "UNSET_NEXUS_TEST_VAR",
        ),
    ] {
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, config).unwrap();
        let output = harness::nexus()
            .args(["serve", "--port", "0", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{config}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{config}: {stderr}");
        assert!(!stderr.contains("listening"), "{config}: {stderr}");
    }
}

/// `/metrics` counts requests by route and status.
#[test]
fn metrics_count_requests() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &alice)
            .status,
        200
    );
    assert_eq!(server.request("GET", "/metrics", &[], None).status, 401);
    assert_eq!(server.get("/metrics", &alice).status, 403);
    let metrics = server.get("/metrics", &server.admin_key).text();
    assert!(
        metrics.contains(r#"nexus_http_requests_total{method="GET",route="/api/orgs/{org}/{*path}",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("nexus_http_request_duration_seconds_bucket"));
}
