"""One lifecycle record per managed user (and the entities listed beside them)."""

from __future__ import annotations

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import _RECORD, Table, _user, now_iso


class Records(Table):
    def get_record(self, username: str) -> dict | None:
        with aws_errors(f"reading the record of {username}"):
            item = self.client.get_item(
                TableName=self.table,
                Key=self._item({"pk": _user(username), "sk": _RECORD}),
                ConsistentRead=True,
            ).get("Item")
        return self._plain(item) if item else None

    def put_record(self, username: str, record: dict) -> dict:
        values = {
            **record,
            "pk": _user(username),
            "sk": _RECORD,
            "entity": "user",
            "username": username,
            "at": now_iso(),
        }
        with aws_errors(f"writing the record of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(values))
        return record

    def records(self) -> list[dict]:
        """Every lifecycle record (entity = user)."""
        return self.entities("user")
