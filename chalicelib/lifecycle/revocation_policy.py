"""The inline deny that revokes people's live role sessions: pure functions over the document.

Assumed-role credentials stay valid after someone leaves a group, up to the role's
MaxSessionDuration. Every session of a child role is named after the person (the trust policy
requires ``sts:RoleSessionName = ${aws:username}``), so its ``aws:userid`` is ``ROLEID:<username>``
and one statement can deny exactly that person's sessions issued before a moment.

People revoked in the same minute share one statement; each person appears in one statement
only, the latest. A statement is pruned once MaxSessionDuration has passed since its moment: every
session it could deny has expired by then.

Room is finite (IAM allows 10,240 characters of inline policy per role), so the document fails
closed: :func:`fit` first merges the oldest statements into later ones (a person's moment only
ever moves later, so they are denied more, never less), and when one statement cannot hold
everyone it writes a cutoff for the whole role instead, AWS's own "Revoke active sessions":
every session of the role issued before the moment is denied, which covers every person named
before it, and people still entitled simply assume the role again.

The user-level deny of a suspended person lives here too: one statement denying everything,
which stops every credential of theirs in the root account at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from chalicelib.kernel.errors import AppError
from chalicelib.kernel.ports import Revoked as Revoked  # what a revocation did

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


def moment_of(before: datetime) -> datetime:
    """The moment a revocation at ``before`` denies sessions issued before (rounded up)."""
    return _minute_after(before)


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


def cutoff_statement(before: datetime) -> dict:
    """Every session of the role issued before ``before`` denied, whoever it belongs to (the
    statement of AWS's "Revoke active sessions", AWSRevokeOlderSessions)."""
    return {
        "Sid": "RevokeAllSessionsIssuedBefore" + _iso(before).replace("-", "").replace(":", ""),
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": _iso(before)}},
    }


def _is_cutoff(item: object) -> bool:
    if not isinstance(item, dict):
        return False
    condition = item.get("Condition")
    return (
        isinstance(condition, dict)
        and list(condition) == ["DateLessThan"]
        and list(condition["DateLessThan"]) == ["aws:TokenIssueTime"]
        and item.get("Effect") == "Deny"
    )


def cutoff(document: dict | None) -> datetime | None:
    """The moment before which the whole role's sessions are denied, if a cutoff is written."""
    moments = [
        _parse(item["Condition"]["DateLessThan"]["aws:TokenIssueTime"])
        for item in (document or {}).get("Statement", [])
        if _is_cutoff(item)
    ]
    return max(moments) if moments else None


def denied_before(document: dict | None, username: str) -> datetime | None:
    """The moment before which ``username``'s sessions are denied by ``document`` (their own
    statement or the role's cutoff, whichever is later); None if they are not denied."""
    moments = [m for m in (_entries(document).get(username), cutoff(document)) if m is not None]
    return max(moments) if moments else None


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
        if _is_cutoff(item):
            continue
        if not (
            "aws:userid" in condition.get("StringLike", {})
            and "aws:TokenIssueTime" in condition.get("DateLessThan", {})
        ):
            kept.append(item)
    return kept


def _build(
    entries: dict[str, datetime], foreign: list[dict], cut: datetime | None = None
) -> dict | None:
    """The document: foreign statements, the role's cutoff, then one statement per moment for
    the people the cutoff does not cover already."""
    by_moment: dict[datetime, list[str]] = {}
    for name, before in entries.items():
        if cut is None or before > cut:
            by_moment.setdefault(before, []).append(name)
    statements = list(foreign)
    if cut is not None:
        statements.append(cutoff_statement(cut))
    statements += [statement(names, before) for before, names in sorted(by_moment.items())]
    if not statements:
        return None
    return {"Version": VERSION, "Statement": statements}


def revoke(
    document: dict | None,
    usernames: list[str],
    now: datetime,
    max_session: timedelta,
    before: datetime | None = None,
) -> dict | None:
    """The document with ``usernames``' sessions issued before ``before`` (default ``now``)
    denied, and expired statements pruned. A revocation owed since ``before`` and written
    later keeps its moment: what the person was given since (a restore) is not denied."""
    entries = _unexpired(_entries(document), now, max_session)
    moment = _minute_after(before or now)
    for name in usernames:
        entries[name] = max(moment, entries.get(name, moment))
    return _build(entries, _foreign(document), _live_cutoff(document, now, max_session))


def prune(document: dict | None, now: datetime, max_session: timedelta) -> dict | None:
    """The document without statements whose sessions have all expired; None when empty."""
    return _build(
        _unexpired(_entries(document), now, max_session),
        _foreign(document),
        _live_cutoff(document, now, max_session),
    )


def _live_cutoff(document: dict | None, now: datetime, max_session: timedelta) -> datetime | None:
    cut = cutoff(document)
    return cut if cut is not None and cut + max_session > now else None


class Fitted(NamedTuple):
    """A document within its room, and whether that took a cutoff of the whole role."""

    document: dict | None
    role_cutoff: bool


class Packed(NamedTuple):
    """The documents of a role, each within its room (the inline policy first, then the
    overflow managed policies), and whether that took a cutoff of the whole role."""

    documents: list[dict | None]
    role_cutoff: bool


def fit(document: dict | None, limit: int = SIZE_LIMIT) -> Fitted:
    """``document`` within one document of ``limit`` characters (see :func:`fit_into`)."""
    packed = fit_into(document, [limit])
    return Fitted(packed.documents[0], packed.role_cutoff)


def fit_into(document: dict | None, rooms: list[int]) -> Packed:
    """``document``'s statements spread over documents of ``rooms`` characters, in order,
    failing closed: while they do not fit, the two oldest moments are merged into the later one
    (their people denied until then: more, never less); when one moment still does not fit, a
    cutoff of the whole role at the latest moment replaces every per-person statement (each of
    them is covered by it). The foreign statements and the cutoff stay in the first document."""
    entries, foreign, cut = _entries(document), _foreign(document), cutoff(document)
    live = {name: m for name, m in entries.items() if cut is None or m > cut}
    while True:
        packed = _pack(live, foreign, cut, rooms)
        if packed is not None:
            return Packed(packed, False)
        moments = sorted(set(live.values()))
        if len(moments) < 2:
            break
        # The two oldest moments become one (the later): one statement fewer, nobody less denied.
        live = {name: moments[1] if m == moments[0] else m for name, m in live.items()}
    latest = max([*live.values(), *([cut] if cut else [])])
    packed = _pack({}, foreign, latest, rooms)
    if packed is None:  # the foreign statements alone overflow: not this service's to drop
        raise AppError("the role's other deny statements leave no room for a cutoff")
    return Packed(packed, True)


_EMPTY = len('{"Version":"2012-10-17","Statement":[]}')


def _pack(
    live: dict[str, datetime], foreign: list[dict], cut: datetime | None, rooms: list[int]
) -> list[dict | None] | None:
    """The statements of ``live`` (oldest moments first, a moment split over documents where it
    must be) after the foreign ones and the cutoff; None when they do not fit in ``rooms``."""
    docs: list[list[dict]] = [[] for _ in rooms]
    docs[0] = list(foreign) + ([cutoff_statement(cut)] if cut is not None else [])
    used = [_EMPTY + sum(size(x) for x in docs[0]) + max(0, len(docs[0]) - 1)] + [_EMPTY] * (
        len(rooms) - 1
    )
    if used[0] > rooms[0]:
        return None
    by_moment: dict[datetime, list[str]] = {}
    for name, before in live.items():
        by_moment.setdefault(before, []).append(name)
    at = 0
    for before, names in sorted(by_moment.items()):
        bare = size(statement([], before))
        chunk: list[str] = []
        grown = 0  # what the chunk's statement adds to its document
        for name in sorted(names):
            entry = len(json.dumps(f"*:{name}")) + (1 if chunk else 0)
            extra = (bare + (1 if docs[at] else 0)) if not chunk else 0
            if used[at] + grown + extra + entry <= rooms[at]:
                chunk.append(name)
                grown += extra + entry
                continue
            if chunk:  # this document is full: the moment goes on in the next
                docs[at].append(statement(chunk, before))
                used[at] += grown
            at += 1
            if at == len(rooms):
                return None
            chunk, grown = [name], bare + len(json.dumps(f"*:{name}"))
            if used[at] + grown > rooms[at]:
                return None
        if chunk:
            docs[at].append(statement(chunk, before))
            used[at] += grown
    return [{"Version": VERSION, "Statement": d} if d else None for d in docs]


def combine(documents: list[dict | None]) -> dict | None:
    """One document of a role's several (the inline policy and its overflow): each person at
    their latest moment, the latest cutoff, every foreign statement once."""
    statements = [x for d in documents if d for x in d.get("Statement", []) if x != PLACEHOLDER]
    whole = {"Version": VERSION, "Statement": statements}
    foreign: list[dict] = []
    for item in _foreign(whole):
        if item not in foreign:
            foreign.append(item)
    return _build(_entries(whole), foreign, cutoff(whole))


# An overflow policy with nothing to deny holds this (a managed policy needs a statement): it
# names no real role, so it denies nothing.
PLACEHOLDER = {
    "Sid": "NothingRevokedHere",
    "Effect": "Deny",
    "Action": "iam:PassRole",
    "Resource": "arn:aws:iam::*:role/access-revocation/none",
}


def placeholder_document() -> dict:
    return {"Version": VERSION, "Statement": [PLACEHOLDER]}


def _unexpired(
    entries: dict[str, datetime], now: datetime, max_session: timedelta
) -> dict[str, datetime]:
    return {name: before for name, before in entries.items() if before + max_session > now}


def size(document: dict | None) -> int:
    """Characters IAM counts (whitespace excluded)."""
    return len(json.dumps(document, separators=(",", ":"))) if document else 0


SUSPENDED_SID = "SuspendedUserDenyEverything"


def suspended_user_document() -> dict:
    """The inline policy on a suspended user: every request signed with any credential of
    theirs (password, access key, a console or ``aws login`` session, temporary credentials
    from them) is denied, whatever their other policies allow; restore deletes it."""
    return {
        "Version": VERSION,
        "Statement": [{"Sid": SUSPENDED_SID, "Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
