//! Content-addressed blob storage.
//!
//! A blob is identified by its organization and the BLAKE3 hash of its bytes and stored at
//! `orgs/<org>/<first two hex digits>/<hash>`. Organizations never share a blob, so the
//! existence of content in one tenant cannot be probed from another.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use nexus_path::OrgId;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::StoreError;
use crate::types::{ContentHash, Timestamp};

/// One blob found by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub org: OrgId,
    pub hash: ContentHash,
    pub size: u64,
    pub modified: Timestamp,
}

/// Where file content lives.
///
/// Implementations must make [`BlobStore::put`] atomic (a blob is either absent or complete,
/// never partially visible) and durable once it returns.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores `content` as blob `hash` of `org`, create-only. Returns once the blob is durable.
    /// Succeeds without writing when the blob already exists (same hash, same bytes).
    async fn put(&self, org: &OrgId, hash: &ContentHash, content: Bytes) -> Result<(), StoreError>;

    /// The whole blob. [`StoreError::MissingBlob`] when it does not exist.
    async fn get(&self, org: &OrgId, hash: &ContentHash) -> Result<Bytes, StoreError>;

    /// A byte range of the blob (`range` must lie within it).
    async fn get_range(
        &self,
        org: &OrgId,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError>;

    /// Whether the blob exists.
    async fn exists(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError>;

    /// Deletes the blob; deleting an absent blob succeeds.
    async fn delete(&self, org: &OrgId, hash: &ContentHash) -> Result<(), StoreError>;

    /// Every stored blob of every organization.
    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError>;

    /// Removes debris of uploads interrupted by a crash that is older than `before`. Returns how
    /// many were removed.
    async fn sweep_interrupted(&self, before: SystemTime) -> Result<u64, StoreError>;
}

/// Blobs in a local directory through `object_store`'s [`LocalFileSystem`], with fsync on.
#[derive(Debug)]
pub struct LocalBlobStore {
    store: Arc<LocalFileSystem>,
    root: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating if needed) a blob directory.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io {
            path: root.display().to_string(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_fsync(true);
        Ok(LocalBlobStore {
            store: Arc::new(store),
            root: root.to_path_buf(),
        })
    }

    fn location(org: &OrgId, hash: &ContentHash) -> ObjectPath {
        let hex = hash.to_hex();
        let fanout = hex.get(..2).unwrap_or("00");
        ObjectPath::from(format!("orgs/{}/{fanout}/{hex}", org.as_str()))
    }

    fn parse_location(location: &ObjectPath) -> Option<(OrgId, ContentHash)> {
        let mut parts = location.parts();
        let (Some(orgs), Some(org), Some(_fanout), Some(name), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if orgs.as_ref() != "orgs" {
            return None;
        }
        Some((
            OrgId::parse(org.as_ref()).ok()?,
            ContentHash::from_hex(name.as_ref())?,
        ))
    }
}

fn missing_or(error: object_store::Error, org: &OrgId, hash: &ContentHash) -> StoreError {
    match error {
        object_store::Error::NotFound { .. } => StoreError::MissingBlob {
            org: org.to_string(),
            hash: hash.to_hex(),
        },
        other => other.into(),
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, org: &OrgId, hash: &ContentHash, content: Bytes) -> Result<(), StoreError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let location = Self::location(org, hash);
        match self
            .store
            .put_opts(&location, PutPayload::from_bytes(content), options)
            .await
        {
            // INVARIANT: with fsync on, a blob becomes visible under its final name only after
            // its bytes were synced, so an existing blob is complete and durable.
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn get(&self, org: &OrgId, hash: &ContentHash) -> Result<Bytes, StoreError> {
        let location = Self::location(org, hash);
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|error| missing_or(error, org, hash))?;
        result
            .bytes()
            .await
            .map_err(|error| missing_or(error, org, hash))
    }

    async fn get_range(
        &self,
        org: &OrgId,
        hash: &ContentHash,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        self.store
            .get_range(&Self::location(org, hash), range)
            .await
            .map_err(|error| missing_or(error, org, hash))
    }

    async fn exists(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError> {
        match self.store.head(&Self::location(org, hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn delete(&self, org: &OrgId, hash: &ContentHash) -> Result<(), StoreError> {
        match self.store.delete(&Self::location(org, hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let prefix = ObjectPath::from("orgs");
        let objects: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                let (org, hash) = Self::parse_location(&object.location)?;
                Some(StoredBlob {
                    org,
                    hash,
                    size: object.size,
                    modified: Timestamp(object.last_modified.timestamp_micros()),
                })
            })
            .collect())
    }

    async fn sweep_interrupted(&self, before: SystemTime) -> Result<u64, StoreError> {
        let root = self.root.join("orgs");
        tokio::task::spawn_blocking(move || sweep_staging_files(&root, before))
            .await
            .map_err(|error| StoreError::Blob {
                source: Box::new(error),
            })?
    }
}

/// Deletes `<name>#<digits>` files (object_store's in-progress uploads) older than `before`.
fn sweep_staging_files(root: &Path, before: SystemTime) -> Result<u64, StoreError> {
    let io_error = |path: &Path, source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut removed = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io_error(&dir, error)),
        };
        for entry in entries {
            let entry = entry.map_err(|error| io_error(&dir, error))?;
            let path = entry.path();
            let metadata = entry.metadata().map_err(|error| io_error(&path, error))?;
            if metadata.is_dir() {
                pending.push(path);
                continue;
            }
            let is_staging = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.rsplit_once('#'))
                .is_some_and(|(_, suffix)| {
                    !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())
                });
            let old = metadata.modified().is_ok_and(|modified| modified < before);
            if is_staging && old {
                std::fs::remove_file(&path).map_err(|error| io_error(&path, error))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
