"""Credential hygiene on a schedule: read the credential report once, judge every managed user's
credentials by the rules (chalicelib/hygiene/rules.py), tell people, remind them, then act.

Reads, for the whole account: the credential report (reused while younger than
``HYGIENE_REPORT_MAX_AGE``) and the hygiene items (notices, exemptions) of the state table; then,
in one wave, the lifecycle records of the users the report finds something about and, where it
is about keys, their keys and each key's last use (the report names no key: a finding names the
key and is judged on its latest use). Nothing else is read per user: with nothing due, the run
costs a handful of IAM calls for any number. What is read and how it becomes the rules' facts:
chalicelib/hygiene/report.py; what people are told: notices.py; exemptions: exemptions.py.

A person linked to a Slack member is told by direct message, queued as work
(chalicelib/kernel/direct_messages.py) so that the run never waits for Slack; without a link,
the notice is recorded with the e-mail tag. The audit trail keeps every notice and its channel.

Each action is a change of the catalogue run by the change runner with its own ticket,
``hygiene:<rule>:<user>:<credential>:<due date>``: idempotent, audited, evented, dry-runnable,
and judged again on what it reads when it runs. One that fails is retried by the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.hygiene import notices
from chalicelib.hygiene import report as credentials
from chalicelib.hygiene import rules as hygiene
from chalicelib.hygiene import settings as hygiene_settings
from chalicelib.hygiene.exemptions import Exemptions
from chalicelib.kernel import direct_messages as person_messages
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError
from chalicelib.kernel.identity import key
from chalicelib.kernel.telemetry import logger
from chalicelib.kernel.waves import wave
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.kernel.ports import Queue, StateStore
    from chalicelib.kernel.runner import Operations

REQUESTER = "hygiene"
# What a person's notice goes by: the Slack member link (tag slack_user), else the e-mail tag.
SLACK_TAG, EMAIL_TAG = "slack_user", "email"
_SUSPENDED = ("suspending", "suspended", "restoring")


class Iam(credentials.Credentials, Protocol):
    """What the run reads of IAM: the report, keys, and a user's tags (who to tell)."""

    def get_user(self, username: str) -> dict | None: ...


class Hygiene:
    def __init__(
        self,
        settings: Settings,
        iam: Iam,
        state: StateStore,
        operations: Operations,
        clock: Callable[[], datetime],
        notify: Callable[[str], None],
        work_queue: Queue | None,
        check_user_allowed: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.operations = operations
        self.clock = clock
        self.notify = notify
        self.work_queue = work_queue
        self.check_user_allowed = check_user_allowed

    @property
    def policy(self) -> hygiene.Policy:
        return hygiene_settings.policy(self.settings)

    # reading and judging
    def _read(self) -> dict[str, Any]:
        reuse_after = self.clock() - timedelta(seconds=self.settings.hygiene_report_max_age)
        return wave(
            {
                "items": self.state.hygiene_items,
                "report": lambda: self.iam.credential_report(reuse_after=reuse_after),
            }
        )

    def judge(
        self, username: str | None = None
    ) -> tuple[list[tuple[hygiene.Finding, hygiene.Step]], dict]:
        """Every finding people must know of today, with its step; and what was read.

        The report alone (its ARNs carry the users' paths) says who is managed and what may be
        due: most users are judged on it, once, and nothing more is read of them. For those it
        finds something about, one wave reads their records (a suspended or offboarded user is
        not judged, a restore starts the clocks again) and, where it is about keys, their keys
        (the report names none); each is then judged on what was read, and only if the reads
        changed what is known of them."""
        found = self._read()
        today = self.clock().date()
        items = found["items"]
        rows = credentials.managed_rows(found["report"], self.settings.managed_path, username)

        def facts_of(name: str, record: dict | None) -> hygiene.Facts:
            protected = key(name) in self.settings.protected_users
            return credentials.row_facts(rows[name], record, items.get(key(name)) or {}, protected)

        reported = {name: facts_of(name, None) for name in rows}
        judged = {name: hygiene.evaluate(f, self.policy, today) for name, f in reported.items()}
        # Keys the service deactivated are named by id, which the report does not give.
        judged = {n: fs for n, fs in judged.items() if fs or reported[n].deactivated}
        keyed = {
            name
            for name, findings in judged.items()
            if any(f.credential.startswith("access_key_") for f in findings)
            or reported[name].deactivated
        }
        reads = wave(
            {
                **{f"record:{n}": partial(self.state.get_record, n) for n in judged},
                **{f"keys:{n}": partial(credentials.live_keys, self.iam, n) for n in keyed},
            }
        )
        records = {name: reads[f"record:{name}"] for name in judged}
        drift: list[dict] = []
        for name, record in records.items():
            status = record.get("status", "active") if record else None
            if status != "active":
                # A suspension took everything already. A user on the path without a record, or
                # with an offboarded one, is not the service's to act on: drift, reported.
                if status not in _SUSPENDED:
                    drift.append(_drift(name, record, judged[name]))
                del judged[name]
                continue
            known = facts_of(name, record or {})
            if name in keyed:
                known = credentials.with_keys(known, reads[f"keys:{name}"])
            if known != reported[name]:
                judged[name] = hygiene.evaluate(known, self.policy, today)
        steps = []
        for name, findings in sorted(judged.items()):
            sent = (items.get(key(name)) or {}).get("notices") or {}
            for finding in findings:
                step = hygiene.next_step(finding, sent.get(finding.key), self.policy, today)
                steps.append((finding, step))
        return steps, {"items": items, "records": records, "judged": judged, "drift": drift}

    def findings(self, username: str | None = None) -> list[dict]:
        """``GET /hygiene``: what each finding's next step is, and when its action is due."""
        if username is not None:
            self.check_user_allowed(username)
        steps, _ = self.judge(username)
        return [hygiene.as_row(finding, step) for finding, step in steps]

    # the schedule
    def run(self, dry_run: bool = False) -> dict:
        """Tell, remind, act. A report that cannot be had today is reported and retried by the
        next run: nothing is judged without it (never "all unused")."""
        today = self.clock().date()
        try:
            steps, found = self.judge()
        except AppError as error:
            self._report_unavailable(today, error, dry_run)
            return {"report": "unavailable", "error": error.message, "dry_run": dry_run}
        items = found["items"]
        changed: dict[str, dict] = {}
        summary: dict[str, list] = {"noticed": [], "reminded": [], "acted": [], "failed": []}
        summary["drift"] = found["drift"]
        plans: list[dict] = []
        # What the records say hygiene deactivated, kept beside the notices for the next run.
        for name, record in found["records"].items():
            taken = ((record or {}).get("hygiene_taken") or {}).get("keys") or {}
            item = items.get(key(name)) or {}
            if name in found["judged"] and (item.get("deactivated") or {}) != taken:
                changed[name] = {
                    **credentials.editable_item(item, name),
                    "deactivated": dict(taken),
                }
        seen: dict[str, set[str]] = {name: set() for name in found["judged"]}
        for finding, step in steps:
            name = finding.username
            seen[name].add(finding.key)
            item = changed.get(name) or credentials.editable_item(items.get(key(name)), name)
            notice = item["notices"].get(finding.key)
            row = hygiene.as_row(finding, step)
            if step.step == hygiene.NOTICE:
                summary["noticed"].append(row)
                if not dry_run:
                    item["notices"][finding.key] = {
                        "since": finding.since.isoformat(),
                        "noticed": today.isoformat(),
                        "due": step.due.isoformat() if step.due else None,
                    }
                    self._tell(name, finding, step, "noticed", found["records"].get(name))
                    changed[name] = item
            elif step.step == hygiene.REMIND:
                summary["reminded"].append(row)
                if not dry_run:
                    item["notices"][finding.key] = {**notice, "reminded": today.isoformat()}
                    self._tell(name, finding, step, "reminded", found["records"].get(name))
                    changed[name] = item
            elif step.step in hygiene.ACTIONS:
                assert step.due is not None
                answer = self._act(finding, step.due, dry_run)
                if dry_run and answer is not None:
                    plans.append(answer)
                elif answer is not None:
                    summary["acted"].append({**row, "done": answer.get("done")})
                    _remember(changed.setdefault(name, item), finding, today)
                else:
                    summary["failed"].append(row)
        if not dry_run:
            # A finding gone (used, fixed, acted on) is forgotten.
            named = {key(name): name for name in seen}
            for canonical, stored in items.items():
                name = named.get(canonical, stored["username"])
                item = changed.get(name) or stored
                keys = seen.get(name, set())
                if set(item.get("notices") or {}) - keys:
                    item = credentials.editable_item(item, name)
                    item["notices"] = {k: v for k, v in item["notices"].items() if k in keys}
                    changed[name] = item
            for name, item in changed.items():
                self.state.put_hygiene(name, item)
            self._tell_operators(summary)
        if dry_run:
            return {
                "dry_run": True,
                **{k: summary[k] for k in ("noticed", "reminded", "drift")},
                "plans": plans,
            }
        return summary

    def _act(self, finding: hygiene.Finding, due: date, dry_run: bool) -> dict | None:
        """The finding's action through the change runner; None when it failed or was refused
        (audited by the runner; the next run tries again, judging afresh)."""
        assert finding.action is not None
        request = ACTIONS[finding.action].request_model()(
            ticket=hygiene.ticket(finding, due),
            requested_by=REQUESTER,
            rule=finding.rule,
            credential=finding.credential,
            dry_run=dry_run,
        )
        try:
            return self.operations.change(finding.action, finding.username, request)
        except AppError as error:
            logger().warning(
                f"hygiene {finding.action} of {finding.username} not done",
                extra={"reason": error.message, "ticket": request.ticket},
            )
            return None

    # notices
    def _tell(
        self,
        name: str,
        finding: hygiene.Finding,
        step: hygiene.Step,
        what: str,
        record: dict | None = None,
    ) -> None:
        """The person's notice: a Slack direct message, queued as work, when the user is linked
        to a Slack member (tag or record ``slack_user``); else the e-mail tag, recorded for a
        mail sender to pick up. Either way the audit trail keeps it, with the channel used."""
        user = self.iam.get_user(name) or {"username": name}
        tags = user.get("tags") or {}
        username = user["username"]
        due = step.due.isoformat() if step.due else None
        ticket = f"hygiene:notice:{finding.rule}:{username}:{finding.credential}:{due}"
        notice = {
            "rule": finding.rule,
            "credential": finding.credential,
            "since": finding.since.isoformat(),
            "due": due,
            "action": finding.action,
            "text": notices.text(finding, step, what),
        }
        member = tags.get(SLACK_TAG) or (record or {}).get(SLACK_TAG)
        detail: dict[str, Any] = {**notice}
        if member:
            message = person_messages.hygiene_notice(
                ticket=ticket,
                what=what,
                username=username,
                slack_user=member,
                notice={**notice, **notices.parts(finding, step, self.policy.rule(finding.rule))},
            )
            why = person_messages.queue(self.work_queue, message)
            detail["to"] = {"slack_user": member}
            detail["channel"] = person_messages.SLACK_DM
            if why is not None:  # Slack cannot be asked: the e-mail tag, as without a link
                detail["to"] = {"slack_user": member, "email": tags.get(EMAIL_TAG)}
                detail["channel"] = person_messages.EMAIL
                detail["slack_dm"] = f"not queued: {why}"
        else:
            detail["to"] = {"email": tags.get(EMAIL_TAG)}
            detail["channel"] = person_messages.EMAIL
        self.state.audit("hygiene_notice", username, ticket, REQUESTER, what, detail)

    def _tell_operators(self, summary: dict[str, list]) -> None:
        text = notices.summary(summary)
        if text:
            self.notify(text)

    def _report_unavailable(self, today: date, error: AppError, dry_run: bool) -> None:
        logger().warning("the credential report could not be had", extra={"reason": error.message})
        if dry_run:
            return
        self.state.audit(
            "hygiene_report",
            self.settings.app_name,
            f"hygiene:report:{today.isoformat()}",
            REQUESTER,
            f"failed: {error.message}",
            {"retry": "the next run"},
        )
        self.notify(notices.report_unavailable(error.message))

    # exemptions
    def exempt(self, username: str, request: Any) -> dict:
        """Skip a managed user's credentials until ``request.until``, with a reason; audited."""
        exemptions = Exemptions(
            self.settings, self.iam, self.state, self.clock, self.check_user_allowed
        )
        return exemptions.exempt(username, request)


def _drift(name: str, record: dict | None, findings: list[hygiene.Finding]) -> dict:
    """A user on the managed path the service does not manage, and what it would have found."""
    why = "no lifecycle record" if record is None else f"record {record.get('status')}"
    logger().warning("hygiene: %s is on the managed path but has %s: not acted on", name, why)
    return {
        "username": name,
        "why": why,
        "rules": sorted({f"{f.rule} on {f.credential}" for f in findings}),
    }


def _remember(item: dict, finding: hygiene.Finding, today: date) -> None:
    """Keep beside the notices the keys the schedule deactivated (for the deletion rule)."""
    deactivated = dict(item.get("deactivated") or {})
    if finding.action == hygiene.DEACTIVATE_KEY:
        deactivated[finding.credential] = today.isoformat()
    elif finding.action == hygiene.DELETE_KEY:
        deactivated.pop(finding.credential, None)
    item["deactivated"] = deactivated
