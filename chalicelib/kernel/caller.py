"""Who is calling: the authenticated client an edge has let in, for the audit trail to record.

Each edge (the REST routes, Slack, SCIM, the schedules, the queue worker) names the client it
authenticated for the time it runs; ``current()`` is what the audit trail writes beside the
``requested_by`` the caller claims. A context variable, so the waves' threads (which run in the
caller's context) see it too, and no change needs to pass it along.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# The edges' own clients, beside the REST API's named ones (chalicelib/edges/clients.py).
SLACK = "slack"
SCIM = "scim"
SCHEDULE = "schedule"

_CLIENT: ContextVar[str | None] = ContextVar("client", default=None)


def current() -> str | None:
    """The authenticated client of what runs now; None outside any edge (a test, a script)."""
    return _CLIENT.get()


@contextlib.contextmanager
def acting_for(client: str | None) -> Iterator[None]:
    """Run the block on behalf of ``client``; the previous client (none, in a warm Lambda
    container between invocations) is back after it."""
    token = _CLIENT.set(client)
    try:
        yield
    finally:
        _CLIENT.reset(token)
