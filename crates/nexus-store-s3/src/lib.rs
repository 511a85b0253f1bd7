//! [`BlobStore`] on S3-compatible object storage: the content of the scale-out tier.
//!
//! A blob is the object `<prefix>/orgs/<org>/<xx>/<hash>` (the same layout as the embedded
//! tier's directory, under the configured prefix): each organization has a prefix of its
//! own. Content is written create-only (`If-None-Match: *`), in one request up to
//! [`MULTIPART_THRESHOLD`] and as a multipart upload beyond it; either way an object appears
//! whole or not at all, so a reader never sees a half-written file. Requests are retried
//! with exponential backoff for a bounded time; after that the operation fails as
//! [`StoreError::Unavailable`] (the API answers `503` with `Retry-After`).
//!
//! Deletion is decided in the metadata database (see `nexus_store::Store`): this store only
//! carries it out.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use nexus_path::OrgId;
use nexus_store::{BlobStore, ContentHash, StoreError, StoredBlob, Timestamp};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

/// Content larger than this is uploaded in parts.
pub const MULTIPART_THRESHOLD: usize = 16 << 20;
/// The size of each part of a multipart upload.
const PART_SIZE: usize = 8 << 20;
/// Parts uploaded at once.
const PARALLEL_PARTS: usize = 4;

/// Where the blobs live and how patiently to reach them.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// `s3://bucket[/prefix]`.
    pub url: String,
    /// How long one operation keeps retrying transient failures before reporting the store
    /// unavailable.
    pub retry_timeout: Duration,
    /// Most retries of one request.
    pub max_retries: usize,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one request may take.
    pub request_timeout: Duration,
}

impl S3Options {
    /// Options for `url` with the documented defaults: 10 s of retries (at most 5), 2 s to
    /// connect, 60 s per request.
    pub fn new(url: impl Into<String>) -> S3Options {
        S3Options {
            url: url.into(),
            retry_timeout: Duration::from_secs(10),
            max_retries: 5,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_mins(1),
        }
    }

    /// The bucket and the prefix (without slashes at either end) of the URL.
    fn bucket_and_prefix(&self) -> Result<(String, String), StoreError> {
        let rest = self.url.strip_prefix("s3://").ok_or_else(|| {
            invalid(format!(
                "the blob store URL must look like s3://bucket/prefix, not `{}`",
                self.url.chars().take(60).collect::<String>()
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("the blob store URL names no bucket".to_owned()));
        }
        Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::InvalidData { message }
}

/// Blobs in an S3 bucket, under a prefix.
#[derive(Debug)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    /// `<prefix>/orgs` (or `orgs` without a prefix).
    root: ObjectPath,
}

impl S3BlobStore {
    /// Connects to the bucket of `options.url`. Credentials, region and endpoint come from
    /// the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`...), as for every S3 client.
    pub fn connect(options: &S3Options) -> Result<S3BlobStore, StoreError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        Self::build(options, endpoint.as_deref(), false)
    }

    /// Connects as [`S3BlobStore::connect`] does, to the endpoint `endpoint` (an S3-compatible
    /// service) whatever the environment says, with the environment's credentials or, when
    /// it names none, anonymous requests (for a local stand-in).
    pub fn connect_to(options: &S3Options, endpoint: &str) -> Result<S3BlobStore, StoreError> {
        let anonymous = std::env::var_os("AWS_ACCESS_KEY_ID").is_none();
        Self::build(options, Some(endpoint), anonymous)
    }

    fn build(
        options: &S3Options,
        endpoint: Option<&str>,
        anonymous: bool,
    ) -> Result<S3BlobStore, StoreError> {
        install_tls_provider();
        let (bucket, prefix) = options.bucket_and_prefix()?;
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: options.max_retries,
            retry_timeout: options.retry_timeout,
        };
        let client = ClientOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_timeout(options.request_timeout);
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .with_client_options(client);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if anonymous {
            builder = builder.with_skip_signature(true);
        }
        let store = builder.build().map_err(|error| StoreError::Blob {
            source: Box::new(error),
        })?;
        let root = if prefix.is_empty() {
            ObjectPath::from("orgs")
        } else {
            ObjectPath::from(format!("{prefix}/orgs"))
        };
        Ok(S3BlobStore {
            store: Arc::new(store),
            root,
        })
    }

    /// A store over any `object_store` implementation (tests: an in-memory store).
    pub fn with_store(store: Arc<dyn ObjectStore>, prefix: &str) -> S3BlobStore {
        let prefix = prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            ObjectPath::from("orgs")
        } else {
            ObjectPath::from(format!("{prefix}/orgs"))
        };
        S3BlobStore { store, root }
    }

    fn location(&self, org: &OrgId, hash: &ContentHash) -> ObjectPath {
        let hex = hash.to_hex();
        let fanout = hex.get(..2).unwrap_or("00");
        self.root
            .clone()
            .join(org.as_str())
            .join(fanout)
            .join(hex.as_str())
    }

    fn parse_location(&self, location: &ObjectPath) -> Option<(OrgId, ContentHash)> {
        let mut parts = location.prefix_match(&self.root)?;
        let (Some(org), Some(_fanout), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some((
            OrgId::parse(org.as_ref()).ok()?,
            ContentHash::from_hex(name.as_ref())?,
        ))
    }

    async fn put_in_parts(&self, location: &ObjectPath, content: Bytes) -> Result<(), StoreError> {
        // Multipart uploads are not conditional: look first (content-addressed, so an
        // upload racing another of the same blob writes the same bytes).
        if self.exists_at(location).await? {
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(unavailable)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut offset = 0;
        while offset < content.len() {
            writer
                .wait_for_capacity(PARALLEL_PARTS)
                .await
                .map_err(unavailable)?;
            let end = (offset + PART_SIZE).min(content.len());
            writer.put(content.slice(offset..end));
            offset = end;
        }
        // `finish` aborts the upload when a part failed: nothing becomes visible.
        writer.finish().await.map_err(unavailable)?;
        Ok(())
    }

    async fn exists_at(&self, location: &ObjectPath) -> Result<bool, StoreError> {
        match self.store.head(location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(unavailable(error)),
        }
    }
}

/// An object store failure: the store is unavailable (after the client's retries), unless
/// it refused the credentials (a configuration error, not worth retrying).
fn unavailable(error: object_store::Error) -> StoreError {
    match error {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => StoreError::Blob {
            source: Box::new(error),
        },
        other => StoreError::Unavailable {
            what: "the object store",
            source: Box::new(other),
        },
    }
}

fn missing_or(error: object_store::Error, org: &OrgId, hash: &ContentHash) -> StoreError {
    match error {
        object_store::Error::NotFound { .. } => StoreError::MissingBlob {
            org: org.to_string(),
            hash: hash.to_hex(),
        },
        other => unavailable(other),
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, org: &OrgId, hash: &ContentHash, content: Bytes) -> Result<(), StoreError> {
        let location = self.location(org, hash);
        if content.len() > MULTIPART_THRESHOLD {
            return self.put_in_parts(&location, content).await;
        }
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&location, PutPayload::from_bytes(content), options)
            .await
        {
            // Content-addressed: an existing object holds these bytes (S3 writes are atomic).
            Ok(_)
            | Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn get(&self, org: &OrgId, hash: &ContentHash) -> Result<Bytes, StoreError> {
        let location = self.location(org, hash);
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
            .get_range(&self.location(org, hash), range)
            .await
            .map_err(|error| missing_or(error, org, hash))
    }

    async fn exists(&self, org: &OrgId, hash: &ContentHash) -> Result<bool, StoreError> {
        self.exists_at(&self.location(org, hash)).await
    }

    async fn delete(&self, org: &OrgId, hash: &ContentHash) -> Result<(), StoreError> {
        match self.store.delete(&self.location(org, hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let objects: Vec<_> = self
            .store
            .list(Some(&self.root))
            .try_collect()
            .await
            .map_err(unavailable)?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                let (org, hash) = self.parse_location(&object.location)?;
                Some(StoredBlob {
                    org,
                    hash,
                    size: object.size,
                    modified: Timestamp(object.last_modified.timestamp_micros()),
                })
            })
            .collect())
    }

    /// Interrupted multipart uploads are invisible and are not listed by `object_store`:
    /// the bucket's lifecycle rule `AbortIncompleteMultipartUpload` removes them (see
    /// docs/scale-out.md). Nothing to do here.
    async fn sweep_interrupted(&self, _before: SystemTime) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// HTTPS through rustls with ring: installs the process's default TLS provider (another
/// part of the process may have installed the same one already).
fn install_tls_provider() {
    #[expect(
        deprecated,
        reason = "ring's provider lacks post-quantum key exchange; the alternative, aws-lc-rs, needs a C and assembler build"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}
