"""Helpers shared by test modules; fixtures live in conftest.py files (tests/ for those of more
than one tier, tests/<tier>/ for a tier's own)."""

from __future__ import annotations

from typing import Any


def ticket(n: str) -> dict:
    """A change's ticket and requester, as a request body carries them."""
    return {"ticket": n, "requested_by": "alice"}


def onboard(
    api: Any,
    username: str = "pete",
    groups: tuple[str, ...] | list[str] = ("ChildDeveloperGroup",),
    ticket: str | None = None,
    requested_by: str = "alice",
    expect: int | None = 201,
    **fields: Any,
) -> Any:
    """Onboard ``username`` through the REST API; the answer (its body is ``.json``).

    ``fields`` are more of the request's (console, slack_user, email, access_key, callback_url,
    ...); one given as None is left out of it. The answer's status is asserted to be ``expect``
    unless that is None."""
    body = {
        "username": username,
        "groups": list(groups),
        "ticket": ticket or f"T-{username}",
        "requested_by": requested_by,
        **{name: value for name, value in fields.items() if value is not None},
    }
    answer = api.call("POST", "/users", body)
    if expect is not None:
        assert answer.status_code == expect, answer.json
    return answer
