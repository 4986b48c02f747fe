"""The user as an answer shows it: built from what was read and what was done, never by
reading everything again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from chalicelib.kernel.ports import IamGateway
from chalicelib.kernel.snapshot import Reader, Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import rules
from chalicelib.lifecycle.access import Access
from chalicelib.settings import Settings


@dataclass(frozen=True)
class Shown:
    """What a view shows of a user after a change (the snapshot gives the rest)."""

    name: str
    arn: str
    record: dict
    groups: list[str]
    console: bool
    keys: list[dict]
    last_used: dict[str, str | None]
    mfa: bool | None = None  # None: as the snapshot read it


class Views:
    """USER, from a snapshot and what a change did."""

    def __init__(self, settings: Settings, iam: IamGateway, access: Access, reader: Reader) -> None:
        self.settings = settings
        self.iam = iam
        self.access = access
        self.reader = reader

    def describe(self, username: str) -> dict:
        """The user as it is: one wave of reads, and one more for when its keys were used."""
        snap = self.reader.read("describe", username)
        user = self.reader.managed(snap)
        return self.view(user, snap, self.last_used(snap.keys))

    def describe_if_exists(self, username: str) -> dict | None:
        """The user as :meth:`describe` shows it, or None; the user is looked up first, so that
        nothing is asked of IAM about a name that is not there (a plan's state before)."""
        self.reader.check_user_allowed(username)
        user = self.iam.get_user(username)
        if not user or user["path"] != self.settings.managed_path:
            return None
        return self.describe(username)

    def show(self, snap: Snapshot, shown: Shown) -> dict:
        """USER, as the contract names it."""
        record = shown.record
        view = {
            "username": shown.name,
            "arn": shown.arn,
            "status": "suspended" if record.get("status") in rules.SUSPENDED else "active",
            "groups": sorted(shown.groups),
            # Shown, never read: their policies are not the service's to read.
            "unmanaged_groups": rules.foreign(self.settings, shown.groups),
            "console": shown.console,
            "mfa": bool(snap.mfa if shown.mfa is None else shown.mfa),
            "access_keys": [{**k, "last_used": shown.last_used.get(k["id"])} for k in shown.keys],
            "roles": self.access.roles(shown.groups, snap.access),
            "grants": rules.shown_grants(record.get("grants", [])),
        }
        if record.get("suspended_until"):
            view["suspended_until"] = record["suspended_until"]
        return view

    def view(self, user: dict, snap: Snapshot, last_used: dict[str, str | None]) -> dict:
        """The managed ``user`` as the snapshot shows it (a read, not a change)."""
        shown = Shown(
            name=user["username"],
            arn=user["arn"],
            record=snap.state,
            groups=snap.groups or [],
            console=bool(snap.console),
            keys=snap.keys or [],
            last_used=last_used,
        )
        return self.show(snap, shown)

    def last_used(self, keys: list[dict] | None) -> dict[str, str | None]:
        """When each key was last used: one wave."""
        return used(wave(self.last_used_tasks(keys)))

    def last_used_tasks(self, keys: list[dict] | None) -> dict[str, Callable[[], Any]]:
        """Tasks reading each key's last use, for the wave that changes things."""
        return {f"used:{k['id']}": partial(self.iam.last_used, k["id"]) for k in keys or []}


def used(results: dict[str, Any]) -> dict[str, str | None]:
    """Each key's last use, from the results of a wave that ran :meth:`Views.last_used_tasks`."""
    return {name[5:]: value for name, value in results.items() if name.startswith("used:")}
