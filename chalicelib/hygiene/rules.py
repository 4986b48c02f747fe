"""Credential hygiene: the rules Security Hub and the CIS AWS Foundations Benchmark (v3.0.0) check
IAM users against, as pure functions over what is known of each credential.

Each rule is judged per credential (the console password, each access key), never per user: a
dormant key is that key's finding, not its owner's other key's. The clock of a credential starts
at its last use or, when it was never used (the credential report's ``N/A`` and
``no_information``), at its creation: a brand-new user is "not used since creation", never
"never used" and due on day 0. A restore by the service starts the clocks again.

A finding is noticed first (the person and the operators), reminded once, and acted on when due;
:func:`next_step` says which of those a finding is at, from what was noticed already.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chalicelib.kernel.csv_cells import table

# What a rule does once its findings fall due.
ACT, NOTIFY, OFF = "act", "notify", "off"
MODES = (ACT, NOTIFY, OFF)

# The rules, by name.
UNUSED = "unused"  # Security Hub IAM.22 / CIS 1.12: credentials unused for 45 days
UNUSED_90 = "unused_90"  # Security Hub IAM.8: unused for 90 days (the older benchmark)
KEY_ROTATION = "key_rotation"  # Security Hub IAM.3 / CIS 1.14: keys rotated within 90 days
CONSOLE_MFA = "console_mfa"  # Security Hub IAM.5 / CIS 1.10: MFA for every console password
ONE_ACTIVE_KEY = "one_active_key"  # CIS 1.13: at most one active access key
KEY_DELETION = "key_deletion"  # a key this service deactivated, deleted a further period later

# The changes the rules lead to: each one an action of the catalogue (chalicelib/kernel/catalogue.py).
REMOVE_CONSOLE, DEACTIVATE_KEY, DELETE_KEY = "remove_console", "deactivate_key", "delete_key"
ACTIONS = (REMOVE_CONSOLE, DEACTIVATE_KEY, DELETE_KEY)

CONSOLE = "console"  # the credential id of the console password
KEYS = "access_keys"  # the credential id of a user's set of keys (one_active_key)

# The steps of a finding.
NOTICE, REMIND, WAIT, DONE = "notify", "remind", "wait", "none"


@dataclass(frozen=True)
class Rule:
    name: str
    security_hub: str  # the Security Hub control id
    cis: str  # the CIS AWS Foundations Benchmark v3.0.0 recommendation, or ""
    days: int
    mode: str = ACT
    grace: int = 0  # days from the rule being broken to the action (rotation, MFA)


# The defaults: CIS v3.0.0 and Security Hub's controls.
DEFAULT_RULES = (
    Rule(UNUSED, "IAM.22", "1.12", 45),
    Rule(UNUSED_90, "IAM.8", "", 90),
    Rule(KEY_ROTATION, "IAM.3", "1.14", 90, grace=14),
    Rule(CONSOLE_MFA, "IAM.5", "1.10", 7, grace=14),
    Rule(ONE_ACTIVE_KEY, "", "1.13", 0, mode=NOTIFY),
    # Off unless asked for: a key deactivated is kept (it can be given back by a restore).
    Rule(KEY_DELETION, "", "", 30, mode=OFF),
)


@dataclass(frozen=True)
class Policy:
    """The rules as the stage sets them, and how long before an action people are told."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    notice_days: int = 7  # the first notice comes at least this long before the action
    reminder_days: int = 1  # the reminder, this long before it

    def rule(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)


@dataclass(frozen=True)
class Key:
    id: str
    active: bool
    created: datetime
    last_used: datetime | None = None  # None: never used, or the report has no information


@dataclass(frozen=True)
class Facts:
    """What is known of one user's credentials."""

    username: str
    created: datetime
    console: bool = False
    password_last_used: datetime | None = None  # None: never used, or no information
    password_changed: datetime | None = None  # when the password was set
    mfa: bool = False
    keys: tuple[Key, ...] = ()
    restored_at: datetime | None = None  # a restore by the service starts the clocks again
    deactivated: dict[str, date] = field(default_factory=dict)  # keys this service deactivated
    protected: bool = False
    exempt_until: date | None = None


@dataclass(frozen=True)
class Finding:
    username: str
    rule: str
    credential: str  # "console", an access key id, or "access_keys"
    since: date  # the credential's last use, or its creation
    notice_at: date  # when people are first told
    due: date | None  # when the rule's action is due (a notice-only rule: when it is broken)
    action: str | None  # the change when due (None: notices only)

    @property
    def key(self) -> str:
        """The finding's name among the user's notices."""
        return f"{self.rule}:{self.credential}"


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def _latest(*moments: date | None) -> date:
    return max(moment for moment in moments if moment is not None)


def exempt(facts: Facts, today: date) -> bool:
    return facts.protected or (facts.exempt_until is not None and today <= facts.exempt_until)


def evaluate(facts: Facts, policy: Policy, today: date) -> list[Finding]:
    """The findings of one user's credentials that people must be told of by ``today``: per
    credential and action, the rule due first."""
    if exempt(facts, today):
        return []
    restored = _day(facts.restored_at)
    created = _day(facts.created)
    found: list[Finding] = []

    def add(rule: Rule, credential: str, since: date, action: str | None) -> None:
        if rule.mode == OFF:
            return
        broken = since + timedelta(days=rule.days)
        due = broken + timedelta(days=rule.grace)
        acting = action if rule.mode == ACT else None
        notice_at = min(broken, due - timedelta(days=policy.notice_days)) if acting else broken
        found.append(Finding(facts.username, rule.name, credential, since, notice_at, due, acting))

    if facts.console:
        set_at = _latest(created, _day(facts.password_changed))
        used = _latest(_day(facts.password_last_used) or set_at, restored)
        for name in (UNUSED, UNUSED_90):
            add(policy.rule(name), CONSOLE, used, REMOVE_CONSOLE)
        if not facts.mfa:
            add(policy.rule(CONSOLE_MFA), CONSOLE, _latest(set_at, restored), REMOVE_CONSOLE)
    active = [key for key in facts.keys if key.active]
    for key in active:
        made = _latest(created, _day(key.created))
        used = _latest(_day(key.last_used) or made, restored)
        for name in (UNUSED, UNUSED_90):
            add(policy.rule(name), key.id, used, DEACTIVATE_KEY)
        add(policy.rule(KEY_ROTATION), key.id, made, DEACTIVATE_KEY)
    if len(active) > 1:
        rule = policy.rule(ONE_ACTIVE_KEY)
        newest = max(_latest(created, _day(key.created)) for key in active)
        if rule.mode != OFF:
            found.append(Finding(facts.username, rule.name, KEYS, newest, newest, None, None))
    for key in facts.keys:
        if not key.active and key.id in facts.deactivated:
            add(policy.rule(KEY_DELETION), key.id, facts.deactivated[key.id], DELETE_KEY)
    return [finding for finding in _first_due(found) if finding.notice_at <= today]


def _first_due(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per credential and action: the one due first (IAM.22 before IAM.8)."""
    kept: dict[tuple[str, str | None], Finding] = {}
    for finding in findings:
        slot = (finding.credential, finding.action or finding.rule)
        held = kept.get(slot)
        if held is None or (finding.due or date.max) < (held.due or date.max):
            kept[slot] = finding
    return sorted(kept.values(), key=lambda f: (f.credential, f.rule))


@dataclass(frozen=True)
class Step:
    step: str  # notify, remind, wait, act (the finding's action), none
    due: date | None  # the action's date, at least notice_days after the first notice


def next_step(finding: Finding, notice: dict | None, policy: Policy, today: date) -> Step:
    """Where ``finding`` stands, given the notice sent for it (``{"since", "noticed", "due",
    "reminded"?}``, dates as ISO strings; one for an earlier clock of the credential counts for
    nothing). An action comes only after a notice and a reminder, and never sooner than
    ``notice_days`` after the notice, however late the finding was first seen."""
    if notice is not None and notice.get("since") != finding.since.isoformat():
        notice = None
    if finding.action is None:
        return Step(NOTICE if notice is None else DONE, finding.due)
    assert finding.due is not None
    if notice is None:
        return Step(NOTICE, max(finding.due, today + timedelta(days=policy.notice_days)))
    due = max(finding.due, date.fromisoformat(notice["due"]))
    reminded = notice.get("reminded")
    if today >= due:
        return Step(finding.action if reminded else REMIND, due)
    if not reminded and today >= due - timedelta(days=policy.reminder_days):
        return Step(REMIND if today > date.fromisoformat(notice["noticed"]) else WAIT, due)
    return Step(WAIT, due)


def next_action(finding: Finding, step: Step) -> str:
    """What the finding's listing says comes next: a notice, a reminder, the action, or none."""
    if step.step == WAIT:
        return finding.action or DONE
    return step.step


def as_row(finding: Finding, step: Step) -> dict:
    """A finding as ``GET /hygiene`` lists it."""
    return {
        "username": finding.username,
        "rule": finding.rule,
        "credential": finding.credential,
        "since": finding.since.isoformat(),
        "next_action": next_action(finding, step),
        "due": step.due.isoformat() if step.due and finding.action else None,
    }


FINDING_COLUMNS = ("username", "rule", "credential", "since", "next_action", "due")


def as_csv(rows: list[dict]) -> str:
    """The findings as ``GET /hygiene?format=csv`` lists them, each cell disarmed."""
    return table(({c: row.get(c) or "" for c in FINDING_COLUMNS} for row in rows), FINDING_COLUMNS)


def ticket(finding: Finding, due: date) -> str:
    """The ticket of a finding's action: one change per rule, user, credential and due date."""
    return f"hygiene:{finding.rule}:{finding.username}:{finding.credential}:{due.isoformat()}"


def still_due(facts: Facts, rule: str, credential: str, policy: Policy, today: date) -> bool:
    """Whether ``rule``'s action on ``credential`` is due on the facts read at action time (the
    person may have used the credential, or been changed by hand, since the notice). The rule
    is judged alone: another rule kept beside it in the listing does not hide it."""
    wanted = policy.rule(rule)
    if wanted.mode != ACT:
        return False
    others = tuple(
        Rule(r.name, r.security_hub, r.cis, r.days, OFF, r.grace)
        for r in policy.rules
        if r.name != rule
    )
    alone = Policy((wanted, *others), policy.notice_days, policy.reminder_days)
    return any(
        f.credential == credential and f.due is not None and f.due <= today
        for f in evaluate(facts, alone, today)
    )
