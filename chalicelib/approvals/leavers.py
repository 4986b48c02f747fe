"""A leaver's pending requests for access: cancelled (why: offboarded) by their offboarding, so
that no approval of theirs grants anything to whoever is given their name next. The approvers'
channel message loses its buttons.

Every step tolerates being done already: a retry of the offboarding's ticket does it again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.approvals import rules
from chalicelib.approvals.service import MESSAGE_KIND
from chalicelib.kernel.errors import AppError, Stale
from chalicelib.kernel.telemetry import logger

OFFBOARDED = "offboarded"
_ATTEMPTS = 5  # reads and conditional writes of one request before giving up on a race


class RequestsOfLeavers:
    def __init__(
        self,
        requests: Any,
        audit: Callable[..., Any],
        send: Callable[[dict], Any],
        clock: Callable[[], datetime],
    ) -> None:
        self.requests = requests  # the request store
        self.audit = audit  # the state store's audit
        self.send = send  # the work queue's send
        self.clock = clock

    def forget(self, name: str, record: dict, request: Any, answer: dict) -> list[str]:
        by = f"offboard:{request.ticket}"
        cancelled = []
        for found in self.requests.search(rules.PENDING, name):
            for _ in range(_ATTEMPTS):
                if found["status"] != rules.PENDING:
                    break  # decided or expired meanwhile; a grant of it finds no user
                closed = rules.close(found, rules.CANCELLED, self.clock(), by)
                try:
                    self.requests.update({**closed, "why": OFFBOARDED}, found["version"])
                except Stale:
                    found = self.requests.get(found["id"]) or found
                    continue
                self.requests.release(closed)
                self.audit(
                    "request", found["username"], found["id"], by, "ok: cancelled (offboarded)"
                )
                self._tell_slack(found["id"])
                cancelled.append(found["id"])
                break
        return cancelled

    def _tell_slack(self, request_id: str) -> None:
        try:  # the approvers' message loses its buttons; the cancellation stands without it
            self.send({"kind": MESSAGE_KIND, "id": request_id, "event": "cancelled"})
        except AppError as error:
            logger().warning(
                "could not queue the request's Slack message", extra={"reason": error.message}
            )
