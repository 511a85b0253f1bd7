//! Which backends hold an installation's data, chosen by configuration, and how they are
//! opened: the one place that knows every backend crate.

use std::path::PathBuf;
use std::sync::Arc;

use nexus_store::{BlobStore, LocalBlobStore, MetadataStore, Store, StoreError, StoreOptions};
use nexus_store_postgres::{PgMetadataStore, PgOptions};
use nexus_store_s3::{S3BlobStore, S3Options};

/// Where a store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// The embedded tier: SQLite metadata (`meta.db`) and local content-addressed blobs
    /// (`blobs/`) in one data directory, used by one process at a time.
    Embedded { dir: PathBuf },
    /// The scale-out tier: metadata in PostgreSQL, content in S3-compatible storage, shared
    /// by every node.
    ScaleOut(ScaleOut),
}

/// The backends of the scale-out tier.
#[derive(Clone, PartialEq, Eq)]
pub struct ScaleOut {
    /// `postgres://...` (may hold a password: never printed).
    pub metadata: String,
    /// `s3://bucket/prefix`, or `None` for content in `dir/blobs` (one node, or a
    /// directory every node shares).
    pub blobs: Option<String>,
    /// This node's own directory: the search index and, without `blobs`, the content.
    pub dir: PathBuf,
    /// Most connections to the database this node opens.
    pub max_connections: u32,
    /// Bring the database's schema up to date when opening.
    pub migrate: bool,
    /// The PostgreSQL schema (namespace) of this installation; `None`: the default.
    pub schema: Option<String>,
}

impl std::fmt::Debug for ScaleOut {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ScaleOut")
            .field("metadata", &"<redacted>")
            .field("blobs", &self.blobs)
            .field("dir", &self.dir)
            .field("max_connections", &self.max_connections)
            .field("migrate", &self.migrate)
            .field("schema", &self.schema)
            .finish()
    }
}

impl ScaleOut {
    fn pg_options(&self) -> PgOptions {
        let mut options = PgOptions::new(self.metadata.clone());
        options.max_connections = self.max_connections;
        options.migrate = self.migrate;
        options.schema.clone_from(&self.schema);
        options
    }
}

impl Storage {
    /// The directory of this process's own files (the search index...).
    pub fn local_dir(&self) -> &std::path::Path {
        match self {
            Storage::Embedded { dir } => dir,
            Storage::ScaleOut(scale) => &scale.dir,
        }
    }

    /// Opens the store.
    pub async fn open(&self, options: StoreOptions) -> Result<Store, StoreError> {
        match self {
            Storage::Embedded { dir } => Store::open(dir, options).await,
            Storage::ScaleOut(scale) => {
                let meta: Arc<dyn MetadataStore> =
                    Arc::new(PgMetadataStore::open(&scale.pg_options()).await?);
                let blobs: Arc<dyn BlobStore> = match &scale.blobs {
                    Some(url) => Arc::new(S3BlobStore::connect(&S3Options::new(url.clone()))?),
                    None => Arc::new(LocalBlobStore::open(&scale.dir.join("blobs"))?),
                };
                Ok(Store::with_backends(meta, blobs, options))
            }
        }
    }

    /// Brings the metadata database's schema up to this build's; returns the versions it
    /// went from and to. (The embedded tier migrates whenever it opens.)
    pub async fn migrate(&self) -> Result<(i64, i64), StoreError> {
        match self {
            Storage::Embedded { dir } => {
                let store = Store::open(dir, StoreOptions::default()).await?;
                store.close().await;
                Ok((nexus_store::SCHEMA_VERSION, nexus_store::SCHEMA_VERSION))
            }
            Storage::ScaleOut(scale) => PgMetadataStore::migrate(&scale.pg_options()).await,
        }
    }

    /// Deletes the scale-out tier's PostgreSQL schema with everything in it (tests'
    /// clean-up; the embedded tier's directory is the caller's to remove).
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        match self {
            Storage::Embedded { .. } => Ok(()),
            Storage::ScaleOut(scale) => PgMetadataStore::drop_schema(&scale.pg_options()).await,
        }
    }
}
