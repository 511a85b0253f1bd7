//! Organization archives through the admin routes: a server's organization exported and
//! imported into another server keeps its people's stable ids, their items (a sealed
//! secret opens with the same master key) and their access; only the system administrator
//! may do either; an existing organization needs `replace=true`; a damaged archive is
//! refused.

use serde_json::{Value, json};

use crate::harness::{Api, Server};
use crate::knowledge::{People, create, knowledge_config};

/// The knowledge configuration without its organizations: a server to import into.
fn empty_config() -> String {
    let config = knowledge_config();
    let start = config.find("organizations:").unwrap();
    let end = config.find("auth:").unwrap();
    format!("{}{}", &config[..start], &config[end..])
}

fn import(server: &Server, archive: &[u8], query: &str) -> crate::client::Response {
    let auth = format!("Bearer {}", server.admin_key);
    server.request(
        "POST",
        &format!("/api/admin/orgs/import{query}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/zstd"),
        ],
        Some(archive),
    )
}

#[test]
fn an_organization_moves_to_another_server_with_its_people_and_secrets() {
    let source = Server::start(&knowledge_config());
    let people = People::of(&source);
    let note = create(
        &source,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "personal", "kind": "node", "data": {"title": "bob's note"}}),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    let secret = create(
        &source,
        &people,
        "bob",
        &json!({"env": "locker", "scope": "personal", "kind": "cred",
                "data": {"name": "db", "secret": "CANARY-http-archive"}}),
    );
    assert_eq!(secret.status, 201, "{}", secret.text());
    let note_key = note.json()["key"].as_str().unwrap().to_owned();
    let secret_key = secret.json()["key"].as_str().unwrap().to_owned();

    // Only the system administrator exports.
    let denied = source.get("/api/admin/orgs/acme/export", people.token("alice"));
    assert_eq!(denied.status, 403, "{}", denied.text());
    let exported = source.get("/api/admin/orgs/acme/export", &source.admin_key);
    assert_eq!(exported.status, 200, "{}", exported.text());
    assert_eq!(exported.header("content-type"), Some("application/zstd"));
    let report: Value = serde_json::from_str(exported.header("x-nexus-archive").unwrap()).unwrap();
    assert_eq!(report["org"], "acme");
    assert_eq!(report["locker_key"], true);
    let archive = exported.body.clone();
    assert!(
        !archive
            .windows(19)
            .any(|window| window == b"CANARY-http-archive"),
        "the secret is not in the archive in clear"
    );

    // Another server, with the same master key.
    let mut target = Server::start(&empty_config());
    std::fs::copy(
        source.dir.path().join("locker.key"),
        target.dir.path().join("locker.key"),
    )
    .unwrap();
    assert!(target.stop());
    target.launch();
    let refused = {
        let auth = format!("Bearer {}", people.token("alice"));
        target.request(
            "POST",
            "/api/admin/orgs/import",
            &[("Authorization", &auth)],
            Some(&archive),
        )
    };
    assert_eq!(
        refused.status,
        401,
        "alice is not known on the target: {}",
        refused.text()
    );
    let damaged = import(&target, &archive[..archive.len() / 2], "");
    assert_eq!(damaged.status, 400, "{}", damaged.text());
    assert_eq!(damaged.json()["error"]["code"], "invalid_input");
    let imported = import(&target, &archive, "");
    assert_eq!(imported.status, 200, "{}", imported.text());
    assert_eq!(imported.json()["replaced"], false);

    // The same people (same stable ids, same tokens), their items, their access.
    for name in ["alice", "bob", "carol"] {
        let whoami = target.get("/api/whoami", people.token(name));
        assert_eq!(whoami.status, 200, "{}", whoami.text());
        assert_eq!(whoami.json()["id"].as_str(), Some(people.id(name)));
    }
    let read = |who: &str, key: &str| {
        target.get(&format!("/api/orgs/acme/items/{key}"), people.token(who))
    };
    assert_eq!(read("bob", &note_key).json()["data"]["title"], "bob's note");
    assert_eq!(
        read("bob", &secret_key).json()["data"]["secret"],
        "CANARY-http-archive"
    );
    assert_eq!(read("carol", &note_key).status, 404);
    assert_eq!(read("alice", &secret_key).status, 404);
    let members = |server: &Server| {
        server
            .get("/api/orgs/acme/members", &server.admin_key)
            .json()
    };
    assert_eq!(members(&target), members(&source));

    // Again: the organization exists now.
    let again = import(&target, &archive, "");
    assert_eq!(again.status, 409, "{}", again.text());
    let replaced = import(&target, &archive, "?replace=true");
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json()["replaced"], true);
    let bad_option = import(&target, &archive, "?replace=maybe");
    assert_eq!(bad_option.status, 400, "{}", bad_option.text());
}
