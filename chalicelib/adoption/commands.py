"""Adoption's request models: one user adopted or released, and a batch of adoptions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from chalicelib.kernel.commands import GroupName, TicketRequest, Username


class AdoptRequest(TicketRequest):
    """``POST /users/{username}/adopt``. ``groups``, when given, is what the caller expects the
    service to own: adoption changes no membership, so any other set is refused."""

    groups: list[GroupName] | None = None


class ReleaseRequest(TicketRequest):
    """``POST /users/{username}/release``."""


class BatchAdoptRequest(TicketRequest):
    """``POST /adoptions``: the named users, or every user outside management."""

    # Room left for "/<username>": each user's own ticket is <ticket>/<username>.
    ticket: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=190)]
    usernames: Annotated[list[Username], Field(min_length=1, max_length=5000)] | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> BatchAdoptRequest:
        if bool(self.usernames) == self.all:
            raise ValueError('give either "usernames": [...] or "all": true')
        return self
