"""Access reviews: campaigns, reviewers' decisions and the evidence, as pure rules over records.

A campaign takes one snapshot of who holds what (every managed user's memberships and grants in
the campaign's groups, read in one whole-account query), makes one item per user and group, and
assigns each item a reviewer: an owner of the group who is not the person under review, else an
operator who is not. Reviewers keep or revoke each item until the campaign closes; a revoke is
carried out (the user moved out of the group, or the grant ended) by the service. At the due
date the campaign closes, and items nobody decided are kept, revoked or escalated to the
operators, as the stage says. Storage, Slack and the changes are the service's.

A review record: id, status, groups, due, created_at, ticket, requested_by, population
{taken_at, query, count, users}, closed_at, closed_by, version. An item record: review, id,
username, group, kind (member | grant), expires_at (a grant's), subject (the Slack member the
user is), reviewer, decision, decided_by, decided_at, lapsed (decided by the setting at the
close), escalated_at, removed_at, removal_ticket, carry_out_error, version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.domain.identity import key
from chalicelib.errors import BadRequest, ConfigurationError, Conflict, Forbidden, NotFound

OPEN, CLOSED = "open", "closed"
KEEP, REVOKE = "keep", "revoke"
DECISIONS = (KEEP, REVOKE)
CARRY_OUT_MODES = ("immediately", "at_close")
UNDECIDED_MODES = (KEEP, REVOKE, "escalate")
MEMBER, GRANT = "member", "grant"
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
    "reviewer",
    "decision",
    "decided_by",
    "decided_at",
    "lapsed",
    "escalated_at",
    "removed_at",
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
)


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


def reviewer_for(group: str, subject: str, policy: Policy) -> str:
    """An owner of the group who is not the person under review; else an operator who is not;
    else nobody (the item waits for the operators, who may decide any item)."""
    for member in policy.owners.get(group, ()):
        if member != subject:
            return member
    for member in sorted(policy.operators):
        if member != subject:
            return member
    return ""


def population(
    users: Iterable[dict], records: Mapping[str, dict], groups: list[str]
) -> list[tuple[dict, str, str, str]]:
    """(user, group, kind, expires_at) for every managed user in a campaign's group: a member
    (the record's groups) or a grant (time-bound, from the record's grants)."""
    found = []
    for user in users:
        record = records.get(key(user["username"])) or {}
        if record.get("status") == "offboarded":
            continue
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
) -> tuple[dict, list[dict]]:
    """A new campaign and its items, from one snapshot of the account."""
    ident = review_id(ticket)
    items = []
    for user, group, kind, expires in population(users, records, groups):
        record = records.get(key(user["username"])) or {}
        subject = record.get("slack_user") or user.get("tags", {}).get("slack_user", "")
        item = {
            "review": ident,
            "id": item_id(user["username"], group),
            "username": user["username"],
            "group": group,
            "kind": kind,
            "subject": subject,
            "reviewer": reviewer_for(group, subject, policy),
            "version": 0,
        }
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
            "users": len({key(u["username"]) for u, *_ in population(users, records, groups)}),
        },
        "version": 0,
    }
    return review, sorted(items, key=lambda i: (i["group"], key(i["username"])))


def same_start(review: dict, groups: list[str], due: date) -> bool:
    return bool(review["groups"] == groups and review["due"] == due.isoformat())


# deciding
def check_decider(item: dict, member: str, policy: Policy) -> None:
    """The assigned reviewer or an operator may decide; never the person under review."""
    if not member:
        raise Forbidden("a decision must name its reviewer (a Slack member id)")
    if item.get("subject") and member == item["subject"]:
        raise Forbidden(f"{item['username']} is you: someone else must review your own access")
    if member != item.get("reviewer") and member not in policy.operators:
        raise Forbidden(
            f"this item of {item['username']} in {item['group']} is not yours to review"
            + (f"; its reviewer is {item['reviewer']}" if item.get("reviewer") else "")
        )


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
    return {
        **item,
        "decision": decision,
        "decided_by": member,
        "decided_at": iso(now),
        "version": item.get("version", 0) + 1,
    }


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


def close(review: dict, now: datetime, by: str) -> dict:
    if review["status"] != OPEN:
        raise Conflict(f"review {review['id']} is closed already")
    return {
        **review,
        "status": CLOSED,
        "closed_at": iso(now),
        "closed_by": by,
        "version": review.get("version", 0) + 1,
    }


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
    return [i for i in items if i.get("reviewer") == member]


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
    }


_RESTORING = ("move", "grant", "onboard", "restore")
# Audit results of a change that was made (a revocation may still be owed after it).
_DONE = ("ok", "revocation_pending")


def holds(item: dict, groups_now: Mapping[str, list[str]], events: Iterable[dict]) -> dict:
    """Whether a carried-out revoke still holds: the user is not in the group now, or, if they
    are, the later change that put them back (from the audit trail)."""
    if not item.get("removed_at"):
        return {"holds": False, "why": item.get("carry_out_error") or "not carried out"}
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


def evidence(
    review: dict,
    items: list[dict],
    groups_now: Mapping[str, list[str]],
    events_of: Mapping[str, list[dict]],
    now: datetime,
) -> dict:
    """The evidence of a campaign: the population and its query, each item with its decision
    and its removal's audit reference, the totals, and the check that every revoke was carried
    out and still holds. ``events_of``: the audit events of each revoked user (canonical name)."""
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
            "problems": problems,
        },
        "generated_at": iso(now),
    }


def _how(item: dict) -> str:
    if item.get("offboarded"):  # the user's offboarding removed the access (its ticket)
        return f"revoke by the offboarding of the user ({item['offboarded']})"
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
