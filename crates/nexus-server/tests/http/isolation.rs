//! T1: the cross-tenant property test. Random principals of three organizations (admins,
//! members, an agent, a member of two organizations, members added and removed during the
//! run) make random calls across the route families; an oracle says what each may do. A
//! violation is any 2xx the oracle denies, any other organization's name in a successful
//! answer, and any answer about another organization's object that differs from the answer
//! about an object that never existed.
//!
//! T8: with the test-only fault that drops the organization filter, the same test must find
//! violations within 1,000 operations.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::harness::{Api, Response, Server, token};

const ORGS: [&str; 3] = ["acme", "globex", "initech"];
const WORKSPACES: [&str; 2] = ["alpha", "beta"];

/// A small deterministic generator (xorshift64*), so a failure can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a principal holds in one organization.
#[derive(Clone, Debug)]
enum Access {
    Admin,
    Workspaces(BTreeSet<String>),
}

#[derive(Clone, Debug)]
struct Principal {
    name: String,
    credential: String,
    access: BTreeMap<String, Access>,
}

impl Principal {
    fn orgs(&self) -> BTreeSet<String> {
        self.access.keys().cloned().collect()
    }

    /// Whether the principal may read and write `path` (a workspace folder or below).
    fn may(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (Some(org), Some(workspace)) = (parts.get(1), parts.get(2)) else {
            return false;
        };
        match self.access.get(*org) {
            Some(Access::Admin) => true,
            Some(Access::Workspaces(workspaces)) => workspaces.contains(*workspace),
            None => false,
        }
    }
}

fn config() -> String {
    let mut text = String::from("data_dir: ./data\norganizations:\n");
    for org in ORGS {
        text.push_str(&format!(
            "  - id: {org}\n    name: {org} inc\n    workspaces:\n      - id: alpha\n      - id: beta\n    members:\n"
        ));
        text.push_str(&format!(
            "      - user_id: admin.{org}@x.org\n        role: admin\n"
        ));
        text.push_str(&format!(
            "      - user_id: m1.{org}@x.org\n        role: member\n        workspaces: [alpha]\n"
        ));
        text.push_str(&format!(
            "      - user_id: m2.{org}@x.org\n        role: member\n        workspaces: [beta]\n"
        ));
        text.push_str(&format!(
            "      - user_id: bot_{org}\n        type: agent\n        role: assistant\n        workspaces: [alpha]\n"
        ));
        if org != "initech" {
            let workspace = if org == "acme" { "alpha" } else { "beta" };
            text.push_str(&format!(
                "      - user_id: dual@x.org\n        role: member\n        workspaces: [{workspace}]\n"
            ));
        }
    }
    text.push_str(&format!(
        "auth:\n  type: jwt\n  jwt_secret: {}\n",
        crate::harness::SECRET
    ));
    text
}

fn principals(server: &Server) -> Vec<Principal> {
    let mut all = Vec::new();
    let workspaces = |names: &[&str]| -> Access {
        Access::Workspaces(names.iter().map(|name| (*name).to_owned()).collect())
    };
    for org in ORGS {
        let one = |access: Access| BTreeMap::from([(org.to_owned(), access)]);
        all.push(Principal {
            name: format!("admin.{org}@x.org"),
            credential: token(&format!("admin.{org}@x.org")),
            access: one(Access::Admin),
        });
        all.push(Principal {
            name: format!("m1.{org}@x.org"),
            credential: token(&format!("m1.{org}@x.org")),
            access: one(workspaces(&["alpha"])),
        });
        // m2 acts through an API key.
        let key = server.call(
            "POST",
            "/api/keys",
            &server.admin_key,
            Some(&json!({"principal": format!("user:m2.{org}@x.org")})),
        );
        all.push(Principal {
            name: format!("m2.{org}@x.org"),
            credential: key.json()["secret"].as_str().unwrap().to_owned(),
            access: one(workspaces(&["beta"])),
        });
        let key = server.call(
            "POST",
            "/api/keys",
            &server.admin_key,
            Some(&json!({"principal": format!("agent:bot_{org}")})),
        );
        all.push(Principal {
            name: format!("bot_{org}"),
            credential: key.json()["secret"].as_str().unwrap().to_owned(),
            access: one(workspaces(&["alpha"])),
        });
    }
    all.push(Principal {
        name: "dual@x.org".to_owned(),
        credential: token("dual@x.org"),
        access: BTreeMap::from([
            ("acme".to_owned(), workspaces(&["alpha"])),
            ("globex".to_owned(), workspaces(&["beta"])),
        ]),
    });
    all
}

/// The answer with organization names replaced, for comparing "exists elsewhere" with
/// "never existed".
fn shape(response: &Response, org: &str) -> (u16, String, String) {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .replace(org, "ORG");
    (
        response.status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        message,
    )
}

#[derive(Default, Debug)]
struct Tally {
    operations: usize,
    unauthorized: Vec<String>,
    leaks: Vec<String>,
    /// Allowed operations that failed: not a leak, but proof that the oracle and the server
    /// agree on what is allowed (a server refusing everything would otherwise pass).
    refused: Vec<String>,
}

impl Tally {
    fn violations(&self) -> usize {
        self.unauthorized.len() + self.leaks.len()
    }
}

/// A knowledge item the test created.
#[derive(Clone, Debug)]
struct KnownItem {
    org: String,
    key: String,
    path: String,
    /// The personal owner; `None` for the organization's universal items.
    owner: Option<String>,
}

struct Run<'a> {
    server: &'a Server,
    rng: Rng,
    principals: Vec<Principal>,
    files: Vec<String>,
    /// Knowledge items created so far.
    items: Vec<KnownItem>,
    tally: Tally,
    added: usize,
}

impl Run<'_> {
    /// Whether the oracle lets `principal` read a knowledge item: a member of its
    /// organization, and for a personal item its owner or an organization admin.
    fn may_read_item(principal: &Principal, org: &str, owner: Option<&String>) -> bool {
        match principal.access.get(org) {
            None => false,
            Some(Access::Admin) => true,
            Some(Access::Workspaces(_)) => owner.is_none_or(|owner| *owner == principal.name),
        }
    }

    /// Whether the oracle lets `principal` read the file `path`: a workspace file, or a
    /// knowledge item's file.
    fn may_path(&self, principal: &Principal, path: &str) -> bool {
        match self.items.iter().find(|item| item.path == path) {
            Some(item) => Self::may_read_item(principal, &item.org, item.owner.as_ref()),
            None => principal.may(path),
        }
    }

    /// Knowledge operations: create a personal or universal item, read one, list or search.
    fn knowledge_step(&mut self, principal: &Principal, org: &str) {
        let server = self.server;
        let credential = principal.credential.clone();
        let own_orgs = principal.orgs();
        let foreign = !own_orgs.contains(org);
        match self.rng.below(3) {
            0 => {
                let personal = !principal.name.starts_with("bot_") && self.rng.below(2) == 0;
                let env = *self.rng.pick(&["kb", "context", "track"]);
                let data = match env {
                    "kb" => json!({"title": "isolation node"}),
                    "context" => json!({"text": "isolation note"}),
                    _ => json!({"title": "isolation task"}),
                };
                let kind = match env {
                    "kb" => "node",
                    "context" => "note",
                    _ => "task",
                };
                let body = json!({"env": env, "scope": if personal { "personal" } else { "UNIV" }, "kind": kind, "data": data});
                let response = server.call(
                    "POST",
                    &format!("/api/orgs/{org}/items"),
                    &credential,
                    Some(&body),
                );
                let what = format!("{} creates a {env} item in {org}", principal.name);
                if foreign {
                    let probe = server.call(
                        "POST",
                        "/api/orgs/nosuchorg/items",
                        &credential,
                        Some(&body),
                    );
                    self.expect_invisible(&what, org, &response, &probe);
                } else {
                    self.expect_exactly(&what, true, &response);
                    if response.status == 201 {
                        let created = response.json();
                        self.items.push(KnownItem {
                            org: org.to_owned(),
                            key: created["key"].as_str().unwrap().to_owned(),
                            path: created["path"].as_str().unwrap().to_owned(),
                            owner: personal.then(|| principal.name.clone()),
                        });
                    }
                }
            }
            1 => {
                if self.items.is_empty() {
                    return;
                }
                let KnownItem {
                    org: item_org,
                    key,
                    owner,
                    ..
                } = self.rng.pick(&self.items).clone();
                let response =
                    server.get(&format!("/api/orgs/{item_org}/items/{key}"), &credential);
                let what = format!("{} reads item {key} of {item_org}", principal.name);
                if own_orgs.contains(&item_org) {
                    let allowed = Self::may_read_item(principal, &item_org, owner.as_ref());
                    self.expect_exactly(&what, allowed, &response);
                } else {
                    let probe =
                        server.get(&format!("/api/orgs/nosuchorg/items/{key}"), &credential);
                    self.expect_invisible(&what, &item_org, &response, &probe);
                }
            }
            _ => {
                let query = if self.rng.below(2) == 0 {
                    ""
                } else {
                    "?q=isolation"
                };
                let response = server.get(&format!("/api/orgs/{org}/items{query}"), &credential);
                let what = format!("{} lists items of {org}{query}", principal.name);
                if foreign {
                    let probe =
                        server.get(&format!("/api/orgs/nosuchorg/items{query}"), &credential);
                    self.expect_invisible(&what, org, &response, &probe);
                    return;
                }
                self.expect(&what, true, &response);
                self.expect_no_foreign_names(&what, &own_orgs, &response);
                for item in response.json()["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    let key = item["key"].as_str().unwrap_or_default();
                    let known = self
                        .items
                        .iter()
                        .find(|known| known.org == org && known.key == key);
                    let allowed = known.is_some_and(|known| {
                        Self::may_read_item(principal, org, known.owner.as_ref())
                    });
                    if !allowed {
                        self.tally.unauthorized.push(format!("{what} shows {key}"));
                    }
                }
            }
        }
    }

    fn foreign_org(&mut self, principal: &Principal) -> Option<&'static str> {
        let foreign: Vec<&'static str> = ORGS
            .into_iter()
            .filter(|org| !principal.access.contains_key(*org))
            .collect();
        (!foreign.is_empty()).then(|| *self.rng.pick(&foreign))
    }

    /// A request about another organization's object must look exactly like one about an
    /// organization that never existed.
    fn expect_invisible(&mut self, what: &str, org: &str, response: &Response, probe: &Response) {
        if (200..300).contains(&response.status) {
            self.tally.unauthorized.push(format!(
                "{what}: {} {}",
                response.status,
                response.text()
            ));
        } else if shape(response, org) != shape(probe, "nosuchorg") {
            self.tally.leaks.push(format!(
                "{what}: {:?} differs from {:?}",
                shape(response, org),
                shape(probe, "nosuchorg")
            ));
        }
    }

    fn expect(&mut self, what: &str, allowed: bool, response: &Response) {
        if !allowed && (200..300).contains(&response.status) {
            self.tally.unauthorized.push(format!(
                "{what}: {} {}",
                response.status,
                response.text()
            ));
        }
    }

    /// Like [`Run::expect`], and an allowed operation must succeed.
    fn expect_exactly(&mut self, what: &str, allowed: bool, response: &Response) {
        self.expect(what, allowed, response);
        if allowed && !(200..300).contains(&response.status) {
            self.tally
                .refused
                .push(format!("{what}: {} {}", response.status, response.text()));
        }
    }

    /// No organization outside `orgs` may appear in a successful answer.
    fn expect_no_foreign_names(
        &mut self,
        what: &str,
        orgs: &BTreeSet<String>,
        response: &Response,
    ) {
        if !(200..300).contains(&response.status) {
            return;
        }
        let text = response.text();
        for org in ORGS {
            if !orgs.contains(org) && text.contains(&format!("/orgs/{org}")) {
                self.tally.leaks.push(format!("{what} shows {org}: {text}"));
            }
        }
    }

    fn step(&mut self) {
        self.tally.operations += 1;
        let principal = self.rng.pick(&self.principals).clone();
        let credential = principal.credential.clone();
        let own_orgs = principal.orgs();
        let org = *self.rng.pick(&ORGS);
        let workspace = *self.rng.pick(&WORKSPACES);
        let probe_of =
            |path: &str, org: &str| path.replacen(&format!("/orgs/{org}"), "/orgs/nosuchorg", 1);
        let server = self.server;
        match self.rng.below(20) {
            0..=3 => {
                // Read a file that exists (or not).
                let path = if self.rng.below(4) == 0 {
                    format!("/orgs/{org}/{workspace}/missing-{}.md", self.rng.below(10))
                } else {
                    self.rng.pick(&self.files).clone()
                };
                let file_org = path.split('/').nth(2).unwrap().to_owned();
                let response = server.get(&format!("/api/fs{path}"), &credential);
                if own_orgs.contains(&file_org) && self.files.contains(&path) {
                    self.expect_exactly(
                        &format!("{} reads {path}", principal.name),
                        principal.may(&path),
                        &response,
                    );
                } else if own_orgs.contains(&file_org) {
                    self.expect(
                        &format!("{} reads {path}", principal.name),
                        principal.may(&path),
                        &response,
                    );
                } else {
                    let probe = server.get(
                        &format!("/api/fs{}", probe_of(&path, &file_org)),
                        &credential,
                    );
                    self.expect_invisible(
                        &format!("{} reads {path}", principal.name),
                        &file_org,
                        &response,
                        &probe,
                    );
                }
            }
            4 | 5 => {
                let path = format!(
                    "/orgs/{org}/{workspace}/documents/w{}.md",
                    self.rng.below(50)
                );
                let response = server.request(
                    "PUT",
                    &format!("/api/fs{path}"),
                    &[("Authorization", &format!("Bearer {credential}"))],
                    Some(b"written in the isolation test"),
                );
                if own_orgs.contains(org) {
                    self.expect_exactly(
                        &format!("{} writes {path}", principal.name),
                        principal.may(&path),
                        &response,
                    );
                } else {
                    let probe = server.request(
                        "PUT",
                        &format!("/api/fs{}", probe_of(&path, org)),
                        &[("Authorization", &format!("Bearer {credential}"))],
                        Some(b"x"),
                    );
                    self.expect_invisible(
                        &format!("{} writes {path}", principal.name),
                        org,
                        &response,
                        &probe,
                    );
                }
                if (200..300).contains(&response.status) && !self.files.contains(&path) {
                    self.files.push(path);
                }
            }
            6 => {
                let response = server.get("/api/ls/orgs", &credential);
                let listed: BTreeSet<String> = response.json()["entries"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|e| e["name"].as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if listed != own_orgs {
                    self.tally
                        .leaks
                        .push(format!("{} lists /orgs as {listed:?}", principal.name));
                }
            }
            7 => {
                let path = format!("/orgs/{org}/{workspace}");
                let response = server.get(&format!("/api/ls{path}?recursive=true"), &credential);
                if own_orgs.contains(org) {
                    self.expect(
                        &format!("{} lists {path}", principal.name),
                        principal.may(&path),
                        &response,
                    );
                    self.expect_no_foreign_names(
                        &format!("{} lists {path}", principal.name),
                        &own_orgs,
                        &response,
                    );
                } else {
                    let probe = server.get(
                        &format!("/api/ls{}?recursive=true", probe_of(&path, org)),
                        &credential,
                    );
                    self.expect_invisible(
                        &format!("{} lists {path}", principal.name),
                        org,
                        &response,
                        &probe,
                    );
                }
            }
            8 => {
                let response = server.call(
                    "POST",
                    "/api/glob",
                    &credential,
                    Some(&json!({"pattern": "/orgs/**/*.md"})),
                );
                self.expect_no_foreign_names(
                    &format!("{} globs", principal.name),
                    &own_orgs,
                    &response,
                );
                for entry in response.json()["entries"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    let path = entry["path"].as_str().unwrap().to_owned();
                    if !principal.may(&path) {
                        self.tally
                            .unauthorized
                            .push(format!("{} globs {path}", principal.name));
                    }
                }
            }
            9 => {
                let response = server.call(
                    "POST",
                    "/api/grep",
                    &credential,
                    Some(&json!({"pattern": "isolation|workspace_id", "path": format!("/orgs/{org}")})),
                );
                if own_orgs.contains(org) {
                    for found in response.json()["matches"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let path = found["path"].as_str().unwrap().to_owned();
                        if !self.may_path(&principal, &path) {
                            self.tally
                                .unauthorized
                                .push(format!("{} greps {path}", principal.name));
                        }
                    }
                } else {
                    let probe = server.call(
                        "POST",
                        "/api/grep",
                        &credential,
                        Some(&json!({"pattern": "isolation|workspace_id", "path": "/orgs/nosuchorg"})),
                    );
                    self.expect_invisible(
                        &format!("{} greps {org}", principal.name),
                        org,
                        &response,
                        &probe,
                    );
                }
            }
            10 => {
                // Membership: list, add a newcomer, or remove one added earlier.
                let admin = matches!(principal.access.get(org), Some(Access::Admin));
                match self.rng.below(3) {
                    0 => {
                        let response = server.get(&format!("/api/orgs/{org}/members"), &credential);
                        if own_orgs.contains(org) {
                            self.expect_no_foreign_names("members", &own_orgs, &response);
                        } else {
                            let probe = server.get("/api/orgs/nosuchorg/members", &credential);
                            self.expect_invisible(
                                &format!("{} lists members of {org}", principal.name),
                                org,
                                &response,
                                &probe,
                            );
                        }
                    }
                    1 => {
                        self.added += 1;
                        let newcomer = format!("new{}.{org}@x.org", self.added);
                        let body = json!({"user_id": newcomer, "workspaces": [workspace]});
                        let response = server.call(
                            "POST",
                            &format!("/api/orgs/{org}/members"),
                            &credential,
                            Some(&body),
                        );
                        if own_orgs.contains(org) {
                            self.expect(
                                &format!("{} adds {newcomer}", principal.name),
                                admin,
                                &response,
                            );
                        } else {
                            let probe = server.call(
                                "POST",
                                "/api/orgs/nosuchorg/members",
                                &credential,
                                Some(&body),
                            );
                            self.expect_invisible(
                                &format!("{} adds to {org}", principal.name),
                                org,
                                &response,
                                &probe,
                            );
                        }
                        if response.status == 201 {
                            self.principals.push(Principal {
                                name: newcomer.clone(),
                                credential: token(&newcomer),
                                access: BTreeMap::from([(
                                    org.to_owned(),
                                    Access::Workspaces(BTreeSet::from([workspace.to_owned()])),
                                )]),
                            });
                        }
                    }
                    _ => {
                        let candidates: Vec<usize> = (0..self.principals.len())
                            .filter(|&index| {
                                let candidate = &self.principals[index];
                                candidate.name.starts_with("new")
                                    && candidate.access.contains_key(org)
                            })
                            .collect();
                        if let Some(&index) = candidates.first() {
                            let name = self.principals[index].name.clone();
                            let response = server.call(
                                "DELETE",
                                &format!("/api/orgs/{org}/members/{name}"),
                                &credential,
                                None,
                            );
                            if own_orgs.contains(org) {
                                self.expect(
                                    &format!("{} removes {name}", principal.name),
                                    admin,
                                    &response,
                                );
                            } else {
                                let probe = server.call(
                                    "DELETE",
                                    &format!("/api/orgs/nosuchorg/members/{name}"),
                                    &credential,
                                    None,
                                );
                                self.expect_invisible(
                                    &format!("{} removes from {org}", principal.name),
                                    org,
                                    &response,
                                    &probe,
                                );
                            }
                            if response.status == 200 {
                                self.principals[index].access.remove(org);
                            }
                        }
                    }
                }
            }
            11 => {
                // Move or copy something of one's own into another organization.
                let Some(foreign) = self.foreign_org(&principal) else {
                    return;
                };
                let own: Vec<String> = self
                    .files
                    .iter()
                    .filter(|path| principal.may(path))
                    .cloned()
                    .collect();
                if own.is_empty() {
                    return;
                }
                let from = self.rng.pick(&own).clone();
                let to = format!(
                    "/orgs/{foreign}/{workspace}/stolen-{}.md",
                    self.tally.operations
                );
                let route = if self.rng.below(2) == 0 {
                    "/api/mv"
                } else {
                    "/api/cp"
                };
                let response = server.call(
                    "POST",
                    route,
                    &credential,
                    Some(&json!({"from": from, "to": to})),
                );
                self.expect(
                    &format!("{} {route} {from} → {to}", principal.name),
                    false,
                    &response,
                );
                let landed = server.get(&format!("/api/stat{to}"), &server.admin_key);
                if landed.status != 404 {
                    self.tally
                        .unauthorized
                        .push(format!("{} {route} created {to}", principal.name));
                }
            }
            12 => {
                // Grant on another organization's folder, or to another organization's user.
                let target = format!("/orgs/{org}/{workspace}");
                let stranger = self
                    .principals
                    .iter()
                    .find(|other| {
                        !other.access.contains_key(org) && !other.name.starts_with("bot_")
                    })
                    .map(|other| other.name.clone());
                let Some(stranger) = stranger else { return };
                let body = json!({"path": target, "entry": format!("user:{stranger}:rw-")});
                let response = server.call("POST", "/api/acl", &credential, Some(&body));
                self.expect(
                    &format!("{} grants {stranger} on {target}", principal.name),
                    false,
                    &response,
                );
                if !own_orgs.contains(org) {
                    let probe = server.call(
                        "POST",
                        "/api/acl",
                        &credential,
                        Some(&json!({"path": format!("/orgs/nosuchorg/{workspace}"), "entry": format!("user:{stranger}:rw-")})),
                    );
                    self.expect_invisible(
                        &format!("{} grants on {org}", principal.name),
                        org,
                        &response,
                        &probe,
                    );
                }
            }
            14 => {
                // Versions, ACLs and relationships of a file: same rules as reading it.
                let path = self.rng.pick(&self.files).clone();
                let file_org = path.split('/').nth(2).unwrap().to_owned();
                let which = self.rng.below(3);
                let call = |target: &str| match which {
                    0 => server.get(&format!("/api/versions{target}"), &credential),
                    1 => server.get(&format!("/api/acl{target}"), &credential),
                    _ => server.call(
                        "POST",
                        "/api/rebac/relationships/read",
                        &credential,
                        Some(&json!({"resource": target})),
                    ),
                };
                let response = call(&path);
                let what = format!("{} reads metadata ({which}) of {path}", principal.name);
                if own_orgs.contains(&file_org) {
                    // Relationship reads need manage (admins); versions and ACLs need read.
                    let allowed = if which == 2 {
                        matches!(principal.access.get(&file_org), Some(Access::Admin))
                    } else {
                        principal.may(&path)
                    };
                    self.expect(&what, allowed, &response);
                    self.expect_no_foreign_names(&what, &own_orgs, &response);
                } else {
                    let probe = call(&probe_of(&path, &file_org));
                    self.expect_invisible(&what, &file_org, &response, &probe);
                }
            }
            15 => {
                // Keys for someone else, the schema, the change log, all users: never.
                let other = self.rng.pick(&self.principals).name.clone();
                let subject = if other.starts_with("bot_") {
                    format!("agent:{other}")
                } else {
                    format!("user:{other}")
                };
                let attempts = [
                    (
                        "create a key for another",
                        server.call(
                            "POST",
                            "/api/keys",
                            &credential,
                            Some(&json!({"principal": subject})),
                        ),
                    ),
                    (
                        "replace the schema",
                        server.call(
                            "PUT",
                            "/api/rebac/schema",
                            &credential,
                            Some(&json!({"schema": "definition user {}"})),
                        ),
                    ),
                    (
                        "read the change log",
                        server.get("/api/rebac/changes", &credential),
                    ),
                    ("list every user", server.get("/api/users", &credential)),
                ];
                for (what, response) in attempts {
                    let own_key = what == "create a key for another" && other == principal.name;
                    self.expect(
                        &format!("{} tries to {what}", principal.name),
                        own_key,
                        &response,
                    );
                }
            }
            17..=19 => self.knowledge_step(&principal, org),
            16 => {
                // Organizations: only one's own are listed, and creating one is refused.
                let response = server.get("/api/orgs", &credential);
                let listed: BTreeSet<String> = response.json()["orgs"]
                    .as_array()
                    .map(|orgs| {
                        orgs.iter()
                            .map(|o| o["org_id"].as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if listed != own_orgs {
                    self.tally
                        .leaks
                        .push(format!("{} lists orgs as {listed:?}", principal.name));
                }
                let created = server.call(
                    "POST",
                    "/api/orgs",
                    &credential,
                    Some(
                        &json!({"id": format!("rogue{}", self.tally.operations), "name": "Rogue"}),
                    ),
                );
                self.expect(
                    &format!("{} creates an organization", principal.name),
                    false,
                    &created,
                );
            }
            _ => {
                // Metadata and checks.
                let path = self.rng.pick(&self.files).clone();
                let file_org = path.split('/').nth(2).unwrap().to_owned();
                let response = server.get(&format!("/api/stat{path}"), &credential);
                if own_orgs.contains(&file_org) {
                    self.expect(
                        &format!("{} stats {path}", principal.name),
                        principal.may(&path),
                        &response,
                    );
                } else {
                    let probe = server.get(
                        &format!("/api/stat{}", probe_of(&path, &file_org)),
                        &credential,
                    );
                    self.expect_invisible(
                        &format!("{} stats {path}", principal.name),
                        &file_org,
                        &response,
                        &probe,
                    );
                }
                let subject = if principal.name.starts_with("bot_") {
                    format!("agent:{}", principal.name)
                } else {
                    format!("user:{}", principal.name)
                };
                let check = server.call(
                    "POST",
                    "/api/rebac/check",
                    &credential,
                    Some(&json!({"subject": subject, "permission": "read", "object": path})),
                );
                let allowed = check.status == 200 && check.json()["allowed"] == true;
                if allowed != principal.may(&path) && check.status == 200 {
                    self.tally.unauthorized.push(format!(
                        "{} check on {path} answered {allowed}",
                        principal.name
                    ));
                }
                // Whatever relation or permission it asks about itself, a caller learns
                // nothing of other organizations (each has a folder shared with `user:*`).
                let relation = *self.rng.pick(&RELATIONS);
                let found = server.call(
                    "POST",
                    "/api/rebac/lookup-resources",
                    &credential,
                    Some(&json!({"subject": subject, "permission": relation, "resource_type": "file"})),
                );
                self.expect_no_foreign_names(
                    &format!("{} looks up its {relation} files", principal.name),
                    &own_orgs,
                    &found,
                );
                if let Some(foreign) = self.foreign_org(&principal) {
                    let ask = |org: &str| {
                        let answer = server.call(
                            "POST",
                            "/api/rebac/check",
                            &credential,
                            Some(&json!({"subject": subject, "permission": relation, "object": format!("/orgs/{org}/public")})),
                        );
                        (answer.status, answer.json()["result"].clone())
                    };
                    let (there, nowhere) = (ask(foreign), ask("nosuchorg"));
                    if there != nowhere {
                        self.tally.leaks.push(format!(
                            "{} checks {relation} on {foreign}: {there:?} vs {nowhere:?}",
                            principal.name
                        ));
                    }
                }
            }
        }
    }
}

/// Relations and permissions callers ask about themselves.
const RELATIONS: [&str; 6] = [
    "viewer",
    "read_grant",
    "acl_read",
    "member",
    "read",
    "write_grant",
];

fn run(server: &Server, seed: u64, operations: usize) -> Tally {
    let mut files = Vec::new();
    for org in ORGS {
        for workspace in WORKSPACES {
            files.push(format!("/orgs/{org}/{workspace}/context.json"));
        }
    }
    // Each organization shares a folder with everyone (`user:*`, `agent:*`): only its members
    // may learn of it.
    for org in ORGS {
        let shared = server.call(
            "POST",
            "/api/rebac/relationships",
            &token(&format!("admin.{org}@x.org")),
            Some(&json!({"updates": [
                {"operation": "touch", "relationship": format!("file:/orgs/{org}/public#viewer@user:*")},
                {"operation": "touch", "relationship": format!("file:/orgs/{org}/public#viewer@agent:*")},
            ]})),
        );
        assert_eq!(shared.status, 200, "{}", shared.text());
    }
    let mut run = Run {
        server,
        rng: Rng(seed | 1),
        principals: principals(server),
        files,
        items: Vec::new(),
        tally: Tally::default(),
        added: 0,
    };
    for _ in 0..operations {
        run.step();
    }
    run.tally
}

fn operations() -> usize {
    std::env::var("NEXUS_T1_OPERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn t1_no_principal_reaches_or_learns_about_another_organization() {
    let server = Server::start(&config());
    let seed = 0x5EED_0001;
    let tally = run(&server, seed, operations());
    eprintln!(
        "T1: {} operations, {} unauthorized, {} leaks, {} wrongly refused (seed {seed:#x})",
        tally.operations,
        tally.unauthorized.len(),
        tally.leaks.len(),
        tally.refused.len()
    );
    assert_eq!(tally.violations(), 0, "{tally:#?}");
    assert!(tally.refused.is_empty(), "{:#?}", tally.refused);
}

#[test]
fn t8_serving_items_without_their_read_check_is_caught_within_1000_operations() {
    let server = Server::start_with_fault(&config(), nexus_core::fault::Fault::SkipItemReadCheck);
    let tally = run(&server, 0x5EED_0018, 1_000);
    eprintln!(
        "T8 (items): {} unauthorized, {} leaks in {} operations",
        tally.unauthorized.len(),
        tally.leaks.len(),
        tally.operations
    );
    assert!(tally.violations() > 0, "the fault went unnoticed");
}

#[test]
fn t8_dropping_the_org_filter_is_caught_within_1000_operations() {
    let server = Server::start_with_fault(&config(), nexus_core::fault::Fault::DropOrgFilter);
    let tally = run(&server, 0x5EED_0008, 1_000);
    eprintln!(
        "T8: {} unauthorized, {} leaks in {} operations",
        tally.unauthorized.len(),
        tally.leaks.len(),
        tally.operations
    );
    assert!(tally.violations() > 0, "the fault went unnoticed");
}
