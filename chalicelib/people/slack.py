"""Queued direct messages to a person (chalicelib/kernel/direct_messages.py): the welcome after
an onboarding that names their Slack member, credential hygiene's notices and reminders, and the
notice that a grant ends soon (queued on every run of the expiry schedule within its notice).

Each is sent once for its ``once`` name (the onboarding's ticket; the notice's ticket and step;
the grant's group and expiry):
a delivery claims it in the state table first, so a message queued twice (an onboarding resumed
under its ticket) or delivered twice by SQS is sent once. A send that fails lets the claim go
and raises, so SQS delivers it again (and, after the queue's maxReceiveCount, moves it to the
dead-letter queue); a worker that died while sending leaves a claim that ends with
``CLAIM_SECONDS``, before SQS delivers the message again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.kernel import direct_messages as queued
from chalicelib.kernel import queue
from chalicelib.kernel.errors import AppError
from chalicelib.people import blocks as messages

logger = logging.getLogger(__name__)
KINDS = queued.KINDS
# Shorter than the work queue's visibility timeout (180 s), longer than a worker's run (30 s).
CLAIM_SECONDS = 120


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    username, member, once = work["username"], work["slack_user"], work["once"]
    if work["kind"] == queued.WELCOME_KIND:
        shown = messages.welcome(username, work["welcome"], work.get("requested_by", ""))
        about = "welcome"
    elif work["kind"] == queued.EXPIRY_KIND:
        shown = messages.expiry_notice(username, work["notice"])
        about = "expiry_notice"
    else:
        shown = messages.hygiene_notice(username, work["notice"], work["what"])
        about = "hygiene_notice"
    state = services.state
    if not state.claim_once(username, once, CLAIM_SECONDS):
        logger.info("%s for %s was sent already (%s)", about, username, once)
        return
    try:
        services.slack_api.direct_message(member, shown["text"], shown["blocks"])
    except Exception:
        state.drop_once(username, once)
        raise
    # Sent: what is left must not fail the record, or SQS would deliver it (and send it) again.
    try:
        state.sent_once(username, once)
        state.audit(
            "direct_message",
            username,
            work["ticket"],
            "slack",
            "ok: sent",
            {"about": about, "to": {"slack_user": member}, "channel": queued.SLACK_DM},
        )
    except AppError as error:
        logger.warning("%s for %s sent, not recorded: %s", about, username, error.message)


queue.register_all(KINDS, handle)  # the worker runs the kinds this module queues
