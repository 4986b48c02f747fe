"""Offboarding: revoke access in one wave, delete every dependent in the next, then the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import iam_cleanup
from chalicelib.errors import AppError

# Accounts where sessions were revoked, and those that could not be reached, with why.
Revocation = tuple[list[str], dict[str, str]]
from chalicelib.waves import wave


def offboard_user(client: Any, username: str, removed_before: dict[str, list[str]],
                  save_progress: Callable[[dict[str, list[str]]], None],
                  revoke: Callable[[], Revocation], alongside: dict[str, Callable[[], Any]] | None = None
                  ) -> tuple[dict[str, list[str]], Revocation]:
    """Remove ``username`` and everything it owns; ``revoke`` ends their live sessions in the
    child accounts, in the first wave, beside the ``alongside`` tasks. ``removed_before`` is what an earlier attempt removed and
    ``save_progress`` records each wave's, so the answer of a retry names everything."""
    removed = {kind: list(ids) for kind, ids in removed_before.items()}
    revocation: list[Revocation] = []

    def run(steps: tuple[iam_cleanup.Step, ...], also: dict[str, Callable[[], Any]]) -> None:
        done: dict[str, list[str]] = {step.kind: [] for step in steps}

        def drain(step: iam_cleanup.Step) -> None:
            done[step.kind].extend(step.run(client, username))

        try:
            wave({**{step.kind: (lambda step=step: drain(step)) for step in steps}, **also})
        finally:  # what a failed wave did remove is recorded before the failure is raised
            for kind, ids in done.items():
                removed[kind] = sorted(set(removed.get(kind, [])) | set(ids))
            try:
                save_progress(removed)
            except AppError as error:
                # Not lost even so: the failure's audit event carries it.
                error.detail = {"removed": _report(removed)}
                raise

    run(iam_cleanup.ACCESS_WAVE, {"sessions": lambda: revocation.append(revoke()), **(alongside or {})})
    run(iam_cleanup.CLEANUP_WAVE, {})
    run((iam_cleanup.USER_STEP,), {})
    return _report(removed), revocation[0]


def _report(removed: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keys are first deactivated, then deleted: name them once, as removed access keys."""
    report = {kind: ids for kind, ids in removed.items() if ids and kind != "deleted_access_keys"}
    keys = set(removed.get("access_keys", [])) | set(removed.get("deleted_access_keys", []))
    if keys:
        report["access_keys"] = sorted(keys)
    return report
