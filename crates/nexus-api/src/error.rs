//! Error codes, their one HTTP status map, and the error envelope.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable, machine-readable error codes. The HTTP status of each is [`ErrorCode::status`]
/// (the only such map); the CLI's exit codes are derived from the code as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
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
    /// The knowledge layer's scoping matrix does not allow this scope or form of sharing in
    /// this environment.
    ScopeNotAllowed,
    /// Locker items (secrets) cannot be stored: no locker key is configured.
    LockerUnavailable,
}

impl ErrorCode {
    /// Every code, for parsing.
    pub const ALL: [ErrorCode; 23] = [
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
        ErrorCode::ScopeNotAllowed,
        ErrorCode::LockerUnavailable,
    ];

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
            ErrorCode::ScopeNotAllowed => "scope_not_allowed",
            ErrorCode::LockerUnavailable => "locker_unavailable",
        }
    }

    /// The code named `text` (as produced by [`ErrorCode::as_str`]).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// The HTTP status answering this code. This is the only map from codes to statuses.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidPath | ErrorCode::InvalidInput => 400,
            ErrorCode::NotFound | ErrorCode::ParentNotFound => 404,
            ErrorCode::AlreadyExists
            | ErrorCode::NotADirectory
            | ErrorCode::IsADirectory
            | ErrorCode::DirectoryNotEmpty
            | ErrorCode::Conflict => 409,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::RangeNotSatisfiable => 416,
            // A permission that cannot be evaluated is refused, like one that is not held.
            ErrorCode::PermissionDenied | ErrorCode::EvaluationFailed => 403,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::LockerUnavailable => 503,
            ErrorCode::ScopeNotAllowed => 422,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::DataCorrupt | ErrorCode::Internal => 500,
        }
    }

    /// The code a client assumes for an error answer without a readable body.
    pub fn of_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::InvalidInput,
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::PermissionDenied,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            409 => ErrorCode::Conflict,
            412 => ErrorCode::PreconditionFailed,
            413 => ErrorCode::PayloadTooLarge,
            416 => ErrorCode::RangeNotSatisfiable,
            422 => ErrorCode::ScopeNotAllowed,
            429 => ErrorCode::TooManyRequests,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Every error answer: `{"error": {"code", "message", "request_id"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people: what failed and, where it helps, what to do.
    pub message: String,
    /// The server's id of the request, to find it in its logs (also `X-Request-Id`).
    #[serde(default)]
    pub request_id: String,
    /// What to try, when there is an obvious next step (also at the end of `message`, in
    /// parentheses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(ErrorCode::parse("Not_Found"), None);
    }

    #[test]
    fn every_status_is_an_error_status_and_maps_back_to_a_code_with_it() {
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!((400..600).contains(&status), "{code}: {status}");
            assert_eq!(ErrorCode::of_status(status).status(), status, "{code}");
        }
    }
}
