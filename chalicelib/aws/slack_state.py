"""What the Slack entry point keeps in the state table: the trigger ids it has acknowledged (a
replayed request queues nothing) and one-use confirmations of destructive commands.

Items live beside the lifecycle records under their own keys (``SLACK#<trigger id>``,
``CONFIRM#<id>``) and carry none of the attributes the table's indexes are keyed on, so they never
show up in a user's records or the audit trail. Each has an ``expires`` time (epoch seconds) that is
checked on use; a TTL on that attribute would also sweep them away. Beside them, ``MEMBER#<member>``
(written at onboarding, deleted at offboarding) names the user a member is and the person (IAM
UserId) they were onboarded as.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.identity import PERSON, key, same_person

# Slack refuses signatures older than 5 minutes; a trigger id is remembered for longer than that.
TRIGGER_SECONDS = 600
CONFIRMATION_SECONDS = 300


class Outcome(enum.Enum):
    OK = "ok"
    USED = "used"  # consumed already, or never existed
    EXPIRED = "expired"
    NOT_YOURS = "not_yours"


@dataclass(frozen=True)
class Confirmation:
    id: str
    action: str
    username: str
    slack_user: str
    ticket: str
    expires: int


def _to(value: str | int) -> dict:
    """DynamoDB's form of the strings and whole numbers kept here (boto3's TypeSerializer would
    import boto3 on a cold acknowledgement for two types)."""
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _from(value: dict) -> Any:
    return int(value["N"]) if "N" in value else value["S"]


class SlackStore:
    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table
        self.clock = clock

    def _item(self, values: dict) -> dict:
        return {key: _to(value) for key, value in values.items()}

    def claim_trigger(self, trigger_id: str) -> bool:
        """True the first time a trigger id is seen (within TRIGGER_SECONDS), False for a replay."""
        now = int(self.clock())
        with aws_errors("recording the Slack request"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self._item(
                        {
                            "pk": f"SLACK#{trigger_id}",
                            "sk": "TRIGGER",
                            "expires": now + TRIGGER_SECONDS,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR #e < :now",
                    ExpressionAttributeNames={"#e": "expires"},
                    ExpressionAttributeValues=self._item({":now": now}),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def linked_user(self, member: str) -> str | None:
        """The managed user onboarded as Slack member ``member`` (StateStore.link_member), if
        the link is still theirs: it and the user's record are read together, and a link
        whose person (IAM UserId) is not the record's, or whose user was offboarded, is a
        leaver's, never used for whoever holds the name now."""
        link_key = self._item({"pk": f"MEMBER#{member}", "sk": "LINK"})
        with aws_errors("reading the member's user"):
            link = self.client.get_item(
                TableName=self.table, Key=link_key, ConsistentRead=True
            ).get("Item")
            if not link:
                return None
            username = _from(link["username"])
            record = self.client.get_item(
                TableName=self.table,
                Key=self._item({"pk": f"USER#{key(username)}", "sk": "STATE"}),
                ConsistentRead=True,
                ProjectionExpression="#s, #p",
                ExpressionAttributeNames={"#s": "status", "#p": PERSON},
            ).get("Item")
        if not record or _from(record.get("status", {"S": ""})) == "offboarded":
            return None
        kept = {k: _from(v) for k, v in link.items()}
        person = _from(record[PERSON]) if PERSON in record else None
        return username if same_person(kept, person) else None

    def create_confirmation(
        self, action: str, username: str, slack_user: str, ticket: str
    ) -> Confirmation:
        confirmation = Confirmation(
            id=secrets.token_urlsafe(18),
            action=action,
            username=username,
            slack_user=slack_user,
            ticket=ticket,
            expires=int(self.clock()) + CONFIRMATION_SECONDS,
        )
        # "request_ticket", not "ticket": the by-ticket index must not see confirmations.
        item = {
            "pk": f"CONFIRM#{confirmation.id}",
            "sk": "CONFIRM",
            "action": action,
            "username": username,
            "slack_user": slack_user,
            "request_ticket": ticket,
            "expires": confirmation.expires,
        }
        with aws_errors("recording the confirmation"):
            self.client.put_item(
                TableName=self.table,
                Item=self._item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        return confirmation

    def consume_confirmation(
        self, confirmation_id: str, slack_user: str
    ) -> tuple[Outcome, Confirmation | None]:
        """Use a confirmation once: a conditional delete, so of two clicks only one gets OK.

        Another user's click leaves it in place for the one who asked; an expired one is spent.
        """
        key = self._item({"pk": f"CONFIRM#{confirmation_id}", "sk": "CONFIRM"})
        now = int(self.clock())
        with aws_errors("using the confirmation"):
            try:
                old = self.client.delete_item(
                    TableName=self.table,
                    Key=key,
                    ReturnValues="ALL_OLD",
                    ConditionExpression="attribute_exists(pk) AND slack_user = :user AND #e > :now",
                    ExpressionAttributeNames={"#e": "expires"},
                    ExpressionAttributeValues=self._item({":user": slack_user, ":now": now}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )["Attributes"]
            except self.client.exceptions.ConditionalCheckFailedException as error:
                found = error.response.get("Item")
                if not found:
                    return Outcome.USED, None
                confirmation = self._confirmation(confirmation_id, found)
                if confirmation.slack_user != slack_user:
                    return Outcome.NOT_YOURS, confirmation
                self.client.delete_item(TableName=self.table, Key=key)
                return Outcome.EXPIRED, confirmation
        return Outcome.OK, self._confirmation(confirmation_id, old)

    def _confirmation(self, confirmation_id: str, item: dict) -> Confirmation:
        values = {key: _from(value) for key, value in item.items()}
        return Confirmation(
            id=confirmation_id,
            action=values["action"],
            username=values["username"],
            slack_user=values["slack_user"],
            ticket=values["request_ticket"],
            expires=int(values["expires"]),
        )
