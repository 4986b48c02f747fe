"""AWS calls per operation beside the fewest the IAM API allows, and the round-trip waves on the
critical path (20 ms added per call so that calls made together overlap); in process, against
moto provisioned from the real templates. The app's counts include the answer (the user as
described after the change: groups, keys, console, MFA, the roles the groups allow)."""

from __future__ import annotations

import json
import os

from bench.aws_timeline import Timeline, depths
from tests.stack.local import PROJECT, REGION

# The IAM calls no implementation can avoid, for a user in one group with one access key, a
# console login and (offboard) one of every dependent object; lists included where the ids are
# not known beforehand. Session revocation: one read and one write per role and child account.
MINIMUM = {
    "onboard": ("CreateUser, CreateLoginProfile, AttachUserPolicy, AddUserToGroup", 4),
    "suspend": ("ListGroupsForUser, ListAccessKeys, RemoveUserFromGroup, UpdateAccessKey, "
                "DeleteLoginProfile, AssumeRole + 2 x (GetRolePolicy, PutRolePolicy)", 10),
    "restore": ("AddUserToGroup, UpdateAccessKey, CreateLoginProfile", 3),
    "offboard": ("10 lists, 15 removals, DeleteUser, AssumeRole + 4 role policy calls", 31),
}


def run() -> list[tuple[str, str, str]]:
    from moto import mock_aws

    from tests.iam_objects import give_every_dependent
    from tests.stack import moto_ext
    from tests.stack.local import Provisioner

    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    os.environ.update({**config["environment_variables"], **config["stages"]["dev"]["environment_variables"],
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "LOG_LEVEL": "WARNING"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    moto_ext.apply()
    timeline = Timeline()
    rows = []
    with mock_aws():
        Provisioner(endpoint_url=None).run()
        from chalicelib import bootstrap
        from chalicelib.schemas import OnboardRequest, SuspendRequest, TicketRequest

        bootstrap.reset()
        services = bootstrap.services()
        life, ops = services.lifecycle, services.operations
        onboard = OnboardRequest(username="pete", groups=["ChildDeveloperGroup"], ticket="T-1",
                                 requested_by="bench")
        steps = [
            ("onboard", lambda: ops.run("onboard", "pete", onboard, lambda: life.onboard(onboard))),
            ("suspend", lambda: ops.run("suspend", "pete", SuspendRequest(ticket="T-2", requested_by="b"),
                                        lambda: life.suspend("pete", SuspendRequest(ticket="T-2", requested_by="b")))),
            ("restore", lambda: ops.run("restore", "pete", TicketRequest(ticket="T-3", requested_by="b"),
                                        lambda: life.restore("pete", TicketRequest(ticket="T-3", requested_by="b")))),
            ("offboard", lambda: ops.run("offboard", "pete", TicketRequest(ticket="T-4", requested_by="b"),
                                         lambda: life.offboard("pete", TicketRequest(ticket="T-4", requested_by="b")))),
        ]
        import boto3
        iam = boto3.client("iam")
        for name, step in steps:
            if name == "suspend":
                iam.create_access_key(UserName="pete")
            if name == "offboard":
                give_every_dependent(iam, "pete", keys=1)
            timeline.reset()
            timeline.latency = 0.02  # so that calls made together overlap and waves show
            step()
            timeline.latency = 0
            calls = list(timeline.calls)
            by_service: dict[str, int] = {}
            iam_calls = sum(1 for c in calls if c.operation not in _BOOKKEEPING)
            for c in calls:
                kind = "bookkeeping" if c.operation in _BOOKKEEPING else "IAM/STS"
                by_service[kind] = by_service.get(kind, 0) + 1
            what, minimum = MINIMUM[name]
            rows.append((f"AWS calls: {name}",
                         f"{len(calls)} ({iam_calls} IAM/STS + {len(calls) - iam_calls} DynamoDB/EventBridge), "
                         f"{max(depths(calls))} waves",
                         f"IAM minimum {minimum} ({what})"))
    return rows


_BOOKKEEPING = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "PutEvents", "GetSecretValue"}


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
