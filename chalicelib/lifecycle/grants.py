"""Time-bound access: a group until an expiry (``grant``), taken away at the expiry by the
schedule (``expire_grant``) or earlier by its holder (``end_grant``), the sessions of the roles
only it allowed revoked with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.kernel.errors import BadRequest, Conflict, Forbidden
from chalicelib.kernel.identity import same_person
from chalicelib.kernel.ports import Revoked
from chalicelib.kernel.snapshot import Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import rules
from chalicelib.lifecycle.parts import Part
from chalicelib.lifecycle.revoking import owed, with_revocation
from chalicelib.lifecycle.views import Shown, used

if TYPE_CHECKING:
    from chalicelib.lifecycle.commands import ExpireGrantRequest, GrantRequest


class Grants(Part):
    """Time-bound access, each ``(username, request, snap=None)``."""

    def grant(self, username: str, request: GrantRequest, snap: Snapshot | None = None) -> dict:
        """Add to ``request.group`` until now + hours; a schedule takes it away again."""
        group = request.group
        limit = self.settings.grant_max_hours.get(group)
        if limit is None:
            grantable = ", ".join(sorted(self.settings.grant_max_hours)) or "none"
            raise Forbidden(f"{group} cannot be granted for a time; grantable groups: {grantable}")
        if request.hours > limit:
            raise BadRequest(f"{group} may be granted for at most {limit} hours")
        snap = snap or self.reader.read("grant", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        rules.check_groups(self.settings, [group], snap)
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; restore them before granting access")
        if group in record.get("groups", []):
            raise Conflict(f"{name} is a member of {group} already, without an expiry")
        before = self.access.roles_before(snap)
        grants = [g for g in record.get("grants", []) if g["group"] != group]
        earlier = [g for g in record.get("grants", []) if g["group"] == group]
        if earlier and earlier[0].get("ticket") == request.ticket:
            grant = earlier[0]  # a retry keeps the expiry of the first attempt
        else:
            expires = self.clock() + timedelta(hours=request.hours)
            grant = {
                "group": group,
                "expires_at": expires.isoformat(timespec="seconds"),
                "ticket": request.ticket,
                "requested_by": request.requested_by,
                "reason": request.reason,
            }
        record = {**record, "grants": sorted(grants + [grant], key=lambda g: g["group"])}
        done = wave(
            {
                "add": lambda: self.iam.add_to_group(name, group),
                "record": lambda: self.state.put_record(name, record),
                **self.views.last_used_tasks(snap.keys),
            }
        )
        self.changes_done()
        groups = sorted(set(snap.groups or []) | {group})
        view = self.views.show(
            snap,
            Shown(
                name=name,
                arn=user["arn"],
                record=record,
                groups=groups,
                console=bool(snap.console),
                keys=snap.keys or [],
                last_used=used(done),
            ),
        )
        return self.access.with_config(view, view, before)

    def expire_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """Take a grant's group away and revoke the sessions of the roles only it allowed."""
        group = request.group
        found = wave(
            {
                "record": lambda: self.state.get_record(username),
                "access": lambda: self.iam.group_access(self.settings.allowed_groups),
                "user": lambda: self.iam.get_user(username),
            }
        )
        record = found["record"] or {"status": "active", "grants": []}
        name = record.get("username", username)
        remaining = [g for g in record.get("grants", []) if g["group"] != group]
        keeps = set(record.get("groups", [])) | {g["group"] for g in remaining}
        revoked = Revoked([], {})
        if group not in keeps:
            lost = self.revoking.lost_targets(
                self.access.roles([group], found["access"]),
                self.access.roles(keeps, found["access"]),
            )
            tasks: dict[str, Callable[[], Any]] = {
                "sessions": lambda: self.revoking.roles(name, lost)
            }
            user = found["user"]
            # The grant's holder left with their user; a later holder of the name keeps their
            # own memberships (the sessions' deny, issued before now, costs them a new session).
            if not user or same_person(record, user["id"]):
                tasks["remove"] = lambda: self.iam.remove_from_group(name, group)
            revoked = wave(tasks)["sessions"]
        record = {
            **record,
            "grants": remaining,
            **owed(record, revoked, self.revoking.moment(), whole=False),
        }
        self.state.put_record(name, record)
        return with_revocation({"username": name, "group": group}, revoked, record)

    def end_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """End one's own time-bound access now: as at its expiry, the group goes and so do the
        sessions of the roles only it allowed."""
        found = wave(
            {
                "record": lambda: self.state.get_record(username),
                "user": lambda: self.iam.get_user(username),
            }
        )
        record, user = found["record"] or {}, found["user"]
        # A record of an earlier holder of the name ends nothing of the user who holds it now.
        mine = bool(user) and same_person(record, user["id"])
        if not mine or not any(g["group"] == request.group for g in record.get("grants", [])):
            raise Conflict(f"{username} holds no time-bound access to {request.group}")
        return self.expire_grant(username, request, snap)
