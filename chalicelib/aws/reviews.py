"""Access reviews in the state table, written with conditions so that two clicks, a click and the
close, or two reviewers at once change an item once.

A campaign is ``REVIEW#<id>``: its record under ``sk = REVIEW`` (entity ``review``, listed
through the by-entity index) and one item per user and group under ``sk = ITEM#<item id>``, so
that each decision is a conditional write of its own item. While it is open,
``REVIEWING#<group>`` holds its id for each of its groups: a second campaign of a group is
refused until the first closes.
"""

from __future__ import annotations

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state import StateStore
from chalicelib.kernel.errors import Conflict, Stale, UpstreamError
from chalicelib.kernel.identity import key

_REVOKE = "revoke"  # an item's decision to revoke (chalicelib/reviews/rules.py)
_BATCH = 25  # BatchWriteItem's limit


class ReviewStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.client = state.client
        self.table = state.table

    def get(self, review_id: str) -> tuple[dict, list[dict]] | None:
        """The campaign and its items (one consistent query), or None."""
        items = self.state._query("pk = :pk", {":pk": f"REVIEW#{review_id}"}, ConsistentRead=True)
        plain = [self._plain(i) for i in items]
        review = [p for p in plain if p.get("_sk") == "REVIEW"]
        if not review:
            return None
        found = sorted(
            (p for p in plain if str(p.get("_sk", "")).startswith("ITEM#")),
            key=lambda i: (i["group"], i["username"].lower()),
        )
        for entry in (*review, *found):
            entry.pop("_sk", None)
        return review[0], found

    def create(self, review: dict, items: list[dict]) -> bool:
        """Write a new campaign; False when one with its id exists already (the same ticket).
        A group an open campaign covers is a Conflict, and nothing is written. The campaign's
        own record is written last, once its groups are held and its items are all written:
        a campaign that can be read is whole."""
        if self.get(review["id"]) is not None:
            return False
        held: list[str] = []
        with aws_errors("recording the review"):
            try:
                for group in review["groups"]:
                    self._hold(review["id"], group)
                    held.append(group)
                self._write_items(items)
                self.client.put_item(
                    TableName=self.table,
                    Item=self.state._item(self._full(review)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False  # the same ticket, written at once by another: its groups stay held
            except BaseException:
                self._release_groups(review["id"], held)
                raise
        return True

    def _hold(self, review_id: str, group: str) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self.state._item(
                    {"pk": f"REVIEWING#{group}", "sk": "REVIEWING", "review": review_id}
                ),
                ConditionExpression="attribute_not_exists(pk) OR review = :id",
                ExpressionAttributeValues=self.state._item({":id": review_id}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            other = error.response.get("Item", {}).get("review", {}).get("S", "")
            raise Conflict(
                f"{group} is under review already ({other}); close that review first or leave "
                "the group out"
            ) from None

    def _write_items(self, items: list[dict]) -> None:
        for start in range(0, len(items), _BATCH):
            pending = [
                {"PutRequest": {"Item": self.state._item(self._full_item(i))}}
                for i in items[start : start + _BATCH]
            ]
            for _ in range(8):  # what DynamoDB leaves unprocessed (throttled) is sent again
                answer = self.client.batch_write_item(RequestItems={self.table: pending})
                pending = answer.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
            else:
                raise UpstreamError("the review's items could not all be written; retry")

    def release(self, review: dict) -> None:
        """Let a new campaign cover this one's groups: it closed."""
        self._release_groups(review["id"], review["groups"])

    def _release_groups(self, review_id: str, groups: list[str]) -> None:
        with aws_errors("releasing the review's groups"):
            for group in groups:
                try:
                    self.client.delete_item(
                        TableName=self.table,
                        Key=self.state._item({"pk": f"REVIEWING#{group}", "sk": "REVIEWING"}),
                        ConditionExpression="review = :id",
                        ExpressionAttributeValues=self.state._item({":id": review_id}),
                    )
                except self.client.exceptions.ConditionalCheckFailedException:
                    pass

    def update(self, review: dict, read_version: int) -> dict:
        self._put(self._full(review), read_version, review["id"])
        return review

    def update_item(self, item: dict, read_version: int) -> dict:
        self._put(self._full_item(item), read_version, item["id"])
        return item

    def _put(self, full: dict, read_version: int, what: str) -> None:
        with aws_errors(f"updating review {what}"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=self.state._item(full),
                    ConditionExpression="#v = :v",
                    ExpressionAttributeNames={"#v": "version"},
                    ExpressionAttributeValues=self.state._item({":v": read_version}),
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                raise Stale(what) from None

    def search(self, status: str | None = None) -> list[dict]:
        """Campaigns (without their items), oldest first."""
        found = self.state.entities("review")
        for entry in found:
            entry.pop("at", None)
        if status:
            found = [r for r in found if r["status"] == status]
        return sorted(found, key=lambda r: r["created_at"])

    def items_of(self, username: str) -> list[dict]:
        """Every campaign's items of ``username`` (any spelling) whose access is not known to be
        gone: undecided (escalated included) or revoked but not carried out. One query a
        campaign."""
        found = []
        for review in self.search():
            got = self.get(review["id"])
            for item in got[1] if got else []:
                if key(item["username"]) != key(username) or item.get("removed_at"):
                    continue
                if item.get("decision") in (None, "", _REVOKE):
                    found.append(item)
        return found

    def _full(self, review: dict) -> dict:
        return self.state.entity_item("review", review["id"], review["created_at"], review)

    def _full_item(self, item: dict) -> dict:
        return {**item, "pk": f"REVIEW#{item['review']}", "sk": f"ITEM#{item['id']}"}

    def _plain(self, raw: dict) -> dict:
        sk = raw.get("sk", {}).get("S", "")
        plain = self.state._plain(raw)
        plain.pop("at", None)
        plain["_sk"] = sk
        return plain
