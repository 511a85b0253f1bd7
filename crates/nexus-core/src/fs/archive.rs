//! Organization archives: everything of one organization in one file, to move it to another
//! data directory or server, or to keep it (`nexus export`, `nexus import`).
//!
//! An archive is a tar stream compressed with zstd (`.tar.zst`). Its first entry is
//! `manifest.json` (the format and its version, the organization, and the BLAKE3 hash and
//! length of every other metadata entry); then the metadata entries, JSON or JSON Lines:
//!
//! ```text
//!   manifest.json         format, version, org, exported_at_us, entries {name: {blake3, bytes}}, blobs
//!   organization.json     version_policy, locker_key (wrapped by the master key; never plain)
//!   principals.jsonl      the users and agents its data names: kind, id, handle, created_at_us
//!   nodes.jsonl           every file and directory, parents first; a file with every version
//!   relationships.jsonl   every relationship on its objects, in the schema language
//!   reminders.jsonl       the reminder schedule
//!   changes.jsonl         its change feed
//!   audit.jsonl           its audit log
//!   blobs/<blake3>        each distinct content once, named by its hash
//! ```
//!
//! Times are microseconds since the Unix epoch (UTC). An import checks every metadata entry
//! against the manifest and every blob against its name, validates everything before it
//! stores any content, and commits the organization in one transaction: a refused import
//! changes nothing (content it had stored stays unreferenced until garbage collection).
//! Locker secrets stay sealed end to end: an archive holds their ciphertexts and the
//! organization's data key wrapped by the master key, so importing them needs the same
//! master key. API keys, lockouts and notification feeds belong to principals, not to the
//! organization, and are not exported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use nexus_api::ArchiveReport;
use nexus_path::{OrgId, VfsPath};
use nexus_rebac::Relationship;
use nexus_store::{
    AuditQuery, AuditRecord, ChangeQuery, ChangeRecord, ContentHash, ImportedNode, ImportedVersion,
    LockerKeyRecord, Mutation, NodeKind, OrgImport, PrincipalRecord, Timestamp, VersionPolicy,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Archives, Fs};
use crate::authz::{org_of, org_of_object};
use crate::error::FsError;
use crate::principal::CallContext;

/// The `format` of a manifest.
pub const ARCHIVE_FORMAT: &str = "nexus-org-archive";
/// The version of the format this build writes and reads.
pub const ARCHIVE_VERSION: u32 = 1;
/// The largest entry an import reads.
const MAX_ENTRY_BYTES: u64 = 4 << 30;
/// Entries in flight between the archive's thread and the store (each read whole).
const PIPELINE: usize = 2;
const ZSTD_LEVEL: i32 = 3;

const MANIFEST: &str = "manifest.json";
const ORGANIZATION: &str = "organization.json";
const PRINCIPALS: &str = "principals.jsonl";
const NODES: &str = "nodes.jsonl";
const RELATIONSHIPS: &str = "relationships.jsonl";
const REMINDERS: &str = "reminders.jsonl";
const CHANGES: &str = "changes.jsonl";
const AUDIT: &str = "audit.jsonl";
const BLOBS: &str = "blobs/";
const METADATA: [&str; 7] = [
    ORGANIZATION,
    PRINCIPALS,
    NODES,
    RELATIONSHIPS,
    REMINDERS,
    CHANGES,
    AUDIT,
];
const PAGE: usize = 1000;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    org: String,
    exported_at_us: i64,
    /// Every metadata entry: its hash and length.
    entries: BTreeMap<String, Digest>,
    /// How many `blobs/` entries follow.
    blobs: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Digest {
    blake3: String,
    bytes: u64,
}

impl Digest {
    fn of(content: &[u8]) -> Digest {
        Digest {
            blake3: ContentHash::of(content).to_hex(),
            bytes: count(content.len()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Organization {
    version_policy: Policy,
    locker_key: Option<WrappedKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Policy {
    keep_last: Option<u32>,
    keep_days: Option<u32>,
}

/// An organization's locker data key, wrapped by the master key `master_id` names.
#[derive(Debug, Serialize, Deserialize)]
struct WrappedKey {
    master_id: String,
    wrapped_base64: String,
    created_at_us: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PrincipalLine {
    kind: String,
    id: String,
    handle: String,
    created_at_us: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct NodeLine {
    path: String,
    /// `directory` or `file`.
    kind: String,
    created_at_us: i64,
    author: String,
    /// A file's versions, oldest first; the last is current.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    versions: Vec<VersionLine>,
}

#[derive(Debug, Serialize, Deserialize)]
struct VersionLine {
    version: u64,
    blake3: String,
    bytes: u64,
    created_at_us: i64,
    author: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RelationshipLine {
    relationship: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReminderLine {
    path: String,
    due_us: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChangeLine {
    revision: u64,
    at_us: i64,
    action: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditLine {
    /// Its number in the source's log (informational: the importing log numbers it anew).
    seq: u64,
    at_us: i64,
    actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<String>,
    action: String,
    target: String,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// One entry on its way into or out of an archive.
enum Piece {
    Entry(String, Bytes),
    /// Everything was sent: finish the archive (without it, the archive is abandoned).
    End,
}

fn count(length: usize) -> u64 {
    u64::try_from(length).unwrap_or(u64::MAX)
}

fn damaged(message: impl std::fmt::Display) -> FsError {
    FsError::invalid(format!("the archive cannot be read: {message}"))
}

fn jsonl<T: Serialize>(lines: &[T]) -> Result<Bytes, FsError> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line)
            .map_err(|error| FsError::internal(format!("archive entry: {error}")))?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

fn jsonl_of<T, L: Serialize>(items: &[T], line: impl Fn(&T) -> L) -> Result<Bytes, FsError> {
    jsonl(&items.iter().map(line).collect::<Vec<_>>())
}

fn parse_jsonl<T: for<'de> Deserialize<'de>>(
    name: &str,
    content: &[u8],
) -> Result<Vec<T>, FsError> {
    content
        .split(|byte| *byte == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(number, line)| {
            serde_json::from_slice(line)
                .map_err(|error| damaged(format!("`{name}` line {}: {error}", number + 1)))
        })
        .collect()
}

/// The `kind` and `id` of a principal a subject or author names (`user:u_k3x9`).
fn principal_of(text: &str) -> Option<(String, String)> {
    let (kind, id) = text.split_once(':')?;
    let id = id.split_once('#').map_or(id, |(id, _)| id);
    matches!(kind, "user" | "agent").then(|| (kind.to_owned(), id.to_owned()))
}

/// Writes the entries it receives into a zstd-compressed tar stream on a blocking thread;
/// finishes the archive on [`Piece::End`], abandons it (an error) if the sender goes away
/// first.
fn spawn_writer<W: Write + Send + 'static>(
    out: W,
    mtime: u64,
) -> (
    mpsc::Sender<Piece>,
    tokio::task::JoinHandle<std::io::Result<W>>,
) {
    let (sender, mut receiver) = mpsc::channel::<Piece>(PIPELINE);
    let writer = tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(zstd::Encoder::new(out, ZSTD_LEVEL)?);
        while let Some(piece) = receiver.blocking_recv() {
            match piece {
                Piece::Entry(name, content) => {
                    let mut header = tar::Header::new_ustar();
                    header.set_size(count(content.len()));
                    header.set_mode(0o644);
                    header.set_mtime(mtime);
                    header.set_entry_type(tar::EntryType::Regular);
                    builder.append_data(&mut header, &name, content.as_ref())?;
                }
                Piece::End => return builder.into_inner()?.finish(),
            }
        }
        Err(std::io::Error::other(
            "the export stopped before it finished",
        ))
    });
    (sender, writer)
}

/// Reads a zstd-compressed tar stream on a blocking thread, sending its entries in order;
/// a damaged stream ends with an error, a complete one with [`Piece::End`].
fn spawn_reader<R: Read + Send + 'static>(input: R) -> mpsc::Receiver<Result<Piece, String>> {
    let (sender, receiver) = mpsc::channel(PIPELINE);
    tokio::task::spawn_blocking(move || {
        let read = || -> Result<(), String> {
            let decoder = zstd::Decoder::new(input).map_err(|error| error.to_string())?;
            let mut archive = tar::Archive::new(decoder);
            for entry in archive.entries().map_err(|error| error.to_string())? {
                let entry = entry.map_err(|error| error.to_string())?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    return Err("it holds an entry that is not a regular file".to_owned());
                }
                let name = entry
                    .path()
                    .map_err(|error| error.to_string())?
                    .to_string_lossy()
                    .into_owned();
                let size = entry.size();
                if size > MAX_ENTRY_BYTES {
                    return Err(format!(
                        "entry `{name}` is larger than {MAX_ENTRY_BYTES} bytes"
                    ));
                }
                let mut content =
                    Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
                entry
                    .take(MAX_ENTRY_BYTES)
                    .read_to_end(&mut content)
                    .map_err(|error| format!("entry `{name}`: {error}"))?;
                if sender
                    .blocking_send(Ok(Piece::Entry(name, Bytes::from(content))))
                    .is_err()
                {
                    // The import stopped; nothing more to read.
                    return Ok(());
                }
            }
            let _ = sender.blocking_send(Ok(Piece::End));
            Ok(())
        };
        if let Err(message) = read() {
            let _ = sender.blocking_send(Err(message));
        }
    });
    receiver
}

/// The principals an archive names: `(kind, id)`.
type Named = HashSet<(String, String)>;

/// What an import checked and is about to commit.
struct Plan {
    org: OrgId,
    import: OrgImport,
    relationships: Vec<Relationship>,
    registrations: Vec<PrincipalRecord>,
    /// Each content the nodes need, with its length.
    blobs: HashMap<ContentHash, u64>,
    report: ArchiveReport,
}

impl Archives<'_> {
    /// Writes organization `org` as an archive to `out` (system administrators) and returns
    /// what it holds, and `out`.
    pub async fn export<W: Write + Send + 'static>(
        self,
        context: &CallContext,
        org: &str,
        out: W,
    ) -> Result<(ArchiveReport, W), FsError> {
        Fs::require_system(context, "exporting an organization")?;
        let org = Fs::org_of_context(context, org)?;
        let root = VfsPath::org_root(&org);
        let Some(root_node) = self.store.node(&root).await? else {
            return Err(nexus_store::Rejection::NotFound { path: root }.into());
        };
        // An archive holds everyone's personal data (secrets sealed): recorded, first, so
        // the archive's own log shows it.
        self.audit_private(context, &org, "org_export", root.to_string())
            .await?;
        let exported_at = Timestamp::now();
        let mut report = ArchiveReport {
            org: org.to_string(),
            ..ArchiveReport::default()
        };
        let mut names: BTreeSet<(String, String)> = BTreeSet::new();
        let mut mention = |text: &str| {
            if let Some(principal) = principal_of(text) {
                names.insert(principal);
            }
        };

        let (node_lines, blobs) = self
            .node_lines(root_node, &mut mention, &mut report)
            .await?;
        report.nodes = count(node_lines.len());
        report.blobs = count(blobs.len());
        report.bytes = blobs.values().sum();

        let mut relationships: Vec<String> = self
            .commit
            .relationships_of(&org)
            .iter()
            .map(|relationship| {
                mention(&relationship.subject.to_string());
                relationship.to_string()
            })
            .collect();
        relationships.sort();
        report.relationships = count(relationships.len());

        let audit = self.audit_of(&org).await?;
        for entry in &audit {
            mention(&entry.actor);
            if let Some(principal) = &entry.on_behalf_of {
                mention(principal);
            }
        }
        report.audit_entries = count(audit.len());
        let changes = self.changes_of(&org).await?;
        for change in &changes {
            if let Some(author) = &change.author {
                mention(author);
            }
        }
        report.changes = count(changes.len());
        let reminders = self.reminders_of(&org, &node_lines).await?;
        report.reminders = count(reminders.len());

        let principals = self.principal_lines(&names).await?;
        report.principals = count(principals.len());
        let organization = self.organization_entry(&org, &mut report).await?;
        let metadata: Vec<(&str, Bytes)> = vec![
            (ORGANIZATION, organization),
            (PRINCIPALS, jsonl(&principals)?),
            (NODES, jsonl(&node_lines)?),
            (
                RELATIONSHIPS,
                jsonl_of(&relationships, |relationship| RelationshipLine {
                    relationship: relationship.clone(),
                })?,
            ),
            (
                REMINDERS,
                jsonl_of(&reminders, |reminder| ReminderLine {
                    path: reminder.path.to_string(),
                    due_us: reminder.due.as_micros(),
                })?,
            ),
            (CHANGES, jsonl_of(&changes, change_line)?),
            (AUDIT, jsonl_of(&audit, audit_line)?),
        ];
        let manifest = Manifest {
            format: ARCHIVE_FORMAT.to_owned(),
            version: ARCHIVE_VERSION,
            org: org.to_string(),
            exported_at_us: exported_at.as_micros(),
            entries: metadata
                .iter()
                .map(|(name, content)| ((*name).to_owned(), Digest::of(content)))
                .collect(),
            blobs: report.blobs,
        };
        let manifest = serde_json::to_vec_pretty(&manifest)
            .map_err(|error| FsError::internal(format!("archive manifest: {error}")))?;

        let out = self
            .write_archive(&org, out, exported_at, manifest, metadata, &blobs)
            .await?;
        Ok((report, out))
    }

    /// The reminder schedule of the files in the archive (one removed meanwhile is not).
    async fn reminders_of(
        self,
        org: &OrgId,
        node_lines: &[NodeLine],
    ) -> Result<Vec<nexus_store::ScheduledReminder>, FsError> {
        let files: HashSet<&str> = node_lines
            .iter()
            .filter(|line| !line.versions.is_empty())
            .map(|line| line.path.as_str())
            .collect();
        let mut reminders = self.store.org_reminders(org).await?;
        reminders.retain(|reminder| files.contains(reminder.path.as_str()));
        Ok(reminders)
    }

    /// The registered principals among `names`.
    async fn principal_lines(
        self,
        names: &BTreeSet<(String, String)>,
    ) -> Result<Vec<PrincipalLine>, FsError> {
        Ok(self
            .store
            .load_accounts()
            .await?
            .principals
            .into_iter()
            .filter(|principal| names.contains(&(principal.kind.clone(), principal.id.clone())))
            .map(|principal| PrincipalLine {
                kind: principal.kind,
                id: principal.id,
                handle: principal.handle,
                created_at_us: principal.created_at.as_micros(),
            })
            .collect())
    }

    /// `organization.json`: the version policy and the wrapped locker data key.
    async fn organization_entry(
        self,
        org: &OrgId,
        report: &mut ArchiveReport,
    ) -> Result<Bytes, FsError> {
        let policy = self.store.version_policy(org).await?;
        let locker_key = self
            .store
            .load_locker_keys()
            .await?
            .into_iter()
            .find(|key| key.org == *org)
            .map(|key| WrappedKey {
                master_id: key.master_id,
                wrapped_base64: STANDARD.encode(&key.wrapped),
                created_at_us: key.created_at.as_micros(),
            });
        report.locker_key = locker_key.is_some();
        serde_json::to_vec_pretty(&Organization {
            version_policy: Policy {
                keep_last: policy.keep_last,
                keep_days: policy.keep_days,
            },
            locker_key,
        })
        .map(Bytes::from)
        .map_err(|error| FsError::internal(format!("archive entry: {error}")))
    }

    /// Every node beneath (and with) `root`, with the content its versions need.
    async fn node_lines(
        self,
        root: nexus_store::Node,
        mention: &mut impl FnMut(&str),
        report: &mut ArchiveReport,
    ) -> Result<(Vec<NodeLine>, BTreeMap<ContentHash, u64>), FsError> {
        let mut nodes = self.all_nodes(&root.path, true).await?;
        nodes.insert(0, root);
        let mut node_lines = Vec::with_capacity(nodes.len());
        let mut blobs: BTreeMap<ContentHash, u64> = BTreeMap::new();
        for node in &nodes {
            let mut line = NodeLine {
                path: node.path.to_string(),
                kind: if node.is_dir() { "directory" } else { "file" }.to_owned(),
                created_at_us: node.created_at.as_micros(),
                author: node.author.clone(),
                versions: Vec::new(),
            };
            if !node.is_dir() {
                let mut versions = self.store.versions(node).await?;
                if versions.is_empty() {
                    // Removed since the listing: not in the archive.
                    continue;
                }
                report.files += 1;
                versions.reverse();
                for version in versions {
                    mention(&version.author);
                    blobs.insert(version.hash, version.size);
                    line.versions.push(VersionLine {
                        version: version.version,
                        blake3: version.hash.to_hex(),
                        bytes: version.size,
                        created_at_us: version.created_at.as_micros(),
                        author: version.author,
                    });
                }
                report.versions += count(line.versions.len());
            }
            mention(&node.author);
            node_lines.push(line);
        }
        Ok((node_lines, blobs))
    }

    /// Streams the archive's entries into `out`: the manifest, the metadata, the contents.
    async fn write_archive<W: Write + Send + 'static>(
        self,
        org: &OrgId,
        out: W,
        exported_at: Timestamp,
        manifest: Vec<u8>,
        metadata: Vec<(&str, Bytes)>,
        blobs: &BTreeMap<ContentHash, u64>,
    ) -> Result<W, FsError> {
        let mtime = u64::try_from(exported_at.as_micros() / 1_000_000).unwrap_or(0);
        let (sender, writer) = spawn_writer(out, mtime);
        // `Err(None)`: the writer stopped (its own error says why).
        let sent: Result<(), Option<FsError>> = async {
            let send = |piece: Piece| async { sender.send(piece).await.map_err(|_| None) };
            send(Piece::Entry(MANIFEST.to_owned(), Bytes::from(manifest))).await?;
            for (name, content) in metadata {
                send(Piece::Entry(name.to_owned(), content)).await?;
            }
            for hash in blobs.keys() {
                let content = self
                    .store
                    .blob(org, hash)
                    .await
                    .map_err(|error| Some(error.into()))?;
                send(Piece::Entry(format!("{BLOBS}{hash}"), content)).await?;
            }
            send(Piece::End).await
        }
        .await;
        drop(sender);
        let written = writer
            .await
            .map_err(|error| FsError::internal(format!("the archive writer failed: {error}")))?;
        match (sent, written) {
            (Err(Some(error)), _) => Err(error),
            (_, Err(error)) => Err(FsError::internal(format!("writing the archive: {error}"))),
            (Err(None), Ok(_)) => Err(FsError::internal("the archive writer stopped")),
            (Ok(()), Ok(out)) => Ok(out),
        }
    }

    /// Restores an organization from an archive read from `input` (system administrators).
    /// Refused if the organization exists, unless `replace`. Returns what it restored.
    pub async fn import<R: Read + Send + 'static>(
        self,
        context: &CallContext,
        input: R,
        replace: bool,
    ) -> Result<ArchiveReport, FsError> {
        Fs::require_system(context, "importing an organization")?;
        let mut entries = spawn_reader(input);
        let mut next = async || match entries.recv().await {
            Some(Ok(piece)) => Ok(piece),
            Some(Err(message)) => Err(damaged(message)),
            None => Err(damaged("it ended early")),
        };
        let Piece::Entry(name, content) = next().await? else {
            return Err(damaged("it is empty"));
        };
        if name != MANIFEST {
            return Err(damaged(format!(
                "its first entry is `{name}`, not `{MANIFEST}`"
            )));
        }
        let manifest: Manifest = serde_json::from_slice(&content)
            .map_err(|error| damaged(format!("`{MANIFEST}`: {error}")))?;
        if manifest.format != ARCHIVE_FORMAT {
            return Err(damaged(format!(
                "it is not a Nexus organization archive (format `{}`)",
                manifest.format
            )));
        }
        if manifest.version != ARCHIVE_VERSION {
            return Err(damaged(format!(
                "it has format version {}; this build reads version {ARCHIVE_VERSION}",
                manifest.version
            )));
        }
        if let Some(missing) = METADATA
            .iter()
            .find(|name| !manifest.entries.contains_key(**name))
        {
            return Err(damaged(format!("its manifest does not list `{missing}`")));
        }
        let mut metadata: HashMap<String, Bytes> = HashMap::new();
        while metadata.len() < manifest.entries.len() {
            let Piece::Entry(name, content) = next().await? else {
                return Err(damaged("it ended before its metadata"));
            };
            let Some(expected) = manifest.entries.get(&name) else {
                return Err(damaged(format!("entry `{name}` is not in its manifest")));
            };
            if Digest::of(&content) != *expected || metadata.contains_key(&name) {
                return Err(damaged(format!(
                    "entry `{name}` does not match its manifest (altered or damaged)"
                )));
            }
            metadata.insert(name, content);
        }
        let entry = |name: &str| metadata.get(name).cloned().unwrap_or_default();
        let mut plan = self.plan_import(&manifest, &entry, replace)?;
        // Checked before any content is stored; the store checks again when committing.
        let exists = self
            .store
            .node(&VfsPath::org_root(&plan.org))
            .await?
            .is_some();
        if exists && !replace {
            return Err(FsError::Conflict {
                message: format!(
                    "organization `{}` exists here: import with `--replace` (`replace=true`) to replace it",
                    plan.org
                ),
            });
        }
        plan.report.replaced = exists;

        let mut received = HashSet::new();
        loop {
            let (name, content) = match next().await? {
                Piece::Entry(name, content) => (name, content),
                Piece::End => break,
            };
            let hash = name
                .strip_prefix(BLOBS)
                .and_then(ContentHash::from_hex)
                .ok_or_else(|| damaged(format!("unexpected entry `{name}`")))?;
            if !plan.blobs.contains_key(&hash) || !received.insert(hash) {
                return Err(damaged(format!("unexpected entry `{name}`")));
            }
            let expected = plan.blobs.get(&hash).copied().unwrap_or_default();
            if ContentHash::of(&content) != hash || count(content.len()) != expected {
                return Err(damaged(format!(
                    "the content of `{name}` does not match its hash and length (altered or damaged)"
                )));
            }
            self.store.put_blob(&plan.org, content).await?;
        }
        if let Some(missing) = plan.blobs.keys().find(|hash| !received.contains(*hash)) {
            return Err(damaged(format!("it lacks the content `{BLOBS}{missing}`")));
        }
        self.commit_import(context, plan).await
    }

    /// The archive's principals, checked against those registered here: the same id with
    /// the same handle, or both new (to register).
    fn plan_principals(self, content: &[u8]) -> Result<(Vec<PrincipalRecord>, Named), FsError> {
        let principals: Vec<PrincipalLine> = parse_jsonl(PRINCIPALS, content)?;
        let mut registrations = Vec::new();
        let mut named = HashSet::new();
        let mut handles = HashSet::new();
        for principal in principals {
            let kind = crate::accounts::PrincipalKind::parse(&principal.kind)
                .filter(|kind| kind.is_stable_id(&principal.id))
                .ok_or_else(|| {
                    damaged(format!(
                        "principal `{}:{}` is not a stable id",
                        principal.kind, principal.id
                    ))
                })?;
            let valid = match kind {
                crate::accounts::PrincipalKind::User => {
                    crate::accounts::validate_handle(&principal.handle)
                }
                crate::accounts::PrincipalKind::Agent => {
                    crate::accounts::validate_agent_name(&principal.handle)
                }
            };
            valid.map_err(|error| {
                damaged(format!(
                    "principal `{}:{}`: {error}",
                    principal.kind, principal.id
                ))
            })?;
            if !named.insert((principal.kind.clone(), principal.id.clone()))
                || !handles.insert((principal.kind.clone(), principal.handle.clone()))
            {
                return Err(damaged(format!(
                    "principal `{}:{}` (`{}`) is listed twice",
                    principal.kind, principal.id, principal.handle
                )));
            }
            match self.registry.handle(&principal.kind, &principal.id) {
                Some(handle) if handle == principal.handle => {}
                Some(handle) => {
                    return Err(FsError::Conflict {
                        message: format!(
                            "`{}:{}` is `{handle}` here and `{}` in the archive",
                            principal.kind, principal.id, principal.handle
                        ),
                    });
                }
                None => {
                    if let Some(other) = self.registry.id_of(kind, &principal.handle) {
                        return Err(FsError::Conflict {
                            message: format!(
                                "`{}` is `{}:{other}` here and `{}:{}` in the archive",
                                principal.handle, principal.kind, principal.kind, principal.id
                            ),
                        });
                    }
                    registrations.push(PrincipalRecord {
                        kind: principal.kind,
                        id: principal.id,
                        handle: principal.handle,
                        created_at: Timestamp(principal.created_at_us),
                    });
                }
            }
        }
        Ok((registrations, named))
    }

    /// The archive's wrapped locker key, which this server's master key (if configured) must
    /// be the one that wrapped it.
    fn plan_locker_key(
        self,
        org: &OrgId,
        key: Option<WrappedKey>,
    ) -> Result<Option<LockerKeyRecord>, FsError> {
        Ok(match key {
            None => None,
            Some(key) => {
                if let Some(master) = self.locker.master_id()
                    && master != key.master_id
                {
                    return Err(FsError::Conflict {
                        message: format!(
                            "the archive's locker secrets are sealed under master key `{}`, and this server's master key is `{master}`: configure the same key to import them",
                            key.master_id
                        ),
                    });
                }
                Some(LockerKeyRecord {
                    org: org.clone(),
                    master_id: key.master_id,
                    wrapped: STANDARD
                        .decode(&key.wrapped_base64)
                        .map_err(|error| damaged(format!("its locker key: {error}")))?,
                    created_at: Timestamp(key.created_at_us),
                })
            }
        })
    }

    /// Checks what the archive's metadata says, before any content is stored.
    fn plan_import(
        self,
        manifest: &Manifest,
        entry: &dyn Fn(&str) -> Bytes,
        replace: bool,
    ) -> Result<Plan, FsError> {
        let org = OrgId::parse(&manifest.org)
            .map_err(|error| damaged(format!("its organization: {error}")))?;
        let root = VfsPath::org_root(&org);
        let organization: Organization = serde_json::from_slice(&entry(ORGANIZATION))
            .map_err(|error| damaged(format!("`{ORGANIZATION}`: {error}")))?;
        let mut report = ArchiveReport {
            org: org.to_string(),
            ..ArchiveReport::default()
        };
        let path = |text: &str| -> Result<VfsPath, FsError> {
            let path =
                VfsPath::parse(text).map_err(|error| damaged(format!("path `{text}`: {error}")))?;
            if !path.starts_with(&root) {
                return Err(damaged(format!("`{path}` is outside organization `{org}`")));
            }
            Ok(path)
        };

        let (nodes, blobs) = plan_nodes(&org, &path, &entry(NODES))?;
        report.versions = nodes.iter().map(|node| count(node.versions.len())).sum();
        report.files = count(
            nodes
                .iter()
                .filter(|node| node.kind == NodeKind::File)
                .count(),
        );
        report.nodes = count(nodes.len());
        report.blobs = count(blobs.len());
        report.bytes = blobs.values().sum();
        if manifest.blobs != report.blobs {
            return Err(damaged(format!(
                "its manifest counts {} contents, its files {}",
                manifest.blobs, report.blobs
            )));
        }

        let (registrations, named) = self.plan_principals(&entry(PRINCIPALS))?;
        report.principals = count(named.len());
        report.principals_registered = count(registrations.len());

        let mut relationships = Vec::new();
        for line in parse_jsonl::<RelationshipLine>(RELATIONSHIPS, &entry(RELATIONSHIPS))? {
            let relationship = Relationship::parse(&line.relationship).map_err(|error| {
                damaged(format!("relationship `{}`: {error}", line.relationship))
            })?;
            check_tenancy(&org, &relationship, &named)?;
            relationships.push(relationship);
        }
        report.relationships = count(relationships.len());

        let reminders = parse_jsonl::<ReminderLine>(REMINDERS, &entry(REMINDERS))?
            .into_iter()
            .map(|line| Ok((path(&line.path)?, Timestamp(line.due_us))))
            .collect::<Result<Vec<_>, FsError>>()?;
        report.reminders = count(reminders.len());
        let changes = parse_jsonl::<ChangeLine>(CHANGES, &entry(CHANGES))?
            .into_iter()
            .map(|line| {
                Ok(ChangeRecord {
                    org: org.clone(),
                    revision: line.revision,
                    at: Timestamp(line.at_us),
                    action: line.action,
                    path: path(&line.path)?,
                    to: line.to.as_deref().map(path).transpose()?,
                    author: line.author,
                })
            })
            .collect::<Result<Vec<_>, FsError>>()?;
        report.changes = count(changes.len());
        let audit: Vec<AuditRecord> = parse_jsonl::<AuditLine>(AUDIT, &entry(AUDIT))?
            .into_iter()
            .map(|line| audit_record(&org, line))
            .collect();
        report.audit_entries = count(audit.len());
        check_named(&named, &nodes, &relationships, &audit, &changes)?;

        let locker_key = self.plan_locker_key(&org, organization.locker_key)?;
        report.locker_key = locker_key.is_some();
        Ok(Plan {
            import: OrgImport {
                org: org.clone(),
                replace,
                policy: VersionPolicy {
                    keep_last: organization.version_policy.keep_last,
                    keep_days: organization.version_policy.keep_days,
                },
                nodes,
                reminders,
                changes,
                audit,
                locker_key,
            },
            org,
            relationships,
            registrations,
            blobs,
            report,
        })
    }

    async fn commit_import(
        self,
        context: &CallContext,
        plan: Plan,
    ) -> Result<ArchiveReport, FsError> {
        let Plan {
            org,
            import,
            relationships,
            registrations,
            report,
            ..
        } = plan;
        let locker_key = import.locker_key.clone();
        // Serialized with data keys being created and the master key being rotated: the
        // key checked here is the one in force when the import commits.
        let _creating = self.locker.creating.lock().await;
        if let Some(key) = &locker_key {
            self.check_locker_key(key).await?;
        }
        let _registering = self.registry.registering.lock().await;
        let mut mutations = super::accounts::registrations(&registrations);
        mutations.push(Mutation::ImportOrg(Box::new(import)));
        // The replaced organization's data key goes first, so nothing is sealed with it
        // while the import commits; if the import fails, the stored key is put back.
        self.locker.forget(&org);
        let committed = self.commit.import_org(&org, relationships, mutations).await;
        let stored = self.store.load_locker_keys().await;
        if let Some(record) = stored
            .ok()
            .and_then(|keys| keys.into_iter().find(|key| key.org == org))
        {
            self.locker.install_stored(&record);
        }
        committed?;
        self.registry.commit(&registrations);
        let root = VfsPath::org_root(&org).to_string();
        self.audit_private(context, &org, "org_import", root)
            .await?;
        Ok(report)
    }

    /// An archive's locker key must open with this server's master key, or (with none
    /// configured) be wrapped by the same master key as the data keys stored here already:
    /// a data directory whose keys need different master keys could not open its lockers.
    async fn check_locker_key(self, key: &LockerKeyRecord) -> Result<(), FsError> {
        match self.locker.opens(key) {
            Some(true) => Ok(()),
            Some(false) => Err(FsError::Conflict {
                message: format!(
                    "the archive's locker secrets are sealed under master key `{}`, which is not this server's (`{}`): configure the same key to import them",
                    key.master_id,
                    self.locker.master_id().unwrap_or_default()
                ),
            }),
            None => {
                let stored = self.store.load_locker_keys().await?;
                match stored
                    .iter()
                    .find(|other| other.org != key.org && other.master_id != key.master_id)
                {
                    Some(other) => Err(FsError::Conflict {
                        message: format!(
                            "the archive's locker secrets are sealed under master key `{}`, and this data directory's under `{}`: import with the archive's master key configured",
                            key.master_id, other.master_id
                        ),
                    }),
                    None => Ok(()),
                }
            }
        }
    }

    async fn audit_of(self, org: &OrgId) -> Result<Vec<AuditRecord>, FsError> {
        let mut entries = Vec::new();
        loop {
            let page = self
                .store
                .audit(&AuditQuery {
                    org: Some(Some(org.clone())),
                    after: entries.last().map_or(0, |entry: &AuditRecord| entry.seq),
                    limit: PAGE,
                    ..AuditQuery::default()
                })
                .await?;
            let full = page.len() == PAGE;
            entries.extend(page);
            if !full {
                return Ok(entries);
            }
        }
    }

    async fn changes_of(self, org: &OrgId) -> Result<Vec<ChangeRecord>, FsError> {
        let mut changes = Vec::new();
        loop {
            let page = self
                .store
                .file_changes(&ChangeQuery {
                    org: org.clone(),
                    after: changes
                        .last()
                        .map_or(0, |change: &ChangeRecord| change.revision),
                    limit: PAGE,
                })
                .await?;
            let full = page.len() == PAGE;
            changes.extend(page);
            if !full {
                return Ok(changes);
            }
        }
    }
}

/// The archive's nodes, checked: known kinds, paths inside the organization in path order,
/// contents named by valid hashes; and each content they need, with its length.
fn plan_nodes(
    org: &OrgId,
    path: &dyn Fn(&str) -> Result<VfsPath, FsError>,
    content: &[u8],
) -> Result<(Vec<ImportedNode>, HashMap<ContentHash, u64>), FsError> {
    let mut blobs = HashMap::new();
    let mut nodes = Vec::new();
    for line in parse_jsonl::<NodeLine>(NODES, content)? {
        let kind = match line.kind.as_str() {
            "directory" => NodeKind::Directory,
            "file" => NodeKind::File,
            other => {
                return Err(damaged(format!(
                    "`{}` is of unknown kind `{other}`",
                    line.path
                )));
            }
        };
        let mut versions = Vec::with_capacity(line.versions.len());
        for version in line.versions {
            let hash = ContentHash::from_hex(&version.blake3).ok_or_else(|| {
                damaged(format!(
                    "`{}` names content `{}`",
                    line.path, version.blake3
                ))
            })?;
            if blobs
                .insert(hash, version.bytes)
                .is_some_and(|bytes| bytes != version.bytes)
            {
                return Err(damaged(format!("content `{hash}` has two lengths")));
            }
            versions.push(ImportedVersion {
                version: version.version,
                blob: nexus_store::BlobRef {
                    org: org.clone(),
                    hash,
                    size: version.bytes,
                },
                created_at: Timestamp(version.created_at_us),
                author: version.author,
            });
        }
        nodes.push(ImportedNode {
            path: path(&line.path)?,
            kind,
            created_at: Timestamp(line.created_at_us),
            author: line.author,
            versions,
        });
    }
    if !nodes
        .windows(2)
        .all(|pair| pair.first().map(|node| &node.path) < pair.get(1).map(|node| &node.path))
    {
        return Err(damaged(format!("`{NODES}` is not in path order")));
    }
    Ok((nodes, blobs))
}

/// Only principals the organization's data names (authors, relationships' subjects, audit
/// actors) are registered by an import.
fn check_named(
    named: &Named,
    nodes: &[ImportedNode],
    relationships: &[Relationship],
    audit: &[AuditRecord],
    changes: &[ChangeRecord],
) -> Result<(), FsError> {
    let mut mentioned = HashSet::new();
    let mut mention = |text: &str| mentioned.extend(principal_of(text));
    for node in nodes {
        mention(&node.author);
        node.versions
            .iter()
            .for_each(|version| mention(&version.author));
    }
    for relationship in relationships {
        mention(&relationship.subject.to_string());
    }
    for entry in audit {
        mention(&entry.actor);
        entry
            .on_behalf_of
            .iter()
            .for_each(|principal| mention(principal));
    }
    changes
        .iter()
        .filter_map(|change| change.author.as_deref())
        .for_each(&mut mention);
    if let Some((kind, id)) = named
        .iter()
        .find(|principal| !mentioned.contains(*principal))
    {
        return Err(damaged(format!(
            "principal `{kind}:{id}` is not named by the organization's data"
        )));
    }
    Ok(())
}

/// An archive's relationship stays inside its organization: on one of its objects, naming
/// its own groups, sessions and profiles and the principals the archive lists.
fn check_tenancy(
    org: &OrgId,
    relationship: &Relationship,
    principals: &Named,
) -> Result<(), FsError> {
    let refuse = |why: &str| {
        Err(damaged(format!(
            "relationship `{relationship}` {why} of organization `{org}`"
        )))
    };
    if org_of(relationship).as_ref() != Some(org) {
        return refuse("is not on an object");
    }
    let subject = &relationship.subject.object;
    if relationship.subject.is_wildcard() {
        return Ok(());
    }
    match subject.object_type.as_str() {
        "user" | "agent"
            if !principals.contains(&(subject.object_type.clone(), subject.object_id.clone())) =>
        {
            return refuse("names a principal that is not among the principals");
        }
        "file" | "org" | "group" | "session" | "profile"
            if org_of_object(subject).as_ref() != Some(org) =>
        {
            return refuse("names a subject that is not one");
        }
        _ => {}
    }
    Ok(())
}

fn change_line(change: &ChangeRecord) -> ChangeLine {
    ChangeLine {
        revision: change.revision,
        at_us: change.at.as_micros(),
        action: change.action.clone(),
        path: change.path.to_string(),
        to: change.to.as_ref().map(ToString::to_string),
        author: change.author.clone(),
    }
}

fn audit_record(org: &OrgId, line: AuditLine) -> AuditRecord {
    AuditRecord {
        seq: 0,
        org: Some(org.clone()),
        at: Timestamp(line.at_us),
        actor: line.actor,
        on_behalf_of: line.on_behalf_of,
        action: line.action,
        target: line.target,
        outcome: line.outcome,
        request_id: line.request_id,
        client: line.client,
        user_agent: line.user_agent,
        detail: line.detail,
    }
}

fn audit_line(entry: &AuditRecord) -> AuditLine {
    AuditLine {
        seq: entry.seq,
        at_us: entry.at.as_micros(),
        actor: entry.actor.clone(),
        on_behalf_of: entry.on_behalf_of.clone(),
        action: entry.action.clone(),
        target: entry.target.clone(),
        outcome: entry.outcome.clone(),
        request_id: entry.request_id.clone(),
        client: entry.client.clone(),
        user_agent: entry.user_agent.clone(),
        detail: entry.detail.clone(),
    }
}
