//! Test-only fault injection, compiled in with the `fault-inject` feature (which only the test
//! suite enables): it proves that the isolation tests can fail.

/// Whether to drop the organization filter of visibility decisions (environment variable
/// `NEXUS_FAULT_DROP_ORG_FILTER`): every organization then looks like one the caller belongs
/// to, which the cross-tenant property test must catch.
#[cfg(feature = "fault-inject")]
pub fn drop_org_filter() -> bool {
    static DROP: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("NEXUS_FAULT_DROP_ORG_FILTER").is_some());
    *DROP
}

/// Without the `fault-inject` feature there is no fault.
#[cfg(not(feature = "fault-inject"))]
pub const fn drop_org_filter() -> bool {
    false
}
