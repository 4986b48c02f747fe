"""The state table: one lifecycle record per managed user and an append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from chalicelib.iam_gateway import aws_errors

_RECORD = "STATE"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class StateStore:
    def __init__(self, client: Any, table: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.table = table
        self._to = TypeSerializer().serialize
        self._from = TypeDeserializer().deserialize

    def _item(self, values: dict) -> dict:
        return {key: self._to(value) for key, value in values.items() if value is not None}

    def _plain(self, item: dict) -> dict:
        return {key: self._from(value) for key, value in item.items()}

    def get_record(self, username: str) -> dict | None:
        with aws_errors(f"reading the record of {username}"):
            item = self.client.get_item(
                TableName=self.table,
                Key=self._item({"pk": f"USER#{username}", "sk": _RECORD}),
                ConsistentRead=True,
            ).get("Item")
        if not item:
            return None
        record = self._plain(item)
        for key in ("pk", "sk", "entity"):
            record.pop(key, None)
        return record

    def put_record(self, username: str, record: dict) -> None:
        values = {**record, "pk": f"USER#{username}", "sk": _RECORD, "entity": "user",
                  "username": username, "at": now_iso()}
        with aws_errors(f"writing the record of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(values))

    def audit(self, action: str, username: str, ticket: str, requested_by: str,
              result: str, detail: dict | None = None) -> dict:
        at = now_iso()
        event = {"at": at, "action": action, "username": username, "ticket": ticket,
                 "requested_by": requested_by, "result": result}
        values = {**event, "pk": f"USER#{username}", "sk": f"AUDIT#{at}#{uuid.uuid4().hex[:8]}",
                  "entity": "audit", "detail": detail or None}
        with aws_errors(f"writing the audit trail of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(values))
        return event
