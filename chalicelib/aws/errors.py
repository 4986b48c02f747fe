"""The one table from AWS's error codes to the app's errors, and the boundary that applies it.

Every adapter in ``chalicelib.aws`` makes its calls inside ``aws_errors(what)``; nothing outside
this package sees a botocore exception. Codes not in the table are ``UpstreamError``: AWS failed
or could not be reached, and the same ticket may be retried.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from chalicelib.kernel.errors import AccessDenied, AppError, Conflict, NotFound, UpstreamError


class NotReady(UpstreamError):
    """IAM is still making what was asked for (the credential report): ask again shortly."""


TABLE: dict[str, type[AppError]] = {
    **dict.fromkeys(("NoSuchEntity", "NoSuchEntityException"), NotFound),
    **dict.fromkeys(("EntityAlreadyExists", "DeleteConflict", "ConcurrentModification"), Conflict),
    **dict.fromkeys(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"), AccessDenied
    ),
    **dict.fromkeys(("ReportInProgress", "ReportNotPresent", "ReportExpired"), NotReady),
}
# AWS's wording: "User: <arn> is not authorized to perform: iam:GetUser on resource: <arn> ..."
_REFUSED = re.compile(
    r"not authorized to perform:? (?P<action>[\w:*-]+)"
    r"(?: on resource:? (?P<resource>\S+))?"
)


def _refused(error: Any, message: str) -> str:
    """The action (and resource) AWS refused, from its message or else the operation called."""
    found = _REFUSED.search(message or "")
    if not found:
        return f"the call {error.operation_name}"
    resource = found.group("resource")
    return found.group("action") + (f" on {resource.rstrip('.,;')}" if resource else "")


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Translate botocore's errors raised while doing ``what`` into the app's errors."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        kind = TABLE.get(code, UpstreamError)
        if kind is NotFound:
            raise NotFound(f"{what}: {message or 'not found'}") from error
        if kind is Conflict:
            raise Conflict(f"{what}: {message or code}") from error
        if kind is AccessDenied:
            raise AccessDenied(
                f"{what}: AWS denied this service {_refused(error, message)}; "
                "its role lacks that permission (the stage's policy, "
                ".chalice/policy-<stage>.json), so a retry will not help"
            ) from error
        raise kind(f"{what} failed in AWS ({code}); retry with the same ticket") from error
    except (BotoCoreError, ResponseParserError) as error:  # the parser's is not a BotoCoreError
        raise UpstreamError(f"{what} failed to reach AWS; retry with the same ticket") from error


def tolerant(call: Any, what: str, **params: Any) -> bool:
    """Run a removal; False if the thing was already gone (a retry after a failure halfway)."""
    try:
        with aws_errors(what):
            call(**params)
    except NotFound:
        return False
    return True
