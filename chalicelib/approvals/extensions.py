"""Extensions of time-bound access, as a group's approval policy allows them: pure rules.

A policy's ``extensions`` is ``{"count": n, "hours": h, "notice_minutes": m, "approval":
false}``: a person may make their current grant of the group longer by at most ``h`` hours at a
time, at most ``n`` times, and is told ``m`` minutes before it ends, with an Extend button. Each
extension adds to the grant's expiry (not to now), so a grant lives at most its own hours plus
``n`` × ``h``; a new grant of the group starts its own count. ``approval: true`` makes each
extension a request the group's approvers decide, as ``/access request`` is: checked here
against the cap before it is asked (``check_asked``), and again when it is granted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden

KEYS = {"count", "hours", "notice_minutes", "approval"}
# "max" is the contract's first name of "count" (docs/approvals.md): either, not both.
ALIASES = {"max": "count"}


@dataclass(frozen=True)
class Extensions:
    count: int  # extensions of one grant, at most
    hours: int  # hours one extension adds, at most
    notice_minutes: int  # the notice before a grant ends
    approval: bool = False  # each extension decided by the group's approvers


def extensions_from(raw: Any, where: str, max_hours: int) -> Extensions | None:
    """A policy's ``extensions`` (None: the group's grants cannot be extended)."""
    if raw is None:
        return None
    if isinstance(raw, dict) and not any(a in raw and n in raw for a, n in ALIASES.items()):
        raw = {ALIASES.get(k, k): v for k, v in raw.items()}
    if not isinstance(raw, dict) or set(raw) - KEYS or not {"count", "hours"} <= set(raw):
        raise ConfigurationError(
            f"{where} must be an object with count and hours (and notice_minutes, approval)"
        )
    count, hours = raw["count"], raw["hours"]
    notice = raw.get("notice_minutes", 30)
    if not (_whole(count) and 1 <= count <= 100):
        raise ConfigurationError(f"{where}.count must be a whole number from 1 to 100")
    if not (_whole(hours) and 1 <= hours <= max_hours):
        raise ConfigurationError(f"{where}.hours must be a whole number from 1 to {max_hours}")
    if not (_whole(notice) and 5 <= notice <= 24 * 60):
        raise ConfigurationError(f"{where}.notice_minutes must be a whole number from 5 to 1440")
    if not isinstance(raw.get("approval", False), bool):
        raise ConfigurationError(f"{where}.approval must be true or false")
    return Extensions(count, hours, notice, raw.get("approval", False))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def hours_of(asked: int | None, extensions: Extensions, group: str) -> int:
    """The hours one extension adds: those asked for (all the policy allows when none)."""
    if asked is None:
        return extensions.hours
    if asked < 1:
        raise BadRequest("hours must be a positive whole number")
    if asked > extensions.hours:
        raise BadRequest(f"{group} may be extended by at most {extensions.hours} hours at a time")
    return asked


def current(grants: Iterable[dict], group: str, now: datetime) -> dict | None:
    """The grant of ``group`` that holds it longest among those covering now."""
    moment = now.isoformat(timespec="seconds")
    covering = [g for g in grants if g["group"] == group and str(g["expires_at"]) > moment]
    return max(covering, key=lambda g: str(g["expires_at"])) if covering else None


def check_asked(
    extensions: Extensions | None,
    username: str,
    group: str,
    hours: int,
    grants: Iterable[dict],
    now: datetime,
) -> dict:
    """Refuse an extension that may not be asked for (no extensions in the policy, more hours
    than one extension adds, no grant covering now, the grant's cap reached); else what it
    extends: ``{"expires_at", "ticket"}`` of the current grant (its ticket names that grant)."""
    if extensions is None:
        raise Forbidden(
            f"{group} cannot be extended: its approval policy allows no extensions; "
            "ask for it again with `/access request`"
        )
    hours_of(hours, extensions, group)
    grant = current(grants, group, now)
    if grant is None:
        raise Conflict(
            f"{username} holds no time-bound access to {group} now, so there is nothing to "
            "extend; ask for it with `/access request`"
        )
    used = int(grant.get("extensions", 0))
    if used >= extensions.count:
        raise Conflict(
            f"the grant of {group} was extended {used} time(s), the most its policy "
            "allows; ask for it again with `/access request`"
        )
    return {"expires_at": str(grant["expires_at"]), "ticket": str(grant.get("ticket", ""))}


def notices_due(
    records: Iterable[dict], policies: Mapping[str, Extensions], now: datetime
) -> list[dict]:
    """The notices owed now: for each active person linked to a Slack member, each group whose
    policy allows extensions and whose current grant ends within its notice."""
    due = []
    for record in records:
        member = record.get("slack_user")
        if record.get("status") != "active" or not member:
            continue
        for group in sorted({g["group"] for g in record.get("grants", [])} & set(policies)):
            extensions = policies[group]
            grant = current(record["grants"], group, now)
            if grant is None:
                continue
            ends = datetime.fromisoformat(str(grant["expires_at"]))
            if ends - timedelta(minutes=extensions.notice_minutes) > now:
                continue
            used = int(grant.get("extensions", 0))
            due.append(
                {
                    "username": record["username"],
                    "slack_user": member,
                    "group": group,
                    "expires_at": str(grant["expires_at"]),
                    "extensions_left": max(extensions.count - used, 0),
                    "hours": extensions.hours,
                    "approval": extensions.approval,
                }
            )
    return due
