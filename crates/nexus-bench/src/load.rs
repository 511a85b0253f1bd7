//! A crash-test workload: concurrent writers reporting every acknowledged write.
//!
//! Each writer alternates between creating a new file and overwriting its own `counter`
//! file, with content of boundary sizes (0, 1, 4095, 4096, 4097, 64 KiB, 1 MiB). After each
//! acknowledged write it prints, and flushes, one line:
//!
//! ```text
//! ack <path> <version> <blake3 hex> <size>
//! ```
//!
//! so whoever kills the process knows exactly which writes were acknowledged.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use nexus_core::{CallContext, Fs, StoreOptions, WriteOptions};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Data directory to write into (created if needed).
    #[arg(long)]
    data_dir: PathBuf,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Seed of the content generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory (under `/orgs/crash`) this run writes into.
    #[arg(long, default_value = "run")]
    prefix: String,
    /// Stop after this many writes in all (default: never).
    #[arg(long)]
    max_writes: Option<usize>,
}

const SIZES: [usize; 10] = [0, 1, 100, 1000, 4095, 4096, 4097, 65_536, 300_000, 1 << 20];

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let fs = Fs::open(&args.data_dir, StoreOptions::default()).await?;
    let system = CallContext::system();
    let base = format!("/orgs/crash/{}", args.prefix);
    fs.files().mkdir(&system, &base, true).await?;
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let budget = args.max_writes.map(|max| max.div_ceil(args.writers.max(1)));
    let mut tasks = Vec::new();
    for writer in 0..args.writers {
        let fs = fs.clone();
        let stdout = stdout.clone();
        let dir = format!("{base}/w{writer}");
        let mut rng =
            SmallRng::seed_from_u64(args.seed.wrapping_mul(1000).wrapping_add(writer as u64));
        tasks.push(tokio::spawn(async move {
            fs.files().mkdir(&CallContext::system(), &dir, true).await?;
            let mut index = 0_usize;
            while budget.is_none_or(|budget| index < budget) {
                // Mostly small writes, some at the large boundaries.
                let choices = if index % 10 == 9 { SIZES.len() } else { 7 };
                let size = SIZES
                    .get(rng.random_range(0..choices))
                    .copied()
                    .unwrap_or(0);
                let mut content = vec![0_u8; size];
                rng.fill(&mut content[..]);
                let path = if index.is_multiple_of(2) {
                    format!("{dir}/f{index}")
                } else {
                    format!("{dir}/counter")
                };
                let entry = fs
                    .files()
                    .write(
                        &CallContext::system(),
                        &path,
                        Bytes::from(content),
                        WriteOptions::default(),
                    )
                    .await?;
                let line = format!(
                    "ack {} {} {} {}\n",
                    entry.path,
                    entry.version,
                    entry.hash.unwrap_or_default(),
                    entry.size
                );
                {
                    let mut out = stdout
                        .lock()
                        .map_err(|_| anyhow::anyhow!("stdout lock poisoned"))?;
                    out.write_all(line.as_bytes())?;
                    out.flush()?;
                }
                index += 1;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    fs.close().await;
    Ok(())
}
