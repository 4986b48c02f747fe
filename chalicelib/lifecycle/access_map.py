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


# Where a person's own credentials come from: a console sign-in (`aws login`) or an access key.
LOGIN_SESSION, ACCESS_KEY = "login_session", "access_key"


def user_arn(root_account_id: str, path: str, username: str) -> str:
    """The person's ARN as IAM writes it, path included (``aws login`` names the session so)."""
    return f"arn:aws:iam::{root_account_id}:user{path}{username}"


def mfa_serial(root_account_id: str, username: str) -> str:
    """The virtual MFA device the self-service policy lets a person create: named after them."""
    return f"arn:aws:iam::{root_account_id}:mfa/{username}"


def source_profile(root_account_id: str, username: str) -> str:
    """The profile of the person's own credentials in the root account, named as the role
    profiles are (``<account>-<who>``): ``aws login --profile 123456789012-pete``."""
    return f"{root_account_id}-{username}"


def needs_mfa(role: str, mfa_roles: frozenset[str]) -> bool:
    return "*" in mfa_roles or role in mfa_roles


def profiles(roles: Iterable[str], mfa_roles: frozenset[str]) -> list[dict]:
    """The profiles of ``aws_config``: name, role and whether assuming it asks for MFA."""
    return [
        {
            "profile": profile_name(arn),
            "role_arn": arn,
            "mfa": needs_mfa(account_and_role(arn)[1], mfa_roles),
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
    managed_path: str,
    region: str,
    mfa_roles: frozenset[str],
    credentials: str = LOGIN_SESSION,
) -> str:
    """The profiles a person adds to ``~/.aws/config``: their own (source) profile, then one per
    reachable role with ``source_profile`` set to it.

    With ``credentials`` = ``login_session`` (the default) the source profile names the person's
    sign-in session (``login_session`` = their user ARN): ``aws login --profile <it>`` fills it
    from a console sign-in, with no long-lived key. With ``access_key`` it holds only the region;
    the key goes into ``~/.aws/credentials`` under the same name (:func:`aws_credentials`).
    """
    source = source_profile(root_account_id, username)
    if credentials == LOGIN_SESSION:
        lead = f"Sign the CLI in with: aws login --profile {source}"
        own = [f"login_session = {user_arn(root_account_id, managed_path, username)}"]
    elif credentials == ACCESS_KEY:
        lead = f"Your access key belongs in ~/.aws/credentials under [{source}]"
        own = []
    else:
        raise ValueError(f"unknown credentials {credentials!r}")
    lines = [
        f"# Profiles of {username}. {lead}",
        f"[profile {source}]",
        *own,
        f"region = {region}",
    ]
    for profile in profiles(roles, mfa_roles):
        lines += [
            "",
            f"[profile {profile['profile']}]",
            f"source_profile = {source}",
            f"role_arn = {profile['role_arn']}",
            f"role_session_name = {username}",
        ]
        if profile["mfa"]:
            lines.append(f"mfa_serial = {mfa_serial(root_account_id, username)}")
        lines.append(f"region = {region}")
    return "\n".join(lines) + "\n"


def aws_credentials(profile: str, key_id: str, secret: str) -> str:
    """The ``~/.aws/credentials`` section of an access key, under the source profile's name."""
    return f"[{profile}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
