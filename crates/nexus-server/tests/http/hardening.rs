//! Attacks on isolation, identity, input handling and the HTTP surface: each is tried and
//! refused, with a negative control where a safety property can be switched off.

use serde_json::{Value, json};

use crate::auth::{HEADER, claims, config_with_issuer};
use crate::harness::{
    Api, Response, SECRET, Server, http, now, seed_config, sign_raw, token, token_with,
};

/// A request to make and the status it must get.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);

/// A body with the fields that legitimately differ between two answers removed.
fn without_revision(response: &Response) -> (u16, Value) {
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if let Some(object) = body.as_object_mut() {
        object.remove("revision");
    }
    if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
        error.remove("request_id");
    }
    (response.status, body)
}

/// The record of `org` as `credential` reads it, and its `ETag`.
fn record(server: &Server, credential: &str, org: &str) -> (Value, String) {
    let current = server.get(&format!("/api/fs/orgs/{org}/org.json"), credential);
    assert_eq!(current.status, 200, "{}", current.text());
    let etag = current.header("etag").unwrap().to_owned();
    (current.json(), etag)
}

/// Writes `body` as the record of `org` with `If-Match`.
fn put_record(server: &Server, credential: &str, org: &str, body: &[u8], etag: &str) -> Response {
    server.request(
        "PUT",
        &format!("/api/fs/orgs/{org}/org.json"),
        &[
            ("Authorization", &format!("Bearer {credential}")),
            ("If-Match", etag),
        ],
        Some(body),
    )
}

fn add_member(server: &Server, credential: &str, org: &str, body: &Value) -> Response {
    server.call(
        "POST",
        &format!("/api/orgs/{org}/members"),
        credential,
        Some(body),
    )
}

fn post(server: &Server, path: &str, credential: &str, body: &Value) -> Response {
    server.call("POST", path, credential, Some(body))
}

/// Someone who is not a current member of an organization learns nothing about it
/// through permission queries, whatever relation or permission they ask about.
#[test]
fn non_members_learn_nothing_through_permission_queries() {
    let server = Server::start(&seed_config());
    let leaks = permission_query_leaks(&server);
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// The same attack with the organization filter dropped (test-only fault) must find leaks:
/// the test above can fail.
#[test]
fn permission_query_leaks_are_found_when_the_org_filter_is_dropped() {
    let server = Server::start_with_fault(&seed_config(), nexus_core::fault::Fault::DropOrgFilter);
    let leaks = permission_query_leaks(&server);
    assert!(!leaks.is_empty(), "the fault went unnoticed");
}

fn permission_query_leaks(server: &Server) -> Vec<String> {
    let alice = token("alice@acme.com");
    let john = token("john@techcorp.com");
    let mut leaks = Vec::new();
    // A public folder in acme, a group, and a member (bob) with a grant of his own.
    assert_eq!(
        server
            .call("POST", "/api/mkdir/orgs/acme/sales/project-x", &alice, None)
            .status,
        201
    );
    let written = post(
        server,
        "/api/rebac/relationships",
        &alice,
        &json!({"updates": [
            {"operation": "touch", "relationship": "file:/orgs/acme/sales/project-x#viewer@user:*"},
            {"operation": "touch", "relationship": "file:/orgs/acme/sales/project-x#viewer@agent:*"},
        ]}),
    );
    assert_eq!(written.status, 200, "{}", written.text());
    for body in [
        json!({"user_id": "bob@acme.com", "role": "member", "workspaces": ["sales"]}),
        json!({"user_id": "carol@acme.com", "role": "member", "workspaces": ["sales"]}),
    ] {
        assert_eq!(add_member(server, &alice, "acme", &body).status, 201);
    }
    assert_eq!(
        server
            .call(
                "POST",
                "/api/mkdir/orgs/acme/engineering/eng-x",
                &alice,
                None
            )
            .status,
        201
    );
    for (entry, path) in [
        ("user:bob@acme.com:r--", "/orgs/acme/engineering/eng-x"),
        ("group:eng:r--", "/orgs/acme/engineering"),
    ] {
        let set = post(
            server,
            "/api/acl",
            &alice,
            &json!({"path": path, "entry": entry}),
        );
        assert_eq!(set.status, 200, "{}", set.text());
    }
    let joined = post(
        server,
        "/api/rebac/relationships",
        &alice,
        &json!({"updates": [{"operation": "touch", "relationship": "group:acme/eng#member@user:bob@acme.com"}]}),
    );
    assert_eq!(joined.status, 200, "{}", joined.text());
    // Control: a current member sees the public folder.
    let own = post(
        server,
        "/api/rebac/lookup-resources",
        &alice,
        &json!({"subject": "user:alice@acme.com", "permission": "viewer", "resource_type": "file"}),
    );
    assert_eq!(own.status, 200, "{}", own.text());
    // Bob is suspended, carol removed: their grants (and the wildcard) remain.
    let (mut acme, etag) = record(server, &alice, "acme");
    for member in acme["members"].as_array_mut().unwrap() {
        if member["user_id"] == "bob@acme.com" {
            member["status"] = json!("suspended");
        }
    }
    acme["members"]
        .as_array_mut()
        .unwrap()
        .retain(|member| member["user_id"] != "carol@acme.com");
    let suspended = put_record(
        server,
        &alice,
        "acme",
        &serde_json::to_vec(&acme).unwrap(),
        &etag,
    );
    assert_eq!(suspended.status, 200, "{}", suspended.text());

    let bob = token("bob@acme.com");
    // Carol still has an account (she was in an organization); outsiders: john, bob, carol.
    let carol = token("carol@acme.com");
    let outsiders = [
        ("user:john@techcorp.com", john.as_str()),
        ("user:bob@acme.com", bob.as_str()),
        ("user:carol@acme.com", carol.as_str()),
    ];
    for (subject, credential) in outsiders {
        for permission in [
            "viewer",
            "read_grant",
            "write_grant",
            "acl_read",
            "read",
            "member",
        ] {
            for resource_type in ["file", "group", "org"] {
                let found = post(
                    server,
                    "/api/rebac/lookup-resources",
                    credential,
                    &json!({"subject": subject, "permission": permission, "resource_type": resource_type}),
                );
                if found.text().contains("acme") {
                    leaks.push(format!(
                        "{subject} lookup-resources {permission} {resource_type}: {}",
                        found.text()
                    ));
                }
            }
            // A check about an existing object answers as one about a missing object, and
            // as one in an organization that does not exist.
            for (existing, missing) in [
                ("/orgs/acme/sales/project-x", "/orgs/acme/sales/missing-x"),
                (
                    "/orgs/acme/engineering/eng-x",
                    "/orgs/nosuchorg/engineering/eng-x",
                ),
                ("group:acme/eng", "group:nosuchorg/eng"),
                ("org:acme", "org:nosuchorg"),
            ] {
                let ask = |object: &str| {
                    without_revision(&post(
                        server,
                        "/api/rebac/check",
                        credential,
                        &json!({"subject": subject, "permission": permission, "object": object}),
                    ))
                };
                let (a, b) = (ask(existing), ask(missing));
                if a != b {
                    leaks.push(format!(
                        "{subject} check {permission} {existing}: {a:?} vs {missing}: {b:?}"
                    ));
                }
            }
        }
        // Expand, subject lookups and relationship reads answer alike too.
        for (existing, missing) in [
            (
                "/orgs/acme/sales/project-x",
                "/orgs/nosuchorg/sales/project-x",
            ),
            ("group:acme/eng", "group:nosuchorg/eng"),
        ] {
            let queries = [
                (
                    "/api/rebac/expand",
                    json!({"permission": "viewer", "object": existing}),
                    json!({"permission": "viewer", "object": missing}),
                ),
                (
                    "/api/rebac/lookup-subjects",
                    json!({"permission": "viewer", "object": existing, "subject_type": "user"}),
                    json!({"permission": "viewer", "object": missing, "subject_type": "user"}),
                ),
                (
                    "/api/rebac/relationships/read",
                    json!({"resource": existing}),
                    json!({"resource": missing}),
                ),
            ];
            for (route, one, other) in queries {
                let a = without_revision(&post(server, route, credential, &one));
                // The answer about the missing object, with its name written as the other's.
                let (status, body) = without_revision(&post(server, route, credential, &other));
                let b = (
                    status,
                    serde_json::from_str::<Value>(&body.to_string().replace("nosuchorg", "acme"))
                        .unwrap(),
                );
                if a.0 == 200 || a != b {
                    leaks.push(format!("{subject} {route} {existing}: {a:?} vs {b:?}"));
                }
            }
        }
        let listing = server.get("/api/ls/orgs", credential);
        if listing.text().contains("acme") {
            leaks.push(format!("{subject} lists /orgs: {}", listing.text()));
        }
    }
    leaks
}

/// An `org.json` missing a required field, or with an unknown or case-variant key,
/// is refused; the last admin cannot be removed, demoted or suspended.
#[test]
fn org_records_are_complete_and_keep_an_admin() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let (acme, etag) = record(&server, &alice, "acme");
    let mut variants = Vec::new();
    for field in ["members", "created_at", "name", "org_id"] {
        let mut without = acme.clone();
        without.as_object_mut().unwrap().remove(field);
        variants.push((format!("without {field}"), without));
    }
    let mut renamed = acme.clone();
    let members = renamed.as_object_mut().unwrap().remove("members").unwrap();
    renamed["Members"] = members;
    variants.push(("Members".to_owned(), renamed));
    let mut unknown = acme.clone();
    unknown["memberz"] = json!([]);
    variants.push(("unknown key".to_owned(), unknown));
    let mut unknown_member_key = acme.clone();
    unknown_member_key["members"][0]["Role"] = json!("member");
    variants.push(("unknown member key".to_owned(), unknown_member_key));
    for (what, body) in &variants {
        let refused = put_record(
            &server,
            &alice,
            "acme",
            &serde_json::to_vec(body).unwrap(),
            &etag,
        );
        assert_eq!(refused.status, 400, "{what}: {}", refused.text());
        assert_eq!(refused.code(), "invalid_input", "{what}");
    }
    // The last admin cannot be demoted, suspended or removed, by the record or the API.
    let mut demoted = acme.clone();
    demoted["members"][0]["role"] = json!("member");
    let mut suspended = acme.clone();
    suspended["members"][0]["status"] = json!("suspended");
    let mut dropped = acme.clone();
    dropped["members"] = json!([]);
    for (what, body) in [
        ("demoted", demoted),
        ("suspended", suspended),
        ("dropped", dropped),
    ] {
        let refused = put_record(
            &server,
            &alice,
            "acme",
            &serde_json::to_vec(&body).unwrap(),
            &etag,
        );
        assert_eq!(refused.status, 409, "{what}: {}", refused.text());
        assert!(refused.text().contains("last admin"), "{}", refused.text());
    }
    let removal = server.call(
        "DELETE",
        "/api/orgs/acme/members/alice@acme.com",
        &alice,
        None,
    );
    assert_eq!(removal.status, 409, "{}", removal.text());
    let by_system = server.call(
        "DELETE",
        "/api/orgs/acme/members/alice@acme.com",
        &server.admin_key,
        None,
    );
    assert_eq!(by_system.status, 409, "{}", by_system.text());
    // Nothing changed: alice still administers acme.
    assert_eq!(record(&server, &alice, "acme").1, etag);
    assert_eq!(server.get("/api/orgs/acme/members", &alice).status, 200);
    // With a second admin, the first may go.
    let added = add_member(
        &server,
        &alice,
        "acme",
        &json!({"user_id": "dana@acme.com", "role": "admin"}),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let removal = server.call(
        "DELETE",
        "/api/orgs/acme/members/alice@acme.com",
        &token("dana@acme.com"),
        None,
    );
    assert_eq!(removal.status, 200, "{}", removal.text());
}

/// The stable id of `handle`, as the system administrator sees it.
fn stable_id(server: &Server, handle: &str) -> String {
    let users = server.get("/api/users", &server.admin_key).json();
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["handle"] == handle)
        .unwrap_or_else(|| panic!("{handle} not registered: {users}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A stable id nobody has.
fn unused_id(server: &Server) -> String {
    let users = server.get("/api/users", &server.admin_key).text();
    ["u_zzzz", "u_zzzy", "u_zzzx"]
        .into_iter()
        .find(|id| !users.contains(id))
        .unwrap()
        .to_owned()
}

/// Granting to a stable id of another organization's user and to an id
/// nobody has are refused alike, naming only what the caller typed; repeated refusals are
/// rate-limited like failed authentication.
#[test]
fn refusals_do_not_enumerate_users_of_other_organizations() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_auth_failures: 30\n",
    ));
    let alice = token("alice@acme.com");
    let john_id = stable_id(&server, "john@techcorp.com");
    let nobody = unused_id(&server);
    let attempts = |subject: &str| -> Vec<(String, Response)> {
        vec![
            (
                "setfacl".to_owned(),
                post(
                    &server,
                    "/api/acl",
                    &alice,
                    &json!({"path": "/orgs/acme/sales", "entry": format!("user:{subject}:r--")}),
                ),
            ),
            (
                "relationships".to_owned(),
                post(
                    &server,
                    "/api/rebac/relationships",
                    &alice,
                    &json!({"updates": [{"operation": "touch", "subject": format!("user:{subject}"), "relation": "viewer", "object": "/orgs/acme/sales"}]}),
                ),
            ),
            (
                "add member".to_owned(),
                add_member(
                    &server,
                    &alice,
                    "acme",
                    &json!({"user_id": subject, "role": "member"}),
                ),
            ),
            (
                "create key".to_owned(),
                post(
                    &server,
                    "/api/keys",
                    &alice,
                    &json!({"principal": format!("user:{subject}")}),
                ),
            ),
        ]
    };
    let foreign = attempts(&john_id);
    let unknown = attempts(&nobody);
    for ((what, a), (_, b)) in foreign.iter().zip(&unknown) {
        assert!((400..500).contains(&a.status), "{what}: {}", a.text());
        let a_text = a.text().replace(&john_id, "ID");
        let b_text = b.text().replace(&nobody, "ID");
        let (a_shape, b_shape) = (without_revision(a), without_revision(b));
        assert_eq!(a_shape.0, b_shape.0, "{what}: {a_text} vs {b_text}");
        assert_eq!(
            a_shape.1.to_string().replace(&john_id, "ID"),
            b_shape.1.to_string().replace(&nobody, "ID"),
            "{what}"
        );
        assert!(
            !a_text.contains("john") && !a_text.contains("techcorp"),
            "{what}: {a_text}"
        );
    }
    // Other refusals name subjects as typed too, never by a stable id.
    let twice = json!({"updates": [{"operation": "create", "subject": "user:alice@acme.com", "relation": "viewer", "object": "/orgs/acme/sales"}]});
    assert_eq!(
        post(&server, "/api/rebac/relationships", &alice, &twice).status,
        200
    );
    let again = post(&server, "/api/rebac/relationships", &alice, &twice);
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(
        again.text().contains("user:alice@acme.com") && !again.text().contains("u_"),
        "{}",
        again.text()
    );
    // John is untouched: not a member of acme, no key made for him.
    assert_eq!(
        server
            .get("/api/ls/orgs/acme", &token("john@techcorp.com"))
            .status,
        404
    );
    // Probing further is rate-limited like failed authentication.
    let mut statuses = Vec::new();
    for n in 0..60 {
        let probe = post(
            &server,
            "/api/acl",
            &alice,
            &json!({"path": "/orgs/acme/sales", "entry": format!("user:u_{:04}:r--", n % 10_000)}),
        );
        statuses.push(probe.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = statuses
        .iter()
        .rev()
        .take(10)
        .filter(|status| **status == 429)
        .count();
    assert_eq!(limited, 10, "{statuses:?}");
    // Valid requests keep working.
    assert_eq!(server.get("/api/orgs/acme/members", &alice).status, 200);
}

/// The revision token a response carries (`revision` and `X-Nexus-Revision`).
fn revision_of(response: &Response) -> String {
    assert_eq!(response.status, 200, "{}", response.text());
    let header = response.header("x-nexus-revision").unwrap().to_owned();
    assert_eq!(response.json()["revision"].as_str(), Some(header.as_str()));
    header
}

/// What a caller sees of revisions changes only when its own organization changes;
/// a forged token, or one from another organization, is refused.
#[test]
fn revisions_reveal_nothing_of_other_organizations() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let john = token("john@techcorp.com");
    let seen = || revision_of(&server.get("/api/acl/orgs/acme/sales", &alice));
    let before = seen();
    // Another organization's activity does not move acme's revision.
    for n in 0..3 {
        let set = post(
            &server,
            "/api/acl",
            &john,
            &json!({"path": "/orgs/techcorp/product", "entry": format!("group:g{n}:r--")}),
        );
        assert_eq!(set.status, 200, "{}", set.text());
    }
    assert_eq!(seen(), before);
    let ready = server.request("GET", "/ready", &[], None);
    assert!(ready.json().get("revision").is_none(), "{}", ready.text());
    // Acme's own activity does.
    let set = post(
        &server,
        "/api/acl",
        &alice,
        &json!({"path": "/orgs/acme/sales", "entry": "group:eng:r--"}),
    );
    let written = revision_of(&set);
    assert_ne!(written, before);
    assert_eq!(seen(), written);
    // The token is accepted back for "at least as fresh as".
    let check = |credential: &str, at_least: Value| {
        post(
            &server,
            "/api/rebac/check",
            credential,
            &json!({
                "subject": "user:alice@acme.com", "permission": "read", "object": "/orgs/acme/sales", "at_least": at_least
            }),
        )
    };
    let fresh = check(&alice, json!(written));
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    assert_eq!(fresh.json()["allowed"], true);
    // Forged and foreign tokens are refused with a clear error.
    let mut forged = written.clone().into_bytes();
    let middle = forged.len() / 2;
    forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for (what, credential, token) in [
        ("forged", alice.as_str(), json!(forged)),
        ("made up", alice.as_str(), json!("r1.hello")),
        ("a bare number", alice.as_str(), json!(3)),
    ] {
        let refused = check(credential, token);
        assert_eq!(refused.status, 400, "{what}: {}", refused.text());
        assert!(
            refused.text().contains("revision"),
            "{what}: {}",
            refused.text()
        );
    }
    let john_check = post(
        &server,
        "/api/rebac/check",
        &john,
        &json!({
            "subject": "user:john@techcorp.com", "permission": "read", "object": "/orgs/techcorp/product", "at_least": written
        }),
    );
    assert_eq!(john_check.status, 400, "{}", john_check.text());
    assert!(
        john_check.text().contains("another organization"),
        "{}",
        john_check.text()
    );
}

/// `iss` and `sub` must be strings; `aud` may be a string or an array.
#[test]
fn token_claims_have_their_types() {
    let server = Server::start(&config_with_issuer());
    let sign = |extra: Value| sign_raw(HEADER, &claims(&extra), SECRET.as_bytes());
    assert_eq!(server.get("/api/whoami", &sign(json!({}))).status, 200);
    assert_eq!(
        server
            .get("/api/whoami", &sign(json!({"aud": ["other", "nexus"]})))
            .status,
        200
    );
    for extra in [
        json!({"iss": ["https://evil", "https://idp.example"]}),
        json!({"iss": {"x": "https://idp.example"}}),
        json!({"sub": ["alice@acme.com"]}),
        json!({"sub": 7}),
        json!({"aud": 5}),
    ] {
        let response = server.get("/api/whoami", &sign(extra.clone()));
        assert_eq!(response.status, 401, "{extra}: {}", response.text());
    }
}

/// List cursors are tamper-evident and bound to their listing.
#[test]
fn list_cursors_cannot_be_forged() {
    use base64::Engine as _;
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let first = server.get("/api/ls/orgs/acme?limit=1", &alice);
    assert_eq!(first.status, 200, "{}", first.text());
    let cursor = first.json()["next_cursor"].as_str().unwrap().to_owned();
    let second = server.get(
        &format!("/api/ls/orgs/acme?limit=1&cursor={cursor}"),
        &alice,
    );
    assert_eq!(second.status, 200, "{}", second.text());
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let hand_made = engine.encode(br#"{"v":1,"d":"/orgs/acme","r":false,"a":"/orgs/acme/sales"}"#);
    let mut flipped = cursor.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for (what, path) in [
        (
            "hand-made",
            format!("/api/ls/orgs/acme?limit=1&cursor={hand_made}"),
        ),
        (
            "tampered",
            format!("/api/ls/orgs/acme?limit=1&cursor={flipped}"),
        ),
        (
            "other listing",
            format!("/api/ls/orgs/acme/sales?limit=1&cursor={cursor}"),
        ),
        (
            "other recursion",
            format!("/api/ls/orgs/acme?limit=1&recursive=true&cursor={cursor}"),
        ),
    ] {
        let refused = server.get(&path, &alice);
        assert_eq!(refused.status, 400, "{what}: {}", refused.text());
        assert_eq!(refused.code(), "invalid_input", "{what}");
    }
    // Another caller cannot continue alice's listing either.
    let john = token("john@techcorp.com");
    let foreign = server.get(&format!("/api/ls/orgs?limit=1&cursor={cursor}"), &john);
    assert_eq!(foreign.status, 400, "{}", foreign.text());
}

/// Any range of an empty file is unsatisfiable.
#[test]
fn ranges_of_an_empty_file_are_unsatisfiable() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let auth = format!("Bearer {alice}");
    let created = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/empty.txt",
        &[("Authorization", &auth)],
        Some(b""),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    for range in ["bytes=0-0", "bytes=-1", "bytes=0-"] {
        let response = server.request(
            "GET",
            "/api/fs/orgs/acme/sales/empty.txt",
            &[("Authorization", &auth), ("Range", range)],
            None,
        );
        assert_eq!(response.status, 416, "{range}: {}", response.text());
        assert_eq!(
            response.header("content-range"),
            Some("bytes */0"),
            "{range}"
        );
        assert_eq!(response.code(), "range_not_satisfiable");
    }
    let whole = server.request(
        "GET",
        "/api/fs/orgs/acme/sales/empty.txt",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(whole.status, 200);
    assert!(whole.body.is_empty());
}

/// Every error is the JSON envelope, the framework's own included; unknown
/// routes are 404 with or without credentials.
#[test]
fn every_error_is_the_json_envelope() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let auth = format!("Bearer {alice}");
    let cases: Vec<Case<'_>> = vec![
        (
            "PATCH",
            "/api/fs/orgs/acme/sales/context.json",
            vec![("Authorization", &auth)],
            405,
        ),
        ("POST", "/api/whoami", vec![("Authorization", &auth)], 405),
        ("DELETE", "/health", vec![], 405),
        (
            "GET",
            "/api/fs/orgs/acme/%c0%ae%c0%ae/x",
            vec![("Authorization", &auth)],
            400,
        ),
        (
            "GET",
            "/api/stat/orgs/acme/%ff",
            vec![("Authorization", &auth)],
            400,
        ),
        (
            "GET",
            "/api/no-such-route",
            vec![("Authorization", &auth)],
            404,
        ),
        ("GET", "/api/no-such-route", vec![], 404),
        ("GET", "/nothing-here", vec![], 404),
    ];
    for (method, path, headers, status) in cases {
        let response = server.request(method, path, &headers, None);
        assert_eq!(
            response.status,
            status,
            "{method} {path}: {}",
            response.text()
        );
        let body = response.json();
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{method} {path}: {body}"
        );
        assert!(
            body["error"]["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{body}"
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
    }
    let not_allowed = server.request(
        "PATCH",
        "/api/fs/orgs/acme/x",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(not_allowed.code(), "method_not_allowed");
    assert!(not_allowed.header("allow").is_some());
}

/// A workspace member cannot remove, move or rename the workspace; a workspace
/// recreated under its id gets back the roles `org.json` gives on it.
#[test]
fn workspace_roots_need_manage_and_keep_their_roles() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let added = add_member(
        &server,
        &alice,
        "acme",
        &json!({"user_id": "bob@acme.com", "role": "member", "workspaces": ["sales"]}),
    );
    assert_eq!(added.status, 201);
    let bob = token("bob@acme.com");
    let auth = format!("Bearer {bob}");
    // Bob can write in sales.
    let own = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/documents/bob.md",
        &[("Authorization", &auth)],
        Some(b"mine"),
    );
    assert_eq!(own.status, 201, "{}", own.text());
    for (what, response) in [
        (
            "rm -r",
            server.call(
                "DELETE",
                "/api/fs/orgs/acme/sales?recursive=true",
                &bob,
                None,
            ),
        ),
        (
            "mv",
            post(
                &server,
                "/api/mv",
                &bob,
                &json!({"from": "/orgs/acme/sales", "to": "/orgs/acme/sales2"}),
            ),
        ),
        (
            "rm shared",
            server.call(
                "DELETE",
                "/api/fs/orgs/acme/shared?recursive=true",
                &bob,
                None,
            ),
        ),
        (
            "rm org.json",
            server.call("DELETE", "/api/fs/orgs/acme/org.json", &bob, None),
        ),
    ] {
        assert!(
            matches!(response.status, 400 | 403 | 404),
            "{what}: {} {}",
            response.status,
            response.text()
        );
    }
    assert_eq!(server.get("/api/stat/orgs/acme/sales", &alice).status, 200);
    assert_eq!(
        server
            .get("/api/fs/orgs/acme/sales/documents/bob.md", &bob)
            .status,
        200
    );
    // Inside the workspace bob still removes what he may write.
    assert_eq!(
        server
            .call(
                "DELETE",
                "/api/fs/orgs/acme/sales/documents/bob.md",
                &bob,
                None
            )
            .status,
        200
    );
    // The admin may remove it; recreated, bob's role from org.json applies again.
    let removed = server.call(
        "DELETE",
        "/api/fs/orgs/acme/sales?recursive=true",
        &alice,
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        server
            .call("POST", "/api/mkdir/orgs/acme/sales", &alice, None)
            .status,
        201
    );
    let again = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/notes.md",
        &[("Authorization", &auth)],
        Some(b"back"),
    );
    assert_eq!(again.status, 201, "{}", again.text());
    // Moving the workspace away leaves the record's roles on `sales`, not on the moved
    // folder; a folder moved (back) to `sales` has them again.
    let moved = post(
        &server,
        "/api/mv",
        &alice,
        &json!({"from": "/orgs/acme/sales", "to": "/orgs/acme/sales-old"}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert!(matches!(
        server
            .get("/api/fs/orgs/acme/sales-old/notes.md", &bob)
            .status,
        403 | 404
    ));
    let back = post(
        &server,
        "/api/mv",
        &alice,
        &json!({"from": "/orgs/acme/sales-old", "to": "/orgs/acme/sales"}),
    );
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(
        server.get("/api/fs/orgs/acme/sales/notes.md", &bob).status,
        200
    );
    // And the record's later edits still govern it: dropping sales from bob's list revokes.
    let (mut acme, etag) = record(&server, &alice, "acme");
    for member in acme["members"].as_array_mut().unwrap() {
        if member["user_id"] == "bob@acme.com" {
            member["workspaces"] = json!([]);
        }
    }
    let written = put_record(
        &server,
        &alice,
        "acme",
        &serde_json::to_vec(&acme).unwrap(),
        &etag,
    );
    assert_eq!(written.status, 200, "{}", written.text());
    assert_eq!(
        server.get("/api/fs/orgs/acme/sales/notes.md", &bob).status,
        404
    );
}

/// Reserved words are no handles or subjects; bodies must be objects; a refused
/// grant registers nobody and names what was typed.
#[test]
fn reserved_names_and_non_object_bodies_are_refused() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    for name in ["system", "System", "UNIV", "anonymous", "*"] {
        let refused = add_member(
            &server,
            &alice,
            "acme",
            &json!({"user_id": name, "role": "member"}),
        );
        assert_eq!(refused.status, 400, "{name}: {}", refused.text());
        let as_subject = server.get("/api/whoami", &token(name));
        assert_eq!(as_subject.status, 401, "{name}: {}", as_subject.text());
    }
    let system_token = server.get("/api/whoami", &token_with("system", &json!({})));
    assert_eq!(system_token.status, 401);
    for body in [&b"[]"[..], b"\"x\"", b"7", b"null"] {
        let refused = server.request(
            "POST",
            "/api/keys",
            &[("Authorization", &format!("Bearer {alice}"))],
            Some(body),
        );
        assert_eq!(
            refused.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            refused.text()
        );
    }
    assert_eq!(server.get("/api/keys", &alice).json()["keys"], json!([]));
    // An organization admin granting to an unknown handle is refused; the error names the
    // handle as typed (not a stable id made up for it), and nobody is registered.
    let refused = post(
        &server,
        "/api/acl",
        &alice,
        &json!({"path": "/orgs/acme/sales", "entry": "user:newcomer@acme.com:r--"}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("user:newcomer@acme.com"),
        "{}",
        refused.text()
    );
    assert!(!refused.text().contains("u_"), "{}", refused.text());
    let users = server.get("/api/users", &server.admin_key).text();
    assert!(!users.contains("newcomer"), "{users}");
}

/// A body over the limit is a 413 envelope naming the limit and its setting, every
/// time (the CLI's side is in the CLI's tests).
#[test]
fn oversize_uploads_get_a_413_that_says_why() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_body_bytes: 65536\n",
    ));
    let alice = token("alice@acme.com");
    let big = vec![b'x'; 2 * 1024 * 1024];
    for _ in 0..5 {
        let response = server.request(
            "PUT",
            "/api/fs/orgs/acme/sales/big.bin",
            &[("Authorization", &format!("Bearer {alice}"))],
            Some(&big),
        );
        assert_eq!(response.status, 413, "{}", response.text());
        assert_eq!(response.code(), "payload_too_large");
        assert!(
            response.text().contains("65536") && response.text().contains("limits.max_body_bytes"),
            "{}",
            response.text()
        );
    }
}

/// A refused token says which check failed, and never echoes the token.
#[test]
fn token_refusals_say_which_check_failed() {
    let server = Server::start(&config_with_issuer());
    let cases = [
        (
            "expired",
            sign_raw(
                HEADER,
                &claims(&json!({"exp": now() - 3600})),
                SECRET.as_bytes(),
            ),
        ),
        (
            "not yet valid",
            sign_raw(
                HEADER,
                &claims(&json!({"nbf": now() + 3600})),
                SECRET.as_bytes(),
            ),
        ),
        (
            "signature",
            sign_raw(
                HEADER,
                &claims(&json!({})),
                b"another-secret-0123456789abcdef0123",
            ),
        ),
        (
            "issuer",
            sign_raw(
                HEADER,
                &claims(&json!({"iss": "https://evil"})),
                SECRET.as_bytes(),
            ),
        ),
        (
            "audience",
            sign_raw(HEADER, &claims(&json!({"aud": "other"})), SECRET.as_bytes()),
        ),
        (
            "`exp`",
            sign_raw(HEADER, &claims(&json!({"exp": null})), SECRET.as_bytes()),
        ),
    ];
    for (expected, credential) in cases {
        let response = server.get("/api/whoami", &credential);
        assert_eq!(response.status, 401, "{expected}");
        let message = response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(expected), "{expected}: {message}");
        let signature = credential.rsplit('.').next().unwrap();
        assert!(
            !response.text().contains(signature),
            "token echoed: {message}"
        );
        assert!(!response.text().contains(SECRET));
    }
}

/// The OpenAPI document and an interactive reference are served without
/// credentials, from assets inside the binary.
#[test]
fn api_docs_are_browsable_without_credentials() {
    let server = Server::start(&seed_config());
    let spec = server.request("GET", "/api/openapi.json", &[], None);
    assert_eq!(spec.status, 200, "{}", spec.text());
    assert!(spec.json()["openapi"].as_str().unwrap().starts_with("3.1"));
    let page = server.request("GET", "/docs", &[], None);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text();
    assert!(
        !html.contains("https://"),
        "the page loads something from the internet: {html}"
    );
    // Every script and style the page loads is served by the server itself, and one of
    // them points the reference at the document.
    let mut points_at_document = false;
    for reference in html.split("src=\"").chain(html.split("href=\"")).skip(1) {
        let path = reference.split('"').next().unwrap();
        if !path.starts_with('/') {
            continue;
        }
        let asset = http(server.address, "GET", path, &[], None);
        assert_eq!(asset.status, 200, "{path}");
        assert!(!asset.body.is_empty(), "{path}");
        points_at_document |= asset.text().contains("/api/openapi.json");
    }
    assert!(points_at_document, "{html}");
    let bundle = http(
        server.address,
        "GET",
        "/docs/swagger-ui-bundle.js",
        &[],
        None,
    );
    assert!(bundle.body.len() > 100_000, "{}", bundle.body.len());
    assert!(
        page.header("content-security-policy")
            .is_some_and(|policy| policy.contains("default-src 'none'"))
    );
}

/// `settings.retention_policy` is enforced: conversation files older than the
/// policy are removed by the server's sweeper (logged, counted in metrics); other files stay;
/// an invalid duration is refused when `org.json` is written.
#[test]
fn retention_policies_remove_old_conversations() {
    let config = seed_config()
        .replace(
            "    name: Acme Corp\n",
            "    name: Acme Corp\n    settings:\n      retention_policy:\n        conversations: 3s\n        sessions: 30d\n",
        )
        .replace("backend: local\n", "backend: local\nretention:\n  sweep_interval_secs: 1\n");
    let server = Server::start(&config);
    let alice = token("alice@acme.com");
    let auth = format!("Bearer {alice}");
    for path in [
        "/api/fs/orgs/acme/sales/conversations/old.md",
        "/api/fs/orgs/acme/sales/documents/keep.md",
    ] {
        let written = server.request("PUT", path, &[("Authorization", &auth)], Some(b"x"));
        assert_eq!(written.status, 201, "{}", written.text());
    }
    let mut gone = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if server
            .get("/api/fs/orgs/acme/sales/conversations/old.md", &alice)
            .status
            == 404
        {
            gone = true;
            break;
        }
    }
    assert!(gone, "the expired conversation is still there after 10 s");
    assert_eq!(
        server
            .get("/api/fs/orgs/acme/sales/documents/keep.md", &alice)
            .status,
        200
    );
    let metrics = server.get("/metrics", &server.admin_key).text();
    let removed: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("nexus_retention_removed_total "))
        .and_then(|value| value.parse().ok())
        .unwrap();
    assert!(removed >= 1, "{metrics}");
    // Invalid policies are refused at write time and change nothing.
    let (acme, etag) = record(&server, &alice, "acme");
    for bad in [json!("90 days"), json!(90), json!("0d"), json!("-1d")] {
        let mut changed = acme.clone();
        changed["settings"]["retention_policy"]["conversations"] = bad.clone();
        let refused = put_record(
            &server,
            &alice,
            "acme",
            &serde_json::to_vec(&changed).unwrap(),
            &etag,
        );
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text());
        assert!(
            refused.text().contains("retention_policy"),
            "{}",
            refused.text()
        );
    }
    assert_eq!(record(&server, &alice, "acme").1, etag);
}
