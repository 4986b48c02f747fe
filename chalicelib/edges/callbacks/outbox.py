"""A change's outcome queued for its callback URL: the queue worker delivers it, so a slow
receiver never holds the caller's answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

KIND = "callback"  # the queue message's kind (chalicelib/edges/worker.py dispatches on it)


def message(
    url: str,
    *,
    action: str,
    username: str,
    ticket: str,
    requested_by: str,
    result: str,
    status: int,
    answer: dict | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The queue message carrying the payload the receiver gets."""
    payload: dict[str, Any] = {
        "action": action,
        "username": username,
        "ticket": ticket,
        "requested_by": requested_by,
        "result": result,
        "status": status,
        "at": datetime.now(UTC).isoformat(),
    }
    payload.update({"answer": answer} if answer is not None else {"error": error})
    return {"kind": KIND, "url": url, "payload": payload}
