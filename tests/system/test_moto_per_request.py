"""moto with the per-request work done once (devstack/moto_per_request.py) answers as before.

A DynamoDB query is handed the table's items unsorted; it must still answer as DynamoDB does:
"Query results are always sorted by the sort key value" (Amazon DynamoDB Developer Guide,
"Query operations in DynamoDB"), forward or, with ``ScanIndexForward=false``, backward, on the
table and on a global secondary index, page after page.

The names a plain dict's members go by are kept: every answer of the services the app calls is
serialized both ways and must be the same byte for byte, and the names asked of every member of
their models, under other structures and keys too, must be those moto gives; a dict's member is
then looked up directly, which must answer as moto's picker does whatever the dict's naming,
and leave alone a response whose transformers change values on their path.

An expression string is parsed once: DynamoDB requests with condition, update, key condition,
filter and projection expressions must be answered byte for byte as moto answers them, and
leave the same items, when the same string comes again with other names and values (each
request sees its own) and when moto rejects it (the same error, every time).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import backends, mock_aws
from moto.core import serialize
from moto.core.model import Shape
from moto.core.utils import get_service_model
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing import ast_nodes, validators
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.iam.responses import IamResponse

from devstack import moto_ext, moto_per_request

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


# -- 4. The names a dict's members go by, kept: every answer byte for byte as moto gives it --

SERVICES = ("dynamodb", "iam", "sts", "sqs", "cloudformation")
PICKERS = (serialize.AttributePicker, serialize.XFormedAttributePicker)


@contextlib.contextmanager
def as_moto_ships() -> Iterator[None]:
    """moto's own ``get_possible_keys`` and ``get_value``, nothing kept, for the block."""
    methods = [(picker, "get_possible_keys") for picker in PICKERS]
    methods.append((serialize.ResponseSerializer, "get_value"))
    kept = {(owner, name): vars(owner)[name] for owner, name in methods}
    for (owner, name), method in kept.items():
        setattr(owner, name, method.__wrapped__)
    try:
        yield
    finally:
        for (owner, name), method in kept.items():
            setattr(owner, name, method)


class Answers(list):
    def __repr__(self) -> str:  # shown for a failing example, whatever its length
        return f"<{len(self)} answers>"


@pytest.fixture
def answers(monkeypatch) -> Iterator[list[tuple[str, Any, Any]]]:
    """Every answer moto serializes, serialized as moto ships it and again with names kept."""
    moto_ext.apply()
    serialized = Answers()
    once = serialize.ResponseSerializer.serialize

    def twice(self, result):
        with as_moto_ships():
            shipped = once(self, result)
        kept = once(self, result)
        # As serialized: moto adds its headers to the answer it is given afterwards.
        serialized.append((self.operation_name, copy.deepcopy(shipped), copy.deepcopy(kept)))
        return kept

    monkeypatch.setattr(serialize.ResponseSerializer, "serialize", twice)
    moto_per_request._names.clear()
    with mock_aws():
        yield serialized


def assert_answered_alike(answers, *operations: str) -> None:
    assert {operation for operation, _, _ in answers} >= set(operations)
    for operation, shipped, kept in answers:
        assert kept == shipped, operation
    assert moto_per_request._names  # the answers were given with names kept


def assert_items_answered_alike(answers, *operations: str) -> None:
    assert_answered_alike(answers, *operations)
    shapes = {
        part.name for key in moto_per_request._names for part in key if isinstance(part, Shape)
    }
    assert "AttributeValue" in shapes


def members_of_the_apps_services() -> list[tuple[Any, str, Any]]:
    found = []
    for service in SERVICES:
        model = get_service_model(service)
        for name in model.shape_names:
            shape = model.shape_for(name)
            if shape.type_name == "structure":
                found += [(shape, key, member) for key, member in shape.members.items()]
    return found


class Role:
    """Named as IAM's Role structure, with names of its own: its members go by other names."""

    class Meta:
        serialization_aliases = {"Arn": "role_arn", "Tags": "labels"}


def names_of(picker, members, obj) -> list[tuple[str, ...]]:
    names = []
    for parent, key, member in members:
        member.parent = parent  # as the serializer sets it before each member
        context = serialize.AttributePickerContext(obj=obj, key=key, shape=member)
        names.append(tuple(picker.get_possible_keys(context)))
    return names


def test_every_member_of_the_apps_services_goes_by_the_names_moto_gives_it():
    moto_ext.apply()
    members = members_of_the_apps_services()
    structures = [parent for parent, _, _ in members]
    # The same member in another structure, and a shape of the member's name resolved on its
    # own (without its reference's serialized name) in the member's structure.
    elsewhere = [(structures[i - 1], key, member) for i, (_, key, member) in enumerate(members)]
    resolved_alone = [
        (parent, key, parent._shape_resolver.get_shape_by_name(member.name))
        for parent, key, member in members
    ]
    renamed = [(parent, key.lower(), member) for parent, key, member in members]
    pickers = (
        serialize.AttributePicker(),
        serialize.XFormedAttributePicker(),
        serialize.XFormedAttributePicker(alias_providers=[serialize.NoAlias]),
    )
    for picker in pickers:
        for corpus, obj in itertools.product(
            (members, elsewhere, resolved_alone, renamed), ({}, Role())
        ):
            with as_moto_ships():
                shipped = names_of(picker, corpus, obj)
            assert names_of(picker, corpus, obj) == shipped  # kept on the way
            assert names_of(picker, corpus, obj) == shipped  # answered from what was kept


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)
STACK = json.dumps(
    {
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}},
    }
)
EVERY_TYPE = {
    "pk": {"S": "USER#pat"},
    "sk": {"S": "RECORD"},
    "s": {"S": "pat@example.com"},
    "empty_s": {"S": ""},
    "n": {"N": "12"},
    "decimal": {"N": "-0.125"},
    "b": {"B": b"\x00\xffbytes"},
    "empty_b": {"B": b""},
    "ss": {"SS": ["a", "b", "c"]},
    "ns": {"NS": ["1", "2.5", "-3"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "null": {"NULL": True},
    "true": {"BOOL": True},
    "false": {"BOOL": False},
    "empty_m": {"M": {}},
    "empty_l": {"L": []},
    "m": {
        "M": {
            "deep": {"M": {"l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"ss": {"SS": ["y"]}}}]}}},
            "n": {"N": "0"},
        }
    },
    "l": {"L": [{"L": [{"NULL": True}, {"BOOL": False}]}, {"B": b"\x07"}, {"BS": [b"\x08"]}]},
}


def dynamodb_requests(client, table: str, item: dict) -> None:
    """GetItem, Query, Scan and UpdateItem answering the item's every attribute."""
    key = {"pk": item["pk"], "sk": item["sk"]}
    client.put_item(TableName=table, Item=item)
    assert client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["sk"] == key["sk"]
    client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": item["pk"]},
    )
    client.scan(TableName=table)
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #touched = :touched",
        ExpressionAttributeNames={"#touched": "touched"},
        ExpressionAttributeValues={":touched": {"L": [{"N": "1"}, {"M": {"s": {"S": "v"}}}]}},
        ReturnValues="ALL_NEW",
    )


TABLES = itertools.count()


def new_table(table: str | None = None) -> tuple[Any, str]:
    """A table keyed by (pk, sk), named ``table`` or anew."""
    client, table = boto3.client("dynamodb", region_name="us-east-1"), table or f"t{next(TABLES)}"
    client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client, table


def test_dynamodb_answers_every_attribute_type_byte_for_byte_as_before(answers):
    dynamodb_requests(*new_table(), EVERY_TYPE)
    assert_items_answered_alike(answers, "GetItem", "Query", "Scan", "UpdateItem")


def test_the_apps_query_and_json_services_answer_byte_for_byte_as_before(answers):
    """IAM, STS and CloudFormation (query protocol, XML) and SQS (JSON).

    Secrets Manager is left out: moto answers it with its own ``json.dumps``, not the serializer.
    """
    iam = boto3.client("iam", region_name="us-east-1")
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "ticket", "Value": "T-1"}]
    iam.create_user(UserName="pat", Tags=tags)
    iam.create_user(UserName="sam", Path="/people/")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="pat")
    arn = iam.create_policy(PolicyName="read", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="pat", PolicyArn=arn)
    role = iam.create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST, Tags=tags)["Role"]
    iam.get_user(UserName="pat")
    iam.list_users()
    iam.get_group(GroupName="readers")
    iam.list_attached_user_policies(UserName="pat")
    iam.get_role(RoleName="ops")
    boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=role["Arn"], RoleSessionName="pat", Tags=tags
    )

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"event": "offboarded"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "offboard"},
            "try": {"DataType": "Number", "StringValue": "2"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    received = sqs.receive_message(
        QueueUrl=queue, AttributeNames=["All"], MessageAttributeNames=["All"]
    )
    assert received["Messages"][0]["MessageAttributes"]["kind"]["StringValue"] == "offboard"

    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(
        StackName="child",
        TemplateBody=STACK,
        Parameters=[{"ParameterKey": "Name", "ParameterValue": "events-dlq"}],
        Tags=tags,
    )
    cloudformation.describe_stacks(StackName="child")

    assert_answered_alike(
        answers,
        "GetUser",
        "ListUsers",
        "GetGroup",
        "ListAttachedUserPolicies",
        "GetRole",
        "AssumeRole",
        "ReceiveMessage",
        "DescribeStacks",
    )


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
NAMES = st.text(
    "abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6
)
NUMBERS = st.integers(-(10**9), 10**9).map(str) | st.sampled_from(["0.5", "-1.25", "1E+3"])
SCALARS = st.one_of(
    TEXT.map(lambda s: {"S": s}),
    NUMBERS.map(lambda n: {"N": n}),
    st.binary(max_size=6).map(lambda b: {"B": b}),
    st.sets(TEXT, min_size=1, max_size=3).map(lambda s: {"SS": sorted(s)}),
    st.sets(st.integers(-99, 99), min_size=1, max_size=3).map(
        lambda s: {"NS": [str(n) for n in sorted(s)]}
    ),
    st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3).map(
        lambda s: {"BS": sorted(s)}
    ),
    st.just({"NULL": True}),
    st.booleans().map(lambda b: {"BOOL": b}),
)
ATTRIBUTE_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda values: {"L": values})
        | st.dictionaries(NAMES, inner, max_size=3).map(lambda values: {"M": values})
    ),
    max_leaves=8,
)


@given(items=st.lists(st.dictionaries(NAMES, ATTRIBUTE_VALUES, max_size=5), min_size=1, max_size=3))
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_dynamodb_item_is_answered_byte_for_byte_as_before(answers, items):
    client, table = new_table()
    for n, attributes in enumerate(items):
        item = {**attributes, "pk": {"S": "USER#pat"}, "sk": {"S": f"#{n}"}}
        dynamodb_requests(client, table, item)
    assert_items_answered_alike(answers, "GetItem", "Query", "Scan", "UpdateItem")


IAM = IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER
NEW_POLICY = {"PolicyName": "read", "Description": "never answered", "Tags": []}
SNAKE_POLICY = {"policy_name": "read", "description": "never answered", "tags": [{"Key": "k"}]}
SNAKE_ITEM = {
    "item": {"pk": {"s": "read"}, "n": {"n": "1"}, "l": {"l": [{"bool": True}]}},
    "consumed_capacity": {"table_name": "t", "capacity_units": 0.5},
}


@pytest.mark.parametrize(
    ("service", "operation", "transformers", "result"),
    [
        ("iam", "CreatePolicy", IAM, {"Policy": NEW_POLICY}),
        ("iam", "CreatePolicy", IAM, {"Policy": SNAKE_POLICY}),
        ("dynamodb", "GetItem", None, SNAKE_ITEM),
    ],
)
def test_a_dict_of_any_naming_or_transformed_is_answered_as_before(
    service, operation, transformers, result
):
    """IAM drops a new policy's Description and empty Tags on their path; snake_case keys too."""
    moto_ext.apply()
    model = get_service_model(service)
    serializer = serialize.get_serializer_class(service, model.protocol)

    def answer() -> Any:
        picker = serialize.XFormedAttributePicker(response_transformers=transformers)
        return serializer(model.operation_model(operation), value_picker=picker).serialize(
            copy.deepcopy(result)
        )

    with as_moto_ships():
        shipped = answer()
    assert answer() == shipped
    assert "never answered" not in str(shipped["body"])
    assert "read" in str(shipped["body"])


# -- 6 and 7. An expression string parsed once: every request answered as moto answers it --


@contextlib.contextmanager
def expressions_as_moto_ships() -> Iterator[None]:
    """moto's own expression parsers, the validator's ``deepcopy`` and its walk of a tree."""
    parse, make = ConditionExpressionParser.parse, vars(UpdateExpressionParser)["make"]
    copied = validators.deepcopy
    walk = ast_nodes.DepthFirstTraverser.traverse_node_recursively
    ast_nodes.DepthFirstTraverser.traverse_node_recursively = walk.__wrapped__
    ConditionExpressionParser.parse = parse.__wrapped__  # type: ignore[method-assign]
    UpdateExpressionParser.make = classmethod(make.__func__.__wrapped__)
    validators.deepcopy = copy.deepcopy
    try:
        yield
    finally:
        ConditionExpressionParser.parse = parse  # type: ignore[method-assign]
        UpdateExpressionParser.make = make
        validators.deepcopy = copied
        ast_nodes.DepthFirstTraverser.traverse_node_recursively = walk


def forget_expressions() -> None:
    moto_per_request._conditions.clear()
    moto_per_request._updates.clear()


def outcome(call) -> Any:
    """What the client was answered: the response or the error, less the request's id."""
    try:
        answer = call()
    except ClientError as error:
        answer = {"Error": error.response["Error"], **error.response}
    except Exception as error:  # noqa: BLE001 - moto lets some errors of its own through
        return {"Raised": (type(error), str(error))}
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


LEASE = "attribute_not_exists(pk) OR #u < :now OR #o = :owner"
RENEW = {"UpdateExpression": "SET #u = :until", "ConditionExpression": "#o = :owner"}
RENEW_NAMES = {"#o": "owner", "#u": "until"}
EVERYTHING = (
    "SET #c = if_not_exists(#c, :zero) + :one, #l = list_append(#l, :more), "
    "nested.#deep[0] = :d, #t = #t - :one "
    "REMOVE gone, nested.#drop ADD tally :n, labels :tags DELETE colours :off"
)
EVERYTHING_NAMES = {"#c": "count", "#l": "log", "#t": "total", "#deep": "deep", "#drop": "drop"}
FILTER = "#s IN (:a, :b) AND size(labels) > :n AND NOT (#c BETWEEN :lo AND :hi)"
N = lambda n: {"N": str(n)}  # noqa: E731
S = lambda s: {"S": s}  # noqa: E731
KEY = {"pk": S("USER#pat"), "sk": S("RECORD")}


def record(n: int) -> dict[str, Any]:
    return {
        "pk": S("USER#pat"),
        "sk": S(f"EVENT#{n:02}"),
        "status": S(("open", "closed", "held")[n % 3]),
        "count": N(n),
        "total": N(100),
        "log": {"L": [S("made")]},
        "labels": {"SS": [f"l{i}" for i in range(n % 4 + 1)]},
        "colours": {"SS": ["red", "green", "blue"]},
        "nested": {"M": {"deep": {"L": [N(0), N(1)]}, "drop": S("x")}},
        "gone": {"BOOL": True},
    }


def requests_of_the_corpus(client) -> list[tuple[str, dict[str, Any]]]:
    """The app's expressions and the rest of the grammar, strings sent again with other values."""
    table = {"TableName": "records"}
    fail_old = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    calls: list[tuple[str, dict[str, Any]]] = []
    for n in range(4):
        calls.append(
            (
                "put_item",
                {**table, "Item": record(n), "ConditionExpression": "attribute_not_exists(pk)"},
            )
        )
    calls.append(  # already there: refused, with the item as it is
        (
            "put_item",
            {
                **table,
                "Item": record(1),
                "ConditionExpression": "attribute_not_exists(pk)",
                **fail_old,
            },
        )
    )
    lease = {"pk": S("LOCK#x"), "sk": S("LEASE")}
    for now, owner in ((10, "a"), (11, "b"), (30, "b"), (31, "a"), (32, "b")):
        calls.append(
            (
                "put_item",
                {
                    **table,
                    "Item": {**lease, "owner": S(owner), "until": N(now + 20)},
                    "ConditionExpression": LEASE,
                    "ExpressionAttributeNames": {"#u": "until", "#o": "owner"},
                    "ExpressionAttributeValues": {":now": N(now), ":owner": S(owner)},
                    "ReturnValues": "ALL_OLD",
                    **fail_old,
                },
            )
        )
    for until, owner in ((60, "b"), (70, "a"), (80, "b")):  # "a" holds it: "b" is refused
        calls.append(
            (
                "update_item",
                {
                    **table,
                    "Key": lease,
                    **RENEW,
                    "ExpressionAttributeNames": RENEW_NAMES,
                    "ExpressionAttributeValues": {":owner": S(owner), ":until": N(until)},
                    "ReturnValues": "ALL_NEW",
                    **fail_old,
                },
            )
        )
    # The closed one (1) is refused, and answers the item.
    for n, returned in ((0, "ALL_NEW"), (2, "UPDATED_NEW"), (0, "UPDATED_OLD"), (1, "ALL_NEW")):
        calls.append(
            (
                "update_item",
                {
                    **table,
                    "Key": {"pk": S("USER#pat"), "sk": S(f"EVENT#{n:02}")},
                    "UpdateExpression": EVERYTHING,
                    "ConditionExpression": "attribute_exists(nested.deep[1]) AND #s <> :closed",
                    "ExpressionAttributeNames": {**EVERYTHING_NAMES, "#s": "status"},
                    "ExpressionAttributeValues": {
                        ":zero": N(0),
                        ":one": N(n),
                        ":more": {"L": [S(f"change {n}")]},
                        ":d": {"M": {"by": S(f"p{n}")}},
                        ":n": N(n * 10),
                        ":tags": {"SS": [f"t{n}", "l0"]},
                        ":off": {"SS": ["red", f"c{n}"]},
                        ":closed": S("closed"),
                    },
                    "ReturnValues": returned,
                    **fail_old,
                },
            )
        )
    calls.append(  # a new item, made by the update
        (
            "update_item",
            {
                **table,
                "Key": KEY,
                "UpdateExpression": "ADD #m :m SET since = if_not_exists(since, :t)",
                "ExpressionAttributeNames": {"#m": "members"},
                "ExpressionAttributeValues": {":m": {"SS": ["pat"]}, ":t": N(5)},
                "ReturnValues": "ALL_NEW",
            },
        )
    )
    for n in (1, 2):  # the held one (2) is refused, and answers the item
        calls.append(
            (
                "delete_item",
                {
                    **table,
                    "Key": {"pk": S("USER#pat"), "sk": S(f"EVENT#{n:02}")},
                    "ConditionExpression": "#s = :s OR begins_with(#s, :p)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": S("closed"), ":p": S("clo")},
                    "ReturnValues": "ALL_OLD",
                    **fail_old,
                },
            )
        )
    for values in (
        {":a": S("open"), ":b": S("held"), ":n": N(0), ":lo": N(50), ":hi": N(60)},
        {":a": S("closed"), ":b": S("none"), ":n": N(1), ":lo": N(0), ":hi": N(1)},
    ):
        calls.append(
            (
                "query",
                {
                    **table,
                    "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                    "FilterExpression": FILTER,
                    "ProjectionExpression": "pk, sk, #s, nested.deep[0], #c",
                    "ExpressionAttributeNames": {"#s": "status", "#c": "count"},
                    "ExpressionAttributeValues": {
                        **values,
                        ":pk": S("USER#pat"),
                        ":prefix": S("EVENT#"),
                    },
                },
            )
        )
        calls.append(
            (
                "scan",
                {
                    **table,
                    "FilterExpression": "attribute_exists(nested.deep) OR contains(labels, :t)"
                    " OR (attribute_type(#u, :type) AND #u >= :lo)",
                    "ExpressionAttributeNames": {"#u": "until"},
                    "ExpressionAttributeValues": {
                        ":t": S(f"t{len(values)}"),
                        ":type": S("N"),
                        ":lo": values[":lo"],
                    },
                },
            )
        )
    calls.append(
        (
            "transact_write_items",
            {
                "TransactItems": [
                    {
                        "Update": {
                            **table,
                            "Key": lease,
                            **RENEW,
                            "ExpressionAttributeNames": RENEW_NAMES,
                            "ExpressionAttributeValues": {":owner": S("a"), ":until": N(1)},
                        }
                    },
                    {
                        "ConditionCheck": {
                            **table,
                            "Key": KEY,
                            "ConditionExpression": "contains(#m, :m)",
                            "ExpressionAttributeNames": {"#m": "members"},
                            "ExpressionAttributeValues": {":m": S("pat")},
                        }
                    },
                ]
            },
        )
    )
    calls.append(
        (
            "update_item",
            {
                **table,
                "Key": lease,
                "UpdateExpression": "SET #u = :zero, #r = :now REMOVE #o",
                "ConditionExpression": "#o = :owner",
                "ExpressionAttributeNames": {**RENEW_NAMES, "#r": "released"},
                "ExpressionAttributeValues": {":owner": S("a"), ":zero": N(0), ":now": N(90.5)},
                "ReturnValues": "UPDATED_OLD",
            },
        )
    )
    # Rejected by moto, twice each: a bad update, a bad condition, a value or a name not given,
    # a reserved word, a NULL bound and a second SET clause.
    for _ in range(2):
        calls += [
            (
                "update_item",
                {**table, "Key": KEY, "UpdateExpression": "SET a = :v,", **values_of(v=1)},
            ),
            (
                "update_item",
                {
                    **table,
                    "Key": KEY,
                    "UpdateExpression": "SET a = :v SET b = :v",
                    **values_of(v=1),
                },
            ),
            (
                "put_item",
                {**table, "Item": KEY, "ConditionExpression": "a = = :v", **values_of(v=1)},
            ),
            ("put_item", {**table, "Item": KEY, "ConditionExpression": "a = :w", **values_of(v=1)}),
            (
                "delete_item",
                {**table, "Key": KEY, "ConditionExpression": "#x = :v", **values_of(v=1)},
            ),
            (
                "put_item",
                {**table, "Item": KEY, "ConditionExpression": "status = :v", **values_of(v=1)},
            ),
            (
                "scan",
                {
                    **table,
                    "FilterExpression": "a BETWEEN :v AND :null",
                    "ExpressionAttributeValues": {":v": N(1), ":null": {"NULL": True}},
                },
            ),
            (
                "update_item",
                {
                    **table,
                    "Key": KEY,
                    "UpdateExpression": "SET #u = :until",
                    "ConditionExpression": "#o = :owner",
                    "ExpressionAttributeNames": RENEW_NAMES,
                    "ExpressionAttributeValues": {":until": N(1)},
                },
            ),
        ]
    return calls


def values_of(**values: int) -> dict[str, Any]:
    return {"ExpressionAttributeValues": {f":{name}": N(n) for name, n in values.items()}}


def answered(corpus) -> tuple[list[Any], list[Any]]:
    """Each request's answer, then every item of the table, in a world of its own."""
    with mock_aws():
        client, table = new_table("records")
        answers = [
            outcome(functools.partial(getattr(client, method), **copy.deepcopy(request)))
            for method, request in corpus(client)
        ]
        return answers, client.scan(TableName=table, ConsistentRead=True)["Items"]


def test_dynamodb_expressions_are_answered_as_moto_answers_them_when_parsed_once():
    moto_ext.apply()
    with expressions_as_moto_ships():
        shipped, shipped_items = answered(requests_of_the_corpus)
    forget_expressions()
    first = answered(requests_of_the_corpus)  # parsed and kept on the way
    assert moto_per_request._conditions and moto_per_request._updates
    again = answered(requests_of_the_corpus)  # every string answered from what was kept
    for answers, items in (first, again):
        assert items == shipped_items
        for n, (kept, as_shipped) in enumerate(zip(answers, shipped, strict=True)):
            assert kept == as_shipped, n
    # The corpus reaches what it is meant to: each kind of answer is in it.
    errors = [answer["Error"]["Code"] for answer in shipped if "Error" in answer]
    assert errors.count("ConditionalCheckFailedException") >= 4
    assert errors.count("ValidationException") >= 8
    assert sum("Raised" in answer for answer in shipped) >= 8
    assert any("Item" in answer and "Error" in answer for answer in shipped)
    assert any(answer.get("Items") for answer in shipped)
    assert any(answer.get("Attributes", {}).get("log") for answer in shipped)


def tree_of(node: Any) -> Any:
    """An update expression's tree as plain values: its node classes, children and parents."""
    if isinstance(node, ast_nodes.Node):
        parent = type(node.parent).__name__ if node.parent is not None else None
        return (type(node).__name__, parent, [tree_of(child) for child in node.children or []])
    return node


def test_each_update_expression_is_handed_a_tree_of_its_own():
    """The validator and the executor change the tree they are given: the next one is whole."""
    moto_per_request.apply()
    forget_expressions()
    with expressions_as_moto_ships():
        shipped = tree_of(UpdateExpressionParser.make(EVERYTHING))
    first = UpdateExpressionParser.make(EVERYTHING)
    second = UpdateExpressionParser.make(EVERYTHING)
    assert tree_of(first) == tree_of(second) == shipped
    first.children[0].children.clear()
    first.children[1].parent = None
    assert tree_of(UpdateExpressionParser.make(EVERYTHING)) == shipped


# A grammar of condition expressions, with words moto refuses and names and values left out.
PATHS = st.sampled_from(["a", "b.c", "#n", "#m.d", "a[1]", "#n[0].e", "size", "status"])
VALUES = st.sampled_from([":v", ":w", ":null", ":missing"])
OPERANDS = PATHS | VALUES | PATHS.map(lambda path: f"size({path})")
COMPARISONS = st.tuples(OPERANDS, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), OPERANDS)
CONDITIONS = st.recursive(
    COMPARISONS.map(" ".join)
    | st.tuples(OPERANDS, OPERANDS, OPERANDS).map(lambda o: f"{o[0]} BETWEEN {o[1]} AND {o[2]}")
    | st.tuples(OPERANDS, st.lists(OPERANDS, min_size=1, max_size=3)).map(
        lambda o: f"{o[0]} IN ({', '.join(o[1])})"
    )
    | PATHS.map(lambda path: f"attribute_exists({path})")
    | st.tuples(PATHS, OPERANDS).map(lambda o: f"begins_with({o[0]}, {o[1]})"),
    lambda inner: (
        st.tuples(inner, st.sampled_from(["AND", "OR", "and"]), inner).map(" ".join)
        | inner.map(lambda c: f"NOT {c}")
        | inner.map(lambda c: f"({c})")
    ),
    max_leaves=5,
)
JUNK = st.sampled_from(["", " ", "(", ")", "=", ",", "AND", "NOT", "!", "a", ":v", "BETWEEN"])
EXPRESSIONS = CONDITIONS | st.tuples(CONDITIONS, JUNK).map(" ".join)


def condition_of(expression: str, names: Any, values: Any) -> Any:
    """moto's answer for a condition: its tree and the names and values it found, or its error."""
    parser = ConditionExpressionParser(expression, names, values)
    try:
        op = parser.parse()
    except Exception as error:  # noqa: BLE001 - the error is the answer
        return type(error), str(error)
    return plain(op), parser.expr_attr_names_found, parser.expr_attr_values_found


def plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "__dict__"):
        return type(value).__name__, {key: plain(part) for key, part in vars(value).items()}
    return value


@given(
    expression=EXPRESSIONS,
    names=st.none() | st.just({"#n": "n", "#m": "m"}) | st.just({"#n": "n"}),
    values=st.lists(
        st.fixed_dictionaries(
            {
                ":v": st.sampled_from([N(1), S("x")]),
                ":w": st.just(N(2)),
                ":null": st.just({"NULL": True}),
            }
        ),
        min_size=2,
        max_size=2,
    ),
)
@settings(max_examples=300, deadline=None)
def test_any_condition_is_parsed_as_moto_parses_it_with_each_requests_values(
    expression, names, values
):
    moto_per_request.apply()
    with expressions_as_moto_ships():
        shipped = [condition_of(expression, names, request) for request in values]
    forget_expressions()
    kept = [condition_of(expression, names, request) for request in values * 2]
    assert kept == shipped * 2


UPDATE_PATHS = st.sampled_from(["a", "#n", "a.b", "#n[1].c", "a[0]", "total", "1a"])
UPDATE_VALUES = (
    st.sampled_from([":v", ":w"])
    | UPDATE_PATHS
    | st.tuples(UPDATE_PATHS, st.sampled_from([":v", "#n"])).map(
        lambda o: f"if_not_exists({o[0]}, {o[1]})"
    )
    | st.tuples(UPDATE_PATHS, st.sampled_from([":v", "#n"])).map(
        lambda o: f"list_append({o[0]}, {o[1]})"
    )
)
SETS = st.tuples(UPDATE_PATHS, UPDATE_VALUES, st.sampled_from(["", " + :w", "-:v"])).map(
    lambda o: f"{o[0]} = {o[1]}{o[2]}"
)
CLAUSES = st.one_of(
    st.lists(SETS, min_size=1, max_size=3).map(lambda actions: "SET " + ", ".join(actions)),
    st.lists(UPDATE_PATHS, min_size=1, max_size=2).map(lambda p: "REMOVE " + ", ".join(p)),
    UPDATE_PATHS.map(lambda path: f"ADD {path} :v"),
    UPDATE_PATHS.map(lambda path: f"delete {path} :w"),
)
UPDATES = st.lists(CLAUSES | JUNK, min_size=1, max_size=4).map(" ".join)


def update_of(expression: str) -> Any:
    try:
        return tree_of(UpdateExpressionParser.make(expression))
    except Exception as error:  # noqa: BLE001 - the error is the answer
        return type(error), str(error)


@given(expression=UPDATES)
@settings(max_examples=300, deadline=None)
def test_any_update_expression_is_parsed_as_moto_parses_it(expression):
    moto_per_request.apply()
    with expressions_as_moto_ships():
        shipped = update_of(expression)
    forget_expressions()
    assert [update_of(expression) for _ in range(3)] == [shipped] * 3
