"""A change that could not answer in time (API Gateway gives an integration 29 seconds) goes on
in the queue worker: the REST caller is answered 202 with where to follow it, the worker runs it
again under the same ticket, and the ticket's callback carries the outcome.

The message names only what the edge already checked and audited: the worker runs it only when
the trail holds this ticket's hand-over of that action on that user, so a message queued by
anything else is refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chalicelib.kernel import queue
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.identity import key

if TYPE_CHECKING:
    from chalicelib.kernel.commands import TicketRequest

logger = logging.getLogger(__name__)
KIND = "continue"  # the queue message's kind (chalicelib/edges/worker.py dispatches on it)
# The audit result of the attempt that stopped; the worker's run writes the outcome after it.
AUDITED = "continued: not finished in time to answer; the queue worker finishes it"


def message(action: str, username: str, request: TicketRequest) -> dict:
    return {
        "kind": KIND,
        "action": action,
        "username": username,
        "request": request.model_dump(mode="json"),
    }


def accepted(action: str, username: str, ticket: str) -> dict:
    """The 202 answer: what goes on, and where its outcome will be."""
    return {
        "status": "accepted",
        "action": action,
        "username": username,
        "ticket": ticket,
        "message": (
            f"{action} of {username} goes on in the background; the same request with the same "
            "ticket answers its outcome once it is done (409 while it runs), as does the audit "
            "trail and the ticket's callback"
        ),
        "follow": f"/audit?ticket={quote(ticket, safe='')}",
    }


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    """Run the rest of a change; raise (SQS delivers it again) while it cannot run yet."""
    from chalicelib.kernel.commands import parse

    action, username = work["action"], work["username"]
    request: Any = parse(ACTIONS[action].request_model(), json.dumps(work["request"]))
    handed_over = any(
        event["action"] == action
        and key(event["username"]) == key(username)
        and event["result"] == AUDITED
        for event in services.lifecycle.state.audit_events(ticket=request.ticket)
    )
    if not handed_over:  # done: delivering it again would not make it genuine
        logger.warning("refused a queued %s of %s that no change handed over", action, username)
        return
    # An error the caller could act on is the runner's to audit and call back; one that may
    # pass (the user still held, AWS failing) raises, and SQS delivers the message again.
    try:
        services.operations.change(action, username, request)
    except Exception as error:
        if getattr(error, "retryable", True):
            raise
        logger.info("%s of %s ended: %s", action, username, error)


queue.register(KIND, handle)
