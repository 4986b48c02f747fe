"""On-call auto-approval, pure: a group's policy may name a PagerDuty schedule (being on call on
it is enough) or an escalation policy and the highest escalation level that approves at once.
A request for such a group is approved without an approver when the person it is for, matched
by the e-mail kept on their user, is on call there now; otherwise it goes to the approvers as
any other, with a note when the answer could not be had. Nothing here does I/O: who is on call
comes in as ``OnCallEntry`` rows (``chalicelib.kernel.ports``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from chalicelib.approvals.rules import APPROVED, PENDING, iso
from chalicelib.kernel.errors import ConfigurationError, Conflict
from chalicelib.kernel.ports import OnCallEntry

# PagerDuty's object ids: P followed by upper-case letters and digits.
_PAGERDUTY_ID = re.compile(r"^P[A-Z0-9]{5,13}$")
SOURCE_PREFIX = "pagerduty:"


@dataclass(frozen=True)
class OnCall:
    """Where a group's auto-approving on-call people are: one schedule, or one escalation
    policy up to ``max_level`` (level 1 is the first to be paged)."""

    schedule: str = ""
    escalation_policy: str = ""
    max_level: int = 0

    @property
    def source(self) -> str:
        """Who decides an auto-approval, as the audit and the request name it."""
        return SOURCE_PREFIX + (self.schedule or self.escalation_policy)

    def describe(self) -> str:
        if self.schedule:
            return f"schedule {self.schedule}"
        return f"escalation policy {self.escalation_policy} up to level {self.max_level}"


def parse(raw: Any, where: str) -> OnCall:
    """A policy's ``on_call``: ``{"schedule": "P..."}`` or ``{"escalation_policy": "P...",
    "max_level": n}``; anything else stops the start with what to fix."""
    shapes = '{"schedule": "P..."} or {"escalation_policy": "P...", "max_level": 1}'
    if not isinstance(raw, dict) or not raw:
        raise ConfigurationError(f"{where} must be {shapes}")
    unknown = set(raw) - {"schedule", "escalation_policy", "max_level"}
    if unknown:
        raise ConfigurationError(f"{where} has unknown keys {sorted(unknown)}; it must be {shapes}")
    if ("schedule" in raw) == ("escalation_policy" in raw):
        raise ConfigurationError(
            f"{where} must name either a schedule or an escalation policy, not both or neither"
        )
    if "schedule" in raw:
        if "max_level" in raw:
            raise ConfigurationError(
                f"{where}.max_level belongs to an escalation policy; being on call on a "
                "schedule is enough"
            )
        return OnCall(schedule=_pagerduty_id(raw["schedule"], f"{where}.schedule"))
    policy = _pagerduty_id(raw["escalation_policy"], f"{where}.escalation_policy")
    level = raw.get("max_level")
    if not (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 20):
        raise ConfigurationError(
            f"{where}.max_level must be the highest escalation level that approves at once, "
            "a whole number from 1 to 20"
        )
    return OnCall(escalation_policy=policy, max_level=level)


def _pagerduty_id(value: Any, where: str) -> str:
    if not (isinstance(value, str) and _PAGERDUTY_ID.match(value)):
        raise ConfigurationError(f"{where} must be a PagerDuty id such as PABC123")
    return value


class Match(NamedTuple):
    """An auto-approval: the lowest level the person is on call at, and where."""

    level: int
    source: str


class Outcome(NamedTuple):
    """What the on-call check found: a match approves; otherwise a note for the approvers
    (empty: nothing worth telling them)."""

    match: Match | None = None
    note: str = ""


def assess(
    rule: OnCall, username: str, email: str | None, entries: Iterable[OnCallEntry]
) -> Outcome:
    """Whether ``username`` (whose user keeps ``email``) is on call where ``rule`` says, at a
    level that approves. Only entries of the rule's own schedule or escalation policy count,
    whatever the directory answered."""
    mine = [e for e in entries if _same_place(rule, e) and e.level >= 1]
    if not email:
        if not mine:
            return Outcome()
        return Outcome(
            note=f"{username} has no e-mail on their user, so PagerDuty cannot tell whether "
            "they are on call; decide as usual"
        )
    theirs = sorted(e.level for e in mine if _same_email(e.email, email))
    if not theirs:
        return Outcome()
    if rule.schedule:
        return Outcome(Match(theirs[0], rule.source))
    within = [level for level in theirs if level <= rule.max_level]
    if within:
        return Outcome(Match(within[0], rule.source))
    return Outcome(
        note=f"{username} is on call at level {theirs[0]} of {rule.escalation_policy}; only "
        f"levels up to {rule.max_level} are approved at once"
    )


def unavailable(why: str) -> Outcome:
    """PagerDuty could not be asked: never an approval, and the approvers are told."""
    return Outcome(
        note=f"PagerDuty could not be asked whether the requester is on call ({why}); decide as usual"
    )


def _same_place(rule: OnCall, entry: OnCallEntry) -> bool:
    if rule.schedule:
        return entry.schedule == rule.schedule
    return entry.escalation_policy == rule.escalation_policy


def _same_email(found: str, kept: str) -> bool:
    return found.strip().casefold() == kept.strip().casefold()


def approve(request: dict, match: Match, now: datetime) -> dict:
    """A pending request approved because its person is on call: decided by PagerDuty's
    schedule or escalation policy, at ``match.level``."""
    if request["status"] != PENDING:
        raise Conflict(f"this request is {request['status']} already; nothing was changed")
    return {
        **request,
        "status": APPROVED,
        "decided_by": match.source,
        "decided_at": iso(now),
        "on_call": {"level": match.level, "by": match.source},
        "version": request.get("version", 0) + 1,
    }


def with_note(request: dict, note: str) -> dict:
    """A pending request with what the approvers should know of the on-call check."""
    return {**request, "on_call_note": note, "version": request.get("version", 0) + 1}


def result(match: Match) -> str:
    """The audit result of an auto-approval."""
    return f"ok: approved: on call (level {match.level})"
