"""A review owed outside the campaigns: every break-glass activation opens one item, so that
each use is looked at by a reviewer other than the person, whatever the campaigns' calendar.

Requests for access queue it (``review_item``) once an activation is granted; access reviews
register the kind and open a campaign of that one item (chalicelib/reviews/slack.py). Neither
capability imports the other: this message is all they share.
"""

from __future__ import annotations

from typing import Any

KIND = "review_item"
BREAK_GLASS = "break_glass"


def break_glass_use(
    *,
    request_id: str,
    username: str,
    group: str,
    reason: str,
    activated_by: str,
    activated_at: str,
    expires_at: str,
) -> dict[str, Any]:
    """The queue message of one break-glass activation to review. Its ticket is the
    activation's own, so a message delivered twice opens one review."""
    return {
        "kind": KIND,
        "source": BREAK_GLASS,
        "ticket": f"break-glass:{request_id}",
        "request": request_id,
        "username": username,
        "group": group,
        "reason": reason,
        "activated_by": activated_by,
        "activated_at": activated_at,
        "expires_at": expires_at,
    }
