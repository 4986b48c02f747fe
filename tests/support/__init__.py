"""Helpers shared by test modules; fixtures live in conftest.py files (tests/ for those of more
than one tier, tests/<tier>/ for a tier's own)."""

from __future__ import annotations

from typing import Any


def onboard(
    api: Any,
    username: str,
    groups: tuple[str, ...] | list[str] = ("ChildDeveloperGroup",),
    ticket: str | None = None,
    requested_by: str = "alice",
) -> Any:
    """Onboard ``username`` through the REST API (asserting it worked); the answer (its body is
    ``.json``)."""
    answer = api.call(
        "POST",
        "/users",
        {
            "username": username,
            "groups": list(groups),
            "ticket": ticket or f"T-{username}",
            "requested_by": requested_by,
        },
    )
    assert answer.status_code == 201, answer.json
    return answer
