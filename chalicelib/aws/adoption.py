"""IAM as adoption reads and changes it: a user outside the service's path as a whole (its
groups, inline and attached policies, boundary, tags, credentials), and its path. The stage's
policy lets the service read and move only the users an administrator marked for adoption
(the tag ``iam-lifecycle:adopt`` = ``true``); every other user outside its path stays
invisible to it, and the answer for one is AccessDenied."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import AccessDenied, NotFound


def _document(raw: Any) -> dict:
    return raw if isinstance(raw, dict) else json.loads(unquote(raw))


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

    def authorizations(self) -> dict[str, dict]:
        """Every user's groups, inline policies (name -> document) and attached policies, by
        canonical name, in one paginated read (GetAccountAuthorizationDetails)."""
        found: dict[str, dict] = {}
        with aws_errors("reading the account's users and their policies"):
            pages = self.client.get_paginator("get_account_authorization_details").paginate(
                Filter=["User"], PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                for user in page.get("UserDetailList", []):
                    found[user["UserName"].lower()] = {
                        "username": user["UserName"],
                        "path": user["Path"],
                        "id": user["UserId"],
                        "groups": sorted(user.get("GroupList", [])),
                        "inline": {
                            p["PolicyName"]: _document(p["PolicyDocument"])
                            for p in user.get("UserPolicyList", [])
                        },
                        "attached": sorted(
                            p["PolicyArn"] for p in user.get("AttachedManagedPolicies", [])
                        ),
                        "boundary": (user.get("PermissionsBoundary") or {}).get(
                            "PermissionsBoundaryArn"
                        ),
                    }
        return found

    def set_path(self, username: str, path: str) -> None:
        """UpdateUser's NewPath: the same user (UserId, keys, password, MFA, groups, policies)
        under a new ARN."""
        with aws_errors(f"moving user {username} to the path {path}"):
            self.client.update_user(UserName=username, NewPath=path)
