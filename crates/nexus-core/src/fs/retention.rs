//! Retention: `settings.retention_policy` of `org.json` (the seed's `conversations: 90d`,
//! `sessions: 30d`).
//!
//! Files beneath a workspace's `conversations/` whose last modification is older than the
//! `conversations` duration are removed by [`Files::apply_retention`] (run by a sweeper in
//! `nexus serve` and by `nexus gc --retention`). `sessions` is validated and kept; it applies
//! once the knowledge layer's sessions exist. An invalid policy is refused when `org.json` is
//! written, so a stored one is always valid.

use std::time::Duration;

use nexus_path::{OrgId, VfsPath};
use nexus_store::{ListQuery, Timestamp};
use serde_json::{Map, Value};

use super::{Files, Layout, MAX_PAGE_SIZE};
use crate::error::FsError;
use crate::principal::CallContext;

/// The policy's key in `settings`.
pub const RETENTION_POLICY: &str = "retention_policy";
/// What the policy may govern.
const KINDS: [&str; 2] = ["conversations", "sessions"];
/// Longest duration accepted (about a century).
const MAX_DURATION_SECS: u64 = 100 * 366 * 86_400;

/// A retention duration that does not parse (the text, cut to 40 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{0}`: use a positive number followed by `s`, `m`, `h` or `d` (e.g. `90d`)"
)]
pub struct InvalidDuration(pub String);

/// Parses a retention duration: a positive whole number followed by `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.chars().take(40).collect());
    let split = text.len().saturating_sub(1);
    let (Some(number), Some(unit)) = (text.get(..split), text.get(split..)) else {
        return Err(invalid());
    };
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let count: u64 = number.parse().map_err(|_| invalid())?;
    let secs = count.checked_mul(unit_secs).ok_or_else(invalid)?;
    if secs == 0 || secs > MAX_DURATION_SECS {
        return Err(invalid());
    }
    Ok(Duration::from_secs(secs))
}

/// Checks `settings.retention_policy` of a record: an object whose keys are `conversations`
/// and `sessions`, each a duration.
pub fn validate_settings(settings: &Map<String, Value>) -> Result<(), FsError> {
    let Some(policy) = settings.get(RETENTION_POLICY) else {
        return Ok(());
    };
    let Value::Object(policy) = policy else {
        return Err(FsError::invalid(
            "invalid org.json: `settings.retention_policy` must be an object such as {\"conversations\": \"90d\"}",
        ));
    };
    for (key, value) in policy {
        if !KINDS.contains(&key.as_str()) {
            return Err(FsError::invalid(format!(
                "invalid org.json: unknown key `{}` in `settings.retention_policy`: use `conversations` or `sessions`",
                key.chars().take(80).collect::<String>()
            )));
        }
        let text = value.as_str().ok_or_else(|| {
            FsError::invalid(format!(
                "invalid org.json: `settings.retention_policy.{key}` must be a duration such as \"90d\""
            ))
        })?;
        parse_duration(text).map_err(|message| {
            FsError::invalid(format!(
                "invalid org.json: `settings.retention_policy.{key}`: {message}"
            ))
        })?;
    }
    Ok(())
}

/// How long conversations are kept under `settings`, if a policy says.
fn conversations_kept(settings: &Map<String, Value>) -> Option<Duration> {
    let text = settings
        .get(RETENTION_POLICY)?
        .get("conversations")?
        .as_str()?;
    parse_duration(text).ok()
}

/// How long knowledge-layer sessions run under `settings`, if a policy says.
pub(crate) fn sessions_kept(settings: &Map<String, Value>) -> Option<Duration> {
    let text = settings.get(RETENTION_POLICY)?.get("sessions")?.as_str()?;
    parse_duration(text).ok()
}

/// What one retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Files removed, with their organization.
    pub removed: Vec<(OrgId, VfsPath)>,
}

impl Files<'_> {
    /// Removes conversation files older than their organization's policy (by last
    /// modification, as of `now`). Each removal is its own operation (as `rm` by the
    /// operator), logged; an organization whose record cannot be read is skipped.
    pub async fn apply_retention(self, now: Timestamp) -> Result<RetentionReport, FsError> {
        let system = CallContext::system();
        let mut report = RetentionReport::default();
        for org in self.store_org_ids().await? {
            let record = match self.orgs().org_record(&org).await {
                Ok(Some((record, _))) => record,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%org, %error, "retention skipped: the organization record is unreadable");
                    continue;
                }
            };
            let Some(kept) = conversations_kept(&record.settings) else {
                continue;
            };
            let cutoff = now.minus(kept);
            for folder in self.conversation_folders(&org).await? {
                for (path, etag) in self.expired_within(&folder, cutoff).await? {
                    // Only the version that was seen expired: a file written meanwhile stays.
                    match self
                        .remove_path(&system, path.as_str(), false, Some(etag))
                        .await
                    {
                        Ok(_) => {
                            tracing::info!(%org, %path, policy = ?kept, "removed by the retention policy");
                            report.removed.push((org.clone(), path));
                        }
                        // Changed or removed meanwhile: the next pass decides again.
                        Err(error) => {
                            tracing::debug!(%path, %error, "retention left a file");
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// The organizations that have a root folder.
    pub(crate) async fn store_org_ids(self) -> Result<Vec<OrgId>, FsError> {
        let nodes = self
            .store
            .list(&ListQuery {
                dir: VfsPath::orgs_root(),
                recursive: false,
                after: None,
                limit: usize::MAX,
            })
            .await?;
        Ok(nodes
            .iter()
            .filter(|node| node.is_dir())
            .filter_map(|node| OrgId::parse(node.path.name()).ok())
            .collect())
    }

    /// The `conversations/` folder of every workspace of `org`.
    async fn conversation_folders(self, org: &OrgId) -> Result<Vec<VfsPath>, FsError> {
        let root = VfsPath::org_root(org);
        let parent = match self.layout {
            Layout::Simple => root,
            Layout::Canonical => root.join("workspaces")?,
        };
        let children = self
            .store
            .list(&ListQuery {
                dir: parent,
                recursive: false,
                after: None,
                limit: usize::MAX,
            })
            .await?;
        let mut folders = Vec::new();
        for child in children.iter().filter(|node| node.is_dir()) {
            let folder = child.path.join("conversations")?;
            if self
                .store
                .node(&folder)
                .await?
                .is_some_and(|node| node.is_dir())
            {
                folders.push(folder);
            }
        }
        Ok(folders)
    }

    /// Files beneath `folder` last modified before `cutoff`.
    async fn expired_within(
        self,
        folder: &VfsPath,
        cutoff: Timestamp,
    ) -> Result<Vec<(VfsPath, String)>, FsError> {
        let mut expired = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    dir: folder.clone(),
                    recursive: true,
                    after: after.take(),
                    limit: MAX_PAGE_SIZE,
                })
                .await?;
            expired.extend(
                page.iter()
                    .filter(|node| !node.is_dir() && node.modified_at < cutoff)
                    .map(|node| (node.path.clone(), node.etag())),
            );
            if page.len() < MAX_PAGE_SIZE {
                return Ok(expired);
            }
            after = page.last().map(|node| node.path.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_hours(90 * 24)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_mins(30)));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1.5d",
            "90 days",
            "90D",
            "1w",
            "+3d",
            "99999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let mut settings = Map::new();
        settings.insert(
            RETENTION_POLICY.to_owned(),
            serde_json::json!({"conversations": "90d", "sessions": "30d"}),
        );
        validate_settings(&settings).unwrap();
        for bad in [
            serde_json::json!({"conversations": "ninety"}),
            serde_json::json!({"conversations": 90}),
            serde_json::json!({"chats": "90d"}),
            serde_json::json!("90d"),
        ] {
            settings.insert(RETENTION_POLICY.to_owned(), bad.clone());
            assert!(validate_settings(&settings).is_err(), "{bad}");
        }
    }
}
