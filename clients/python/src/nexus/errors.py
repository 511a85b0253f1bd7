"""Errors raised by Nexus clients, mapped from the server's error codes."""

from __future__ import annotations

from typing import Any


class NexusError(Exception):
    """Any error reported by Nexus (or raised because it could not be reached)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "internal",
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class NotFoundError(NexusError, LookupError):
    """The object does not exist, or the caller may not know that it does."""


class PermissionDeniedError(NexusError, PermissionError):
    """The caller may not do this."""


class ConflictError(NexusError):
    """The current state does not allow this: a failed `if_match` / `if_none_match`, or the
    target already exists. `etag` is the file's current entity tag, when known."""

    def __init__(self, message: str, *, etag: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.etag = etag


class InvalidInputError(NexusError, ValueError):
    """The request is malformed or not allowed (including cross-tenant relationships), so it
    is also a `ValueError`."""


class ScopeNotAllowedError(InvalidInputError):
    """The knowledge layer's scoping matrix does not allow this scope or form of sharing in
    the environment (`scope_not_allowed`, HTTP 422)."""


class AuthenticationError(NexusError):
    """Missing, invalid or revoked credentials."""


class UnavailableError(NexusError):
    """The server cannot be reached or cannot serve now."""


_BY_CODE: dict[str, type[NexusError]] = {
    "not_found": NotFoundError,
    "parent_not_found": NotFoundError,
    "permission_denied": PermissionDeniedError,
    "evaluation_failed": PermissionDeniedError,
    "already_exists": ConflictError,
    "precondition_failed": ConflictError,
    "not_a_directory": ConflictError,
    "is_a_directory": ConflictError,
    "directory_not_empty": ConflictError,
    "conflict": ConflictError,
    "invalid_input": InvalidInputError,
    "invalid_path": InvalidInputError,
    "range_not_satisfiable": InvalidInputError,
    "payload_too_large": InvalidInputError,
    "method_not_allowed": InvalidInputError,
    "scope_not_allowed": ScopeNotAllowedError,
    "unauthenticated": AuthenticationError,
    "too_many_requests": AuthenticationError,
    "unavailable": UnavailableError,
    "timeout": UnavailableError,
    "locker_unavailable": UnavailableError,
    "internal": NexusError,
    "data_corrupt": NexusError,
}

# For answers without a readable error body: the class of the codes the server answers with
# that status (`x-status` of `ErrorCode` in the OpenAPI document; a test holds them equal).
_BY_STATUS: dict[int, type[NexusError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,
    413: InvalidInputError,
    422: ScopeNotAllowedError,
    503: UnavailableError,
}


def error_from_response(
    status: int, body: Any, headers: Any, fallback: str = ""
) -> NexusError:
    """The exception for an error answer (`{"error": {"code", "message", "request_id"}}`)."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    request_id = error.get("request_id") if isinstance(error, dict) else None
    kind = _BY_CODE.get(code or "") or _BY_STATUS.get(status, NexusError)
    text = message or fallback or f"the server answered {status}"
    kwargs: dict[str, Any] = {
        "code": code or "internal",
        "status": status,
        "request_id": request_id,
    }
    if kind is ConflictError:
        etag = headers.get("etag") if headers is not None else None
        return ConflictError(text, etag=etag.strip('"') if etag else None, **kwargs)
    return kind(text, **kwargs)
