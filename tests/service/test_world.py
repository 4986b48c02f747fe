"""The provisioned world the ``aws`` fixture restores for each test (tests/support/world.py) is
the world a provisioning of its own gives, and nothing one test does reaches the next."""

from __future__ import annotations

import json
import re

import boto3
from moto import mock_aws

from devstack.local import APP_ROLE, ROOT_ACCOUNT, SETUP_CREDENTIALS, Provisioner
from tests.support.world import World


def describe(facts) -> dict:
    """What a test can see of the world: each account's IAM, and the root's stacks, tables
    (with their items), secrets, queues, topics and alarms."""
    seen: dict = {}
    for account in [ROOT_ACCOUNT, *facts.child_account_ids]:
        credentials = (
            SETUP_CREDENTIALS
            if account == ROOT_ACCOUNT
            else Provisioner(None).child_credentials(SETUP_CREDENTIALS, account)
        )
        iam = boto3.client("iam", **credentials)
        details = iam.get_account_authorization_details()
        seen[account] = {
            kind: sorted(
                (entry.get("Arn"), entry.get("UserPolicyList") or entry.get("RolePolicyList"))
                for entry in details[kind]
            )
            for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList")
        } | {
            "policies": sorted(
                (p["Arn"], p["DefaultVersionId"])
                for p in iam.list_policies(Scope="Local")["Policies"]
            ),
        }
    dynamodb = boto3.client("dynamodb")
    secrets = boto3.client("secretsmanager")
    seen["root"] = {
        "stacks": sorted(
            (s["StackName"], s["StackStatus"])
            for s in boto3.client("cloudformation").describe_stacks()["Stacks"]
        ),
        "tables": {
            name: sorted(map(repr, dynamodb.scan(TableName=name)["Items"]))
            for name in dynamodb.list_tables()["TableNames"]
        },
        "secrets": {
            s["Name"]: secrets.get_secret_value(SecretId=s["Name"])["SecretString"]
            for s in secrets.list_secrets()["SecretList"]
        },
        "queues": sorted(boto3.client("sqs").list_queues().get("QueueUrls", [])),
        "topics": sorted(t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]),
        "alarms": sorted(
            a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
        ),
    }
    return seen


def test_the_restored_world_is_a_fresh_provisioning_and_forgets_what_a_test_did(aws, provisioned):
    restored = describe(aws)
    assert restored["root"]["tables"] and restored["root"]["secrets"], restored["root"]
    assert restored == describe(provisioned.facts)  # the world in use is the kept one

    # what a test does: a user, an item, a secret, a queue
    boto3.client("iam").create_user(UserName="left-behind")
    table = next(iter(restored["root"]["tables"]))
    dynamodb = boto3.client("dynamodb")
    keys = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    dynamodb.put_item(TableName=table, Item={k["AttributeName"]: {"S": "x"} for k in keys})
    boto3.client("secretsmanager").create_secret(Name="left-behind", SecretString="x")
    boto3.client("sqs").create_queue(QueueName="left-behind")
    assert describe(aws) != restored

    with provisioned.fresh() as facts:  # the next test's world
        assert facts == aws and facts is not aws
        assert describe(facts) == restored


def test_the_restored_world_is_what_a_provisioning_of_its_own_gives(provisioned):
    with mock_aws():
        own = describe(Provisioner(endpoint_url=None).run())
    with provisioned.fresh() as facts:
        restored = describe(facts)
    assert _without_ids(restored) == _without_ids(own)


def test_a_world_put_back_keeps_the_sessions_issued_since_when_asked(aws):
    from moto.iam.models import iam_backends

    def known(key: str) -> bool:
        return key in iam_backends[ROOT_ACCOUNT]["aws"].access_keys

    before = World(aws)
    sts = boto3.client("sts", **SETUP_CREDENTIALS)
    role = f"arn:aws:iam::{ROOT_ACCOUNT}:role/{APP_ROLE}"
    issued = sts.assume_role(RoleArn=role, RoleSessionName="later")["Credentials"]
    boto3.client("iam").create_user(UserName="gone")
    assert known(issued["AccessKeyId"])

    before.restore(keep_sessions=True)
    assert known(issued["AccessKeyId"])
    assert "gone" not in [u["UserName"] for u in boto3.client("iam").list_users()["Users"]]

    before.restore()  # the world as it was: the session issued since unknown
    assert not known(issued["AccessKeyId"])


def _without_ids(seen: dict) -> dict:
    """Two provisionings differ only in the random parts: the names CloudFormation makes up,
    ids, keys, tokens and secrets."""
    root = dict(seen["root"])
    root["secrets"] = sorted(root["secrets"])
    root["tables"] = {name: len(items) for name, items in root["tables"].items()}
    named = json.dumps({**seen, "root": root}, sort_keys=True, default=str)
    return json.loads(re.sub(r"-[A-Z0-9]{12,13}\b", "-<made up>", named))
