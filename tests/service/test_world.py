"""The provisioned world the ``aws`` fixture restores for each test (tests/support/world.py) is
the world a provisioning of its own gives, and nothing one test does reaches the next."""

from __future__ import annotations

import copy
import json
import re

import boto3
from moto import mock_aws

from devstack import snapshot
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
                (p["Arn"], p["DefaultVersionId"], p["AttachmentCount"])
                for p in iam.list_policies(Scope="All", OnlyAttached=True)["Policies"]
                + iam.list_policies(Scope="Local")["Policies"]
            ),
            "versions": sorted(
                (p["Arn"], v["VersionId"], json.dumps(v["Document"], sort_keys=True))
                for p in details["Policies"]
                for v in p["PolicyVersionList"]
            ),
            "tags": sorted(
                (r["Arn"], json.dumps(r.get("Tags", []), sort_keys=True))
                for r in details["RoleDetailList"] + details["UserDetailList"]
            ),
            "attached": sorted(
                (entry["Arn"], json.dumps(entry.get("AttachedManagedPolicies"), sort_keys=True))
                for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList")
                for entry in details[kind]
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
            json.dumps({k: v for k, v in a.items() if not k.endswith("Timestamp")}, sort_keys=True)
            for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
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


def test_a_restore_copies_what_deepcopy_copies_and_shares_only_what_it_shares(
    provisioned, monkeypatch
):
    """The restore's copier gives ``copy.deepcopy``'s copy of a provisioned world: the same
    objects with the same values, shared where deepcopy shares them, and nothing else of the
    world but the values nothing changes (``snapshot._kept()``: times, CloudWatch's metric
    queries). The world is provisioned here: the kept one is itself a copy by the copier."""
    for kind, make in snapshot._LOCKS.items():  # as copy_world has deepcopy do them
        monkeypatch.setitem(copy._deepcopy_dispatch, kind, lambda _v, _m, make=make: make())
    with mock_aws():
        Provisioner(endpoint_url=None).run()
        registries = list(snapshot._registries())
        world = [dict(registry) for registry in registries]
        theirs = copy.deepcopy(world, {id(registry): registry for registry in registries})
        ours = snapshot.copy_world(world, registries)
        assert _copied_alike(world, ours, theirs) > 1000  # objects compared: the whole world


def test_a_restore_undoes_what_a_test_did_to_policies_roles_users_items_and_alarms(
    aws, provisioned
):
    """What a restore copies its own way or shares, changed through the API as the app and the
    tests change it (attachments and their counts, tags, policy versions, keys, items, an
    alarm's state and query), is as the provisioning left it after the next restore."""
    fresh = describe(aws)
    iam = boto3.client("iam")
    local = iam.list_policies(Scope="Local")["Policies"]
    attached = next(p for p in local if p["AttachmentCount"])
    unattached = next(p for p in local if not p["AttachmentCount"])
    role = iam.list_roles()["Roles"][0]["RoleName"]
    group = iam.list_groups()["Groups"][0]["GroupName"]
    iam.attach_role_policy(RoleName=role, PolicyArn=unattached["Arn"])
    iam.attach_group_policy(GroupName=group, PolicyArn=unattached["Arn"])
    for entity in iam.list_entities_for_policy(PolicyArn=attached["Arn"])["PolicyGroups"]:
        iam.detach_group_policy(GroupName=entity["GroupName"], PolicyArn=attached["Arn"])
    iam.tag_role(RoleName=role, Tags=[{"Key": "changed", "Value": "yes"}])
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    version = iam.create_policy_version(
        PolicyArn=attached["Arn"], PolicyDocument=json.dumps(document), SetAsDefault=True
    )
    assert version["PolicyVersion"]["IsDefaultVersion"]
    user = iam.list_users()["Users"][0]["UserName"]
    access_keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    iam.tag_user(UserName=user, Tags=[{"Key": "changed", "Value": "yes"}])
    iam.create_access_key(UserName=user)
    dynamodb = boto3.client("dynamodb")
    for table in fresh["root"]["tables"]:  # none holds an item when provisioned
        keys = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        item = {k["AttributeName"]: {"S": "x"} for k in keys}
        dynamodb.put_item(TableName=table, Item=item)
        dynamodb.update_item(
            TableName=table,
            Key=item,
            UpdateExpression="SET changed = :yes",
            ExpressionAttributeValues={":yes": {"S": "yes"}},
        )
    cloudwatch = boto3.client("cloudwatch")
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    queried = next(a for a in alarms if a.get("Metrics"))
    cloudwatch.set_alarm_state(
        AlarmName=queried["AlarmName"], StateValue="ALARM", StateReason="changed"
    )
    again = {k: v for k, v in queried.items() if k in _ALARM_FIELDS}
    query = again["Metrics"][1]["MetricStat"]
    query["Period"], query["Metric"]["Dimensions"] = 60, [{"Name": "changed", "Value": "yes"}]
    cloudwatch.put_metric_alarm(**again)  # the same alarm, another query
    changed = describe(aws)
    for part in ("policies", "versions", "tags", "attached"):
        assert changed[ROOT_ACCOUNT][part] != fresh[ROOT_ACCOUNT][part], part
    for part in ("tables", "alarms"):
        assert changed["root"][part] != fresh["root"][part], part

    with provisioned.fresh() as facts:  # the next test's world
        assert describe(facts) == fresh
        assert boto3.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"] == (
            access_keys
        )


_ALARM_FIELDS = {
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
}


# Writes of the same names to objects of other classes, each read in moto's source.
_OTHERS = {"s.unit"}  # GetMetricStatistics' Statistics as it fills them


def test_moto_writes_the_alarm_parts_a_restore_shares_only_as_it_makes_them():
    """A restored world holds the snapshot's own metric queries of CloudWatch's alarms
    (devstack/snapshot.py): sound while moto sets their attributes in an ``__init__`` alone and
    changes no list of dimensions in place. Read in moto's source, this fails when that changes."""
    import ast
    import inspect
    import pkgutil

    import moto.cloudwatch

    names = {  # the attributes of the shared classes' objects
        node.attr
        for kind in snapshot.shared_moto_values()
        for node in ast.walk(ast.parse(inspect.getsource(kind)))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
    }
    assert {"metric_stat", "metric", "dimensions", "name", "value", "period"} <= names
    written = []
    for module in pkgutil.iter_modules(moto.cloudwatch.__path__):
        path = f"{moto.cloudwatch.__path__[0]}/{module.name}.py"
        tree = ast.parse(open(path).read())
        made = {  # an object setting its own attributes as it is made
            id(node)
            for init in ast.walk(tree)
            if isinstance(init, ast.FunctionDef) and init.name == "__init__"
            for node in ast.walk(init)
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "self"
        }
        for node in ast.walk(tree):
            store = (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and node.attr in names
                and id(node) not in made
                and ast.unparse(node) not in _OTHERS
            )
            changed = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "dimensions"
                and node.func.attr
                in ("append", "extend", "insert", "pop", "remove", "sort", "clear", "reverse")
            )
            if store or changed:
                written.append(f"{module.name}.py:{node.lineno} {ast.unparse(node)}")
    assert not written, written


def _copied_alike(original, ours, theirs) -> int:
    """Walks the three graphs side by side; the number of objects compared."""
    seen: dict[int, tuple] = {}
    pending = [(original, ours, theirs)]
    while pending:
        kept, a, b = pending.pop()
        assert type(a) is type(b) is type(kept), (type(kept), type(a), type(b))
        if type(kept) in snapshot._ATOMIC:
            assert a is kept and b is kept
            continue
        if type(kept) in snapshot._kept():  # values nothing changes: shared, where deepcopy copies
            assert a is kept and b is not kept and type(b) is type(kept)
            continue
        if id(kept) in seen:  # shared in the original: shared alike in both copies
            assert seen[id(kept)][0] is a and seen[id(kept)][1] is b, type(kept)
            continue
        seen[id(kept)] = (a, b)
        if b is kept:  # what deepcopy shares (registries, patterns, ...), and only that
            assert a is kept, type(kept)
            continue
        assert a is not kept, type(kept)
        if isinstance(kept, dict):
            pending.extend(zip(kept.keys(), a.keys(), b.keys(), strict=True))
            pending.extend(zip(kept.values(), a.values(), b.values(), strict=True))
        elif isinstance(kept, (list, tuple)):
            pending.extend(zip(kept, a, b, strict=True))
        elif isinstance(kept, (set, frozenset)):
            assert a == b == kept
        elif type(kept) in snapshot._LOCKS:
            continue
        elif not hasattr(kept, "__dict__") and type(kept).__eq__ is not object.__eq__:
            assert a == b == kept, type(kept)  # datetimes, UUIDs, ...
        if hasattr(kept, "__dict__"):
            assert list(vars(a)) == list(vars(b)) == list(vars(kept)), type(kept)
            pending.extend(
                zip(vars(kept).values(), vars(a).values(), vars(b).values(), strict=True)
            )
    return len(seen)


def _without_ids(seen: dict) -> dict:
    """Two provisionings differ only in the random parts: the names CloudFormation makes up,
    ids, keys, tokens and secrets."""
    root = dict(seen["root"])
    root["secrets"] = sorted(root["secrets"])
    root["tables"] = {name: len(items) for name, items in root["tables"].items()}
    named = json.dumps({**seen, "root": root}, sort_keys=True, default=str)
    return json.loads(re.sub(r"-[A-Z0-9]{12,13}\b", "-<made up>", named))
