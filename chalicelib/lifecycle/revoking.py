"""Revoking a person's live sessions: their role sessions in the child accounts (through the
revoker's session denies) and their AWS Sign-In sessions in the root account, and what the record
and the answer say of it. Nothing is claimed that did not happen: what failed is owed, named with
why, and retried by the schedule (``revoke_sessions``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.kernel.errors import AppError
from chalicelib.kernel.identity import PERSON
from chalicelib.kernel.ports import Clock, Revoked, Revoker, SignIn, StateStore
from chalicelib.kernel.snapshot import Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import access_map
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.kernel.commands import TicketRequest


class Revoking:
    """Revoking a person's live sessions, for every change that takes access away."""

    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        revoker: Revoker,
        signin: SignIn,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.state = state
        self.revoker = revoker
        self.signin = signin
        self.clock = clock

    def moment(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def arn(self, snap: Snapshot, name: str) -> str:
        """The user's ARN, path included: read, or (once deleted) as IAM wrote it."""
        if snap.user:
            return str(snap.user["arn"])
        return access_map.user_arn(self.settings.root_account_id, self.settings.managed_path, name)

    def everywhere(self, snap: Snapshot, name: str, arn: str) -> tuple[Revoked, int]:
        """Every live session of ``name``: their role sessions in every child account (through
        the revocation the reads began, if any) and, beside them, their AWS Sign-In sessions in
        the root account. What failed is owed, the root account's under its own id."""
        done = wave(
            {
                "roles": lambda: self.roles_of(snap, name),
                "signin": partial(self.signin_sessions, arn),
            }
        )
        return self.with_signin(done["roles"], done["signin"])

    def roles_of(self, snap: Snapshot, name: str) -> Revoked:
        """Every role session of ``name`` in every child account, through the revocation the
        reads began, if any."""
        if snap.revocation is None:
            return self.revoker.revoke([name])
        return snap.revocation.commit([name])

    def with_signin(self, revoked: Revoked, signin: tuple[int, str | None]) -> tuple[Revoked, int]:
        """The role revocation and the Sign-In one together; the latter, if it failed, owed
        under the root account's id."""
        count, failure = signin
        if failure is not None:
            revoked = revoked._replace(
                pending={**revoked.pending, self.settings.root_account_id: failure}
            )
        return revoked, count

    def signin_sessions(self, arn: str) -> tuple[int, str | None]:
        """(sessions revoked, why some may be left): never raises, it is owed instead."""
        try:
            return self.signin.revoke_sessions(arn), None
        except AppError as error:
            return 0, f"AWS Sign-In sessions not revoked: {error.message}"

    def lost_targets(self, before: list[str], after: list[str]) -> dict[str, list[str]]:
        """{account: [role]} of the managed child roles in ``before`` but not in ``after``."""
        lost = set(before) - set(after)
        if not lost:
            return {}
        children = set(self.revoker.every_role())
        targets: dict[str, list[str]] = {}
        for arn in sorted(lost):
            account, role = access_map.account_and_role(arn)
            if role in self.settings.revocable_roles and account in children:
                targets.setdefault(account, []).append(role)
        return targets

    def roles(self, name: str, targets: dict[str, list[str]]) -> Revoked:
        return self.revoker.revoke([name], targets) if targets else Revoked([], {})

    def revoke_sessions(
        self, username: str, request: TicketRequest, snap: Snapshot | None = None
    ) -> dict:
        """Revoke again where a revocation is owed: the child accounts that could not be
        reached, at the moment it was owed from (what was given since is not denied), and the
        root account's Sign-In sessions."""
        record = self.state.get_record(username) or {"status": "active", "grants": []}
        name = record.get("username", username)
        root = self.settings.root_account_id
        pending = [a for a in record.get("revocation_pending", []) if a != root]
        owed_from = record.get("revocation_owed_before")
        before = datetime.fromisoformat(owed_from) if owed_from else None
        tasks: dict[str, Callable[[], Any]] = {
            "roles": lambda: (
                self.revoker.revoke([name], self.revoker.every_role(pending), before)
                if pending
                else Revoked([], {})
            )
        }
        # Even for a person restored since: a Sign-In session of before the suspension must
        # not come back to life, and a newer one only means signing in again.
        if root in record.get("revocation_pending", []):
            arn = access_map.user_arn(root, self.settings.managed_path, name)
            tasks["signin"] = partial(self.signin_sessions, arn)
        done = wave(tasks)
        revoked = done["roles"]
        count, failure = done.get("signin", (0, None))
        if failure is not None:
            revoked = revoked._replace(pending={**revoked.pending, root: failure})
        elif "signin" in tasks:
            revoked = revoked._replace(done=sorted([*revoked.done, root]))
        record = {
            **record,
            **owed({**record, "revocation_pending": []}, revoked, owed_from or self.moment(), True),
            "sessions_revoked_in": sorted(
                set(record.get("sessions_revoked_in", [])) | set(revoked.done)
            ),
        }
        self.state.put_record(name, record)
        answer = {"username": name, "signin_sessions_revoked": count}
        return with_revocation(answer, revoked, record)


def owed_by_earlier(record: dict | None, person: str, root: str) -> dict:
    """What a revocation still owes for an earlier holder of the name (``record``: theirs),
    kept in the new holder's record so the schedule still retries it: the child accounts'
    session denies, from the moment they were owed (before this user existed, so none of
    theirs). Their own root-account Sign-In sessions died with their user."""
    if not record or record.get(PERSON) == person:
        return {}
    why = {a: w for a, w in (record.get("revocation_why") or {}).items() if a != root}
    pending = [a for a in record.get("revocation_pending") or [] if a != root]
    if not pending or not record.get("revocation_owed_before"):
        return {}
    return {
        "revocation_pending": pending,
        "revocation_why": {a: why.get(a, "owed") for a in pending},
        "revocation_owed_before": record["revocation_owed_before"],
    }


class Outcome:
    """The Sign-In revocation's outcome, waited for by the offboarding's last IAM wave."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: tuple[int, str | None] = (0, "AWS Sign-In sessions not revoked")

    def settle(self, value: tuple[int, str | None]) -> None:
        self._value = value
        self._ready.set()

    def after(self, task: Callable[[], Any]) -> Any:
        """Run ``task``; if it fails, the outcome is settled as owed (nobody waits forever)."""
        try:
            return task()
        finally:
            self._ready.set()

    def wait(self) -> tuple[int, str | None]:
        self._ready.wait()
        return self._value


def owed(record: dict, revoked: Revoked, moment: str, whole: bool) -> dict:
    """The record's revocation fields after ``revoked``: where it worked, where it is still
    owed and why, and the moment it is owed from (the latest owed: denying more, never less).
    A ``whole`` revocation (every role everywhere, now) settles what was owed before it where
    it worked; a partial one (some roles) adds to it."""
    why = {} if whole else dict(record.get("revocation_why") or {})
    why.update(revoked.pending)
    fields: dict[str, Any] = {
        "sessions_revoked_in": revoked.done,
        "revocation_pending": sorted(why),
        "revocation_why": why,
        "sessions_revoked_by_role_cutoff": revoked.role_cutoff,
    }
    earlier = record.get("revocation_owed_before") if why and not whole else None
    fields["revocation_owed_before"] = (
        (max(earlier, moment) if earlier else moment) if why else None
    )
    return fields


def with_revocation(answer: dict, revoked: Revoked, record: dict) -> dict:
    """``answer`` naming what this change revoked, what is still owed (account -> why) and
    where a whole role was cut off: nothing is claimed that did not happen."""
    answer = {**answer, "sessions_revoked_in": revoked.done}
    why = record.get("revocation_why") or {a: "owed" for a in record.get("revocation_pending", [])}
    if why:
        answer["sessions_revocation_pending"] = why
    if revoked.role_cutoff:
        answer["sessions_revoked_by_role_cutoff"] = revoked.role_cutoff
    return answer


def offboarded(username: str, record: dict) -> dict:
    answer = with_revocation(
        {"username": username, "removed": record.get("removed", {})},
        Revoked(
            record.get("sessions_revoked_in", []),
            {},
            record.get("sessions_revoked_by_role_cutoff") or [],
        ),
        record,
    )
    if "signin_sessions_revoked" in record:
        answer["signin_sessions_revoked"] = record["signin_sessions_revoked"]
    return answer
