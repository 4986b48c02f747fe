"""AWS calls per operation beside the fewest the IAM API allows, and the round-trip waves on the
critical path (50 ms added per call so that calls made together overlap); in process, against
moto provisioned from the real templates. The app's counts include the answer (the user as
described after the change: groups, keys, console, MFA, the roles the groups allow)."""

from __future__ import annotations

import json
import os
import time

from bench.aws_timeline import depths, fresh_timeline
from devstack.local import PROJECT, REGION

# The IAM calls no implementation can avoid, for a user in one group with one access key, a
# console login and (offboard) one of every dependent object; lists included where the ids are
# not known beforehand. Session revocation: one read and one write per role and child account.
MINIMUM = {
    "onboard": ("CreateUser, CreateLoginProfile, AttachUserPolicy, AddUserToGroup", 4),
    "move": ("ListGroupsForUser, AddUserToGroup, RemoveUserFromGroup", 3),
    "suspend": (
        "ListGroupsForUser, ListAccessKeys, RemoveUserFromGroup, UpdateAccessKey, "
        "DeleteLoginProfile, AssumeRole + 2 x (GetRolePolicy, PutRolePolicy)",
        10,
    ),
    "restore": ("AddUserToGroup, UpdateAccessKey, CreateLoginProfile", 3),
    "offboard": ("10 lists, 15 removals, DeleteUser, AssumeRole + 4 role policy calls", 31),
}
# The targets: IAM/STS calls at most the minimum + 2; waves end to end at most 5 (offboarding's
# own rows are in bench/offboarding.py).
EXTRA_CALLS, MAX_WAVES = 2, 5


def run() -> list[tuple[str, str, str]]:
    from moto import mock_aws

    from devstack import moto_ext
    from devstack.local import Provisioner
    from tests.support.iam_objects import give_every_dependent

    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    os.environ.update(
        {
            **config["environment_variables"],
            **config["stages"]["dev"]["environment_variables"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    moto_ext.apply()
    timeline = fresh_timeline()
    rows = []
    with mock_aws():
        Provisioner(endpoint_url=None).run()
        from chalicelib import bootstrap
        from chalicelib.kernel.commands import TicketRequest
        from chalicelib.lifecycle.commands import MoveRequest, OnboardRequest, SuspendRequest

        bootstrap.reset()
        ops = bootstrap.services().operations
        requests = {
            "onboard": OnboardRequest(
                username="pete", groups=["ChildDeveloperGroup"], ticket="T-1", requested_by="bench"
            ),
            "move": MoveRequest(groups=["BreakGlassGroup"], ticket="T-2", requested_by="bench"),
            "suspend": SuspendRequest(ticket="T-3", requested_by="bench"),
            "restore": TicketRequest(ticket="T-4", requested_by="bench"),
            "offboard": TicketRequest(ticket="T-5", requested_by="bench"),
        }
        import boto3

        iam = boto3.client("iam")
        # A warm container, as most invocations find it: its clients made, its child-account
        # credentials and each role's MaxSessionDuration already read (by another person's
        # changes). The cold one costs AssumeRole and GetRole more, and one wave.
        for name, request in requests.items():
            warm = request.model_copy(update={"ticket": f"warm-{request.ticket}"})
            if name == "onboard":
                warm = warm.model_copy(update={"username": "warmup"})
            ops.change(name, "warmup", warm)
        for name, request in requests.items():
            if name == "suspend":
                iam.create_access_key(UserName="pete")
            if name == "offboard":
                give_every_dependent(iam, "pete", keys=1)
            # A person's changes come seconds apart, not back to back: a change that starts
            # within 0.1 s of the last one's end reads again under its lease (chalicelib/
            # kernel/claim.py, Claim), which is not what one change costs.
            time.sleep(0.2)
            timeline.reset()
            timeline.latency = 0.05  # as the offboarding rows: calls made together overlap
            ops.change(name, "pete", request)
            timeline.latency = 0
            calls = list(timeline.calls)
            if os.environ.get("BENCH_TRACE"):
                for call, depth in sorted(
                    zip(calls, depths(calls), strict=True), key=lambda p: p[1]
                ):
                    print(f"  {name} wave {depth}: {call.operation}")
            iam_calls = sum(1 for c in calls if c.operation not in _BOOKKEEPING)
            waves = max(depths(calls))
            what, minimum = MINIMUM[name]
            met = iam_calls <= minimum + EXTRA_CALLS and (name == "offboard" or waves <= MAX_WAVES)
            wave_target = "" if name == "offboard" else f", waves at most {MAX_WAVES}"
            rows.append(
                (
                    f"AWS calls: {name}",
                    f"{len(calls)} ({iam_calls} IAM/STS + {len(calls) - iam_calls} "
                    f"DynamoDB/EventBridge), {waves} waves",
                    f"IAM minimum {minimum} ({what}); target: IAM/STS at most "
                    f"{minimum + EXTRA_CALLS}{wave_target}: {'met' if met else 'not met'}",
                )
            )
    return rows


_BOOKKEEPING = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "PutEvents",
    "GetSecretValue",
}


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
