//! `nexus-bench`: the benchmark workloads of `docs/benchmarks.md` and load generators.
//!
//! Every workload prints one JSON object per line on stdout (`name`, `ops`, `seconds`,
//! `p50_us`, `p99_us`, `ops_per_s`, `rss_mb`), so runs can be compared.

#![allow(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "benchmark generators index within bounds they construct; a broken generator should stop the run loudly"
)]

mod files;
mod knowledge;
mod load;
mod rebac;
mod rebac_store;
mod report;
mod search;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "nexus-bench", about = "Nexus benchmarks and load generators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Filesystem workloads F1-F4 on the embedded store.
    Files(files::FilesArgs),
    /// Concurrent writers that print one `ack` line per acknowledged write, forever or up
    /// to `--max-writes` (the workload of the crash test).
    WriteLoad(load::LoadArgs),
    /// Permission workloads R1-R5 (and F3 with permission filtering).
    Rebac(rebac::RebacArgs),
    /// Knowledge-layer workloads K1-K3.
    Knowledge(knowledge::KnowledgeArgs),
    /// Search workloads S1-S4.
    Search(search::SearchArgs),
}

/// Where benchmark data directories are created (a real disk, so fsync costs what it costs).
fn scratch_dir(requested: Option<PathBuf>) -> anyhow::Result<tempfile::TempDir> {
    let base = requested.unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::TempDir::new_in(base)?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Files(args) => runtime.block_on(files::run(args)),
        Command::WriteLoad(args) => runtime.block_on(load::run(args)),
        Command::Rebac(args) => runtime.block_on(rebac::run(args)),
        Command::Knowledge(args) => runtime.block_on(knowledge::run(args)),
        Command::Search(args) => runtime.block_on(search::run(args)),
    }
}
