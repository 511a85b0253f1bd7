//! Latency samples and the JSON line each workload prints.
#![expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "statistics: counts and ranks far below 2^52 are converted to and from f64"
)]

use std::time::Duration;

use serde::Serialize;

/// One workload's figures.
#[derive(Debug, Serialize)]
pub struct Report {
    pub name: String,
    pub ops: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub ops_per_s: f64,
    pub rss_mb: f64,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub extra: serde_json::Value,
}

impl Report {
    /// Summarizes per-operation latencies measured over `elapsed` wall time.
    pub fn new(name: &str, mut samples: Vec<Duration>, elapsed: Duration) -> Self {
        samples.sort_unstable();
        let ops = samples.len() as u64;
        let seconds = elapsed.as_secs_f64();
        Report {
            name: name.to_owned(),
            ops,
            seconds,
            p50_us: percentile(&samples, 0.50),
            p99_us: percentile(&samples, 0.99),
            ops_per_s: if seconds > 0.0 {
                ops as f64 / seconds
            } else {
                0.0
            },
            rss_mb: rss_mb(),
            extra: serde_json::Value::Null,
        }
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }

    pub fn print(&self) {
        println!("{}", serde_json::to_string(self).unwrap_or_default());
    }
}

fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted
        .get(rank)
        .map_or(0.0, |sample| sample.as_secs_f64() * 1e6)
}

/// Resident set size of this process, from `/proc/self/status` (0 where unavailable).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kilobytes| kilobytes / 1024.0)
}
