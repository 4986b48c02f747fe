"""A first deployment file, read from the account it will run in: the organization's accounts
and OUs (AWS Organizations answers these in the management account or a delegated
administrator), and the account's existing IAM groups and users.

What it cannot decide is left for the adopter and said in the file's comments: which existing
groups the service may manage (the groups stack makes its own two), which people are protected,
and Slack's members.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from deploy.model import TEMPLATE_GROUPS


def first_file(
    stage: str, profile: str | None = None, region: str | None = None, session: Any = None
) -> str:
    """The YAML text of a first deployment file of one stage."""
    session = session or boto3.session.Session(profile_name=profile, region_name=region)
    found = read(session)
    document = {
        "region": region or session.region_name or "us-east-1",
        "stages": {
            stage: {
                "accounts": {
                    "root": found["account"],
                    "children": [a["id"] for a in found["children"]],
                },
                "managed_path": "/managed/",
                "access_keys": "none",
                "allowed_groups": list(TEMPLATE_GROUPS),
                "grant_max_hours": {"BreakGlassGroup": 4},
                "protected_users": [],
                "approval_policies": {},
                "slack": {"allowed_users": []},
                "scim": {"groups": ["ChildDeveloperGroup"]},
                "log_level": "INFO",
            }
        },
    }
    return _comments(found) + yaml.safe_dump(document, sort_keys=False)


def read(session: Any) -> dict[str, Any]:
    """{"account", "organization"?, "children": [{"id", "name", "ou"}], "units": [{"id",
    "name", "path"}], "groups": [{"name", "path", "members"}], "users": [{"name", "path"}],
    "unread": [what could not be read, and AWS's reason]}."""
    account = session.client("sts").get_caller_identity()["Account"]
    found: dict[str, Any] = {"account": account, "children": [], "units": [], "unread": []}
    org = session.client("organizations")
    try:
        organization = org.describe_organization()["Organization"]
        found["organization"] = organization["Id"]
        management = organization["MasterAccountId"]
        parents = {}
        for root in _pages(org, "list_roots", "Roots"):
            parents[root["Id"]] = "/"
            for unit, path in _units(org, root["Id"], "/"):
                found["units"].append({"id": unit["Id"], "name": unit["Name"], "path": path})
                parents[unit["Id"]] = path
        for parent, path in parents.items():
            for child in _pages(org, "list_accounts_for_parent", "Accounts", ParentId=parent):
                if child["Status"] == "ACTIVE" and child["Id"] not in (management, account):
                    found["children"].append({"id": child["Id"], "name": child["Name"], "ou": path})
    except (ClientError, BotoCoreError) as error:
        found["unread"].append(f"the organization: {_reason(error)}")
    found["children"].sort(key=lambda child: child["id"])
    iam = session.client("iam")
    try:
        found["groups"] = [
            {
                "name": group["GroupName"],
                "path": group["Path"],
                "members": len(_pages(iam, "get_group", "Users", GroupName=group["GroupName"])),
            }
            for group in _pages(iam, "list_groups", "Groups")
        ]
        found["users"] = [
            {"name": user["UserName"], "path": user["Path"]}
            for user in _pages(iam, "list_users", "Users")
        ]
    except (ClientError, BotoCoreError) as error:
        found["groups"], found["users"] = [], []
        found["unread"].append(f"IAM's groups and users: {_reason(error)}")
    return found


def _pages(client: Any, method: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    if client.can_paginate(method):
        return [
            item for page in client.get_paginator(method).paginate(**kwargs) for item in page[key]
        ]
    return list(getattr(client, method)(**kwargs)[key])


def _units(org: Any, parent: str, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    for unit in _pages(
        org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
    ):
        here = f"{path}{unit['Name']}/"
        yield unit, here
        yield from _units(org, unit["Id"], here)


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error']['Code']}: {error.response['Error'].get('Message', '')}"
    return type(error).__name__


def _comments(found: dict[str, Any]) -> str:
    lines = [
        "# iam-lifecycle deployment file, written by `python -m deploy init` from account "
        f"{found['account']}.",
        "# Keep it outside the repository; check it with `python -m deploy check --config <this file>`.",
        "# Every key: docs/deploying.md#the-deployment-file.",
        "#",
    ]
    if found.get("organization"):
        lines.append(f"# Organization {found['organization']}; its organizational units (to use as")
        lines.append("# stages.<stage>.accounts.organizational_units):")
        lines += [f"#   {unit['id']}  {unit['path']}" for unit in found["units"]] or ["#   (none)"]
        lines.append(
            "# Child accounts found (ACTIVE, not the management account), in accounts.children:"
        )
        lines += [f"#   {c['id']}  {c['name']}  ({c['ou']})" for c in found["children"]] or [
            "#   (none)"
        ]
    lines.append(
        "# Existing IAM groups (allowed_groups holds the groups stack's own two; list another"
    )
    lines.append("# only if the service should manage its membership):")
    lines += [
        f"#   {g['name']}  (path {g['path']}, {g['members']} members)"
        for g in found.get("groups", [])
    ] or ["#   (none)"]
    lines.append("# Existing IAM users: the service does not see users outside managed_path; bring")
    lines.append("# them under management with adoption (docs/adopting.md), and list in")
    lines.append("# protected_users anyone it must always refuse (break-glass owners):")
    lines += [f"#   {u['name']}  (path {u['path']})" for u in found.get("users", [])] or [
        "#   (none)"
    ]
    lines += [f"# Not read: {what}" for what in found["unread"]]
    return "\n".join(lines) + "\n"
