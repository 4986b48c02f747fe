"""Answering queued Slack work on its ``response_url``, shared by every capability's queued work:
the check that a queued change comes from a listed member (``authorize``), the answer of what a
capability produces (``answer``) and what the requester reads when it fails (``failed``: told on
the first failure and the last, retried by SQS in between).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.edges.slack import errors, response_url
from chalicelib.kernel.errors import AppError, Forbidden, InProgress

logger = logging.getLogger(__name__)


def authorize(services: Any, work: dict) -> None:
    """The edge checked the member, but anything allowed to send to the queue could queue a
    change the app then makes with its own rights: check again, on what the message carries.
    A refusal is audited, then a rejection (the requester is told; SQS does not retry it)."""
    slack_user, request = work.get("slack_user"), work.get("request")
    claimed = request.get("requested_by") if isinstance(request, dict) else None
    if not (isinstance(slack_user, str) and slack_user in services.settings.slack_allowed_users):
        why = "only the people listed in this service's configuration may change access"
    elif claimed != f"slack:{slack_user}":
        why = "the request names another requester than the Slack user who sent it"
    else:
        return
    # The requester is the member the message names, never an unchecked claim (that is detail).
    sender = f"slack:{slack_user}" if isinstance(slack_user, str) and slack_user else "(no member)"
    logger.warning(
        "refused a queued %s of %s from %s: %s", work["action"], work["username"], sender, why
    )
    ticket = request.get("ticket") if isinstance(request, dict) else None
    # An audit that cannot be written fails the record: the refusal is retried, not lost.
    services.lifecycle.state.audit(
        work["action"],
        work["username"],
        str(ticket or "(none)"),
        sender,
        f"rejected: {why}",
        {
            "slack_user": None if slack_user is None else str(slack_user),
            "requested_by": None if claimed is None else str(claimed),
        },
    )
    raise Forbidden(why)


def answer(
    url: str,
    doing: str,
    receives: Callable[[], tuple[int, int]],
    produce: Callable[[], dict | None],
) -> None:
    """Post what ``produce`` answers, as a message of its own unless it says to replace the one
    clicked; a refusal is always a message of its own; a failure is retried by SQS
    (``failed``)."""
    try:
        reply = produce()
    except AppError as error:
        if error.retryable:
            failed(url, doing, error, *receives())
            return
        response_url.post(url, {**errors.for_error(error, doing), "replace_original": False})
        return
    except Exception as error:
        failed(url, doing, error, *receives())
        return
    if reply is not None:
        response_url.post(url, {"replace_original": False, **reply})


def failed(url: str, doing: str, error: Exception, attempt: int, limit: int) -> None:
    """Tell the requester; return for a rejection (done), raise for a failure (retry)."""
    if not isinstance(error, AppError):
        logger.exception("unexpected error doing %s", doing)
        error = AppError("internal error; the failure was logged")
    if not error.retryable:  # rejected, or refused by AWS for good: a retry changes nothing
        response_url.post(url, errors.for_error(error, doing))
        return
    final = bool(limit) and attempt >= limit
    # A change still running for the same ticket will post its own result: say nothing unless
    # this is the last try.
    if final or (attempt == 1 and not isinstance(error, InProgress)):
        try:
            response_url.post(
                url,
                errors.for_error(
                    error, doing, will_retry=not final, attempts=attempt if final else 0
                ),
            )
        except AppError:
            logger.warning("could not tell Slack that %s failed", doing)
    raise error
