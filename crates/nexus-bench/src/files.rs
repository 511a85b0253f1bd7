//! Workloads F1-F4 of PERFORMANCE.md on the embedded store, in-process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nexus_core::{
    CallContext, Fs, ListOptions, OrgId, Principal, ReadOptions, StoreOptions, WriteOptions,
};

use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    /// Which workloads: f1 (read), f2 (stat), f3 (list 10k), f4 (durable writes), or all.
    #[arg(long, default_value = "all")]
    workload: String,
    /// Operations for F1 and F2.
    #[arg(long, default_value_t = 200_000)]
    reads: usize,
    /// Writes per F4 run.
    #[arg(long, default_value_t = 2_000)]
    writes: usize,
    /// Parent of the temporary data directory (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const KIB: usize = 1024;

pub async fn run(args: FilesArgs) -> anyhow::Result<()> {
    let scratch = crate::scratch_dir(args.dir.clone())?;
    let fs = Fs::open(&scratch.path().join("data"), StoreOptions::default()).await?;
    let system = CallContext::system();
    fs.files().mkdir(&system, "/orgs/bench", false).await?;
    // The reader is an ordinary member with read, write and manage on the organization's
    // folder: every operation below goes through the permission check a user's would.
    fs.relationships()
        .setfacl(&system, "/orgs/bench", "user:reader@bench:rwx")
        .await?;
    let wants = |name: &str| args.workload == "all" || args.workload == name;
    if wants("f1") || wants("f2") {
        fs.files()
            .write(
                &system,
                "/orgs/bench/hot.txt",
                Bytes::from(vec![b'x'; KIB]),
                WriteOptions::default(),
            )
            .await?;
    }
    if wants("f1") {
        read_loop(&fs, "F1 read 1 KiB warm", args.reads, true)
            .await?
            .print();
    }
    if wants("f2") {
        read_loop(&fs, "F2 stat warm", args.reads, false)
            .await?
            .print();
    }
    if wants("f3") {
        list_large_directory(&fs).await?.print();
    }
    if wants("f4") {
        durable_writes(&fs, "F4 durable 1 KiB write, 1 writer", 1, args.writes)
            .await?
            .print();
        durable_writes(
            &fs,
            "F4 durable 1 KiB write, 16 writers",
            16,
            args.writes * 4,
        )
        .await?
        .print();
    }
    fs.close().await;
    Ok(())
}

/// F1/F2: one caller reading (or stating) the same small file over and over.
async fn read_loop(fs: &Fs, name: &str, ops: usize, content: bool) -> anyhow::Result<Report> {
    let context = member_of_bench()?;
    let path = "/orgs/bench/hot.txt";
    for _ in 0..1000 {
        fs.files()
            .read(&context, path, ReadOptions::default())
            .await?;
    }
    let mut samples = Vec::with_capacity(ops);
    let started = Instant::now();
    for _ in 0..ops {
        let begin = Instant::now();
        if content {
            let output = fs
                .files()
                .read(&context, path, ReadOptions::default())
                .await?;
            std::hint::black_box(output.content);
        } else {
            std::hint::black_box(fs.files().stat(&context, path).await?);
        }
        samples.push(begin.elapsed());
    }
    Ok(Report::new(name, samples, started.elapsed()))
}

/// F3: listing a directory of 10,000 entries as a caller bound to the organization.
async fn list_large_directory(fs: &Fs) -> anyhow::Result<Report> {
    fill_big_directory(fs).await?;
    time_big_listing(fs, &member_of_bench()?, "F3 list 10,000 entries").await
}

/// The directory F3 lists.
pub(crate) const BIG_DIRECTORY: &str = "/orgs/bench/big";

/// Creates [`BIG_DIRECTORY`] with 10,000 one-byte files, written by 16 concurrent callers.
pub(crate) async fn fill_big_directory(fs: &Fs) -> anyhow::Result<()> {
    fs.files()
        .mkdir(&CallContext::system(), BIG_DIRECTORY, true)
        .await?;
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let fs = fs.clone();
        tasks.push(tokio::spawn(async move {
            for index in (worker..10_000).step_by(16) {
                let path = format!("{BIG_DIRECTORY}/file-{index:05}.txt");
                fs.files()
                    .write(
                        &CallContext::system(),
                        &path,
                        Bytes::from_static(b"x"),
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

/// Lists [`BIG_DIRECTORY`] 30 times as `context`. The first listing reads the database
/// (`cold_ms`); later ones are served by the listing cache.
pub(crate) async fn time_big_listing(
    fs: &Fs,
    context: &CallContext,
    name: &str,
) -> anyhow::Result<Report> {
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..30 {
        let begin = Instant::now();
        let options = ListOptions {
            recursive: false,
            limit: Some(nexus_core::MAX_PAGE_SIZE),
            cursor: None,
        };
        let page = fs.files().ls(context, BIG_DIRECTORY, options).await?;
        anyhow::ensure!(
            page.entries.len() == 10_000,
            "listed {} entries",
            page.entries.len()
        );
        samples.push(begin.elapsed());
    }
    let cold_ms = samples
        .first()
        .map_or(0.0, |first| first.as_secs_f64() * 1e3);
    Ok(Report::new(name, samples, started.elapsed())
        .with_extra(serde_json::json!({ "cold_ms": cold_ms })))
}

/// F4: unique 1 KiB files written by `writers` concurrent callers; each acknowledged write
/// is durable (blob and metadata fsynced).
async fn durable_writes(
    fs: &Fs,
    name: &str,
    writers: usize,
    total: usize,
) -> anyhow::Result<Report> {
    let run = format!("/orgs/bench/w{writers}");
    fs.files().mkdir(&member_of_bench()?, &run, false).await?;
    let per_writer = total / writers;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let fs = fs.clone();
        let run = run.clone();
        let caller = member_of_bench()?;
        tasks.push(tokio::spawn(async move {
            let mut samples: Vec<Duration> = Vec::with_capacity(per_writer);
            for index in 0..per_writer {
                let mut content = format!("{writer}:{index}:").into_bytes();
                content.resize(KIB, b'.');
                let path = format!("{run}/{writer}-{index}");
                let begin = Instant::now();
                fs.files()
                    .write(
                        &caller,
                        &path,
                        Bytes::from(content),
                        WriteOptions::default(),
                    )
                    .await?;
                samples.push(begin.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    Ok(Report::new(name, samples, started.elapsed())
        .with_extra(serde_json::json!({ "writers": writers })))
}

/// F4 with one writer acting as `caller`, into a fresh folder of the `bench` organization.
pub(crate) async fn durable_writes_as(
    fs: &Fs,
    caller: &CallContext,
    name: &str,
    total: usize,
) -> anyhow::Result<Report> {
    let run = "/orgs/bench/f4-same-run";
    fs.files().mkdir(caller, run, false).await?;
    let mut samples: Vec<Duration> = Vec::with_capacity(total);
    let started = Instant::now();
    for index in 0..total {
        let mut content = format!("{index}:").into_bytes();
        content.resize(KIB, b'.');
        let begin = Instant::now();
        fs.files()
            .write(
                caller,
                &format!("{run}/{index}"),
                Bytes::from(content),
                WriteOptions::default(),
            )
            .await?;
        samples.push(begin.elapsed());
    }
    Ok(Report::new(name, samples, started.elapsed()))
}

pub(crate) fn member_of_bench() -> anyhow::Result<CallContext> {
    Ok(CallContext::in_org(
        Principal::User("reader@bench".to_owned()),
        OrgId::parse("bench")?,
    ))
}
