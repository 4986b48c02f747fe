"""DynamoDB's conditional writes are atomic on the local stack, as on AWS.

AWS: "if two writes with the same condition race, only one succeeds" (Amazon DynamoDB Developer
Guide, "Optimistic locking with version number"). The service's version checks (an approval, a
lease, a once-only record) rest on it.
"""

from __future__ import annotations

import functools
import sys
import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_dynamodb_atomic

ROUNDS, RACERS = 20, 8


@pytest.fixture
def table():
    moto_dynamodb_atomic.apply()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture(autouse=True)
def interleaved():
    """Threads switched every microsecond, not every 5 ms: without the lock, about half the
    rounds below see two writers win."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def race(write) -> list[bool]:
    """``RACERS`` threads released together, each making ``write(n)``; who succeeded."""
    start = threading.Barrier(RACERS)
    won = [False] * RACERS

    def run(n: int) -> None:
        start.wait()
        try:
            write(n)
            won[n] = True
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"

    threads = [threading.Thread(target=run, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def approve(table, key: dict, n: int) -> None:
    table.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET version = :next, decided_by = :who",
        ConditionExpression="version = :seen",
        ExpressionAttributeValues={
            ":seen": {"N": "0"},
            ":next": {"N": "1"},
            ":who": {"S": f"approver-{n}"},
        },
    )


def claim(table, key: dict, n: int) -> None:
    table.put_item(
        TableName="t",
        Item={**key, "holder": {"S": str(n)}},
        ConditionExpression="attribute_not_exists(pk)",
    )


def replace(table, key: dict, n: int) -> None:
    """The service's own optimistic write: the whole item put if its version is the one read."""
    table.put_item(
        TableName="t",
        Item={**key, "version": {"N": "1"}, "by": {"S": str(n)}},
        ConditionExpression="#v = :v",
        ExpressionAttributeNames={"#v": "version"},
        ExpressionAttributeValues={":v": {"N": "0"}},
    )


def test_of_updates_expecting_one_version_exactly_one_is_written(table):
    for round_ in range(ROUNDS):
        key = {"pk": {"S": f"request-{round_}"}}
        table.put_item(TableName="t", Item={**key, "version": {"N": "0"}})
        assert sum(race(functools.partial(approve, table, key))) == 1, f"round {round_}"


def test_of_puts_expecting_no_item_exactly_one_is_written(table):
    for round_ in range(ROUNDS):
        key = {"pk": {"S": f"lease-{round_}"}}
        won = race(functools.partial(claim, table, key))
        assert sum(won) == 1, f"round {round_}"
        item = table.get_item(TableName="t", Key=key)["Item"]
        assert item["holder"] == {"S": str(won.index(True))}


def test_of_puts_expecting_one_version_exactly_one_is_written(table):
    for round_ in range(ROUNDS):
        key = {"pk": {"S": f"record-{round_}"}}
        table.put_item(TableName="t", Item={**key, "version": {"N": "0"}})
        assert sum(race(functools.partial(replace, table, key))) == 1, f"round {round_}"


def test_apply_is_idempotent():
    from moto.dynamodb.responses import DynamoHandler

    moto_dynamodb_atomic.apply()
    wrapped = DynamoHandler.update_item
    moto_dynamodb_atomic.apply()
    assert DynamoHandler.update_item is wrapped
