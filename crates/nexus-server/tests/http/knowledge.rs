//! The knowledge layer through the HTTP API: items, sessions, sharing, managers, workflow
//! resolution and Temp expiry (`docs/knowledge.md`).

use serde_json::{Value, json};

use crate::harness::{Api, Server, token};

/// Acme with an admin (alice), a manager (mona), members (bob, carol, dan) and an agent
/// (helper); techcorp with john. The retention sweeper (which also removes expired Temp items) runs every
/// second.
pub fn knowledge_config() -> String {
    r"
data_dir: ./data
backend: local
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: mona@acme.com
        role: member
        workspaces: [sales]
      - user_id: bob@acme.com
        role: member
        workspaces: [sales]
      - user_id: carol@acme.com
        role: member
        workspaces: [sales]
      - user_id: dan@acme.com
        role: member
        workspaces: [sales]
      - user_id: helper
        type: agent
        role: assistant
        workspaces: [sales]
  - id: techcorp
    name: Tech Corp Inc.
    workspaces:
      - id: product
    members:
      - user_id: john@techcorp.com
        role: admin
auth:
  type: jwt
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
retention:
  sweep_interval_secs: 1
locker:
  key_file: locker.key
"
    .to_owned()
}

/// The people of [`knowledge_config`], by handle, with their tokens and stable ids.
pub struct People {
    pub tokens: std::collections::HashMap<&'static str, String>,
    pub ids: std::collections::HashMap<&'static str, String>,
}

impl People {
    pub fn of(server: &Server) -> People {
        let mut tokens = std::collections::HashMap::new();
        let mut ids = std::collections::HashMap::new();
        for (name, handle) in [
            ("alice", "alice@acme.com"),
            ("mona", "mona@acme.com"),
            ("bob", "bob@acme.com"),
            ("carol", "carol@acme.com"),
            ("dan", "dan@acme.com"),
            ("john", "john@techcorp.com"),
        ] {
            let credential = token(handle);
            let whoami = server.get("/api/whoami", &credential);
            assert_eq!(whoami.status, 200, "{}", whoami.text());
            let id = whoami.json()["id"].as_str().unwrap().to_owned();
            tokens.insert(name, credential);
            ids.insert(name, id);
        }
        tokens.insert("system", server.admin_key.clone());
        People { tokens, ids }
    }

    pub fn token(&self, name: &str) -> &str {
        &self.tokens[name]
    }

    pub fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }
}

/// `POST /api/orgs/acme/items` as `who`.
pub fn create(
    server: &Server,
    people: &People,
    who: &str,
    body: &Value,
) -> crate::client::Response {
    server.call(
        "POST",
        "/api/orgs/acme/items",
        people.token(who),
        Some(body),
    )
}

fn keys_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn personal_items_are_their_owners_only() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let created = create(
        &server,
        &people,
        "bob",
        &json!({"env": "context", "scope": "personal", "kind": "note", "data": {"text": "remember the milk"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    let key = body["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with(&format!("context:{}:", people.id("bob"))),
        "{key}"
    );
    assert_eq!(body["item"]["data"]["text"], "remember the milk");
    assert_eq!(body["sharing_hint"], Value::Null);
    assert!(
        body["path"]
            .as_str()
            .unwrap()
            .starts_with("/orgs/acme/.nexus/context/")
    );
    let path = format!("/api/orgs/acme/items/{key}");
    assert_eq!(server.get(&path, people.token("bob")).status, 200);
    // Another member, the owner's manager-to-be and another tenant: not found.
    for who in ["carol", "john"] {
        let response = server.get(&path, people.token(who));
        assert_eq!(response.status, 404, "{who}: {}", response.text());
    }
    // The organization admin and the system administrator reach it.
    assert_eq!(server.get(&path, people.token("alice")).status, 200);
    assert_eq!(server.get(&path, people.token("system")).status, 200);
    // Listing: bob sees it, carol does not.
    let listed = server.get("/api/orgs/acme/items?env=context", people.token("bob"));
    assert_eq!(keys_of(&listed.json()), vec![key.clone()]);
    let listed = server.get("/api/orgs/acme/items?env=context", people.token("carol"));
    assert!(keys_of(&listed.json()).is_empty());
    // A file like any other: readable through the files API by its owner, versioned.
    let file = server.get(
        &format!("/api/fs{}", body["path"].as_str().unwrap()),
        people.token("bob"),
    );
    assert_eq!(file.status, 200);
    assert_eq!(file.json()["text"], "remember the milk");
    // ...but changed only through the items API.
    let refused = server.request(
        "PUT",
        &format!("/api/fs{}", body["path"].as_str().unwrap()),
        &[("Authorization", &format!("Bearer {}", people.token("bob")))],
        Some(b"{\"text\":\"x\"}"),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
}

#[test]
fn updates_need_the_current_etag_and_a_valid_body() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let created = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "personal", "kind": "node", "id": "abc123", "data": {"title": "Rust"}}),
    )
    .json();
    let key = created["key"].as_str().unwrap();
    let etag = created["etag"].as_str().unwrap();
    let path = format!("/api/orgs/acme/items/{key}");
    let auth = format!("Bearer {}", people.token("bob"));
    let body =
        serde_json::to_vec(&json!({"data": {"title": "Rust", "body": "ownership"}})).unwrap();
    let updated = server.request(
        "PUT",
        &path,
        &[
            ("Authorization", &auth),
            ("If-Match", &format!("\"{etag}\"")),
        ],
        Some(&body),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["version"], 2);
    // The old etag is stale now.
    let stale = server.request(
        "PUT",
        &path,
        &[
            ("Authorization", &auth),
            ("If-Match", &format!("\"{etag}\"")),
        ],
        Some(&body),
    );
    assert_eq!(stale.status, 412, "{}", stale.text());
    // Schema-invalid data, an unknown field, a wrong kind: refused, nothing written.
    for data in [
        json!({"body": "no title"}),
        json!({"title": "x", "colour": "red"}),
    ] {
        let refused = server.call(
            "PUT",
            &path,
            people.token("bob"),
            Some(&json!({"data": data})),
        );
        assert_eq!(refused.status, 400, "{}", refused.text());
    }
    let current = server.get(&path, people.token("bob")).json();
    assert_eq!(current["version"], 2);
    assert_eq!(current["data"]["body"], "ownership");
    // Creating the same key again conflicts.
    let again = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "personal", "kind": "node", "id": "abc123", "data": {"title": "Rust"}}),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    // Another member cannot update or delete it (not found: they cannot see it).
    let foreign = server.call(
        "PUT",
        &path,
        people.token("carol"),
        Some(&json!({"data": {"title": "mine"}})),
    );
    assert_eq!(foreign.status, 404);
    assert_eq!(
        server
            .call("DELETE", &path, people.token("carol"), None)
            .status,
        404
    );
    assert_eq!(
        server
            .call("DELETE", &path, people.token("bob"), None)
            .status,
        204
    );
    assert_eq!(server.get(&path, people.token("bob")).status, 404);
}

#[test]
fn invalid_keys_environments_and_data_are_refused_with_nothing_written() {
    // Without a locker key, Locker requests say lockers are unavailable.
    let server =
        Server::start(&knowledge_config().replace("locker:\n  key_file: locker.key\n", ""));
    let people = People::of(&server);
    let cases = [
        (
            json!({"env": "kb", "scope": "personal", "kind": "node", "data": {"title": "x"}, "extra": 1}),
            400,
        ),
        (
            json!({"env": "wiki", "scope": "personal", "kind": "node", "data": {"title": "x"}}),
            400,
        ),
        (
            json!({"env": "kb", "scope": "everyone", "kind": "node", "data": {"title": "x"}}),
            400,
        ),
        (
            json!({"env": "kb", "scope": "personal", "kind": "Node", "data": {"title": "x"}}),
            400,
        ),
        (
            json!({"env": "kb", "scope": "personal", "kind": "node", "id": "../x", "data": {"title": "x"}}),
            400,
        ),
        (
            json!({"env": "kb", "scope": "personal", "kind": "node", "data": {"title": ""}}),
            400,
        ),
        (
            json!({"env": "kb", "scope": "personal", "kind": "node", "data": []}),
            400,
        ),
        (
            json!({"env": "track", "scope": "personal", "kind": "task", "data": {"title": "t", "due": "tomorrow"}}),
            400,
        ),
        (
            json!({"env": "links", "scope": "personal", "kind": "bookmark", "data": {"url": "javascript:alert(1)"}}),
            400,
        ),
        (
            json!({"env": "temp", "scope": "UNIV", "kind": "draft", "data": {"text": "x"}}),
            422,
        ),
        (
            json!({"env": "chrono", "scope": "UNIV", "kind": "reminder", "data": {"title": "x", "due": "2030-01-01T00:00:00Z"}}),
            422,
        ),
        (
            json!({"env": "locker", "scope": "personal", "kind": "secret", "data": {"value": "x"}}),
            503,
        ),
    ];
    for (body, status) in cases {
        let response = create(&server, &people, "bob", &body);
        assert_eq!(response.status, status, "{body}: {}", response.text());
    }
    let locker = create(
        &server,
        &people,
        "bob",
        &json!({"env": "locker", "scope": "personal", "kind": "secret", "data": {"name": "db", "secret": "x"}}),
    );
    assert_eq!(locker.code(), "locker_unavailable");
    assert_eq!(locker.status, 503);
    let matrix = create(
        &server,
        &people,
        "bob",
        &json!({"env": "temp", "scope": "UNIV", "kind": "draft", "data": {"text": "x"}}),
    );
    assert_eq!(matrix.code(), "scope_not_allowed");
    assert!(matrix.text().contains("temp"), "{}", matrix.text());
    let listed = server
        .get("/api/orgs/acme/items", people.token("system"))
        .json();
    assert!(keys_of(&listed).is_empty(), "{listed}");
}

#[test]
fn universal_items_are_the_organizations_only() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let created = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "UNIV", "kind": "node", "data": {"title": "How we deploy"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("kb:UNIV:"));
    let path = format!("/api/orgs/acme/items/{key}");
    for who in ["alice", "mona", "carol", "dan", "system"] {
        assert_eq!(server.get(&path, people.token(who)).status, 200, "{who}");
    }
    // Another organization: not even through its own org's route.
    assert_eq!(server.get(&path, people.token("john")).status, 404);
    assert_eq!(
        server
            .get("/api/orgs/techcorp/items?env=kb", people.token("john"))
            .json()["items"],
        json!([])
    );
    // Members read it but only its creator and admins change it.
    let edit = json!({"data": {"title": "How we deploy (v2)"}});
    assert_eq!(
        server
            .call("PUT", &path, people.token("carol"), Some(&edit))
            .status,
        403
    );
    assert_eq!(
        server
            .call("PUT", &path, people.token("bob"), Some(&edit))
            .status,
        200
    );
    assert_eq!(
        server
            .call("PUT", &path, people.token("alice"), Some(&edit))
            .status,
        200
    );
    assert_eq!(
        server
            .call("DELETE", &path, people.token("carol"), None)
            .status,
        403
    );
    // The organization's protocols are its admins' to set.
    let protocol =
        json!({"env": "workflow", "scope": "UNIV", "kind": "protocol", "data": {"name": "save"}});
    assert_eq!(create(&server, &people, "bob", &protocol).status, 403);
    assert_eq!(create(&server, &people, "alice", &protocol).status, 201);
}

#[test]
fn group_sessions_share_their_items_with_every_member() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let started = server.call(
        "POST",
        "/api/orgs/acme/sessions",
        people.token("bob"),
        Some(&json!({"title": "Phoenix Project Sprint", "type": "group", "members": ["carol@acme.com"]})),
    );
    assert_eq!(started.status, 201, "{}", started.text());
    let session = started.json();
    let sid = session["stable_id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("s_") && sid.len() == 6, "{sid}");
    assert_eq!(session["type"], "group");
    assert_eq!(session["owner"], people.id("bob"));
    assert_eq!(
        session["members"],
        json!([people.id("bob"), people.id("carol")])
    );
    assert!(
        session["session_id"]
            .as_str()
            .unwrap()
            .ends_with("_phoenix_project_sprint")
    );
    // Items created in it: both members see them at once.
    let kb = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": sid, "kind": "node", "data": {"title": "Architecture"}}),
    );
    assert_eq!(kb.status, 201, "{}", kb.text());
    let kb_key = kb.json()["key"].as_str().unwrap().to_owned();
    let track = create(
        &server,
        &people,
        "carol",
        &json!({"env": "track", "scope": sid, "kind": "project", "data": {"title": "Phoenix"}}),
    );
    assert_eq!(track.status, 201, "{}", track.text());
    let track_key = track.json()["key"].as_str().unwrap().to_owned();
    for who in ["bob", "carol"] {
        for key in [&kb_key, &track_key] {
            let response = server.get(&format!("/api/orgs/acme/items/{key}"), people.token(who));
            assert_eq!(response.status, 200, "{who} {key}");
        }
        let active = server
            .get("/api/orgs/acme/sessions?active=true", people.token(who))
            .json();
        assert_eq!(active["sessions"][0]["stable_id"], sid.as_str(), "{who}");
    }
    let shown = server
        .get(
            &format!("/api/orgs/acme/sessions/{sid}"),
            people.token("carol"),
        )
        .json();
    assert_eq!(shown["shared_items"]["kb"], json!([kb_key]));
    assert_eq!(shown["shared_items"]["track"], json!([track_key]));
    // Someone outside the session sees neither the session nor its items.
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{kb_key}"),
                people.token("dan")
            )
            .status,
        404
    );
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/sessions/{sid}"),
                people.token("dan")
            )
            .status,
        404
    );
    assert!(
        server
            .get("/api/orgs/acme/sessions", people.token("dan"))
            .json()["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let intrude = create(
        &server,
        &people,
        "dan",
        &json!({"env": "kb", "scope": sid, "kind": "node", "data": {"title": "x"}}),
    );
    assert_eq!(intrude.status, 404, "{}", intrude.text());
    // Only the owner (or an admin) adds members; a late joiner sees everything at once.
    let by_member = server.call(
        "POST",
        &format!("/api/orgs/acme/sessions/{sid}/members"),
        people.token("carol"),
        Some(&json!({"user_id": "dan@acme.com"})),
    );
    assert_eq!(by_member.status, 403, "{}", by_member.text());
    let added = server.call(
        "POST",
        &format!("/api/orgs/acme/sessions/{sid}/members"),
        people.token("bob"),
        Some(&json!({"user_id": "dan@acme.com"})),
    );
    assert_eq!(added.status, 200, "{}", added.text());
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{kb_key}"),
                people.token("dan")
            )
            .status,
        200
    );
    // A personal item created while working in the session: personal, with the offer.
    let note = create(
        &server,
        &people,
        "carol",
        &json!({"env": "context", "scope": "personal", "kind": "note", "session": sid, "data": {"text": "mine"}}),
    );
    assert_eq!(note.status, 201, "{}", note.text());
    let hint = &note.json()["sharing_hint"];
    assert_eq!(hint["session"], sid.as_str());
    assert_eq!(hint["title"], "Phoenix Project Sprint");
    let note_key = note.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{note_key}"),
                people.token("bob")
            )
            .status,
        404
    );
    // Sharing it with the session: now the members see it.
    let shared = server.call(
        "POST",
        &format!("/api/orgs/acme/items/{note_key}/share"),
        people.token("carol"),
        Some(&json!({"session": sid})),
    );
    assert_eq!(shared.status, 200, "{}", shared.text());
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{note_key}"),
                people.token("bob")
            )
            .status,
        200
    );
    // Ending: members keep reading, nobody adds more.
    let ended = server.call(
        "POST",
        &format!("/api/orgs/acme/sessions/{sid}/end"),
        people.token("bob"),
        None,
    );
    assert_eq!(ended.status, 200, "{}", ended.text());
    assert_eq!(ended.json()["active"], false);
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{kb_key}"),
                people.token("dan")
            )
            .status,
        200
    );
    let late = create(
        &server,
        &people,
        "carol",
        &json!({"env": "kb", "scope": sid, "kind": "node", "data": {"title": "late"}}),
    );
    assert_eq!(late.status, 409, "{}", late.text());
    let edit = server.call(
        "PUT",
        &format!("/api/orgs/acme/items/{kb_key}"),
        people.token("carol"),
        Some(&json!({"data": {"title": "changed"}})),
    );
    assert_eq!(edit.status, 403, "{}", edit.text());
    assert!(
        server
            .get("/api/orgs/acme/sessions?active=true", people.token("carol"))
            .json()["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A member removed from the organization loses the session's items at once.
    let removed = server.call(
        "DELETE",
        "/api/orgs/acme/members/carol@acme.com",
        people.token("alice"),
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{kb_key}"),
                people.token("carol")
            )
            .status,
        404
    );
}

#[test]
fn managers_see_their_reports_track_items_and_nothing_else() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let project = create(
        &server,
        &people,
        "bob",
        &json!({"env": "track", "scope": "personal", "kind": "project", "data": {"title": "Q3 plan"}}),
    );
    let project_key = project.json()["key"].as_str().unwrap().to_owned();
    let note = create(
        &server,
        &people,
        "bob",
        &json!({"env": "context", "scope": "personal", "kind": "note", "data": {"text": "private"}}),
    );
    let note_key = note.json()["key"].as_str().unwrap().to_owned();
    let project_path = format!("/api/orgs/acme/items/{project_key}");
    assert_eq!(server.get(&project_path, people.token("mona")).status, 404);
    // Nobody names their own manager; an admin does.
    let claim = server.call(
        "PUT",
        "/api/orgs/acme/users/bob@acme.com/manager",
        people.token("mona"),
        Some(&json!({"manager": "mona@acme.com"})),
    );
    assert_eq!(claim.status, 403, "{}", claim.text());
    let claim = server.call(
        "PUT",
        "/api/orgs/acme/users/bob@acme.com/manager",
        people.token("bob"),
        Some(&json!({"manager": "mona@acme.com"})),
    );
    assert_eq!(claim.status, 403, "{}", claim.text());
    let set = server.call(
        "PUT",
        "/api/orgs/acme/users/bob@acme.com/manager",
        people.token("alice"),
        Some(&json!({"manager": "mona@acme.com"})),
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["manager"], people.id("mona"));
    let line = server
        .get(
            "/api/orgs/acme/users/mona@acme.com/manager",
            people.token("bob"),
        )
        .json();
    assert_eq!(line["subordinates"], json!([people.id("bob")]));
    // On the next request: the manager sees the Track project, not the note.
    assert_eq!(server.get(&project_path, people.token("mona")).status, 200);
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{note_key}"),
                people.token("mona")
            )
            .status,
        404
    );
    let listed = server
        .get("/api/orgs/acme/items?env=track", people.token("mona"))
        .json();
    assert_eq!(keys_of(&listed), vec![project_key.clone()]);
    // Reassigning within the team only; never deleting.
    let task = create(
        &server,
        &people,
        "bob",
        &json!({"env": "track", "scope": "personal", "kind": "task", "data": {"title": "Draft"}}),
    );
    let task_key = task.json()["key"].as_str().unwrap().to_owned();
    let assign = |who: &str, to: &[&str]| {
        server.call(
            "POST",
            &format!("/api/orgs/acme/items/{task_key}/assign"),
            people.token(who),
            Some(&json!({"assignees": to})),
        )
    };
    let within = assign("mona", &["bob@acme.com", "mona@acme.com"]);
    assert_eq!(within.status, 200, "{}", within.text());
    assert_eq!(
        within.json()["data"]["assignees"],
        json!([people.id("bob"), people.id("mona")])
    );
    let outside = assign("mona", &["carol@acme.com"]);
    assert_eq!(outside.status, 403, "{}", outside.text());
    assert_eq!(
        server
            .call("DELETE", &project_path, people.token("mona"), None)
            .status,
        403
    );
    // The owner assigns anyone in the organization; the assignee then reads the task.
    assert_eq!(assign("bob", &["carol@acme.com"]).status, 200);
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{task_key}"),
                people.token("carol")
            )
            .status,
        200
    );
    // The profile shows the reporting line and refuses to change it.
    let profile = create(
        &server,
        &people,
        "bob",
        &json!({"env": "user", "scope": "personal", "kind": "profile", "data": {"display_name": "Bob"}}),
    );
    assert_eq!(profile.status, 201, "{}", profile.text());
    assert_eq!(profile.json()["item"]["data"]["manager"], people.id("mona"));
    let profile_key = profile.json()["key"].as_str().unwrap().to_owned();
    let forged = server.call(
        "PUT",
        &format!("/api/orgs/acme/items/{profile_key}"),
        people.token("bob"),
        Some(&json!({"data": {"display_name": "Bob", "manager": people.id("carol")}})),
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    let claims = create(
        &server,
        &people,
        "mona",
        &json!({"env": "user", "scope": "personal", "kind": "profile", "data": {"display_name": "Mona", "subordinates": [people.id("carol")]}}),
    );
    assert_eq!(claims.status, 403, "{}", claims.text());
    // Changing the manager changes access on the next request.
    let moved = server.call(
        "PUT",
        "/api/orgs/acme/users/bob@acme.com/manager",
        people.token("alice"),
        Some(&json!({"manager": null})),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(server.get(&project_path, people.token("mona")).status, 404);
}

#[test]
fn workflow_protocols_resolve_per_name() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    for (who, scope, name, voice) in [
        ("alice", "UNIV", "voice", "neutral"),
        ("alice", "UNIV", "save", "every step"),
        ("bob", "personal", "voice", "cheerful"),
    ] {
        let created = create(
            &server,
            &people,
            who,
            &json!({"env": "workflow", "scope": scope, "kind": "protocol", "data": {"name": name, "settings": {"value": voice}}}),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let resolved = server
        .get("/api/orgs/acme/workflow/resolved", people.token("bob"))
        .json();
    let protocols = resolved["protocols"].as_array().unwrap();
    assert_eq!(protocols.len(), 2, "{resolved}");
    assert_eq!(protocols[0]["name"], "save");
    assert_eq!(protocols[0]["source"], "UNIV");
    assert_eq!(protocols[1]["name"], "voice");
    assert_eq!(protocols[1]["source"], people.id("bob"));
    assert_eq!(protocols[1]["data"]["settings"]["value"], "cheerful");
    assert_eq!(protocols[1]["overrides"].as_array().unwrap().len(), 1);
    let carol = server
        .get("/api/orgs/acme/workflow/resolved", people.token("carol"))
        .json();
    assert_eq!(carol["protocols"][1]["source"], "UNIV");
    assert_eq!(
        carol["protocols"][1]["data"]["settings"]["value"],
        "neutral"
    );
    // Workflow items are never shared with sessions or people.
    let key = create(&server, &people, "bob", &json!({"env": "workflow", "scope": "personal", "kind": "protocol", "data": {"name": "tone"}})).json()["key"].as_str().unwrap().to_owned();
    let refused = server.call(
        "POST",
        &format!("/api/orgs/acme/items/{key}/share"),
        people.token("bob"),
        Some(&json!({"users": ["carol@acme.com"]})),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(refused.code(), "scope_not_allowed");
}

#[test]
fn temp_items_expire() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let created = create(
        &server,
        &people,
        "bob",
        &json!({"env": "temp", "scope": "personal", "kind": "draft", "data": {"text": "scratch", "expires_at": soon}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    let key = body["key"].as_str().unwrap().to_owned();
    let file = format!("/api/fs{}", body["path"].as_str().unwrap());
    assert!(body["item"]["expires_at"].is_string());
    assert_eq!(
        server
            .get(&format!("/api/orgs/acme/items/{key}"), people.token("bob"))
            .status,
        200
    );
    // Expired: invisible at once, and removed by the sweeper soon after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let item = server
            .get(&format!("/api/orgs/acme/items/{key}"), people.token("bob"))
            .status;
        let stored = server.get(&file, people.token("system")).status;
        if item == 404 && stored == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "item {item}, file {stored}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A default expiry applies when none is given; one too far away is refused.
    let default = create(
        &server,
        &people,
        "bob",
        &json!({"env": "temp", "scope": "personal", "kind": "draft", "data": {"text": "x"}}),
    );
    assert_eq!(default.status, 201);
    let far = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let refused = create(
        &server,
        &people,
        "bob",
        &json!({"env": "temp", "scope": "personal", "kind": "draft", "data": {"text": "x", "expires_at": far}}),
    );
    assert_eq!(refused.status, 400);
}

#[test]
fn direct_and_universal_shares_are_relationships_explained_by_access() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let doc = create(
        &server,
        &people,
        "bob",
        &json!({"env": "documents", "scope": "personal", "kind": "doc", "data": {"title": "Plan", "format": "markdown"}}),
    );
    let key = doc.json()["key"].as_str().unwrap().to_owned();
    let item = format!("/api/orgs/acme/items/{key}");
    let share = |body: Value, path: &str| {
        server.call(
            "POST",
            &format!("{item}/{path}"),
            people.token("bob"),
            Some(&body),
        )
    };
    // Only the owner shares; not with another organization's people.
    let foreign = share(json!({"users": ["john@techcorp.com"]}), "share");
    assert_eq!(foreign.status, 400, "{}", foreign.text());
    let by_other = server.call(
        "POST",
        &format!("{item}/share"),
        people.token("carol"),
        Some(&json!({"users": ["dan@acme.com"]})),
    );
    assert_eq!(by_other.status, 404);
    let shared = share(json!({"users": ["carol@acme.com"]}), "share");
    assert_eq!(shared.status, 200, "{}", shared.text());
    let readers = shared.json()["readers"].clone();
    let reasons = |subject: &str| -> Vec<String> {
        readers
            .as_array()
            .unwrap()
            .iter()
            .find(|reader| reader["subject"] == subject)
            .map(|reader| serde_json::from_value(reader["via"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert_eq!(reasons("user:carol@acme.com"), vec!["shared"]);
    assert_eq!(reasons("user:bob@acme.com"), vec!["owner"]);
    assert_eq!(reasons("user:alice@acme.com"), vec!["org_admin"]);
    assert!(reasons("user:dan@acme.com").is_empty());
    assert_eq!(server.get(&item, people.token("carol")).status, 200);
    assert_eq!(server.get(&item, people.token("dan")).status, 404);
    // Universal: every member, nobody else.
    assert_eq!(share(json!({"universal": true}), "share").status, 200);
    assert_eq!(server.get(&item, people.token("dan")).status, 200);
    assert_eq!(server.get(&item, people.token("john")).status, 404);
    // Unshare takes both back.
    assert_eq!(share(json!({"universal": true}), "unshare").status, 200);
    assert_eq!(
        share(json!({"users": ["carol@acme.com"]}), "unshare").status,
        200
    );
    assert_eq!(server.get(&item, people.token("carol")).status, 404);
    assert_eq!(server.get(&item, people.token("dan")).status, 404);
    // Malformed share requests.
    for body in [
        json!({}),
        json!({"users": ["carol@acme.com"], "universal": true}),
        json!({"universal": false}),
    ] {
        assert_eq!(share(body.clone(), "share").status, 400, "{body}");
    }
}

#[test]
fn listing_pages_through_everything_visible_once_in_order() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let mut expected = Vec::new();
    // Kinds whose names sort differently as path text and segment by segment (`note-2`,
    // `note`), in bob's scope, the organization's and shared with bob.
    for index in 0..12 {
        let kind = ["note", "note-2", "n"][index % 3];
        let body = json!({"env": "context", "scope": "personal", "kind": kind, "data": {"text": format!("page test {index}")}});
        expected.push(
            create(&server, &people, "bob", &body).json()["key"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let body = json!({"env": "context", "scope": "UNIV", "kind": kind, "data": {"text": format!("page test univ {index}")}});
        expected.push(
            create(&server, &people, "carol", &body).json()["key"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let hidden = create(
        &server,
        &people,
        "dan",
        &json!({"env": "context", "scope": "personal", "kind": "note", "data": {"text": "page test hidden"}}),
    );
    assert_eq!(hidden.status, 201);
    for index in 0..4 {
        let body = json!({"env": "documents", "scope": "personal", "kind": "doc", "data": {"title": format!("page test shared {index}")}});
        let key = create(&server, &people, "carol", &body).json()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let shared = server.call(
            "POST",
            &format!("/api/orgs/acme/items/{key}/share"),
            people.token("carol"),
            Some(&json!({"users": ["bob@acme.com"]})),
        );
        assert_eq!(shared.status, 200, "{}", shared.text());
        expected.push(key);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/orgs/acme/items?q=page%20test&limit=5".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = server.get(&path, people.token("bob"));
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        seen.extend(keys_of(&page));
        pages += 1;
        assert!(pages < 20, "the cursor does not advance");
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "an item was listed twice: {seen:?}"
    );
    expected.sort();
    assert_eq!(unique, expected);
    // One request for everything gives the same order as the pages.
    let all = server
        .get(
            "/api/orgs/acme/items?q=page%20test&limit=1000",
            people.token("bob"),
        )
        .json();
    assert_eq!(keys_of(&all), seen);
    // A cursor is the caller's own.
    let first = server
        .get(
            "/api/orgs/acme/items?q=page%20test&limit=5",
            people.token("bob"),
        )
        .json();
    let stolen = server.get(
        &format!(
            "/api/orgs/acme/items?q=page%20test&limit=5&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ),
        people.token("carol"),
    );
    assert_eq!(stolen.status, 400, "{}", stolen.text());
}

#[test]
fn sessions_end_per_the_organizations_retention_policy() {
    let config = knowledge_config().replace(
        "    name: Acme Corp\n",
        "    name: Acme Corp\n    settings:\n      retention_policy: {sessions: 2s}\n",
    );
    let server = Server::start(&config);
    let people = People::of(&server);
    let started = server.call(
        "POST",
        "/api/orgs/acme/sessions",
        people.token("bob"),
        Some(&json!({"title": "short", "type": "group", "members": ["carol@acme.com"]})),
    );
    assert_eq!(started.status, 201, "{}", started.text());
    let sid = started.json()["stable_id"].as_str().unwrap().to_owned();
    let kb = create(
        &server,
        &people,
        "carol",
        &json!({"env": "kb", "scope": sid, "kind": "node", "data": {"title": "kept"}}),
    );
    assert_eq!(kb.status, 201, "{}", kb.text());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let session = server
            .get(
                &format!("/api/orgs/acme/sessions/{sid}"),
                people.token("bob"),
            )
            .json();
        if session["active"] == false {
            assert!(session["ended_at"].is_string());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session is still active"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Ended like any session: its items stay readable, nothing more is added.
    let key = kb.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .get(&format!("/api/orgs/acme/items/{key}"), people.token("bob"))
            .status,
        200
    );
    let late = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": sid, "kind": "node", "data": {"title": "late"}}),
    );
    assert_eq!(late.status, 409, "{}", late.text());
}

#[test]
fn the_system_administrator_locks_unlocks_and_deletes_accounts() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let note = create(
        &server,
        &people,
        "bob",
        &json!({"env": "context", "scope": "personal", "kind": "note", "data": {"text": "mine"}}),
    );
    let note = note.json()["key"].as_str().unwrap().to_owned();
    let shared = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "UNIV", "kind": "node", "data": {"title": "for everyone"}}),
    );
    let shared = shared.json()["key"].as_str().unwrap().to_owned();
    let key = server.call(
        "POST",
        "/api/keys",
        &server.admin_key,
        Some(&json!({"principal": "user:bob@acme.com"})),
    );
    let bob_key = key.json()["secret"].as_str().unwrap().to_owned();
    // Only the system administrator: not even an organization admin.
    for (method, path) in [
        ("POST", "/api/admin/users/bob@acme.com/lock"),
        ("POST", "/api/admin/users/bob@acme.com/unlock"),
        ("DELETE", "/api/admin/users/bob@acme.com"),
    ] {
        let refused = server.call(method, path, people.token("alice"), None);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text());
    }
    let note_path = format!("/api/orgs/acme/items/{note}");
    let locked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/lock",
        &server.admin_key,
        None,
    );
    assert_eq!(locked.status, 200, "{}", locked.text());
    assert_eq!(locked.json()["orgs"], json!(["acme"]));
    assert_eq!(locked.json()["locked"], true);
    // Locked: nothing in the organization, by token or key.
    assert_eq!(server.get(&note_path, people.token("bob")).status, 404);
    assert_eq!(server.get(&note_path, &bob_key).status, 404);
    assert_eq!(
        server
            .get("/api/orgs/acme/sales/context.json", &bob_key)
            .status,
        404
    );
    let unlocked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/unlock",
        &server.admin_key,
        None,
    );
    assert_eq!(unlocked.status, 200, "{}", unlocked.text());
    assert_eq!(server.get(&note_path, people.token("bob")).status, 200);
    let deleted = server.call(
        "DELETE",
        "/api/admin/users/bob@acme.com",
        &server.admin_key,
        None,
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.json()["revoked_keys"], 1);
    assert!(deleted.json()["removed_items"].as_u64().unwrap() >= 1);
    assert_eq!(server.get("/api/whoami", &bob_key).status, 401);
    assert_eq!(
        server.get(&note_path, &server.admin_key).status,
        404,
        "the personal note is gone"
    );
    // What bob gave the organization stays with it.
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{shared}"),
                people.token("carol")
            )
            .status,
        200
    );
    let members = server
        .get("/api/orgs/acme/members", people.token("alice"))
        .json();
    assert!(!members.to_string().contains("bob@acme.com"), "{members}");
    assert_eq!(
        server
            .call(
                "POST",
                "/api/admin/users/nobody@acme.com/lock",
                &server.admin_key,
                None
            )
            .status,
        404
    );
}

#[test]
fn profiles_are_shared_by_role_or_group_and_nothing_else_is() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    // Carol is in the group `eng`, written by an admin like any relationship.
    let group = server.call(
        "POST",
        "/api/rebac/relationships",
        people.token("alice"),
        Some(&json!({"updates": [{"operation": "touch", "relationship": format!("group:acme/eng#member@user:{}", people.id("carol"))}]})),
    );
    assert_eq!(group.status, 200, "{}", group.text());
    let profile = create(
        &server,
        &people,
        "bob",
        &json!({"env": "user", "scope": "personal", "kind": "profile", "data": {"display_name": "Bob"}}),
    );
    let key = profile.json()["key"].as_str().unwrap().to_owned();
    let item = format!("/api/orgs/acme/items/{key}");
    assert_eq!(server.get(&item, people.token("carol")).status, 404);
    // Not to a named user, not to a session: the User row is role-based.
    let direct = server.call(
        "POST",
        &format!("{item}/share"),
        people.token("bob"),
        Some(&json!({"users": ["carol@acme.com"]})),
    );
    assert_eq!(direct.status, 422, "{}", direct.text());
    let shared = server.call(
        "POST",
        &format!("{item}/share"),
        people.token("bob"),
        Some(&json!({"groups": ["eng"]})),
    );
    assert_eq!(shared.status, 200, "{}", shared.text());
    assert_eq!(server.get(&item, people.token("carol")).status, 200);
    assert_eq!(server.get(&item, people.token("dan")).status, 404);
    let listed = server
        .get("/api/orgs/acme/items?env=user", people.token("carol"))
        .json();
    assert_eq!(keys_of(&listed), vec![key.clone()]);
    // Only the admin role can be named (every member is `universal`).
    let foreign = server.call(
        "POST",
        &format!("{item}/share"),
        people.token("bob"),
        Some(&json!({"role": "member"})),
    );
    assert_eq!(foreign.status, 400, "{}", foreign.text());
    assert_eq!(
        server
            .call(
                "POST",
                &format!("{item}/unshare"),
                people.token("bob"),
                Some(&json!({"groups": ["eng"]}))
            )
            .status,
        200
    );
    assert_eq!(server.get(&item, people.token("carol")).status, 404);
    // Groups and roles are the User and Locker rows' only: a KB node refuses them.
    let node = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": "personal", "kind": "node", "data": {"title": "x"}}),
    );
    let node = node.json()["key"].as_str().unwrap().to_owned();
    let refused = server.call(
        "POST",
        &format!("/api/orgs/acme/items/{node}/share"),
        people.token("bob"),
        Some(&json!({"groups": ["eng"]})),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(refused.code(), "scope_not_allowed");
}

/// Agents have stable ids (`a_XXXX`) like people: their keys and tokens act as that id,
/// their personal items are keyed by it and private to them, and people read them by name.
#[test]
fn agents_have_stable_ids_and_personal_scopes() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let key = server.call(
        "POST",
        "/api/keys",
        &server.admin_key,
        Some(&json!({"principal": "agent:helper", "description": "agent"})),
    );
    assert_eq!(key.status, 201, "{}", key.text());
    let principal = key.json()["principal"].as_str().unwrap().to_owned();
    let id = principal.strip_prefix("agent:").unwrap().to_owned();
    assert!(id.starts_with("a_") && id.len() == 6, "{principal}");
    assert_eq!(key.json()["name"], "agent:helper");
    let helper = key.json()["secret"].as_str().unwrap().to_owned();
    // A token naming the agent by name or by id is the same agent.
    for credential in [
        helper.clone(),
        token("agent:helper"),
        token(&format!("agent:{id}")),
    ] {
        let me = server.get("/api/whoami", &credential);
        assert_eq!(me.status, 200, "{}", me.text());
        assert_eq!(
            (&me.json()["kind"], &me.json()["id"], &me.json()["handle"]),
            (&json!("agent"), &json!(id), &json!("helper"))
        );
    }
    let members = server.get("/api/orgs/acme/members", people.token("alice"));
    let listed = members.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["user_id"] == "helper")
        .cloned()
        .unwrap();
    assert_eq!(listed["id"], json!(id));
    // Its personal items are keyed by its id, attributed to it, and private.
    let created = server.call(
        "POST",
        "/api/orgs/acme/items",
        &helper,
        Some(&json!({"env": "kb", "scope": "personal", "kind": "node", "data": {"title": "what the helper learned"}})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let item_key = created.json()["key"].as_str().unwrap().to_owned();
    assert!(item_key.starts_with(&format!("kb:{id}:")), "{item_key}");
    assert_eq!(created.json()["item"]["owner"], "agent:helper");
    assert_eq!(created.json()["item"]["author"], "agent:helper");
    let item = format!("/api/orgs/acme/items/{item_key}");
    assert_eq!(server.get(&item, &helper).status, 200);
    assert_eq!(server.get(&item, people.token("bob")).status, 404);
    assert_eq!(server.get(&item, people.token("alice")).status, 200);
    // Nobody else creates in its scope.
    let intruding = create(
        &server,
        &people,
        "bob",
        &json!({"env": "kb", "scope": id, "kind": "node", "data": {"title": "planted"}}),
    );
    assert_eq!(intruding.status, 403, "{}", intruding.text());
    // People share with it by name; it reads what was shared, and `access` names it.
    let doc = create(
        &server,
        &people,
        "bob",
        &json!({"env": "documents", "scope": "personal", "kind": "doc", "data": {"title": "Brief", "format": "markdown"}}),
    );
    let doc_key = doc.json()["key"].as_str().unwrap().to_owned();
    let doc_path = format!("/api/orgs/acme/items/{doc_key}");
    assert_eq!(server.get(&doc_path, &helper).status, 404);
    let shared = server.call(
        "POST",
        &format!("{doc_path}/share"),
        people.token("bob"),
        Some(&json!({"users": ["agent:helper"]})),
    );
    assert_eq!(shared.status, 200, "{}", shared.text());
    assert!(
        shared.json()["readers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|reader| reader["subject"] == "agent:helper" && reader["via"] == json!(["shared"])),
        "{}",
        shared.text()
    );
    assert_eq!(server.get(&doc_path, &helper).status, 200);
    // A group session takes it by name, and it works in the session.
    let session = server.call(
        "POST",
        "/api/orgs/acme/sessions",
        people.token("bob"),
        Some(&json!({"title": "with the helper", "type": "group", "members": ["agent:helper"]})),
    );
    assert_eq!(session.status, 201, "{}", session.text());
    assert!(
        session.json()["members"]
            .as_array()
            .unwrap()
            .contains(&json!(id)),
        "{}",
        session.text()
    );
    let session_id = session.json()["stable_id"].as_str().unwrap().to_owned();
    let in_session = server.call(
        "POST",
        "/api/orgs/acme/items",
        &helper,
        Some(&json!({"env": "kb", "scope": session_id, "kind": "node", "data": {"title": "found in the meeting"}})),
    );
    assert_eq!(in_session.status, 201, "{}", in_session.text());
    let session_item = format!(
        "/api/orgs/acme/items/{}",
        in_session.json()["key"].as_str().unwrap()
    );
    assert_eq!(server.get(&session_item, people.token("bob")).status, 200);
    assert_eq!(server.get(&session_item, people.token("dan")).status, 404);
    // Only the operator names a new member by stable id, and no agent is named like one.
    for credential in [people.token("alice"), server.admin_key.as_str()] {
        let refused = server.call(
            "POST",
            "/api/orgs/acme/members",
            credential,
            Some(&json!({"user_id": "a_zz99", "type": "agent"})),
        );
        assert_eq!(refused.status, 400, "{}", refused.text());
    }
    let added = server.call(
        "POST",
        "/api/orgs/acme/members",
        people.token("alice"),
        Some(&json!({"user_id": "scout", "type": "agent", "role": "assistant"})),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let scout = server.get("/api/whoami", &token("agent:scout")).json();
    assert!(scout["id"].as_str().unwrap().starts_with("a_"), "{scout}");
    assert_ne!(scout["id"], json!(id));
}

/// An emergency lockout ends every credential of the user on the next request: API keys
/// are revoked, tokens issued before it refused (and tokens that do not say when they were
/// issued). Unlocking gives access back to new tokens only.
#[test]
fn an_emergency_lockout_voids_every_credential_at_once() {
    use crate::harness::{now, token_with};
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let key = server.call(
        "POST",
        "/api/keys",
        &server.admin_key,
        Some(&json!({"principal": "user:bob@acme.com"})),
    );
    let bob_key = key.json()["secret"].as_str().unwrap().to_owned();
    let old_token = token_with("bob@acme.com", &json!({"iat": now() - 5}));
    let no_iat = token_with("bob@acme.com", &json!({"iat": null}));
    let context = "/api/orgs/acme/sales/context.json";
    for credential in [&bob_key, &old_token, &no_iat] {
        assert_eq!(server.get(context, credential).status, 200);
    }
    let by_admin = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/lockout",
        people.token("alice"),
        None,
    );
    assert_eq!(by_admin.status, 403, "{}", by_admin.text());
    let locked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/lockout",
        &server.admin_key,
        None,
    );
    assert_eq!(locked.status, 200, "{}", locked.text());
    assert_eq!(locked.json()["revoked_keys"], 1);
    assert_eq!(locked.json()["locked"], true);
    // The very next request, with every credential bob had.
    for credential in [&bob_key, &old_token, &no_iat] {
        let refused = server.get("/api/whoami", credential);
        assert_eq!(refused.status, 401, "{}", refused.text());
    }
    assert!(
        server
            .get("/api/whoami", &old_token)
            .text()
            .contains("locked out")
    );
    // A token issued after the lockout authenticates, but the account is locked.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fresh = token_with("bob@acme.com", &json!({"iat": now()}));
    assert_eq!(server.get("/api/whoami", &fresh).status, 200);
    assert_eq!(server.get(context, &fresh).status, 404);
    let unlocked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/unlock",
        &server.admin_key,
        None,
    );
    assert_eq!(unlocked.status, 200, "{}", unlocked.text());
    assert_eq!(server.get(context, &fresh).status, 200);
    assert_eq!(server.get(context, &old_token).status, 401);
    assert_eq!(server.get(context, &bob_key).status, 401);
    // Other people are untouched.
    assert_eq!(server.get(context, people.token("carol")).status, 200);
    // The audit log has it.
    let log = server
        .get("/api/audit?action=users_lockout", &server.admin_key)
        .json();
    assert_eq!(log["entries"].as_array().unwrap().len(), 2, "{log}");
}
