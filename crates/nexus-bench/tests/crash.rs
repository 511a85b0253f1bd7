//! Crash test: concurrent writers in a child process are killed with SIGKILL at random
//! moments; after every kill the store reopens with every acknowledged write present and
//! intact, the database consistent and no blob dangling.
//!
//! `NEXUS_CRASH_ITERATIONS` (default 30) and `NEXUS_CRASH_SEED` (default: random, printed)
//! control the run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nexus_core::{CallContext, Fs, ReadOptions, StoreOptions, Timestamp};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// One acknowledged write, as the child reported it.
#[derive(Debug, Clone)]
struct Ack {
    version: u64,
    hash: String,
    size: u64,
}

fn parse_ack(line: &str) -> Option<(String, Ack)> {
    let mut fields = line.strip_prefix("ack ")?.split(' ');
    let path = fields.next()?.to_owned();
    let ack = Ack {
        version: fields.next()?.parse().ok()?,
        hash: fields.next()?.to_owned(),
        size: fields.next()?.trim_end().parse().ok()?,
    };
    Some((path, ack))
}

/// Runs the writer until a random moment after its first acknowledgement, then kills it.
/// Returns the complete `ack` lines it printed.
fn run_and_kill(data: &Path, iteration: usize, seed: u64, rng: &mut SmallRng) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus-bench"))
        .args(["write-load", "--writers", "8"])
        .arg("--data-dir")
        .arg(data)
        .args(["--seed", &(seed + iteration as u64).to_string()])
        .args(["--prefix", &format!("i{iteration}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                // A line cut short by the kill was never fully acknowledged: drop it.
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => {
                    if lines_tx.send(line).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    let mut lines = Vec::new();
    if let Ok(first) = lines_rx.recv_timeout(Duration::from_mins(1)) {
        lines.push(first);
    } else {
        let _ = child.kill();
        let mut stderr = String::new();
        let mut pipe = child.stderr.take().unwrap();
        pipe.read_to_string(&mut stderr).unwrap();
        panic!("iteration {iteration}: the writer acknowledged nothing: {stderr}");
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(20..800)));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(lines_rx.try_iter());
    lines
}

async fn verify(
    fs: &Fs,
    files: &BTreeMap<String, Ack>,
    counters: &BTreeMap<String, Ack>,
    iteration: usize,
) {
    let context = CallContext::system();
    for (path, ack) in files {
        let entry = fs
            .files()
            .stat(&context, path)
            .await
            .unwrap_or_else(|error| {
                panic!("iteration {iteration}: acknowledged `{path}` is lost: {error}")
            });
        assert_eq!(
            (entry.version, entry.hash.as_deref(), entry.size),
            (ack.version, Some(ack.hash.as_str()), ack.size),
            "iteration {iteration}: {path}"
        );
        // Reading verifies the content against its hash.
        let read = fs
            .files()
            .read(&context, path, ReadOptions::default())
            .await
            .unwrap();
        assert_eq!(blake3::hash(&read.content).to_hex().as_str(), ack.hash);
    }
    for (path, ack) in counters {
        let entry = fs.files().stat(&context, path).await.unwrap();
        assert!(
            entry.version >= ack.version,
            "iteration {iteration}: {path} is at version {} but version {} was acknowledged",
            entry.version,
            ack.version
        );
        if entry.version == ack.version {
            assert_eq!(
                entry.hash.as_deref(),
                Some(ack.hash.as_str()),
                "iteration {iteration}: {path}"
            );
        }
        fs.files()
            .read(&context, path, ReadOptions::default())
            .await
            .unwrap();
    }
    let report = fs.store().check(true).await.unwrap();
    assert_eq!(
        report.problems,
        Vec::<String>::new(),
        "iteration {iteration}"
    );
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let iterations: usize =
        std::env::var("NEXUS_CRASH_ITERATIONS").map_or(30, |value| value.parse().unwrap());
    let seed: u64 = std::env::var("NEXUS_CRASH_SEED")
        .map_or_else(|_| rand::random(), |value| value.parse().unwrap());
    println!("crash test: {iterations} iterations, NEXUS_CRASH_SEED={seed}");
    let mut rng = SmallRng::seed_from_u64(seed);
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut files = BTreeMap::new();
    let mut counters: BTreeMap<String, Ack> = BTreeMap::new();
    let mut total_acks = 0;
    let mut slowest_ready = Duration::ZERO;
    for iteration in 0..iterations {
        for line in run_and_kill(&data, iteration, seed, &mut rng) {
            let (path, ack) =
                parse_ack(&line).unwrap_or_else(|| panic!("unexpected output line {line:?}"));
            total_acks += 1;
            if path.ends_with("/counter") {
                let newer = counters
                    .get(&path)
                    .is_none_or(|known| ack.version > known.version);
                if newer {
                    counters.insert(path, ack);
                }
            } else {
                files.insert(path, ack);
            }
        }
        runtime.block_on(async {
            let started = Instant::now();
            let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
            slowest_ready = slowest_ready.max(started.elapsed());
            verify(&fs, &files, &counters, iteration).await;
            fs.close().await;
        });
    }
    runtime.block_on(async {
        let fs = Fs::open(&data, StoreOptions::default()).await.unwrap();
        let collected = fs.store().collect_garbage(Timestamp(i64::MAX)).await.unwrap();
        let report = fs.store().check(true).await.unwrap();
        assert_eq!(report.problems, Vec::<String>::new());
        assert_eq!(report.orphan_blobs, 0, "one collection removes every orphan");
        verify(&fs, &files, &counters, iterations).await;
        println!(
            "crash test: {total_acks} acknowledged writes verified, {} orphan blobs collected, slowest reopen {slowest_ready:?}",
            collected.orphans
        );
        fs.close().await;
    });
    assert!(total_acks >= iterations, "the writers made progress");
    assert!(
        slowest_ready < Duration::from_secs(5),
        "reopening took {slowest_ready:?}"
    );
}
