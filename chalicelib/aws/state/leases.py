"""Leases: one change to a user (or to a shared document) at a time."""

from __future__ import annotations

import time
from decimal import Decimal

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import _LEASE, Table, _user
from chalicelib.kernel.errors import InProgress


class Leases(Table):
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

    def acquire_lock(self, name: str, owner: str, seconds: int) -> float:
        """Hold ``name`` for ``seconds``; returns when its previous holder last held it (as
        :meth:`acquire`)."""
        return self._acquire(f"LOCK#{name}", owner, seconds, f"{name} is locked")

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
