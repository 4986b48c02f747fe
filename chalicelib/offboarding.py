"""Offboarding: revoke access in one wave, delete every dependent in the next, then the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import iam_cleanup
from chalicelib.waves import wave


def offboard_user(client: Any, username: str, removed_before: dict[str, list[str]],
                  save_progress: Callable[[dict[str, list[str]]], None]) -> dict[str, list[str]]:
    """Remove ``username`` and everything it owns. ``removed_before`` is what an earlier attempt
    removed and ``save_progress`` records each wave's, so the answer of a retry names everything."""
    removed = {kind: list(ids) for kind, ids in removed_before.items()}

    def run(steps: tuple[iam_cleanup.Step, ...]) -> None:
        results = wave({step.kind: (lambda step=step: step.run(client, username)) for step in steps})
        for kind, ids in results.items():
            removed[kind] = sorted(set(removed.get(kind, [])) | set(ids))
        save_progress(removed)

    run(iam_cleanup.ACCESS_WAVE)
    run(iam_cleanup.CLEANUP_WAVE)
    run((iam_cleanup.USER_STEP,))
    # Keys were first deactivated, then deleted: report them once, as removed keys.
    removed["access_keys"] = sorted(set(removed.get("access_keys", []))
                                    | set(removed.pop("deleted_access_keys", [])))
    return {kind: ids for kind, ids in removed.items() if ids}
