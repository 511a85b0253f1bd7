//! The store's two error families: requests it refused ([`Rejection`], nothing changed) and
//! failures of the machinery underneath ([`StoreError`]).

use std::fmt;

use nexus_path::VfsPath;

/// A mutation the store refused because of the state it found. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("`{path}` does not exist")]
    NotFound { path: VfsPath },
    #[error("`{path}` already exists")]
    AlreadyExists { path: VfsPath },
    #[error("parent directory `{parent}` does not exist")]
    ParentNotFound { parent: VfsPath },
    #[error("`{path}` is not a directory")]
    NotADirectory { path: VfsPath },
    #[error("`{path}` is a directory")]
    IsADirectory { path: VfsPath },
    #[error("directory `{path}` is not empty")]
    DirectoryNotEmpty { path: VfsPath },
    #[error("precondition failed for `{path}`: {}", PreconditionState(current_etag.as_deref()))]
    PreconditionFailed {
        path: VfsPath,
        /// The entity tag the file has now (`None` when it does not exist).
        current_etag: Option<String>,
    },
    #[error("cannot move or copy `{from}` into itself (`{to}`)")]
    IntoItself { from: VfsPath, to: VfsPath },
    #[error("version {version} of `{path}` does not exist")]
    VersionNotFound { path: VfsPath, version: u64 },
    #[error("`{path}` would be longer than the path limit after this operation")]
    PathTooLong { path: VfsPath },
    #[error("`{path}` is not inside organization `{org}`")]
    WrongOrganization { path: VfsPath, org: String },
    #[error("the blob for `{path}` disappeared before it was committed; retry the write")]
    BlobMissing { path: VfsPath },
    #[error("authorization revision {attempted} does not follow the stored revision {stored}")]
    RevisionConflict { stored: u64, attempted: u64 },
    #[error("{what} already exists")]
    AccountExists { what: String },
    #[error("there is no {what}")]
    NoSuchAccount { what: String },
    #[error("the locker key of organization `{org}` {problem}")]
    LockerKey { org: String, problem: String },
    #[error("there is no notification {id}")]
    NoSuchNotification { id: u64 },
    #[error("the reminder `{path}` is not due at that time (fired or rescheduled already)")]
    ReminderMoved { path: VfsPath },
    #[error("the archive cannot be imported: {problem}")]
    InvalidImport { problem: String },
    #[error("the request holds text the metadata database cannot store: {problem}")]
    Unstorable { problem: String },
    #[error("relationship `{relationship}` cannot be stored: {problem}")]
    InvalidRelationship {
        relationship: String,
        problem: String,
    },
}

struct PreconditionState<'a>(Option<&'a str>);

impl fmt::Display for PreconditionState<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(etag) => write!(formatter, "its current etag is `{etag}`"),
            None => formatter.write_str("it does not exist"),
        }
    }
}

/// The store could not do its job (disk, database, corruption, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("metadata database error: {source}")]
    Database {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("blob storage error: {source}")]
    Blob {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "blob `{hash}` of organization `{org}` is corrupt: its content does not match its hash"
    )]
    Corrupt { org: String, hash: String },
    #[error("blob `{hash}` of organization `{org}` is missing")]
    MissingBlob { org: String, hash: String },
    #[error("data directory `{path}` is in use by another process")]
    Locked { path: String },
    #[error("i/o error on `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the store refuses writes after a failed commit; restart to recover: {message}")]
    Poisoned { message: String },
    #[error("the store is closed")]
    Closed,
    /// A service the store depends on (the metadata database, the object store) cannot be
    /// reached or refused for a while; nothing was changed by the failed operation, unless it
    /// was a commit whose outcome could not be learned.
    #[error("{what} is unavailable; retry shortly: {source}")]
    Unavailable {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("stored data is invalid: {message}")]
    InvalidData { message: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if transient(&error) {
            StoreError::Unavailable {
                what: "the metadata database",
                source: Box::new(error),
            }
        } else {
            StoreError::Database {
                source: Box::new(error),
            }
        }
    }
}

/// Whether a database error says the database cannot be reached or used for now (the
/// connection broke, the pool is exhausted, the server shuts down or is starting, a
/// transaction lost a serialization race) rather than that the request or the data is wrong.
fn transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            // 08: connection exception; 57P: operator intervention (shutdown, starting up);
            // 53300: too many connections; 40001 / 40P01: serialization failure, deadlock;
            // 57014: statement timeout or cancel; 55P03: lock timeout; 25P03: idle in a
            // transaction too long.
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(
                    code.as_ref(),
                    "53300" | "40001" | "40P01" | "57014" | "55P03" | "25P03"
                )
        }),
        _ => false,
    }
}

impl StoreError {
    /// Whether the failure is temporary (a service is unreachable): retrying later may
    /// succeed, and nothing about the stored data is in doubt.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

impl From<object_store::Error> for StoreError {
    fn from(error: object_store::Error) -> Self {
        StoreError::Blob {
            source: Box::new(error),
        }
    }
}

/// The failure of one store operation: refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Store(error.into())
    }
}
