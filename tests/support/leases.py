"""The end of the leases a change that died left held, brought to now.

A change holds its user (and any shared document) with a lease in the state table, and its
ticket with Powertools' in-progress record, each ending ``LEASE_SECONDS`` after the heartbeat
last renewed it. When the process dies nothing renews them: once that time has passed, a retry
finds them ended. Setting their ends to the past is that time passing for them (and for nothing
else), so a test need not sleep it out.
"""

from __future__ import annotations

import functools
import inspect
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.kernel.identity import key
from tests.support.app_client import stage_environment

_POWERTOOLS = {
    name: parameter.default
    for name, parameter in inspect.signature(DynamoDBPersistenceLayer).parameters.items()
}
_STATUS = _POWERTOOLS["status_attr"]
_IN_PROGRESS_UNTIL = _POWERTOOLS["in_progress_expiry_attr"]  # milliseconds


def _dynamodb() -> Any:
    """The test's DynamoDB client: one for each of moto's default sessions (a new one per test),
    since a retry runs leases out several times and making a client costs more than its calls."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return _client_of(boto3.DEFAULT_SESSION)


@functools.lru_cache(maxsize=1)
def _client_of(session: Any) -> Any:
    return session.client("dynamodb")


def run_out() -> int:
    """Every lease and in-progress ticket still held, ended a moment ago; how many there were.
    Only for a world in which nothing is running (what is held was left by a change that died)."""
    env = stage_environment()
    dynamodb = _dynamodb()
    now = time.time()
    ended = _run_out_leases(dynamodb, env["STATE_TABLE"], "", now)
    # (only the tickets in progress are read, not the answers the others keep)
    in_progress = _scan(
        dynamodb,
        env["IDEMPOTENCY_TABLE"],
        FilterExpression="#s = :in_progress",
        ExpressionAttributeNames={"#s": _STATUS},
        ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}},
    )
    for item in in_progress:
        until = item.get(_IN_PROGRESS_UNTIL, {}).get("N")
        if until and int(until) >= int(now * 1000):
            key = (_POWERTOOLS["key_attr"],)
            _set(
                dynamodb,
                env["IDEMPOTENCY_TABLE"],
                item,
                _IN_PROGRESS_UNTIL,
                int(now * 1000) - 1,
                key,
            )
            ended += 1
    return ended


def run_out_locks() -> int:
    """The revocation locks on child roles (``LOCK#<role>``) still held, ended a moment ago; how
    many there were. What an attempt left held when its release failed or it died: the user's
    lease and the ticket's in-progress record stay held, so a retry is still told to retry."""
    return _run_out_leases(_dynamodb(), stage_environment()["STATE_TABLE"], "LOCK#")


def _run_out_leases(dynamodb, table: str, prefix: str, now: float | None = None) -> int:
    """The leases (users' and locks', ``prefix`` naming which) held past ``now``, ended."""
    now = time.time() if now is None else now
    ended = 0
    # (the table's other items, the audit trail's above all, are not read: only leases)
    condition, values = "sk = :lease", {":lease": {"S": "LEASE"}}
    if prefix:
        condition, values[":prefix"] = f"{condition} AND begins_with(pk, :prefix)", {"S": prefix}
    leases = _scan(dynamodb, table, FilterExpression=condition, ExpressionAttributeValues=values)
    for item in leases:
        # (a lock's queue shares the kind, holding no end: WAITING#<role>)
        until = item.get("until", {}).get("N")
        if until and int(until) >= int(now):
            _set(dynamodb, table, item, "until", int(now) - 1, ("pk", "sk"))
            ended += 1
    return ended


def _scan(dynamodb, table: str, **only: Any) -> list[dict]:
    return [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, **only)
        for item in page["Items"]
    ]


def _set(dynamodb, table: str, item: dict, attribute: str, value: int, key: tuple) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={name: item[name] for name in key},
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": {"N": str(value)}},
    )


def let_stand(username: str, seconds: int) -> None:
    """The user's record as if nothing had written it for ``seconds`` (its time, ``at``, moved
    back that far): the time passing for a change that died, for the schedule that looks for
    changes stopped halfway, without sleeping it out."""
    at = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    _set_on_user(_dynamodb(), username, "STATE", "at", {"S": at}, present="pk")


def let_go_earlier(username: str, seconds: int) -> None:
    """The user's lease as if let go ``seconds`` ago, not a moment ago (when it was let go at
    all): a change starting now takes the path it takes that long after the last one, without
    waiting for it."""
    dynamodb = _dynamodb()
    released = {"N": str(round(time.time() - seconds, 3))}
    try:
        _set_on_user(dynamodb, username, "LEASE", "released", released, present="released")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass  # never held, or held now: nothing was let go


def _set_on_user(
    dynamodb, username: str, kind: str, attribute: str, value: dict, present: str
) -> None:
    """One attribute of one of the user's items (``kind``: its sort key), set only where the
    item holds ``present``."""
    dynamodb.update_item(
        TableName=stage_environment()["STATE_TABLE"],
        Key={"pk": {"S": f"USER#{key(username)}"}, "sk": {"S": kind}},
        UpdateExpression="SET #a = :v",
        ConditionExpression="attribute_exists(#p)",
        ExpressionAttributeNames={"#a": attribute, "#p": present},
        ExpressionAttributeValues={":v": value},
    )
