"""Requests for time-bound access and their decisions, run the same way for REST, Slack and the
schedules: the rules are ``approvals/rules.py``; here they meet the store (conditional writes),
the audit trail, the events, the change runner and Slack.

Every step of a request is an audit event whose ticket is the request's id (asked, refused,
approved, denied, expired, cancelled, ended), and the grant an approval leads to runs through
the change runner under that same id, so ``GET /audit?ticket=<id>`` tells the whole story and
the grant gets what every grant gets: idempotency, the user's lease, its own audit event, its
event, callbacks and, at its expiry, the removal and session revocation. Before any grant the
user is read again and the request's pending window checked; an approval that cannot become a
grant (refused by either, or by the runner) closes the request ``failed``, audited as a
``decide`` that failed, so no retry or replay grants it later.

What Slack shows (the approvers' channel message, its updates, the direct messages) is queued
as ``approval_message`` work, so a slow or rate-limited Slack never holds a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.approvals import extensions as extension_rules
from chalicelib.approvals import on_call as on_call
from chalicelib.approvals import rules as rules
from chalicelib.approvals import settings as approval_settings
from chalicelib.kernel import review_items
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, BadRequest, Conflict, NotFound, Stale
from chalicelib.kernel.telemetry import count, logger
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.approvals.commands import AccessRequest
    from chalicelib.approvals.on_call_check import OnCallCheck
    from chalicelib.approvals.ports import Requests
    from chalicelib.edges.slack.web_api import SlackApi
    from chalicelib.kernel.ports import Events, Queue, StateStore
    from chalicelib.kernel.runner import Operations

SCHEDULE = "schedule"
MESSAGE_KIND = "approval_message"
_ATTEMPTS = 5  # reads and conditional writes of one request before giving up on a race


class ApprovalService:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        requests: Requests,
        operations: Operations,
        events: Events,
        work_queue: Queue,
        slack: Callable[[], SlackApi],
        clock: Callable[[], datetime],
        linked_user: Callable[[str], str | None],
        on_call: OnCallCheck | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.requests = requests
        self.operations = operations
        self.events = events
        self.work_queue = work_queue
        self._slack = slack
        self.clock = clock
        self.linked_user = linked_user  # the managed user a Slack member is linked to
        self.on_call = on_call  # who is on call now, for policies that name on_call

    @property
    def slack(self) -> SlackApi:
        return self._slack()

    # reading
    def policy(self, group: str) -> rules.Policy | None:
        return approval_settings.policies(self.settings).get(group)

    def group_members(self, policy: rules.Policy | None) -> list[str]:
        """The members of the policy's Slack user group (none when it names none)."""
        if policy is None or not policy.approver_group:
            return []
        return self.slack.user_group_members(policy.approver_group)

    def requester_group_members(self, policy: rules.Policy) -> list[str]:
        """The members of the Slack user groups that may ask (read only when some are named)."""
        found: list[str] = []
        for group in sorted(policy.requester_groups):
            found += self.slack.user_group_members(group)
        return found

    def approvers(self, policy: rules.Policy) -> list[str]:
        return sorted(set(policy.approvers) | set(self.group_members(policy)))

    def get(self, request_id: str) -> dict:
        found = self.requests.get(request_id)
        if found is None:
            raise NotFound(f"no request {request_id}")
        return found

    def search(self, status: str | None = None, username: str | None = None) -> list[dict]:
        if status and status not in rules.STATUSES:
            raise BadRequest(f"status must be one of {', '.join(rules.STATUSES)}")
        return [rules.view(r) for r in self.requests.search(status, username)]

    def decidable(self, member: str) -> list[dict]:
        """The pending requests ``member`` may decide."""
        pending = self.requests.search(rules.PENDING)
        now = self.clock()
        pending = [r for r in pending if not rules.is_expired(r, now)]
        groups = {r["group"] for r in pending}
        members = {g: self.group_members(self.policy(g)) for g in groups}
        linked = self.linked_user(member) if pending else None
        return rules.decidable(
            pending, approval_settings.policies(self.settings), member, members, linked
        )

    # asking
    def ask(self, body: AccessRequest, requester: str = "") -> dict:
        """A new request (201), or the same request again for its ticket. Break-glass: granted
        at once, every approver told."""
        named = body.username or ""  # the model names the user, by username or by for
        record = self.state.get_record(named)
        linked = (record or {}).get("slack_user", "")
        username: str = (record or {}).get("username") or named
        asker = (requester or rules.member_of(body.requested_by)) if body.for_user else ""
        new = rules.NewRequest(
            username=username,
            group=body.group,
            hours=body.hours,
            reason=body.reason,
            ticket=body.ticket,
            requested_by=body.requested_by,
            break_glass=body.break_glass,
            requester=asker if body.for_user else requester or linked,
            for_user=username if body.for_user else "",
            person=linked if body.for_user else "",
            extend=body.extend,
        )
        policy = self.policy(body.group)
        request_id = rules.request_id(body.ticket)
        existing = self.requests.get(request_id)
        if existing is not None:
            return self._replayed(existing, new)
        now = self.clock()
        try:
            rules.check_request(new, policy, record, approval_settings.policies(self.settings))
            assert policy is not None
            rules.check_requester(new, policy, self.requester_group_members(policy))
            if new.extend:  # within the grant's cap, or refused before anything is posted
                new.extends = extension_rules.check_asked(
                    policy.extensions,
                    new.username,
                    new.group,
                    new.hours,
                    (record or {}).get("grants", []),
                    now,
                )
            if new.break_glass:
                past = self.requests.search(username=new.username)
                rules.check_break_glass_limits(policy, new.username, past, now)
        except AppError as error:
            self._refused("request", new.username, body.ticket, new.requested_by, error)
            raise
        request = rules.create(new, policy, now)
        until = int(datetime.fromisoformat(request["expires_at"]).timestamp())
        try:
            created = self.requests.create(request, until, int(now.timestamp()))
        except Conflict as error:
            self._refused("request", new.username, body.ticket, new.requested_by, error)
            raise
        if created is None:  # the same ticket, sent twice at once
            return self._replayed(self.get(request_id), new)
        self._audit(
            "request",
            request,
            new.requested_by,
            "ok: break-glass" if new.break_glass else "ok: pending",
            {
                "group": new.group,
                "hours": new.hours,
                "reason": request["reason"],
                "ticket": body.ticket,
                **({"for": new.for_user, "asked_by": new.requester} if new.for_user else {}),
                **({"extends": request["extends"]} if new.extend else {}),
            },
        )
        self._publish("request", request)
        count("request", "ok")
        if not new.break_glass:
            return rules.view(self._on_call_or_approvers(request, policy))
        request = self._write(rules.activate(request, now), request["version"])
        self.requests.release(request)
        self._audit("decide", request, new.requested_by, "ok: break-glass activated")
        request = self._grant(request, new.requested_by)
        self._message(request, "break_glass" if request["status"] == rules.APPROVED else "failed")
        if request.get("grant"):
            self._open_review(request)
        return rules.view(request)

    def _on_call_or_approvers(self, request: dict, policy: rules.Policy) -> dict:
        """A new request approved at once when its person is on call where the policy says
        (``on_call.py``) and granted as any approval; otherwise sent to its approvers, with a
        note when the on-call check could not tell."""
        outcome = on_call.Outcome()
        if policy.on_call is not None and self.on_call is not None:
            outcome = self.on_call.assess(policy.on_call, request["username"])
        try:
            if outcome.match is None:
                if outcome.note:
                    request = self._write(
                        on_call.with_note(request, outcome.note), request["version"]
                    )
                self._message(request, "created")
                return request
            approved = on_call.approve(request, outcome.match, self.clock())
            request = self._write(approved, request["version"])
        except Stale:  # decided meanwhile (a REST decision by its id): that decision stands
            return self.get(request["id"])
        self.requests.release(request)
        by = outcome.match.source
        self._audit(
            "decide", request, by, on_call.result(outcome.match), {"on_call": request["on_call"]}
        )
        self._publish("decide", request)
        count("decide", "ok")
        request = self._grant(request, by)
        self._message(request, request["status"])
        return request

    def _open_review(self, request: dict) -> None:
        """Each break-glass use opens a review item (access reviews open it from the queue);
        one that cannot be queued is audited as owed, and counted."""
        item = review_items.break_glass_use(
            request_id=request["id"],
            username=request["username"],
            group=request["group"],
            reason=request["reason"],
            activated_by=request["decided_by"],
            activated_at=request["decided_at"],
            expires_at=request["grant"]["expires_at"],
        )
        try:
            self.work_queue.send(item)
        except AppError as error:
            self._audit(
                "request",
                request,
                request["requested_by"],
                f"failed: the review of this break-glass use is owed: {error.message}; "
                "open one by hand",
            )
            count("request", "failed")

    def _replayed(self, existing: dict, new: rules.NewRequest) -> dict:
        if not rules.same_request(existing, new):
            raise Conflict(
                f"ticket {new.ticket} was already used for a different request; use a new ticket"
            )
        # An answer lost before the grant was made: granted now only if it still may be.
        granted = self._granted(existing, new.requested_by)
        if existing.get("break_glass") and granted.get("grant") and not existing.get("grant"):
            self._open_review(granted)  # the use granted now is reviewed as any other
        return rules.view(granted)

    # deciding
    def decide(
        self,
        request_id: str,
        decision: str,
        approver: str,
        reason: str | None = None,
        ticket: str | None = None,
    ) -> dict:
        """``approver``'s decision on a pending request. Refused (and audited) for a decider who
        is not an approver, or who asked; once decided or expired, nothing changes. Of two
        decisions at once, one is written; the other reads again and finds it decided."""
        approver = rules.member_of(approver) or approver
        by = f"slack:{approver}"
        for _ in range(_ATTEMPTS):
            request = self.get(request_id)
            if ticket and request.get("decision_ticket") == ticket:  # this decision, again
                return rules.view(self._granted(request, by))
            policy = self.policy(request["group"])
            try:
                rules.check_decider(
                    request,
                    policy,
                    approver,
                    self.group_members(policy),
                    self.linked_user(approver),
                    decision,
                )
                if rules.is_expired(request, self.clock()):
                    self._close(request, rules.EXPIRED, SCHEDULE)
                    raise Conflict("this request expired; nothing was changed; ask again")
                assert policy is not None
                decided = rules.decide(
                    request, policy, decision, approver, self.clock(), reason, ticket
                )
            except AppError as error:
                self._refused("decide", request["username"], request["id"], by, error)
                raise
            try:
                request = self.requests.update(decided, request["version"])
            except Stale:
                continue  # someone decided (or the message was posted) meanwhile
            break
        else:
            raise Conflict("this request keeps changing; try again")
        result = {
            rules.APPROVED: "ok: approved",
            rules.DENIED: "ok: denied",
            rules.PENDING: "ok: approval recorded, waiting for more",
        }[request["status"]]
        detail = {
            "decision": decision,
            "reason": reason,
            "ticket": ticket,
            # every approver so far: of an approval, every one the quorum counted
            "approvers": rules.approvers_of(request),
        }
        self._audit("decide", request, by, result, {k: v for k, v in detail.items() if v})
        self._publish("decide", request)
        count("decide", "ok")
        if request["status"] != rules.PENDING:
            self.requests.release(request)
        if request["status"] == rules.APPROVED:
            request = self._grant(request, by)
        self._message(request, request["status"] if request["status"] != rules.PENDING else "vote")
        return rules.view(request)

    def _granted(self, request: dict, by: str) -> dict:
        """An approved request left without its grant (its answer lost, or a failure of ours or
        AWS's), granted now if it still may be, else closed ``failed``; Slack told either way."""
        if request["status"] != rules.APPROVED or "grant" in request:
            return request
        request = self._grant(request, by)
        self._message(request, request["status"])
        return request

    def _grant(self, request: dict, by: str) -> dict:
        """The grant of an approved request, through the change runner with the request's id as
        its ticket: a retry (a redelivered click, a replayed REST call) grants once. The user is
        read again first; past the pending window, or for a user who may no longer have it, or
        when the runner refuses it, nothing is granted and the request closes ``failed``. A
        change in progress, or a failure of ours or AWS's (5xx), leaves it approved: a retry of
        the decision finishes it within the window."""
        if request.get("extends"):
            return self._extend(request, by)
        GrantRequest = ACTIONS["grant"].request_model()  # the lifecycle's, by the catalogue

        record = self.state.get_record(request["username"])
        made = rules.made_grant(request, record)
        if made is not None:
            return self._record_grant(request, made)
        why = rules.grant_refusal(request, record, self.clock())
        if why is not None:
            return self._fail(request, why, by)

        grant = GrantRequest(
            group=request["group"],
            hours=request["hours"],
            reason=request["reason"][:256],
            ticket=request["id"],
            requested_by=f"slack:{request['decided_by']}"
            if rules.member_of(request["decided_by"])
            else request["decided_by"],
        )
        try:
            answer = self.operations.change("grant", request["username"], grant)
        except AppError as error:
            if error.retryable or error.status >= 500:  # in progress, or ours or AWS's: owed
                raise
            return self._fail(request, error.message, by)
        found = [g for g in answer.get("grants", []) if g["group"] == request["group"]]
        if not found:
            return request
        return self._record_grant(request, found[0])

    def _extend(self, request: dict, by: str) -> dict:
        """An approved extension: the grant it was asked for made longer from its expiry, by the
        lifecycle's ``extend`` change under the request's id, against the policy's cap; a grant
        that ended meanwhile, a cap reached or a policy that no longer allows extensions closes
        the request ``failed``, extending nothing."""
        ExtendRequest = ACTIONS["extend"].request_model()  # the lifecycle's, by the catalogue

        record = self.state.get_record(request["username"])
        made = rules.made_extension(request, record)
        if made is not None:
            return self._record_grant(request, made)
        policy = self.policy(request["group"])
        extensions = policy.extensions if policy else None
        why = rules.grant_refusal(request, record, self.clock())
        if why is None and extensions is None:
            why = f"{request['group']}'s approval policy no longer allows extensions"
        if why is not None or extensions is None:
            return self._fail(request, why or "", by)
        change = ExtendRequest(
            group=request["group"],
            hours=request["hours"],
            most=extensions.count,
            grant_ticket=request["extends"].get("ticket") or None,
            ticket=request["id"],
            requested_by=f"slack:{request['decided_by']}"
            if rules.member_of(request["decided_by"])
            else request["decided_by"],
        )
        try:
            answer = self.operations.change("extend", request["username"], change)
        except AppError as error:
            if error.retryable or error.status >= 500:  # in progress, or ours or AWS's: owed
                raise
            return self._fail(request, error.message, by)
        return self._record_grant(
            request, {"group": request["group"], "expires_at": answer["expires_at"]}
        )

    def _record_grant(self, request: dict, grant: dict) -> dict:
        for _ in range(_ATTEMPTS):
            try:
                return self._write(rules.with_grant(request, grant), request["version"])
            except Stale:
                request = self.get(request["id"])
                if "grant" in request:
                    return request
        return request

    def _fail(self, request: dict, why: str, by: str) -> dict:
        """Close an approval that did not become a grant: audited and published (the caller
        tells Slack)."""
        for _ in range(_ATTEMPTS):
            try:
                failed = self._write(rules.fail(request, self.clock(), why), request["version"])
                break
            except Stale:
                request = self.get(request["id"])
                if request["status"] != rules.APPROVED or "grant" in request:
                    return request
        else:
            raise Conflict("this request keeps changing; try again")
        self._audit("decide", failed, by, f"failed: not granted: {why}")
        self._publish("decide", failed)
        count("decide", "failed")
        return failed

    # ending
    def expire_due(self) -> list[str]:
        """Expire the pending requests whose time is up; each audited and told in Slack. An
        approval left without its grant past its window is closed ``failed`` (or, if the grant
        was made after all, recorded)."""
        now = self.clock()
        expired = []
        for request in self.requests.search():
            if request["status"] == rules.APPROVED and "grant" not in request:
                if rules.window_closed(request, now):
                    try:
                        self._granted(request, SCHEDULE)
                    except (Stale, AppError) as error:  # the next run tries again
                        logger().warning(
                            "could not close an approval left without its grant",
                            extra={"request": request["id"], "reason": str(error)},
                        )
                continue
            if rules.is_expired(request, now):
                try:
                    self._close(request, rules.EXPIRED, SCHEDULE)
                except Stale:
                    continue  # decided meanwhile
                except AppError as error:  # the store failed: the next run tries again
                    logger().warning(
                        "could not expire a request",
                        extra={"request": request["id"], "reason": error.message},
                    )
                    continue
                expired.append(request["id"])
        return expired

    def done(self, username: str, group: str, member: str, ticket: str) -> dict:
        """``/access done <group>``: cancel one's pending request for the group, or end one's
        grant of it now (through the change runner, with session revocation); a pending
        extension of the grant is cancelled and the grant ended."""
        by = f"slack:{member}"
        mine = [
            r
            for r in self.requests.search(username=username)
            if r["group"] == group and r["status"] in (rules.PENDING, rules.APPROVED)
        ]
        pending = [r for r in mine if r["status"] == rules.PENDING]
        extension = None
        if pending:
            cancelled = self._close(pending[-1], rules.CANCELLED, by)
            if not cancelled.get("extends"):  # an extension waits on a grant, which ends too
                return {"cancelled": rules.view(cancelled)}
            extension = cancelled
        ExpireGrantRequest = ACTIONS["end_grant"].request_model()

        try:
            answer = self.operations.change(
                "end_grant",
                username,
                ExpireGrantRequest(group=group, ticket=ticket, requested_by=by),
            )
        except Conflict as error:  # the grant ended already: the extension's cancelling stands
            if error.retryable or extension is None:
                raise
            return {"cancelled": rules.view(extension)}
        ended = None
        for request in [r for r in mine if r["status"] == rules.APPROVED and "grant" in r]:
            try:
                ended = self._close(request, rules.ENDED, by)
            except (Stale, AppError) as error:  # a race with another end: the grant is gone
                logger().warning("could not mark a request ended", extra={"error": str(error)})
        return {"ended": answer, **({"request": rules.view(ended)} if ended else {})}

    def cancel_asked_under(self, ticket: str, requested_by: str) -> list[str]:
        """``POST /tickets/{ticket}/closed``: the request asked under ``ticket``, while it waits,
        is cancelled (why: its ticket closed), so no approval grants it later. The ids cancelled
        by that ticket's closing, this time or an earlier one."""
        request_id = rules.request_id(ticket)
        by = f"ticket:{ticket}"
        for _ in range(_ATTEMPTS):
            request = self.requests.get(request_id)
            if request is None:
                return []
            if request["status"] != rules.PENDING:
                closed_here = request.get("why") == rules.TICKET_CLOSED
                return [request_id] if closed_here else []
            closed = {
                **rules.close(request, rules.CANCELLED, self.clock(), by),
                "why": rules.TICKET_CLOSED,
            }
            try:
                closed = self._write(closed, request["version"])
            except Stale:
                continue  # decided or expired meanwhile: read again
            self.requests.release(closed)
            self._audit("request", closed, by, "ok: cancelled", {"closed_by": requested_by})
            self._publish("request", closed)
            count("request", "ok")
            self._message(closed, rules.CANCELLED)
            return [request_id]
        raise Conflict("the request asked under this ticket keeps changing; try again")

    def _close(self, request: dict, status: str, by: str) -> dict:
        closed = self._write(rules.close(request, status, self.clock(), by), request["version"])
        if request["status"] == rules.PENDING:
            self.requests.release(closed)
        action = {rules.EXPIRED: "expire_request", rules.ENDED: "end_grant"}.get(status, "request")
        self._audit(action, closed, by, f"ok: {status}")
        self._publish(action, closed)
        count(action, "ok")
        self._message(closed, status)
        return closed

    # Slack: what the channel and the people involved are told, from the queue worker
    def _message(self, request: dict, event: str) -> None:
        try:
            self.work_queue.send({"kind": MESSAGE_KIND, "id": request["id"], "event": event})
        except AppError as error:  # the decision stands; Slack is told by the next event
            logger().warning(
                "could not queue the request's Slack message", extra={"reason": error.message}
            )

    def record_message(self, request_id: str, channel: str, ts: str) -> dict:
        """Remember where the channel message of a request is, for its updates."""
        for _ in range(_ATTEMPTS):
            request = self.get(request_id)
            try:
                updated = {
                    **request,
                    "message": {"channel": channel, "ts": ts},
                    "version": request["version"] + 1,
                }
                return self.requests.update(updated, request["version"])
            except Stale:
                continue
        return self.get(request_id)

    # bookkeeping
    def _write(self, request: dict, read_version: int) -> dict:
        return self.requests.update(request, read_version)

    def _audit(
        self, action: str, request: dict, by: str, result: str, detail: dict | None = None
    ) -> None:
        self.state.audit(action, request["username"], request["id"], by, result, detail)

    def _refused(self, action: str, username: str, ticket: str, by: str, error: AppError) -> None:
        outcome = "rejected" if error.status < 500 else "failed"
        try:
            self.state.audit(action, username, ticket, by, f"{outcome}: {error.message}")
        except AppError:
            logger().exception("could not write the audit event of a refusal")
        count(action, outcome)

    def _publish(self, action: str, request: dict) -> None:
        try:
            self.events.publish(action, {"request": rules.view(request)})
        except AppError as error:
            logger().warning(
                "could not publish the request's event", extra={"reason": error.message}
            )
