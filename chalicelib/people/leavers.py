"""What the service lets go of a person once they are offboarded, so that nothing kept for them
acts for whoever is given their name next: their Slack member link, their pending requests
(cancelled, why: offboarded) and their open access-review items (closed by the offboarding,
as a revoke it carried out).

A failure here fails the offboarding's answer (its user is gone; what is left is named) and a
retry of the same ticket does it again: every step tolerates being done already.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.approvals import rules as requests_rules
from chalicelib.approvals.service import MESSAGE_KIND
from chalicelib.aws.requests import Stale as StaleRequest
from chalicelib.aws.reviews import Stale as StaleItem
from chalicelib.kernel.errors import AppError, UpstreamError
from chalicelib.kernel.identity import PERSON
from chalicelib.kernel.telemetry import logger
from chalicelib.kernel.waves import wave
from chalicelib.reviews import rules as review_rules

if TYPE_CHECKING:
    from chalicelib.aws.queue import WorkQueue
    from chalicelib.aws.requests import RequestStore
    from chalicelib.aws.reviews import ReviewStore
    from chalicelib.aws.state import StateStore
    from chalicelib.kernel.commands import TicketRequest as OffboardRequest

OFFBOARDED = "offboarded"
_ATTEMPTS = 5  # reads and conditional writes of one request or item before giving up on a race


class Leavers:
    def __init__(
        self,
        state: StateStore,
        requests: RequestStore,
        reviews: ReviewStore,
        work_queue: WorkQueue,
        clock: Callable[[], datetime],
    ) -> None:
        self.state = state
        self.requests = requests
        self.reviews = reviews
        self.work_queue = work_queue
        self.clock = clock

    def forget(self, name: str, record: dict, request: OffboardRequest, answer: dict) -> None:
        """Let go of what is kept for ``name``, offboarded by ``request`` (``record``: their
        final record; ``answer``: the offboarding's, naming where sessions were revoked)."""
        tasks: dict[str, Callable[[], Any]] = {
            "requests": lambda: self._cancel_requests(name, request),
            "reviews": lambda: self._close_items(name, request, answer),
        }
        member = record.get("slack_user")
        if member:
            tasks["link"] = lambda: self.state.unlink_member(member, name, record.get(PERSON))
        try:
            wave(tasks)
        except AppError as error:
            raise UpstreamError(
                f"{name} was offboarded, but what is kept for them was not all let go "
                f"({error.message}); retry with the same ticket"
            ) from error

    def _cancel_requests(self, name: str, request: OffboardRequest) -> list[str]:
        by = f"offboard:{request.ticket}"
        cancelled = []
        for found in self.requests.search(requests_rules.PENDING, name):
            for _ in range(_ATTEMPTS):
                if found["status"] != requests_rules.PENDING:
                    break  # decided or expired meanwhile; a grant of it finds no user
                closed = requests_rules.close(found, requests_rules.CANCELLED, self.clock(), by)
                try:
                    self.requests.update({**closed, "why": OFFBOARDED}, found["version"])
                except StaleRequest:
                    found = self.requests.get(found["id"]) or found
                    continue
                self.requests.release(closed)
                self.state.audit(
                    "request", found["username"], found["id"], by, "ok: cancelled (offboarded)"
                )
                self._tell_slack(found["id"])
                cancelled.append(found["id"])
                break
        return cancelled

    def _tell_slack(self, request_id: str) -> None:
        try:  # the approvers' message loses its buttons; the cancellation stands without it
            self.work_queue.send({"kind": MESSAGE_KIND, "id": request_id, "event": "cancelled"})
        except AppError as error:
            logger().warning(
                "could not queue the request's Slack message", extra={"reason": error.message}
            )

    def _close_items(self, name: str, request: OffboardRequest, answer: dict) -> int:
        closed = 0
        for first in self.reviews.items_of(name):
            item: dict | None = first
            for _ in range(_ATTEMPTS):
                if item is None:
                    break  # decided keep, or carried out, meanwhile
                done = offboarded_item(
                    item, request.ticket, request.requested_by, self.clock(), answer
                )
                try:
                    self.reviews.update_item(done, item.get("version", 0))
                except StaleItem:
                    item = self._item_again(item)
                    continue
                closed += 1
                break
        return closed

    def _item_again(self, item: dict) -> dict | None:
        """The item as stored now, if its access is still not known to be gone."""
        got = self.reviews.get(item["review"])
        for now in got[1] if got else []:
            if now["id"] == item["id"]:
                open_ = not now.get("removed_at") and now.get("decision") != review_rules.KEEP
                return now if open_ else None
        return None


def offboarded_item(
    item: dict, ticket: str, requested_by: str, now: datetime, answer: dict
) -> dict:
    """A review item of a person the offboarding under ``ticket`` removed: the shape of a
    carried-out revoke (removed_at, removal_ticket, the sessions revoked and any still owed),
    which the evidence checks as any other. An item nobody decided is decided by the
    offboarding, named as such, never as a reviewer's decision; the evidence passes it only
    once the offboarding's audit event is ok and no revocation is owed."""
    done = {
        **item,
        "decision": review_rules.REVOKE,
        "decided_by": item.get("decided_by") if item.get("decision") else requested_by,
        "decided_at": item.get("decided_at") if item.get("decision") else review_rules.iso(now),
        "offboarded": ticket,
    }
    return review_rules.carried_out(done, ticket, now, answer)
