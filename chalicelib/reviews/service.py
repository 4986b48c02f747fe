"""Access reviews, run the same way for REST, Slack and the schedule: the rules are
``reviews/rules.py``; here they meet the account (one whole-account read per snapshot), the
store (conditional writes), the audit trail, the events, the change runner and Slack.

Every step of a campaign is an audit event whose ticket is the campaign's id (started, each
decision or refusal, each lapse or escalation, closed), and every revoke is carried out through
the change runner under ``review:<campaign>:<item>``: a ``move`` out of the group, or the end of
a grant, with what every change gets (idempotency, the user's lease, session revocation, its own
audit event, its event). ``GET /audit?ticket=<campaign id>`` tells the campaign's story and
``GET /audit?ticket=review:<campaign>:<item>`` the removal of one item. A member the service does
not manage is never changed by it: their revoke is owed by hand (audited ``owed``) until a read of
IAM shows them out of the group, when someone records it or at the close.

What Slack shows (each reviewer's message, reminders, the escalation) is queued as
``review_message`` work, so a slow Slack never holds a decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, BadRequest, Conflict, NotFound, Stale
from chalicelib.kernel.identity import key
from chalicelib.kernel.telemetry import count, logger
from chalicelib.kernel.waves import wave
from chalicelib.reviews import rules as rules
from chalicelib.reviews import settings as review_settings
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.kernel.ports import Events, Queue
    from chalicelib.kernel.runner import Operations
    from chalicelib.reviews.commands import ReviewRequest
    from chalicelib.reviews.ports import Reviews

SCHEDULE = "schedule"
MESSAGE_KIND = "review_message"
_ATTEMPTS = 5


class ReviewService:
    def __init__(
        self,
        settings: Settings,
        iam: Any,
        state: Any,
        read_account: Callable[[], dict[str, Any]],
        store: Reviews,
        operations: Operations,
        events: Events,
        work_queue: Queue,
        clock: Callable[[], datetime],
        linked_user: Callable[[str], str | None],
    ) -> None:
        self.settings = settings
        self.iam = iam  # the IAM gateway: a member's groups, every user's
        self.state = state  # records and the audit trail
        # One read of the whole account beside the records (the lifecycle's query).
        self.read_account = read_account
        self.store = store
        self.operations = operations
        self.events = events
        self.work_queue = work_queue
        self.clock = clock
        # The user a Slack member was onboarded as (MEMBER# links): who a reviewer is in IAM.
        self.linked_user = linked_user

    @property
    def policy(self) -> rules.Policy:
        return review_settings.policy(self.settings)

    @property
    def scope(self) -> rules.Scope:
        return rules.Scope(self.settings.managed_path, self.settings.protected_users)

    # reading
    def read(self, review_id: str) -> tuple[dict, list[dict]]:
        found = self.store.get(review_id)
        if found is None:
            raise NotFound(f"no review {review_id}")
        return found

    def get(self, review_id: str) -> dict:
        return rules.view(*self.read(review_id))

    def search(self, status: str | None = None) -> list[dict]:
        if status and status not in (rules.OPEN, rules.CLOSED):
            raise BadRequest("status must be open or closed")
        return [self.get(r["id"]) for r in self.store.search(status)]

    def _snapshot(self) -> dict[str, Any]:
        """One read of the whole account beside the records: the population and the query."""
        return self.read_account()

    def _query(self, groups: list[str]) -> dict:
        settings = self.settings
        return {
            "api": rules.QUERY_API,
            "filter": list(rules.QUERY_FILTER),
            "account": settings.root_account_id,
            "users": (
                "every member of the groups, whatever their path; those outside "
                f"{settings.managed_path} or in PROTECTED_USERS are items for the operators"
            ),
            "groups": groups,
            "grants": "the state table's user records (time-bound grants)",
        }

    # starting
    def start(self, body: ReviewRequest) -> dict:
        """A new campaign (201), or the same campaign again for its ticket."""
        ident = rules.review_id(body.ticket)
        existing = self.store.get(ident)
        if existing is not None:
            return self._replayed(existing, body)
        now = self.clock()
        try:
            groups = rules.check_start(
                body.groups, body.due, now.date(), self.settings.allowed_groups
            )
            covered = rules.overlapping(self.store.search(rules.OPEN), groups)
            if covered:
                group, other = next(iter(covered.items()))
                raise Conflict(
                    f"{group} is under review already ({other}); close that review first or "
                    "leave the group out"
                )
        except AppError as error:
            self._refused("review", ident, body.ticket, body.requested_by, error)
            raise
        found = self._snapshot()
        review, items = rules.create(
            ticket=body.ticket,
            requested_by=body.requested_by,
            groups=groups,
            due=body.due,
            now=now,
            users=found["account"]["users"],
            records=found["records"],
            policy=self.policy,
            query=self._query(groups),
            scope=self.scope,
        )
        try:
            created = self.store.create(review, items)
        except Conflict as error:
            self._refused("review", ident, body.ticket, body.requested_by, error)
            raise
        if not created:  # the same ticket, sent twice at once
            return self._replayed(self.read(ident), body)
        self.state.audit(
            "review",
            ident,
            ident,
            body.requested_by,
            "ok: started",
            {
                "ticket": body.ticket,
                "groups": groups,
                "due": review["due"],
                "items": len(items),
                "query": review["population"]["query"],
            },
        )
        self._publish("review", review, items)
        count("review", "ok")
        self._message(ident, "started")
        return rules.view(review, items)

    def open_use(self, use: dict) -> dict:
        """A campaign of one break-glass use (chalicelib/kernel/review_items.py), opened once
        for its ticket however often the message is delivered; its reviewer is told."""
        ident = rules.review_id(use["ticket"])
        existing = self.store.get(ident)
        if existing is not None:
            return rules.view(*existing)
        record = self.state.get_record(use["username"]) or {}
        review, items = rules.of_one_use(use, record, self.policy, self.clock())
        if self.store.create(review, items):
            self.state.audit(
                "review",
                use["username"],
                ident,
                use["activated_by"],
                "ok: started (break-glass use)",
                {"request": use["request"], "group": use["group"], "due": review["due"]},
            )
            self._publish("review", review, items)
            count("review", "ok")
            self._message(ident, "started")
        return rules.view(*self.read(ident))

    def _replayed(self, existing: tuple[dict, list[dict]], body: ReviewRequest) -> dict:
        review, items = existing
        groups = (
            list(dict.fromkeys(body.groups)) if body.groups else list(self.settings.allowed_groups)
        )
        if not rules.same_start(review, groups, body.due):
            raise Conflict(
                f"ticket {body.ticket} was already used for a different review; use a new ticket"
            )
        return rules.view(review, items)

    # deciding
    def decide(
        self,
        review_id: str,
        item_id: str,
        decision: str,
        reviewer: str,
        ticket: str | None = None,
    ) -> dict:
        """``reviewer``'s decision on one item; changeable until the close. Refused (and
        audited): a reviewer not assigned (and not an operator), the person under review, a
        closed campaign."""
        member = rules.member_of(reviewer) or reviewer
        by = f"slack:{member}"
        member_user = self.linked_user(member) if member else None
        for _ in range(_ATTEMPTS):
            review, items = self.read(review_id)
            item = rules.item_of(items, item_id)
            try:
                rules.check_decider(item, member, self.policy, member_user)
                decided = rules.decide(review, item, decision, member, self.clock(), self.policy)
            except AppError as error:
                self._refused("review_decide", item["username"], review_id, by, error)
                raise
            if decided is item or (
                item.get("decision") == decision and item.get("decided_by") == member
            ):
                decided = item  # the same decision again (a second click): nothing to write
                break
            try:
                self.store.update_item(decided, item["version"])
            except Stale:
                continue
            break
        else:
            raise Conflict("this item keeps changing; try again")
        if decided is not item:
            detail = {"item": item_id, "group": item["group"], "decision": decision}
            if item.get("decision"):
                detail["changed_from"] = item["decision"]
            if ticket:
                detail["decision_ticket"] = ticket
            result = f"ok: {decision}"
            if rules.waits_for_second(decided):
                result += " (the first of two: the user has no linked Slack member)"
            self.state.audit("review_decide", item["username"], review_id, by, result, detail)
            self._publish_item("review_decide", review, decided)
            count("review_decide", "ok")
        if decision == rules.REVOKE and (
            self.policy.carry_out == "immediately" or review["status"] != rules.OPEN
        ):
            decided = self._carry_out(review, decided, by)
        return rules.view_item(decided)

    def keep_all(self, review_id: str, reviewer: str, part: list[dict] | None = None) -> list[dict]:
        """Keep every item of the reviewer's (of ``part`` of them: one message's) that nobody
        decided yet."""
        member = rules.member_of(reviewer) or reviewer
        if part is None:
            _, items = self.read(review_id)
            part = rules.of_reviewer(items, member)
        return [
            self.decide(review_id, item["id"], rules.KEEP, member) for item in rules.undecided(part)
        ]

    # carrying out
    def _carry_out(self, review: dict, item: dict, by: str) -> dict:
        """The revoke of ``item`` through the change runner, under its own ticket: a retry (a
        second click, the close) removes once. The item records when, or why not."""
        if not rules.due_to_carry_out(item):
            return item
        if item.get("outside"):
            return self._owed_by_hand(review, item, by)
        # The lifecycle's request models, by the catalogue.
        ExpireGrantRequest = ACTIONS["end_grant"].request_model()
        MoveRequest = ACTIONS["move"].request_model()

        ticket = rules.removal_ticket(review["id"], item["id"])
        name = item["username"]
        try:
            if item["kind"] == rules.GRANT:
                answer = self.operations.change(
                    "end_grant",
                    name,
                    ExpireGrantRequest(group=item["group"], ticket=ticket, requested_by=by),
                )
            else:
                groups = self._groups_after_revoke(name, item["group"])
                answer = self.operations.change(
                    "move", name, MoveRequest(groups=groups, ticket=ticket, requested_by=by)
                )
            changed = rules.carried_out(item, ticket, self.clock(), answer)
            result = "ok: carried out"
        except AppError as error:
            changed = rules.carry_out_failed(item, error.message)
            result = f"failed: {error.message}"
            count("review_decide", "failed")
        for _ in range(_ATTEMPTS):
            try:
                self.store.update_item(changed, item["version"])
                break
            except Stale:
                _, items = self.read(review["id"])
                fresh = rules.item_of(items, item["id"])
                if fresh.get("removed_at"):
                    return fresh
                changed = {**changed, "version": fresh["version"] + 1}
                item = fresh
        self.state.audit(
            "review_carry_out",
            name,
            review["id"],
            by,
            result,
            {"item": item["id"], "group": item["group"], "removal_ticket": ticket},
        )
        return changed

    def _groups_after_revoke(self, name: str, group: str) -> list[str]:
        found = wave(
            {
                "live": partial(self.iam.groups_of, name),
                "record": partial(self.state.get_record, name),
            }
        )
        return rules.groups_after_revoke(
            found["live"], found["record"], group, self.settings.allowed_groups
        )

    # removals made by hand (members the service does not manage)
    def _owed_by_hand(self, review: dict, item: dict, by: str) -> dict:
        """A revoke the service may not make: recorded as owed (once), with what to do."""
        if item.get("removal_owed"):
            return item
        owed = rules.removal_owed(item)
        try:
            self.store.update_item(owed, item["version"])
        except Stale:  # changed meanwhile: what it is now stands; the next step tries again
            _, items = self.read(review["id"])
            return rules.item_of(items, item["id"])
        self.state.audit(
            "review_carry_out",
            item["username"],
            review["id"],
            by,
            f"owed: {owed['removal_owed']}",
            {"item": item["id"], "group": item["group"], "outside": item["outside"]},
        )
        count("review_carry_out", "owed")
        return owed

    def record_removed(self, review_id: str, item_id: str, operator: str, ticket: str) -> dict:
        """An operator says a member the service does not manage was removed by hand: a read of
        IAM must show them out of the group, else nothing is recorded (409)."""
        member = rules.member_of(operator) or operator
        by = f"slack:{member}"
        review, items = self.read(review_id)
        item = rules.item_of(items, item_id)
        try:
            rules.check_recorder(item, member, self.policy)
        except AppError as error:
            self._refused("review_carry_out", item["username"], review_id, by, error)
            raise
        if item.get("removed_at"):
            return rules.view_item(item)
        done = self._removed_if_gone(review, [item], by, ticket)
        if not done:
            still = Conflict(
                f"{item['username']} is still in {item['group']} (IAM read now); nothing was "
                "recorded. Remove them first: " + rules.by_hand(item)
            )
            self._refused("review_carry_out", item["username"], review_id, by, still)
            raise still
        return rules.view_item(done[0])

    def _removed_if_gone(
        self, review: dict, owed: list[dict], by: str, ticket: str | None = None
    ) -> list[dict]:
        """The owed removals a read of IAM (one, whole-account) shows done, recorded as done."""
        if not owed:
            return []
        now_in = {key(u["username"]): u["groups"] for u in self.iam.users()}
        done = []
        for item in owed:
            if item["group"] in now_in.get(key(item["username"]), []):
                continue
            removed = rules.removed_by_hand(item, by, ticket or review["id"], self.clock())
            try:
                self.store.update_item(removed, item["version"])
            except Stale:
                continue
            self.state.audit(
                "review_carry_out",
                item["username"],
                review["id"],
                by,
                "ok: removed by hand (IAM read shows them out of the group)",
                {"item": item["id"], "group": item["group"], "recorded_ticket": ticket or ""},
            )
            self._publish_item("review_decide", review, removed)
            done.append(removed)
        return done

    # closing
    def close(self, review_id: str, by: str = SCHEDULE) -> dict:
        """Close a campaign: items nobody decided are kept, revoked or escalated as the stage
        says (each audited), every revoke not yet carried out is carried out, and the groups
        are free for the next campaign."""
        review, items = self.read(review_id)
        if review["status"] != rules.OPEN:
            raise Conflict(f"review {review_id} is closed already")
        now = self.clock()
        mode = self.policy.undecided
        finished = []
        for item in items:
            if not item.get("decision") and not item.get("escalated_at"):
                lapsed = rules.lapse(item, mode, now)
                try:
                    self.store.update_item(lapsed, item["version"])
                except Stale:  # decided at the last moment: take the decision
                    _, fresh = self.read(review_id)
                    lapsed = rules.item_of(fresh, item["id"])
                else:
                    result = "ok: escalated" if mode == "escalate" else f"ok: {mode} (undecided)"
                    self.state.audit(
                        "review_close",
                        item["username"],
                        review_id,
                        by,
                        result,
                        {"item": item["id"], "group": item["group"], "setting": mode},
                    )
                item = lapsed
            if rules.due_to_carry_out(item):
                item = self._carry_out(review, item, by if by != SCHEDULE else SCHEDULE)
            finished.append(item)
        # A member removed by hand before the close is recorded as removed now.
        gone = {i["id"]: i for i in self._removed_if_gone(review, rules.owed(finished), by)}
        finished = [gone.get(i["id"], i) for i in finished]
        owed = len(rules.owed(finished))
        closed = rules.close(review, now, by, owed)
        for _ in range(_ATTEMPTS):
            try:
                self.store.update(closed, review["version"])
                break
            except Stale:
                review, _ = self.read(review_id)
                if review["status"] != rules.OPEN:
                    return rules.view(review, finished)
                closed = rules.close(review, now, by, owed)
        self.store.release(closed)
        totals = rules.totals(finished)
        self.state.audit("review_close", review_id, review_id, by, "ok: closed", totals)
        self._publish("review_close", closed, finished)
        count("review_close", "ok")
        self._message(review_id, "closed")
        return rules.view(closed, finished)

    # the schedule
    def run(self) -> dict:
        """Daily: the quarterly campaign when one is due, reminders before due dates, the
        close of the campaigns whose due date has passed, and, in the others, the removals owed
        by hand that a read of IAM shows done."""
        today = self.clock().date()
        started = self._quarterly(today)
        reminded, closed = [], []
        for review in self.store.search(rules.OPEN):
            try:
                if rules.is_due(review, today):
                    self.close(review["id"])
                    closed.append(review["id"])
                    continue
                self._removed_if_gone(review, rules.owed(self.read(review["id"])[1]), SCHEDULE)
                if rules.reminder_due(review, today, self.policy.reminder_days):
                    if review.get("reminded_on") != today.isoformat():
                        self._remember_reminder(review, today)
                        self._message(review["id"], "reminder")
                        reminded.append(review["id"])
            except AppError as error:  # the next run tries again
                logger().warning(
                    "a review step failed", extra={"review": review["id"], "reason": error.message}
                )
        removed = []
        for review in self.store.search(rules.CLOSED):
            if review.get("owed_by_hand"):
                try:
                    removed += self._still_owed(review)
                except AppError as error:  # the next run tries again
                    logger().warning(
                        "a review's removals by hand could not be checked",
                        extra={"review": review["id"], "reason": error.message},
                    )
        return {
            "started": started,
            "reminded": reminded,
            "closed": closed,
            "removed_by_hand": removed,
        }

    def _still_owed(self, review: dict) -> list[str]:
        """A closed campaign's removals owed by hand that IAM now shows done, recorded; the
        campaign's count of what is still owed brought up to date."""
        owed = rules.owed(self.read(review["id"])[1])
        done = self._removed_if_gone(review, owed, SCHEDULE)
        left = len(owed) - len(done)
        if left != review["owed_by_hand"]:
            updated = {**review, "owed_by_hand": left, "version": review["version"] + 1}
            try:
                self.store.update(updated, review["version"])
            except Stale:
                pass  # the next run counts again
        return [i["id"] for i in done]

    def _quarterly(self, today: date) -> list[str]:
        if not self.policy.quarterly or today.day != 1 or today.month not in (1, 4, 7, 10):
            return []
        from chalicelib.reviews.commands import ReviewRequest

        quarter = (today.month - 1) // 3 + 1
        body = ReviewRequest(
            due=today + timedelta(days=self.policy.quarterly_days),
            ticket=f"schedule:review:{today.year}-Q{quarter}",
            requested_by=SCHEDULE,
        )
        try:
            return [self.start(body)["id"]]
        except AppError as error:
            logger().warning("the quarterly review did not start", extra={"reason": error.message})
            return []

    def _remember_reminder(self, review: dict, today: date) -> None:
        updated = {**review, "reminded_on": today.isoformat(), "version": review["version"] + 1}
        try:
            self.store.update(updated, review["version"])
        except Stale:
            pass

    # the evidence
    def evidence(self, review_id: str, rerun: bool = False) -> dict:
        review, items = self.read(review_id)
        found = self._snapshot()
        groups_now = {key(u["username"]): u["groups"] for u in found["account"]["users"]}
        revoked = sorted({key(i["username"]) for i in items if i.get("decision") == rules.REVOKE})
        names = {key(i["username"]): i["username"] for i in items}
        events = wave({k: partial(self.state.audit_events, names[k]) for k in revoked})
        outside = rules.outside_members(found["account"]["users"], review["groups"], self.scope)
        shown = rules.evidence(review, items, groups_now, events, self.clock(), outside)
        if rerun:
            again = rules.population(
                found["account"]["users"], found["records"], review["groups"], self.scope
            )
            shown["rerun"] = {"at": rules.iso(self.clock()), **rules.diff(items, again)}
        return shown

    # Slack
    def _message(self, review_id: str, event: str) -> None:
        try:
            self.work_queue.send({"kind": MESSAGE_KIND, "id": review_id, "event": event})
        except AppError as error:
            logger().warning(
                "could not queue the review's Slack messages", extra={"reason": error.message}
            )

    # bookkeeping
    def _refused(self, action: str, username: str, ticket: str, by: str, error: AppError) -> None:
        outcome = "rejected" if error.status < 500 else "failed"
        try:
            self.state.audit(action, username, ticket, by, f"{outcome}: {error.message}")
        except AppError:
            logger().exception("could not write the audit event of a refusal")
        count(action, outcome)

    def _publish(self, action: str, review: dict, items: list[dict]) -> None:
        self._event(action, {"review": rules.view(review, []) | {"totals": rules.totals(items)}})

    def _publish_item(self, action: str, review: dict, item: dict) -> None:
        self._event(action, {"review": review["id"], "item": rules.view_item(item)})

    def _event(self, action: str, detail: dict) -> None:
        try:
            self.events.publish(action, detail)
        except AppError as error:
            logger().warning(
                "could not publish the review's event", extra={"reason": error.message}
            )
