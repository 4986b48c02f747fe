"""A layoff: 1,000 people's live sessions revoked over 12 hours of the app's clock, with the app's
own revoker (``chalicelib/aws/revocation.py``'s ``Revoker``, built as ``chalicelib/bootstrap.py``
builds it) on in-process moto with two child accounts provisioned from the templates
(MaxSessionDuration 12 hours, so nothing expires during the layoff), each AWS call delayed by
50 ms so that calls made together overlap. The clock is injected: the 12 hours pass without
waiting.

(a) in batches: 21 or 20 people every 15 minutes (48 batches), each batch's revocations at once;
(b) in bursts: 100 people at once every 72 minutes (10 bursts), as a burst of offboardings would.
Beside them, the same people revoked one at a time, one call after another (a plain script: for
each person, account and role, read the deny and write it back with the person added; the same
document rules, so it stays within IAM's limit too).

At the end, every revoked person's sessions issued before their revocation must be denied on
every access role of both accounts, decided by the IAM policy evaluator
(``tests/support/iam_eval.py``) from the documents read back from moto beside an allow of
everything; a person never revoked, with a session issued after the layoff, must be allowed.

``python -m bench layoff`` runs it alone (``python -m bench.layoff`` prints its rows only).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.aws_timeline import Call, Timeline, depths, fresh_timeline
from devstack import cfn
from devstack.local import (
    APP_ROLE_PREFIX,
    PROJECT,
    REGION,
    ROOT_ACCOUNT,
    SETUP_CREDENTIALS,
    Facts,
    Provisioner,
    _Principal,
)

PEOPLE = 1_000
CHILDREN = ("222233334444", "333344445555")
ROLES = ("DeveloperRole", "BreakGlassRole")
MAX_SESSION = timedelta(hours=12)
LATENCY = 0.05
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
POLICY = "AccessRevocation"
ALLOW_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_DYNAMODB = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem"}

FIRST = (
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara "
    "richard susan joseph jessica thomas sarah christopher karen charles lisa daniel nancy "
    "matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily andrew "
    "donna joshua michelle kenneth carol kevin amanda brian melissa george deborah timothy "
    "stephanie ronald rebecca jason sharon edward laura jeffrey cynthia ryan kathleen jacob amy "
    "gary angela nicholas shirley eric anna jonathan brenda stephen pamela larry emma justin "
    "nicole scott helen brandon samantha benjamin katherine samuel christine gregory debra "
    "alexander rachel frank carolyn patrick janet raymond catherine jack maria dennis heather "
    "jerry diane tyler ruth aaron julie jose olivia adam joyce nathan virginia henry victoria "
    "zachary kelly douglas lauren peter christina kyle joan noah evelyn ethan judith jeremy "
    "megan walter andrea christian cheryl keith hannah roger jacqueline terry martha austin "
    "gloria sean teresa gerald ann carl sara harold madison dylan frances arthur kathryn "
    "lawrence janice jordan jean jesse abigail bryan alice billy judy bruce sophia gabriel "
    "grace joe denise logan amber albert doris willie marilyn alan danielle eugene beverly "
    "russell isabella vincent theresa bobby diana johnny natalie wayne brittany roy charlotte "
    "ralph marie louis kayla philip alexis mia"
).split()
LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres "
    "nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts "
    "gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales "
    "murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos "
    "kim cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes "
    "price alvarez castillo sanders patel myers long ross foster jimenez powell jenkins perry "
    "russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez simmons "
    "romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west "
    "cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro "
    "marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry "
    "chen freeman webb tucker guzman burns crawford olson simpson porter hunter gordon mendez "
    "silva shaw snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd "
    "rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson nichols "
    "stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce "
    "vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong "
    "hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston "
    "matthews pena richards contreras willis carpenter lawrence sandoval"
).split()


def people(count: int, seed: int = 2026) -> list[str]:
    """``count`` distinct user names as companies spell them: ``firstname.lastname`` and
    ``first.last@example.com``, a digit where two people share a name, 8 to 32 characters."""
    rng = random.Random(seed)
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first}.{last}"
        if rng.random() < 0.45:
            name += "@example.com"
        base, n = name, 2
        while name.lower() in seen:
            local, _, domain = base.partition("@")
            name = f"{local}{n}" + (f"@{domain}" if domain else "")
            n += 1
        if 8 <= len(name) <= 32:
            seen.add(name.lower())
            chosen.append(name)
    return chosen


class Clock:
    """The app's clock: set by the benchmark, read by the revoker."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class _Provisioner(Provisioner):
    """The local stack's provisioning, the child accounts' roles at MaxSessionDuration 12 h."""

    def deploy_child(self, child: dict) -> dict:
        return cfn.deploy(
            _Principal(child),
            PROJECT / "templates/child/access-roles.yaml",
            "access-roles",
            {
                "RootAccountId": ROOT_ACCOUNT,
                "AppRolePrefix": APP_ROLE_PREFIX,
                "MaxSessionDuration": str(int(MAX_SESSION.total_seconds())),
            },
            endpoint_url=self.endpoint_url,
        )


@dataclass
class Outcome:
    label: str
    calls: list[list[Call]] = field(default_factory=list)  # per batch
    waves: list[int] = field(default_factory=list)  # per batch
    revoked_at: dict[str, datetime] = field(default_factory=dict)
    max_size: dict[tuple[str, str], int] = field(default_factory=dict)
    end_size: dict[tuple[str, str], int] = field(default_factory=dict)
    cutoffs: dict[tuple[str, str], set[datetime]] = field(default_factory=dict)
    role_cutoff_results: int = 0  # accounts listed in Revoked.role_cutoff, summed
    pending: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    documents: dict[tuple[str, str], dict | None] = field(default_factory=dict)
    overflow_used: dict[tuple[str, str], int] = field(default_factory=dict)  # at most, of 4
    verdict: str = ""

    def total(self, kinds: Callable[[Call], bool] = lambda _: True) -> int:
        return sum(1 for batch in self.calls for c in batch if kinds(c))


def _environment() -> None:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    os.environ.update(
        {
            **config["environment_variables"],
            **config["stages"]["dev"]["environment_variables"],
            "CHILD_ACCOUNT_IDS": ",".join(CHILDREN),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _child_iam(account: str) -> Any:
    provisioner = Provisioner(endpoint_url=None, children=CHILDREN)
    return provisioner.client(provisioner.child_credentials(SETUP_CREDENTIALS, account), "iam")


def _read(iam: Any, role: str) -> dict | None:
    try:
        return iam.get_role_policy(RoleName=role, PolicyName=POLICY)["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        return None


def _overflow(iam: Any, account: str, role: str) -> list[dict | None]:
    """The role's overflow policies as they stand (None: empty, the placeholder)."""
    from chalicelib.lifecycle import revocation_policy

    found: list[dict | None] = []
    for n in range(1, 5):
        arn = f"arn:aws:iam::{account}:policy/access-revocation/{role}Revocation{n}"
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        held = document["Document"]
        found.append(None if held == revocation_policy.placeholder_document() else held)
    return found


def _observe(outcome: Outcome, readers: dict[str, Any]) -> None:
    """Each role's document as it stands: its size and its whole-role cutoff, if any."""
    from chalicelib.lifecycle import revocation_policy

    for account, iam in readers.items():
        for role in ROLES:
            inline = _read(iam, role)
            overflow = _overflow(iam, account, role)
            key = (account, role)
            size = revocation_policy.size(inline)
            outcome.max_size[key] = max(size, outcome.max_size.get(key, 0))
            outcome.end_size[key] = size
            used = sum(1 for d in overflow if d)
            outcome.overflow_used[key] = max(used, outcome.overflow_used.get(key, 0))
            # What denies the role's sessions: the inline policy and its overflow, together.
            document = revocation_policy.combine([inline, *overflow])
            outcome.documents[key] = document
            if (cut := revocation_policy.cutoff(document)) is not None:
                outcome.cutoffs.setdefault(key, set()).add(cut)


def _schedule(names: list[str], groups: int) -> list[list[str]]:
    """``names`` in ``groups`` nearly equal groups, in order."""
    size, extra = divmod(len(names), groups)
    out, at = [], 0
    for i in range(groups):
        n = size + (1 if i < extra else 0)
        out.append(names[at : at + n])
        at += n
    return out


def run_app(
    timeline: Timeline, label: str, names: list[str], groups: int, every: timedelta
) -> Outcome:
    """The app's revoker, each group's people revoked at once (one revocation each, as their
    offboardings would), a group every ``every`` of the clock."""
    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.aws.clients import AwsClients
    from chalicelib.aws.revocation import Revoker

    outcome = Outcome(label)
    with mock_aws():
        facts: Facts = _Provisioner(endpoint_url=None, children=CHILDREN).run()
        clock = Clock(START)
        bootstrap.reset()
        services = bootstrap.build(
            clients=AwsClients(REGION, session=_Principal(facts.app_credentials)), clock=clock
        )
        # As chalicelib/bootstrap.py builds it for the lifecycle.
        revoker = Revoker(services.settings, services.clients, services.state, services.clock)
        readers = {account: _child_iam(account) for account in CHILDREN}
        guard = threading.Lock()

        def revoke(name: str) -> None:
            try:
                result = revoker.revoke([name])
            except Exception as error:  # noqa: BLE001 - counted and reported: the figure's failure
                with guard:
                    outcome.failed.append(f"{name}: {error}")
                return
            with guard:
                outcome.pending.update({f"{name}@{a}": why for a, why in result.pending.items()})
                outcome.role_cutoff_results += len(result.role_cutoff)

        for index, group in enumerate(_schedule(names, groups)):
            clock.now = START + index * every
            timeline.reset()
            timeline.latency = LATENCY
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                list(pool.map(revoke, group))
            timeline.latency = 0
            sent = list(timeline.calls)
            outcome.calls.append(sent)
            outcome.waves.append(max(depths(sent), default=0))
            outcome.revoked_at.update(dict.fromkeys(group, clock.now))
            _observe(outcome, readers)
        outcome.verdict = _check(outcome, names, clock.now)
        bootstrap.reset()
    return outcome


def run_sequential(timeline: Timeline, names: list[str], groups: int, every: timedelta) -> Outcome:
    """The same people, one at a time, one call after another, at the same moments of the
    clock: a plain script reading each role's deny and writing it back with the person added
    (the same document rules: merged, then cut off whole when full)."""
    from moto import mock_aws

    from chalicelib.lifecycle import revocation_policy

    outcome = Outcome("sequential")
    with mock_aws():
        facts = _Provisioner(endpoint_url=None, children=CHILDREN).run()
        admin = _Principal(facts.admin_credentials)
        readers = {account: _child_iam(account) for account in CHILDREN}
        timeline.reset()
        sts = admin.client("sts", region_name=REGION)
        clients = {}
        for account in CHILDREN:
            credentials = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                RoleSessionName="layoff-script",
            )["Credentials"]
            clients[account] = _Principal(
                {
                    "aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials["SessionToken"],
                }
            ).client("iam", region_name=REGION)
        outcome.calls.append(list(timeline.calls))
        outcome.waves.append(len(timeline.calls))  # one after another
        for index, group in enumerate(_schedule(names, groups)):
            now = START + index * every
            for name in group:
                timeline.reset()
                for iam in clients.values():
                    for role in ROLES:
                        document = revocation_policy.revoke(
                            _read(iam, role), [name], now, MAX_SESSION
                        )
                        fitted = revocation_policy.fit(document)
                        outcome.role_cutoff_results += fitted.role_cutoff
                        iam.put_role_policy(
                            RoleName=role,
                            PolicyName=POLICY,
                            PolicyDocument=json.dumps(fitted.document),
                        )
                sent = list(timeline.calls)
                outcome.calls.append(sent)
                outcome.waves.append(max(depths(sent), default=0))
                outcome.revoked_at[name] = now
            _observe(outcome, readers)
        outcome.verdict = _check(outcome, names, now)
    return outcome


def _check(outcome: Outcome, names: list[str], end: datetime) -> str:
    """Every revoked person's session issued just before their revocation (and one issued as
    long before it as a session may live) denied on every role of both accounts; a person never
    revoked, with a session issued after the layoff, allowed."""
    from chalicelib.lifecycle.revocation_policy import denied_before

    def iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    cases: list[tuple[str, str, str, datetime, str]] = []
    for account in CHILDREN:
        for role in ROLES:
            for name in names:
                at = outcome.revoked_at[name]
                for issued in (at - timedelta(seconds=1), at - MAX_SESSION + timedelta(minutes=1)):
                    cases.append((account, role, name, issued, "ExplicitlyDenied"))
            cases.append((account, role, "never.revoked", end + timedelta(minutes=2), "Allowed"))
    try:
        from tests.support import iam_eval

        unavailable = iam_eval.missing()
    except ImportError:
        unavailable = "tests/support/iam_eval.py not found"
    if unavailable is None:
        requests = [
            {
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::layoff-bucket/report.csv",
                "principal": f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
                "context": {
                    "aws:userid": f"AROALAYOFF{role.upper()}:{name}",
                    "aws:TokenIssueTime": iso(t),
                },
                "identity_policies": [ALLOW_EVERYTHING]
                + ([doc] if (doc := outcome.documents[(account, role)]) else []),
                "resource_policy": None,
            }
            for account, role, name, t, _ in cases
        ]
        decisions = iam_eval.decide(requests)
        how = "IAM policy evaluator"
    else:
        decisions = []
        for account, role, name, t, _ in cases:
            moment = denied_before(outcome.documents[(account, role)], name)
            decisions.append("ExplicitlyDenied" if moment and t < moment else "Allowed")
        how = f"denied_before() ({unavailable})"
    wrong = [case for case, decision in zip(cases, decisions, strict=True) if decision != case[4]]
    denied = sum(
        1 for c, d in zip(cases, decisions, strict=True) if c[4] == d == "ExplicitlyDenied"
    )
    expected = sum(1 for c in cases if c[4] == "ExplicitlyDenied")
    allowed = "allowed" if not any(c[2] == "never.revoked" for c in wrong) else "NOT allowed"
    owed = [c for c in wrong if f"{c[2]}@{c[0]}" in outcome.pending]
    return (
        f"{how}: {denied:,} of {expected:,} sessions issued before a revocation denied, "
        f"never-revoked person {allowed}"
        + (
            f"; {len(wrong)} decided otherwise ({len({c[2] for c in wrong})} people), "
            f"{len(owed)} of them in accounts the revoker reported pending"
            if wrong
            else ""
        )
    )


def _describe(outcome: Outcome, groups: int, every: timedelta) -> str:
    iam = outcome.total(lambda c: c.operation not in _DYNAMODB)
    total = outcome.total()
    sizes = max(outcome.max_size.values(), default=0)
    end = ", ".join(f"{outcome.end_size[k]:,}" for k in sorted(outcome.end_size))
    cut_roles = sum(len(moments) for moments in outcome.cutoffs.values())
    pending = "nothing pending"
    if outcome.pending:
        reasons = sorted(set(outcome.pending.values()))
        pending = (
            f"{len(outcome.pending)} person-accounts pending (Revoked.pending), "
            f'{len({k.rsplit("@", 1)[0] for k in outcome.pending})} people; e.g. "{reasons[0]}"'
        )
    failed = (
        f", {len(outcome.failed)} revocations raised: {outcome.failed[0]}" if outcome.failed else ""
    )
    return (
        f"{total:,} AWS calls ({iam:,} IAM/STS + {total - iam:,} DynamoDB), "
        f"{sum(outcome.waves):,} waves (median {statistics.median(outcome.waves):.0f} per "
        f"{'batch' if groups > 10 else 'burst'}, at most {max(outcome.waves)}); documents at most "
        f"{sizes:,} of IAM's 10,240 characters (at the end {end}), overflow policies in use at "
        f"most {max(outcome.overflow_used.values(), default=0)} of 4 a role; {cut_roles} whole-role "
        f"cutoffs written (Revoked.role_cutoff: {outcome.role_cutoff_results}); {pending}"
        f"{failed}; {outcome.verdict}"
    )


def run(people_count: int = PEOPLE) -> list[tuple[str, str, str]]:
    import logging

    logging.getLogger("chalicelib").setLevel(logging.WARNING)
    _environment()
    from devstack import moto_ext

    moto_ext.apply()
    timeline = fresh_timeline()
    names = people(people_count)
    plans = (
        ("in batches of about 20 every 15 minutes", 48, timedelta(minutes=15)),
        ("in bursts of 100 at once every 72 minutes", people_count // 100, timedelta(minutes=72)),
    )
    sequential = run_sequential(timeline, names, 48, timedelta(minutes=15))
    rows = []
    for what, groups, every in plans:
        outcome = run_app(timeline, what, names, groups, every)
        s_calls, s_waves = sequential.total(), sum(sequential.waves)
        a_calls, a_waves = outcome.total(), sum(outcome.waves)
        rows.append(
            (
                f"layoff: {people_count:,} people's sessions revoked over 12 h of clock {what} "
                f"({len(CHILDREN)} child accounts x {len(ROLES)} roles, MaxSessionDuration 12 h, "
                f"{LATENCY * 1000:.0f} ms per AWS call)",
                _describe(outcome, groups, every),
                f"one at a time, one call after another: {s_calls:,} calls, {s_waves:,} waves "
                f"({s_waves / a_waves:.1f}x the waves, {a_calls / s_calls:.1f}x the calls); "
                f"documents at most {max(sequential.max_size.values()):,} characters, "
                f"{sum(len(m) for m in sequential.cutoffs.values())} whole-role cutoffs; "
                f"{sequential.verdict}",
            )
        )
    return rows


if __name__ == "__main__":
    for row in run(int(os.environ.get("BENCH_LAYOFF_PEOPLE", PEOPLE))):
        print(" | ".join(row))
