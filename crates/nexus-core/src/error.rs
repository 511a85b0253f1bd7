//! Errors of the filesystem service and their stable codes.

use nexus_path::{InvalidOrgId, PathError, VfsPath};
use nexus_rebac::{CheckError, SchemaError, WriteError};
use nexus_store::{Rejection, StoreError};

pub use nexus_api::ErrorCode;

/// Why a filesystem operation failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error(transparent)]
    InvalidPath(#[from] PathError),
    #[error("invalid path: {0}")]
    InvalidOrganization(#[from] InvalidOrgId),
    #[error("{message}")]
    InvalidInput { message: String },
    #[error("`{path}` is outside every organization: files live under `/orgs/<org>/`")]
    OutsideOrganization { path: VfsPath },
    #[error("`{path}` is a fixed directory and cannot be changed")]
    FixedDirectory { path: VfsPath },
    #[error("`{path}` does not exist")]
    WrongOrganization { path: VfsPath },
    #[error("{message}")]
    Missing { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("byte range {range} is outside `{path}` ({size} bytes)")]
    RangeNotSatisfiable {
        path: VfsPath,
        range: String,
        size: u64,
    },
    #[error("permission denied: `{principal}` lacks `{permission}` on `{path}`")]
    PermissionDenied {
        principal: String,
        permission: &'static str,
        path: VfsPath,
    },
    /// Only the system administrator (the server's operator) may do this.
    #[error("{what} needs a system administrator's credentials")]
    SystemOnly { what: &'static str },
    #[error(
        "cross-organization relationship refused: `{subject}` is not a member of organization `{org}`"
    )]
    CrossTenant { subject: String, org: String },
    /// A principal named in a way the caller may not use (a stable id of someone the caller
    /// cannot know); said alike whether or not the principal exists.
    #[error("{message}")]
    PrincipalRefused { message: String },
    /// The knowledge layer's scoping matrix does not allow this.
    #[error("{message}")]
    ScopeNotAllowed { message: String },
    /// Locker items need the locker key, which is not configured.
    #[error(
        "lockers are not available: secrets are stored only encrypted, and no locker key is configured"
    )]
    LockerUnavailable,
    /// Something needed is busy or down for now; retrying later may work.
    #[error("{message}")]
    Unavailable { message: String },
    /// A sealed secret that does not open with its organization's data key: sealed for
    /// another item, or damaged.
    #[error(
        "the secret of `{key}` does not open: it was sealed for another item or organization, or it is damaged"
    )]
    SecretUnreadable { key: String },
    /// A broken internal invariant (a bug): the operation changed nothing.
    #[error("internal error: {message}")]
    Internal { message: String },
    #[error(transparent)]
    Relationship(#[from] WriteError),
    #[error(transparent)]
    Evaluation(#[from] CheckError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<nexus_store::Error> for FsError {
    fn from(error: nexus_store::Error) -> Self {
        match error {
            nexus_store::Error::Rejected(rejection) => FsError::Rejected(rejection),
            nexus_store::Error::Store(error) => FsError::Store(error),
        }
    }
}

impl From<nexus_knowledge::InvalidKey> for FsError {
    fn from(error: nexus_knowledge::InvalidKey) -> Self {
        FsError::invalid(error.to_string())
    }
}

impl FsError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FsError::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        FsError::Internal {
            message: message.into(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            FsError::InvalidPath(_) | FsError::InvalidOrganization(_) => ErrorCode::InvalidPath,
            FsError::InvalidInput { .. }
            | FsError::OutsideOrganization { .. }
            | FsError::FixedDirectory { .. }
            | FsError::CrossTenant { .. }
            | FsError::PrincipalRefused { .. }
            | FsError::Schema(_) => ErrorCode::InvalidInput,
            // A caller acting for one organization learns nothing about another's paths.
            FsError::WrongOrganization { .. } | FsError::Missing { .. } => ErrorCode::NotFound,
            FsError::Conflict { .. } => ErrorCode::Conflict,
            FsError::Internal { .. } => ErrorCode::Internal,
            FsError::ScopeNotAllowed { .. } => ErrorCode::ScopeNotAllowed,
            FsError::LockerUnavailable => ErrorCode::LockerUnavailable,
            FsError::Unavailable { .. } => ErrorCode::Unavailable,
            FsError::SecretUnreadable { .. } => ErrorCode::DataCorrupt,
            FsError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            FsError::PermissionDenied { .. } | FsError::SystemOnly { .. } => {
                ErrorCode::PermissionDenied
            }
            FsError::Relationship(error) => match error {
                WriteError::Invalid { .. } | WriteError::Duplicate(_) => ErrorCode::InvalidInput,
                WriteError::AlreadyExists(_) => ErrorCode::AlreadyExists,
                WriteError::PreconditionFailed(_) => ErrorCode::PreconditionFailed,
                WriteError::StalePlan => ErrorCode::Unavailable,
            },
            FsError::Evaluation(error) => match error {
                CheckError::UnknownType(_)
                | CheckError::UnknownRelation { .. }
                | CheckError::InvalidId(_)
                | CheckError::WildcardSubject(_) => ErrorCode::InvalidInput,
                CheckError::DepthExceeded { .. }
                | CheckError::CycleThroughExclusion { .. }
                | CheckError::Caveat(_) => ErrorCode::EvaluationFailed,
            },
            FsError::Rejected(rejection) => match rejection {
                Rejection::NotFound { .. }
                | Rejection::VersionNotFound { .. }
                | Rejection::NoSuchAccount { .. }
                | Rejection::NoSuchNotification { .. }
                | Rejection::WrongOrganization { .. } => ErrorCode::NotFound,
                Rejection::ParentNotFound { .. } => ErrorCode::ParentNotFound,
                Rejection::AlreadyExists { .. } | Rejection::AccountExists { .. } => {
                    ErrorCode::AlreadyExists
                }
                Rejection::NotADirectory { .. } => ErrorCode::NotADirectory,
                Rejection::IsADirectory { .. } => ErrorCode::IsADirectory,
                Rejection::DirectoryNotEmpty { .. } => ErrorCode::DirectoryNotEmpty,
                Rejection::PreconditionFailed { .. } | Rejection::ReminderMoved { .. } => {
                    ErrorCode::PreconditionFailed
                }
                Rejection::IntoItself { .. }
                | Rejection::PathTooLong { .. }
                | Rejection::InvalidRelationship { .. }
                | Rejection::Unstorable { .. }
                | Rejection::InvalidImport { .. } => ErrorCode::InvalidInput,
                Rejection::BlobMissing { .. } | Rejection::RevisionConflict { .. } => {
                    ErrorCode::Unavailable
                }
                Rejection::LockerKey { .. } => ErrorCode::Conflict,
            },
            FsError::Store(error) => match error {
                StoreError::Locked { .. }
                | StoreError::Closed
                | StoreError::Poisoned { .. }
                | StoreError::Unavailable { .. } => ErrorCode::Unavailable,
                StoreError::Corrupt { .. } | StoreError::MissingBlob { .. } => {
                    ErrorCode::DataCorrupt
                }
                StoreError::Database { .. }
                | StoreError::Blob { .. }
                | StoreError::Io { .. }
                | StoreError::InvalidData { .. } => ErrorCode::Internal,
            },
        }
    }

    /// Whether this refusal could be part of probing for principals of other organizations
    /// (interfaces rate-limit repeated ones like failed authentication).
    pub fn is_probe(&self) -> bool {
        matches!(
            self,
            FsError::CrossTenant { .. } | FsError::PrincipalRefused { .. }
        )
    }

    /// A suggestion for the user, when there is an obvious next step.
    pub fn hint(&self) -> Option<String> {
        match self {
            FsError::Rejected(Rejection::ParentNotFound { parent }) => Some(format!(
                "create it first (`mkdir -p {parent}`) or pass the create-parents option"
            )),
            FsError::Rejected(Rejection::DirectoryNotEmpty { .. }) => {
                Some("remove it recursively to delete everything beneath it".to_owned())
            }
            FsError::Rejected(Rejection::PreconditionFailed {
                current_etag: Some(_),
                ..
            }) => Some("read the file again and retry with its current etag".to_owned()),
            FsError::Store(StoreError::Locked { .. }) => Some(
                "stop the other nexus process using this data directory, or talk to it through its server"
                    .to_owned(),
            ),
            FsError::OutsideOrganization { .. } => {
                Some("create an organization root first, e.g. `mkdir /orgs/acme`".to_owned())
            }
            _ => None,
        }
    }

    /// The current entity tag of the file, for a failed precondition.
    pub fn current_etag(&self) -> Option<&str> {
        match self {
            FsError::Rejected(Rejection::PreconditionFailed { current_etag, .. }) => {
                current_etag.as_deref()
            }
            _ => None,
        }
    }
}

/// Why a file could not be read or written, for people: the system's message without its
/// `(os error N)` suffix (`No such file or directory`).
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.split_once(" (os error ") {
        Some((reason, _)) => reason.to_owned(),
        None => text,
    }
}
