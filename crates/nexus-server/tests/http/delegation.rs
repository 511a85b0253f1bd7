//! Delegations: an agent acting on behalf of a user has the intersection of their
//! permissions (the user's personal items, except Locker, count as the agent's), through a
//! delegation key or a JWT with `act.sub`; revocation, expiry and the user's lockout end it;
//! the audit log names both.

use nexus_core::fault::Fault;
use serde_json::{Value, json};

use crate::harness::{Api, Server, token, token_with};

/// Acme: bob works in sales and eng; the agent `helper` in sales and hr.
fn config() -> String {
    r"
data_dir: ./data
backend: local
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
      - id: eng
      - id: hr
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: bob@acme.com
        role: member
        workspaces: [sales, eng]
      - user_id: helper
        type: agent
        role: assistant
        workspaces: [sales, hr]
auth:
  type: jwt
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
locker:
  key_file: locker.key
"
    .to_owned()
}

/// Writes a file; any success (200 replaced, 201 created) reads as 200.
fn put(server: &Server, credential: &str, path: &str, text: &str) -> u16 {
    let auth = format!("Bearer {credential}");
    let status = server
        .request(
            "PUT",
            &format!("/api/fs{path}?parents=true"),
            &[("Authorization", &auth)],
            Some(text.as_bytes()),
        )
        .status;
    if status == 201 { 200 } else { status }
}

fn delegate(server: &Server, user: &str, agent: &str, expires_in: &str) -> Value {
    let created = server.call(
        "POST",
        "/api/delegations",
        &token(user),
        Some(&json!({"agent": agent, "expires_in": expires_in, "description": "assistant"})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()
}

fn item(server: &Server, credential: &str, env: &str, data: &Value) -> String {
    let created = server.call(
        "POST",
        "/api/orgs/acme/items",
        credential,
        Some(&json!({"env": env, "scope": "personal", "kind": "note", "data": data})),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["key"].as_str().unwrap().to_owned()
}

/// The files of the three workspaces, and personal items of bob (a note, a secret) and of
/// the agent; their keys.
struct World {
    bob_note: String,
    bob_secret: String,
    helper_note: String,
}

fn world(server: &Server) -> World {
    for workspace in ["sales", "eng", "hr"] {
        let path = format!("/orgs/acme/{workspace}/plan.md");
        assert_eq!(put(server, &server.admin_key, &path, workspace), 200);
    }
    let bob = token("bob@acme.com");
    let helper = token("agent:helper");
    let secret = server.call(
        "POST",
        "/api/orgs/acme/items",
        &bob,
        Some(
            &json!({"env": "locker", "scope": "personal", "kind": "cred",
            "data": {"name": "vpn", "secret": "hunter2", "username": "bob"}}),
        ),
    );
    assert_eq!(secret.status, 201, "{}", secret.text());
    World {
        bob_note: item(
            server,
            &bob,
            "context",
            &json!({"title": "bob", "text": "mine"}),
        ),
        bob_secret: secret.json()["key"].as_str().unwrap().to_owned(),
        helper_note: item(
            server,
            &helper,
            "context",
            &json!({"title": "helper", "text": "own"}),
        ),
    }
}

/// What the delegated credential may do that one of the two may not: empty when the
/// intersection holds.
fn violations(server: &Server, delegated: &str, world: &World) -> Vec<String> {
    let mut found = Vec::new();
    let mut expect = |what: &str, status: u16, wanted: u16| {
        if status != wanted {
            found.push(format!("{what}: {status}, expected {wanted}"));
        }
    };
    let get = |path: &str| server.get(path, delegated).status;
    // Both may: allowed.
    expect("read sales", get("/api/fs/orgs/acme/sales/plan.md"), 200);
    expect(
        "write sales",
        put(server, delegated, "/orgs/acme/sales/by-helper.md", "x"),
        200,
    );
    // Only bob may (eng), only the agent may (hr): hidden, as if missing.
    expect("read eng", get("/api/fs/orgs/acme/eng/plan.md"), 404);
    expect("read hr", get("/api/fs/orgs/acme/hr/plan.md"), 404);
    expect(
        "write hr",
        put(server, delegated, "/orgs/acme/hr/by-helper.md", "x"),
        404,
    );
    // Bob's personal items: the note is delegated, the secret never; the agent's own
    // personal items are not bob's.
    let item = |key: &str| {
        server
            .get(&format!("/api/orgs/acme/items/{key}"), delegated)
            .status
    };
    expect("bob's note", item(&world.bob_note), 200);
    expect("bob's secret", item(&world.bob_secret), 404);
    expect("helper's own note", item(&world.helper_note), 404);
    let listed = server.get("/api/ls/orgs/acme", delegated).json();
    let names: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    for hidden in ["eng", "hr"] {
        if names.contains(&hidden) {
            found.push(format!("ls /orgs/acme shows {hidden}"));
        }
    }
    found
}

#[test]
fn a_delegated_agent_has_the_intersection_of_both_permissions() {
    let server = Server::start(&config());
    let world = world(&server);
    let delegation = delegate(&server, "bob@acme.com", "helper", "1h");
    let secret = delegation["secret"].as_str().unwrap();
    assert!(
        delegation["agent"]
            .as_str()
            .unwrap()
            .starts_with("agent:a_")
    );
    assert!(delegation["user"].as_str().unwrap().starts_with("user:u_"));
    assert_eq!(violations(&server, secret, &world), Vec::<String>::new());

    // The same through a JWT whose `act.sub` names the agent acting for `sub`.
    let acting = token_with("bob@acme.com", &json!({"act": {"sub": "agent:helper"}}));
    assert_eq!(violations(&server, &acting, &world), Vec::<String>::new());

    let whoami = server.get("/api/whoami", secret).json();
    assert_eq!(whoami["kind"], "agent");
    assert_eq!(whoami["on_behalf_of"], "user:bob@acme.com");
    assert_eq!(whoami["orgs"], json!(["acme"]));

    // A personal item created on bob's behalf is bob's: he reads it, the agent alone not.
    let created = item(
        &server,
        secret,
        "context",
        &json!({"title": "for bob", "text": "x"}),
    );
    assert!(created.contains(&format!(
        ":{}:",
        delegation["user"].as_str().unwrap().trim_start_matches("user:")
    )));
    let path = format!("/api/orgs/acme/items/{created}");
    assert_eq!(server.get(&path, &token("bob@acme.com")).status, 200);
    assert_eq!(server.get(&path, &token("agent:helper")).status, 404);

    // A delegation cannot outlive itself: it uses bob's personal items but cannot share
    // them (with itself or anyone), mint keys or further delegations.
    for grantee in ["agent:helper", "alice@acme.com"] {
        let shared = server.call(
            "POST",
            &format!("/api/orgs/acme/items/{}/share", world.bob_note),
            secret,
            Some(&json!({"users": [grantee]})),
        );
        assert!(
            shared.status == 403 || shared.status == 404,
            "{grantee}: {}",
            shared.text()
        );
    }
    assert_eq!(
        server
            .get(
                &format!("/api/orgs/acme/items/{}", world.bob_note),
                &token("agent:helper")
            )
            .status,
        404
    );
    let key = server.call("POST", "/api/keys", secret, Some(&json!({})));
    assert_eq!(key.status, 403, "{}", key.text());
    let again = server.call(
        "POST",
        "/api/delegations",
        secret,
        Some(&json!({"agent": "helper"})),
    );
    assert_eq!(again.status, 403, "{}", again.text());

    // The audit log names the agent and the user it acted for.
    let audit = server
        .get("/api/audit?org=acme&action=files_write", &server.admin_key)
        .json();
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["target"] == "/orgs/acme/sales/by-helper.md")
        .expect("the delegated write is audited");
    assert_eq!(entry["actor"], "agent:helper");
    assert_eq!(entry["on_behalf_of"], "user:bob@acme.com");

    // Listed for bob and for the agent, not for alice; revoked by bob, refused at once.
    let id = delegation["id"].as_str().unwrap();
    for (who, sees) in [
        ("bob@acme.com", true),
        ("agent:helper", true),
        ("alice@acme.com", false),
    ] {
        let listed = server.get("/api/delegations", &token(who)).json();
        let found = listed["delegations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["id"] == id);
        assert_eq!(found, sees, "{who}");
    }
    let refused = server.call(
        "DELETE",
        &format!("/api/delegations/{id}"),
        &token("alice@acme.com"),
        None,
    );
    assert_eq!(refused.status, 404, "{}", refused.text());
    let revoked = server.call(
        "DELETE",
        &format!("/api/delegations/{id}"),
        &token("bob@acme.com"),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(server.get("/api/whoami", secret).status, 401);
}

#[test]
fn delegations_end_by_expiry_and_by_the_users_lockout() {
    let server = Server::start(&config());
    let short = delegate(&server, "bob@acme.com", "helper", "1s");
    let short = short["secret"].as_str().unwrap();
    assert_eq!(server.get("/api/whoami", short).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let expired = server.get("/api/whoami", short);
    assert_eq!(expired.status, 401);
    assert!(expired.text().contains("expired"), "{}", expired.text());

    let long = delegate(&server, "bob@acme.com", "helper", "1h");
    let long = long["secret"].as_str().unwrap();
    assert_eq!(server.get("/api/whoami", long).status, 200);
    let locked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/lockout",
        &server.admin_key,
        None,
    );
    assert_eq!(locked.status, 200, "{}", locked.text());
    assert_eq!(server.get("/api/whoami", long).status, 401);
    // The agent acting as itself is not locked out.
    assert_eq!(
        server.get("/api/whoami", &token("agent:helper")).status,
        200
    );

    // Bad requests change nothing: unknown agents, agents of no shared organization, bad
    // lifetimes, agents delegating.
    for (who, body, status) in [
        ("alice@acme.com", json!({"agent": "nobody"}), 404),
        (
            "alice@acme.com",
            json!({"agent": "helper", "expires_in": "31d"}),
            400,
        ),
        (
            "alice@acme.com",
            json!({"agent": "helper", "expires_in": "soon"}),
            400,
        ),
        ("agent:helper", json!({"agent": "helper"}), 400),
    ] {
        let response = server.call("POST", "/api/delegations", &token(who), Some(&body));
        assert_eq!(response.status, status, "{who} {body}: {}", response.text());
    }
}

/// Negative control: decided for the agent alone, the delegated call reaches hr.
#[test]
fn the_intersection_test_catches_a_delegation_decided_for_the_agent_alone() {
    let server = Server::start_with_fault(&config(), Fault::IgnoreDelegation);
    let world = world(&server);
    let delegation = delegate(&server, "bob@acme.com", "helper", "1h");
    let found = violations(&server, delegation["secret"].as_str().unwrap(), &world);
    assert!(
        found
            .iter()
            .any(|violation| violation.starts_with("read hr")),
        "{found:?}"
    );
}
