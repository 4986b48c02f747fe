"""The state table's one client and its encoding; each kind of item it holds has its own module
beside this one, and ``StateStore`` (``__init__``) is all of them over one table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.identity import key

_RECORD = "STATE"
_LEASE = "LEASE"
_HYGIENE = "HYGIENE"
_ONCE = "ONCE"  # a message to a person sent once (the welcome, a hygiene notice)
AUDIT_PAGE = 200


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Table:
    def __init__(self, client: Any, table: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.table = table
        self._to = TypeSerializer().serialize
        self._from = TypeDeserializer().deserialize

    def _item(self, values: dict) -> dict:
        return {key: self._to(value) for key, value in values.items() if value is not None}

    def _plain(self, item: dict) -> dict:
        plain = {key: self._from(value) for key, value in item.items()}
        for internal in ("pk", "sk", "entity"):
            plain.pop(internal, None)
        return _numbers(plain)

    def entities(self, entity: str) -> list[dict]:
        """Every item of one kind (the by-entity index holds each under its ``entity``)."""
        return [self._plain(item) for item in self._query_index("by-entity", "entity", entity)]

    @staticmethod
    def entity_item(entity: str, ident: str, at: str, body: dict) -> dict:
        """An item the by-entity index lists: keyed ``<ENTITY>#<id>``, ordered by ``at``."""
        tag = entity.upper()
        return {**body, "pk": f"{tag}#{ident}", "sk": tag, "entity": entity, "at": at}

    def _query(self, condition: str, values: dict, **extra: Any) -> list[dict]:
        with aws_errors("reading the state table"):
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=self._item(values),
                **extra,
            )
            return [item for page in pages for item in page["Items"]]

    def _query_index(
        self, index: str, key: str, value: str, newest: int | None = None
    ) -> list[dict]:
        extra: dict[str, Any] = {"IndexName": index, "ExpressionAttributeNames": {"#k": key}}
        if newest:
            extra.update(ScanIndexForward=False, PaginationConfig={"MaxItems": newest})
        return self._query("#k = :v", {":v": value}, **extra)


def _user(username: str) -> str:
    """A user's partition: one per person, whatever the spelling a request used."""
    return f"USER#{key(username)}"


def _numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; the app's records only hold integers."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value
