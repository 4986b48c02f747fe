"""Credential hygiene per user (the notices sent, the exemption), apart from the record, which
only changes write, under the user's lease."""

from __future__ import annotations

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import _HYGIENE, Table, _user, now_iso
from chalicelib.kernel.identity import key


class HygieneNotes(Table):
    def get_hygiene(self, username: str) -> dict:
        with aws_errors(f"reading the hygiene notices of {username}"):
            item = self.client.get_item(
                TableName=self.table,
                Key=self._item({"pk": _user(username), "sk": _HYGIENE}),
                ConsistentRead=True,
            ).get("Item")
        return self._plain(item) if item else {"username": username, "notices": {}}

    def put_hygiene(self, username: str, values: dict) -> None:
        item = {
            **values,
            "pk": _user(username),
            "sk": _HYGIENE,
            "entity": "hygiene",
            "at": now_iso(),
        }
        item["username"] = username
        with aws_errors(f"writing the hygiene notices of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(item))

    def hygiene_items(self) -> dict[str, dict]:
        """Every user's hygiene item, by the user's canonical name: one query."""
        return {key(item["username"]): item for item in self.entities("hygiene")}
