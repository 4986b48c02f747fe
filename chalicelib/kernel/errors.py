"""The app's own errors. Gateways turn botocore errors into these; one decorator maps them to HTTP."""

from __future__ import annotations


class AppError(Exception):
    """An error the caller can act on; ``status`` is its HTTP status code.

    ``retryable`` says whether the same request later may succeed: the queue worker retries
    exactly those (until the dead-letter queue) and reports every other one as final.
    """

    status = 500
    code = "InternalError"
    retryable = True  # an unexpected failure may be passing

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # for the audit trail, not for the caller


class BadRequest(AppError):
    status, code, retryable = 400, "BadRequest", False


class Unauthorized(AppError):
    status, code, retryable = 401, "Unauthorized", False


class Forbidden(AppError):
    status, code, retryable = 403, "Forbidden", False


class NotFound(AppError):
    status, code, retryable = 404, "NotFound", False


class Conflict(AppError):
    status, code, retryable = 409, "Conflict", False


def unavailable(username: str) -> Conflict:
    """The one answer for a name that cannot be onboarded, whoever holds it: it confirms
    nothing about which users exist (protected names are refused with 403 before this)."""
    return Conflict(
        f"{username} cannot be onboarded: the name is not available (IAM user names are "
        "unique whatever their case); choose another name, or change an existing managed "
        "user with the other operations"
    )


class InProgress(Conflict):
    """Another change holds the user or the ticket: the same request later will go through."""

    retryable = True


class UpstreamError(AppError):
    """AWS failed or could not be reached; safe to retry with the same ticket."""

    status, code, retryable = 502, "UpstreamError", True


class AccessDenied(AppError):
    """AWS refused the app a permission its policy lacks: retrying cannot help, the policy must
    change. The message names the action (and resource) that was refused."""

    status, code, retryable = 502, "AccessDenied", False


class ConfigurationError(AppError):
    status, code, retryable = 500, "ConfigurationError", False


class Stale(Exception):  # noqa: N818 (a state, as the stores name it, not a failure)
    """What was read changed before a conditional write (another click, approver, reviewer or
    schedule got there first): read it again and decide on what it is now."""
