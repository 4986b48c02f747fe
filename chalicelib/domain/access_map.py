"""Which child roles a set of groups lets a person assume, and the ~/.aws/config that reaches them."""

from __future__ import annotations

import re
from collections.abc import Iterable

_ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")
_ASSUME = {"sts:assumerole", "sts:*", "*"}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def assumable_roles(documents: Iterable[dict]) -> list[str]:
    """Role ARNs that Allow statements grant ``sts:AssumeRole`` on.

    Wildcard resources are not expanded: a group that may assume ``*`` names no particular role.
    An explicit Deny of a role removes it.
    """
    allowed: set[str] = set()
    denied: set[str] = set()
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            actions = {action.lower() for action in _as_list(statement.get("Action"))}
            if not actions & _ASSUME:
                continue
            roles = {arn for arn in _as_list(statement.get("Resource")) if _ROLE_ARN.match(arn)}
            (allowed if statement.get("Effect") == "Allow" else denied).update(roles)
    return sorted(allowed - denied)


def account_and_role(role_arn: str) -> tuple[str, str]:
    found = _ROLE_ARN.match(role_arn)
    if found is None:
        raise ValueError(f"not a role ARN: {role_arn}")
    account, role = found.groups()
    return account, role


def profile_name(role_arn: str) -> str:
    return "-".join(account_and_role(role_arn))


def profiles(roles: Iterable[str], mfa_roles: frozenset[str]) -> list[dict]:
    """The profiles of ``aws_config``: name, role and whether assuming it asks for MFA."""
    return [
        {
            "profile": profile_name(arn),
            "role_arn": arn,
            "mfa": account_and_role(arn)[1] in mfa_roles,
        }
        for arn in roles
    ]


def profiles_to_remove(before: Iterable[str], after: Iterable[str]) -> list[str]:
    """Profile names of the roles in ``before`` that ``after`` no longer reaches."""
    return sorted(profile_name(arn) for arn in set(before) - set(after))


def aws_config(
    username: str,
    roles: Iterable[str],
    *,
    root_account_id: str,
    region: str,
    mfa_roles: frozenset[str],
    source_profile: str = "default",
) -> str:
    """The text a person pastes into ``~/.aws/config``: one profile per reachable role."""
    lines = [
        f"# Profiles for {username}. Your own access keys belong to profile [{source_profile}].",
    ]
    for profile in profiles(roles, mfa_roles):
        lines += [
            "",
            f"[profile {profile['profile']}]",
            f"source_profile = {source_profile}",
            f"role_arn = {profile['role_arn']}",
            f"role_session_name = {username}",
        ]
        if profile["mfa"]:
            lines.append(f"mfa_serial = arn:aws:iam::{root_account_id}:mfa/{username}")
        lines.append(f"region = {region}")
    return "\n".join(lines) + "\n"
