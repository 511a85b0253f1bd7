//! Workloads K1-K3 of PERFORMANCE.md: the knowledge layer on the embedded store,
//! in-process, through the items service (every permission check included).
//!
//! The organization has `--users` members (default 1,000), `--sessions` group sessions of
//! ten members each (default 100) and `--items` KB items (default 100,000): every user's
//! personal ones, the organization's universal ones (5%) and the sessions' (5%).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nexus_api::{CreateItem, CreateSession, SessionType};
use nexus_core::{
    CallContext, Fs, ItemQuery, MemberKind, MemberSpec, OrgId, OrgSpec, Principal, Role,
    StoreOptions,
};
use serde_json::json;

use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct KnowledgeArgs {
    /// Members of the organization.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Group sessions (ten members each).
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// KB items in the organization.
    #[arg(long, default_value_t = 100_000)]
    items: usize,
    /// Durable creates for K1 (and F4 writes to compare with).
    #[arg(long, default_value_t = 2_000)]
    writes: usize,
    /// Requests timed for K2 and K3.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Parent of the temporary data directory (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn handle(user: usize) -> String {
    format!("user{user}@bench.org")
}

fn as_user(fs: &Fs, user: usize) -> CallContext {
    fs.context(Principal::User(handle(user)))
}

fn kb(scope: &str, title: &str) -> CreateItem {
    CreateItem {
        env: "kb".to_owned(),
        scope: scope.to_owned(),
        kind: "node".to_owned(),
        id: None,
        data: json!({"title": title, "body": "generated for the knowledge benchmark"}),
        session: None,
    }
}

pub async fn run(args: KnowledgeArgs) -> anyhow::Result<()> {
    let scratch = crate::scratch_dir(args.dir.clone())?;
    let fs = Fs::open(&scratch.path().join("data"), StoreOptions::default()).await?;
    let system = CallContext::system();
    let members = (0..args.users)
        .map(|user| {
            (
                MemberSpec {
                    user_id: handle(user),
                    role: Role::Member,
                    kind: MemberKind::Human,
                    workspaces: Vec::new(),
                },
                Vec::new(),
            )
        })
        .collect();
    fs.orgs()
        .create(
            &system,
            OrgSpec {
                id: OrgId::parse("bench")?,
                name: "Bench".to_owned(),
                workspaces: Vec::new(),
                members,
                settings: serde_json::Map::new(),
            },
        )
        .await?;

    // K1 first, on an empty organization, next to F4 in the same data directory.
    let k1 = k1_creates(&fs, args.writes).await?;
    let f4 = crate::files::durable_writes_as(
        &fs,
        &system,
        "F4 durable 1 KiB write, 1 writer (same run)",
        args.writes,
    )
    .await?;
    let ratio = k1.ops_per_s / f4.ops_per_s.max(f64::MIN_POSITIVE);
    f4.print();
    k1.with_extra(json!({"vs_f4_ops_per_s": ratio})).print();

    let setup = Instant::now();
    let sessions = start_sessions(&fs, &args).await?;
    fill(&fs, &args, &sessions).await?;
    eprintln!(
        "knowledge data: {} items, {} users, {} sessions in {:.0} s",
        args.items,
        args.users,
        sessions.len(),
        setup.elapsed().as_secs_f64()
    );
    k2_first_page(&fs, &args).await?.print();
    k3_search(&fs, &args).await?.print();
    fs.close().await;
    Ok(())
}

/// K1: one writer creating personal KB items; each acknowledged create is durable.
async fn k1_creates(fs: &Fs, writes: usize) -> anyhow::Result<Report> {
    let context = as_user(fs, 0);
    let mut samples = Vec::with_capacity(writes);
    let started = Instant::now();
    for index in 0..writes {
        let begin = Instant::now();
        fs.items()
            .create(&context, "bench", kb("personal", &format!("k1 {index}")))
            .await?;
        samples.push(begin.elapsed());
    }
    Ok(Report::new(
        "K1 create a knowledge item (durable), 1 writer",
        samples,
        started.elapsed(),
    ))
}

/// Group sessions of ten consecutive users each; returns (session id, its members).
async fn start_sessions(
    fs: &Fs,
    args: &KnowledgeArgs,
) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let mut sessions = Vec::new();
    for index in 0..args.sessions {
        let owner = (index * 10) % args.users;
        let members: Vec<usize> = (1..10)
            .map(|offset| (owner + offset) % args.users)
            .collect();
        let session = fs
            .sessions()
            .start(
                &as_user(fs, owner),
                "bench",
                CreateSession {
                    title: format!("session {index}"),
                    session_type: SessionType::Group,
                    members: members.iter().map(|user| handle(*user)).collect(),
                },
            )
            .await?;
        let mut everyone = vec![owner];
        everyone.extend(members);
        sessions.push((session.stable_id, everyone));
    }
    Ok(sessions)
}

/// The K2/K3 data, written by 16 concurrent callers: 90% personal, 5% universal, 5% in
/// sessions; one item in 500 holds the word K3 searches for.
async fn fill(
    fs: &Fs,
    args: &KnowledgeArgs,
    sessions: &[(String, Vec<usize>)],
) -> anyhow::Result<()> {
    let writers = 16;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let fs = fs.clone();
        let sessions = sessions.to_vec();
        let (users, items) = (args.users, args.items);
        tasks.push(tokio::spawn(async move {
            for index in (writer..items).step_by(writers) {
                let word = if index % 500 == 0 { "needle" } else { "hay" };
                let title = format!("node {index} {word}");
                let (user, scope) = match index % 20 {
                    0 => (index / 20 % users, "UNIV".to_owned()),
                    1 if !sessions.is_empty() => {
                        let (id, members) = &sessions[index / 20 % sessions.len()];
                        (members[index % members.len()], id.clone())
                    }
                    _ => (index % users, "personal".to_owned()),
                };
                fs.items()
                    .create(&as_user(&fs, user), "bench", kb(&scope, &title))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// K2: the first page of a plain member's visible KB items (each request a different
/// member, so caches of one caller do not help the next).
async fn k2_first_page(fs: &Fs, args: &KnowledgeArgs) -> anyhow::Result<Report> {
    let query = ItemQuery {
        env: Some("kb".to_owned()),
        ..ItemQuery::default()
    };
    let (samples, elapsed, listed) = time_listings(fs, args, &query, 7, 3).await?;
    Ok(
        Report::new("K2 first page of a member's visible KB items", samples, elapsed)
            .with_extra(json!({"page_items": listed, "items": args.items, "users": args.users, "sessions": args.sessions})),
    )
}

/// K3: a keyword search over everything a plain member may read.
async fn k3_search(fs: &Fs, args: &KnowledgeArgs) -> anyhow::Result<Report> {
    let query = ItemQuery {
        q: Some("needle".to_owned()),
        ..ItemQuery::default()
    };
    let (samples, elapsed, found) = time_listings(fs, args, &query, 11, 5).await?;
    Ok(
        Report::new("K3 keyword search as a member", samples, elapsed)
            .with_extra(json!({"hits": found})),
    )
}

/// `--requests` listings with `query`, request `n` by member `(n * stride + offset) %
/// users`: the latencies, the wall time, and the size of the last page.
async fn time_listings(
    fs: &Fs,
    args: &KnowledgeArgs,
    query: &ItemQuery,
    stride: usize,
    offset: usize,
) -> anyhow::Result<(Vec<Duration>, Duration, usize)> {
    let mut samples: Vec<Duration> = Vec::with_capacity(args.requests);
    let started = Instant::now();
    let mut last = 0;
    for request in 0..args.requests {
        let context = as_user(fs, (request * stride + offset) % args.users);
        let begin = Instant::now();
        let page = fs.items().list(&context, "bench", query.clone()).await?;
        samples.push(begin.elapsed());
        last = page.items.len();
    }
    Ok((samples, started.elapsed(), last))
}
