"""The inline deny that revokes people's live role sessions: pure functions over the document.

Assumed-role credentials stay valid after someone leaves a group, up to the role's
MaxSessionDuration. Every session of a child role is named after the person (the trust policy
requires ``sts:RoleSessionName = ${aws:username}``), so its ``aws:userid`` is ``ROLEID:<username>``
and one statement can deny exactly that person's sessions issued before a moment.

People revoked in the same minute share one statement (a layoff stays far below IAM's 10,240
character limit for a role's inline policies); each person appears in one statement only, the
latest. A statement is pruned once MaxSessionDuration has passed since its moment: every session
it could deny has expired by then.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

VERSION = "2012-10-17"
SIZE_LIMIT = 10_240


def _minute_after(moment: datetime) -> datetime:
    """Statements are per minute, rounded up, so that no session issued before ``moment`` is missed."""
    moment = moment.astimezone(UTC)
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def statement(usernames: list[str], before: datetime) -> dict:
    return {
        "Sid": "RevokeSessionsIssuedBefore" + _iso(before).replace("-", "").replace(":", ""),
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringLike": {"aws:userid": [f"*:{name}" for name in sorted(usernames)]},
            "DateLessThan": {"aws:TokenIssueTime": _iso(before)},
        },
    }


def _entries(document: dict | None) -> dict[str, datetime]:
    """username -> the moment before which their sessions are denied."""
    entries: dict[str, datetime] = {}
    for item in (document or {}).get("Statement", []):
        try:
            before = _parse(item["Condition"]["DateLessThan"]["aws:TokenIssueTime"])
            userids = item["Condition"]["StringLike"]["aws:userid"]
        except (KeyError, TypeError, ValueError):
            continue  # not one of ours: left alone below
        for userid in [userids] if isinstance(userids, str) else userids:
            name = userid.split(":", 1)[1]
            entries[name] = max(before, entries.get(name, before))
    return entries


def _foreign(document: dict | None) -> list[dict]:
    kept = []
    for item in (document or {}).get("Statement", []):
        condition = item.get("Condition", {}) if isinstance(item, dict) else {}
        if not (
            "aws:userid" in condition.get("StringLike", {})
            and "aws:TokenIssueTime" in condition.get("DateLessThan", {})
        ):
            kept.append(item)
    return kept


def _build(entries: dict[str, datetime], foreign: list[dict]) -> dict | None:
    by_moment: dict[datetime, list[str]] = {}
    for name, before in entries.items():
        by_moment.setdefault(before, []).append(name)
    statements = foreign + [statement(names, before) for before, names in sorted(by_moment.items())]
    if not statements:
        return None
    return {"Version": VERSION, "Statement": statements}


def revoke(
    document: dict | None, usernames: list[str], now: datetime, max_session: timedelta
) -> dict | None:
    """The document with ``usernames``' sessions issued before ``now`` denied, and expired
    statements pruned."""
    entries = _unexpired(_entries(document), now, max_session)
    moment = _minute_after(now)
    for name in usernames:
        entries[name] = max(moment, entries.get(name, moment))
    return _build(entries, _foreign(document))


def prune(document: dict | None, now: datetime, max_session: timedelta) -> dict | None:
    """The document without statements whose sessions have all expired; None when empty."""
    return _build(_unexpired(_entries(document), now, max_session), _foreign(document))


def _unexpired(
    entries: dict[str, datetime], now: datetime, max_session: timedelta
) -> dict[str, datetime]:
    return {name: before for name, before in entries.items() if before + max_session > now}


def size(document: dict | None) -> int:
    """Characters IAM counts (whitespace excluded)."""
    return len(json.dumps(document, separators=(",", ":"))) if document else 0


class Revoked(NamedTuple):
    """What a revocation did: the accounts done, and those still owed with why."""

    done: list[str]
    pending: dict[str, str]
