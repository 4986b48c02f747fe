"""moto with the per-request work done once (devstack/moto_per_request.py) answers as before.

A DynamoDB query is handed the table's items unsorted; it must still answer as DynamoDB does:
"Query results are always sorted by the sort key value" (Amazon DynamoDB Developer Guide,
"Query operations in DynamoDB"), forward or, with ``ScanIndexForward=false``, backward, on the
table and on a global secondary index, page after page.
"""

from __future__ import annotations

import random

import boto3
import pytest
from moto import backends, mock_aws

from devstack import moto_per_request

PEOPLE, EVENTS = 12, 15


@pytest.fixture
def table():
    moto_per_request.apply()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="audit",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "ticket", "at")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_ticket",
                    "KeySchema": [
                        {"AttributeName": "ticket", "KeyType": "HASH"},
                        {"AttributeName": "at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        rows = [
            {
                "pk": {"S": f"user-{person:02}"},
                "sk": {"S": f"event-{event:02}"},
                "ticket": {"S": f"T-{(person * EVENTS + event) % 5}"},
                "at": {"S": f"{person * EVENTS + event:04}"},
            }
            for person in range(PEOPLE)
            for event in range(EVENTS)
        ]
        random.Random(7).shuffle(rows)  # stored in no order
        for row in rows:
            client.put_item(TableName="audit", Item=row)
        yield client


def pages(client, limit: int, **query) -> list[str]:
    """Every item the query answers, page by page ``limit`` at a time, as pk/sk."""
    seen, start = [], {}
    while True:
        answer = client.query(TableName="audit", Limit=limit, **query, **start)
        seen += [f"{item['pk']['S']}/{item['sk']['S']}" for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return seen
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


@pytest.mark.parametrize("forward", [True, False])
def test_a_partition_is_answered_in_sort_key_order_page_after_page(table, forward):
    query = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "user-03"}},
        "ScanIndexForward": forward,
    }
    expected = [f"user-03/event-{event:02}" for event in range(EVENTS)]
    assert pages(table, 4, **query) == (expected if forward else expected[::-1])
    assert pages(table, 100, **query) == pages(table, 4, **query)


@pytest.mark.parametrize("forward", [True, False])
def test_an_index_is_answered_in_its_sort_key_order_page_after_page(table, forward):
    query = {
        "IndexName": "by_ticket",
        "KeyConditionExpression": "ticket = :t AND #at > :after",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": {":t": {"S": "T-2"}, ":after": {"S": "0040"}},
        "ScanIndexForward": forward,
    }
    numbers = [n for n in range(PEOPLE * EVENTS) if n % 5 == 2 and n > 40]
    expected = [f"user-{n // EVENTS:02}/event-{n % EVENTS:02}" for n in numbers]
    assert pages(table, 3, **query) == (expected if forward else expected[::-1])


def test_a_scan_still_goes_through_the_table_in_key_order(table):
    """Only a query is handed unsorted items: a scan's pages rest on moto's order."""
    keys, start = [], {}
    while True:
        answer = table.scan(TableName="audit", Limit=7, **start)
        keys += [(item["pk"]["S"], item["sk"]["S"]) for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            break
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
    assert keys == sorted(keys) and len(keys) == PEOPLE * EVENTS


def test_the_server_finds_every_service_moto_has():
    moto_per_request.apply()
    listed = list(backends.list_of_moto_modules())
    assert {"iam", "sts", "dynamodb", "sqs", "secretsmanager"} <= set(listed)
    assert listed == sorted(listed) and list(backends.list_of_moto_modules()) == listed
