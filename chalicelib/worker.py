"""The queue worker: runs the work the Slack edge queued with the same operations as REST, and
posts the result to the request's ``response_url``; also delivers the ticket callbacks that
operations queue when they end.

Each SQS record is one piece of work. Its outcome decides what SQS does with it:
- done, or rejected (a 4xx AppError: bad input, refused, conflict): the requester is told, and the
  record is reported done, as retrying would not change the answer;
- failed (a 5xx AppError, anything unexpected, or Slack unreachable): the record is reported
  failed, so SQS delivers it again after the visibility timeout and, after the queue's
  maxReceiveCount, moves it to the dead-letter queue. The requester is told on the first failure
  and on the last one, not on every attempt. A retry is safe: the ticket makes a change that did
  complete answer its first answer again.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from chalicelib.api.schemas import parse
from chalicelib.callbacks.delivery import Callbacks
from chalicelib.errors import AppError, Forbidden, InProgress, UpstreamError
from chalicelib.slack import replies
from chalicelib.slack.grammar import MODELS

logger = logging.getLogger(__name__)


def handle(event: dict, context: Any, services: Any) -> dict:
    """A Lambda SQS event in, Lambda's partial batch response out: ``{"batchItemFailures": [..]}``.

    When every record of the batch failed, Powertools raises instead, so the whole batch is
    retried whether or not the event source reports batch item failures.
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS, logger=logger)
    return dict(
        process_partial_response(
            event=event,
            record_handler=functools.partial(_record, services),
            processor=processor,
            context=context,
        )
    )


def _record(services: Any, record: Any) -> None:
    work = json.loads(record.body)
    if work["kind"] == "callback":
        _call_back(services, work, record)
        return
    url = work["response_url"]
    if work["kind"] == "notice":
        replies.post(
            url, replies.notice(work["text"], replace_original=work.get("replace_original", False))
        )
        return
    doing = f"{work['action']} {work['username']}"
    try:
        messages = _status(services, work) if work["kind"] == "status" else _change(services, work)
    except Exception as error:
        _failed(services, url, doing, error, *_receives(services, record))
        return
    for reply in messages:
        if work.get("prompt"):  # answering a click: a new message, not an edit of the prompt
            reply = {**reply, "replace_original": False}
        replies.post(url, reply)
    if work.get("prompt"):
        _delete_prompt(url)


def _call_back(services: Any, work: dict, record: Any) -> None:
    """Deliver an operation's outcome to its callback URL. A receiver that did not answer gets
    the message again after the queue's visibility timeout, until its last receive; every try
    is audited with the payload, so nothing is lost when the receiver stays down."""
    payload, settings = work["payload"], services.settings
    attempt, limit = _receives(services, record)

    def audit(result: str, detail: dict) -> None:
        services.lifecycle.state.audit(
            payload["action"],
            payload["username"],
            payload["ticket"],
            payload["requested_by"],
            result,
            detail,
        )

    outcome = Callbacks(
        settings, lambda: services.secrets.get(settings.callback_secret), audit
    ).deliver(work["url"], payload, final=attempt >= limit)
    if outcome.retryable:
        raise UpstreamError("the callback receiver did not answer; the queue delivers it again")


def _receives(services: Any, record: Any) -> tuple[int, int]:
    """This receive of ``record`` (from 1), and the last one before the dead-letter queue (0:
    the queue has none)."""
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        return attempt, services.work_queue.max_receives()
    except AppError:
        return attempt, 0


def _status(services: Any, work: dict) -> list[dict]:
    return [replies.status(services.lifecycle.describe(work["username"]))]


def _change(services: Any, work: dict) -> list[dict]:
    action, username = work["action"], work["username"]
    _authorize(services, work)
    request: Any = parse(MODELS[action], json.dumps(work["request"]))
    answer = services.operations.change(action, username, request)  # as the REST routes run it
    if request.dry_run:
        return [replies.plan(answer, work["slack_user"])]
    return replies.result(action, answer, request.ticket, work["slack_user"])


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


def _failed(
    services: Any, url: str, doing: str, error: Exception, attempt: int, limit: int
) -> None:
    """Tell the requester; return for a rejection (done), raise for a failure (retry)."""
    if not isinstance(error, AppError):
        logger.exception("unexpected error doing %s", doing)
        error = AppError("internal error; the failure was logged")
    if not error.retryable:  # rejected, or refused by AWS for good: a retry changes nothing
        replies.post(url, replies.for_error(error, doing))
        return
    final = bool(limit) and attempt >= limit
    # A change still running for the same ticket will post its own result: say nothing unless
    # this is the last try.
    if final or (attempt == 1 and not isinstance(error, InProgress)):
        try:
            replies.post(
                url,
                replies.for_error(
                    error, doing, will_retry=not final, attempts=attempt if final else 0
                ),
            )
        except AppError:
            logger.warning("could not tell Slack that %s failed", doing)
    raise error


def _delete_prompt(url: str) -> None:
    """Remove the confirmation prompt once its answer is posted; it is spent anyway."""
    try:
        replies.post(url, {"delete_original": True})
    except AppError:
        logger.warning("could not remove the confirmation prompt")
