"""The lifecycle's request models: what onboard, move, suspend, restore, offboard, grant, the
profile of a user and the end of a grant take (REST bodies, Slack commands, SCIM, the schedules)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from chalicelib.kernel.commands import (
    Body,
    Change,
    Email,
    GroupName,
    SlackMember,
    TagValue,
    Text,
    TicketRequest,
    Username,
    tag_value,
)


class OnboardRequest(Change):
    username: Username
    groups: list[GroupName] = Field(max_length=10)
    ticket: Text
    requested_by: Text
    email: Email | None = None
    console: bool = True
    # The identity provider's id of the person (SCIM externalId), kept as the tag external_id.
    external_id: TagValue | None = None
    # Issue the first access key and answer it once (only where the stage issues keys).
    access_key: bool = False
    # The Slack member this user is (kept as the IAM tag slack_user): how Slack requests know
    # who asks.
    slack_user: SlackMember | None = None

    @field_validator("ticket", "requested_by", "email", "external_id")
    @classmethod
    def _iam_tag_value(cls, value: str | None) -> str | None:
        return tag_value(value)


class MoveRequest(TicketRequest):
    groups: list[GroupName] = Field(max_length=10)


class SuspendRequest(TicketRequest):
    reason: Annotated[str, StringConstraints(max_length=512)] | None = None
    until: date | None = None

    @field_validator("until")
    @classmethod
    def _in_the_future(cls, until: date | None) -> date | None:
        if until is not None and until <= date.today():
            raise ValueError("must be a date after today (YYYY-MM-DD)")
        return until


class GrantRequest(TicketRequest):
    group: GroupName
    hours: int = Field(gt=0, le=24 * 30)
    reason: Text


class ProfileRequest(TicketRequest):
    """What an identity provider keeps on a user besides its name: its id for the person and
    the email, each a tag of the user (None: the tag is removed), and the Slack member."""

    external_id: TagValue | None = None
    email: Email | None = None
    # The Slack member the person is (tag and record slack_user, and the member's link):
    # None leaves it as it is, "" unlinks it.
    slack_user: SlackMember | Literal[""] | None = None

    @field_validator("external_id", "email")
    @classmethod
    def _iam_tag_value(cls, value: str | None) -> str | None:
        return tag_value(value)


class ExpireGrantRequest(TicketRequest):
    group: GroupName
    # The expiry the schedule found due: the grants of the group ending by then end, one
    # extended or granted since stays. None: every grant of the group ends.
    due: datetime | None = None


class ExtendGrantRequest(TicketRequest):
    """The person's current grant of ``group`` made longer by ``hours``, as the group's approval
    policy allows: ``most`` extensions of one grant at most (the approvals decide both)."""

    group: GroupName
    hours: int = Field(gt=0, le=24 * 30)
    most: int = Field(ge=0, le=100)
    # Only the grant made under this ticket (an approved extension names the grant it was
    # asked for): if it no longer covers now, nothing is extended.
    grant_ticket: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class TicketClosed(Body):
    """``POST /tickets/{ticket}/closed``: who says so (the ticketing system, or its person)."""

    requested_by: Text


class ClosedTicket(Body):
    """The ticket of that route's path, checked as a caller's ticket is."""

    ticket: Text
    requested_by: Text


class CloseTicketRequest(TicketRequest):
    """The end of a person's grants made under a ticket the ticketing system closed:
    ``closed`` is that ticket, ``grants`` the tickets its grants were made under (its own, and
    the ids of the requests asked under it)."""

    closed: Text
    grants: list[Text] = Field(min_length=1, max_length=10)


RestoreRequest = TicketRequest
OffboardRequest = TicketRequest
RevokeSessionsRequest = TicketRequest
