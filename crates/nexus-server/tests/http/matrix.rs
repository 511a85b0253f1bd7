//! The knowledge layer's whole scoping matrix, through the HTTP API: every environment ×
//! scope × role × operation, allowed or refused exactly as the two tables below say. The
//! first is the seed's (verbatim); the second says which role may do what to an item of
//! each scope. The expected outcome of every request is read from these tables, never
//! from the implementation.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::client::Response;
use crate::harness::{Api, Server};
use crate::knowledge::{People, knowledge_config};

/// Seed 004, "Environment Scoping Matrix", verbatim.
const SEED_MATRIX: &str = "\
| Environment | Personal | Universal | Session/Share | Admin |
|---|---|---|---|---|
| User | ✅ Profile | ✅ Guest/Default | Role-based | ✅ |
| Locker | ✅ My creds | ✅ Env passwords | Role-based | ✅ |
| Track | ✅ Default | ✅ Org projects | ✅ Session | ✅ |
| KB | ✅ Private | ✅ Org knowledge | ✅ Session/Direct | ✅ |
| Contact | ✅ Personal | ✅ Company CRM | ✅ Assign | ✅ |
| Session | ✅ Solo | ✅ Default? | ✅ Group | ✅ |
| Context | ✅ Notes | ✅ Org learnings | ✅ Via session | ✅ |
| Documents | ✅ My docs | ✅ Company docs | ✅ Session/Direct | ✅ |
| Links | ✅ Bookmarks | ✅ Shared resources | ✅ Via session | ✅ |
| Workflow | ✅ User prefs | ✅ System protocols | ❌ No | ✅ |
| Temp | ✅ My staging | ❌ No | ✅ Via session | ✅ |
| Transcript | ✅ Personal | ✅ Shared recordings | ✅ Session/Direct | ✅ |
| Chrono | ✅ My reminders | ❌ No | ✅ Session reminders | ✅ |
";

/// Where the knowledge-layer contract amends the seed's table (`docs/knowledge.md`): it
/// names Track with KB, Documents and Transcript as shared by session *and directly*, where
/// the seed's cell reads "Session".
const AMENDMENTS: [(&str, &str); 1] = [("track", "direct")];

/// Who may do what to an item of each scope (✅ allowed, ❌ refused). The roles: `owner`
/// (bob, who created it), `sharee` (carol: in its group session, or the user it is shared
/// with directly), `other` (dan, a member with no share), `manager` (mona, bob's manager:
/// `track` means Track items only), `admin` (alice, an organization admin), `system` (the
/// server's administrator), `outsider` (john, of another organization), `agent` (an
/// agent member of the organization acting as itself).
///
/// `personal create` by anyone but the owner means creating in the owner's scope. `UNIV
/// create` by a member (`member`) is allowed where the environment's universal scope is
/// everyone's to add to (Track, KB, Contact, Context, Documents, Links, Transcript) and
/// refused where it is the admins' (User, Locker, Session, Workflow); there, a `UNIV` item
/// is created by an admin, who is then its owner. `direct share` is sharing the owner's
/// personal item with the sharee. List and search answer as read does. Ending sessions and
/// the Contact "assign" form follow the same rules (see `docs/knowledge.md`).
///
/// The seed's "Admin ✅" column is the `admin` and `system` columns, with one exception: a
/// personal locker keeps organization admins out (`admin` is ❌ for every operation on it;
/// the system administrator still reads it, audited).
const ROLE_TABLE: &str = "\
| scope    | operation | owner | sharee | other | manager | admin | system | outsider | agent  |
|----------|-----------|-------|--------|-------|---------|-------|--------|----------|--------|
| personal | create    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| personal | read      | ✅    | ❌     | ❌    | track   | ✅    | ✅     | ❌       | ❌     |
| personal | update    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| personal | delete    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| UNIV     | create    | member| member | member| member  | ✅    | ✅     | ❌       | member |
| UNIV     | read      | ✅    | ✅     | ✅    | ✅      | ✅    | ✅     | ❌       | ✅     |
| UNIV     | update    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| UNIV     | delete    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| session  | create    | ✅    | ✅     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| session  | read      | ✅    | ✅     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| session  | update    | ✅    | ✅     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| session  | delete    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| direct   | share     | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| direct   | read      | ✅    | ✅     | ❌    | track   | ✅    | ✅     | ❌       | ❌     |
| direct   | update    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
| direct   | delete    | ✅    | ❌     | ❌    | ❌      | ✅    | ✅     | ❌       | ❌     |
";

const ROLES: [&str; 8] = [
    "owner", "sharee", "other", "manager", "admin", "system", "outsider", "agent",
];

/// One environment's row of the seed's table.
#[derive(Debug, Clone, Copy)]
struct Row {
    universal: bool,
    session: bool,
    direct: bool,
}

fn seed_rows() -> HashMap<String, Row> {
    SEED_MATRIX
        .lines()
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (env, personal, universal, sharing) = (cells[1], cells[2], cells[3], cells[4]);
            assert!(
                personal.starts_with('✅'),
                "{env}: every environment is personal"
            );
            let shared = sharing.starts_with('✅');
            let row = Row {
                universal: universal.starts_with('✅'),
                session: shared
                    && ["Session", "session", "Group"]
                        .iter()
                        .any(|word| sharing.contains(word)),
                direct: shared && (sharing.contains("Direct") || sharing.contains("Assign")),
            };
            let env = env.to_lowercase();
            let direct = row.direct || AMENDMENTS.contains(&(env.as_str(), "direct"));
            (env, Row { direct, ..row })
        })
        .collect()
}

/// The role table's cell for (scope, operation, role).
fn rule(scope: &str, operation: &str, role: &str) -> String {
    let column = ROLES.iter().position(|known| *known == role).unwrap() + 3;
    for line in ROLE_TABLE.lines().skip(2) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells[1] == scope && cells[2] == operation {
            return cells[column].to_owned();
        }
    }
    panic!("no rule for {scope} {operation}");
}

/// Whether the tables allow `role` to do `operation` to an item of `scope` in `env`.
fn allowed(env: &str, scope: &str, operation: &str, role: &str) -> bool {
    // Personal lockers keep organization admins out (they reach everything else).
    if env == "locker" && scope == "personal" && role == "admin" {
        return false;
    }
    let members_add_universal = !matches!(env, "user" | "locker" | "session" | "workflow");
    match rule(scope, operation, role).as_str() {
        "✅" => true,
        "❌" => false,
        "track" => env == "track",
        "member" => members_add_universal,
        other => panic!("unknown cell {other}"),
    }
}

/// Valid data of each environment, with `word` somewhere searchable.
fn sample(env: &str, word: &str) -> (&'static str, Value) {
    match env {
        "user" => ("profile", json!({"display_name": format!("Bob {word}")})),
        "locker" => ("secret", json!({"name": word, "secret": "s3cret"})),
        "track" => ("task", json!({"title": format!("task {word}")})),
        "kb" => ("node", json!({"title": format!("node {word}")})),
        "contact" => ("person", json!({"name": format!("Ann {word}")})),
        "session" => (
            "template",
            json!({"title": format!("sprint {word}"), "type": "group"}),
        ),
        "context" => ("note", json!({"text": format!("note {word}")})),
        "documents" => ("doc", json!({"title": format!("doc {word}")})),
        "links" => (
            "bookmark",
            json!({"url": "https://example.com/x", "title": word}),
        ),
        "workflow" => ("protocol", json!({"name": word, "description": word})),
        "temp" => ("draft", json!({"text": word})),
        "transcript" => ("recording", json!({"title": word, "text": "hello"})),
        "chrono" => (
            "reminder",
            json!({"title": word, "due": "2030-01-01T00:00:00Z"}),
        ),
        other => panic!("no sample for {other}"),
    }
}

/// The world of one environment's run: a server, its people, a group session of bob and
/// carol, and mona as bob's manager.
struct World {
    server: Server,
    people: People,
    session: String,
    failures: Vec<String>,
    words: usize,
}

impl World {
    fn new(fault: Option<nexus_core::fault::Fault>) -> World {
        let server = match fault {
            Some(fault) => Server::start_with_fault(&knowledge_config(), fault),
            None => Server::start(&knowledge_config()),
        };
        let people = People::of(&server);
        let manager = server.call(
            "PUT",
            "/api/orgs/acme/users/bob@acme.com/manager",
            people.token("alice"),
            Some(&json!({"manager": "mona@acme.com"})),
        );
        assert_eq!(manager.status, 200, "{}", manager.text());
        let session = server.call(
            "POST",
            "/api/orgs/acme/sessions",
            people.token("bob"),
            Some(&json!({"title": "matrix", "type": "group", "members": ["carol@acme.com"]})),
        );
        assert_eq!(session.status, 201, "{}", session.text());
        let session = session.json()["stable_id"].as_str().unwrap().to_owned();
        World {
            server,
            people,
            session,
            failures: Vec::new(),
            words: 0,
        }
    }

    /// The credential of a role.
    fn token(&self, role: &str) -> String {
        let name = match role {
            "owner" => "bob",
            "sharee" => "carol",
            "other" => "dan",
            "manager" => "mona",
            "admin" => "alice",
            "system" => "system",
            "outsider" => "john",
            "agent" => "agent",
            other => panic!("unknown role {other}"),
        };
        self.people.token(name).to_owned()
    }

    /// A word no other item contains.
    fn word(&mut self) -> String {
        self.words += 1;
        format!("w{}x{}", self.words, std::process::id())
    }

    fn check(&mut self, what: &str, expected: bool, response: &Response) {
        let ok = (200..300).contains(&response.status);
        if ok != expected {
            self.failures.push(format!(
                "{what}: expected {}, got {} {}",
                if expected { "allowed" } else { "refused" },
                response.status,
                response.text().chars().take(200).collect::<String>()
            ));
        }
    }

    fn check_listed(&mut self, what: &str, expected: bool, response: &Response, key: &str) {
        let listed = response.status == 200
            && response.json()["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|item| item["key"] == key));
        if listed != expected {
            self.failures.push(format!(
                "{what}: expected {}, got {} {}",
                if expected { "listed" } else { "not listed" },
                response.status,
                response.text().chars().take(200).collect::<String>()
            ));
        }
    }

    /// The scope text a role uses to create an item of `scope`.
    fn scope_text(&self, scope: &str, role: &str) -> String {
        match scope {
            "personal" if role == "owner" => "personal".to_owned(),
            "personal" | "direct" => self.people.id("bob").to_owned(),
            "UNIV" => "UNIV".to_owned(),
            "session" => self.session.clone(),
            other => panic!("{other}"),
        }
    }

    fn create_as(&mut self, env: &str, scope: &str, role: &str) -> (Response, String) {
        let word = self.word();
        let (kind, data) = sample(env, &word);
        let body =
            json!({"env": env, "scope": self.scope_text(scope, role), "kind": kind, "data": data});
        let token = self.token(role);
        (
            self.server
                .call("POST", "/api/orgs/acme/items", &token, Some(&body)),
            word,
        )
    }

    /// Creates the item the other operations act on: by its owner (an admin, where members
    /// may not add to the universal scope), shared with the sharee for `direct`.
    fn subject_item(&mut self, env: &str, scope: &str) -> Option<(String, String, &'static str)> {
        let creator = if scope == "UNIV" && !allowed(env, "UNIV", "create", "owner") {
            "admin"
        } else {
            "owner"
        };
        let (created, word) = self.create_as(env, scope, creator);
        if created.status != 201 {
            return None;
        }
        let key = created.json()["key"].as_str().unwrap().to_owned();
        if scope == "direct" {
            let shared = self.server.call(
                "POST",
                &format!("/api/orgs/acme/items/{key}/share"),
                &self.token("owner"),
                Some(&json!({"users": ["carol@acme.com"]})),
            );
            assert_eq!(shared.status, 200, "{env}: {}", shared.text());
        }
        Some((key, word, creator))
    }

    fn remove(&self, key: &str) {
        let path = format!("/api/orgs/acme/items/{key}");
        let response = self
            .server
            .call("DELETE", &path, &self.server.admin_key, None);
        assert!(matches!(response.status, 204 | 404), "{}", response.text());
    }

    /// Every role and operation on items of `scope` in `env`.
    fn run_scope(&mut self, env: &str, scope: &str, row: Row) {
        let in_matrix = match scope {
            "personal" => true,
            "UNIV" => row.universal,
            "session" => row.session,
            "direct" => row.direct,
            _ => unreachable!(),
        };
        // Creating (or, for `direct`, sharing).
        for role in ROLES {
            let expected = in_matrix
                && allowed(
                    env,
                    scope,
                    if scope == "direct" { "share" } else { "create" },
                    role,
                );
            if scope == "direct" {
                let Some((key, _, _)) = self.subject_item(env, "personal") else {
                    self.check(
                        &format!("{env} personal create for direct"),
                        true,
                        &Response::refused(),
                    );
                    continue;
                };
                let response = self.server.call(
                    "POST",
                    &format!("/api/orgs/acme/items/{key}/share"),
                    &self.token(role),
                    Some(&json!({"users": ["carol@acme.com"]})),
                );
                self.check(
                    &format!("{env} direct share by {role}"),
                    expected,
                    &response,
                );
                if !row.direct
                    && matches!(role, "owner" | "admin" | "system")
                    && !(env == "locker" && role == "admin")
                {
                    assert_eq!(
                        response.code(),
                        "scope_not_allowed",
                        "{env} direct share: {}",
                        response.text()
                    );
                }
                self.remove(&key);
                continue;
            }
            let (response, _) = self.create_as(env, scope, role);
            self.check(
                &format!("{env} {scope} create by {role}"),
                expected,
                &response,
            );
            if !in_matrix && matches!(role, "owner" | "admin") {
                assert_eq!(
                    response.code(),
                    "scope_not_allowed",
                    "{env} {scope}: {}",
                    response.text()
                );
            }
            if response.status == 201 {
                self.remove(response.json()["key"].as_str().unwrap());
            }
        }
        if !in_matrix {
            return;
        }
        // Reading, listing, searching, updating.
        let Some((key, word, creator)) = self.subject_item(env, scope) else {
            self.check(
                &format!("{env} {scope} subject item"),
                true,
                &Response::refused(),
            );
            return;
        };
        let path = format!("/api/orgs/acme/items/{key}");
        for role in ROLES {
            if role == "owner" && creator != "owner" {
                continue;
            }
            let token = self.token(role);
            let read = allowed(env, scope, "read", role);
            let response = self.server.get(&path, &token);
            self.check(&format!("{env} {scope} read by {role}"), read, &response);
            let response = self.server.get(
                &format!("/api/orgs/acme/items?env={env}&limit=1000"),
                &token,
            );
            self.check_listed(
                &format!("{env} {scope} list by {role}"),
                read,
                &response,
                &key,
            );
            let response = self
                .server
                .get(&format!("/api/orgs/acme/items?q={word}"), &token);
            self.check_listed(
                &format!("{env} {scope} search by {role}"),
                read,
                &response,
                &key,
            );
            let (_, data) = sample(env, &word);
            let response = self
                .server
                .call("PUT", &path, &token, Some(&json!({"data": data})));
            self.check(
                &format!("{env} {scope} update by {role}"),
                allowed(env, scope, "update", role),
                &response,
            );
        }
        self.remove(&key);
        // Deleting: refused roles first, then each allowed one on a fresh item.
        for role in ROLES {
            if role == "owner" && creator != "owner" {
                continue;
            }
            let Some((key, _, _)) = self.subject_item(env, scope) else {
                continue;
            };
            let path = format!("/api/orgs/acme/items/{key}");
            let response = self.server.call("DELETE", &path, &self.token(role), None);
            self.check(
                &format!("{env} {scope} delete by {role}"),
                allowed(env, scope, "delete", role),
                &response,
            );
            self.remove(&key);
        }
    }

    fn run(env: &str) {
        let failures = World::differences(env, None);
        assert!(
            failures.is_empty(),
            "{} cells differ from the tables:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// The cells of `env` where the server differs from the tables.
    fn differences(env: &str, fault: Option<nexus_core::fault::Fault>) -> Vec<String> {
        let rows = seed_rows();
        let row = rows[env];
        let mut world = World::new(fault);
        let agent = world.server.call(
            "POST",
            "/api/keys",
            &world.server.admin_key,
            Some(&json!({"principal": "agent:helper", "description": "matrix"})),
        );
        assert_eq!(agent.status, 201, "{}", agent.text());
        world
            .people
            .tokens
            .insert("agent", agent.json()["secret"].as_str().unwrap().to_owned());
        for scope in ["personal", "UNIV", "session", "direct"] {
            if env == "session" && scope != "UNIV" {
                continue;
            }
            world.run_scope(env, scope, row);
        }
        if env == "session" {
            world.run_sessions();
        }
        world.failures
    }

    /// The Session row's personal ("Solo") and session ("Group") cells are sessions
    /// themselves, started through the sessions API: a solo session is its owner's, a group
    /// session its members'; organization admins and the system see both.
    fn run_sessions(&mut self) {
        for (kind, members, scope) in [
            ("solo", json!([]), "personal"),
            ("group", json!(["carol@acme.com"]), "session"),
        ] {
            let started = self.server.call(
                "POST",
                "/api/orgs/acme/sessions",
                &self.token("owner"),
                Some(&json!({"title": "row", "type": kind, "members": members})),
            );
            assert_eq!(started.status, 201, "{}", started.text());
            let id = started.json()["stable_id"].as_str().unwrap().to_owned();
            for role in ROLES {
                let response = self
                    .server
                    .get(&format!("/api/orgs/acme/sessions/{id}"), &self.token(role));
                let expected = allowed("session", scope, "read", role);
                self.check(
                    &format!("session {kind} read by {role}"),
                    expected,
                    &response,
                );
            }
        }
    }
}

impl Response {
    /// A stand-in for a request that could not be made.
    fn refused() -> Response {
        Response {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

macro_rules! matrix_tests {
    ($($name:ident => $env:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                World::run($env);
            }
        )*
    };
}

matrix_tests! {
    matrix_user => "user",
    matrix_locker => "locker",
    matrix_track => "track",
    matrix_kb => "kb",
    matrix_contact => "contact",
    matrix_session => "session",
    matrix_context => "context",
    matrix_documents => "documents",
    matrix_links => "links",
    matrix_workflow => "workflow",
    matrix_temp => "temp",
    matrix_transcript => "transcript",
    matrix_chrono => "chrono",
}

/// The negative control: with items served without their read check, the matrix test
/// finds the cells that break.
#[test]
fn matrix_catches_items_served_without_their_read_check() {
    let failures = World::differences("kb", Some(nexus_core::fault::Fault::SkipItemReadCheck));
    assert!(
        failures
            .iter()
            .any(|failure| failure.contains("personal read by other")),
        "{failures:#?}"
    );
}

#[test]
fn the_tables_are_read_as_written() {
    let rows = seed_rows();
    assert_eq!(rows.len(), 13);
    assert!(!rows["workflow"].session && !rows["workflow"].direct);
    assert!(!rows["temp"].universal && rows["temp"].session);
    assert!(rows["contact"].direct && !rows["contact"].session);
    assert!(!rows["user"].session && !rows["user"].direct);
    assert!(allowed("track", "personal", "read", "manager"));
    assert!(!allowed("kb", "personal", "read", "manager"));
    assert!(allowed("kb", "UNIV", "create", "agent"));
    assert!(!allowed("workflow", "UNIV", "create", "other"));
    assert!(allowed("locker", "personal", "read", "owner"));
    assert!(!allowed("locker", "personal", "read", "admin"));
    assert!(!allowed("locker", "personal", "read", "manager"));
    assert!(allowed("locker", "UNIV", "read", "other"));
    assert!(!allowed("locker", "UNIV", "create", "other"));
}
