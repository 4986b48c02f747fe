"""Requests for time-bound access and their decisions: pure rules over plain records.

A person asks for a group for some hours with a reason; the group's approvers decide. The
rules here say who may decide, what a decision does to a request, when a request has expired
and what a request looks like to callers. Storage (with conditional writes, so that two clicks
decide once), Slack and the grant itself are the service's; nothing here does I/O.

A request record (the store keeps it as is):

    id, username, group, hours, reason, status, requested_by, requested_at, expires_at,
    requester (the Slack member who asked, or the one linked to the user; may be empty),
    for (the user asked for, when another member asked; then ``person`` is that user's linked
    member), extends: {expires_at, ticket} (an extension of the grant made under ``ticket``,
    which ended at ``expires_at`` when asked: approved, that grant is made longer), approvals: [member ids], decisions: [{by, at, decision}] (every decision in the
    order given), decided_by, decided_at, decision_reason, break_glass,
    grant: {group, expires_at}, failure_reason (why an approval was not granted),
    version (bumped by every change; the store's condition)

Nothing is granted after a request's pending window (``expires_at``), and every grant reads
the user again first: an approval that cannot become a grant closes the request ``failed``,
so a retried decision or a replayed request days later never grants it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.approvals.extensions import Extensions, extensions_from
from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden
from chalicelib.kernel.identity import key

if TYPE_CHECKING:
    from chalicelib.approvals.on_call import OnCall

PENDING, APPROVED, DENIED, EXPIRED, CANCELLED, ENDED, FAILED = (
    "pending",
    "approved",
    "denied",
    "expired",
    "cancelled",
    "ended",
    "failed",
)
STATUSES = (PENDING, APPROVED, DENIED, EXPIRED, CANCELLED, ENDED, FAILED)
TICKET_CLOSED = "ticket_closed"  # why a request was cancelled: the ticket it was asked under
DECISIONS = ("approve", "deny")
REASON_MAX = 500
DEFAULT_PENDING_HOURS = 3
_MEMBER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_USER_GROUP = re.compile(r"^S[A-Z0-9]{2,30}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
# What callers see of a request; the rest is bookkeeping.
_PUBLIC = (
    "id",
    "username",
    "group",
    "hours",
    "reason",
    "status",
    "requested_by",
    "requested_at",
    "expires_at",
    "decided_by",
    "decided_at",
    "for",
    "grant",
    "failure_reason",
    "why",
    "on_call",
    "extends",
)


@dataclass(frozen=True)
class Policy:
    """Who decides a group's requests and how."""

    group: str
    max_hours: int
    approvers: frozenset[str] = frozenset()  # Slack member ids
    approver_group: str = ""  # a Slack user group (S...) whose members also approve
    approvals: int = 1  # approvals needed
    self_approval: bool = False  # may the requester approve their own request
    break_glass: bool = False  # may the requester activate it at once, with a reason
    channel: str = ""  # the approvers' channel; empty: approvers are told by DM
    pending_hours: float = DEFAULT_PENDING_HOURS
    on_call: OnCall | None = None  # approved at once for whoever is on call there (on_call.py)
    extensions: Extensions | None = None  # how its grants may be made longer (None: never)
    requesters: frozenset[str] = frozenset()  # members who may ask; none named: anyone linked
    requester_groups: frozenset[str] = frozenset()  # Slack user groups whose members may ask
    break_glass_cooldown_hours: float = 0  # hours between one person's activations; 0: none
    break_glass_per_day: int = 0  # activations per person in any 24 hours; 0: no limit

    def is_approver(self, member: str, group_members: Iterable[str] = ()) -> bool:
        return member in self.approvers or (bool(self.approver_group) and member in group_members)

    @property
    def names_requesters(self) -> bool:
        return bool(self.requesters or self.requester_groups)


def policies_from(raw: Any, grant_max_hours: Mapping[str, int]) -> dict[str, Policy]:
    """The policies of a stage setting: ``{group: {approvers, approver_group, approvals,
    max_hours, self_approval, break_glass, channel, pending_hours, requesters, on_call,
    extensions}}``. A group must be one that can be granted for a time; its maximum may only
    lower the grant maximum. ``break_glass`` is true, false or its limits ``{cooldown_hours,
    per_day}`` (also accepted as ``break_glass_limits`` beside ``break_glass: true``)."""
    if not isinstance(raw, dict):
        raise ConfigurationError("APPROVAL_POLICIES must be a JSON object of group: policy")
    known = {
        "approvers",
        "approver_group",
        "approvals",
        "max_hours",
        "self_approval",
        "break_glass",
        "channel",
        "pending_hours",
        "on_call",
        "extensions",
        "requesters",
        "break_glass_limits",
    }
    policies = {}
    for group, entry in raw.items():
        where = f"APPROVAL_POLICIES[{group!r}]"
        if not isinstance(entry, dict) or set(entry) - known:
            raise ConfigurationError(f"{where} must be an object with the keys {sorted(known)}")
        limit = grant_max_hours.get(group)
        if limit is None:
            raise ConfigurationError(f"{where}: {group} has no grant maximum (GRANT_MAX_HOURS)")
        approvers = entry.get("approvers", [])
        if not isinstance(approvers, list) or not all(
            isinstance(a, str) and _MEMBER.match(a) for a in approvers
        ):
            raise ConfigurationError(f"{where}.approvers must be Slack member ids (U...)")
        approver_group = entry.get("approver_group", "")
        if approver_group and not _USER_GROUP.match(str(approver_group)):
            raise ConfigurationError(f"{where}.approver_group must be a Slack user group id (S...)")
        if not approvers and not approver_group:
            raise ConfigurationError(f"{where} names no approver")
        channel = entry.get("channel", "")
        if channel and not _CHANNEL.match(str(channel)):
            raise ConfigurationError(f"{where}.channel must be a Slack channel id (C...)")
        max_hours = entry.get("max_hours", limit)
        needed = entry.get("approvals", 1)
        pending = entry.get("pending_hours", DEFAULT_PENDING_HOURS)
        if not (isinstance(max_hours, int) and 1 <= max_hours <= limit):
            raise ConfigurationError(f"{where}.max_hours must be a whole number from 1 to {limit}")
        if not (isinstance(needed, int) and needed >= 1):
            raise ConfigurationError(f"{where}.approvals must be a whole number of at least 1")
        if not (isinstance(pending, (int, float)) and pending > 0):
            raise ConfigurationError(f"{where}.pending_hours must be a positive number")
        if not isinstance(entry.get("self_approval", False), bool):
            raise ConfigurationError(f"{where}.self_approval must be true or false")
        break_glass, limits = _break_glass(where, entry)
        members, groups = _requesters(where, entry.get("requesters"))
        extensions = extensions_from(entry.get("extensions"), f"{where}.extensions", limit)
        policies[group] = Policy(
            group=group,
            max_hours=max_hours,
            approvers=frozenset(approvers),
            approver_group=str(approver_group),
            approvals=needed,
            self_approval=entry.get("self_approval", False),
            break_glass=break_glass,
            channel=str(channel),
            pending_hours=float(pending),
            on_call=_on_call(entry, where),
            extensions=extensions,
            requesters=members,
            requester_groups=groups,
            break_glass_cooldown_hours=float(limits.get("cooldown_hours", 0)),
            break_glass_per_day=int(limits.get("per_day", 0)),
        )
    return policies


def _on_call(entry: dict, where: str) -> OnCall | None:
    """A policy's ``on_call``, checked (``approvals/on_call.py``); None when it names none."""
    if "on_call" not in entry:
        return None
    from chalicelib.approvals.on_call import parse

    return parse(entry["on_call"], f"{where}.on_call")


def _break_glass(where: str, entry: dict) -> tuple[bool, dict]:
    """Whether break-glass is allowed, and its limits: ``true``/``false`` as ever, or the
    limits themselves (``{"cooldown_hours": h, "per_day": n}``), which allow it."""
    raw = entry.get("break_glass", False)
    limits = entry.get("break_glass_limits")
    if isinstance(raw, dict):
        if limits is not None:
            raise ConfigurationError(
                f"{where}: give break-glass limits once, in break_glass or break_glass_limits"
            )
        raw, limits = True, raw
    if not isinstance(raw, bool):
        raise ConfigurationError(
            f"{where}.break_glass must be true, false or {{cooldown_hours, per_day}}"
        )
    if limits is None:
        return raw, {}
    if not raw:
        raise ConfigurationError(f"{where}.break_glass_limits needs break_glass: true")
    known = {"cooldown_hours", "per_day"}
    if not isinstance(limits, dict) or not limits or set(limits) - known:
        raise ConfigurationError(f"{where}: break-glass limits take the keys {sorted(known)}")
    cooldown, per_day = limits.get("cooldown_hours", 0), limits.get("per_day", 0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or cooldown < 0:
        raise ConfigurationError(f"{where}: cooldown_hours must be a number of hours, 0 or more")
    if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day < 0:
        raise ConfigurationError(f"{where}: per_day must be a whole number, 0 or more")
    return True, {"cooldown_hours": cooldown, "per_day": per_day}


def _requesters(where: str, raw: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Members (U...) and Slack user groups (S...) who may ask; absent: anyone linked."""
    if raw is None:
        return frozenset(), frozenset()
    if not (
        isinstance(raw, list)
        and raw
        and all(isinstance(r, str) and (_MEMBER.match(r) or _USER_GROUP.match(r)) for r in raw)
    ):
        raise ConfigurationError(
            f"{where}.requesters must list Slack member ids (U...) or user group ids (S...)"
        )
    return (
        frozenset(r for r in raw if _MEMBER.match(r)),
        frozenset(r for r in raw if _USER_GROUP.match(r)),
    )


def request_id(ticket: str) -> str:
    """A request's id, made from the ticket that asked for it: the same ticket asks once."""
    return "req-" + hashlib.sha256(key(ticket).encode()).hexdigest()[:20]


def member_of(requested_by: str) -> str:
    """The Slack member an identity names (``slack:U...`` or ``U...``), or empty."""
    name = requested_by.removeprefix("slack:")
    return name if _MEMBER.match(name) else ""


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass
class NewRequest:
    username: str
    group: str
    hours: int
    reason: str
    ticket: str
    requested_by: str
    break_glass: bool = False
    requester: str = ""  # the Slack member asking, or linked to the user
    extra: dict = field(default_factory=dict)
    for_user: str = ""  # set when another member asks for ``username``: that user
    person: str = ""  # then the member linked to ``username``, told and never an approver
    extend: bool = False  # an extension of the user's current grant of the group
    extends: dict = field(default_factory=dict)  # then that grant: {expires_at, ticket}


def check_request(
    new: NewRequest, policy: Policy | None, record: dict | None, policies: Mapping[str, Policy]
) -> None:
    """Refuse what may not be asked for: an unknown group, hours out of range, a reason
    missing or too long, a requester who is not active or holds the group already, a
    break-glass activation of a group that has none."""
    if policy is None:
        names = ", ".join(sorted(policies)) or "none"
        raise Forbidden(f"{new.group} cannot be requested; groups that can: {names}")
    if not isinstance(new.hours, int) or isinstance(new.hours, bool) or new.hours < 1:
        raise BadRequest("hours must be a positive whole number")
    if new.hours > policy.max_hours:
        raise BadRequest(f"{new.group} may be requested for at most {policy.max_hours} hours")
    reason = (new.reason or "").strip()
    if not reason:
        raise BadRequest("give a reason")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"the reason may hold at most {REASON_MAX} characters")
    if new.break_glass and not policy.break_glass:
        raise Forbidden(f"{new.group} has no break-glass activation; ask for it instead")
    if new.break_glass and new.for_user:
        raise Forbidden(
            f"break-glass is activated by the person who needs it; ask for {new.for_user} "
            "without --break-glass"
        )
    if new.extend and new.break_glass:
        raise BadRequest("an extension is asked of the approvers: leave out break_glass")
    check_user(new.username, new.group, record, extending=new.extend)
    # The member who is the person: the one asking, or, asked for by another, their own link.
    person = new.person if new.for_user else new.requester
    if not person and needs_other_approver(policy, new.break_glass):
        raise Forbidden(
            f"{new.username} has no linked Slack member, so an approver cannot be told apart "
            f"from {new.username}: link their Slack member (`slack_user`) first"
        )


def check_user(
    username: str, group: str, record: dict | None, ticket: str = "", extending: bool = False
) -> None:
    """Refuse a user who may not be given ``group`` now: not managed, not active, a member
    already, or holding it by a grant (other than one made under ``ticket``; for an extension,
    ``extending``, the grant it extends is what it needs)."""
    if record is None or record.get("status") == "offboarded":
        raise Forbidden(f"{username} is not a managed user")
    if record.get("status") != "active":
        raise Conflict(f"{username} is {record.get('status')}; a request needs an active user")
    if group in record.get("groups", []):
        raise Conflict(f"{username} is a member of {group} already, without an expiry")
    if not extending and any(
        g.get("group") == group and not (ticket and g.get("ticket") == ticket)
        for g in record.get("grants", [])
    ):
        raise Conflict(f"{username} holds {group} already; `done` ends it")


def needs_other_approver(policy: Policy, break_glass: bool = False) -> bool:
    """Whether one approver other than the person decides: the four eyes that only a linked
    Slack member can keep (two distinct approvers keep them without one)."""
    return not (break_glass or policy.self_approval or policy.approvals >= 2)


def check_requester(new: NewRequest, policy: Policy, group_members: Iterable[str] = ()) -> None:
    """Refuse one the policy does not let ask: with ``requesters`` named, only those members
    and the members of those Slack user groups ask; asking for someone else (``for``) needs a
    policy that names its requesters, and the asker among them."""
    asker = new.requester
    named = bool(asker) and (asker in policy.requesters or asker in set(group_members))
    if new.for_user:
        if not asker:
            raise Forbidden(
                f"asking for {new.for_user} needs the Slack member who asks in requested_by"
            )
        if not policy.names_requesters:
            raise Forbidden(
                f"nobody may ask for someone else for {new.group}: its policy names no requesters"
            )
        if not named:
            raise Forbidden(
                f"only the requesters {new.group}'s policy names may ask for someone else"
            )
        return
    if policy.names_requesters and not named:
        who = f"<@{asker}>" if asker else "a request without a Slack member"
        raise Forbidden(f"{who} may not ask for {new.group}: only the requesters its policy names")


def activations(requests: Iterable[dict], username: str, group: str) -> list[str]:
    """When ``username``'s break-glass activations of ``group`` were made (granted or being
    granted; one that failed gave nothing), oldest first."""
    return sorted(
        str(r["decided_at"])
        for r in requests
        if r.get("break_glass")
        and r.get("decided_at")
        and r["group"] == group
        and key(r["username"]) == key(username)
        and r["status"] in (APPROVED, ENDED)
    )


def check_break_glass_limits(
    policy: Policy, username: str, past: Iterable[dict], now: datetime
) -> None:
    """Refuse a break-glass activation within the cooldown after the person's last one for the
    group, or beyond the policy's count in any 24 hours, saying when the next may be."""
    used = activations(past, username, policy.group)
    ask = "; ask its approvers instead (without --break-glass)"
    if used and policy.break_glass_cooldown_hours:
        last = datetime.fromisoformat(used[-1])
        until = last + timedelta(hours=policy.break_glass_cooldown_hours)
        if now < until:
            raise Forbidden(
                f"{username} activated {policy.group}'s break-glass at {iso(last)}; the next "
                f"activation may be at {iso(until)} (a cooldown of "
                f"{policy.break_glass_cooldown_hours:g} h){ask}"
            )
    if policy.break_glass_per_day:
        since = iso(now - timedelta(hours=24))
        recent = [at for at in used if at > since]
        if len(recent) >= policy.break_glass_per_day:
            until = datetime.fromisoformat(recent[-policy.break_glass_per_day]) + timedelta(
                hours=24
            )
            raise Forbidden(
                f"{username} activated {policy.group}'s break-glass {len(recent)} time(s) in the "
                f"last 24 hours, the most its policy allows; the next activation may be at "
                f"{iso(until)}{ask}"
            )


def create(new: NewRequest, policy: Policy, now: datetime) -> dict:
    """The record of a new request: pending until its approvers decide or it expires."""
    return {
        "id": request_id(new.ticket),
        "username": new.username,
        "group": new.group,
        "hours": new.hours,
        "reason": new.reason.strip(),
        "status": PENDING,
        "requested_by": new.requested_by,
        "requested_at": iso(now),
        "expires_at": iso(now + timedelta(hours=policy.pending_hours)),
        "requester": new.requester,
        "approvals": [],
        "decisions": [],
        "break_glass": new.break_glass,
        "request_ticket": new.ticket,
        "version": 0,
        **({"for": new.for_user, "person": new.person} if new.for_user else {}),
        **({"extends": dict(new.extends)} if new.extend else {}),
    }


def same_request(existing: dict, new: NewRequest) -> bool:
    """Whether a second ask under a ticket asks for the same thing (a replay)."""
    return (
        key(existing["username"]) == key(new.username)
        and existing["group"] == new.group
        and existing["hours"] == new.hours
        and existing["reason"] == new.reason.strip()
        and bool(existing.get("break_glass")) == new.break_glass
        and key(existing.get("for", "")) == key(new.for_user)
        and bool(existing.get("extends")) == new.extend
    )


def window_closed(request: dict, now: datetime) -> bool:
    """Whether the request's pending window is over: nothing is decided or granted after it."""
    return str(request["expires_at"]) <= iso(now)


def is_expired(request: dict, now: datetime) -> bool:
    return request["status"] == PENDING and window_closed(request, now)


def check_decider(
    request: dict,
    policy: Policy | None,
    approver: str,
    group_members: Iterable[str] = (),
    approver_user: str | None = None,
    decision: str = "approve",
) -> None:
    """Refuse a decider who is not an approver of the group, who asked (or was asked for), or
    whose own linked user (``approver_user``) is the one the request is for: unless the policy
    lets requesters approve their own, and then only where one approval is enough (of a
    quorum, the requester never counts; they may still deny)."""
    if policy is None or not policy.is_approver(approver, group_members):
        raise Forbidden(f"only an approver of {request['group']} may decide this request")
    if policy.self_approval and (policy.approvals < 2 or decision == "deny"):
        return
    if approver in requesters(request):
        raise Forbidden("you asked for this access: another approver must decide")
    if approver_user and key(approver_user) == key(request["username"]):
        raise Forbidden(
            f"you are linked to {request['username']}, whom this request is for: "
            "another approver must decide"
        )


def requesters(request: dict) -> set[str]:
    """The members who asked, or were asked for: the one linked to the user, the one who sent
    the request and, when someone asked for another, that person's member."""
    asked = (
        request.get("requester", ""),
        member_of(request["requested_by"]),
        request.get("person"),
    )
    return {m for m in asked if m}


def decide(
    request: dict,
    policy: Policy,
    decision: str,
    approver: str,
    now: datetime,
    reason: str | None = None,
    ticket: str | None = None,
) -> dict:
    """The request after ``approver``'s ``decision``: approved once enough approvers agree,
    denied by any one. Refused once decided or expired, or for a second approval by one
    approver."""
    if decision not in DECISIONS:
        raise BadRequest("decision must be approve or deny")
    if request["status"] != PENDING:
        raise Conflict(f"this request is {request['status']} already; nothing was changed")
    if is_expired(request, now):
        raise Conflict("this request expired; nothing was changed; ask again")
    if approver in request.get("approvals", []):
        raise Conflict("you approved this request already; it waits for another approver")
    decided = {
        **request,
        "version": request.get("version", 0) + 1,
        "decisions": [*decisions(request), {"by": approver, "at": iso(now), "decision": decision}],
    }
    if decision == "deny":
        decided.update(status=DENIED, decided_by=approver, decided_at=iso(now))
    else:
        approvals = [*request.get("approvals", []), approver]
        decided["approvals"] = approvals
        if len(approvals) >= policy.approvals:
            decided.update(status=APPROVED, decided_by=approver, decided_at=iso(now))
    if reason:
        decided["decision_reason"] = reason
    if ticket:
        decided["decision_ticket"] = ticket
    return decided


def activate(request: dict, now: datetime) -> dict:
    """A break-glass request, approved by the one who asked: granted at once."""
    by = request.get("requester") or request["requested_by"]
    return {
        **request,
        "status": APPROVED,
        "decided_by": by,
        "decided_at": iso(now),
        "decisions": [*decisions(request), {"by": by, "at": iso(now), "decision": "break_glass"}],
        "version": request.get("version", 0) + 1,
    }


def decisions(request: dict) -> list[dict]:
    """Every decision on a request, in order: ``{by, at, decision}`` (a request recorded before
    decisions were kept names its approvers only)."""
    if "decisions" in request:
        return [dict(d) for d in request["decisions"]]
    return [{"by": m, "decision": "approve"} for m in request.get("approvals", [])]


def approvers_of(request: dict) -> list[str]:
    """Who approved it (for an approved request: every approver the quorum counted)."""
    return [d["by"] for d in decisions(request) if d["decision"] == "approve"]


def close(request: dict, status: str, now: datetime, by: str) -> dict:
    """A request expired (pending too long), cancelled (by who asked) or ended (its grant
    ended early)."""
    if status not in (EXPIRED, CANCELLED, ENDED):
        raise ValueError(status)
    allowed = {EXPIRED: (PENDING,), CANCELLED: (PENDING,), ENDED: (APPROVED,)}[status]
    if request["status"] not in allowed:
        raise Conflict(f"this request is {request['status']}; it cannot be {status}")
    return _closed(request, status, now, closed_by=by)


def _closed(request: dict, status: str, now: datetime, **fields: Any) -> dict:
    return {
        **request,
        **fields,
        "status": status,
        "closed_at": iso(now),
        "version": request.get("version", 0) + 1,
    }


def grant_refusal(request: dict, record: dict | None, now: datetime) -> str | None:
    """Why an approved request may not be granted now (None: it may): its pending window has
    closed, or its user, read again, may no longer be given the group."""
    if window_closed(request, now):
        return f"its pending window closed at {request['expires_at']}; ask again"
    try:
        extending = bool(request.get("extends"))
        check_user(request["username"], request["group"], record, request["id"], extending)
    except (Conflict, Forbidden) as error:
        return error.message
    return None


def made_grant(request: dict, record: dict | None) -> dict | None:
    """The grant the user's record holds under this request's id: made already (its answer
    lost), so only the request is left to record it."""
    for grant in (record or {}).get("grants", []):
        if grant.get("group") == request["group"] and grant.get("ticket") == request["id"]:
            return dict(grant)
    return None


def made_extension(request: dict, record: dict | None) -> dict | None:
    """The grant an approved extension made longer already (its answer lost), if any."""
    for grant in (record or {}).get("grants", []):
        if grant.get("group") == request["group"] and request["id"] in grant.get(
            "extended_under", []
        ):
            return dict(grant)
    return None


def fail(request: dict, now: datetime, why: str) -> dict:
    """An approved request that did not become a grant, closed: it is never granted later."""
    if request["status"] != APPROVED or request.get("grant"):
        raise Conflict(f"this request is {request['status']}; it cannot be failed")
    return _closed(request, FAILED, now, failure_reason=why)


def with_grant(request: dict, grant: dict) -> dict:
    return {
        **request,
        "grant": {"group": grant["group"], "expires_at": grant["expires_at"]},
        "version": request.get("version", 0) + 1,
    }


def view(request: dict) -> dict:
    """A request as callers see it (the REQUEST of the contract); ``approvals`` is every
    decision so far, ``{by, approver, at, decision}`` (``approver`` names ``by`` again, as the
    contract spells it)."""
    shown = {k: request[k] for k in _PUBLIC if request.get(k) is not None}
    if request.get("extends"):  # the grant it extends, by the expiry it had when asked
        shown["extends"] = {"expires_at": request["extends"]["expires_at"]}
    shown["approvals"] = [{**d, "approver": d["by"]} for d in decisions(request)]
    return shown


def decidable(
    requests: Iterable[dict],
    policies: Mapping[str, Policy],
    member: str,
    group_members: Mapping[str, Iterable[str]],
    member_user: str | None = None,
) -> list[dict]:
    """The pending requests ``member`` (linked to ``member_user``) may decide."""
    found = []
    for request in requests:
        policy = policies.get(request["group"])
        if request["status"] != PENDING or policy is None:
            continue
        try:
            check_decider(
                request, policy, member, group_members.get(request["group"], ()), member_user
            )  # a requester who may only deny is not asked
        except Forbidden:
            continue
        if member not in request.get("approvals", []):
            found.append(request)
    return found
