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

from chalicelib.edges.slack import replies, response_url
from chalicelib.edges.slack.answering import authorize, failed
from chalicelib.kernel import queue
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.commands import parse
from chalicelib.kernel.errors import AppError
from chalicelib.lifecycle import replies as lifecycle_replies

logger = logging.getLogger(__name__)
KINDS = ("change", "status", "notice")  # the messages the Slack edge queues


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
        failed(url, doing, error, *receives())
        return
    for reply in messages:
        if work.get("prompt"):  # answering a click: a new message, not an edit of the prompt
            reply = {**reply, "replace_original": False}
        response_url.post(url, reply)
    if work.get("prompt"):
        _delete_prompt(url)


def _status(services: Any, work: dict) -> list[dict]:
    return [lifecycle_replies.status(services.lifecycle.describe(work["username"]))]


_QUERIES: dict[str, Callable[[Any, dict], list[dict]]] = {"status": _status}


def _change(services: Any, work: dict) -> list[dict]:
    action, username = work["action"], work["username"]
    authorize(services, work)
    request: Any = parse(ACTIONS[action].request_model(), json.dumps(work["request"]))
    answer = services.operations.change(action, username, request)  # as the REST routes run it
    if request.dry_run:
        return [lifecycle_replies.plan(answer, work["slack_user"])]
    return lifecycle_replies.result(action, answer, request.ticket, work["slack_user"])


def _delete_prompt(url: str) -> None:
    """Remove the confirmation prompt once its answer is posted; it is spent anyway."""
    try:
        response_url.post(url, {"delete_original": True})
    except AppError:
        logger.warning("could not remove the confirmation prompt")


queue.register_all(KINDS, handle)  # the worker runs the kinds this module queues
