//! Test-only fault injection, compiled in with the `fault-inject` feature (which only the test
//! suite enables): it proves that the isolation tests can fail. Faults are switched on per
//! filesystem handle ([`crate::Fs::inject_fault`]), so one test's fault never reaches
//! another's server in the same process.

/// A property broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Drop the organization filter of visibility decisions: every organization then looks
    /// like one the caller belongs to, which the cross-tenant tests must catch.
    DropOrgFilter,
    /// Serve knowledge items without the engine's `read` check, as a handler that forgot
    /// it would: the cross-tenant and matrix properties must catch it.
    SkipItemReadCheck,
    /// Drop audit entries instead of recording them: the audit completeness test must
    /// catch it.
    DropAuditEntries,
    /// Keep open streams going without checking their credentials again: the lockout test
    /// must catch a stream that outlives its caller's lockout.
    StreamsKeepCredentials,
    /// Fire reminders without moving them on the schedule: the exactly-once tests must
    /// catch the repeats.
    RefireReminders,
    /// Show every change of the feed, readable or not: the change feed's differential test
    /// must catch it.
    UnfilteredChanges,
    /// Decide delegated calls for the agent alone, forgetting the user it acts for: the
    /// delegation tests must catch the agent reaching what the user may not.
    IgnoreDelegation,
    /// Rank and count every matching document, readable or not: the search differential
    /// test must catch it.
    UnfilteredSearch,
    /// Answer everyone's semantic searches from the index's graphs, as if every caller read
    /// every document: the approximate search test must catch totals that depend on
    /// documents the caller may not read.
    GraphsForEveryone,
    /// Stop following the store other nodes write: the node never puts their permission
    /// changes in force, not even for a request carrying a newer revision token. The
    /// multi-node tests must catch the stale answers.
    NoFollowing,
}

/// The faults switched on for one authorizer (none without the feature).
#[derive(Debug, Default)]
pub struct Faults {
    #[cfg(feature = "fault-inject")]
    drop_org_filter: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    skip_item_read_check: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    drop_audit_entries: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    streams_keep_credentials: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    refire_reminders: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    unfiltered_changes: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    ignore_delegation: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    unfiltered_search: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    graphs_for_everyone: std::sync::atomic::AtomicBool,
    #[cfg(feature = "fault-inject")]
    no_following: std::sync::atomic::AtomicBool,
}

impl Faults {
    /// Whether the node ignores what other nodes commit.
    #[cfg(feature = "fault-inject")]
    pub fn no_following(&self) -> bool {
        self.no_following.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn no_following(&self) -> bool {
        false
    }

    /// Whether every caller's semantic searches may use the graphs.
    #[cfg(feature = "fault-inject")]
    pub fn graphs_for_everyone(&self) -> bool {
        self.graphs_for_everyone
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn graphs_for_everyone(&self) -> bool {
        false
    }

    /// Whether searches rank and count unreadable documents.
    #[cfg(feature = "fault-inject")]
    pub fn unfiltered_search(&self) -> bool {
        self.unfiltered_search
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn unfiltered_search(&self) -> bool {
        false
    }

    /// Whether the organization filter is dropped.
    #[cfg(feature = "fault-inject")]
    pub fn drop_org_filter(&self) -> bool {
        self.drop_org_filter
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn drop_org_filter(&self) -> bool {
        false
    }

    /// Whether knowledge items are served without their read check.
    #[cfg(feature = "fault-inject")]
    pub fn skip_item_read_check(&self) -> bool {
        self.skip_item_read_check
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn skip_item_read_check(&self) -> bool {
        false
    }

    /// Whether audit entries are dropped.
    #[cfg(feature = "fault-inject")]
    pub fn drop_audit_entries(&self) -> bool {
        self.drop_audit_entries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn drop_audit_entries(&self) -> bool {
        false
    }

    /// Whether open streams skip checking their credentials again.
    #[cfg(feature = "fault-inject")]
    pub fn streams_keep_credentials(&self) -> bool {
        self.streams_keep_credentials
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn streams_keep_credentials(&self) -> bool {
        false
    }

    /// Whether reminders fire without leaving their scheduled time.
    #[cfg(feature = "fault-inject")]
    pub fn refire_reminders(&self) -> bool {
        self.refire_reminders
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn refire_reminders(&self) -> bool {
        false
    }

    /// Whether the change feed skips its read filter.
    #[cfg(feature = "fault-inject")]
    pub fn unfiltered_changes(&self) -> bool {
        self.unfiltered_changes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn unfiltered_changes(&self) -> bool {
        false
    }

    /// Whether delegated calls are decided for the agent alone.
    #[cfg(feature = "fault-inject")]
    pub fn ignore_delegation(&self) -> bool {
        self.ignore_delegation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Without the `fault-inject` feature there is no fault.
    #[cfg(not(feature = "fault-inject"))]
    pub const fn ignore_delegation(&self) -> bool {
        false
    }

    /// Switches `fault` on.
    #[cfg(feature = "fault-inject")]
    pub fn inject(&self, fault: Fault) {
        match fault {
            Fault::DropOrgFilter => self
                .drop_org_filter
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::SkipItemReadCheck => self
                .skip_item_read_check
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::DropAuditEntries => self
                .drop_audit_entries
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::StreamsKeepCredentials => self
                .streams_keep_credentials
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::RefireReminders => self
                .refire_reminders
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::UnfilteredChanges => self
                .unfiltered_changes
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::IgnoreDelegation => self
                .ignore_delegation
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::UnfilteredSearch => self
                .unfiltered_search
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::GraphsForEveryone => self
                .graphs_for_everyone
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Fault::NoFollowing => self
                .no_following
                .store(true, std::sync::atomic::Ordering::Relaxed),
        }
    }
}
