//! Bad input gets a 4xx JSON error and changes nothing; identity comes only from
//! credentials (spoofed headers and body fields have no effect).

use serde_json::json;

use crate::harness::{Api, Server, seed_config, token};

#[test]
fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_body_bytes: 4096\n",
    ));
    let alice = token("alice@acme.com");
    let auth = format!("Bearer {alice}");
    let before = server.get("/api/orgs/acme/org.json", &alice).text();
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("POST", "/api/orgs/acme/members", b"{not json".to_vec()),
        ("POST", "/api/orgs/acme/members", b"[]".to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": 5}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "role": "root"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "owner": "me"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "User_id": "y@y.z"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "user_id": "y@y.z"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z"} trailing"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "UNIV"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "u_zzzz"}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "workspaces": ["nope"]}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", br#"{"user_id": "x@y.z", "workspaces": ["../engineering"]}"#.to_vec()),
        ("POST", "/api/orgs/acme/members", format!("{{\"user_id\": \"{}\"}}", "a".repeat(5000)).into_bytes()),
        ("POST", "/api/orgs/acme/members", "[".repeat(10_000).into_bytes()),
        ("POST", "/api/acl", br#"{"path": "/orgs/acme/sales", "entry": "user:x"}"#.to_vec()),
        ("POST", "/api/acl", br#"{"path": "/orgs/acme/../techcorp", "entry": "user:alice@acme.com:rwx"}"#.to_vec()),
        ("POST", "/api/rebac/relationships", br#"{"updates": []}"#.to_vec()),
        ("POST", "/api/rebac/relationships", br#"{"updates": [{"operation": "explode", "relationship": "file:/orgs/acme#viewer@user:x"}]}"#.to_vec()),
        ("POST", "/api/rebac/relationships", br#"{"updates": [{"operation": "touch", "relationship": "file:/orgs/acme#parent@file:*"}]}"#.to_vec()),
        ("POST", "/api/rebac/check", br#"{"subject": "user", "permission": "read", "object": "/orgs/acme"}"#.to_vec()),
        ("POST", "/api/mv", br#"{"from": "/orgs/acme/sales", "to": "/orgs/techcorp/sales"}"#.to_vec()),
        ("POST", "/api/glob", br#"{"pattern": "/orgs/acme/[", "limit": 5}"#.to_vec()),
        ("POST", "/api/grep", br#"{"pattern": "(", "path": "/orgs/acme"}"#.to_vec()),
        ("POST", "/api/keys", br#"{"principal": "root"}"#.to_vec()),
    ];
    for (method, path, body) in &bodies {
        let response = server.request(method, path, &[("Authorization", &auth)], Some(body));
        assert!(
            (400..500).contains(&response.status),
            "{method} {path} {}: {} {}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            response.status,
            response.text()
        );
        let error = &response.json()["error"];
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{}",
            response.text()
        );
        assert!(
            error["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }
    // Oversize bodies are 413.
    let big = vec![b'x'; 10_000];
    let oversize = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/big",
        &[("Authorization", &auth)],
        Some(&big),
    );
    assert_eq!(oversize.status, 413, "{}", oversize.text());
    // Invalid paths.
    for path in [
        "/api/fs/orgs/acme/sales/%00x",
        "/api/fs/orgs/acme/sales/a%0Ab",
        "/api/fs/orgs/acme//sales",
        "/api/fs/orgs/acme/./sales/context.json",
        "/api/fs/orgs/acme/sales/../engineering/context.json",
        "/api/fs/etc/passwd",
        "/api/fs/orgs/acme/sales/context.json?version=abc",
        "/api/ls/orgs/acme?limit=-1",
        "/api/ls/orgs/acme?limit=0",
        "/api/ls/orgs/acme?cursor=forged",
    ] {
        let response = server.get(path, &alice);
        assert!(
            (400..500).contains(&response.status),
            "{path}: {} {}",
            response.status,
            response.text()
        );
    }
    // Nothing changed, and the server is healthy.
    assert_eq!(server.get("/api/orgs/acme/org.json", &alice).text(), before);
    assert_eq!(server.request("GET", "/health", &[], None).status, 200);
    assert_eq!(
        server.get("/api/stat/orgs/acme/sales/big", &alice).status,
        404
    );
}

/// T2: headers and body fields that try to name an identity or organization are ignored or
/// refused on every kind of route.
#[test]
fn identity_comes_only_from_credentials() {
    let server = Server::start(&seed_config());
    let alice = token("alice@acme.com");
    let john = token("john@techcorp.com");
    let spoofs: Vec<(&str, &str)> = vec![
        ("X-Org-Id", "acme"),
        ("X-Tenant-Id", "acme"),
        ("X-Zone-Id", "acme"),
        ("X-User-Id", "alice@acme.com"),
        ("X-Forwarded-User", "alice@acme.com"),
        ("X-Middleware-Subrequest", "middleware"),
        ("X-Nexus-Principal", "system"),
        ("X-Forwarded-For", "127.0.0.1"),
    ];
    let auth = format!("Bearer {john}");
    for (name, value) in &spoofs {
        for (method, path, body) in [
            ("GET", "/api/orgs/acme/sales/context.json?org=acme", None),
            ("GET", "/api/orgs/acme/members", None),
            ("GET", "/api/ls/orgs/acme", None),
            ("PUT", "/api/fs/orgs/acme/sales/x.md", Some(b"x".as_slice())),
            (
                "POST",
                "/api/orgs/acme/members",
                Some(br#"{"user_id": "john@techcorp.com"}"#.as_slice()),
            ),
            ("DELETE", "/api/orgs/acme/members/alice@acme.com", None),
        ] {
            let response = server.request(
                method,
                path,
                &[("Authorization", &auth), (name, value)],
                body,
            );
            assert_eq!(
                response.status,
                404,
                "{name} on {method} {path}: {}",
                response.text()
            );
        }
        // Without credentials, a spoofed identity is still nobody.
        let anonymous = server.request("GET", "/api/orgs/acme/members", &[(name, value)], None);
        assert_eq!(anonymous.status, 401, "{name}");
    }
    // Mass assignment: identity fields in bodies are refused, not applied.
    for field in ["org_id", "owner", "created_by", "is_admin", "added_by"] {
        let body = json!({"user_id": "eve@acme.com", field: "john@techcorp.com"});
        let response = server.call("POST", "/api/orgs/acme/members", &alice, Some(&body));
        assert_eq!(response.status, 400, "{field}: {}", response.text());
    }
    let record = server.get("/api/orgs/acme/org.json", &alice).text();
    assert!(
        !record.contains("john") && !record.contains("eve"),
        "{record}"
    );
}
