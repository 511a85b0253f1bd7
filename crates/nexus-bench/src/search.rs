//! Workloads S1-S4 of PERFORMANCE.md: search on the embedded store, in-process, through
//! `fs.search()` (every permission check included).
//!
//! One organization holds `--docs` text files (default 100,000) of about 1 KiB each, in ten
//! folders; the words follow a Zipf distribution over a vocabulary of 5,000 made-up words.
//! A member may read one folder (10%); an organization admin reads everything (and is
//! checked like anyone but the system administrator).
//!
//! - S1 / S2: keyword queries of every selectivity, as the member / the admin, next to
//!   `grep` for the same word over the same files in the same run.
//! - S3: building the index from the store (documents/s), then the lag from an
//!   acknowledged write to its first search hit while 16 writers write.
//! - S4: semantic and hybrid queries with a static model of potion-base-8M's shape (29,528
//!   tokens × 256 dimensions, weights generated here: nothing is downloaded), every vector
//!   compared, then through the index segments' graphs (approximate, with its recall).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nexus_api::search::{Consistency, ConsistencyLevel, SearchMode, SearchRequest};
use nexus_core::{
    CallContext, Fs, GrepOptions, MemberKind, MemberSpec, OrgId, OrgSpec, Principal, Role,
    StoreOptions, WriteOptions,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Documents in the organization.
    #[arg(long, default_value_t = 100_000)]
    docs: usize,
    /// Queries timed per workload.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Writes whose index lag is measured (S3).
    #[arg(long, default_value_t = 200)]
    lag_samples: usize,
    /// Concurrent writers while the lag is measured.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Skip S4 (the semantic workloads build a second index, with vectors).
    #[arg(long)]
    no_semantic: bool,
    /// Parent of the temporary data directory (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const VOCABULARY: usize = 5_000;
const FOLDERS: usize = 10;
const DOC_BYTES: usize = 1024;
const MODEL_TOKENS: usize = 29_528;
const MODEL_DIMENSIONS: usize = 256;
/// The exact limit of S4's second half: below the 100,000-odd candidates, so the system
/// administrator's searches go through the segments' graphs.
const GRAPH_EXACT_LIMIT: usize = 50_000;

/// The made-up word of rank `rank` (0 is the most frequent): three or more syllables.
fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ra", "tu", "ne", "si", "po", "de", "fa", "gu", "be", "zo", "ri", "va",
        "xe", "ju", "wo", "ho", "ly",
    ];
    let mut n = rank + 400;
    let mut out = String::new();
    while n > 0 {
        out.push_str(SYLLABLES[n % 20]);
        n /= 20;
    }
    out
}

/// Samples word ranks with probability ∝ 1 / (rank + 1).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut SmallRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.random_range(0.0..total);
        self.cumulative.partition_point(|at| *at < target)
    }
}

fn text(zipf: &Zipf, rng: &mut SmallRng) -> String {
    let mut out = String::with_capacity(DOC_BYTES + 16);
    while out.len() < DOC_BYTES {
        out.push_str(&word(zipf.sample(rng)));
        out.push(if rng.random_range(0..12) == 0 {
            '\n'
        } else {
            ' '
        });
    }
    out
}

fn doc_path(index: usize) -> String {
    format!("/orgs/bench/main/d{}/doc{index}.md", index % FOLDERS)
}

/// The queries, from the broadest to the narrowest.
fn queries() -> Vec<(&'static str, String)> {
    vec![
        ("word of rank 1", word(0)),
        ("word of rank 10", word(9)),
        ("word of rank 100", word(99)),
        ("word of rank 1000", word(999)),
        (
            "two words (ranks 20, 200)",
            format!("{} {}", word(19), word(199)),
        ),
        (
            "phrase (ranks 1, 2)",
            format!("\"{} {}\"", word(0), word(1)),
        ),
        ("prefix", format!("{}*", &word(150)[..4])),
    ]
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let scratch = crate::scratch_dir(args.dir.clone())?;
    let data = scratch.path().join("data");
    let fs = Fs::open(&data, StoreOptions::default()).await?;
    let system = CallContext::system();
    let member = |handle: &str, role| {
        (
            MemberSpec {
                user_id: handle.to_owned(),
                role,
                kind: MemberKind::Human,
                workspaces: Vec::new(),
            },
            Vec::new(),
        )
    };
    fs.orgs()
        .create(
            &system,
            OrgSpec {
                id: OrgId::parse("bench")?,
                name: "Bench".to_owned(),
                workspaces: Vec::new(),
                members: vec![
                    member("member@bench.org", Role::Member),
                    member("admin@bench.org", Role::Admin),
                ],
                settings: serde_json::Map::new(),
            },
        )
        .await?;
    for folder in 0..FOLDERS {
        fs.files()
            .mkdir(&system, &format!("/orgs/bench/main/d{folder}"), true)
            .await?;
    }
    let member_id = fs
        .registry()
        .user_id("member@bench.org")
        .ok_or_else(|| anyhow::anyhow!("the member has no id"))?;
    fs.relationships()
        .setfacl(
            &system,
            "/orgs/bench/main/d0",
            &format!("user:{member_id}:r--"),
        )
        .await?;

    let setup = Instant::now();
    fill(&fs, args.docs).await?;
    eprintln!(
        "search data: {} documents in {:.0} s",
        args.docs,
        setup.elapsed().as_secs_f64()
    );

    // S3 (first half): the index built from the store at the first search.
    let began = Instant::now();
    fs.search().catch_up_org(&OrgId::parse("bench")?).await?;
    let built = began.elapsed();
    Report::new("S3 index build from the store", vec![built], built)
        .with_extra(
            json!({"docs": args.docs, "docs_per_s": args.docs as f64 / built.as_secs_f64()}),
        )
        .print();

    let member = fs.context(Principal::User("member@bench.org".to_owned()));
    let admin = fs.context(Principal::User("admin@bench.org".to_owned()));
    fs.search().spawn_indexer();
    for (label, who) in [
        ("S1 keyword query as a member reading 10%", &member),
        ("S2 keyword query as an admin reading all", &admin),
    ] {
        time_queries(&fs, who, label, SearchMode::Keyword, args.requests)
            .await?
            .print();
    }
    grep_compare(&fs, &member, &admin).await?;
    index_lag(&fs, &args).await?.print();
    fs.close().await;

    if !args.no_semantic {
        semantic(&data, scratch.path(), &args).await?;
    }
    Ok(())
}

/// 100,000 documents by 16 writers.
async fn fill(fs: &Fs, docs: usize) -> anyhow::Result<()> {
    let writers = 16;
    let zipf = Arc::new(Zipf::new(VOCABULARY));
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let fs = fs.clone();
        let zipf = zipf.clone();
        tasks.push(tokio::spawn(async move {
            let system = CallContext::system();
            let mut rng = SmallRng::seed_from_u64(writer as u64);
            for index in (writer..docs).step_by(writers) {
                fs.files()
                    .write(
                        &system,
                        &doc_path(index),
                        Bytes::from(text(&zipf, &mut rng)),
                        WriteOptions::default(),
                    )
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

fn request(query: &str, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        mode: Some(mode),
        limit: Some(10),
        ..SearchRequest::default()
    }
}

/// `requests` queries cycling through [`queries`]: the latencies and, per query, its total.
async fn time_queries(
    fs: &Fs,
    who: &CallContext,
    label: &str,
    mode: SearchMode,
    requests: usize,
) -> anyhow::Result<Report> {
    let queries = queries();
    let mut per_query: Vec<Vec<Duration>> = vec![Vec::new(); queries.len()];
    let mut totals = vec![0u64; queries.len()];
    let mut samples = Vec::with_capacity(requests);
    let started = Instant::now();
    for n in 0..requests {
        let which = n % queries.len();
        let begin = Instant::now();
        let answer = fs
            .search()
            .query(who, "bench", &request(&queries[which].1, mode))
            .await?;
        let took = begin.elapsed();
        samples.push(took);
        per_query[which].push(took);
        totals[which] = answer.total;
    }
    let breakdown: Vec<serde_json::Value> = queries
        .iter()
        .zip(per_query.iter_mut().zip(&totals))
        .map(|((name, query), (times, total))| {
            times.sort_unstable();
            json!({"query": name, "text": query, "total": total,
                   "p50_us": times.get(times.len() / 2).map_or(0.0, |t| t.as_secs_f64() * 1e6)})
        })
        .collect();
    Ok(Report::new(label, samples, started.elapsed()).with_extra(json!({"queries": breakdown})))
}

/// `grep` for the rank-100 word over the same files, as the member and the admin (the
/// same question S1/S2 answer from the index), next to the search for it.
async fn grep_compare(fs: &Fs, member: &CallContext, admin: &CallContext) -> anyhow::Result<()> {
    let needle = word(99);
    for (label, who) in [("member", member), ("admin", admin)] {
        let mut samples = Vec::new();
        let started = Instant::now();
        let mut files = 0;
        for _ in 0..3 {
            let begin = Instant::now();
            let found = fs
                .files()
                .grep(
                    who,
                    &format!(r"\b{needle}\b"),
                    "/orgs/bench/main",
                    GrepOptions {
                        max_matches: Some(100_000),
                        ..GrepOptions::default()
                    },
                )
                .await?;
            samples.push(begin.elapsed());
            let mut paths: Vec<&str> = found.matches.iter().map(|hit| hit.path.as_str()).collect();
            paths.dedup();
            files = paths.len();
        }
        Report::new(
            &format!("S1 comparison: grep for the rank-100 word as the {label}"),
            samples,
            started.elapsed(),
        )
        .with_extra(json!({"files": files}))
        .print();
    }
    Ok(())
}

/// S3 (second half): while `writers` write continuously, a probe writes a file with a
/// word of its own and searches (without asking for consistency) until it is found.
async fn index_lag(fs: &Fs, args: &SearchArgs) -> anyhow::Result<Report> {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let zipf = Arc::new(Zipf::new(VOCABULARY));
    let mut tasks = Vec::new();
    for writer in 0..args.writers {
        let (fs, stop, written, zipf) = (fs.clone(), stop.clone(), written.clone(), zipf.clone());
        tasks.push(tokio::spawn(async move {
            let system = CallContext::system();
            let mut rng = SmallRng::seed_from_u64(1_000 + writer as u64);
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/orgs/bench/main/d{}/load{writer}-{n}.md", n % FOLDERS);
                fs.files()
                    .write(
                        &system,
                        &path,
                        Bytes::from(text(&zipf, &mut rng)),
                        WriteOptions::default(),
                    )
                    .await?;
                written.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        }));
    }
    let system = CallContext::system();
    let mut samples = Vec::with_capacity(args.lag_samples);
    let started = Instant::now();
    for probe in 0..args.lag_samples {
        let token = format!("probeword{probe}x");
        fs.files()
            .write(
                &system,
                &format!("/orgs/bench/main/d1/probe{probe}.md"),
                Bytes::from(format!("a probe: {token}")),
                WriteOptions::default(),
            )
            .await?;
        let acknowledged = Instant::now();
        loop {
            let answer = fs
                .search()
                .query(
                    &system,
                    "bench",
                    &SearchRequest {
                        consistency: Some(Consistency::Level(ConsistencyLevel::MinimizeLatency)),
                        ..request(&token, SearchMode::Keyword)
                    },
                )
                .await?;
            if answer.total > 0 {
                break;
            }
            if acknowledged.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("probe {probe} was not searchable after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(acknowledged.elapsed());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let writes = written.load(Ordering::Relaxed);
    Ok(Report::new(
        &format!(
            "S3 index lag: acknowledged write to first hit, {} writers writing",
            args.writers
        ),
        samples,
        elapsed,
    )
    .with_extra(
        json!({"writes_during": writes, "writes_per_s": writes as f64 / elapsed.as_secs_f64()}),
    ))
}

/// S4: the same data with a static model of potion-base-8M's shape; the index is rebuilt
/// with vectors (its build time is reported), then semantic and hybrid queries are timed
/// with every vector compared, and again with an exact limit of 50,000 (the admin's
/// searches then go through the segments' graphs: their build time, latency and recall).
async fn semantic(
    data: &std::path::Path,
    scratch: &std::path::Path,
    args: &SearchArgs,
) -> anyhow::Result<()> {
    let model = synthetic_model(scratch)?;
    let open = |exact_limit: usize| {
        let model = model.clone();
        async move {
            anyhow::Ok(
                Fs::open(data, StoreOptions::default())
                    .await?
                    .with_embedder(model, nexus_core::DEFAULT_MIN_SIMILARITY)
                    .with_exact_limit(exact_limit),
            )
        }
    };
    let fs = open(usize::MAX).await?;
    let began = Instant::now();
    fs.search().catch_up_org(&OrgId::parse("bench")?).await?;
    let built = began.elapsed();
    Report::new("S4 index build with vectors (static model, 256 dimensions)", vec![built], built)
        .with_extra(json!({"docs": args.docs, "docs_per_s": args.docs as f64 / built.as_secs_f64(),
                           "model": "synthetic, potion-base-8M shape", "tokens": MODEL_TOKENS, "dimensions": MODEL_DIMENSIONS}))
        .print();
    let member = fs.context(Principal::User("member@bench.org".to_owned()));
    let admin = fs.context(Principal::User("admin@bench.org".to_owned()));
    fs.search().spawn_indexer();
    time_semantic(
        &fs,
        &[
            ("a member reading 10%", &member),
            ("an admin reading all", &admin),
        ],
        "",
        args,
    )
    .await?;
    let mut exact = Vec::new();
    for (_, query) in queries() {
        exact.push(top_paths(&fs, &admin, &query).await?);
    }
    fs.close().await;
    let fs = open(GRAPH_EXACT_LIMIT).await?;
    // Graphs serve only a caller who reads everything: the system administrator.
    let admin = CallContext::system();
    // Built up front (searches would build them in the background, exact meanwhile).
    let began = Instant::now();
    let segments = fs.search().build_graphs(&OrgId::parse("bench")?).await?;
    let probe = request(&word(0), SearchMode::Semantic);
    anyhow::ensure!(
        fs.search()
            .query(&admin, "bench", &probe)
            .await?
            .approximate,
        "the graphs were not used"
    );
    let graphs = began.elapsed();
    let mut found = 0;
    let mut wanted = 0;
    for ((_, query), exact) in queries().iter().zip(&exact) {
        let approximate = top_paths(&fs, &admin, query).await?;
        wanted += exact.len();
        found += exact
            .iter()
            .filter(|path| approximate.contains(path))
            .count();
    }
    Report::new(
        "S4 graphs built (segments of 4,096 vectors or more)",
        vec![graphs],
        graphs,
    )
    .with_extra(
        json!({"docs": args.docs, "exact_limit": GRAPH_EXACT_LIMIT, "segments_with_graphs": segments,
                           "recall_at_10": found as f64 / wanted.max(1) as f64}),
    )
    .print();
    time_semantic(
        &fs,
        &[("the system administrator", &admin)],
        ", through graphs",
        args,
    )
    .await?;
    fs.close().await;
    Ok(())
}

/// A static model of potion-base-8M's shape, its weights drawn here.
fn synthetic_model(scratch: &std::path::Path) -> anyhow::Result<Arc<dyn nexus_core::Embedder>> {
    let model_dir = scratch.join("model");
    let mut rng = SmallRng::seed_from_u64(42);
    let tokens: Vec<(String, Vec<f32>)> = (0..MODEL_TOKENS - 1)
        .map(|n| {
            let token = if n < VOCABULARY {
                word(n)
            } else {
                format!("filler{n}")
            };
            let vector = (0..MODEL_DIMENSIONS)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            (token, vector)
        })
        .collect();
    nexus_core::write_static_model(&model_dir, &tokens)?;
    Ok(Arc::new(nexus_core::StaticModel::load(&model_dir)?))
}

/// Times semantic and hybrid queries as each of `who`.
async fn time_semantic(
    fs: &Fs,
    who: &[(&str, &CallContext)],
    how: &str,
    args: &SearchArgs,
) -> anyhow::Result<()> {
    for (mode, name) in [
        (SearchMode::Semantic, "semantic"),
        (SearchMode::Hybrid, "hybrid"),
    ] {
        for (label, who) in who {
            time_queries(
                fs,
                who,
                &format!("S4 {name} query as {label}{how}"),
                mode,
                args.requests,
            )
            .await?
            .print();
        }
    }
    Ok(())
}

/// The paths of the first page of a semantic search.
async fn top_paths(fs: &Fs, who: &CallContext, query: &str) -> anyhow::Result<Vec<String>> {
    Ok(fs
        .search()
        .query(who, "bench", &request(query, SearchMode::Semantic))
        .await?
        .hits
        .into_iter()
        .map(|hit| hit.path)
        .collect())
}
