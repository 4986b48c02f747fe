"""Requests for access and their decisions: the request models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.kernel.commands import Body, GroupName, Text, TicketRequest, Username


class AccessRequest(Body):
    """Time-bound access asked for, decided by the group's approvers (or, break-glass, at once).
    Neither a plan nor a callback: the approvers' decision is what follows."""

    ticket: Text
    requested_by: Text
    username: Username
    group: GroupName
    # Bounds beyond the policy's maximum are the domain's to refuse with the group's limit.
    hours: int = Field(gt=0, le=24 * 30)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    break_glass: bool = False


class DecisionRequest(Body):
    """An approver's decision; ``requested_by`` is whoever sends it (the ticketing system)."""

    ticket: Text
    decision: Literal["approve", "deny"]
    approver: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    requested_by: Text = "rest"


ExpireRequest = TicketRequest  # a schedule's expiry of a pending request
