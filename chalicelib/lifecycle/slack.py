"""Slack work from the queue: a change or a status asked for with the slash command (run with the
same operations as REST), or a notice; the outcome is posted to the request's ``response_url``.

- done, or rejected (a 4xx AppError: bad input, refused, conflict): the requester is told, and the
  record is reported done, as retrying would not change the answer;
- failed (a 5xx AppError, anything unexpected, or Slack unreachable): the record is reported
  failed, so SQS delivers it again. The requester is told on the first failure and on the last
  one, not on every attempt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.edges.schemas import parse
from chalicelib.edges.slack import errors, replies, response_url
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, Forbidden, InProgress
from chalicelib.lifecycle import replies as lifecycle_replies

logger = logging.getLogger(__name__)
KINDS = ("change", "status", "hygiene", "notice")  # the messages the Slack edge queues


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    """One piece of Slack work; the result is posted to the request's ``response_url``."""
    url = work["response_url"]
    if work["kind"] == "notice":
        response_url.post(
            url, replies.notice(work["text"], replace_original=work.get("replace_original", False))
        )
        return
    doing = f"{work['action']} {work['username']}".strip()
    try:
        query = _QUERIES.get(work["kind"])
        messages = query(services, work) if query else _change(services, work)
    except Exception as error:
        _failed(url, doing, error, *receives())
        return
    for reply in messages:
        if work.get("prompt"):  # answering a click: a new message, not an edit of the prompt
            reply = {**reply, "replace_original": False}
        response_url.post(url, reply)
    if work.get("prompt"):
        _delete_prompt(url)


def _status(services: Any, work: dict) -> list[dict]:
    return [lifecycle_replies.status(services.lifecycle.describe(work["username"]))]


def _hygiene(services: Any, work: dict) -> list[dict]:
    username = work.get("username") or None
    return [replies.hygiene(services.hygiene.findings(username), username)]


_QUERIES: dict[str, Callable[[Any, dict], list[dict]]] = {"status": _status, "hygiene": _hygiene}


def _change(services: Any, work: dict) -> list[dict]:
    action, username = work["action"], work["username"]
    _authorize(services, work)
    request: Any = parse(ACTIONS[action].request_model(), json.dumps(work["request"]))
    answer = services.operations.change(action, username, request)  # as the REST routes run it
    if request.dry_run:
        return [lifecycle_replies.plan(answer, work["slack_user"])]
    return lifecycle_replies.result(action, answer, request.ticket, work["slack_user"])


def _authorize(services: Any, work: dict) -> None:
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
    (``_failed``)."""
    try:
        reply = produce()
    except AppError as error:
        if error.retryable:
            _failed(url, doing, error, *receives())
            return
        response_url.post(url, {**errors.for_error(error, doing), "replace_original": False})
        return
    except Exception as error:
        _failed(url, doing, error, *receives())
        return
    if reply is not None:
        response_url.post(url, {"replace_original": False, **reply})


def _failed(url: str, doing: str, error: Exception, attempt: int, limit: int) -> None:
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


def _delete_prompt(url: str) -> None:
    """Remove the confirmation prompt once its answer is posted; it is spent anyway."""
    try:
        response_url.post(url, {"delete_original": True})
    except AppError:
        logger.warning("could not remove the confirmation prompt")
