//! Errors of the filesystem service and their stable codes.

use nexus_path::{InvalidOrgId, PathError, VfsPath};
use nexus_rebac::{CheckError, SchemaError, WriteError};
use nexus_store::{Rejection, StoreError};

/// Stable, machine-readable error codes. Interfaces map them to what they speak (HTTP
/// statuses, CLI exit codes) in exactly one place each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The path is malformed.
    InvalidPath,
    /// An argument other than a path is malformed or not allowed.
    InvalidInput,
    /// The object does not exist (or the caller may not know that it does).
    NotFound,
    /// A parent directory of the target does not exist.
    ParentNotFound,
    /// The target already exists.
    AlreadyExists,
    /// A directory was expected.
    NotADirectory,
    /// A file was expected.
    IsADirectory,
    /// A directory still has entries.
    DirectoryNotEmpty,
    /// The change would break a rule of the current state (e.g. remove an organization's
    /// last admin).
    Conflict,
    /// An `If-Match` / `If-None-Match` condition does not hold.
    PreconditionFailed,
    /// A byte range lies outside the content.
    RangeNotSatisfiable,
    /// The caller may not do this.
    PermissionDenied,
    /// No valid credentials were presented (interfaces with authentication only).
    Unauthenticated,
    /// A permission could not be evaluated (nesting too deep, a cycle through an exclusion,
    /// a caveat error); access is refused.
    EvaluationFailed,
    /// The store cannot serve now (locked by another process, closed, failed).
    Unavailable,
    /// Stored data failed an integrity check.
    DataCorrupt,
    /// Anything else; details are in logs.
    Internal,
    /// The request body is larger than the server accepts (interfaces over HTTP only).
    PayloadTooLarge,
    /// Too many refused requests from one client; retry later (HTTP only).
    TooManyRequests,
    /// The request took longer than the server's deadline (HTTP only).
    Timeout,
    /// The route does not accept this method (HTTP only).
    MethodNotAllowed,
}

impl ErrorCode {
    /// The code as it appears in error bodies and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ParentNotFound => "parent_not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NotADirectory => "not_a_directory",
            ErrorCode::IsADirectory => "is_a_directory",
            ErrorCode::DirectoryNotEmpty => "directory_not_empty",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::EvaluationFailed => "evaluation_failed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DataCorrupt => "data_corrupt",
            ErrorCode::Internal => "internal",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Timeout => "timeout",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl ErrorCode {
    /// Every code, for parsing.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::InvalidPath,
        ErrorCode::InvalidInput,
        ErrorCode::NotFound,
        ErrorCode::ParentNotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::NotADirectory,
        ErrorCode::IsADirectory,
        ErrorCode::DirectoryNotEmpty,
        ErrorCode::Conflict,
        ErrorCode::PreconditionFailed,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::PermissionDenied,
        ErrorCode::Unauthenticated,
        ErrorCode::EvaluationFailed,
        ErrorCode::Unavailable,
        ErrorCode::DataCorrupt,
        ErrorCode::Internal,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyRequests,
        ErrorCode::Timeout,
        ErrorCode::MethodNotAllowed,
    ];

    /// The code named `text` (as produced by [`ErrorCode::as_str`]).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

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
    #[error(
        "cross-organization relationship refused: `{subject}` is not a member of organization `{org}`"
    )]
    CrossTenant { subject: String, org: String },
    /// A principal named in a way the caller may not use (a stable id of someone the caller
    /// cannot know); said alike whether or not the principal exists.
    #[error("{message}")]
    PrincipalRefused { message: String },
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

impl FsError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FsError::InvalidInput {
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
            FsError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            FsError::PermissionDenied { .. } => ErrorCode::PermissionDenied,
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
                Rejection::NotFound { .. } | Rejection::VersionNotFound { .. } => {
                    ErrorCode::NotFound
                }
                Rejection::WrongOrganization { .. } => ErrorCode::NotFound,
                Rejection::ParentNotFound { .. } => ErrorCode::ParentNotFound,
                Rejection::AlreadyExists { .. } | Rejection::AccountExists { .. } => {
                    ErrorCode::AlreadyExists
                }
                Rejection::NotADirectory { .. } => ErrorCode::NotADirectory,
                Rejection::IsADirectory { .. } => ErrorCode::IsADirectory,
                Rejection::DirectoryNotEmpty { .. } => ErrorCode::DirectoryNotEmpty,
                Rejection::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
                Rejection::IntoItself { .. }
                | Rejection::PathTooLong { .. }
                | Rejection::InvalidRelationship { .. } => ErrorCode::InvalidInput,
                Rejection::BlobMissing { .. } | Rejection::RevisionConflict { .. } => {
                    ErrorCode::Unavailable
                }
            },
            FsError::Store(error) => match error {
                StoreError::Locked { .. } | StoreError::Closed | StoreError::Poisoned { .. } => {
                    ErrorCode::Unavailable
                }
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

#[cfg(test)]
mod code_tests {
    use super::ErrorCode;

    #[test]
    fn every_code_parses_back_from_its_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::parse("Not_Found"), None);
    }
}
