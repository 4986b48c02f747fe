"""The app's own errors. Gateways turn botocore errors into these; one decorator maps them to HTTP."""

from __future__ import annotations


class AppError(Exception):
    """An error the caller can act on; ``status`` is its HTTP status code."""

    status = 500
    code = "InternalError"
    retryable = False  # 4xx errors are final unless a subclass says otherwise

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # for the audit trail, not for the caller


class BadRequest(AppError):
    status, code = 400, "BadRequest"


class Unauthorized(AppError):
    status, code = 401, "Unauthorized"


class Forbidden(AppError):
    status, code = 403, "Forbidden"


class NotFound(AppError):
    status, code = 404, "NotFound"


class Conflict(AppError):
    status, code = 409, "Conflict"


class InProgress(Conflict):
    """Another change holds the user or the ticket: the same request later will go through."""

    retryable = True


class UpstreamError(AppError):
    """AWS refused or failed; safe to retry with the same ticket."""

    status, code = 502, "UpstreamError"


class ConfigurationError(AppError):
    status, code = 500, "ConfigurationError"
