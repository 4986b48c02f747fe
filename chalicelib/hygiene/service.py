"""Credential hygiene on a schedule: read the credential report once, judge every managed user's
credentials by the rules (chalicelib/hygiene/rules.py), tell people, remind them, then act.

Reads, for the whole account: GetAccountAuthorizationDetails (users, their path and tags), the
credential report (reused while younger than ``HYGIENE_REPORT_MAX_AGE``), the lifecycle records
and the hygiene items (notices, exemptions) of the state table. The report names no access key:
for a user whose keys it finds something about, the keys are listed and their last use read
(GetAccessKeyLastUsed), so that a finding names the key and is judged on its latest use. Nothing
else is read per user: with nothing due, the run costs a handful of IAM calls for any number.

A person linked to a Slack member is told by direct message, queued as work
(chalicelib/people/messages.py) so that the run never waits for Slack; without a link,
the notice is recorded with the e-mail tag. The audit trail keeps every notice and its channel.

Each action is a change of the catalogue run by the change runner with its own ticket,
``hygiene:<rule>:<user>:<credential>:<due date>``: idempotent, audited, evented, dry-runnable,
and judged again on what it reads when it runs. One that fails is retried by the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.hygiene import rules as hygiene
from chalicelib.hygiene import settings as hygiene_settings
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, BadRequest, NotFound
from chalicelib.kernel.identity import key
from chalicelib.kernel.runner import Operations
from chalicelib.kernel.telemetry import logger
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle.operations import Lifecycle
from chalicelib.people import messages as person_messages

if TYPE_CHECKING:
    from chalicelib.aws.queue import WorkQueue

REQUESTER = "hygiene"
MAX_EXEMPTION_DAYS = 366
_NONE = ("N/A", "no_information", "not_supported", "")
_SLOTS = (1, 2)
# What a person's notice goes by: the Slack member link (tag slack_user), else the e-mail tag.
SLACK_TAG, EMAIL_TAG = "slack_user", "email"
_SUSPENDED = ("suspending", "suspended", "restoring")


def _moment(value: str | None) -> datetime | None:
    return None if value in _NONE or value is None else datetime.fromisoformat(value)


class Hygiene:
    def __init__(
        self,
        lifecycle: Lifecycle,
        operations: Operations,
        clock: Callable[[], datetime],
        notify: Callable[[str], None],
        work_queue: WorkQueue | None = None,
    ) -> None:
        self.lifecycle = lifecycle
        self.operations = operations
        self.state = lifecycle.state
        self.iam = lifecycle.iam
        self.settings = lifecycle.settings
        self.clock = clock
        self.notify = notify
        self.work_queue = work_queue

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
        due; only for those the records are read (a suspended or offboarded user is not judged,
        a restore starts the clocks again), and their keys where the report found something
        about keys (it names none)."""
        found = self._read()
        today = self.clock().date()
        items = found["items"]
        rows = {
            name: row
            for name, row in found["report"]["users"].items()
            if _path(row.get("arn", "")) == self.settings.managed_path
            and (username is None or key(name) == key(username))
        }

        def facts_of(name: str, record: dict | None) -> hygiene.Facts:
            protected = key(name) in self.settings.protected_users
            return _facts(rows[name], record, items.get(key(name)) or {}, protected)

        facts = {name: facts_of(name, None) for name in rows}
        judged = {name: hygiene.evaluate(f, self.policy, today) for name, f in facts.items()}
        # Keys the service deactivated are named by id, which the report does not give.
        judged = {n: fs for n, fs in judged.items() if fs or facts[n].deactivated}
        records = wave({name: partial(self.state.get_record, name) for name in judged})
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
            facts[name] = facts_of(name, record or {})
            judged[name] = hygiene.evaluate(facts[name], self.policy, today)
        live = [
            name
            for name, findings in judged.items()
            if any(f.credential.startswith("access_key_") for f in findings)
            or facts[name].deactivated
        ]
        keys = wave({name: partial(self._live_keys, name) for name in live})
        for name, read in keys.items():
            facts[name] = _with_keys(facts[name], read)
            judged[name] = hygiene.evaluate(facts[name], self.policy, today)
        steps = []
        for name, findings in sorted(judged.items()):
            notices = (items.get(key(name)) or {}).get("notices") or {}
            for finding in findings:
                step = hygiene.next_step(finding, notices.get(finding.key), self.policy, today)
                steps.append((finding, step))
        return steps, {"items": items, "records": records, "judged": judged, "drift": drift}

    def _live_keys(self, username: str) -> list[hygiene.Key]:
        listed = self.iam.key_facts(username)
        used = wave({k["id"]: partial(self.iam.last_used, k["id"]) for k in listed})
        return [
            hygiene.Key(
                k["id"],
                k["status"] == "Active",
                datetime.fromisoformat(k["created"]),
                _moment(used[k["id"]]),
            )
            for k in listed
        ]

    def findings(self, username: str | None = None) -> list[dict]:
        """``GET /hygiene``: what each finding's next step is, and when its action is due."""
        if username is not None:
            self.lifecycle.check_user_allowed(username)
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
                changed[name] = {**_copy(item, name), "deactivated": dict(taken)}
        seen: dict[str, set[str]] = {name: set() for name in found["judged"]}
        for finding, step in steps:
            name = finding.username
            seen[name].add(finding.key)
            item = changed.get(name) or _copy(items.get(key(name)), name)
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
                    item = _copy(item, name)
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
            "text": _notice_text(finding, step, what),
        }
        member = tags.get(SLACK_TAG) or (record or {}).get(SLACK_TAG)
        detail: dict[str, Any] = {**notice}
        if member:
            message = person_messages.hygiene_notice(
                ticket=ticket,
                what=what,
                username=username,
                slack_user=member,
                notice={**notice, **_notice_parts(finding, step, self.policy.rule(finding.rule))},
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
        lines = []
        for what, rows in summary.items():
            for row in rows:
                if what == "drift":
                    lines.append(
                        f"- drift: {row['username']} ({row['why']}), not acted on: "
                        f"{', '.join(row['rules'])}"
                    )
                    continue
                due = f", due {row['due']}" if row.get("due") else ""
                lines.append(
                    f"- {what}: {row['username']} {row['rule']} on {row['credential']} "
                    f"(since {row['since']}{due})"
                )
        if lines:
            self.notify("Credential hygiene:\n" + "\n".join(lines))

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
        self.notify(
            "Credential hygiene could not read IAM's credential report today "
            f"({error.message}); nothing was judged, and the next run tries again."
        )

    # exemptions
    def exempt(self, username: str, request: Any) -> dict:
        """Skip a managed user's credentials until ``request.until``, with a reason; audited."""
        self.lifecycle.check_user_allowed(username)  # a protected user: 403 (skipped anyway)
        user = self.iam.get_user(username)
        if not user or user["path"] != self.settings.managed_path:
            raise NotFound(f"no managed user named {username}")
        name = user["username"]
        today = self.clock().date()
        if not today < request.until <= today + timedelta(days=MAX_EXEMPTION_DAYS):
            raise BadRequest(
                f"until: must be after today ({today.isoformat()}) and at most "
                f"{MAX_EXEMPTION_DAYS} days away: exemptions end, and are renewed"
            )
        exemption = {
            "reason": request.reason,
            "until": request.until.isoformat(),
            "ticket": request.ticket,
            "requested_by": request.requested_by,
            "at": self.clock().isoformat(timespec="seconds"),
        }
        item = _copy(self.state.get_hygiene(name), name)
        self.state.put_hygiene(name, {**item, "exemption": exemption})
        self.state.audit(
            "hygiene_exemption", name, request.ticket, request.requested_by, "ok", exemption
        )
        return {"username": name, "exemption": exemption}


def _drift(name: str, record: dict | None, findings: list[hygiene.Finding]) -> dict:
    """A user on the managed path the service does not manage, and what it would have found."""
    why = "no lifecycle record" if record is None else f"record {record.get('status')}"
    logger().warning("hygiene: %s is on the managed path but has %s: not acted on", name, why)
    return {
        "username": name,
        "why": why,
        "rules": sorted({f"{f.rule} on {f.credential}" for f in findings}),
    }


def _copy(item: dict | None, name: str) -> dict:
    item = dict(item or {"username": name})
    item["notices"] = dict(item.get("notices") or {})
    item.pop("at", None)
    return item


def _path(arn: str) -> str | None:
    """A user's path, from its ARN (arn:aws:iam::<account>:user/<path>/<name>)."""
    resource = arn.split(":", 5)[-1]
    if not resource.startswith("user/"):
        return None  # the account's root
    return resource[len("user") :].rsplit("/", 1)[0] + "/"


def _remember(item: dict, finding: hygiene.Finding, today: date) -> None:
    """Keep beside the notices the keys the schedule deactivated (for the deletion rule)."""
    deactivated = dict(item.get("deactivated") or {})
    if finding.action == hygiene.DEACTIVATE_KEY:
        deactivated[finding.credential] = today.isoformat()
    elif finding.action == hygiene.DELETE_KEY:
        deactivated.pop(finding.credential, None)
    item["deactivated"] = deactivated


def _facts(row: dict, record: dict | None, item: dict, protected: bool) -> hygiene.Facts:
    """One user's credentials as the report shows them (keys by their slot: it names none);
    without the record, what the last run kept of it."""
    keys = tuple(
        hygiene.Key(
            f"access_key_{n}",
            row.get(f"access_key_{n}_active") == "true",
            datetime.fromisoformat(row[f"access_key_{n}_last_rotated"]),
            _moment(row.get(f"access_key_{n}_last_used_date")),
        )
        for n in _SLOTS
        if row.get(f"access_key_{n}_last_rotated", "N/A") not in _NONE
    )
    exemption = item.get("exemption") or {}
    taken = (
        ((record.get("hygiene_taken") or {}).get("keys") or {})
        if record is not None
        else (item.get("deactivated") or {})
    )
    return hygiene.Facts(
        username=row["user"],
        created=datetime.fromisoformat(row["user_creation_time"]),
        console=row.get("password_enabled") == "true",
        password_last_used=_moment(row.get("password_last_used")),
        password_changed=_moment(row.get("password_last_changed")),
        mfa=row.get("mfa_active") == "true",
        keys=keys,
        restored_at=_moment((record or {}).get("restored_at")),
        deactivated={k: date.fromisoformat(d) for k, d in taken.items()},
        protected=protected,
        exempt_until=date.fromisoformat(exemption["until"]) if exemption.get("until") else None,
    )


def _with_keys(facts: hygiene.Facts, keys: list[hygiene.Key]) -> hygiene.Facts:
    from dataclasses import replace

    return replace(facts, keys=tuple(keys))


def _notice_text(finding: hygiene.Finding, step: hygiene.Step, what: str) -> str:
    credential = (
        "your console password"
        if finding.credential == hygiene.CONSOLE
        else "your access keys"
        if finding.credential == hygiene.KEYS
        else f"your access key {finding.credential}"
    )
    reason = {
        hygiene.UNUSED: "has not been used",
        hygiene.UNUSED_90: "has not been used",
        hygiene.KEY_ROTATION: "has not been rotated",
        hygiene.CONSOLE_MFA: "has no MFA device beside it",
        hygiene.ONE_ACTIVE_KEY: "include more than one active key",
        hygiene.KEY_DELETION: "was deactivated",
    }[finding.rule]
    lead = "Reminder: " if what == "reminded" else ""
    if finding.action is None or step.due is None:
        return f"{lead}{credential} {reason} since {finding.since.isoformat()}; please fix it."
    verb = {
        hygiene.REMOVE_CONSOLE: "removed",
        hygiene.DEACTIVATE_KEY: "deactivated",
        hygiene.DELETE_KEY: "deleted",
    }[finding.action]
    return (
        f"{lead}{credential} {reason} since {finding.since.isoformat()}; it will be {verb} on "
        f"{step.due.isoformat()} unless it is used or fixed before then."
    )


_RULE_TITLES = {
    hygiene.UNUSED: "unused credentials",
    hygiene.UNUSED_90: "unused credentials",
    hygiene.KEY_ROTATION: "access key rotation",
    hygiene.CONSOLE_MFA: "MFA for console passwords",
    hygiene.ONE_ACTIVE_KEY: "one active access key",
    hygiene.KEY_DELETION: "deactivated keys deleted",
}


def _notice_parts(finding: hygiene.Finding, step: hygiene.Step, rule: hygiene.Rule) -> dict:
    """What a person's direct message says beside the notice's text: the rule (and the controls
    it stands for), the credential, what will happen and how to avoid it."""
    controls = ", ".join(
        part
        for part in (
            f"Security Hub {rule.security_hub}" if rule.security_hub else "",
            f"CIS {rule.cis}" if rule.cis else "",
        )
        if part
    )
    credential = (
        "console password"
        if finding.credential == hygiene.CONSOLE
        else "access keys"
        if finding.credential == hygiene.KEYS
        else f"access key {finding.credential}"
    )
    if finding.action is None or step.due is None:
        happens = "Nothing is changed for it: this rule only asks you to fix it."
    else:
        happens = {
            hygiene.REMOVE_CONSOLE: "your console login is removed (your access keys stay)",
            hygiene.DEACTIVATE_KEY: f"the access key {finding.credential} is deactivated "
            "(your other credentials stay)",
            hygiene.DELETE_KEY: f"the access key {finding.credential} is deleted",
        }[finding.action]
        happens = f"On {step.due.isoformat()} {happens}."
    avoid = {
        hygiene.UNUSED: _use_it(finding),
        hygiene.UNUSED_90: _use_it(finding),
        hygiene.KEY_ROTATION: "Rotate it: signed in with MFA, create a new key, move to it, then "
        f"delete {finding.credential}. No longer need a key? Delete it.",
        hygiene.CONSOLE_MFA: "Turn on MFA: in the console, your name (top right) > Security "
        "credentials > Assign MFA device, named as your user name.",
        hygiene.ONE_ACTIVE_KEY: "Delete (or deactivate) the access keys you no longer use, "
        "keeping one.",
        hygiene.KEY_DELETION: "Still need it? Ask whoever manages your access for a restore "
        "before then: a deleted key cannot be given back.",
    }[finding.rule]
    return {
        "title": _RULE_TITLES[finding.rule] + (f" ({controls})" if controls else ""),
        "credential_name": credential,
        "happens": happens,
        "avoid": avoid,
    }


def _use_it(finding: hygiene.Finding) -> str:
    if finding.credential == hygiene.CONSOLE:
        return (
            "Sign in to the console before then. No longer need it? Let it go: a restore by "
            "whoever manages your access gives it back."
        )
    return (
        f"Use the key {finding.credential} before then (any AWS call signed with it counts). No "
        "longer need it? Let it go: a restore by whoever manages your access gives it back."
    )


def as_csv(rows: list[dict]) -> str:
    """The findings as CSV, each cell disarmed as the access matrix's are."""
    import csv
    import io

    from chalicelib.lifecycle.queries import _cell

    columns = ("username", "rule", "credential", "since", "next_action", "due")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: _cell(row.get(c) or "") for c in columns} for row in rows)
    return out.getvalue()
