"""Time-bound access: a group until an expiry (``grant``), made longer as its policy allows
(``extend``), taken away at the expiry by the schedule (``expire_grant``), earlier by its holder
(``end_grant``) or when the ticket it was made under closes (``close_ticket``), the sessions of
the roles only it allowed revoked with it. Grants are counted per person and group: the group
goes only when no grant of it (nor a membership without expiry) covers now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
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
    from chalicelib.lifecycle.commands import (
        CloseTicketRequest,
        ExpireGrantRequest,
        ExtendGrantRequest,
        GrantRequest,
    )


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
        grants = list(record.get("grants", []))
        # A retry keeps what its first attempt granted; any other grant of the group is one
        # more beside those held: each ends at its own expiry, none ends another.
        again = [g for g in grants if g["group"] == group and g.get("ticket") == request.ticket]
        if not again:
            now = self.clock()
            grants.append(
                {
                    "group": group,
                    "granted_at": now.isoformat(timespec="seconds"),
                    "expires_at": (now + timedelta(hours=request.hours)).isoformat(
                        timespec="seconds"
                    ),
                    "ticket": request.ticket,
                    "requested_by": request.requested_by,
                    "reason": request.reason,
                }
            )
        record = {**record, "grants": rules.ordered(grants)}
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
        """End the grants of a group whose expiry has come (by ``request.due``, when the
        schedule names it; else all of them); the group goes (and the sessions of the roles
        only it allowed) only when no other grant of it covers now."""
        group = request.group
        due = request.due.isoformat(timespec="seconds") if request.due else None
        return self._end_group(
            username,
            group,
            lambda g: g["group"] == group and (due is None or g["expires_at"] <= due),
        )

    def end_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """End one's own time-bound access now: every grant of the group ends, and, as at an
        expiry, the group goes and so do the sessions of the roles only it allowed."""
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
        return self._end_group(username, request.group, lambda g: g["group"] == request.group)

    def close_ticket(
        self, username: str, request: CloseTicketRequest, snap: Snapshot | None = None
    ) -> dict:
        """End now every grant of the person made under a ticket that closed; a group another
        grant still covers stays, the others go with the sessions only they allowed."""
        made = set(request.grants)
        answer, ended, lost = self._end(username, lambda g: g.get("ticket") in made)
        shown = [{"group": g["group"], "expires_at": g["expires_at"]} for g in ended]
        return {**answer, "ticket": request.closed, "ended": shown, "removed_from": lost}

    def extend(
        self, username: str, request: ExtendGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """Make the person's current grant of a group (the one covering now that ends last, or
        the one made under ``request.grant_ticket`` when named) longer by ``request.hours``,
        from its expiry; at most ``request.most`` times a grant, once per ticket."""
        snap = snap or self.reader.read("extend", username, request)
        name = self.reader.managed(snap)["username"]
        record, group = snap.state, request.group
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; nothing can be extended")
        now = self.revoking.moment()
        covering = rules.covering(record.get("grants", []), group, now)
        if request.grant_ticket is not None:  # only the grant it was asked for
            covering = [g for g in covering if g.get("ticket") == request.grant_ticket]
            if not covering:
                raise Conflict(
                    f"the grant of {group} this extension was asked for has ended; nothing "
                    "was extended; ask for it again with `/access request`"
                )
        if not covering:
            raise Conflict(
                f"{name} holds no time-bound access to {group} now, so there is nothing to "
                "extend; ask for it with `/access request`"
            )
        grant = max(covering, key=lambda g: str(g["expires_at"]))
        used = int(grant.get("extensions", 0))
        if request.ticket in grant.get("extended_under", []):  # extended already: its answer
            return _extended(name, group, grant, request.most, used)
        if used >= request.most:
            raise Conflict(
                f"the grant of {group} was extended {used} time(s), the most its policy "
                "allows; ask for it again with `/access request`"
            )
        ends = datetime.fromisoformat(str(grant["expires_at"])) + timedelta(hours=request.hours)
        longer = {
            **grant,
            "expires_at": ends.isoformat(timespec="seconds"),
            "extensions": used + 1,
            "extended_at": now,
            # the tickets that extended it: a retry of one finds it done
            "extended_under": [*grant.get("extended_under", []), request.ticket],
        }
        grants = [longer if g is grant else g for g in record.get("grants", [])]
        record = {**record, "grants": rules.ordered(grants)}
        wave(
            {
                "add": lambda: self.iam.add_to_group(name, group),  # held: a no-op
                "record": lambda: self.state.put_record(name, record),
            }
        )
        self.changes_done()
        return {
            **_extended(name, group, longer, request.most, used + 1),
            "extended_from": grant["expires_at"],
        }

    def _end_group(self, username: str, group: str, ends: Callable[[dict], bool]) -> dict:
        answer, _, lost = self._end(username, ends)
        answer = {"username": answer.pop("username"), "group": group, **answer}
        if group not in lost and "held_until" in answer:
            answer["held_until"] = answer["held_until"].get(group)
        return answer

    def _end(
        self, username: str, ends: Callable[[dict], bool]
    ) -> tuple[dict, list[dict], list[str]]:
        """End the grants ``ends`` picks: what no kept grant or membership covers now is taken
        away, with the sessions of the roles only it allowed."""
        found = wave(
            {
                "record": lambda: self.state.get_record(username),
                "access": lambda: self.iam.group_access(self.settings.allowed_groups),
                "user": lambda: self.iam.get_user(username),
            }
        )
        record = found["record"] or {"status": "active", "grants": []}
        name = record.get("username", username)
        permanent = list(record.get("groups", []))
        kept, ended, lost = rules.ending(
            record.get("grants", []), ends, permanent, self.revoking.moment()
        )
        if not ended:  # extended or ended meanwhile: nothing to do
            return {"username": name, "unchanged": True}, [], []
        revoked = Revoked([], {})
        if lost:
            keeps = set(permanent) | {g["group"] for g in kept}
            targets = self.revoking.lost_targets(
                self.access.roles(lost, found["access"]),
                self.access.roles(keeps, found["access"]),
            )
            tasks: dict[str, Callable[[], Any]] = {
                "sessions": lambda: self.revoking.roles(name, targets)
            }
            user = found["user"]
            # The grant's holder left with their user; a later holder of the name keeps their
            # own memberships (the sessions' deny, issued before now, costs them a new session).
            if not user or same_person(record, user["id"]):
                tasks.update(
                    {f"remove:{g}": partial(self.iam.remove_from_group, name, g) for g in lost}
                )
            revoked = wave(tasks)["sessions"]
        record = {
            **record,
            "grants": kept,
            **owed(record, revoked, self.revoking.moment(), whole=False),
        }
        self.state.put_record(name, record)
        answer: dict[str, Any] = {"username": name}
        held = [g for g in rules.shown_grants(kept) if g["group"] in {e["group"] for e in ended}]
        if held:  # another grant of the group covers now: it stays until then
            answer["held_until"] = {g["group"]: g["expires_at"] for g in held}
        return with_revocation(answer, revoked, record), ended, lost


def _extended(name: str, group: str, grant: dict, most: int, used: int) -> dict:
    """The answer of an extension: until when, and how many are left of ``most``."""
    return {
        "username": name,
        "group": group,
        "expires_at": grant["expires_at"],
        "extensions": used,
        "extensions_left": max(most - used, 0),
    }
