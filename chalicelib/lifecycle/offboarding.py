"""Offboarding: from what the first wave listed, remove access and the live sessions at once,
then every other dependent, then the user, each wave as soon as the one it depends on is done."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from chalicelib.kernel.errors import AppError
from chalicelib.kernel.ports import Kind, Remover
from chalicelib.kernel.waves import wave

ACCESS, CLEANUP, AFTER_MFA, USER = 1, 2, 3, 4  # the waves of removals, in order


def targets(
    username: str, user: dict | None, lists: dict[tuple, list[str]], kinds: tuple[Kind, ...]
) -> dict[str, list[str]]:
    """The ids each kind removes. ``user`` is None on a retry that finds the user gone."""
    ids: dict[str, list[str]] = {}
    for kind in kinds:
        if kind.listing:
            ids[kind.kind] = lists.get(kind.listing, [])
    ids["login_profile"] = ids["user"] = [username]
    ids["permissions_boundary"] = [user["boundary"]] if user and user.get("boundary") else []
    virtual = {serial for serial in ids["mfa_devices"] if ":mfa/" in serial}
    if user:
        virtual.add(user["arn"].split(":user/")[0] + f":mfa/{username}")
    ids["virtual_mfa_devices"] = sorted(virtual)
    return ids


def known(ids: dict[str, list[str]], user: dict | None, console: bool) -> dict[str, list[str]]:
    """Of ``ids``, those the reads showed exist (not those tried in case they do: the login
    profile unread, the unassigned virtual MFA device): what an offboarding writes as its intent
    before removing anything, so that what a crash removed is known by what is gone after it."""
    if not user:
        return {}
    shown = {kind: list(found) for kind, found in ids.items() if found}
    shown["virtual_mfa_devices"] = [
        serial for serial in ids.get("virtual_mfa_devices", []) if serial in ids["mfa_devices"]
    ]
    if not console:
        shown.pop("login_profile", None)
    return {kind: found for kind, found in shown.items() if found}


def gone(intent: dict[str, list[str]], now: dict[str, list[str]]) -> dict[str, list[str]]:
    """What an earlier attempt meant to remove and is there no more: removed by it."""
    return {
        kind: sorted(set(found) - set(now.get(kind, [])))
        for kind, found in intent.items()
        if set(found) - set(now.get(kind, []))
    }


def offboard_user(
    iam: Remover,
    username: str,
    ids: dict[str, list[str]],
    removed_before: dict[str, list[str]],
    save_progress: Callable[[dict[str, list[str]]], None],
    before_user: Callable[[], None] = lambda: None,
) -> dict[str, list[str]]:
    """Remove ``ids`` wave by wave; ``before_user`` is waited for before the user is deleted
    (what can only be done while the user exists). Each wave's removals are recorded beside
    the next wave; what a failed wave removed rides on the error (its audit event keeps it),
    so the answer of a retry names everything."""
    removed = {kind: list(found) for kind, found in removed_before.items()}
    saved: dict[str, Callable[[], Any]] = {}

    def phase(number: int, also: dict[str, Callable[[], Any]]) -> None:
        done: dict[str, list[str]] = {
            kind.kind: [] for kind in iam.cleanup_kinds if kind.phase == number
        }

        def remove(kind: Kind, item: str) -> None:
            if iam.remove_dependent(kind, username, item):
                done[kind.kind].append(item)

        tasks = {
            f"{kind.kind}:{item}": (lambda kind=kind, item=item: remove(kind, item))
            for kind in iam.cleanup_kinds
            if kind.phase == number
            for item in ids.get(kind.kind, [])
        }
        try:
            wave({**tasks, **also})
        except AppError as error:
            error.detail = {**(error.detail or {}), "removed": _report(_merged(removed, done))}
            raise
        finally:
            merged = _merged(removed, done)
            removed.clear()
            removed.update(merged)

    phase(ACCESS, {})
    for number in (CLEANUP, AFTER_MFA, USER):
        if number == USER:
            try:
                before_user()
            except AppError as error:
                error.detail = {**(error.detail or {}), "removed": _report(removed)}
                raise
        snapshot = {kind: list(found) for kind, found in removed.items()}
        saved = {"progress": partial(save_progress, snapshot)}
        phase(number, saved)
    return _report(removed)


def _merged(removed: dict[str, list[str]], done: dict[str, list[str]]) -> dict[str, list[str]]:
    kinds = set(removed) | set(done)
    return {kind: sorted(set(removed.get(kind, [])) | set(done.get(kind, []))) for kind in kinds}


def _report(removed: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keys are deactivated, then deleted; MFA devices deactivated, then the virtual ones deleted:
    each is named once, under its own kind."""
    folded = {"deleted_access_keys": "access_keys", "virtual_mfa_devices": "mfa_devices"}
    report: dict[str, set[str]] = {}
    for kind, found in removed.items():
        if found:
            report.setdefault(folded.get(kind, kind), set()).update(found)
    return {kind: sorted(found) for kind, found in report.items()}
