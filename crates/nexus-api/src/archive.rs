//! Organization archives: `nexus export` / `nexus import` and their admin routes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an export wrote or an import restored: one organization, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArchiveReport {
    pub org: String,
    /// Files and directories.
    pub nodes: u64,
    pub files: u64,
    /// File versions, the current ones included.
    pub versions: u64,
    /// Distinct contents.
    pub blobs: u64,
    /// Bytes of distinct content.
    pub bytes: u64,
    pub relationships: u64,
    /// Users and agents the organization's data names.
    pub principals: u64,
    /// Principals an import registered (the others were registered already).
    #[serde(default)]
    pub principals_registered: u64,
    pub audit_entries: u64,
    pub changes: u64,
    pub reminders: u64,
    /// Whether the organization's wrapped locker data key is in the archive.
    pub locker_key: bool,
    /// Whether an import replaced an organization that existed.
    #[serde(default)]
    pub replaced: bool,
}

/// `POST /api/admin/orgs/import?replace=`.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Replace the organization if it exists (refused otherwise).
    #[serde(default)]
    pub replace: bool,
}
