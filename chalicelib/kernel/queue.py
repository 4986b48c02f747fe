"""The kinds of queued work: each message on the work queue names its ``kind``, and whoever
queues a kind registers its handler here (a capability's Slack work, the ticket callbacks, the
rest of a REST change). The queue worker (chalicelib/edges/worker.py) dispatches by this registry
and knows no capability; ``chalicelib/capabilities.py`` imports every registering module before
the worker runs. A message's JSON is its queuer's: this registry only routes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# This receive of the message (from 1), and the last one before the dead-letter queue (0: none).
Receives = Callable[[], tuple[int, int]]
# handler(services, message, receives): returning reports it done; raising, failed (SQS retries).
Handler = Callable[[Any, dict, Receives], None]
HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """``handler`` runs the messages of ``kind``; a kind has one handler."""
    if HANDLERS.setdefault(kind, handler) is not handler:
        raise ValueError(f"the queue kind {kind!r} already has a handler")


def register_all(kinds: Iterable[str], handler: Handler) -> None:
    for kind in kinds:
        register(kind, handler)


def handler_of(kind: str) -> Handler:
    """The handler of ``kind``; a kind nobody registered fails the message, which SQS delivers
    again and then moves to the dead-letter queue, where it stays to be looked at."""
    try:
        return HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for queued work of kind {kind!r}") from None
