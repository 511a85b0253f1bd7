//! The change feed over HTTP: each member sees the changes to what they may read when they
//! read (files by path, items by key), pages by cursor, a revocation hides the object's
//! events, other organizations get nothing, and the stream delivers live and resumes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Api, Server};
use crate::knowledge::{People, create, knowledge_config};
use crate::notifications::EventStream;

/// Every change `who` may see in acme, as (action, path or key).
fn feed(server: &Server, people: &People, who: &str) -> Vec<(String, String)> {
    let page = server.get("/api/orgs/acme/changes?limit=1000", people.token(who));
    assert_eq!(page.status, 200, "{}", page.text());
    page.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            let place = change["path"].as_str().or(change["key"].as_str()).unwrap();
            (
                change["action"].as_str().unwrap().to_owned(),
                place.to_owned(),
            )
        })
        .collect()
}

fn has(feed: &[(String, String)], action: &str, place: &str) -> bool {
    feed.iter().any(|(got, at)| got == action && at == place)
}

fn kb(server: &Server, people: &People, who: &str, title: &str) -> String {
    let created = create(
        server,
        people,
        who,
        &json!({"env": "kb", "scope": "personal", "kind": "node",
                "data": {"title": title, "body": "..."}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["key"].as_str().unwrap().to_owned()
}

#[test]
fn each_member_sees_the_changes_to_what_they_may_read() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let plan = "/orgs/acme/sales/plan.md";
    let written = server.call(
        "PUT",
        &format!("/api/fs{plan}"),
        people.token("alice"),
        Some(&json!("v1")),
    );
    assert!(written.status == 201, "{}", written.text());
    let bobs = kb(&server, &people, "bob", "Bob's notes");
    let carols = kb(&server, &people, "carol", "Carol's notes");
    let bob = feed(&server, &people, "bob");
    assert!(has(&bob, "created", plan), "{bob:?}");
    assert!(has(&bob, "created", &bobs), "{bob:?}");
    assert!(!bob.iter().any(|(_, place)| place == &carols), "{bob:?}");
    let carol = feed(&server, &people, "carol");
    assert!(has(&carol, "created", &carols));
    assert!(!carol.iter().any(|(_, place)| place == &bobs), "{carol:?}");
    // Changes carry who made them.
    let first = server
        .get("/api/orgs/acme/changes", people.token("bob"))
        .json();
    let created_plan = first["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["path"] == plan)
        .unwrap()
        .clone();
    assert_eq!(created_plan["author"], "user:alice@acme.com");
    assert!(created_plan["revision"].as_u64().unwrap() > 0);
    // Shared with bob: now he sees it, its creation included; unshared: none of it.
    let share = |grant: bool| {
        let route = if grant { "share" } else { "unshare" };
        let shared = server.call(
            "POST",
            &format!("/api/orgs/acme/items/{carols}/{route}"),
            people.token("carol"),
            Some(&json!({"users": ["bob@acme.com"]})),
        );
        assert_eq!(shared.status, 200, "{}", shared.text());
    };
    share(true);
    let bob = feed(&server, &people, "bob");
    assert!(has(&bob, "created", &carols), "{bob:?}");
    assert!(has(&bob, "shared", &carols), "{bob:?}");
    share(false);
    let updated = server.call(
        "PUT",
        &format!("/api/orgs/acme/items/{carols}"),
        people.token("carol"),
        Some(&json!({"data": {"title": "Carol's notes", "body": "later"}})),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    let bob = feed(&server, &people, "bob");
    assert!(!bob.iter().any(|(_, place)| place == &carols), "{bob:?}");
    assert!(has(&feed(&server, &people, "carol"), "updated", &carols));
    // Another organization's member learns nothing, not even that the feed exists.
    let john = server.get("/api/orgs/acme/changes", people.token("john"));
    assert_eq!(john.status, 404, "{}", john.text());
    // Paging: one at a time, the cursor is the caller's own.
    let bob_token = people.token("bob");
    let mut cursor: Option<String> = None;
    let mut paged = Vec::new();
    for _ in 0..100 {
        let route = match &cursor {
            Some(cursor) => format!("/api/orgs/acme/changes?limit=1&cursor={cursor}"),
            None => "/api/orgs/acme/changes?limit=1".to_owned(),
        };
        let page: Value = server.get(&route, bob_token).json();
        let changes = page["changes"].as_array().unwrap().clone();
        cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        if changes.is_empty() {
            break;
        }
        assert_eq!(changes.len(), 1);
        paged.push(changes[0]["revision"].as_u64().unwrap());
    }
    let all: Vec<u64> = server.get("/api/orgs/acme/changes", bob_token).json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(paged, all);
    let foreign = server.get(
        &format!("/api/orgs/acme/changes?cursor={}", cursor.unwrap()),
        people.token("carol"),
    );
    assert_eq!(foreign.status, 400, "{}", foreign.text());
}

#[test]
fn the_change_stream_delivers_live_and_resumes() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let route = "/api/orgs/acme/changes/stream";
    let mut stream = EventStream::open_route(&server, route, people.token("bob"), None);
    stream.pump(Duration::from_millis(300));
    let before = stream.ids().len();
    let write = |name: &str| {
        let written = server.call(
            "PUT",
            &format!("/api/fs/orgs/acme/sales/{name}"),
            people.token("alice"),
            Some(&json!("x")),
        );
        assert_eq!(written.status, 201, "{}", written.text());
    };
    write("live.md");
    let ids = stream.wait_for(before + 1);
    assert_eq!(ids.len(), before + 1, "{}", stream.text);
    assert!(stream.text.contains("event: change"), "{}", stream.text);
    assert!(
        stream.text.contains("/orgs/acme/sales/live.md"),
        "{}",
        stream.text
    );
    let last = *ids.last().unwrap();
    drop(stream);
    write("missed.md");
    let mut resumed = EventStream::open_route(&server, route, people.token("bob"), Some(last));
    let ids = resumed.wait_for(1);
    assert_eq!(ids.len(), 1, "{}", resumed.text);
    assert!(ids[0] > last);
    assert!(resumed.text.contains("missed.md"), "{}", resumed.text);
    // Carol's personal item is not bob's to hear about.
    kb(&server, &people, "carol", "private");
    resumed.pump(Duration::from_millis(600));
    assert_eq!(resumed.ids().len(), 1, "{}", resumed.text);
    let john = server.get(route, people.token("john"));
    assert_eq!(john.status, 404, "{}", john.text());
}
