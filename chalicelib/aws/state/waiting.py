"""A set of names waiting for one writer to take them all (revocations of many people at once)."""

from __future__ import annotations

from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import _LEASE, Table


class Waiting(Table):
    def add_waiting(self, name: str, members: list[str]) -> None:
        with aws_errors(f"queueing for {name}"):
            self.client.update_item(
                TableName=self.table,
                Key=self._item({"pk": f"WAITING#{name}", "sk": _LEASE}),
                UpdateExpression="ADD #m :m",
                ExpressionAttributeNames={"#m": "members"},
                ExpressionAttributeValues={":m": {"SS": sorted(set(members))}},
            )

    def waiting(self, name: str) -> list[str]:
        return self.queue(name)[0]

    def queue(self, name: str) -> tuple[list[str], str | None]:
        """Who waits on ``name``, and when its last writer cut the whole role off (if it did)."""
        with aws_errors(f"reading the queue for {name}"):
            item = self.client.get_item(
                TableName=self.table,
                Key=self._item({"pk": f"WAITING#{name}", "sk": _LEASE}),
                ConsistentRead=True,
            ).get("Item", {})
        return sorted(item.get("members", {}).get("SS", [])), item.get("cut_at", {}).get("S")

    def remove_waiting(self, name: str, members: list[str], cut_at: str | None = None) -> None:
        """Take ``members`` off the queue, written; ``cut_at``: their write cut the role off
        then, which those who waited read to say so in their answers."""
        if not members:
            # Nothing changes: the word of a cutoff is read only by those a write took off the
            # set (the rest still wait, and are written by the next holder at their own moment).
            return
        names = {"#m": "members"}
        values: dict[str, Any] = {":m": {"SS": sorted(set(members))}}
        update = "DELETE #m :m"
        if cut_at:
            names["#c"] = "cut_at"
            values[":c"] = {"S": cut_at}
            update = "SET #c = :c " + update
        with aws_errors(f"dequeueing for {name}"):
            self.client.update_item(
                TableName=self.table,
                Key=self._item({"pk": f"WAITING#{name}", "sk": _LEASE}),
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
