//! The JWT and API-key attack list (RELIABILITY.md J/K): every forgery gets 401 with
//! `WWW-Authenticate`, and a valid control token gets 200.

use std::net::TcpListener;

use serde_json::json;

use crate::harness::{Api, SECRET, Server, b64, now, seed_config, sign_raw, token, token_with};

pub(crate) fn config_with_issuer() -> String {
    seed_config().replace(
        "  jwt_algorithm: HS256\n",
        "  jwt_algorithm: HS256\n  issuer: https://idp.example\n  audience: nexus\n",
    )
}

pub(crate) fn claims(extra: &serde_json::Value) -> String {
    let mut claims = json!({"sub": "alice@acme.com", "exp": now() + 600, "iss": "https://idp.example", "aud": "nexus"});
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims.to_string()
}

pub(crate) const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[test]
fn forged_and_malformed_tokens_are_refused() {
    let server = Server::start(&config_with_issuer());
    let path = "/api/orgs/acme/sales/context.json";
    let valid = sign_raw(HEADER, &claims(&json!({})), SECRET.as_bytes());
    assert_eq!(
        server.get(path, &valid).status,
        200,
        "control token refused"
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let trap = format!("http://{}/keys", listener.local_addr().unwrap());

    let good_claims = claims(&json!({}));
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let mut forgeries: Vec<(String, String)> = Vec::new();
    // J1: alg none in every spelling, empty signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        forgeries.push((
            format!("J1 {alg}"),
            format!(
                "{}.{}.",
                b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes()),
                b64(good_claims.as_bytes())
            ),
        ));
    }
    // J3: algorithms outside the pinned one (signed with the secret where it is an HMAC).
    for alg in ["HS384", "HS512", "RS256", "ES256", "PS256", "ES256K"] {
        forgeries.push((
            format!("J3 {alg}"),
            sign_raw(
                &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#),
                &good_claims,
                SECRET.as_bytes(),
            ),
        ));
    }
    // J4: signature removed, truncated, flipped; padded base64.
    forgeries.push(("J4 removed".into(), format!("{head}.{payload}.")));
    forgeries.push(("J4 no dot".into(), format!("{head}.{payload}")));
    forgeries.push((
        "J4 truncated".into(),
        format!("{head}.{payload}.{}", &signature[..signature.len() - 4]),
    ));
    forgeries.push(("J4 flipped".into(), format!("{head}.{payload}.{flipped}")));
    forgeries.push(("J4 padded".into(), format!("{head}.{payload}.{signature}=")));
    forgeries.push((
        "J4 padded header".into(),
        format!("{head}==.{payload}.{signature}"),
    ));
    // Wrong key.
    forgeries.push((
        "wrong key".into(),
        sign_raw(HEADER, &good_claims, b"another-secret-0123456789abcdef0123"),
    ));
    // J5: expiry.
    for (name, value) in [
        ("expired", json!(now() - 31 - 1)),
        ("missing", serde_json::Value::Null),
        ("string", json!("9999999999")),
        ("huge", json!(1e20)),
        ("negative", json!(-5)),
    ] {
        forgeries.push((
            format!("J5 exp {name}"),
            sign_raw(HEADER, &claims(&json!({"exp": value})), SECRET.as_bytes()),
        ));
    }
    // J6: not yet valid / issued in the future.
    forgeries.push((
        "J6 nbf".into(),
        sign_raw(
            HEADER,
            &claims(&json!({"nbf": now() + 120})),
            SECRET.as_bytes(),
        ),
    ));
    forgeries.push((
        "J6 iat".into(),
        sign_raw(
            HEADER,
            &claims(&json!({"iat": now() + 120})),
            SECRET.as_bytes(),
        ),
    ));
    // J7 / J8: issuer and audience.
    forgeries.push((
        "J7 wrong iss".into(),
        sign_raw(
            HEADER,
            &claims(&json!({"iss": "https://evil.example"})),
            SECRET.as_bytes(),
        ),
    ));
    forgeries.push((
        "J7 missing iss".into(),
        sign_raw(HEADER, &claims(&json!({"iss": null})), SECRET.as_bytes()),
    ));
    forgeries.push((
        "J8 wrong aud".into(),
        sign_raw(HEADER, &claims(&json!({"aud": "other"})), SECRET.as_bytes()),
    ));
    forgeries.push((
        "J8 missing aud".into(),
        sign_raw(HEADER, &claims(&json!({"aud": null})), SECRET.as_bytes()),
    ));
    forgeries.push((
        "J8 foreign array".into(),
        sign_raw(
            HEADER,
            &claims(&json!({"aud": ["a", "b"]})),
            SECRET.as_bytes(),
        ),
    ));
    forgeries.push((
        "J8 empty array".into(),
        sign_raw(HEADER, &claims(&json!({"aud": []})), SECRET.as_bytes()),
    ));
    // J9: kid never selects a key: path traversal to an empty key, SQL, oversize.
    forgeries.push((
        "J9 kid /dev/null".into(),
        sign_raw(
            r#"{"alg":"HS256","kid":"../../../../dev/null"}"#,
            &good_claims,
            b"",
        ),
    ));
    forgeries.push((
        "J9 kid sql".into(),
        sign_raw(r#"{"alg":"HS256","kid":"' OR '1'='1"}"#, &good_claims, b""),
    ));
    forgeries.push((
        "J9 kid 10KB".into(),
        sign_raw(
            &format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(10_240)),
            &good_claims,
            SECRET.as_bytes(),
        ),
    ));
    // J10: key URLs and embedded keys are never used.
    let attacker = b"attacker-key-0123456789abcdef0123456789";
    forgeries.push((
        "J10 jku".into(),
        sign_raw(
            &format!(r#"{{"alg":"HS256","jku":"{trap}"}}"#),
            &good_claims,
            attacker,
        ),
    ));
    forgeries.push((
        "J10 x5u".into(),
        sign_raw(
            &format!(r#"{{"alg":"HS256","x5u":"{trap}"}}"#),
            &good_claims,
            attacker,
        ),
    ));
    forgeries.push((
        "J10 jwk".into(),
        sign_raw(
            &format!(
                r#"{{"alg":"HS256","jwk":{{"kty":"oct","k":"{}"}}}}"#,
                b64(attacker)
            ),
            &good_claims,
            attacker,
        ),
    ));
    // J11: critical extensions (validly signed).
    forgeries.push((
        "J11 crit".into(),
        sign_raw(
            r#"{"alg":"HS256","crit":["exp2"],"exp2":1}"#,
            &good_claims,
            SECRET.as_bytes(),
        ),
    ));
    // J12: not an access token.
    for typ in ["JWT+id", "refresh+jwt", "id_token"] {
        forgeries.push((
            format!("J12 typ {typ}"),
            sign_raw(
                &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
                &good_claims,
                SECRET.as_bytes(),
            ),
        ));
    }
    // J13: duplicate members (validly signed).
    let duplicate = good_claims.replacen('{', r#"{"sub":"john@techcorp.com","#, 1);
    forgeries.push((
        "J13 payload".into(),
        sign_raw(HEADER, &duplicate, SECRET.as_bytes()),
    ));
    forgeries.push((
        "J13 header".into(),
        sign_raw(
            r#"{"alg":"HS256","alg":"none"}"#,
            &good_claims,
            SECRET.as_bytes(),
        ),
    ));
    // J16: oversize.
    forgeries.push((
        "J16 16KiB".into(),
        format!("{valid}{}", "A".repeat(16 * 1024)),
    ));
    // Unknown subject, garbage.
    forgeries.push((
        "unknown sub".into(),
        sign_raw(
            HEADER,
            &claims(&json!({"sub": "mallory@evil.com"})),
            SECRET.as_bytes(),
        ),
    ));
    forgeries.push(("garbage".into(), "not-a-token".into()));
    forgeries.push((
        "fake API key".into(),
        "nx_0000000000000000000000000000000000000000000000000000000000000000".into(),
    ));

    for (name, forged) in &forgeries {
        let response = server.get(path, forged);
        assert!(
            matches!(response.status, 401 | 431),
            "{name}: accepted with {} {}",
            response.status,
            response.text()
        );
        if response.status == 401 {
            assert!(
                response.header("www-authenticate").is_some(),
                "{name}: no challenge"
            );
            assert_eq!(response.code(), "unauthenticated", "{name}");
        }
    }
    // J10: nobody fetched the attacker's key URL.
    assert!(
        listener.accept().is_err(),
        "the server connected to a key URL"
    );

    // J18: tokens in the query string are refused, even valid ones.
    let query = server.request("GET", &format!("{path}?access_token={valid}"), &[], None);
    assert_eq!(query.status, 401);
    // J19: two Authorization headers.
    let auth = format!("Bearer {valid}");
    let twice = server.request(
        "GET",
        path,
        &[("Authorization", &auth), ("Authorization", &auth)],
        None,
    );
    assert_eq!(twice.status, 400);
    // Other schemes.
    let basic = server.request(
        "GET",
        path,
        &[("Authorization", "Basic YWxpY2U6cGFzcw==")],
        None,
    );
    assert_eq!(basic.status, 401);
    // The control still works after all that.
    assert_eq!(server.get(path, &valid).status, 200);
}

/// Tokens may name users by stable id or handle, and agents as `agent:<id>`.
#[test]
fn token_subjects_are_handles_or_stable_ids() {
    let server = Server::start(&seed_config());
    let me = server.get("/api/whoami", &token("alice@acme.com")).json();
    let id = me["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("u_") && id.len() == 6, "{id}");
    let by_id = server.get("/api/whoami", &token(&id)).json();
    assert_eq!(by_id["handle"], "alice@acme.com");
    assert_eq!(by_id["orgs"], json!(["acme"]));
    // Every route except health, ready and the API's description needs credentials;
    // unknown routes are 404 for everyone.
    for path in ["/api/whoami", "/api/ls/orgs", "/api/orgs", "/api/keys"] {
        let response = server.request("GET", path, &[], None);
        assert_eq!(response.status, 401, "{path}");
    }
    assert_eq!(
        server.request("GET", "/api/openapi.json", &[], None).status,
        200
    );
    assert_eq!(server.request("GET", "/api/nope", &[], None).status, 404);
    let _ = token_with("x", &json!({}));
}

/// RS256 and ES256 with a configured public key: tokens signed with the private key are
/// accepted; HS256 tokens "signed" with the public key (key confusion, J2), other
/// algorithms and other keys are refused.
#[test]
fn public_key_algorithms_accept_their_key_only() {
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/keys");
    for (algorithm, private, public, jwt_algorithm) in [
        (
            "RS256",
            "rsa-private.pem",
            "rsa-public.pem",
            jsonwebtoken::Algorithm::RS256,
        ),
        (
            "ES256",
            "ec-private.pem",
            "ec-public.pem",
            jsonwebtoken::Algorithm::ES256,
        ),
    ] {
        let public_path = keys.join(public);
        let config = seed_config().replace(
            "  jwt_secret: ${JWT_SECRET}\n  jwt_algorithm: HS256\n",
            &format!(
                "  jwt_algorithm: {algorithm}\n  jwt_public_key_file: {}\n",
                public_path.display()
            ),
        );
        let server = Server::start(&config);
        let private_pem = std::fs::read(keys.join(private)).unwrap();
        let encoding = if algorithm == "RS256" {
            jsonwebtoken::EncodingKey::from_rsa_pem(&private_pem).unwrap()
        } else {
            jsonwebtoken::EncodingKey::from_ec_pem(&private_pem).unwrap()
        };
        let claims = json!({"sub": "alice@acme.com", "exp": now() + 600});
        let valid = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jwt_algorithm),
            &claims,
            &encoding,
        )
        .unwrap();
        let path = "/api/orgs/acme/sales/context.json";
        assert_eq!(
            server.get(path, &valid).status,
            200,
            "{algorithm} control token refused"
        );

        let public_pem = std::fs::read(&public_path).unwrap();
        let confused = sign_raw(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims.to_string(),
            &public_pem,
        );
        assert_eq!(
            server.get(path, &confused).status,
            401,
            "{algorithm}: J2 key confusion accepted"
        );
        let hs = sign_raw(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims.to_string(),
            SECRET.as_bytes(),
        );
        assert_eq!(
            server.get(path, &hs).status,
            401,
            "{algorithm}: HS256 accepted"
        );
        let (head, rest) = valid.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let other_payload = b64(json!({"sub": "john@techcorp.com", "exp": now() + 600})
            .to_string()
            .as_bytes());
        assert_eq!(
            server
                .get(path, &format!("{head}.{other_payload}.{signature}"))
                .status,
            401,
            "{algorithm}: signature reused on another payload"
        );
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none"}"#));
        assert_eq!(server.get(path, &none).status, 401);
        // J17: an ECDSA signature with r = s = 0 (and the RSA equivalent, all zero bytes).
        let zero = format!("{head}.{payload}.{}", b64(&[0u8; 64]));
        assert_eq!(
            server.get(path, &zero).status,
            401,
            "{algorithm}: zero signature accepted"
        );
    }
}

/// K5: a client sending many bad credentials gets 429 (with `Retry-After`) after the
/// threshold, while a valid key from the same client keeps working.
#[test]
fn k5_a_flood_of_bad_keys_is_slowed_and_valid_keys_keep_working() {
    let server = Server::start(&seed_config().replace(
        "backend: local\n",
        "backend: local\nlimits:\n  max_auth_failures: 20\n",
    ));
    let mut statuses = Vec::new();
    for n in 0..200 {
        let bad = format!("nx_{n:064x}");
        statuses.push(server.get("/api/whoami", &bad).status);
        if n % 50 == 0 {
            assert_eq!(server.get("/api/whoami", &server.admin_key).status, 200);
        }
    }
    assert!(
        statuses.iter().take(20).all(|status| *status == 401),
        "{statuses:?}"
    );
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert!(limited >= 150, "{limited} of 200 limited: {statuses:?}");
    let last = server.get("/api/whoami", "nx_bad");
    assert_eq!(last.status, 429);
    assert!(last.header("retry-after").is_some());
    assert_eq!(server.get("/api/whoami", &server.admin_key).status, 200);
}
