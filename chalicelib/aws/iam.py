"""IAM in the root account: plain data in and out, botocore errors turned into the app's own."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import unquote

from chalicelib.aws import iam_cleanup
from chalicelib.aws.errors import NotReady, aws_errors, tolerant
from chalicelib.kernel.errors import AccessDenied, Conflict, NotFound


def _document(raw: Any) -> dict:
    """IAM returns policy documents URL-encoded in its XML API; boto3 usually decodes them."""
    if isinstance(raw, dict):
        return raw
    return json.loads(unquote(raw))


class IamGateway:
    """What the lifecycle needs from IAM, and nothing else."""

    cleanup_kinds = iam_cleanup.KINDS

    def __init__(self, client: Any) -> None:
        self.client = client

    # what an offboarding removes
    def dependents(self, username: str) -> dict[tuple, Callable[[], list[str]]]:
        """The reads of every dependent list: tasks for the operation's first wave."""
        return {
            listing: partial(iam_cleanup.listed, self.client, username, listing)
            for listing in iam_cleanup.LISTINGS
        }

    def remove_dependent(self, kind: Any, username: str, item: str) -> bool:
        """Remove one dependent; False when it was gone already."""
        return kind.remove(self.client, username, item)

    # users
    def get_user(self, username: str) -> dict | None:
        """The user, or None when it does not exist or lies outside what the app may read."""
        try:
            with aws_errors(f"reading user {username}"):
                user = self.client.get_user(UserName=username)["User"]
        except (NotFound, AccessDenied):
            # The app's policy covers only its path: any other user is invisible to it.
            return None
        return {
            "username": user["UserName"],
            "arn": user["Arn"],
            "path": user["Path"],
            "id": user["UserId"],
            "created": user["CreateDate"].isoformat(),
            "password_last_used": _iso(user.get("PasswordLastUsed")),
            "tags": {tag["Key"]: tag["Value"] for tag in user.get("Tags", [])},
            "boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        }

    def create_user(self, username: str, path: str, tags: dict[str, str]) -> dict | None:
        """The new user, its ``id`` (IAM's UserId) the person's; None when the name is taken
        (by any user, in any case, at any path: IAM answers the same for all of them)."""
        try:
            with aws_errors(f"creating user {username}"):
                user = self.client.create_user(
                    UserName=username,
                    Path=path,
                    Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
                )["User"]
        except Conflict as error:
            if _code(error.__cause__) == "EntityAlreadyExists":
                return None
            raise
        return {
            "username": user["UserName"],
            "arn": user["Arn"],
            "path": user["Path"],
            "id": user["UserId"],
        }

    def tag_user(self, username: str, tags: dict[str, str]) -> None:
        with aws_errors(f"tagging user {username}"):
            self.client.tag_user(
                UserName=username,
                Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
            )

    def untag_user(self, username: str, keys: list[str]) -> None:
        with aws_errors(f"untagging user {username}"):
            self.client.untag_user(UserName=username, TagKeys=keys)

    def has_login_profile(self, username: str) -> bool:
        try:
            with aws_errors(f"reading the console login of {username}"):
                self.client.get_login_profile(UserName=username)
        except NotFound:
            return False
        return True

    def set_console_password(self, username: str, password: str, new_user: bool = False) -> None:
        """Create the console login, or replace its password (a retry must hand out a password
        that works: the one of an attempt that failed afterwards was never seen by anyone).
        A ``new_user`` has none: no need to look (a dry run's user does not exist to look at)."""
        if not new_user and self.has_login_profile(username):
            with aws_errors(f"resetting the console password of {username}"):
                self.client.update_login_profile(
                    UserName=username, Password=password, PasswordResetRequired=True
                )
            return
        with aws_errors(f"creating the console login of {username}"):
            self.client.create_login_profile(
                UserName=username, Password=password, PasswordResetRequired=True
            )

    def login_profile(self, username: str) -> dict | None:
        """The console login (when its password was set), or None."""
        try:
            with aws_errors(f"reading the console login of {username}"):
                profile = self.client.get_login_profile(UserName=username)["LoginProfile"]
        except NotFound:
            return None
        return {"created": _iso(profile.get("CreateDate"))}

    def delete_login_profile(self, username: str) -> bool:
        """False when there was none."""
        return tolerant(
            self.client.delete_login_profile,
            f"deleting the console login of {username}",
            UserName=username,
        )

    def attach_user_policy(self, username: str, policy_arn: str) -> None:
        with aws_errors(f"attaching {policy_arn} to {username}"):
            self.client.attach_user_policy(UserName=username, PolicyArn=policy_arn)

    def detach_user_policy(self, username: str, policy_arn: str) -> bool:
        """False when it was not attached (or is gone)."""
        return tolerant(
            self.client.detach_user_policy,
            f"detaching {policy_arn} from {username}",
            UserName=username,
            PolicyArn=policy_arn,
        )

    def add_to_group(self, username: str, group: str) -> None:
        with aws_errors(f"adding {username} to {group}"):
            self.client.add_user_to_group(UserName=username, GroupName=group)

    def remove_from_group(self, username: str, group: str) -> bool:
        return tolerant(
            self.client.remove_user_from_group,
            f"removing {username} from {group}",
            UserName=username,
            GroupName=group,
        )

    def set_key_status(self, username: str, key_id: str, status: str) -> bool:
        return tolerant(
            self.client.update_access_key,
            f"setting key {key_id} {status}",
            UserName=username,
            AccessKeyId=key_id,
            Status=status,
        )

    def create_access_key(self, username: str) -> dict:
        """A new access key: its id and secret, which IAM shows only in this answer."""
        with aws_errors(f"creating an access key for {username}"):
            key = self.client.create_access_key(UserName=username)["AccessKey"]
        return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}

    def delete_access_key(self, username: str, key_id: str) -> bool:
        return tolerant(
            self.client.delete_access_key,
            f"deleting key {key_id}",
            UserName=username,
            AccessKeyId=key_id,
        )

    def account_alias(self) -> str | None:
        """The account's alias (an account has at most one), or None."""
        with aws_errors("reading the account's alias"):
            aliases = self.client.list_account_aliases()["AccountAliases"]
        return aliases[0] if aliases else None

    def groups_of(self, username: str) -> list[str]:
        with aws_errors(f"listing the groups of {username}"):
            pages = self.client.get_paginator("list_groups_for_user").paginate(UserName=username)
            return sorted(group["GroupName"] for page in pages for group in page["Groups"])

    def access_keys(self, username: str) -> list[dict]:
        """The user's keys: id and status (their last use: :meth:`last_used`)."""
        with aws_errors(f"listing the access keys of {username}"):
            pages = self.client.get_paginator("list_access_keys").paginate(UserName=username)
            return [
                {"id": key["AccessKeyId"], "status": key["Status"]}
                for page in pages
                for key in page["AccessKeyMetadata"]
            ]

    def key_facts(self, username: str) -> list[dict]:
        """The user's keys with their creation times: id, status, created."""
        with aws_errors(f"listing the access keys of {username}"):
            pages = self.client.get_paginator("list_access_keys").paginate(UserName=username)
            return [
                {
                    "id": key["AccessKeyId"],
                    "status": key["Status"],
                    "created": _iso(key["CreateDate"]),
                }
                for page in pages
                for key in page["AccessKeyMetadata"]
            ]

    def last_used(self, key_id: str) -> str | None:
        with aws_errors(f"reading when key {key_id} was last used"):
            used = self.client.get_access_key_last_used(AccessKeyId=key_id)
        last = used.get("AccessKeyLastUsed", {}).get("LastUsedDate")
        return last.isoformat() if last else None

    def mfa_devices(self, username: str) -> list[str]:
        with aws_errors(f"listing the MFA devices of {username}"):
            pages = self.client.get_paginator("list_mfa_devices").paginate(UserName=username)
            return [device["SerialNumber"] for page in pages for device in page["MFADevices"]]

    # groups and what they allow
    def users(self) -> list[dict]:
        """Every user of the account with its id, path, groups, creation time and tags, in one
        paginated read."""
        return list(self._details(("User",), ())["users"])

    def account(self, groups: tuple[str, ...]) -> dict:
        """The whole account in one paginated read (GetAccountAuthorizationDetails): every user
        with its path and groups, and the policy documents of each of ``groups`` that exists
        (inline and attached local managed ones). Other groups' policies are not used: they
        are not the service's to read."""
        return self._details(("User", "Group", "LocalManagedPolicy"), groups)

    def group_access(self, groups: tuple[str, ...]) -> dict[str, list[dict]]:
        """The policy documents of each of ``groups`` that exists, in one whole-account read
        instead of four calls per group."""
        return self._details(("Group", "LocalManagedPolicy"), groups)["access"]

    def _details(self, kinds: tuple[str, ...], groups: tuple[str, ...]) -> dict:
        wanted = set(groups)
        found: dict[str, list[dict]] = {}
        attached: dict[str, list[str]] = {}
        local: dict[str, dict] = {}
        users: list[dict] = []
        with aws_errors("reading the account's users, groups and policies"):
            pages = self.client.get_paginator("get_account_authorization_details").paginate(
                Filter=list(kinds), PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                users += [
                    {
                        "username": u["UserName"],
                        "arn": u["Arn"],
                        "path": u["Path"],
                        "groups": sorted(u.get("GroupList", [])),
                        "id": u["UserId"],
                        "created": _iso(u.get("CreateDate")),
                        "tags": {t["Key"]: t["Value"] for t in u.get("Tags", [])},
                    }
                    for u in page.get("UserDetailList", [])
                ]
                for group in page.get("GroupDetailList", []):
                    if group["GroupName"] in wanted:
                        found[group["GroupName"]] = [
                            _document(p["PolicyDocument"]) for p in group.get("GroupPolicyList", [])
                        ]
                        attached[group["GroupName"]] = [
                            p["PolicyArn"] for p in group.get("AttachedManagedPolicies", [])
                        ]
                for policy in page.get("Policies", []):
                    default = [
                        v for v in policy.get("PolicyVersionList", []) if v.get("IsDefaultVersion")
                    ]
                    if default:
                        local[policy["Arn"]] = _document(default[0]["Document"])
        # An AWS managed policy cannot name this company's child roles: only the local ones can
        # let a group assume them, so only theirs are read.
        for group, arns in attached.items():
            found[group] += [local[arn] for arn in arns if arn in local]
        return {"users": sorted(users, key=lambda u: u["username"]), "access": found}

    def credential_report(
        self,
        attempts: int = 10,
        wait: float = 0.5,
        reuse_after: datetime | None = None,
    ) -> dict:
        """IAM's credential report: {"generated": datetime, "users": {name: row}}. AWS makes a
        new one at most every four hours and answers the last one meanwhile; while one is being
        made, this waits and asks again. With ``reuse_after``, a report made since then is read
        as it is, without asking for a new one."""
        import time

        if reuse_after is not None:
            try:
                with aws_errors("reading the credential report"):
                    report = self.client.get_credential_report()
                if report["GeneratedTime"] >= reuse_after:
                    return _report(report)
            except NotReady:
                pass  # none yet, or expired: make one
        for attempt in range(attempts):
            with aws_errors("generating the credential report"):
                state = self.client.generate_credential_report()["State"]
            try:
                with aws_errors("reading the credential report"):
                    report = self.client.get_credential_report()
                break
            except NotReady:
                if state == "COMPLETE" or attempt == attempts - 1:
                    raise
            time.sleep(wait * (attempt + 1))
        return _report(report)


def _report(report: dict) -> dict:
    import csv
    import io

    rows = csv.DictReader(io.StringIO(report["Content"].decode()))
    return {"generated": report["GeneratedTime"], "users": {r["user"]: r for r in rows}}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _code(error: BaseException | None) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
