//! Search against a model: random writes (texts of a few words), removals, moves, grants and
//! revocations; after every step, each user's search for each word must find exactly the
//! files the model says hold the word and that user may read, with that total. The seed is
//! printed; `NEXUS_TEST_SEED=N` replays one. Plus: revocations and deletions are never
//! served from a stale index, Locker secrets are never found, and a rebuilt (or damaged)
//! index answers the same.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use nexus_core::api::CreateItem;
use nexus_core::api::search::{
    Consistency, ConsistencyLevel, SearchMode, SearchRequest, SearchResponse,
};
use nexus_core::fault::Fault;
use nexus_core::locker::MasterKey;
use nexus_core::{CallContext, ErrorCode, Fs, Principal, WriteOptions};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::changes::{USERS, provisioned};
use crate::system;

const ROUNDS: usize = 60;
/// Words that no stemmer folds together.
const WORDS: [&str; 6] = ["alpha", "bravo", "delta", "kilo", "lima", "tango"];

fn request(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        limit: Some(100),
        ..SearchRequest::default()
    }
}

async fn search(fs: &Fs, who: &CallContext, query: &str) -> SearchResponse {
    search_in(fs, who, query, None).await
}

async fn search_in(
    fs: &Fs,
    who: &CallContext,
    query: &str,
    mode: Option<SearchMode>,
) -> SearchResponse {
    fs.search()
        .query(
            who,
            "acme",
            &SearchRequest {
                mode,
                ..request(query)
            },
        )
        .await
        .unwrap()
}

/// A static model built here, one axis per token: a text's vector leans toward each word
/// it holds, so a search by meaning for one word finds exactly the texts holding it (every
/// such text holds at most a few known words: similarity ≥ 1/√3, above the 0.3 default).
fn toy_model(tokens: &[&str]) -> (tempfile::TempDir, Arc<dyn nexus_core::Embedder>) {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<(String, Vec<f32>)> = tokens
        .iter()
        .enumerate()
        .map(|(axis, token)| {
            let mut vector = vec![0.0; tokens.len()];
            vector[axis] = 1.0;
            ((*token).to_owned(), vector)
        })
        .collect();
    nexus_core::write_static_model(dir.path(), &rows).unwrap();
    let model = nexus_core::StaticModel::load(dir.path()).unwrap();
    (dir, Arc::new(model))
}

fn found(response: &SearchResponse) -> BTreeSet<String> {
    response.hits.iter().map(|hit| hit.path.clone()).collect()
}

/// Files with their words, and read grants (user, path: a file or a folder).
#[derive(Default)]
struct Model {
    files: BTreeMap<String, BTreeSet<&'static str>>,
    grants: BTreeSet<(usize, String)>,
}

impl Model {
    fn reads(&self, user: usize, path: &str) -> bool {
        self.grants.iter().any(|(who, granted)| {
            *who == user && (path == granted || path.starts_with(&format!("{granted}/")))
        })
    }

    fn expected(&self, user: Option<usize>, word: &str) -> BTreeSet<String> {
        self.files
            .iter()
            .filter(|(path, words)| {
                words.contains(word) && user.is_none_or(|user| self.reads(user, path))
            })
            .map(|(path, _)| path.clone())
            .collect()
    }

    fn forget(&mut self, path: &str) {
        self.grants
            .retain(|(_, granted)| granted != path && !granted.starts_with(&format!("{path}/")));
    }
}

fn dirs() -> Vec<String> {
    (0..3).map(|d| format!("/orgs/acme/main/d{d}")).collect()
}

fn random_file(rng: &mut SmallRng) -> String {
    format!(
        "/orgs/acme/main/d{}/f{}.md",
        rng.random_range(0..3),
        rng.random_range(0..4)
    )
}

/// Runs the scenario of `seed`; whether every search matched the model. The searches take
/// turns in `modes`; with a mode other than keyword, the filesystem has an embedder.
async fn searches_match_the_model(seed: u64, fault: Option<Fault>, modes: &[SearchMode]) -> bool {
    let (_dir, fs) = provisioned().await;
    let (_model, embedder) = toy_model(&WORDS);
    let fs = if modes.iter().any(|mode| *mode != SearchMode::Keyword) {
        fs.with_embedder(embedder, nexus_core::DEFAULT_MIN_SIMILARITY)
    } else {
        fs
    };
    if let Some(fault) = fault {
        fs.inject_fault(fault);
    }
    let root = system();
    for dir in dirs() {
        fs.files().mkdir(&root, &dir, true).await.unwrap();
    }
    let ids: Vec<String> = USERS
        .iter()
        .map(|user| fs.registry().user_id(user).unwrap())
        .collect();
    let people: Vec<CallContext> = USERS
        .iter()
        .map(|user| fs.context(Principal::User((*user).to_owned())))
        .collect();
    let alice = fs.context(Principal::User("alice@acme.com".to_owned()));
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut model = Model::default();
    for round in 0..ROUNDS {
        match rng.random_range(0..10) {
            0..=3 => {
                let path = random_file(&mut rng);
                let words: BTreeSet<&'static str> = (0..rng.random_range(1..4))
                    .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                    .collect();
                let text = format!(
                    "round {round}: {}",
                    words.iter().copied().collect::<Vec<_>>().join(" and ")
                );
                fs.files()
                    .write(&root, &path, Bytes::from(text), WriteOptions::default())
                    .await
                    .unwrap();
                model.files.insert(path, words);
            }
            4 => {
                let Some(path) = model
                    .files
                    .keys()
                    .nth(rng.random_range(0..model.files.len().max(1)))
                    .cloned()
                else {
                    continue;
                };
                fs.files().rm(&root, &path, false).await.unwrap();
                model.files.remove(&path);
                model.forget(&path);
            }
            5 => {
                let Some(from) = model
                    .files
                    .keys()
                    .nth(rng.random_range(0..model.files.len().max(1)))
                    .cloned()
                else {
                    continue;
                };
                let to = random_file(&mut rng);
                if model.files.contains_key(&to) {
                    continue;
                }
                fs.files().mv(&root, &from, &to, false).await.unwrap();
                let words = model.files.remove(&from).unwrap();
                model.files.insert(to.clone(), words);
                let moved: Vec<usize> = model
                    .grants
                    .iter()
                    .filter(|(_, granted)| *granted == from)
                    .map(|(user, _)| *user)
                    .collect();
                model.forget(&from);
                for user in moved {
                    model.grants.insert((user, to.clone()));
                }
            }
            6..=7 => {
                let user = rng.random_range(0..USERS.len());
                let target = if rng.random_bool(0.5) || model.files.is_empty() {
                    dirs()[rng.random_range(0..3)].clone()
                } else {
                    model
                        .files
                        .keys()
                        .nth(rng.random_range(0..model.files.len()))
                        .cloned()
                        .unwrap()
                };
                fs.relationships()
                    .setfacl(&root, &target, &format!("user:{}:r--", ids[user]))
                    .await
                    .unwrap();
                model.grants.insert((user, target));
            }
            _ => {
                let Some((user, target)) = model
                    .grants
                    .iter()
                    .nth(rng.random_range(0..model.grants.len().max(1)))
                    .cloned()
                else {
                    continue;
                };
                fs.relationships()
                    .setfacl(&root, &target, &format!("user:{}:---", ids[user]))
                    .await
                    .unwrap();
                model.grants.remove(&(user, target));
            }
        }
        // After every step: every user, every word; and the system sees everything.
        let mode = modes[round % modes.len()];
        for word in WORDS {
            for (user, who) in people.iter().enumerate() {
                let got = search_in(&fs, who, word, Some(mode)).await;
                let expected = model.expected(Some(user), word);
                if found(&got) != expected || got.total != expected.len() as u64 {
                    eprintln!(
                        "seed {seed}, round {round}: {} searching `{word}` ({mode:?}) got {:?} (total {}), expected {expected:?}",
                        USERS[user],
                        found(&got),
                        got.total
                    );
                    return false;
                }
            }
            // The system administrator and the organization's administrator read it all.
            for (name, who) in [("the system", &root), ("the admin alice", &alice)] {
                let got = search_in(&fs, who, word, Some(mode)).await;
                if found(&got) != model.expected(None, word) {
                    eprintln!(
                        "seed {seed}, round {round}: {name}'s search for `{word}` ({mode:?}) differs"
                    );
                    return false;
                }
            }
        }
    }
    true
}

fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("NEXUS_TEST_SEED") {
        vec![seed.parse().expect("NEXUS_TEST_SEED is a number")]
    } else {
        let base = rand::rng().random_range(0..u64::MAX / 2);
        (base..base + 2).collect()
    }
}

#[tokio::test]
async fn each_user_finds_exactly_what_they_may_read() {
    for seed in seeds() {
        eprintln!("search differential: seed {seed}");
        assert!(
            searches_match_the_model(seed, None, &[SearchMode::Keyword]).await,
            "seed {seed}: replay with NEXUS_TEST_SEED={seed}"
        );
    }
}

#[tokio::test]
async fn each_user_finds_by_meaning_exactly_what_they_may_read() {
    for seed in seeds() {
        eprintln!("semantic search differential: seed {seed}");
        assert!(
            searches_match_the_model(
                seed,
                None,
                &[
                    SearchMode::Keyword,
                    SearchMode::Semantic,
                    SearchMode::Hybrid
                ]
            )
            .await,
            "seed {seed}: replay with NEXUS_TEST_SEED={seed}"
        );
    }
}

/// Negative control: a search that ranks and counts unreadable documents is caught.
#[tokio::test]
async fn an_unfiltered_search_is_caught() {
    assert!(
        !searches_match_the_model(7, Some(Fault::UnfilteredSearch), &[SearchMode::Keyword]).await
    );
}

/// Negative controls of the semantic differential, one mode at a time.
#[tokio::test]
async fn an_unfiltered_semantic_or_hybrid_search_is_caught() {
    for mode in [SearchMode::Semantic, SearchMode::Hybrid] {
        assert!(!searches_match_the_model(7, Some(Fault::UnfilteredSearch), &[mode]).await);
    }
}

#[tokio::test]
async fn revocations_and_deletions_are_never_served_from_a_stale_index() {
    let (_dir, fs) = provisioned().await;
    let root = system();
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let bob_id = fs.registry().user_id("bob@acme.com").unwrap();
    fs.files()
        .mkdir(&root, "/orgs/acme/main/open", true)
        .await
        .unwrap();
    for (path, text) in [
        ("/orgs/acme/main/open/plan.md", "the quarterly zephyr plan"),
        (
            "/orgs/acme/main/open/gone.md",
            "a zephyr that will be removed",
        ),
    ] {
        fs.files()
            .write(&root, path, Bytes::from(text), WriteOptions::default())
            .await
            .unwrap();
    }
    fs.relationships()
        .setfacl(&root, "/orgs/acme/main/open", &format!("user:{bob_id}:r--"))
        .await
        .unwrap();
    assert_eq!(search(&fs, &bob, "zephyr").await.total, 2);
    // From now on searches do not wait for the index, and nothing brings it up to date.
    fs.search().spawn_indexer().abort();
    let indexed = search(&fs, &bob, "zephyr").await.indexed_revision;
    // A deletion: the index still holds the file, the answer does not show it.
    fs.files()
        .rm(&root, "/orgs/acme/main/open/gone.md", false)
        .await
        .unwrap();
    let after_rm = search(&fs, &bob, "zephyr").await;
    assert_eq!(
        after_rm.indexed_revision, indexed,
        "the index stayed behind"
    );
    assert_eq!(
        found(&after_rm),
        BTreeSet::from(["/orgs/acme/main/open/plan.md".to_owned()])
    );
    // A revocation: gone from the very next search.
    fs.relationships()
        .setfacl(&root, "/orgs/acme/main/open", &format!("user:{bob_id}:---"))
        .await
        .unwrap();
    let revoked = search(&fs, &bob, "zephyr").await;
    assert_eq!(revoked.total, 0);
    assert!(revoked.hits.is_empty());
    // Asking for consistency brings the index up to date: the deletion leaves it.
    let consistent = fs
        .search()
        .query(
            &root,
            "acme",
            &SearchRequest {
                consistency: Some(Consistency::Level(ConsistencyLevel::FullyConsistent)),
                ..request("zephyr")
            },
        )
        .await
        .unwrap();
    assert!(consistent.indexed_revision > indexed);
    assert_eq!(consistent.total, 1);
}

#[tokio::test]
async fn locker_secrets_are_never_found() {
    let (dir, fs) = provisioned().await;
    fs.close().await;
    let canary = "canaryq7x9secret";
    // The secret is a word the model knows: were it embedded, a search by meaning would
    // find it.
    let (_model, embedder) = toy_model(&[canary, "deploy", "credentials"]);
    let fs = Fs::open(
        &dir.path().join("data"),
        nexus_core::StoreOptions::default(),
    )
    .await
    .unwrap()
    .with_embedder(embedder, nexus_core::DEFAULT_MIN_SIMILARITY);
    let (_, key) = MasterKey::generate();
    fs.enable_lockers(MasterKey::from_base64(&key).unwrap())
        .await
        .unwrap();
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    fs.items()
        .create(
            &bob,
            "acme",
            CreateItem {
                env: "locker".to_owned(),
                scope: "personal".to_owned(),
                kind: "cred".to_owned(),
                id: None,
                data: json!({"name": "deploy credentials", "secret": canary, "username": "svc"}),
                session: None,
            },
        )
        .await
        .unwrap();
    // The item is found by what is not secret, by its owner, in every mode...
    for mode in [
        SearchMode::Keyword,
        SearchMode::Semantic,
        SearchMode::Hybrid,
    ] {
        let response = search_in(&fs, &bob, "deploy credentials", Some(mode)).await;
        assert_eq!(response.total, 1, "{mode:?}");
    }
    // ...and its secret by nobody, in any mode, whole or by prefix.
    let alice = fs.context(Principal::User("alice@acme.com".to_owned()));
    for who in [&bob, &alice, &system()] {
        for query in [canary, "canaryq7*", "\"canaryq7x9secret\""] {
            for mode in [None, Some(SearchMode::Semantic), Some(SearchMode::Hybrid)] {
                let response = fs
                    .search()
                    .query(
                        who,
                        "acme",
                        &SearchRequest {
                            mode,
                            ..request(query)
                        },
                    )
                    .await
                    .unwrap();
                assert_eq!(response.total, 0, "{query}");
            }
        }
    }
    // Nor does the index on disk hold it.
    let index_dir = dir.path().join("data").join("search");
    let mut stack = vec![index_dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes
                        .windows(canary.len())
                        .any(|window| window == canary.as_bytes()),
                    "{} holds the secret",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_rebuilt_or_damaged_index_answers_the_same() {
    let (dir, fs) = provisioned().await;
    let root = system();
    for (index, word) in WORDS.iter().enumerate() {
        fs.files()
            .write(
                &root,
                &format!("/orgs/acme/main/n{index}.md"),
                Bytes::from(format!("{word} {}", WORDS[(index + 1) % WORDS.len()])),
                WriteOptions::default(),
            )
            .await
            .unwrap();
    }
    let before: Vec<BTreeSet<String>> = {
        let mut all = Vec::new();
        for word in WORDS {
            all.push(found(&search(&fs, &root, word).await));
        }
        all
    };
    assert!(before.iter().all(|found| found.len() == 2));
    // Rebuilt on request: the system administrator only.
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let refused = fs.search().reindex(&bob, "acme").await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::PermissionDenied);
    let documents = fs.search().reindex(&root, "acme").await.unwrap();
    assert!(documents >= WORDS.len() as u64);
    for (word, expected) in WORDS.iter().zip(&before) {
        assert_eq!(&found(&search(&fs, &root, word).await), expected);
    }
    // Damaged on disk: rebuilt when next opened.
    fs.close().await;
    let meta = dir.path().join("data/search/acme/meta.json");
    std::fs::write(&meta, b"{ damaged").unwrap();
    let fs = Fs::open(
        &dir.path().join("data"),
        nexus_core::StoreOptions::default(),
    )
    .await
    .unwrap();
    for (word, expected) in WORDS.iter().zip(&before) {
        assert_eq!(&found(&search(&fs, &root, word).await), expected);
    }
    // Missing: the same.
    fs.close().await;
    std::fs::remove_dir_all(dir.path().join("data/search")).unwrap();
    let fs = Fs::open(
        &dir.path().join("data"),
        nexus_core::StoreOptions::default(),
    )
    .await
    .unwrap();
    for (word, expected) in WORDS.iter().zip(&before) {
        assert_eq!(&found(&search(&fs, &root, word).await), expected);
    }
}

#[tokio::test]
async fn each_hit_says_why_the_caller_may_read_it() {
    let (_dir, fs) = provisioned().await;
    let root = system();
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let bob_id = fs.registry().user_id("bob@acme.com").unwrap();
    fs.files()
        .write(
            &root,
            "/orgs/acme/main/open/plan.md",
            Bytes::from("the quarterly zephyr plan"),
            WriteOptions {
                create_parents: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    fs.relationships()
        .setfacl(&root, "/orgs/acme/main/open", &format!("user:{bob_id}:r--"))
        .await
        .unwrap();
    fs.items()
        .create(
            &bob,
            "acme",
            CreateItem {
                env: "kb".to_owned(),
                scope: "personal".to_owned(),
                kind: "node".to_owned(),
                id: None,
                data: json!({"title": "zephyr notes"}),
                session: None,
            },
        )
        .await
        .unwrap();
    let explaining = SearchRequest {
        explain: true,
        ..request("zephyr")
    };
    let answer = fs.search().query(&bob, "acme", &explaining).await.unwrap();
    assert_eq!(answer.total, 2);
    for hit in &answer.hits {
        let why = hit.why.as_ref().expect("asked for");
        assert_eq!(why[0], format!("file:{}", hit.path), "{why:?}");
        assert_eq!(
            why.last().map(|step| step.ends_with("user:bob@acme.com")),
            Some(true),
            "{why:?}"
        );
        if hit.key.is_none() {
            // The grant on the folder, reached from the file through its parent.
            assert!(
                why.contains(&"parent → file:/orgs/acme/main/open".to_owned()),
                "{why:?}"
            );
            assert!(
                why.iter().any(|step| step.starts_with("acl_read → ")),
                "{why:?}"
            );
        } else {
            // A personal item: its owner.
            assert!(
                why.iter().any(|step| step.contains("scope_owner")),
                "{why:?}"
            );
        }
    }
    // Not asked: not said.
    assert!(
        search(&fs, &bob, "zephyr")
            .await
            .hits
            .iter()
            .all(|hit| hit.why.is_none())
    );
    let system_answer = fs.search().query(&root, "acme", &explaining).await.unwrap();
    assert!(system_answer.hits.iter().all(|hit| hit.why.as_deref()
        == Some(&["the system administrator reads everything".to_owned()][..])));
}

#[tokio::test]
async fn facets_count_only_what_the_caller_may_read() {
    let (_dir, fs) = provisioned().await;
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let alice = fs.context(Principal::User("alice@acme.com".to_owned()));
    let item = |env: &str, scope: &str, kind: &str| CreateItem {
        env: env.to_owned(),
        scope: scope.to_owned(),
        kind: kind.to_owned(),
        id: None,
        data: json!({"title": "quasar findings", "body": "quasar"}),
        session: None,
    };
    for (who, env, scope, kind) in [
        (&bob, "kb", "personal", "node"),
        (&bob, "kb", "personal", "node"),
        (&alice, "kb", "UNIV", "node"),
        // Alice's own: bob may not read it, so it is counted nowhere for him.
        (&alice, "kb", "personal", "node"),
    ] {
        fs.items()
            .create(who, "acme", item(env, scope, kind))
            .await
            .unwrap();
    }
    let bob_id = fs.registry().user_id("bob@acme.com").unwrap();
    let answer = search(&fs, &bob, "quasar").await;
    assert_eq!(answer.total, 3);
    assert_eq!(answer.facets.env, BTreeMap::from([("kb".to_owned(), 3)]));
    assert_eq!(answer.facets.kind, BTreeMap::from([("node".to_owned(), 3)]));
    assert_eq!(
        answer.facets.scope,
        BTreeMap::from([(bob_id, 2), ("UNIV".to_owned(), 1)])
    );
    // The organization's admin reads all four; files add no facets.
    fs.files()
        .write(
            &system(),
            "/orgs/acme/main/quasar.md",
            Bytes::from("quasar"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let answer = search(&fs, &alice, "quasar").await;
    assert_eq!(answer.total, 5);
    assert_eq!(answer.facets.env.get("kb"), Some(&4));
    assert_eq!(answer.facets.scope.values().sum::<u64>(), 4);
}

/// Bob reads 30 of 330 texts, all alike: a graph's neighbours are mostly not his. Runs the
/// system administrator's searches until they come from graphs, checks their pages, and
/// answers whether bob's and alice's (an organization admin) answers stayed exact.
async fn approximate_neighbours_scenario(fault: Option<Fault>) -> bool {
    let (_dir, fs) = provisioned().await;
    let (_model, embedder) = toy_model(&WORDS);
    let fs = fs
        .with_embedder(embedder, nexus_core::DEFAULT_MIN_SIMILARITY)
        .with_exact_limit(20);
    if let Some(fault) = fault {
        fs.inject_fault(fault);
    }
    let root = system();
    let bob_id = fs.registry().user_id("bob@acme.com").unwrap();
    let bob = fs.context(Principal::User("bob@acme.com".to_owned()));
    let alice = fs.context(Principal::User("alice@acme.com".to_owned()));
    for (folder, count) in [("open", 30), ("closed", 300)] {
        fs.files()
            .mkdir(&root, &format!("/orgs/acme/main/{folder}"), true)
            .await
            .unwrap();
        for at in 0..count {
            fs.files()
                .write(
                    &root,
                    &format!("/orgs/acme/main/{folder}/n{at}.md"),
                    Bytes::from("alpha"),
                    WriteOptions::default(),
                )
                .await
                .unwrap();
        }
    }
    fs.relationships()
        .setfacl(&root, "/orgs/acme/main/open", &format!("user:{bob_id}:r--"))
        .await
        .unwrap();
    // One segment (its graph is built in the background after the first search needs it).
    fs.search().reindex(&root, "acme").await.unwrap();
    let page = |who: &CallContext, limit: usize| {
        let fs = &fs;
        let who = who.clone();
        async move {
            fs.search()
                .query(
                    &who,
                    "acme",
                    &SearchRequest {
                        mode: Some(SearchMode::Semantic),
                        limit: Some(limit),
                        ..request("alpha")
                    },
                )
                .await
                .unwrap()
        }
    };
    let mut answer = page(&root, 10).await;
    // The graphs build in the background: up to a minute on a loaded machine.
    for _ in 0..1200 {
        if answer.approximate {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        answer = page(&root, 10).await;
    }
    // The system administrator reads everything: a graph's neighbours fill the page.
    assert!(answer.approximate, "no graph was built");
    assert_eq!(answer.hits.len(), 10);
    assert!(answer.total < 330, "{}", answer.total);
    // A page the neighbours cannot fill is answered by comparing every candidate.
    let all = page(&root, 100).await;
    assert_eq!(all.hits.len(), 100);
    assert!(all.next_cursor.is_some());
    // Anyone else is answered exactly, whatever the limit: what they see never depends on
    // how many documents they may not read lie near the query.
    let mut exact = true;
    for limit in [5, 100] {
        let bobs = page(&bob, limit).await;
        assert!(
            bobs.hits
                .iter()
                .all(|hit| hit.path.starts_with("/orgs/acme/main/open/"))
        );
        let alices = page(&alice, limit).await;
        exact &= !bobs.approximate && bobs.total == 30;
        exact &= !alices.approximate && alices.total == 330;
    }
    exact
}

#[tokio::test]
async fn approximate_neighbours_serve_only_who_reads_everything_and_fill_their_pages() {
    assert!(approximate_neighbours_scenario(None).await);
}

#[tokio::test]
async fn graphs_for_everyone_are_caught() {
    assert!(!approximate_neighbours_scenario(Some(Fault::GraphsForEveryone)).await);
}
