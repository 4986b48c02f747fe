"""Access reviews: campaigns, reviewers' decisions and the evidence, as pure rules over records.

A campaign takes one snapshot of who holds what (every member of the campaign's groups, whatever
their path, and the managed users' grants, read in one whole-account query), makes one item per
user and group, and assigns each item a reviewer: an owner of the group who is not the person
under review, else an operator who is not. Nobody decides their own item: the decider's Slack
member is not the item user's linked member, and the decider's own linked user is not the item's
user. An item whose user has no linked member cannot be shown not to be the decider's own, so
its keep takes two reviewers (a second owner or an operator, assigned as ``second_reviewer``);
a revoke, which never keeps anyone's access, takes one. A member the service does not manage (outside its
path, or protected) is an item too, marked ``outside`` and assigned to an operator: the service
never changes such a user, so a revoke of one is owed by hand until someone records it done (or
a read shows them gone). Reviewers keep or revoke each item until the campaign closes; a revoke
of a managed user is carried out (the user moved out of the group, or the grant ended) by the
service. At the due
date the campaign closes, and items nobody decided are kept, revoked or escalated to the
operators, as the stage says. Storage, Slack and the changes are the service's.

A review record: id, status, groups, due, created_at, ticket, requested_by, population
{taken_at, query, count, users}, closed_at, closed_by, version. An item record: review, id,
username, group, kind (member | grant), expires_at (a grant's), outside (path | protected: not
the service's to change) and path, subject (the Slack member the user is), reviewer,
second_reviewer (an unlinked user's: a keep takes both eyes), first_keep {by, at}, decision,
decided_by, decided_at, lapsed (decided by the setting at the close), escalated_at, removal_owed
(a revoke an operator must make by hand), removed_at, removed_by, removal_ticket,
carry_out_error, version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden, NotFound
from chalicelib.kernel.identity import key

OPEN, CLOSED = "open", "closed"
KEEP, REVOKE = "keep", "revoke"
DECISIONS = (KEEP, REVOKE)
CARRY_OUT_MODES = ("immediately", "at_close")
UNDECIDED_MODES = (KEEP, REVOKE, "escalate")
MEMBER, GRANT = "member", "grant"
# Why a member is not the service's to change: outside its IAM path, or a protected user.
OUTSIDE_PATH, PROTECTED = "path", "protected"
_MEMBER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,30}$")
# The query a campaign's snapshot is, as the evidence states it.
QUERY_API = "iam:GetAccountAuthorizationDetails"
QUERY_FILTER = ("User", "Group", "LocalManagedPolicy")
# What callers see of an item (the contract's REVIEW items, and what this service adds).
_ITEM_FIELDS = (
    "id",
    "username",
    "group",
    "kind",
    "expires_at",
    "outside",
    "path",
    "reviewer",
    "second_reviewer",
    "first_keep",
    "decision",
    "decided_by",
    "decided_at",
    "lapsed",
    "escalated_at",
    "removal_owed",
    "removed_at",
    "removed_by",
    "removal_ticket",
    "sessions_revoked_in",
    "sessions_revocation_pending",
    "carry_out_error",
    "offboarded",
)
_REVIEW_FIELDS = (
    "id",
    "status",
    "due",
    "created_at",
    "groups",
    "ticket",
    "requested_by",
    "closed_at",
    "closed_by",
    "source",
    "request",
)
BREAK_GLASS_REVIEW_DAYS = 7  # the time a reviewer has to look at one break-glass use


@dataclass(frozen=True)
class Policy:
    """How the stage runs its reviews."""

    owners: Mapping[str, tuple[str, ...]]  # group -> Slack member ids, in the order asked
    operators: frozenset[str] = frozenset()  # Slack member ids (SLACK_ALLOWED_USERS)
    carry_out: str = "immediately"  # immediately | at_close
    undecided: str = "escalate"  # keep | revoke | escalate, at the due date
    channel: str = ""  # the operators' channel: escalations and the close
    reminder_days: int = 3  # reminders on each of the last N days before the due date
    quarterly: bool = False  # a campaign of every group on the first day of each quarter
    quarterly_days: int = 14  # the quarterly campaign's time to decide


def owners_from(raw: object) -> dict[str, tuple[str, ...]]:
    """REVIEW_OWNERS: ``{group: [Slack member ids]}``."""
    if not isinstance(raw, dict):
        raise ConfigurationError("REVIEW_OWNERS must be a JSON object of group: [member ids]")
    owners = {}
    for group, members in raw.items():
        if not isinstance(members, list) or not all(
            isinstance(m, str) and _MEMBER.match(m) for m in members
        ):
            raise ConfigurationError(f"REVIEW_OWNERS[{group!r}] must be Slack member ids (U...)")
        owners[str(group)] = tuple(dict.fromkeys(members))
    return owners


def check_policy(policy: Policy, groups: Iterable[str]) -> None:
    allowed = set(groups)
    for group in policy.owners:
        if group not in allowed:
            raise ConfigurationError(f"REVIEW_OWNERS names {group}, which is not in ALLOWED_GROUPS")
    if policy.carry_out not in CARRY_OUT_MODES:
        raise ConfigurationError(
            f"REVIEW_CARRY_OUT {policy.carry_out!r} must be one of {', '.join(CARRY_OUT_MODES)}"
        )
    if policy.undecided not in UNDECIDED_MODES:
        raise ConfigurationError(
            f"REVIEW_UNDECIDED {policy.undecided!r} must be one of {', '.join(UNDECIDED_MODES)}"
        )
    if policy.channel and not _CHANNEL.match(policy.channel):
        raise ConfigurationError("REVIEW_CHANNEL must be a Slack channel id (C...)")
    if policy.quarterly_days < 1:
        raise ConfigurationError("REVIEW_QUARTERLY_DAYS must be at least 1")


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def review_id(ticket: str) -> str:
    """A campaign's id, made from the ticket that started it: the same ticket starts it once."""
    return "rev-" + hashlib.sha256(key(ticket).encode()).hexdigest()[:16]


def item_id(username: str, group: str) -> str:
    return hashlib.sha256(f"{key(username)}#{group}".encode()).hexdigest()[:12]


def removal_ticket(review: str, item: str) -> str:
    """The change runner's ticket of an item's revocation: one removal per item, ever."""
    return f"review:{review}:{item}"


def member_of(identity: str) -> str:
    """The Slack member an identity names (``slack:U...`` or ``U...``), or empty."""
    name = identity.removeprefix("slack:")
    return name if _MEMBER.match(name) else ""


# starting
def check_start(
    groups: list[str] | None,
    due: date,
    today: date,
    allowed: Iterable[str],
) -> list[str]:
    """The campaign's groups (every managed group when none is named). Refused: a due date
    today or before, a group the service does not manage."""
    allowed = tuple(allowed)
    if due <= today:
        raise BadRequest(f"due must be a date after today ({today.isoformat()})")
    chosen = list(dict.fromkeys(groups)) if groups else list(allowed)
    unknown = [g for g in chosen if g not in allowed]
    if unknown:
        raise BadRequest(
            f"unknown group(s) {', '.join(unknown)}; groups this service manages: "
            f"{', '.join(allowed) or 'none'}"
        )
    if not chosen:
        raise BadRequest("no group to review")
    return chosen


def reviewer_for(group: str, subject: str, policy: Policy, outside: str = "") -> str:
    """An owner of the group who is not the person under review; else an operator who is not;
    else nobody (the item waits for the operators, who may decide any item). A member outside
    the service's management goes to an operator: only an operator can remove them."""
    for member in () if outside else policy.owners.get(group, ()):
        if member != subject:
            return member
    for member in sorted(policy.operators):
        if member != subject:
            return member
    return ""


@dataclass(frozen=True)
class Scope:
    """The users the service manages: under its path and not protected."""

    path: str
    protected: frozenset[str] = frozenset()

    def outside(self, user: Mapping) -> str:
        """Why ``user`` is not the service's to change (PROTECTED, OUTSIDE_PATH), or empty."""
        if key(user["username"]) in self.protected:
            return PROTECTED
        return OUTSIDE_PATH if user.get("path") != self.path else ""


def second_for(group: str, first: str, policy: Policy, outside: str = "") -> str:
    """Another owner than ``first``, else an operator who is not ``first``, else nobody (the
    operators, who may decide any item). For a member outside management, another operator
    first, else an owner: one operator alone must not leave the item undecidable."""
    owners, operators = policy.owners.get(group, ()), tuple(sorted(policy.operators))
    for member in (*operators, *owners) if outside else (*owners, *operators):
        if member != first:
            return member
    return ""


def needs_two(item: Mapping) -> bool:
    """A keep of an item whose user has no linked Slack member takes two reviewers: nobody can
    show that the one deciding is not that user."""
    return not item.get("subject")


def population(
    users: Iterable[dict], records: Mapping[str, dict], groups: list[str], scope: Scope
) -> list[tuple[dict, str, str, str]]:
    """(user, group, kind, expires_at) for every user of the account in a campaign's group,
    managed or not (a member the IAM read shows is never left out): a member, or a grant
    (time-bound, from a managed user's record)."""
    found = []
    for user in users:
        record = {} if scope.outside(user) else records.get(key(user["username"])) or {}
        grants = {g["group"]: g["expires_at"] for g in record.get("grants", [])}
        for group in groups:
            if group not in user.get("groups", []):
                continue
            if group in grants and group not in record.get("groups", []):
                found.append((user, group, GRANT, grants[group]))
            else:
                found.append((user, group, MEMBER, ""))
    return found


def create(
    *,
    ticket: str,
    requested_by: str,
    groups: list[str],
    due: date,
    now: datetime,
    users: list[dict],
    records: Mapping[str, dict],
    policy: Policy,
    query: dict,
    scope: Scope,
) -> tuple[dict, list[dict]]:
    """A new campaign and its items, from one snapshot of the account (``users``: every user
    of it, whatever their path)."""
    ident = review_id(ticket)
    items = []
    found = population(users, records, groups, scope)
    for user, group, kind, expires in found:
        outside = scope.outside(user)
        record = {} if outside else records.get(key(user["username"])) or {}
        subject = record.get("slack_user") or user.get("tags", {}).get("slack_user", "")
        item = {
            "review": ident,
            "id": item_id(user["username"], group),
            "username": user["username"],
            "group": group,
            "kind": kind,
            "subject": subject,
            "reviewer": reviewer_for(group, subject, policy, outside),
            "version": 0,
        }
        if outside:
            item.update(outside=outside, path=user.get("path", ""))
        if needs_two(item):
            item["second_reviewer"] = second_for(group, item["reviewer"], policy, outside)
        if expires:
            item["expires_at"] = expires
        items.append(item)
    review = {
        "id": ident,
        "status": OPEN,
        "groups": groups,
        "due": due.isoformat(),
        "created_at": iso(now),
        "ticket": ticket,
        "requested_by": requested_by,
        "population": {
            "taken_at": iso(now),
            "query": query,
            "count": len(items),
            "users": len({key(u["username"]) for u, *_ in found}),
            "outside": sum(1 for i in items if i.get("outside")),
        },
        "version": 0,
    }
    return review, sorted(items, key=lambda i: (i["group"], key(i["username"])))


def of_one_use(
    use: Mapping[str, Any], record: Mapping, policy: Policy, now: datetime
) -> tuple[dict, list[dict]]:
    """A campaign of one item: a break-glass use (chalicelib/kernel/review_items.py) to keep or
    revoke within BREAK_GLASS_REVIEW_DAYS. It covers no whole group, so it holds none and never
    stands in a campaign's way; its reviewer is an owner of the group (else an operator) who is
    not the person."""
    ident = review_id(use["ticket"])
    subject = str(record.get("slack_user", ""))
    item = {
        "review": ident,
        "id": item_id(use["username"], use["group"]),
        "username": use["username"],
        "group": use["group"],
        "kind": GRANT,
        "expires_at": use["expires_at"],
        "subject": subject,
        "reviewer": reviewer_for(use["group"], subject, policy),
        "reason": use["reason"],
        "version": 0,
    }
    if needs_two(item):
        item["second_reviewer"] = second_for(use["group"], item["reviewer"], policy)
    review = {
        "id": ident,
        "status": OPEN,
        "groups": [],
        "source": use["source"],
        "request": use["request"],
        "due": (now.date() + timedelta(days=BREAK_GLASS_REVIEW_DAYS)).isoformat(),
        "created_at": iso(now),
        "ticket": use["ticket"],
        "requested_by": use["activated_by"],
        "population": {
            "taken_at": iso(now),
            "query": {"break_glass": use["request"], "activated_at": use["activated_at"]},
            "count": 1,
            "users": 1,
            "outside": 0,
        },
        "version": 0,
    }
    return review, [item]


def same_start(review: dict, groups: list[str], due: date) -> bool:
    return bool(review["groups"] == groups and review["due"] == due.isoformat())


# deciding
def check_decider(item: dict, member: str, policy: Policy, member_user: str | None = None) -> None:
    """The assigned reviewers or an operator may decide; never the person under review, known
    by the item user's linked member or by the decider's own linked user (``member_user``)."""
    if not member:
        raise Forbidden("a decision must name its reviewer (a Slack member id)")
    if (item.get("subject") and member == item["subject"]) or (
        member_user and key(member_user) == key(item["username"])
    ):
        raise Forbidden(f"{item['username']} is you: someone else must review your own access")
    assigned = (item.get("reviewer"), item.get("second_reviewer"))
    if member not in assigned and member not in policy.operators:
        raise Forbidden(
            f"this item of {item['username']} in {item['group']} is not yours to review"
            + (f"; its reviewer is {item['reviewer']}" if item.get("reviewer") else "")
        )


def check_recorder(item: dict, member: str, policy: Policy) -> None:
    """Who may record a removal made by hand: an operator or the item's reviewer, for a revoke
    of a member the service does not manage (it carries out the others itself)."""
    if not member:
        raise Forbidden("a record of a removal must name who made it (a Slack member id)")
    if member != item.get("reviewer") and member not in policy.operators:
        raise Forbidden(f"only an operator may record {item['username']}'s removal by hand")
    if not item.get("outside"):
        raise Conflict(
            f"{item['username']} is managed: the service carries out their revoke itself"
        )
    if item.get("decision") != REVOKE:
        raise Conflict(f"{item['username']} in {item['group']} was not decided revoke")


def owed(items: Iterable[dict]) -> list[dict]:
    """Revokes owed by hand: not recorded as removed yet."""
    return [i for i in items if i.get("removal_owed") and not i.get("removed_at")]


def escalated(item: dict) -> bool:
    """An item nobody decided by the close, handed to the operators, not decided yet."""
    return bool(item.get("escalated_at") and not item.get("decision"))


def decide(
    review: dict, item: dict, decision: str, member: str, now: datetime, policy: Policy
) -> dict:
    """The item after ``member``'s decision. Refused once the campaign closed (but for an
    operator's decision on an item escalated to them), and a keep of an item whose revocation
    was carried out already (the access is gone: ask for it again)."""
    if decision not in DECISIONS:
        raise BadRequest("decision must be keep or revoke")
    if review["status"] != OPEN and not (escalated(item) and member in policy.operators):
        raise Conflict(f"review {review['id']} is closed; nothing was changed")
    if decision == KEEP and item.get("removed_at"):
        raise Conflict(
            f"{item['username']} was removed from {item['group']} at {item['removed_at']} on "
            "this review's revoke; nothing was changed (ask for the access again)"
        )
    if decision == KEEP and needs_two(item):
        if item.get("decision") == KEEP:
            return item  # kept by two already: another keep changes nothing
        first = item.get("first_keep") or {}
        if first.get("by") == member:
            return item  # the same reviewer again: still waiting for a second one
        if not first:  # the first of two: the item stays as it was (a revoke stays a revoke)
            return {
                **item,
                "first_keep": {"by": member, "at": iso(now)},
                "version": item.get("version", 0) + 1,
            }
    decided = {
        **item,
        "decision": decision,
        "decided_by": member,
        "decided_at": iso(now),
        "version": item.get("version", 0) + 1,
    }
    if decision == KEEP:
        decided.pop("removal_owed", None)
    else:
        decided.pop("first_keep", None)
    return decided


def waits_for_second(item: Mapping) -> bool:
    """Kept by one reviewer, waiting for the second one (see ``needs_two``)."""
    return bool(item.get("first_keep") and item.get("decision") != KEEP)


def groups_after_revoke(
    live: Iterable[str], record: Mapping | None, group: str, allowed: Iterable[str]
) -> list[str]:
    """The groups a ``move`` sets when a revoke takes ``group`` away: the managed groups the
    user is in NOW (read just before the change, not the record, which may lag behind a change
    made by hand) but that one. Time-bound grants are left out: they are not standing
    memberships, and they end on their own."""
    granted = {g["group"] for g in (record or {}).get("grants", [])}
    managed = set(allowed)
    return sorted(g for g in set(live) if g in managed and g not in granted and g != group)


def due_to_carry_out(item: dict) -> bool:
    return bool(item.get("decision") == REVOKE and not item.get("removed_at"))


def carried_out(item: dict, ticket: str, now: datetime, answer: dict | None = None) -> dict:
    """The item once its removal was made; ``answer`` (the change's) names the accounts where
    the person's sessions were revoked, and those where it is still owed."""
    answer = answer or {}
    done = {
        **item,
        "removed_at": iso(now),
        "removal_ticket": ticket,
        "sessions_revoked_in": answer.get("sessions_revoked_in", []),
    }
    done.pop("sessions_revocation_pending", None)
    if answer.get("sessions_revocation_pending"):
        done["sessions_revocation_pending"] = answer["sessions_revocation_pending"]
    done.pop("carry_out_error", None)
    return {**done, "version": item.get("version", 0) + 1}


def by_hand(item: dict) -> str:
    """What an operator must do for a revoke of a member the service does not manage."""
    why = (
        "a protected user"
        if item.get("outside") == PROTECTED
        else f"at path {item.get('path') or '?'}, outside the service's"
    )
    return (
        f"{item['username']} is {why}: the service does not change them. An operator removes "
        f"them by hand (aws iam remove-user-from-group --group-name {item['group']} "
        f"--user-name {item['username']}), then records it done"
    )


def removal_owed(item: dict) -> dict:
    """A revoke the service may not make: owed by hand, and named, until it is recorded."""
    return {**item, "removal_owed": by_hand(item), "version": item.get("version", 0) + 1}


def removed_by_hand(item: dict, by: str, ticket: str, now: datetime) -> dict:
    """An owed removal, done: a read of IAM showed the user out of the group."""
    done = {
        **item,
        "removed_at": iso(now),
        "removed_by": by,
        "removal_ticket": ticket,
        "version": item.get("version", 0) + 1,
    }
    done.pop("removal_owed", None)
    return done


def carry_out_failed(item: dict, reason: str) -> dict:
    return {**item, "carry_out_error": reason[:500], "version": item.get("version", 0) + 1}


# closing
def is_due(review: dict, today: date) -> bool:
    """A campaign closes on the day after its due date (the due date is the last day to
    decide)."""
    return bool(review["status"] == OPEN and review["due"] < today.isoformat())


def reminder_due(review: dict, today: date, days: int) -> bool:
    if review["status"] != OPEN or days < 1:
        return False
    left = (date.fromisoformat(review["due"]) - today).days
    return 0 <= left <= days


def lapse(item: dict, mode: str, now: datetime) -> dict:
    """An item nobody decided by the close: kept, revoked or escalated, as the stage says."""
    changed = {**item, "version": item.get("version", 0) + 1}
    if mode == "escalate":
        return {**changed, "escalated_at": iso(now)}
    return {
        **changed,
        "decision": mode,
        "decided_by": "schedule",
        "decided_at": iso(now),
        "lapsed": True,
    }


def close(review: dict, now: datetime, by: str, owed_by_hand: int = 0) -> dict:
    """The campaign closed; ``owed_by_hand``: its removals still owed by hand, which the daily
    schedule goes on looking for (in IAM) after the close."""
    if review["status"] != OPEN:
        raise Conflict(f"review {review['id']} is closed already")
    closed = {
        **review,
        "status": CLOSED,
        "closed_at": iso(now),
        "closed_by": by,
        "version": review.get("version", 0) + 1,
    }
    if owed_by_hand:
        closed["owed_by_hand"] = owed_by_hand
    return closed


# what callers see
def view_item(item: dict) -> dict:
    return {k: item[k] for k in _ITEM_FIELDS if item.get(k) not in (None, "")}


def view(review: dict, items: list[dict]) -> dict:
    """A campaign as callers see it (the contract's REVIEW)."""
    shown = {k: review[k] for k in _REVIEW_FIELDS if review.get(k) is not None}
    shown["population"] = review.get("population", {})
    shown["items"] = [view_item(i) for i in items]
    return shown


def undecided(items: Iterable[dict]) -> list[dict]:
    return [i for i in items if not i.get("decision")]


def of_reviewer(items: Iterable[dict], member: str) -> list[dict]:
    return [i for i in items if member in (i.get("reviewer"), i.get("second_reviewer"))]


def overlapping(open_reviews: Iterable[dict], groups: Iterable[str]) -> dict[str, str]:
    """group -> the open campaign that covers it already."""
    wanted = set(groups)
    return {
        g: r["id"] for r in open_reviews if r["status"] == OPEN for g in r["groups"] if g in wanted
    }


# the evidence
def totals(items: list[dict]) -> dict:
    return {
        "items": len(items),
        "kept": sum(1 for i in items if i.get("decision") == KEEP),
        "revoked": sum(1 for i in items if i.get("decision") == REVOKE),
        "carried_out": sum(1 for i in items if i.get("removed_at")),
        "undecided": sum(1 for i in items if not i.get("decision")),
        "lapsed": sum(1 for i in items if i.get("lapsed")),
        "escalated": sum(1 for i in items if i.get("escalated_at")),
        "outside": sum(1 for i in items if i.get("outside")),
        "owed_by_hand": sum(1 for i in items if i.get("removal_owed")),
    }


_RESTORING = ("move", "grant", "onboard", "restore")
# Audit results of a change that was made (a revocation may still be owed after it).
_DONE = ("ok", "revocation_pending")


def holds(item: dict, groups_now: Mapping[str, list[str]], events: Iterable[dict]) -> dict:
    """Whether a carried-out revoke still holds: the user is not in the group now, or, if they
    are, the later change that put them back (from the audit trail)."""
    if not item.get("removed_at"):
        why = item.get("removal_owed") or item.get("carry_out_error") or "not carried out"
        return {"holds": False, "why": why}
    owed = item.get("sessions_revocation_pending")
    if owed:  # removed, but live sessions may still work: never a pass
        return {
            "holds": False,
            "why": "sessions still to be revoked in " + ", ".join(sorted(owed)) + " (retried)",
        }
    now = groups_now.get(key(item["username"]))
    if now is None or item["group"] not in now:
        return {"holds": True, "why": "not in the group now" if now is not None else "user gone"}
    # After the removal's own audit event (the trail's clock, not the app's), else its time.
    events = list(events)
    removal = [n for n, e in enumerate(events) if e.get("ticket") == item.get("removal_ticket")]
    after = (
        events[removal[-1] + 1 :]
        if removal
        else [e for e in events if str(e.get("at", "")) > item["removed_at"]]
    )
    later = [
        e
        for e in after
        if e.get("action") in _RESTORING
        and str(e.get("result", "")).startswith("ok")
        and e.get("ticket") != item.get("removal_ticket")
    ]
    if later:
        back = later[0]
        return {
            "holds": False,
            "why": f"back in the group by {back['action']} {back['ticket']} at {back['at']}",
            "back_by": {
                k: back[k] for k in ("at", "action", "ticket", "requested_by") if k in back
            },
        }
    return {"holds": False, "why": "back in the group, by no change this service made (drift)"}


def outside_members(users: Iterable[dict], groups: Iterable[str], scope: Scope) -> list[dict]:
    """Who in ``groups`` the service does not manage (``users``: a read of the whole account)."""
    wanted = list(groups)
    return [
        {"username": u["username"], "group": g, "outside": why, "path": u.get("path", "")}
        for u in users
        if (why := scope.outside(u))
        for g in wanted
        if g in u.get("groups", [])
    ]


def _outside_problem(member: Mapping) -> str:
    why = (
        "a protected user"
        if member["outside"] == PROTECTED
        else f"at path {member['path']}, outside the service's"
    )
    return (
        f"{member['username']} in {member['group']}: {why}, in the group now; the service "
        "cannot change them or prove their access was reviewed away"
    )


def evidence(
    review: dict,
    items: list[dict],
    groups_now: Mapping[str, list[str]],
    events_of: Mapping[str, list[dict]],
    now: datetime,
    outside_now: list[dict] | None = None,
) -> dict:
    """The evidence of a campaign: the population and its query, each item with its decision
    and its removal's audit reference, the totals, and the check that every revoke was carried
    out and still holds. ``events_of``: the audit events of each revoked user (canonical name);
    ``outside_now``: members of the reviewed groups the service does not manage, read now. The
    verdict is PASS only when every revoke holds and nobody outside management is in a
    reviewed group."""
    rows = []
    problems = []
    for item in items:
        row = view_item(item)
        row["how"] = _how(item)
        if item.get("decision") == REVOKE:
            events = events_of.get(key(item["username"]), [])
            ref = [e for e in events if e.get("ticket") == item.get("removal_ticket")]
            ok = [e for e in ref if str(e.get("result", "")).startswith(_DONE)]
            if ok:
                row["audit"] = {k: ok[-1][k] for k in ("at", "action", "ticket", "result")}
            check = holds(item, groups_now, events)
            row["holds"], row["check"] = check["holds"], check["why"]
            if "back_by" in check:
                row["back_by"] = check["back_by"]
            if not check["holds"]:
                problems.append(f"{item['username']} in {item['group']}: {check['why']}")
        rows.append(row)
    counted = totals(items)
    revokes = counted["revoked"]
    held = sum(1 for r in rows if r.get("holds"))
    outside_now = list(outside_now or [])
    problems += [_outside_problem(m) for m in outside_now]
    passed = counted["carried_out"] == revokes and held == revokes and not outside_now
    return {
        "review": {k: review[k] for k in _REVIEW_FIELDS if review.get(k) is not None},
        "population": review.get("population", {}),
        "items": rows,
        "totals": counted,
        "check": {
            "every_revoke_carried_out": counted["carried_out"] == revokes,
            "every_revoke_holds": held == revokes,
            "revokes": revokes,
            "holding": held,
            "outside_management": outside_now,
            "problems": problems,
            "verdict": "PASS" if passed else "ATTENTION",
        },
        "generated_at": iso(now),
    }


def _how(item: dict) -> str:
    if item.get("offboarded"):  # the user's offboarding removed the access (its ticket)
        return f"revoke by the offboarding of the user ({item['offboarded']})"
    first = (item.get("first_keep") or {}).get("by")
    if first and item.get("decision") == KEEP:
        return f"keep by {first} and {item['decided_by']} (two reviewers: no linked member)"
    if first and not item.get("decision"):
        return f"keep by {first}; waits for a second reviewer (no linked member)"
    if item.get("removal_owed"):
        return f"{item['decision']}; owed by hand (the service does not change this user)"
    if item.get("removed_by"):
        return f"{item['decision']}; removed by hand, recorded by {item['removed_by']}"
    if not item.get("decision"):
        return "escalated to the operators" if item.get("escalated_at") else "undecided"
    if item.get("lapsed"):
        return f"{item['decision']} by the stage's setting at the close (nobody decided)"
    if item.get("escalated_at"):
        return f"{item['decision']} by an operator after escalation"
    return f"{item['decision']} by the reviewer"


def diff(items: Iterable[dict], now_population: Iterable[tuple[dict, str, str, str]]) -> dict:
    """What a re-run of the campaign's query finds beside the stored snapshot."""
    before = {(key(i["username"]), i["group"]): i for i in items}
    after = {(key(u["username"]), g): (u, g) for u, g, *_ in now_population}
    added = sorted(after.keys() - before.keys())
    gone = sorted(before.keys() - after.keys())
    return {
        "count": len(after),
        "added": [{"username": after[k][0]["username"], "group": k[1]} for k in added],
        "removed": [{"username": before[k]["username"], "group": k[1]} for k in gone],
    }


def item_of(items: Iterable[dict], ident: str) -> dict:
    for item in items:
        if item["id"] == ident:
            return item
    raise NotFound(f"no item {ident} in this review")
