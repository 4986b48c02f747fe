"""IAM as adoption reads and changes it: a user outside the service's path as a whole (its
groups, inline and attached policies, boundary, tags, credentials), and its path. The stage's
policy lets the service read and move only the users an administrator marked for adoption
(the tag ``iam-lifecycle:adopt`` = ``true``); every other user outside its path stays
invisible to it, and the answer for one is AccessDenied."""

from __future__ import annotations

from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import AccessDenied, NotFound


class AdoptionGateway:
    def __init__(self, client: Any) -> None:
        self.client = client

    def user(self, username: str) -> dict | None:
        """The user with its path and tags; None when there is none. ``hidden`` when the
        service may not read it (not marked for adoption)."""
        try:
            with aws_errors(f"reading user {username}"):
                user = self.client.get_user(UserName=username)["User"]
        except NotFound:
            return None
        except AccessDenied:
            return {"username": username, "hidden": True}
        return {
            "username": user["UserName"],
            "arn": user["Arn"],
            "path": user["Path"],
            "id": user["UserId"],
            "tags": {tag["Key"]: tag["Value"] for tag in user.get("Tags", [])},
            "boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        }

    def policies(self, username: str) -> dict:
        """The user's groups, inline policy names and attached policy ARNs: three listings of
        the user, whatever the size of the account."""
        with aws_errors(f"reading the groups and policies of {username}"):
            groups = self.client.get_paginator("list_groups_for_user").paginate(UserName=username)
            inline = self.client.get_paginator("list_user_policies").paginate(UserName=username)
            attached = self.client.get_paginator("list_attached_user_policies").paginate(
                UserName=username
            )
            return {
                "groups": sorted(g["GroupName"] for page in groups for g in page["Groups"]),
                "inline": sorted(name for page in inline for name in page["PolicyNames"]),
                "attached": sorted(
                    p["PolicyArn"] for page in attached for p in page["AttachedPolicies"]
                ),
            }

    def outside(self, path: str) -> list[dict]:
        """Every user whose path is not under ``path``: name and path, one paginated read."""
        with aws_errors("listing the account's users"):
            pages = self.client.get_paginator("list_users").paginate()
            return [
                {"username": u["UserName"], "path": u["Path"]}
                for page in pages
                for u in page["Users"]
                if not u["Path"].startswith(path)
            ]

    def set_path(self, username: str, path: str) -> None:
        """UpdateUser's NewPath: the same user (UserId, keys, password, MFA, groups, policies)
        under a new ARN."""
        with aws_errors(f"moving user {username} to the path {path}"):
            self.client.update_user(UserName=username, NewPath=path)
