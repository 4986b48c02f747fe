"""A Slack member's user: how the member's own requests find who asks."""

from __future__ import annotations

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import Table
from chalicelib.kernel.identity import PERSON


class MemberLinks(Table):
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
