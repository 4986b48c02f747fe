"""A message to a person, sent once: its name is the ticket it belongs to."""

from __future__ import annotations

import time

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import _ONCE, Table, _user, now_iso


class Once(Table):
    def claim_once(self, username: str, name: str, seconds: int) -> bool:
        """Claim the one sending of ``name`` for ``seconds``: True when this caller sends it;
        False when it was sent, or another delivery of it is sending it now. A claim neither
        marked sent nor dropped (a worker that died sending) may be claimed again once it
        ends."""
        now = int(time.time())
        with aws_errors(f"claiming {name}"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self._item(
                        {"pk": _user(username), "sk": f"{_ONCE}#{name}", "until": now + seconds}
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR "
                    "(attribute_not_exists(#s) AND #u < :now)",
                    ExpressionAttributeNames={"#s": "sent", "#u": "until"},
                    ExpressionAttributeValues=self._item({":now": now}),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def sent_once(self, username: str, name: str) -> None:
        """``name`` was sent: never claimed again."""
        with aws_errors(f"marking {name} sent"):
            self.client.update_item(
                TableName=self.table,
                Key=self._item({"pk": _user(username), "sk": f"{_ONCE}#{name}"}),
                UpdateExpression="SET #s = :at",
                ExpressionAttributeNames={"#s": "sent"},
                ExpressionAttributeValues=self._item({":at": now_iso()}),
            )

    def drop_once(self, username: str, name: str) -> None:
        """Sending ``name`` failed: the claim is let go, for the next delivery to send it."""
        with aws_errors(f"dropping the claim of {name}"):
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key=self._item({"pk": _user(username), "sk": f"{_ONCE}#{name}"}),
                    ConditionExpression="attribute_not_exists(#s)",
                    ExpressionAttributeNames={"#s": "sent"},
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                pass
