"""What runs on a schedule: restores that fall due, grants that expire, revocation statements
that can be pruned (and revocations still owed to unreachable accounts), and drift."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError
from chalicelib.kernel.identity import key
from chalicelib.kernel.runner import Operations
from chalicelib.kernel.telemetry import logger
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle.operations import Lifecycle

SCHEDULE = "schedule"


class Schedules:
    def __init__(
        self,
        lifecycle: Lifecycle,
        operations: Operations,
        clock: Callable[[], datetime],
        notify: Callable[[str], None],
        before_expiry: Callable[[list[dict]], list[dict]] = lambda _records: [],
    ) -> None:
        self.lifecycle = lifecycle
        # The notices of grants ending soon (the approvals' extensions), given the records.
        self.before_expiry = before_expiry
        self.operations = operations
        self.state = lifecycle.state
        self.clock = clock
        self.notify = notify

    def _run(self, action: str, username: str, ticket: str, **fields: Any) -> dict | None:
        """One user's change; a failure is audited by the operation and left for the next run."""
        # pydantic: only when a change is due
        request = ACTIONS[action].request_model()(ticket=ticket, requested_by=SCHEDULE, **fields)
        try:
            return self.operations.change(action, username, request)
        except AppError as error:
            logger().warning(
                f"scheduled {action} of {username} failed", extra={"reason": error.message}
            )
            return None

    def restore_due(self) -> list[str]:
        """Restore suspended users whose ``until`` date has come."""
        today = self.clock().date().isoformat()
        restored = []
        for record in self.state.records():
            until = record.get("suspended_until")
            if record.get("status") == "suspended" and until and until <= today:
                name = record["username"]
                if self._run("restore", name, f"schedule:restore:{name}:{until}"):
                    restored.append(name)
        return restored

    def grants_due(self) -> dict:
        """The expiry schedule's pass over the records, read once: the grants that end, and
        the notices of those that end soon."""
        records = self.state.records()
        expired = self.expire_grants(records)
        try:
            noticed = self.before_expiry(records)
        except AppError as error:  # the expiries stand; the next run notices again
            logger().warning("could not queue the expiry notices", extra={"reason": error.message})
            noticed = []
        return {"expired": expired, "noticed": noticed}

    def expire_grants(self, records: list[dict] | None = None) -> list[dict]:
        """End the grants whose expiry has come: one change per person and group, named after
        the last of them (a group another grant still covers stays, see ``expire_grant``)."""
        now = self.clock().isoformat(timespec="seconds")
        expired = []
        for record in self.state.records() if records is None else records:
            if record.get("status") != "active":
                continue
            due: dict[str, str] = {}
            for grant in record.get("grants", []):
                if grant["expires_at"] <= now:
                    due[grant["group"]] = max(due.get(grant["group"], ""), grant["expires_at"])
            for group, at in sorted(due.items()):
                name = record["username"]
                ticket = f"schedule:expire:{name}:{group}:{at}"
                answer = self._run("expire_grant", name, ticket, group=group, due=at)
                if answer and not answer.get("unchanged"):
                    expired.append({"username": name, "group": group})
        return expired

    def prune_revocations(self) -> dict:
        """Prune expired statements everywhere, and retry revocations owed to accounts that
        could not be reached when they were due."""
        pruned = self.lifecycle.revoker.prune()
        retried = []
        for record in self.state.records():
            if record.get("revocation_pending"):
                name = record["username"]
                ticket = f"schedule:revoke:{name}:{self.clock().isoformat(timespec='minutes')}"
                if self._run("revoke_sessions", name, ticket):
                    retried.append(name)
        return {"pruned_in": pruned.done, "unreachable": pruned.pending, "retried_for": retried}

    def finish_stuck(self) -> list[dict]:
        """Finish the changes that stopped halfway (their process died, their caller never
        retried): a record suspending, restoring or offboarding that nothing has written for
        longer than a change may run. Each is finished by its own action under a ticket of
        this schedule, audited under the stopped change's ticket too."""
        finished = []
        # Records are stamped with the time they were written, not the app's (movable) clock.
        for record in stuck(self.state.records(), datetime.now(UTC), self._patience()):
            name, status, since = record["username"], record["status"], record["at"]
            action = STUCK[status]
            ticket = f"schedule:finish:{name}:{since}"
            self.state.audit(
                action,
                name,
                str(record.get("ticket") or ticket),
                SCHEDULE,
                f"finishing: {status} since {since}, by {ticket}",
            )
            if self._run(action, name, ticket):
                finished.append({"username": name, "was": status, "ticket": ticket})
        return finished

    def _patience(self) -> timedelta:
        return timedelta(seconds=self.lifecycle.settings.operation_timeout)

    def offboard_inactive(self) -> list[str]:
        """Offboard the users an identity provider deactivated (suspended through SCIM) and kept
        so for ``scim_offboard_after_days``: Okta deactivates leavers and never deletes them."""
        days = self.lifecycle.settings.scim_offboard_after_days
        if not days:
            return []
        cutoff = (self.clock() - timedelta(days=days)).isoformat()
        offboarded = []
        for record in self.state.records():
            since = str(record.get("at") or "")
            if (
                record.get("status") == "suspended"
                and str(record.get("ticket", "")).startswith("scim:")
                and since
                and since <= cutoff
            ):
                name = record["username"]
                if self._run("offboard", name, f"schedule:offboard:{name}:{since[:10]}"):
                    offboarded.append(name)
        return offboarded

    def report_drift(self) -> list[dict]:
        """Managed users whose groups differ from their record, and users the app does not
        manage in the groups it does; each one audited, and all of them sent to Slack."""
        findings = drift(self.lifecycle)
        ticket = f"schedule:drift:{self.clock().isoformat(timespec='minutes')}"
        for finding in findings:
            self.state.audit(
                "drift", finding["username"], ticket, SCHEDULE, f"drift: {finding['kind']}", finding
            )
        if findings:
            lines = [f"- {f['username']}: {f['kind']} ({_describe(f)})" for f in findings]
            self.notify("Access drift found:\n" + "\n".join(lines))
        return findings


# A record in one of these states names a change under way; past the time a change may run,
# one that stopped: the action that finishes it.
STUCK = {"suspending": "suspend", "restoring": "restore", "offboarding": "offboard"}


def stuck(records: list[dict], now: datetime, patience: timedelta) -> list[dict]:
    """The records of changes that stopped halfway: under way, and not written for longer
    than a change may run (a running one renews its lease, not its record, so the record's
    time is its last step's)."""
    before = (now - patience).isoformat()
    return [
        record
        for record in records
        if record.get("status") in STUCK and str(record.get("at") or "") < before
    ]


def drift(lifecycle: Lifecycle) -> list[dict]:
    """Managed users whose groups differ from their record, users the service does not manage
    in the groups it does, and managed users in groups it does not: one read of the account
    beside the records."""
    settings = lifecycle.settings
    found = wave(
        {
            "account": lambda: lifecycle.iam.account(settings.allowed_groups),
            "records": lifecycle.state.records,
        }
    )
    # An offboarded or released person's record is the trail's, no longer a managed user's.
    gone = ("offboarded", "released")
    records = {key(r["username"]): r for r in found["records"] if r.get("status") not in gone}
    users = {key(u["username"]): u for u in found["account"]["users"]}
    managed = set(settings.allowed_groups)
    findings = []
    for user in found["account"]["users"]:
        for group in sorted(set(user["groups"]) & managed):
            if user["path"] != settings.managed_path or key(user["username"]) not in records:
                findings.append(
                    {"kind": "unmanaged_member", "username": user["username"], "group": group}
                )
    patience = timedelta(seconds=settings.operation_timeout)
    for record in stuck(list(records.values()), datetime.now(UTC), patience):
        findings.append(
            {
                "kind": "stuck",
                "username": record["username"],
                "status": record["status"],
                "since": record["at"],
                "ticket": record.get("ticket"),
            }
        )
    for canonical, record in sorted(records.items()):
        name = record["username"]
        expected = (
            set()
            if record.get("status") != "active"
            else (set(record.get("groups", [])) | {g["group"] for g in record.get("grants", [])})
        )
        actual = set(users.get(canonical, {}).get("groups", []))
        for group in sorted(actual - managed):
            findings.append({"kind": "unmanaged_group", "username": name, "group": group})
        actual &= managed  # the others are reported above, not expected
        if actual != expected:
            findings.append(
                {
                    "kind": "groups_differ",
                    "username": name,
                    "expected": sorted(expected),
                    "actual": sorted(actual),
                }
            )
    return findings


def _describe(finding: dict) -> str:
    if finding["kind"] == "stuck":
        return (
            f"{finding['status']} since {finding['since']} (ticket {finding['ticket']}); "
            "finish_stuck finishes it"
        )
    if finding["kind"] == "unmanaged_member":
        return f"in {finding['group']}"
    if finding["kind"] == "unmanaged_group":
        return f"also in {finding['group']}, which this service does not manage"
    return f"expected {finding['expected'] or 'none'}, found {finding['actual'] or 'none'}"


def slack_notifier(get_url: Callable[[], str | None]) -> Callable[[str], None]:
    """Posts to a Slack incoming webhook when one is configured."""

    def notify(text: str) -> None:
        url = get_url()
        if not url:
            return
        from slack_sdk.webhook import WebhookClient

        response: Any = WebhookClient(url).send(text=text)
        if response.status_code >= 300:
            logger().warning(
                "the drift report could not be posted", extra={"status": response.status_code}
            )

    return notify
