//! Chrono reminders fire exactly once across `kill -9`: the scheduler of the real `nexus
//! serve` is killed while reminders fall due, and after a restart every occurrence has
//! reached its recipients once — those fired before the kill not again, those due while
//! the server was down at startup.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Api, Server, token};

const CONFIG: &str = r"
data_dir: ./data
organizations:
  - id: acme
    name: Acme Corp
    workspaces:
      - id: sales
    members:
      - user_id: alice@acme.com
        role: admin
      - user_id: bob@acme.com
        role: member
        workspaces: [sales]
auth:
  type: jwt
  jwt_secret: ${JWT_SECRET}
  jwt_algorithm: HS256
";

/// RFC 3339 for `start + offset`.
fn at(start: chrono::DateTime<chrono::Utc>, offset: Duration) -> String {
    (start + chrono::TimeDelta::from_std(offset).unwrap()).to_rfc3339()
}

/// How many reminder notifications of each title `credential`'s feed holds.
fn reminders(server: &Server, credential: &str) -> BTreeMap<String, usize> {
    let page = server.get("/api/notifications?limit=1000", credential);
    assert_eq!(page.status, 200, "{}", page.text());
    let mut counts = BTreeMap::new();
    for notification in page.json()["notifications"].as_array().unwrap() {
        if notification["kind"] == "reminder" {
            *counts
                .entry(notification["title"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn reminders_fire_exactly_once_across_kill_9() {
    let mut server = Server::start(CONFIG);
    let alice = token("alice@acme.com");
    let bob = token("bob@acme.com");
    let session = server.call(
        "POST",
        "/api/orgs/acme/sessions",
        &alice,
        Some(&json!({"title": "Launch", "type": "group", "members": ["bob@acme.com"]})),
    );
    assert_eq!(session.status, 201, "{}", session.text());
    let sid = session.json()["stable_id"].as_str().unwrap().to_owned();
    let start = chrono::Utc::now();
    let began = Instant::now();
    let create = |scope: &str, title: &str, due: String| {
        let created = server.call(
            "POST",
            "/api/orgs/acme/items",
            &alice,
            Some(&json!({"env": "chrono", "scope": scope, "kind": "reminder",
                         "data": {"title": title, "due": due}})),
        );
        assert_eq!(created.status, 201, "{}", created.text());
    };
    // Due before the kill, while the server is up.
    create(&sid, "before", at(start, Duration::from_secs(2)));
    // Twenty due 100 ms apart around the kill (at 3.5 s).
    for n in 0..20_u64 {
        create(
            "personal",
            &format!("around-{n:02}"),
            at(start, Duration::from_millis(2500 + 100 * n)),
        );
    }
    // Due while the server is down (it restarts at 6 s).
    create(&sid, "while down", at(start, Duration::from_secs(5)));
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "creating the reminders took too long for the test's timing"
    );
    std::thread::sleep(Duration::from_millis(3400).saturating_sub(began.elapsed()));
    let fired_before_kill = reminders(&server, &alice).len();
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(began.elapsed()));
    server.kill();
    std::thread::sleep(Duration::from_secs(6).saturating_sub(began.elapsed()));
    server.launch();
    let deadline = Instant::now() + Duration::from_secs(15);
    while reminders(&server, &alice).len() < 22 || reminders(&server, &bob).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "alice has {:?}, bob {:?}",
            reminders(&server, &alice),
            reminders(&server, &bob)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Two more scheduler passes: nothing fires twice.
    std::thread::sleep(Duration::from_millis(2500));
    let alice_got = reminders(&server, &alice);
    assert_eq!(alice_got.len(), 22, "{alice_got:?}");
    assert!(alice_got.values().all(|count| *count == 1), "{alice_got:?}");
    let bob_got = reminders(&server, &bob);
    assert_eq!(
        bob_got,
        BTreeMap::from([("before".to_owned(), 1), ("while down".to_owned(), 1)])
    );
    // The kill fell among them: some had fired, others were still to come.
    assert!(
        (1..21).contains(&fired_before_kill),
        "{fired_before_kill} fired before the kill"
    );
}
