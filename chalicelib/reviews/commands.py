"""Access reviews' request models: a campaign, a decision on one of its items, a removal made by
hand, an early close."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.kernel.commands import Body, GroupName, Text


class ReviewRequest(Body):
    """``POST /reviews`` (and ``/access review start``): a campaign of these groups (every managed
    group when none is named), decided by ``due`` (a date after today, checked on the app's
    clock)."""

    groups: list[GroupName] | None = Field(default=None, max_length=50)
    due: date
    ticket: Text
    requested_by: Text


class ReviewDecisionRequest(Body):
    """A reviewer's decision on one item of a campaign, sent by a ticketing workflow: the
    reviewer is the Slack member who decided (the assigned one, or an operator)."""

    ticket: Text
    decision: Literal["keep", "revoke"]
    reviewer: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    requested_by: Text = "rest"


class ReviewRemovedRequest(Body):
    """An operator records that a member the service does not manage was removed from the
    group by hand (a revoke it may not make itself); a read of IAM must agree."""

    ticket: Text
    operator: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    requested_by: Text = "rest"


class ReviewCloseRequest(Body):
    """Close a campaign before its due date (the undecided items as at the due date)."""

    ticket: Text
    requested_by: Text
