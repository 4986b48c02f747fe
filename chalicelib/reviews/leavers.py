"""A leaver's open access-review items: closed by their offboarding in the shape of a carried-out
revoke, which the evidence checks as any other.

Every step tolerates being done already: a retry of the offboarding's ticket does it again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.kernel.errors import Stale
from chalicelib.reviews import rules

_ATTEMPTS = 5  # reads and conditional writes of one item before giving up on a race


class ItemsOfLeavers:
    def __init__(self, reviews: Any, clock: Callable[[], datetime]) -> None:
        self.reviews = reviews  # the review store
        self.clock = clock

    def forget(self, name: str, record: dict, request: Any, answer: dict) -> int:
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
                except Stale:
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
                open_ = not now.get("removed_at") and now.get("decision") != rules.KEEP
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
        "decision": rules.REVOKE,
        "decided_by": item.get("decided_by") if item.get("decision") else requested_by,
        "decided_at": item.get("decided_at") if item.get("decision") else rules.iso(now),
        "offboarded": ticket,
    }
    return rules.carried_out(done, ticket, now, answer)
