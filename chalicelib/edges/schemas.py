"""Request bodies of the REST API, validated with pydantic; messages say what to fix."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from chalicelib.kernel.errors import BadRequest
from chalicelib.kernel.identity import USERNAME_RULE, check_username  # noqa: F401 - where callers look

# Lengths apart from the character class: the same rule as ^[\w+=,.@-]{1,64}$, but pydantic-core
# (Rust regex, Unicode \w) builds a bounded repetition of \w in 25-40 ms per pattern and model,
# an unbounded one in well under 1 ms.
_NAME = r"^[\w+=,.@-]+$"
Username = Annotated[str, StringConstraints(pattern=_NAME, min_length=1, max_length=64)]
GroupName = Annotated[str, StringConstraints(pattern=_NAME, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
# A Slack member id (users start with U, Enterprise Grid users with W).
SlackMember = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,30}$")]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", max_length=254)
]


TagValue = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def _tag_value(value: str | None) -> str | None:
    """``value`` if IAM takes it as a tag value; it refuses any other character."""
    if value is not None and not all(
        unicodedata.category(c)[0] in "LNZ" or c in "_.:/=+-@" for c in value
    ):
        raise ValueError("may hold only letters, digits, spaces and _.:/=+-@ (an IAM tag)")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=_Body)


class _Change(_Body):
    """What every changing request may add: a plan instead of the change, and where to report."""

    dry_run: bool = False
    callback_url: Annotated[str, StringConstraints(max_length=2048)] | None = None


class OnboardRequest(_Change):
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
        return _tag_value(value)


class TicketRequest(_Change):
    ticket: Text
    requested_by: Text


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
        return _tag_value(value)


class ExpireGrantRequest(TicketRequest):
    group: GroupName


class HygieneRequest(TicketRequest):
    """A hygiene change: the rule that is due, and the credential ("console" or a key id)."""

    rule: Literal["unused", "unused_90", "key_rotation", "console_mfa", "key_deletion"]
    credential: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", max_length=128)]


class ExemptionRequest(_Body):
    """``PUT /users/{username}/hygiene-exemption``: the rules skip the user until ``until``."""

    reason: Text
    until: date
    ticket: Text
    requested_by: Text

    # After today and at most a year away: checked by the service, on the app's clock.


class AccessRequest(_Body):
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


class DecisionRequest(_Body):
    """An approver's decision; ``requested_by`` is whoever sends it (the ticketing system)."""

    ticket: Text
    decision: Literal["approve", "deny"]
    approver: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    requested_by: Text = "rest"


class ReviewRequest(_Body):
    """``POST /reviews`` (and ``/access review start``): a campaign of these groups (every managed
    group when none is named), decided by ``due`` (a date after today, checked on the app's
    clock)."""

    groups: list[GroupName] | None = Field(default=None, max_length=50)
    due: date
    ticket: Text
    requested_by: Text


class ReviewDecisionRequest(_Body):
    """A reviewer's decision on one item of a campaign, sent by a ticketing workflow: the
    reviewer is the Slack member who decided (the assigned one, or an operator)."""

    ticket: Text
    decision: Literal["keep", "revoke"]
    reviewer: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    requested_by: Text = "rest"


class ReviewRemovedRequest(_Body):
    """An operator records that a member the service does not manage was removed from the
    group by hand (a revoke it may not make itself); a read of IAM must agree."""

    ticket: Text
    operator: Annotated[str, StringConstraints(pattern=r"^(slack:)?[UW][A-Z0-9]{2,30}$")]
    requested_by: Text = "rest"


class ReviewCloseRequest(_Body):
    """Close a campaign before its due date (the undecided items as at the due date)."""

    ticket: Text
    requested_by: Text


RestoreRequest = TicketRequest
OffboardRequest = TicketRequest
RevokeSessionsRequest = TicketRequest


# Tickets the service makes itself: a caller's ticket may not claim one, or it could take a
# schedule's run (or a Slack, SCIM or hygiene change) in advance, or pass its change for theirs.
RESERVED_TICKET_PREFIXES = ("slack:", "schedule:", "scim:", "hygiene:", "review:")


def parse_caller(model: type[M], raw: bytes | str | None) -> M:
    """A REST body: as :func:`parse`, and its ticket must not be one the service makes."""
    body = parse(model, raw)
    ticket = getattr(body, "ticket", "")
    if ticket.lower().startswith(RESERVED_TICKET_PREFIXES):
        raise BadRequest(
            f"ticket: {ticket!r} starts with a prefix the service keeps for its own "
            f"tickets ({', '.join(RESERVED_TICKET_PREFIXES)}); use your ticket id"
        )
    return body


def parse(model: type[M], raw: bytes | str | None) -> M:
    """Parse a JSON body into ``model``; any problem is a 400 naming the field to fix."""
    try:
        data = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for issue in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in issue["loc"]) or "body"
            problems.append(f"{where}: {issue['msg']}")
        raise BadRequest("invalid request: " + "; ".join(problems)) from None
