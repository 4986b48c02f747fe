"""The queue worker: one SQS handler for every kind of queued work, dispatched by the message's
``kind``: Slack work (a change or a status asked for with the slash command, and notices),
requests for access (a member's own requests, approvers' clicks, the messages Slack shows of
them), direct messages to a person (the welcome, hygiene notices), ticket callbacks, and the
rest of a REST change that could not answer in time. Each kind's handler is registered by
whoever queues it (chalicelib/kernel/queue.py); this module knows no capability.

Each SQS record is one piece of work. Its outcome decides what SQS does with it: returning
reports it done; raising reports it failed, so SQS delivers it again after the visibility
timeout and, after the queue's maxReceiveCount, moves it to the dead-letter queue. A retry is
safe: the ticket makes a change that did complete answer its first answer again.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from chalicelib.aws.queue import CLIENT
from chalicelib.edges.slack import response_url
from chalicelib.kernel import caller, queue
from chalicelib.kernel.errors import AppError, BadRequest

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
    if "response_url" in work and not _answerable(services, work):
        return  # done: a retry would not make the URL Slack's
    with caller.acting_for(_client(record)):
        handler = queue.handler_of(work["kind"])  # registered by whoever queues the kind
        handler(services, work, functools.partial(_receives, services, record))


def _client(record: Any) -> str | None:
    """The client the work was queued for (chalicelib/aws/queue.py)."""
    attributes = record.raw_event.get("messageAttributes") or {}
    return (attributes.get(CLIENT) or {}).get("stringValue")


def _answerable(services: Any, work: dict) -> bool:
    """Whether the work's answer may go to its ``response_url``. The edge refused any other URL,
    but anything allowed to send to the queue could name one: such work is not done at all (its
    answer, a temporary password say, would go elsewhere) and is logged without the URL's path."""
    try:
        response_url.check(work["response_url"], services.settings.slack_response_hosts)
    except BadRequest as refused:
        logger.warning("dropped queued %s work: %s", work.get("kind"), refused.message)
        return False
    return True


def _receives(services: Any, record: Any) -> tuple[int, int]:
    """This receive of ``record`` (from 1), and the last one before the dead-letter queue (0:
    the queue has none)."""
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        return attempt, services.work_queue.max_receives()
    except AppError:
        return attempt, 0
