"""Requests for access and their decisions: the request models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from chalicelib.kernel.commands import Body, GroupName, Text, TicketRequest, Username


class AccessRequest(Body):
    """Time-bound access asked for, decided by the group's approvers (or, break-glass, at once).
    Neither a plan nor a callback: the approvers' decision is what follows."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    ticket: Text
    requested_by: Text
    username: Username | None = None  # required unless ``for`` names the user
    group: GroupName
    # Bounds beyond the policy's maximum are the domain's to refuse with the group's limit.
    hours: int = Field(gt=0, le=24 * 30)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    break_glass: bool = False
    # An extension of the user's current grant of the group by ``hours``, decided by its
    # approvers (the group's policy allows extensions): approved, that grant is made longer.
    extend: bool = False
    # Asked by one member for another: the user the access is for (``username`` may be left
    # out; given, it must name the same user); ``requested_by`` is then the member who asks.
    for_user: Username | None = Field(default=None, alias="for")

    @model_validator(mode="before")
    @classmethod
    def _for_names_the_user(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        asked_for = data.get("for", data.get("for_user"))
        if asked_for is None and data.get("username") is None:
            raise ValueError("name the user the access is for: username (or for)")
        if asked_for is not None:
            named = data.get("username")
            if named is None:
                return {**data, "username": asked_for}
            if not (isinstance(named, str) and named.lower() == str(asked_for).lower()):
                raise ValueError("username and for name different users: leave username out")
        return data


class DecisionRequest(Body):
    """An approver's decision; ``requested_by`` is whoever sends it (the ticketing system)."""

    ticket: Text
    decision: Literal["approve", "deny"]
    approver: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    requested_by: Text = "rest"


ExpireRequest = TicketRequest  # a schedule's expiry of a pending request
