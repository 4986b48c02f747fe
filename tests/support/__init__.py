"""Helpers shared by test modules (fixtures live in tests/conftest.py)."""

from __future__ import annotations

from typing import Any


def onboard(
    api: Any,
    username: str,
    groups: tuple[str, ...] = ("ChildDeveloperGroup",),
    ticket: str | None = None,
) -> Any:
    """Onboard ``username`` through the REST API (asserting it worked); the answer."""
    answer = api.call(
        "POST",
        "/users",
        {
            "username": username,
            "groups": list(groups),
            "ticket": ticket or f"T-{username}",
            "requested_by": "alice",
        },
    )
    assert answer.status_code == 201, answer.json
    return answer
