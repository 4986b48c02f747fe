"""Credential hygiene's changes, one credential each: deactivate an access key, delete one this
service deactivated, remove a console login. Each is judged again, when due, on what is read then
(a person who used the credential since the notice is left alone), and remembered in the user's
record for a restore to give back. The runner runs them as it runs the lifecycle's changes: the
catalogue names them, and the composition root registers :data:`ACTIONS` with the runner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.hygiene import report, rules
from chalicelib.hygiene import settings as hygiene_settings
from chalicelib.kernel.errors import BadRequest, Conflict, NotFound
from chalicelib.kernel.ports import Clock, IamGateway, StateStore
from chalicelib.kernel.snapshot import Reader, Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.hygiene.commands import HygieneRequest

# The actions this module carries out, as the catalogue names them.
ACTIONS = ("deactivate_key", "delete_key", "remove_console")


class HygieneActions:
    """Credential hygiene's changes, each ``(username, request, snap=None)``."""

    def __init__(
        self,
        settings: Settings,
        iam: IamGateway,
        state: StateStore,
        clock: Clock,
        reader: Reader,
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.clock = clock
        self.reader = reader
        # Called where a change's changes end and its answer begins; the runner sets it when
        # this registers (a dry run stops there: what follows only reads, to answer).
        self.changes_done: Callable[[], None] = lambda: None

    @property
    def policy(self) -> rules.Policy:
        return hygiene_settings.policy(self.settings)

    def read(self, action: str, username: str, request: HygieneRequest | None = None) -> Snapshot:
        """The snapshot ``action`` is judged on again (:data:`chalicelib.kernel.snapshot.READS`)."""
        return self.reader.read(action, username, request)

    def perform(
        self, action: str, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Carry out one of :data:`ACTIONS` on the snapshot read for it (None: it reads its own)."""
        if action not in ACTIONS:
            raise KeyError(f"credential hygiene does not carry out {action}")
        return dict(getattr(self, action)(username, request, snap))

    def deactivate_key(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Deactivate one access key whose rule is due, judged again on what is read now."""
        snap = snap or self.read("deactivate_key", username, request)
        name, record, key_ = self._hygiene_key(snap, request)
        taken = record.get("hygiene_taken") or {}
        keys = dict(taken.get("keys") or {})
        retry = key_["status"] != "Active" and key_["id"] in keys
        if not retry:
            if key_["status"] != "Active":
                raise Conflict(f"key {key_['id']} of {name} is inactive already")
            used = {key_["id"]: self.iam.last_used(key_["id"])}
            self._check_due(snap, request, used)
            keys[key_["id"]] = self.clock().date().isoformat()
        record = {**record, "hygiene_taken": {**taken, "keys": keys}}
        wave(
            {
                "key": lambda: self.iam.set_key_status(name, key_["id"], "Inactive"),
                "record": lambda: self.state.put_record(name, record),
            }
        )
        self.changes_done()
        return _hygiene_done(name, request, "deactivated")

    def delete_key(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Delete a key this service deactivated, once the deletion rule's further period passed
        (off unless the stage turns it on). A deleted key cannot be given back."""
        snap = snap or self.read("delete_key", username, request)
        name, record, key_ = self._hygiene_key(snap, request, missing_ok=True)
        taken = record.get("hygiene_taken") or {}
        keys = dict(taken.get("keys") or {})
        deleted = sorted(set(record.get("hygiene_deleted", [])) | {request.credential})
        if key_ is not None:  # else: deleted already by an attempt whose record was not written
            if key_["status"] == "Active" or key_["id"] not in keys:
                raise Conflict(
                    f"key {key_['id']} of {name} was not deactivated by this service; "
                    "it is not its to delete"
                )
            self._check_due(snap, request, {})
        keys.pop(request.credential, None)
        record = {**record, "hygiene_taken": {**taken, "keys": keys}, "hygiene_deleted": deleted}
        tasks: dict[str, Callable[[], Any]] = {
            "record": lambda: self.state.put_record(name, record)
        }
        if key_ is not None:
            tasks["key"] = lambda: self.iam.delete_access_key(name, request.credential)
        wave(tasks)
        self.changes_done()
        return _hygiene_done(name, request, "deleted")

    def remove_console(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Remove the console login (dormant password, or no MFA), judged again on what is read
        now; a restore gives it back with a new temporary password."""
        snap = snap or self.read("remove_console", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        record = self._hygiene_record(name, snap, request, rules.CONSOLE)
        taken = record.get("hygiene_taken") or {}
        if snap.login is None:
            if not taken.get("console"):
                raise Conflict(f"{name} has no console login")
        else:
            self._check_due(snap, request, {})
            taken = {**taken, "console": self.clock().date().isoformat()}
        record = {**record, "hygiene_taken": taken}
        wave(
            {
                "console": lambda: self.iam.delete_login_profile(name),
                "record": lambda: self.state.put_record(name, record),
            }
        )
        self.changes_done()
        return _hygiene_done(name, request, "removed")

    def _hygiene_record(
        self, name: str, snap: Snapshot, request: HygieneRequest, credential: str | None = None
    ) -> dict:
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; hygiene changes active users only")
        rule = self.policy.rule(request.rule)
        if credential is not None and request.credential != credential:
            raise BadRequest(f"{request.rule} acts on {credential}, not {request.credential}")
        if rule.mode != rules.ACT:
            raise Conflict(f"the rule {rule.name} does not act in this stage ({rule.mode})")
        return record

    def _hygiene_key(
        self, snap: Snapshot, request: HygieneRequest, missing_ok: bool = False
    ) -> tuple[str, dict, Any]:
        user = self.reader.managed(snap)
        name = user["username"]
        record = self._hygiene_record(name, snap, request)
        found = next((k for k in snap.keys or [] if k["id"] == request.credential), None)
        if found is None and not missing_ok:
            raise NotFound(f"{name} has no access key {request.credential}")
        return name, record, found

    def _check_due(self, snap: Snapshot, request: HygieneRequest, used: dict) -> None:
        """The rule judged again on the facts read now: a person who used the credential, or
        was given MFA or changed by hand, since the notice is not acted on."""
        facts = report.user_facts(
            snap.username,
            snap.user or {},
            login=snap.login,
            mfa=snap.mfa,
            keys=snap.keys,
            used=used,
            record=snap.state,
        )
        today = self.clock().date()
        if not rules.still_due(facts, request.rule, request.credential, self.policy, today):
            raise Conflict(
                f"{request.rule} is not due on {request.credential} of {facts.username} any "
                "more (used or changed since it was noticed); nothing was done"
            )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _hygiene_done(name: str, request: HygieneRequest, done: str) -> dict:
    return {"username": name, "rule": request.rule, "credential": request.credential, "done": done}
