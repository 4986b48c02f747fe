"""The state table: one lifecycle record per managed user, a lease per user that serializes
changes to them, the claims that make a message to a person sent once, and an append-only audit
trail."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel import caller
from chalicelib.kernel.errors import InProgress
from chalicelib.kernel.identity import PERSON, key

_RECORD = "STATE"
_LEASE = "LEASE"
_HYGIENE = "HYGIENE"
_ONCE = "ONCE"  # a message to a person sent once (the welcome, a hygiene notice)
AUDIT_PAGE = 200


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
        plain = {key: self._from(value) for key, value in item.items()}
        for internal in ("pk", "sk", "entity"):
            plain.pop(internal, None)
        return _numbers(plain)

    # lifecycle records
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

    # a Slack member's user: how the member's own requests find who asks
    def link_member(self, member: str, username: str, user_id: str) -> None:
        """``member`` is ``username``, the person IAM knows as ``user_id`` (the last onboarding
        naming a member wins)."""
        with aws_errors(f"linking {member} to {username}"):
            self.client.put_item(
                TableName=self.table,
                Item=self._item(
                    {
                        "pk": f"MEMBER#{member}",
                        "sk": "LINK",
                        "username": username,
                        PERSON: user_id,
                    }
                ),
            )

    def unlink_member(self, member: str, username: str, user_id: str | None) -> bool:
        """Delete ``member``'s link if it is still the one to this person (a later onboarding
        may have linked the member to someone else since); False when there was none."""
        condition = "#u = :u AND (attribute_not_exists(#p) OR #p = :p)"
        values = {":u": username, ":p": user_id or ""}
        if not user_id:  # kept before ids were: the name is all there is to go by
            condition, values = "#u = :u", {":u": username}
        with aws_errors(f"unlinking {member} from {username}"):
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key=self._item({"pk": f"MEMBER#{member}", "sk": "LINK"}),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#u": "username", "#p": PERSON}
                    if user_id
                    else {"#u": "username"},
                    ExpressionAttributeValues=self._item(values),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def entities(self, entity: str) -> list[dict]:
        """Every item of one kind (the by-entity index holds each under its ``entity``)."""
        return [self._plain(item) for item in self._query_index("by-entity", "entity", entity)]

    @staticmethod
    def entity_item(entity: str, ident: str, at: str, body: dict) -> dict:
        """An item the by-entity index lists: keyed ``<ENTITY>#<id>``, ordered by ``at``."""
        tag = entity.upper()
        return {**body, "pk": f"{tag}#{ident}", "sk": tag, "entity": entity, "at": at}

    def records(self) -> list[dict]:
        """Every lifecycle record (entity = user)."""
        return self.entities("user")

    # credential hygiene: per user, the notices sent and the exemption, apart from the record
    # (which only changes write, under the user's lease)
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

    # leases: one change to a user (or to a shared document) at a time
    def acquire(self, username: str, owner: str, seconds: int) -> float:
        """Hold the user for ``seconds``; returns when the previous holder last held it (epoch
        seconds; 0: never), so that reads made beside the acquisition can be trusted only
        when nobody held the user while they were made."""
        return self._acquire(
            _user(username),
            owner,
            seconds,
            f"another change to {username} is in progress; retry in a minute",
        )

    def release(self, username: str, owner: str) -> None:
        self._release(_user(username), owner)

    def acquire_lock(self, name: str, owner: str, seconds: int) -> None:
        self._acquire(f"LOCK#{name}", owner, seconds, f"{name} is locked")

    def release_lock(self, name: str, owner: str) -> None:
        self._release(f"LOCK#{name}", owner)

    def renew(self, username: str, owner: str, seconds: int) -> bool:
        """Hold the user ``seconds`` more (a running change's heartbeat); False if the lease
        is not ours any more."""
        return self._renew(_user(username), owner, seconds)

    def renew_lock(self, name: str, owner: str, seconds: int) -> bool:
        """Hold ``name`` ``seconds`` more; False if it is not ours any more. Still ours means
        nobody else held it meanwhile (taking a lease names its owner, letting go removes it),
        so what we read under it is still what is there."""
        return self._renew(f"LOCK#{name}", owner, seconds)

    def _renew(self, pk: str, owner: str, seconds: int) -> bool:
        with aws_errors(f"renewing {pk}"):
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._item({"pk": pk, "sk": _LEASE}),
                    UpdateExpression="SET #u = :until",
                    ConditionExpression="#o = :owner",
                    ExpressionAttributeNames={"#o": "owner", "#u": "until"},
                    ExpressionAttributeValues=self._item(
                        {":owner": owner, ":until": int(time.time()) + seconds}
                    ),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def _acquire(self, pk: str, owner: str, seconds: int, busy: str) -> float:
        now = time.time()
        with aws_errors(f"locking {pk}"):
            try:
                old = self.client.put_item(
                    TableName=self.table,
                    Item=self._item(
                        {"pk": pk, "sk": _LEASE, "owner": owner, "until": int(now) + seconds}
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR #u < :now OR #o = :owner",
                    ExpressionAttributeNames={"#u": "until", "#o": "owner"},
                    ExpressionAttributeValues=self._item({":now": int(now), ":owner": owner}),
                    ReturnValues="ALL_OLD",
                ).get("Attributes", {})
            except self.client.exceptions.ConditionalCheckFailedException:
                raise InProgress(busy) from None
        # A lease released is kept with the time it was let go; one that expired was held
        # until its end.
        held = old.get("released", old.get("until", {"N": "0"}))
        return min(float(held["N"]), now)

    def _release(self, pk: str, owner: str) -> None:
        with aws_errors(f"unlocking {pk}"):
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._item({"pk": pk, "sk": _LEASE}),
                    UpdateExpression="SET #u = :zero, #r = :now REMOVE #o",
                    ConditionExpression="#o = :owner",
                    ExpressionAttributeNames={"#o": "owner", "#u": "until", "#r": "released"},
                    ExpressionAttributeValues=self._item(
                        {":owner": owner, ":zero": 0, ":now": Decimal(str(round(time.time(), 3)))}
                    ),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                pass  # it expired and someone else holds it now

    # a set of names waiting for one writer to take them all (revocations of many people at once)
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

    # a message to a person, sent once: its name is the ticket it belongs to
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

    # audit trail
    def audit(
        self,
        action: str,
        username: str,
        ticket: str,
        requested_by: str,
        result: str,
        detail: dict | None = None,
    ) -> dict:
        at = now_iso()
        event = {
            "at": at,
            "action": action,
            "username": username,
            "ticket": ticket,
            "requested_by": requested_by,
            "result": result,
        }
        # The authenticated client beside the requester it claims (absent outside every edge).
        client = caller.current()
        if client:
            event["client"] = client
        values = {
            **event,
            "pk": _user(username),
            "sk": f"AUDIT#{at}#{uuid.uuid4().hex[:8]}",
            "entity": "audit",
            "detail": detail or None,
        }
        with aws_errors(f"writing the audit trail of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(values))
        return event

    def audit_events(self, username: str | None = None, ticket: str | None = None) -> list[dict]:
        """Events, oldest first: of one user, of one ticket, or (neither) the latest overall."""
        if username:
            items = self._query(
                "pk = :pk AND begins_with(sk, :audit)", {":pk": _user(username), ":audit": "AUDIT#"}
            )
        elif ticket:
            items = self._query_index("by-ticket", "ticket", ticket)
        else:
            items = self._query_index("by-entity", "entity", "audit", newest=AUDIT_PAGE)
        events = [self._plain(item) for item in items if item.get("entity", {}).get("S") == "audit"]
        if ticket:
            events = [event for event in events if event.get("ticket") == ticket]
        fields = (
            "at",
            "action",
            "username",
            "ticket",
            "requested_by",
            "client",
            "result",
            "detail",
        )
        return sorted(({k: e[k] for k in fields if k in e} for e in events), key=lambda e: e["at"])

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
