"""What every capability's commands stand on: the request bodies' base models (a ticket, who
asks, a plan instead of the change, where to report), the fields they share, and the parsing of
a body into a model, validated with pydantic, whose messages say what to fix.

Each capability's own request models live beside it (``<capability>/commands.py``) and its
actions name them in the catalogue. pydantic loads with this module, so only a path that parses
a body imports it (a Slack acknowledgement does not)."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
)

from chalicelib.kernel.errors import BadRequest

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


def tag_value(value: str | None) -> str | None:
    """``value`` if IAM takes it as a tag value; it refuses any other character."""
    if value is not None and not all(
        unicodedata.category(c)[0] in "LNZ" or c in "_.:/=+-@" for c in value
    ):
        raise ValueError("may hold only letters, digits, spaces and _.:/=+-@ (an IAM tag)")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=Body)


class Change(Body):
    """What every changing request may add: a plan instead of the change, and where to report."""

    dry_run: bool = False
    callback_url: Annotated[str, StringConstraints(max_length=2048)] | None = None


class TicketRequest(Change):
    ticket: Text
    requested_by: Text


# Tickets the service makes itself: a caller's ticket may not claim one, or it could take a
# schedule's run (or a Slack, SCIM or hygiene change) in advance, or pass its change for theirs.
RESERVED_TICKET_PREFIXES = ("slack:", "schedule:", "scim:", "hygiene:", "review:", "closed:")


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
