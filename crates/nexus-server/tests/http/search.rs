//! Semantic and hybrid search through the HTTP API, with an OpenAI-compatible embeddings
//! endpoint stood in for on 127.0.0.1: found by meaning, only what the caller may read,
//! and a clear `unavailable` while the endpoint is down (nothing lost: the index catches
//! up once it is back).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::harness::{Api, Server, seed_config, token};

/// Words the stand-in knows, one axis each; synonyms share an axis.
const AXES: [&[&str]; 3] = [
    &["car", "automobile", "vehicle"],
    &["banana", "fruit"],
    &["invoice", "billing"],
];

/// The stand-in's vector of a text: how often it names each axis.
fn vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; AXES.len()];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        for (axis, words) in AXES.iter().enumerate() {
            if words.contains(&word) {
                vector[axis] += 1.0;
            }
        }
    }
    vector
}

/// An embeddings endpoint on 127.0.0.1, which can be taken down.
struct Endpoint {
    url: String,
    down: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    _thread: std::thread::JoinHandle<()>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let down = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let (bound, address) = std::sync::mpsc::channel();
        let (is_down, counted) = (down.clone(), calls.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().route(
                    "/v1/embeddings",
                    axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                        let (is_down, counted) = (is_down.clone(), counted.clone());
                        async move {
                            counted.fetch_add(1, Ordering::SeqCst);
                            if is_down.load(Ordering::SeqCst) || body["model"] != "toy" {
                                return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                            }
                            // Some texts are refused for good (as a too long one would be).
                            if body["input"].to_string().contains("refuseme") {
                                return Err(axum::http::StatusCode::BAD_REQUEST);
                            }
                            let data: Vec<Value> = body["input"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .enumerate()
                                .map(|(index, text)| {
                                    json!({"object": "embedding", "index": index,
                                           "embedding": vector(text.as_str().unwrap())})
                                })
                                .collect();
                            Ok(axum::Json(json!({"object": "list", "data": data})))
                        }
                    }),
                );
                axum::serve(listener, app).await.unwrap();
            });
        });
        let address = address.recv().unwrap();
        Endpoint {
            url: format!("http://{address}/v1"),
            down,
            calls,
            _thread: thread,
        }
    }
}

fn search(server: &Server, credential: &str, query: &str, mode: &str) -> Value {
    let response = server.call(
        "POST",
        "/api/orgs/acme/search",
        credential,
        Some(&json!({"query": query, "mode": mode, "consistency": "fully_consistent"})),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn paths(answer: &Value) -> Vec<String> {
    answer["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn semantic_and_hybrid_search_answer_by_meaning_from_what_the_caller_may_read() {
    let endpoint = Endpoint::start();
    let config = format!(
        "{}search:\n  embedder:\n    kind: openai\n    url: {}\n    model: toy\n",
        seed_config(),
        endpoint.url
    );
    let server = Server::start(&config);
    let admin = server.admin_key.clone();
    let bob = token("bob@acme.com");
    let added = server.call(
        "POST",
        "/api/orgs/acme/members",
        &admin,
        Some(&json!({"user_id": "bob@acme.com", "role": "member", "workspaces": ["sales"]})),
    );
    assert!(added.status < 300, "{}", added.text());
    for (path, text) in [
        (
            "/orgs/acme/sales/parking.md",
            "Where the automobile is parked",
        ),
        ("/orgs/acme/sales/market.md", "banana prices this week"),
        ("/orgs/acme/engineering/fleet.md", "every vehicle we own"),
        ("/orgs/acme/sales/bills.md", "the car invoice"),
    ] {
        let put = server.request(
            "PUT",
            &format!("/api/fs{path}"),
            &[("Authorization", &format!("Bearer {admin}"))],
            Some(text.as_bytes()),
        );
        assert!(put.status < 300, "{}", put.text());
    }
    // By meaning: no word in common with the query.
    let found = search(&server, &admin, "car", "semantic");
    let mut all = paths(&found);
    all.sort();
    assert_eq!(
        all,
        [
            "/orgs/acme/engineering/fleet.md",
            "/orgs/acme/sales/bills.md",
            "/orgs/acme/sales/parking.md"
        ]
    );
    assert_eq!(found["mode"], "semantic");
    assert!(found["notice"].is_null());
    // Keyword finds the one file that says `car`; hybrid puts it first, then the others.
    assert_eq!(
        paths(&search(&server, &admin, "car", "keyword")),
        ["/orgs/acme/sales/bills.md"]
    );
    let hybrid = search(&server, &admin, "car", "hybrid");
    assert_eq!(hybrid["total"], 3);
    assert_eq!(paths(&hybrid)[0], "/orgs/acme/sales/bills.md");
    // A member reads sales, not engineering: the fleet is neither shown nor counted.
    let member = search(&server, &bob, "vehicle", "semantic");
    assert_eq!(member["total"], 2, "{member}");
    assert!(!paths(&member).contains(&"/orgs/acme/engineering/fleet.md".to_owned()));
    let member = search(&server, &bob, "vehicle", "hybrid");
    assert_eq!(member["total"], 2, "{member}");
    // Someone of another organization searches nothing of acme.
    let john = server.call(
        "POST",
        "/api/orgs/acme/search",
        &token("john@techcorp.com"),
        Some(&json!({"query": "car", "mode": "semantic"})),
    );
    assert!(john.status == 403 || john.status == 404, "{}", john.text());

    // The endpoint goes down: searches by meaning say so; keyword search answers from the
    // index as it is.
    endpoint.down.store(true, Ordering::SeqCst);
    let refused = server.call(
        "POST",
        "/api/orgs/acme/search",
        &admin,
        Some(&json!({"query": "car", "mode": "semantic"})),
    );
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.code(), "unavailable");
    let put = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/truck.md",
        &[("Authorization", &format!("Bearer {admin}"))],
        Some(b"a vehicle for billing runs"),
    );
    assert!(put.status < 300, "{}", put.text());
    let stale = server.call(
        "POST",
        "/api/orgs/acme/search",
        &admin,
        Some(&json!({"query": "car"})),
    );
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert!(paths(&stale.json()).contains(&"/orgs/acme/sales/bills.md".to_owned()));
    // Back up: the write made meanwhile is found (nothing was lost).
    endpoint.down.store(false, Ordering::SeqCst);
    let back = search(&server, &admin, "billing", "semantic");
    let back_paths = paths(&back);
    assert!(
        back_paths.contains(&"/orgs/acme/sales/truck.md".to_owned()),
        "{back}"
    );
    assert!(endpoint.calls.load(Ordering::SeqCst) > 0);

    // A document the endpoint refuses for good is indexed without a vector: found by its
    // words, and the index does not stop for it.
    let put = server.request(
        "PUT",
        "/api/fs/orgs/acme/sales/odd.md",
        &[("Authorization", &format!("Bearer {admin}"))],
        Some(b"refuseme vehicle"),
    );
    assert!(put.status < 300, "{}", put.text());
    assert_eq!(
        paths(&search(&server, &admin, "refuseme", "keyword")),
        ["/orgs/acme/sales/odd.md"]
    );
    let by_meaning = search(&server, &admin, "vehicle", "semantic");
    assert!(
        !paths(&by_meaning).contains(&"/orgs/acme/sales/odd.md".to_owned()),
        "{by_meaning}"
    );
    // A query the endpoint refuses is the caller's to change.
    let refused = server.call(
        "POST",
        "/api/orgs/acme/search",
        &admin,
        Some(&json!({"query": "refuseme", "mode": "semantic"})),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
}
