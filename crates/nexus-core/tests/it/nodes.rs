//! Several nodes sharing one store (the scale-out tier: PostgreSQL + S3, from
//! `scripts/services.sh`): what one node commits is in force on the others, at once for a
//! request carrying the write's revision and within the follower's interval otherwise.
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs them with `--ignored`.

use std::time::{Duration, Instant};

use nexus_core::fault::Fault;
use nexus_core::{CallContext, CheckQuery, Fs, ScaleOut, Storage, StoreOptions};
use nexus_rebac::{
    CheckResult, ObjectRef, Operation, Relationship, RelationshipUpdate, SubjectRef,
};
use tempfile::TempDir;

/// Write-then-read pairs per run (`NEXUS_NODE_PAIRS` changes it).
fn pairs() -> usize {
    std::env::var("NEXUS_NODE_PAIRS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10_000)
}

/// `count` nodes on one fresh schema and S3 prefix (each with a directory of its own).
async fn nodes(count: usize) -> (TempDir, Storage, Vec<Fs>) {
    let url = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run `eval \"$(scripts/services.sh start)\"` first")
        })
    };
    let schema = format!(
        "nodes_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let dir = TempDir::new().unwrap();
    let storage = |index: usize| {
        Storage::ScaleOut(ScaleOut {
            metadata: url("NEXUS_PG_URL"),
            blobs: Some(format!("{}/{schema}", url("NEXUS_S3_URL"))),
            dir: dir.path().join(format!("node-{index}")),
            max_connections: 4,
            migrate: true,
            schema: Some(schema.clone()),
        })
    };
    let mut nodes = Vec::new();
    for index in 0..count {
        nodes.push(
            Fs::connect(&storage(index), StoreOptions::default())
                .await
                .unwrap(),
        );
    }
    let first = storage(0);
    (dir, first, nodes)
}

async fn close(storage: &Storage, nodes: Vec<Fs>) {
    for node in nodes {
        node.close().await;
    }
    storage.drop_schema().await.unwrap();
}

fn viewer(user: usize) -> Relationship {
    Relationship::parse(&format!("file:/orgs/acme/doc.md#viewer@user:u_{user}")).unwrap()
}

async fn write(node: &Fs, operation: Operation, relationship: Relationship) -> u64 {
    node.relationships()
        .write(
            &CallContext::system(),
            vec![RelationshipUpdate {
                operation,
                relationship,
            }],
            Vec::new(),
        )
        .await
        .unwrap()
        .revision
}

/// Whether `user` may read the document, on `node`, at least as fresh as `at_least`
/// (`None`: the node refused the revision as newer than its state).
async fn reads(node: &Fs, user: usize, at_least: Option<u64>) -> Option<bool> {
    let system = CallContext::system();
    let token = at_least.map(|revision| revision.to_string());
    if node
        .relationships()
        .await_fresh(&system, token.as_deref())
        .await
        .is_err()
    {
        return None;
    }
    let result = node
        .relationships()
        .check(
            &system,
            CheckQuery {
                resource: &ObjectRef::new("file", "/orgs/acme/doc.md"),
                permission: "read",
                subject: &SubjectRef::object("user", format!("u_{user}")),
                context: None,
                at_least: token.as_deref(),
            },
        )
        .ok()?;
    Some(result == CheckResult::Has)
}

/// Grants and revocations alternate over three nodes; every read on the next node, with
/// the write's revision, sees it. Returns the stale reads.
async fn stale_reads(nodes: &[Fs], pairs: usize) -> usize {
    const USERS: usize = 7;
    for user in 0..USERS {
        let member = Relationship::parse(&format!("org:acme#member@user:u_{user}")).unwrap();
        write(&nodes[0], Operation::Touch, member).await;
    }
    let mut granted = [false; USERS];
    let mut stale = 0;
    for pair in 0..pairs {
        let user = pair % USERS;
        let writer = &nodes[pair % nodes.len()];
        let reader = &nodes[(pair + 1) % nodes.len()];
        granted[user] = !granted[user];
        let operation = if granted[user] {
            Operation::Touch
        } else {
            Operation::Delete
        };
        let revision = write(writer, operation, viewer(user)).await;
        if reads(reader, user, Some(revision)).await != Some(granted[user]) {
            stale += 1;
        }
    }
    stale
}

/// 0 stale reads (and so 0 stale allows after a revocation) over the pairs, three nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn reads_with_the_revision_see_writes_of_other_nodes() {
    let (_dir, storage, nodes) = nodes(3).await;
    let pairs = pairs();
    let started = Instant::now();
    let stale = stale_reads(&nodes, pairs).await;
    eprintln!(
        "{pairs} write/read pairs over 3 nodes in {:?}: {stale} stale",
        started.elapsed()
    );
    assert_eq!(stale, 0);
    close(&storage, nodes).await;
}

/// Negative control: the same pairs with the nodes not following the store (a node then
/// catches up only when it writes itself) read stale answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn without_following_reads_are_stale() {
    let (_dir, storage, nodes) = nodes(3).await;
    for node in &nodes {
        node.inject_fault(Fault::NoFollowing);
    }
    let stale = stale_reads(&nodes, 60).await;
    eprintln!("60 pairs without following: {stale} stale");
    assert!(
        stale > 0,
        "nodes that do not follow must answer from old state"
    );
    close(&storage, nodes).await;
}

/// Without a revision, a node follows within a bounded lag: a grant on one node is in force
/// on the other after at most a few polling intervals (the loop gives up after 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn nodes_follow_each_other_without_a_revision() {
    let (_dir, storage, nodes) = nodes(2).await;
    let member = Relationship::parse("org:acme#member@user:u_1").unwrap();
    write(&nodes[0], Operation::Touch, member).await;
    let mut lags = Vec::new();
    for round in 0..20 {
        let granted = round % 2 == 0;
        let operation = if granted {
            Operation::Touch
        } else {
            Operation::Delete
        };
        write(&nodes[0], operation, viewer(1)).await;
        let started = Instant::now();
        while reads(&nodes[1], 1, None).await != Some(granted) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "node 1 did not follow within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        lags.push(started.elapsed());
    }
    lags.sort();
    eprintln!(
        "follow lag over 20 changes: median {:?}, max {:?}",
        lags[10], lags[19]
    );
    close(&storage, nodes).await;
}

/// A node whose state is behind still writes: the store refuses its stale revision, it
/// catches up and plans again (nothing is lost, nothing overwritten).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn writers_on_several_nodes_interleave() {
    let (_dir, storage, nodes) = nodes(2).await;
    for node in &nodes {
        node.inject_fault(Fault::NoFollowing);
    }
    let mut tasks = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            for user in 0..25 {
                let id = index * 100 + user;
                let member = Relationship::parse(&format!("org:acme#member@user:u_{id}")).unwrap();
                write(&node, Operation::Touch, member).await;
                write(&node, Operation::Touch, viewer(id)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Every grant is stored: a node joining now sees them all.
    let fresh = Fs::connect(&storage, StoreOptions::default())
        .await
        .unwrap();
    for index in 0..2 {
        for user in 0..25 {
            assert_eq!(
                reads(&fresh, index * 100 + user, None).await,
                Some(true),
                "u_{}",
                index * 100 + user
            );
        }
    }
    fresh.close().await;
    close(&storage, nodes).await;
}

/// A file written on one node is read on the others (content and listings), within the
/// follower's interval, although they had cached its older version; a node that does not
/// follow keeps serving what it cached (the negative control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn files_written_on_one_node_are_read_on_the_others() {
    let (_dir, storage, nodes) = nodes(3).await;
    nodes[2].inject_fault(Fault::NoFollowing);
    crate::put(&nodes[0], "/orgs/acme/notes/plan.md", "first").await;
    for node in &nodes[1..] {
        assert_eq!(crate::cat(node, "/orgs/acme/notes/plan.md").await, "first");
        assert_eq!(crate::tree(node, "/orgs/acme/notes").await.len(), 1);
    }
    crate::put(&nodes[0], "/orgs/acme/notes/plan.md", "second").await;
    crate::put(&nodes[0], "/orgs/acme/notes/more.md", "more").await;
    let started = Instant::now();
    while crate::cat(&nodes[1], "/orgs/acme/notes/plan.md").await != "second"
        || crate::tree(&nodes[1], "/orgs/acme/notes").await.len() != 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node 1 still serves the old version after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("node 1 read the new version after {:?}", started.elapsed());
    // Node 2 does not follow: after many intervals, it still answers from its cache.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        crate::cat(&nodes[2], "/orgs/acme/notes/plan.md").await,
        "first"
    );
    close(&storage, nodes).await;
}

/// Each node runs the scheduler's loop (fire due reminders while holding the lease), as
/// `nexus serve` does.
fn scheduler(node: Fs, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            if node
                .hold_lease("reminders", Duration::from_millis(600))
                .await
                .unwrap_or(false)
            {
                let _ = node.reminders().fire_due(chrono::Utc::now()).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// A reminder fires exactly once with three nodes running the scheduler, also when the
/// node holding the scheduler's lease stops: another takes over once the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn reminders_fire_once_across_nodes() {
    use nexus_core::api::CreateItem;
    use nexus_core::api::notifications::NotificationQuery;
    use nexus_core::{MemberKind, MemberSpec, OrgId, OrgSpec, Principal, Role};

    let (_dir, storage, nodes) = nodes(3).await;
    let spec = OrgSpec {
        id: OrgId::parse("acme").unwrap(),
        name: "Acme".to_owned(),
        workspaces: Vec::new(),
        members: vec![(
            MemberSpec {
                user_id: "bob@acme.com".to_owned(),
                role: Role::Member,
                kind: MemberKind::Human,
                workspaces: Vec::new(),
            },
            Vec::new(),
        )],
        settings: serde_json::Map::new(),
    };
    nodes[0]
        .orgs()
        .provision(&CallContext::system(), &[spec])
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Node 0 starts first and takes the lease.
    let mut loops = vec![scheduler(nodes[0].clone(), stopped.clone())];
    tokio::time::sleep(Duration::from_millis(200)).await;
    loops.push(scheduler(nodes[1].clone(), stopped.clone()));
    loops.push(scheduler(nodes[2].clone(), stopped.clone()));
    let remind = |node: usize, title: &'static str| {
        let node = nodes[node].clone();
        async move {
            // Let the node learn bob (registered on node 0).
            tokio::time::sleep(Duration::from_millis(100)).await;
            let bob = node.context(Principal::User("bob@acme.com".to_owned()));
            let due = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
            node.items()
                .create(
                    &bob,
                    "acme",
                    CreateItem {
                        env: "chrono".to_owned(),
                        scope: "personal".to_owned(),
                        kind: "reminder".to_owned(),
                        id: None,
                        data: serde_json::json!({"title": title, "due": due}),
                        session: None,
                    },
                )
                .await
                .unwrap();
        }
    };
    let fired = |title: &'static str| {
        let node = nodes[1].clone();
        async move {
            let bob = node.context(Principal::User("bob@acme.com".to_owned()));
            node.notifications()
                .list(&bob, &NotificationQuery::default())
                .await
                .unwrap()
                .notifications
                .iter()
                .filter(|notification| notification.title == title)
                .count()
        }
    };
    remind(1, "first").await;
    let started = Instant::now();
    while fired("first").await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the reminder did not fire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fired("first").await,
        1,
        "fired exactly once with three schedulers"
    );
    // The lease holder stops: another node takes the scheduler over.
    let mut loops = loops.into_iter();
    loops.next().unwrap().abort();
    remind(2, "second").await;
    let started = Instant::now();
    while fired("second").await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no other node took the scheduler over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fired("second").await, 1);
    eprintln!(
        "the second reminder fired {:?} after it was created (lease 600 ms)",
        started.elapsed()
    );
    stop.send(true).unwrap();
    for task in loops {
        task.await.unwrap();
    }
    close(&storage, nodes).await;
}

/// An API key created on one node works on the others, and its revocation on one node is
/// honoured by the others within the follower's interval (never undone by a reload).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and S3: scripts/services.sh start, then cargo test -- --ignored"]
async fn keys_and_revocations_reach_every_node() {
    let (_dir, storage, nodes) = nodes(3).await;
    let system = CallContext::system();
    let key = nodes[0]
        .accounts()
        .create_key(&system, "system", "shared key")
        .await
        .unwrap();
    let until = |node: usize, valid: bool| {
        let node = nodes[node].clone();
        let secret = key.secret.clone();
        async move {
            let started = Instant::now();
            while node.registry().authenticate_key(&secret).is_some() != valid {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "node did not follow the key within 5 s"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            started.elapsed()
        }
    };
    until(1, true).await;
    until(2, true).await;
    nodes[1]
        .accounts()
        .revoke_key(&system, &key.id)
        .await
        .unwrap();
    assert!(nodes[1].registry().authenticate_key(&key.secret).is_none());
    let lag = until(0, false).await;
    until(2, false).await;
    eprintln!("a revocation reached another node after {lag:?}");
    // Many intervals later, no reload has revived it anywhere.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for node in &nodes {
        assert!(node.registry().authenticate_key(&key.secret).is_none());
    }
    close(&storage, nodes).await;
}
