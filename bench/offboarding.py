"""Time to revoke: offboarding a user with every kind of dependent object, with two child
accounts, on the local stack (IAM enforced, the app as its own principal), each AWS call delayed
by a fixed latency; beside a plain sequential implementation of the same steps, in the same run.
Also: 100 people offboarded at once beside a sequential loop over them, and 100 at once with IAM
throttled as AWS throttles it, beside the time the rate alone sets.

``python -m bench.offboarding throttled`` runs the throttled row alone."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from bench.aws_timeline import Timeline, depths, fresh_timeline
from devstack import moto_throttle
from devstack.local import PROJECT, REGION, LocalStack, app_environment
from tests.support.iam_objects import give_every_dependent, left_in_iam

CHILDREN = ("222233334444", "333344445555")
ACCESS = {"RemoveUserFromGroup", "UpdateAccessKey", "DeleteLoginProfile", "PutRolePolicy"}
ROLES = ("DeveloperRole", "BreakGlassRole")
# IAM publishes no rate; about 10 requests per second per account is what it allows.
IAM_RATE = 10.0
# How far above the time the rate alone sets a throttled burst may take.
THROTTLED_TARGET = 1.3


class Bench:
    def __init__(self, timeline: Timeline, latency: float) -> None:
        self.timeline = timeline
        self.latency = latency
        self.stack = LocalStack(children=CHILDREN)
        facts = self.stack.start()
        self.facts = facts
        config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
        # The app's process as the stack runs it (its credentials, the endpoint, and the rules
        # that send Sign-In's session calls there too), with the stage's settings.
        os.environ.update(app_environment(facts))
        os.environ.update(
            {
                **config["environment_variables"],
                **config["stages"]["dev"]["environment_variables"],
                "CHILD_ACCOUNT_IDS": ",".join(CHILDREN),
                "LOG_LEVEL": "WARNING",
            }
        )
        from chalicelib import bootstrap

        bootstrap.reset()
        self.services = bootstrap.services()
        admin = boto3.session.Session(region_name=REGION, **facts.admin_credentials)
        self.admin_iam = admin.client("iam", endpoint_url=facts.aws_endpoint_url)
        self.admin_sts = admin.client("sts", endpoint_url=facts.aws_endpoint_url)

    def person(self, name: str) -> None:
        """Onboarded through the app, then given every kind of dependent object."""
        from chalicelib.lifecycle.commands import OnboardRequest

        self.timeline.latency = 0
        request = OnboardRequest(
            username=name, groups=["ChildDeveloperGroup"], ticket=f"on-{name}", requested_by="bench"
        )
        self.services.operations.change("onboard", name, request)
        give_every_dependent(self.admin_iam, name)

    def offboard_app(self, name: str) -> dict:
        from chalicelib.kernel.commands import TicketRequest

        request = TicketRequest(ticket=f"off-{name}", requested_by="bench")
        return self.services.operations.change("offboard", name, request)

    def plan_app(self, name: str) -> dict:
        """The dry run of the same offboarding: its reads go to AWS, its changes do not."""
        from chalicelib.kernel.commands import TicketRequest

        request = TicketRequest(ticket=f"plan-{name}", requested_by="bench", dry_run=True)
        return self.services.operations.change("offboard", name, request)

    def measure_plan(self, name: str) -> dict:
        self.person(name)
        self.timeline.reset()
        self.timeline.latency = self.latency
        start = time.perf_counter()
        plan = self.plan_app(name)
        total = time.perf_counter() - start
        self.timeline.latency = 0
        sent = list(self.timeline.calls)
        return {
            "ms": 1000 * total,
            "planned": plan["calls"],
            "sent": len(sent),
            "waves": max(depths(sent)) if sent else 0,
        }

    def offboard_sequential(self, name: str) -> None:
        sequential_offboard(self.admin_iam, self.admin_sts, name)

    def measure(self, offboard: Any, name: str) -> dict:
        self.person(name)
        # A leaver's offboarding does not come within 0.1 s of their onboarding; one that
        # does reads again under its lease (chalicelib/kernel/claim.py, Claim).
        time.sleep(0.2)
        self.timeline.reset()
        self.timeline.latency = self.latency
        start = time.perf_counter()
        offboard(name)
        total = time.perf_counter() - start
        self.timeline.latency = 0
        calls = list(self.timeline.calls)
        depth = depths(calls)
        access = [i for i, c in enumerate(calls) if c.operation in ACCESS]
        deleted = [i for i, c in enumerate(calls) if c.operation == "DeleteUser"]
        return {
            "calls": len(calls),
            "access_ms": 1000 * (max(calls[i].end for i in access) - start),
            "access_waves": max(depth[i] for i in access),
            "gone_ms": 1000 * (max(calls[i].end for i in deleted) - start),
            "gone_waves": max(depth[i] for i in deleted),
            "total_ms": 1000 * total,
        }


def sequential_offboard(iam: Any, sts: Any, name: str) -> None:
    """The same steps one call at a time, as a plain script (or Cloud Custodian) would."""
    for group in iam.list_groups_for_user(UserName=name)["Groups"]:
        iam.remove_user_from_group(UserName=name, GroupName=group["GroupName"])
    keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]]
    for key in keys:
        iam.update_access_key(UserName=name, AccessKeyId=key, Status="Inactive")
    iam.delete_login_profile(UserName=name)
    for account in CHILDREN:
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            RoleSessionName="bench",
        )["Credentials"]
        child = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        ).client("iam", endpoint_url=iam.meta.endpoint_url)
        for role in ROLES:
            document = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {
                            "StringLike": {"aws:userid": f"*:{name}"},
                            "DateLessThan": {"aws:TokenIssueTime": "2099-01-01T00:00:00Z"},
                        },
                    }
                ],
            }
            child.put_role_policy(
                RoleName=role, PolicyName=f"Revoke-{name}", PolicyDocument=json.dumps(document)
            )
    for key in keys:
        iam.delete_access_key(UserName=name, AccessKeyId=key)
    for cert in iam.list_signing_certificates(UserName=name)["Certificates"]:
        iam.delete_signing_certificate(UserName=name, CertificateId=cert["CertificateId"])
    for key in iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]:
        iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=key["SSHPublicKeyId"])
    for cred in iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(
            UserName=name, ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"]
        )
    for device in iam.list_mfa_devices(UserName=name)["MFADevices"]:
        iam.deactivate_mfa_device(UserName=name, SerialNumber=device["SerialNumber"])
        iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy)
    for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
    iam.delete_user_permissions_boundary(UserName=name)
    iam.delete_user(UserName=name)


def run(latency_ms: float = 50, repeats: int = 3, bulk: int = 100) -> list[tuple[str, str, str]]:
    timeline = fresh_timeline()
    bench = Bench(timeline, latency_ms / 1000)
    try:
        app = [bench.measure(bench.offboard_app, f"app{i}") for i in range(repeats)]
        seq = [bench.measure(bench.offboard_sequential, f"seq{i}") for i in range(repeats)]

        def median(rows: list[dict], key: str) -> float:
            return statistics.median(row[key] for row in rows)

        rows = []
        for label, key, target in (("access gone", "access", 3), ("user gone", "gone", 6)):
            a_ms, s_ms = median(app, f"{key}_ms"), median(seq, f"{key}_ms")
            a_w, s_w = median(app, f"{key}_waves"), median(seq, f"{key}_waves")
            met = "met" if a_w <= target else "not met"
            rows.append(
                (
                    f"offboarding, {label} ({latency_ms:.0f} ms per AWS call, 2 child accounts)",
                    f"{a_ms:,.0f} ms, {a_w:.0f} waves",
                    f"sequential: {s_ms:,.0f} ms, {s_w:.0f} waves ({s_ms / a_ms:.1f}x); "
                    f"target within {target} waves of the first call: {met}",
                )
            )
        rows.append(
            (
                "offboarding, AWS calls (incl. records, idempotency, audit, event)",
                f"{median(app, 'calls'):.0f}",
                f"sequential: {median(seq, 'calls'):.0f}",
            )
        )
        plans = [bench.measure_plan(f"plan{i}") for i in range(repeats)]
        p_ms, a_total = median(plans, "ms"), median(app, "total_ms")
        rows.append(
            (
                f"dry run of that offboarding ({latency_ms:.0f} ms per AWS call)",
                f"{p_ms:,.0f} ms, {median(plans, 'sent'):.0f} reads sent in "
                f"{median(plans, 'waves'):.0f} waves, {median(plans, 'planned'):.0f} changes planned",
                f"the offboarding itself: {a_total:,.0f} ms ({p_ms / a_total:.2f}x)",
            )
        )
        if bulk:
            rows.append(bulk_row(bench, latency_ms, bulk))
            rows.append(throttled_row(bench, latency_ms, bulk))
        return rows
    finally:
        bench.stack.stop()


def bulk_row(bench: Bench, latency_ms: float, count: int) -> tuple[str, str, str]:
    names = [f"bulk{i:03d}" for i in range(count)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(bench.person, names))
    bench.timeline.latency = bench.latency
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=25) as pool:
        list(pool.map(bench.offboard_app, names))
    parallel = time.perf_counter() - start
    bench.timeline.latency = 0
    # the sequential loop over a sample, scaled: the whole loop would take minutes
    sample = [f"bulkseq{i}" for i in range(5)]
    for name in sample:
        bench.person(name)
    bench.timeline.latency = bench.latency
    start = time.perf_counter()
    for name in sample:
        bench.offboard_sequential(name)
    per_person = (time.perf_counter() - start) / len(sample)
    bench.timeline.latency = 0
    return (
        f"bulk offboarding of {count} people at once ({latency_ms:.0f} ms per call)",
        f"{count / parallel:.1f} people/s ({parallel:.1f} s)",
        f"sequential loop: {1 / per_person:.2f} people/s ({(1 / per_person) and (count / parallel) * per_person:.1f}x)",
    )


def throttled_row(bench: Bench, latency_ms: float, count: int) -> tuple[str, str, str]:
    """``count`` offboardings at once against IAM throttled per account at IAM_RATE (a bucket
    of as many tokens): every change must succeed and leave nothing, at close to the rate."""
    names = [f"thr{i:03d}" for i in range(count)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(bench.person, names))

    def offboard(name: str) -> bool:
        try:
            bench.offboard_app(name)
            return True
        except Exception:  # noqa: BLE001 - counted: a failed change is the figure's failure
            return False

    moto_throttle.reset_counts()
    moto_throttle.set_rate("iam", IAM_RATE)
    bench.timeline.reset()
    bench.timeline.latency = bench.latency
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=25) as pool:
            done = list(pool.map(offboard, names))
        elapsed = time.perf_counter() - start
    finally:
        bench.timeline.latency = 0
        moto_throttle.off("iam")
    accounts = moto_throttle.counts("iam")
    # Each account's bucket serves IAM_RATE requests a second: the busiest one sets the pace.
    served = max(account["served"] for account in accounts.values())
    throttled = sum(account["throttled"] for account in accounts.values())
    bound = served / IAM_RATE
    failed = done.count(False)
    most_retries = max((call.retries for call in bench.timeline.calls), default=0)
    left = left_in_iam(bench.admin_iam, names)
    ratio = elapsed / bound
    verdict = "met" if ratio <= THROTTLED_TARGET and not failed and not left else "not met"
    return (
        f"bulk offboarding of {count} people at once, IAM throttled at {IAM_RATE:.0f} requests/s "
        f"per account ({latency_ms:.0f} ms per call)",
        f"{elapsed:.1f} s, {count - failed} of {count} done, {failed} failed, "
        f"{len(left)} left in IAM; {throttled} requests throttled, at most {most_retries} "
        "retries for one call",
        f"bound set by the rate: {served} IAM calls in the busiest account / "
        f"{IAM_RATE:.0f} per s = {bound:.1f} s; {ratio:.2f}x (target at most "
        f"{THROTTLED_TARGET}x: {verdict})",
    )


def run_throttled(latency_ms: float = 50, count: int = 100) -> tuple[str, str, str]:
    bench = Bench(fresh_timeline(), latency_ms / 1000)
    try:
        return throttled_row(bench, latency_ms, count)
    finally:
        bench.stack.stop()


if __name__ == "__main__":
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    count = int(os.environ.get("BENCH_BULK", "100"))
    rows = [run_throttled(count=count)] if sys.argv[1:] == ["throttled"] else run(bulk=count)
    for row in rows:
        print(" | ".join(row))
