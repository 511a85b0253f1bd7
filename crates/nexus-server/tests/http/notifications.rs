//! Chrono reminders and notification feeds through the HTTP API: the scheduler of `serve`
//! fires due reminders to their owner and session members exactly once, sessions and shares
//! notify, feeds page and are marked read, and the live stream resumes from
//! `Last-Event-ID` and closes when its caller is locked out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nexus_core::fault::Fault;
use serde_json::{Value, json};

use crate::harness::{Api, Server};
use crate::knowledge::{People, create, knowledge_config};

/// An RFC 3339 time `seconds` from now (negative: in the past), with a `+02:00` offset.
fn in_seconds(seconds: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
    (chrono::Utc::now() + chrono::TimeDelta::seconds(seconds))
        .with_timezone(&offset)
        .to_rfc3339()
}

/// Every notification of `who`'s feed.
fn feed(server: &Server, people: &People, who: &str) -> Vec<Value> {
    let page = server.get("/api/notifications?limit=1000", people.token(who));
    assert_eq!(page.status, 200, "{}", page.text());
    page.json()["notifications"].as_array().unwrap().clone()
}

/// The titles of `who`'s notifications of `kind`.
fn titles(server: &Server, people: &People, who: &str, kind: &str) -> Vec<String> {
    feed(server, people, who)
        .iter()
        .filter(|notification| notification["kind"] == kind)
        .map(|notification| notification["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (at most 10 s) until `who` has `count` reminders.
fn wait_for_reminders(server: &Server, people: &People, who: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while titles(server, people, who, "reminder").len() < count {
        assert!(
            Instant::now() < deadline,
            "{who} has {:?}, expected {count} reminders",
            titles(server, people, who, "reminder")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reminder(scope: &str, title: &str, due: &str) -> Value {
    json!({"env": "chrono", "scope": scope, "kind": "reminder",
           "data": {"title": title, "due": due}})
}

/// A group session of `owner` with `members`; returns its stable id.
fn group_session(server: &Server, people: &People, owner: &str, members: &[&str]) -> String {
    let started = server.call(
        "POST",
        "/api/orgs/acme/sessions",
        people.token(owner),
        Some(&json!({"title": "Phoenix sprint", "type": "group", "members": members})),
    );
    assert_eq!(started.status, 201, "{}", started.text());
    started.json()["stable_id"].as_str().unwrap().to_owned()
}

#[test]
fn reminders_reach_their_owner_and_session_members_once() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let sid = group_session(&server, &people, "bob", &["carol@acme.com"]);
    let past = in_seconds(-60);
    for (who, body) in [
        ("alice", reminder("personal", "Pay the invoice", &past)),
        ("bob", reminder(&sid, "Standup", &past)),
        (
            "alice",
            reminder("personal", "Next year", &in_seconds(3600)),
        ),
    ] {
        let created = create(&server, &people, who, &body);
        assert_eq!(created.status, 201, "{}", created.text());
    }
    // Created `session`: a session reminder, shared with the session.
    let mut retro = reminder("personal", "Retro", &past);
    retro["session"] = json!(sid);
    let retro = create(&server, &people, "bob", &retro);
    assert_eq!(retro.status, 201, "{}", retro.text());
    // A reminder deleted before it is due never fires; one moved earlier fires.
    let later = create(
        &server,
        &people,
        "dan",
        &reminder("personal", "Cancelled", &in_seconds(2)),
    );
    let later_key = later.json()["key"].as_str().unwrap().to_owned();
    let deleted = server.call(
        "DELETE",
        &format!("/api/orgs/acme/items/{later_key}"),
        people.token("dan"),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let moved = create(
        &server,
        &people,
        "mona",
        &reminder("personal", "Moved", &in_seconds(3600)),
    );
    let moved_key = moved.json()["key"].as_str().unwrap().to_owned();
    let updated = server.call(
        "PUT",
        &format!("/api/orgs/acme/items/{moved_key}"),
        people.token("mona"),
        Some(&json!({"data": {"title": "Moved", "due": past}})),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());

    wait_for_reminders(&server, &people, "alice", 1);
    wait_for_reminders(&server, &people, "carol", 2);
    wait_for_reminders(&server, &people, "mona", 1);
    // Two more scheduler passes change nothing: each occurrence fired once.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        titles(&server, &people, "alice", "reminder"),
        ["Pay the invoice"]
    );
    for member in ["bob", "carol"] {
        let mut got = titles(&server, &people, member, "reminder");
        got.sort();
        assert_eq!(got, ["Retro", "Standup"], "{member}");
    }
    assert_eq!(titles(&server, &people, "mona", "reminder"), ["Moved"]);
    assert_eq!(titles(&server, &people, "dan", "reminder"), [] as [&str; 0]);
    assert!(feed(&server, &people, "john").is_empty());
    // Carol was told she was added to the session.
    let added = titles(&server, &people, "carol", "session_added");
    assert_eq!(
        added,
        ["user:bob@acme.com added you to the session \"Phoenix sprint\""]
    );
    let alice_feed = feed(&server, &people, "alice");
    assert_eq!(alice_feed[0]["read"], false);
    assert_eq!(alice_feed[0]["org"], "acme");
    assert!(
        alice_feed[0]["item_key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("chrono:{}:", people.id("alice")))
    );
}

/// Creates a reminder that is due already and reports whether, after three scheduler
/// passes, it reached its owner exactly once.
fn a_due_reminder_fires_once(server: &Server) -> bool {
    let people = People::of(server);
    let created = create(
        server,
        &people,
        "alice",
        &reminder("personal", "Once", &in_seconds(-1)),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    wait_for_reminders(server, &people, "alice", 1);
    std::thread::sleep(Duration::from_millis(2500));
    titles(server, &people, "alice", "reminder") == ["Once"]
}

/// Negative control: a scheduler that fires without moving the reminder on is caught.
#[test]
fn a_reminder_that_fires_again_is_caught() {
    let server = Server::start_with_fault(&knowledge_config(), Fault::RefireReminders);
    assert!(!a_due_reminder_fires_once(&server));
    let server = Server::start(&knowledge_config());
    assert!(a_due_reminder_fires_once(&server));
}

#[test]
fn feeds_page_mark_read_and_tell_of_shares() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    let mut keys = Vec::new();
    for title in ["Pricing", "Roadmap", "Hiring"] {
        let created = create(
            &server,
            &people,
            "alice",
            &json!({"env": "kb", "scope": "personal", "kind": "node",
                    "data": {"title": title, "body": "..."}}),
        );
        assert_eq!(created.status, 201, "{}", created.text());
        keys.push(created.json()["key"].as_str().unwrap().to_owned());
    }
    let share = |key: &str, users: &[&str]| {
        let shared = server.call(
            "POST",
            &format!("/api/orgs/acme/items/{key}/share"),
            people.token("alice"),
            Some(&json!({"users": users})),
        );
        assert_eq!(shared.status, 200, "{}", shared.text());
    };
    for key in &keys {
        share(key, &["bob@acme.com"]);
    }
    // Sharing again tells nobody twice; a share naming someone of another organization is
    // refused, and tells nobody anything.
    share(&keys[0], &["bob@acme.com"]);
    let across = server.call(
        "POST",
        &format!("/api/orgs/acme/items/{}/share", keys[1]),
        people.token("alice"),
        Some(&json!({"users": ["carol@acme.com", "john@techcorp.com"]})),
    );
    assert_eq!(across.status, 400, "{}", across.text());
    assert!(feed(&server, &people, "carol").is_empty());
    assert_eq!(
        titles(&server, &people, "bob", "shared"),
        [
            "user:alice@acme.com shared \"Pricing\" with you",
            "user:alice@acme.com shared \"Roadmap\" with you",
            "user:alice@acme.com shared \"Hiring\" with you",
        ]
    );
    assert!(feed(&server, &people, "john").is_empty());
    // Pages follow the cursor; an empty page still gives one to poll with.
    let bob = people.token("bob");
    let first = server.get("/api/notifications?limit=2", bob).json();
    assert_eq!(first["notifications"].as_array().unwrap().len(), 2);
    assert_eq!(first["notifications"][0]["id"], 1);
    assert_eq!(first["notifications"][0]["item_key"], keys[0].as_str());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = server
        .get(&format!("/api/notifications?limit=2&cursor={cursor}"), bob)
        .json();
    assert_eq!(second["notifications"][0]["id"], 3);
    let cursor = second["next_cursor"].as_str().unwrap();
    let third = server
        .get(&format!("/api/notifications?cursor={cursor}"), bob)
        .json();
    assert!(third["notifications"].as_array().unwrap().is_empty());
    assert!(third["next_cursor"].is_string());
    // Someone else's cursor is refused.
    let carol_reads = server.get(
        &format!("/api/notifications?cursor={cursor}"),
        people.token("carol"),
    );
    assert_eq!(carol_reads.status, 400, "{}", carol_reads.text());
    // Marking read: only one's own, only existing ones.
    let read = server.call("POST", "/api/notifications/2/read", bob, None);
    assert_eq!(read.status, 204, "{}", read.text());
    assert_eq!(
        server
            .call("POST", "/api/notifications/2/read", bob, None)
            .status,
        204
    );
    let unread: Vec<u64> =
        server.get("/api/notifications?unread=true", bob).json()["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|notification| notification["id"].as_u64().unwrap())
            .collect();
    assert_eq!(unread, [1, 3]);
    let missing = server.call("POST", "/api/notifications/9/read", bob, None);
    assert_eq!(missing.status, 404, "{}", missing.text());
    let not_hers = server.call(
        "POST",
        "/api/notifications/2/read",
        people.token("carol"),
        None,
    );
    assert_eq!(not_hers.status, 404, "{}", not_hers.text());
    assert_eq!(
        server
            .call("POST", "/api/notifications/x/read", bob, None)
            .status,
        400
    );
    // The system administrator has no feed.
    assert_eq!(
        server.get("/api/notifications", &server.admin_key).status,
        400
    );
    assert_eq!(feed(&server, &people, "bob")[1]["read"], true);
}

/// A live event stream, read off a raw connection.
pub struct EventStream {
    stream: TcpStream,
    pub text: String,
    pub ended: bool,
}

impl EventStream {
    fn open(server: &Server, credential: &str, last_event_id: Option<u64>) -> EventStream {
        EventStream::open_route(
            server,
            "/api/notifications/stream",
            credential,
            last_event_id,
        )
    }

    pub fn open_route(
        server: &Server,
        route: &str,
        credential: &str,
        last_event_id: Option<u64>,
    ) -> EventStream {
        let mut stream = TcpStream::connect(server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut request = format!(
            "GET {route} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {credential}\r\nAccept: text/event-stream\r\nConnection: close\r\n",
            server.address
        );
        if let Some(id) = last_event_id {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut events = EventStream {
            stream,
            text: String::new(),
            ended: false,
        };
        events.pump(Duration::from_millis(300));
        assert!(events.text.starts_with("HTTP/1.1 200"), "{}", events.text);
        assert!(events.text.contains("text/event-stream"), "{}", events.text);
        events
    }

    /// Reads what arrives within `wait` (or until the stream ends).
    pub fn pump(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut buffer = [0_u8; 4096];
        while Instant::now() < deadline && !self.ended {
            match self.stream.read(&mut buffer) {
                Ok(0) => self.ended = true,
                Ok(read) => {
                    self.text
                        .push_str(&String::from_utf8_lossy(&buffer[..read]));
                    if self.text.ends_with("\r\n0\r\n\r\n") {
                        self.ended = true;
                    }
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => self.ended = true,
            }
        }
    }

    /// The ids of the events received so far.
    pub fn ids(&self) -> Vec<u64> {
        self.text
            .lines()
            .filter_map(|line| line.strip_prefix("id: "))
            .map(|id| id.trim().parse().unwrap())
            .collect()
    }

    /// Reads until `count` events have arrived (at most 5 s).
    pub fn wait_for(&mut self, count: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.ids().len() < count && Instant::now() < deadline && !self.ended {
            self.pump(Duration::from_millis(100));
        }
        self.ids()
    }
}

fn share_new_item(server: &Server, people: &People, title: &str) {
    let created = create(
        server,
        people,
        "alice",
        &json!({"env": "kb", "scope": "personal", "kind": "node",
                "data": {"title": title, "body": "..."}}),
    );
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let shared = server.call(
        "POST",
        &format!("/api/orgs/acme/items/{key}/share"),
        people.token("alice"),
        Some(&json!({"users": ["bob@acme.com"]})),
    );
    assert_eq!(shared.status, 200, "{}", shared.text());
}

#[test]
fn the_stream_delivers_live_and_resumes_from_the_last_event_id() {
    let server = Server::start(&knowledge_config());
    let people = People::of(&server);
    share_new_item(&server, &people, "One");
    let mut stream = EventStream::open(&server, people.token("bob"), None);
    assert_eq!(stream.wait_for(1), [1]);
    assert!(
        stream.text.contains("event: notification"),
        "{}",
        stream.text
    );
    assert!(
        stream.text.contains("shared \\\"One\\\" with you"),
        "{}",
        stream.text
    );
    // Live: a share while the stream is open arrives on it.
    share_new_item(&server, &people, "Two");
    assert_eq!(stream.wait_for(2), [1, 2]);
    drop(stream);
    // Missed while disconnected, resumed after the last id seen.
    share_new_item(&server, &people, "Three");
    let mut resumed = EventStream::open(&server, people.token("bob"), Some(2));
    assert_eq!(resumed.wait_for(1), [3]);
    // Bad input is refused before the stream starts; the system has no feed.
    let bad = server.request(
        "GET",
        "/api/notifications/stream",
        &[
            ("Authorization", &format!("Bearer {}", people.token("bob"))),
            ("Last-Event-ID", "yesterday"),
        ],
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(
        server
            .get("/api/notifications/stream", &server.admin_key)
            .status,
        400
    );
}

/// Opens bob's stream, locks bob out, and reports whether the stream ended within 1.5 s.
fn stream_ends_on_lockout(server: &Server) -> bool {
    let people = People::of(server);
    let mut stream = EventStream::open(server, people.token("bob"), None);
    stream.pump(Duration::from_millis(300));
    assert!(!stream.ended, "{}", stream.text);
    let locked = server.call(
        "POST",
        "/api/admin/users/bob@acme.com/lockout",
        &server.admin_key,
        None,
    );
    assert_eq!(locked.status, 200, "{}", locked.text());
    stream.pump(Duration::from_millis(1500));
    stream.ended
}

#[test]
fn a_lockout_closes_open_streams_within_a_second() {
    let server = Server::start(&knowledge_config());
    assert!(stream_ends_on_lockout(&server));
}

/// Negative control: with streams that never check their credentials again, the lockout
/// test above fails.
#[test]
fn a_stream_that_keeps_its_credentials_is_caught() {
    let server = Server::start_with_fault(&knowledge_config(), Fault::StreamsKeepCredentials);
    assert!(!stream_ends_on_lockout(&server));
}
