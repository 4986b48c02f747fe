"""Credential hygiene's request models: a hygiene change of one credential, and an exemption."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import StringConstraints

from chalicelib.kernel.commands import Body, Text, TicketRequest


class HygieneRequest(TicketRequest):
    """A hygiene change: the rule that is due, and the credential ("console" or a key id)."""

    rule: Literal["unused", "unused_90", "key_rotation", "console_mfa", "key_deletion"]
    credential: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$", max_length=128)]


class ExemptionRequest(Body):
    """``PUT /users/{username}/hygiene-exemption``: the rules skip the user until ``until``."""

    reason: Text
    until: date
    ticket: Text
    requested_by: Text

    # After today and at most a year away: checked by the service, on the app's clock.
