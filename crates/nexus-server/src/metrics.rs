//! Prometheus metrics in the text exposition format: request counts and latencies by route
//! and status, permission checks, storage errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    /// (method, route, status) → latency histogram.
    requests: BTreeMap<(String, String, u16), Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);
static CHECKS: AtomicU64 = AtomicU64::new(0);
static DENIED: AtomicU64 = AtomicU64::new(0);
static STORAGE_ERRORS: AtomicU64 = AtomicU64::new(0);
static RETENTION_REMOVED: AtomicU64 = AtomicU64::new(0);

/// Records one answered request.
pub fn request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let mut registry = REGISTRY.lock();
    let histogram = registry
        .requests
        .entry((method.to_owned(), route.to_owned(), status))
        .or_default();
    histogram.count += 1;
    histogram.sum += seconds;
    for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
        if seconds <= *bound {
            *count += 1;
        }
    }
}

/// Records a permission check answered through the API (`allowed` or not).
pub fn permission_check(allowed: bool) {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if !allowed {
        DENIED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records a request refused for lack of permission.
pub fn denied() {
    DENIED.fetch_add(1, Ordering::Relaxed);
}

/// Records files removed by retention policies.
pub fn retention_removed(count: usize) {
    RETENTION_REMOVED.fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Records a storage failure.
pub fn storage_error() {
    STORAGE_ERRORS.fetch_add(1, Ordering::Relaxed);
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP nexus_http_requests_total Requests answered, by method, route and status.\n",
    );
    out.push_str("# TYPE nexus_http_requests_total counter\n");
    let registry = REGISTRY.lock();
    for ((method, route, status), histogram) in &registry.requests {
        let _ = writeln!(
            out,
            "nexus_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
            escape(method),
            escape(route),
            histogram.count
        );
    }
    out.push_str("# HELP nexus_http_request_duration_seconds Request latency.\n");
    out.push_str("# TYPE nexus_http_request_duration_seconds histogram\n");
    for ((method, route, status), histogram) in &registry.requests {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{status}\"",
            escape(method),
            escape(route)
        );
        for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter()) {
            let _ = writeln!(
                out,
                "nexus_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "nexus_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            histogram.count
        );
        let _ = writeln!(
            out,
            "nexus_http_request_duration_seconds_sum{{{labels}}} {}",
            histogram.sum
        );
        let _ = writeln!(
            out,
            "nexus_http_request_duration_seconds_count{{{labels}}} {}",
            histogram.count
        );
    }
    drop(registry);
    let _ = write!(
        out,
        "# HELP nexus_permission_checks_total Permission checks answered through the API.\n\
         # TYPE nexus_permission_checks_total counter\n\
         nexus_permission_checks_total {}\n\
         # HELP nexus_permission_denied_total Checks answered no and requests refused for lack of permission.\n\
         # TYPE nexus_permission_denied_total counter\n\
         nexus_permission_denied_total {}\n\
         # HELP nexus_storage_errors_total Requests that failed in storage.\n\
         # TYPE nexus_storage_errors_total counter\n\
         nexus_storage_errors_total {}\n\
         # HELP nexus_retention_removed_total Files removed by organizations' retention policies.\n\
         # TYPE nexus_retention_removed_total counter\n\
         nexus_retention_removed_total {}\n",
        CHECKS.load(Ordering::Relaxed),
        DENIED.load(Ordering::Relaxed),
        STORAGE_ERRORS.load(Ordering::Relaxed),
        RETENTION_REMOVED.load(Ordering::Relaxed),
    );
    out
}
