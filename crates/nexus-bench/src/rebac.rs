//! Permission workloads R1-R5 of PERFORMANCE.md on datasets D1 and D2, generated
//! deterministically from a seed, with Nexus's default schema (files with path-derived
//! parents and organization, groups, roles).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use nexus_core::authz::schema::{DEFAULT_SCHEMA, derived_relations};
use nexus_rebac::{
    CheckRequest, CheckResult, Engine, EngineConfig, ObjectRef, Relationship, Schema, SubjectRef,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct RebacArgs {
    /// `d1` (10k users, 1k groups, 10k folders, 100k documents) or `d2` (ten times that).
    #[arg(long, default_value = "d1")]
    dataset: String,
    /// Workloads: r1 (random checks), r2 (positive checks), r3 (D2 checks and memory),
    /// r4 (a heavy user's readable documents), r5 (bulk import into the store), f3
    /// (listing 10,000 entries with permission filtering), or all.
    #[arg(long, default_value = "all")]
    workload: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Checks per check workload.
    #[arg(long, default_value_t = 200_000)]
    checks: usize,
    /// Parent of temporary data directories (R5, F3).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// A generated dataset: relationships plus the document paths (files exist without
/// relationships of their own).
struct Dataset {
    relationships: Vec<Relationship>,
    documents: Vec<String>,
    users: usize,
    heavy_user: String,
}

impl Dataset {
    /// A random document and a random user (`u<n>`).
    fn random_pair(&self, rng: &mut SmallRng) -> (String, String) {
        let document = self.documents[rng.random_range(0..self.documents.len())].clone();
        (document, format!("u{}", rng.random_range(0..self.users)))
    }
}

fn generate(scale: usize, seed: u64) -> Dataset {
    let mut rng = SmallRng::seed_from_u64(seed);
    let users = 10_000 * scale;
    let groups = 1_000 * scale;
    let folders = 10_000 * scale;
    let documents = 100_000 * scale;
    let mut relationships = Vec::new();
    let rel = |text: String| {
        Relationship::parse(&text).unwrap_or_else(|error| panic!("generated {text}: {error}"))
    };
    for user in 0..users {
        relationships.push(rel(format!("org:bench#member@user:u{user}")));
    }
    // Groups in five layers: a group may contain groups of the next layer (nesting <= 4).
    let layer = |group: usize| group * 5 / groups;
    for group in 0..groups {
        let count = rng.random_range(5..=20);
        let mut members = BTreeSet::new();
        for _ in 0..count {
            let nested = layer(group) < 4 && rng.random_range(0..5) == 0;
            if nested {
                let lower = (layer(group) + 1) * groups / 5;
                let upper = ((layer(group) + 2) * groups / 5).min(groups);
                members.insert(format!(
                    "group:bench/g{}#member",
                    rng.random_range(lower..upper)
                ));
            } else {
                members.insert(format!("user:u{}", rng.random_range(0..users)));
            }
        }
        for member in members {
            relationships.push(rel(format!("group:bench/g{group}#member@{member}")));
        }
    }
    // The heavy user belongs to many groups.
    let heavy_user = "u0".to_owned();
    for group in (0..groups).step_by(10) {
        relationships.push(rel(format!(
            "group:bench/g{group}#member@user:{heavy_user}"
        )));
    }
    // Folders 8 levels deep under /orgs/bench.
    let mut folder_paths: Vec<(String, usize)> = (0..10)
        .map(|index| (format!("/orgs/bench/f{index}"), 1))
        .collect();
    let mut by_depth: Vec<Vec<usize>> = vec![Vec::new(); 9];
    for index in 0..folder_paths.len() {
        if let Some(bucket) = by_depth.get_mut(1) {
            bucket.push(index);
        }
    }
    while folder_paths.len() < folders {
        let depth = rng.random_range(1..8);
        let Some(bucket) = by_depth.get(depth).filter(|bucket| !bucket.is_empty()) else {
            continue;
        };
        let parent = bucket[rng.random_range(0..bucket.len())];
        let path = format!("{}/f{}", folder_paths[parent].0, folder_paths.len());
        by_depth[depth + 1].push(folder_paths.len());
        folder_paths.push((path, depth + 1));
    }
    let subject = |rng: &mut SmallRng| {
        if rng.random_range(0..10) < 7 {
            format!("user:u{}", rng.random_range(0..users))
        } else {
            format!("group:bench/g{}#member", rng.random_range(0..groups))
        }
    };
    let roles = ["viewer", "editor", "owner"];
    for (path, _) in &folder_paths {
        let mut seen = BTreeSet::new();
        for _ in 0..rng.random_range(0..=3) {
            let relation = roles[rng.random_range(0..roles.len())];
            let subject = subject(&mut rng);
            if seen.insert((relation, subject.clone())) {
                relationships.push(rel(format!("file:{path}#{relation}@{subject}")));
            }
        }
    }
    let mut document_paths = Vec::with_capacity(documents);
    for index in 0..documents {
        let folder = &folder_paths[rng.random_range(0..folder_paths.len())].0;
        let path = format!("{folder}/d{index}.md");
        if rng.random_range(0..20) == 0 {
            let relation = roles[rng.random_range(0..2)];
            relationships.push(rel(format!("file:{path}#{relation}@{}", subject(&mut rng))));
        }
        document_paths.push(path);
    }
    Dataset {
        relationships,
        documents: document_paths,
        users,
        heavy_user,
    }
}

fn load(dataset: &Dataset) -> anyhow::Result<Engine> {
    let mut engine = Engine::new(Schema::parse(DEFAULT_SCHEMA)?, EngineConfig::default());
    for derived in derived_relations() {
        engine.add_derived_relation(derived)?;
    }
    engine.reserve(dataset.relationships.len());
    let rejected = engine.load(dataset.relationships.iter().cloned());
    anyhow::ensure!(
        rejected.is_empty(),
        "{} relationships rejected: {:?}",
        rejected.len(),
        rejected.first()
    );
    Ok(engine)
}

fn check(engine: &Engine, document: &str, user: &str) -> anyhow::Result<CheckResult> {
    Ok(engine.check(&CheckRequest {
        resource: &ObjectRef::new("file", document),
        permission: "read",
        subject: &SubjectRef::object("user", user),
        context: None,
        now: 0,
    })?)
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Times one check per pair. The requests (resource and subject references) are built
/// before the clock starts: what is measured is the engine answering them.
fn check_loop(name: &str, engine: &Engine, pairs: &[(String, String)]) -> anyhow::Result<Report> {
    let requests: Vec<(ObjectRef, SubjectRef)> = pairs
        .iter()
        .map(|(document, user)| {
            (
                ObjectRef::new("file", document),
                SubjectRef::object("user", user),
            )
        })
        .collect();
    let mut samples = Vec::with_capacity(requests.len());
    let mut allowed = 0_u64;
    let started = Instant::now();
    for (resource, subject) in &requests {
        let begin = Instant::now();
        let answer = engine.check(&CheckRequest {
            resource,
            permission: "read",
            subject,
            context: None,
            now: 0,
        })?;
        if answer == CheckResult::Has {
            allowed += 1;
        }
        samples.push(begin.elapsed());
    }
    Ok(Report::new(name, samples, started.elapsed())
        .with_extra(serde_json::json!({ "allowed": allowed })))
}

pub async fn run(args: RebacArgs) -> anyhow::Result<()> {
    let wants = |name: &str| args.workload == "all" || args.workload.split(',').any(|w| w == name);
    let scale = if args.dataset == "d2" { 10 } else { 1 };
    if wants("r1") || wants("r2") || wants("r4") {
        let generated = Instant::now();
        let dataset = generate(scale, args.seed);
        let generation = generated.elapsed();
        let before = rss_kb();
        let loading = Instant::now();
        let engine = load(&dataset)?;
        let load_time = loading.elapsed();
        let used = rss_kb().saturating_sub(before);
        Report::new(
            &format!("{} load into the engine", args.dataset.to_uppercase()),
            vec![load_time],
            load_time,
        )
        .with_extra(serde_json::json!({
            "relationships": engine.len(),
            "documents": dataset.documents.len(),
            "relationships_per_s": engine.len() as f64 / load_time.as_secs_f64(),
            "generation_s": generation.as_secs_f64(),
            "rss_bytes_per_relationship": used as f64 * 1024.0 / engine.len() as f64,
        }))
        .print();
        let mut rng = SmallRng::seed_from_u64(args.seed ^ 1);
        if wants("r1") {
            let pairs: Vec<(String, String)> = (0..args.checks)
                .map(|_| dataset.random_pair(&mut rng))
                .collect();
            check_loop(
                &format!("R1 check read, random pairs ({})", args.dataset),
                &engine,
                &pairs,
            )?
            .print();
        }
        if wants("r2") {
            let mut positive = Vec::new();
            while positive.len() < 10_000.min(args.checks) {
                let (document, user) = dataset.random_pair(&mut rng);
                if check(&engine, &document, &user)? == CheckResult::Has {
                    positive.push((document, user));
                }
            }
            let mut pairs = Vec::with_capacity(args.checks);
            while pairs.len() < args.checks {
                pairs.extend(positive.iter().take(args.checks - pairs.len()).cloned());
            }
            check_loop(
                &format!("R2 check read, positive pairs ({})", args.dataset),
                &engine,
                &pairs,
            )?
            .print();
        }
        if wants("r4") {
            heavy_user_lookup(&engine, &dataset)?.print();
        }
    }
    // D2 is generated once for R3 and R5.
    let d2 = (wants("r3") || wants("r5")).then(|| generate(10, args.seed));
    if let Some(dataset) = d2.as_ref().filter(|_| wants("r3")) {
        let before = rss_kb();
        let engine = load(dataset)?;
        let used = rss_kb().saturating_sub(before);
        let mut rng = SmallRng::seed_from_u64(args.seed ^ 3);
        let pairs: Vec<(String, String)> = (0..args.checks)
            .map(|_| dataset.random_pair(&mut rng))
            .collect();
        check_loop("R3 check read, random pairs (D2)", &engine, &pairs)?
            .with_extra(serde_json::json!({
                "relationships": engine.len(),
                "rss_bytes_per_relationship": used as f64 * 1024.0 / engine.len() as f64,
            }))
            .print();
    }
    if let Some(dataset) = d2.filter(|_| wants("r5")) {
        crate::rebac_store::bulk_import(dataset.relationships, args.dir.clone())
            .await?
            .print();
    }
    if wants("f3") {
        crate::rebac_store::filtered_listing(args.dir.clone())
            .await?
            .print();
    }
    Ok(())
}

/// R4: every document the heavy user can read: the files its grants reach (from a lookup),
/// then every document beneath them, each checked.
fn heavy_user_lookup(engine: &Engine, dataset: &Dataset) -> anyhow::Result<Report> {
    let mut sorted = dataset.documents.clone();
    sorted.sort();
    let subject = SubjectRef::object("user", &dataset.heavy_user);
    let started = Instant::now();
    let granted = engine.lookup_resources("file", "read", &subject, None, 0)?;
    // Roots in path order; a root inside an earlier one adds no documents.
    let mut roots: Vec<&str> = granted.iter().map(|found| found.id.as_str()).collect();
    roots.sort_unstable();
    let mut outermost: Vec<&str> = Vec::new();
    for root in roots {
        let nested = outermost.last().is_some_and(|last| {
            root.strip_prefix(last)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if !nested {
            outermost.push(root);
        }
    }
    let mut checker = engine.checker(&subject, None, 0)?;
    let mut readable = 0_u64;
    let mut candidates = 0_u64;
    for root in &outermost {
        let prefix = format!("{root}/");
        let start = sorted.partition_point(|path| path.as_str() < prefix.as_str());
        let beneath = sorted[start..]
            .iter()
            .take_while(|path| path.starts_with(&prefix));
        let itself = sorted
            .binary_search_by(|path| path.as_str().cmp(root))
            .ok()
            .map(|index| &sorted[index]);
        for path in itself.into_iter().chain(beneath) {
            candidates += 1;
            if checker.check_object("file", path, "read")? == CheckResult::Has {
                readable += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    Ok(Report::new(
        "R4 readable documents of a heavy user (D1)",
        vec![elapsed],
        elapsed,
    )
    .with_extra(serde_json::json!({
        "documents": readable,
        "granted_roots": granted.len(),
        "outermost_roots": outermost.len(),
        "candidates": candidates,
    })))
}
