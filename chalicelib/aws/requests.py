"""Requests for access in the state table, written with conditions so that two clicks, two
approvers or a click and the expiry schedule change a request once.

A request is ``REQUEST#<id>`` (entity ``request``, listed through the by-entity index). Beside
it, while it is pending, ``OPEN#<user>#<group>`` holds its id: a second request for the same
group is refused while the first waits. Every change is conditional on the version it read.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state import StateStore
from chalicelib.kernel.errors import Conflict, Stale
from chalicelib.kernel.identity import PERSON, key, same_person

_APPROVED = "approved"  # a request's status once approved (chalicelib/approvals/rules.py)


class RequestStore:
    def __init__(
        self, state: StateStore, person: Callable[[str], str | None] | None = None
    ) -> None:
        """``person``: the UserId of whoever IAM holds under a name now (None: nobody)."""
        self.state = state
        self.client = state.client
        self.table = state.table
        self.person = person

    def _key(self, request_id: str) -> dict:
        return self.state._item({"pk": f"REQUEST#{request_id}", "sk": "REQUEST"})

    def _open_key(self, username: str, group: str) -> dict:  # the marker of a pending request
        return self.state._item({"pk": f"OPEN#{key(username)}#{group}", "sk": "OPEN"})

    def get(self, request_id: str) -> dict | None:
        with aws_errors(f"reading request {request_id}"):
            item = self.client.get_item(
                TableName=self.table, Key=self._key(request_id), ConsistentRead=True
            ).get("Item")
        return self.state._plain(item) if item else None

    def create(self, request: dict, pending_until: int, now: int) -> dict | None:
        """Write a new request; None when one with its id exists already (the same ticket).
        A pending request of the user for the group is a Conflict, and nothing is written.
        The request is bound to the person the user's record names (IAM UserId)."""
        record = self.state.get_record(request["username"]) or {}
        if record.get(PERSON):
            request = {**request, PERSON: record[PERSON]}
        item = self._full(request)
        with aws_errors("recording the request"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self.state._item(item),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return None
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self.state._item(
                        {
                            "pk": f"OPEN#{key(request['username'])}#{request['group']}",
                            "sk": "OPEN",
                            "request_id": request["id"],
                            "until": pending_until,
                        }
                    ),
                    # A marker outlives its request only when a release failed: past the
                    # request's expiry it no longer blocks.
                    ConditionExpression="attribute_not_exists(pk) OR #u < :now",
                    ExpressionAttributeNames={"#u": "until"},
                    ExpressionAttributeValues=self.state._item({":now": now}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except self.client.exceptions.ConditionalCheckFailedException as error:
                self.client.delete_item(TableName=self.table, Key=self._key(request["id"]))
                held = error.response.get("Item", {}).get("request_id", {}).get("S", "")
                raise Conflict(
                    f"{request['username']} has a pending request for {request['group']} "
                    f"already ({held}); wait for its decision or cancel it with `done`"
                ) from None
        return request

    def release(self, request: dict) -> None:
        """Let a new request for the group be made: this one is no longer pending."""
        with aws_errors("releasing the pending request"):
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key=self._open_key(request["username"], request["group"]),
                    ConditionExpression="request_id = :id",
                    ExpressionAttributeValues=self.state._item({":id": request["id"]}),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                pass  # another request's marker (this one's expired and was replaced)

    def update(self, request: dict, read_version: int) -> dict:
        """Write ``request`` if nobody changed it since it was read at ``read_version``. An
        approval (a decision, a break-glass activation) of a request made for an earlier holder
        of the name is refused: what it grants would go to whoever holds the name now."""
        if request.get("status") == _APPROVED and self.person is not None:
            # Bound at creation; a copy made before then is bound by what is stored.
            bound = request if request.get(PERSON) else (self.get(request["id"]) or {})
            if bound.get(PERSON):
                request = {**request, PERSON: bound[PERSON]}
            if not same_person(bound, self.person(request["username"])):
                raise Conflict(
                    f"request {request['id']} was made for an earlier user named "
                    f"{request['username']}, not the one who holds the name now; nothing was "
                    "granted"
                )
        with aws_errors(f"updating request {request['id']}"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self.state._item(self._full(request)),
                    ConditionExpression="#v = :v",
                    ExpressionAttributeNames={"#v": "version"},
                    ExpressionAttributeValues=self.state._item({":v": read_version}),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                raise Stale(request["id"]) from None
        return request

    def search(self, status: str | None = None, username: str | None = None) -> list[dict]:
        """Requests, oldest first, of one status and one user when given."""
        found = self.state.entities("request")
        for request in found:
            request.pop("at", None)
        if status:
            found = [r for r in found if r["status"] == status]
        if username:
            found = [r for r in found if key(r["username"]) == key(username)]
        return sorted(found, key=lambda r: r["requested_at"])

    def _full(self, request: dict) -> dict:
        return self.state.entity_item("request", request["id"], request["requested_at"], request)
