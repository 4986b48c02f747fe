"""What IAM holds in the test's moto, read from moto's IAM backend: to compare before and after.

The property tests check that a rejected request changed nothing in IAM, before and after every
example. Through boto3 that is a signed request per list and per user or group, each parsed and
answered by moto: most of those modules' CPU time, growing as accepted examples add users. The
backend gives the same facts in microseconds, so the check can look at everything:

- every user: path and id, groups, login profile, access keys (id, status), attached policies
  (ARN and document) and inline ones (name and document), tags, MFA devices, signing
  certificates, SSH keys, service-specific credentials, permissions boundary;
- every group: path and id, members, attached and inline policies;
- every role: path and id, trust policy, attached and inline policies, tags, boundary;
- the virtual MFA devices and whom each is enabled for;

in the root account and each child account of the world tests/support/world.py provisions.

Reading the backend is faithful here: each fact is read where moto's IAM answers read it (the
backend methods its API handlers call, with devstack's changes to them in place: names as
stored whatever their case, tags that follow a user whose path changed, the service-specific
credentials and boundaries devstack/moto_iam_extras.py adds), and a check only compares two
reads of the same moto. tests/service/test_iam_fingerprint.py changes each kind of fact through
boto3 and shows the fingerprint sees it. Only in the process that runs moto: the in-process
mock of the tests, not the local stack's server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devstack.local import CHILD_ACCOUNTS, ROOT_ACCOUNT

WORLD_ACCOUNTS = (ROOT_ACCOUNT, *CHILD_ACCOUNTS)


def iam_fingerprint(accounts: Iterable[str] = WORLD_ACCOUNTS, partition: str = "aws") -> dict:
    """Each account's IAM as plain values (no moto objects): equal exactly when nothing the
    module docstring lists changed."""
    from moto.iam.models import iam_backends

    return {account: _account(iam_backends[account][partition]) for account in accounts}


def iam_changes(before: dict, after: dict) -> list[str]:
    """What differs between two fingerprints, one line per fact: ``where: before -> after``."""
    return list(_changes("", before, after))


def changed_since(before: dict) -> list[str]:
    """What differs in IAM now from the fingerprint ``before`` (of the world's accounts)."""
    return iam_changes(before, iam_fingerprint())


def _account(backend: Any) -> dict:
    return {
        "users": {user.name: _user(backend, user) for user in backend.list_users(None, None, None)},
        "groups": {group.name: _group(group) for group in backend.list_groups()},
        "roles": {role.name: _role(role) for role in backend.get_roles()},
        "virtual_mfa_devices": {
            serial: device.user.name if device.user is not None else None
            for serial, device in backend.virtual_mfa_devices.items()
        },
    }


def _user(backend: Any, user: Any) -> dict:
    name = user.name
    boundary = user.permissions_boundary  # devstack/moto_iam_extras.py
    return {
        "path": user.path,
        "id": user.id,
        "groups": sorted(group.name for group in backend.get_groups_for_user(name)),
        # GetLoginProfile answers NoSuchEntity when moto holds no password
        "login_profile": {"reset_required": user.password_reset_required}
        if user.password
        else None,
        "access_keys": sorted((k.access_key_id, k.status) for k in backend.list_access_keys(name)),
        "attached_policies": _attached(user.managed_policies),
        "inline_policies": dict(sorted(user.policies.items())),
        "tags": sorted((tag["Key"], tag["Value"]) for tag in backend.list_user_tags(name)),
        "mfa_devices": sorted(device.serial_number for device in backend.list_mfa_devices(name)),
        "signing_certificates": sorted(
            (cert.id, cert.status) for cert in backend.list_signing_certificates(name)
        ),
        "ssh_public_keys": sorted(
            (key.ssh_public_key_id, key.status) for key in backend.get_all_ssh_public_keys(name)
        ),
        "service_specific_credentials": sorted(
            (c.service_specific_credential_id, c.status)
            for c in backend.list_service_specific_credentials(name)
        ),
        "permissions_boundary": boundary["PermissionsBoundaryArn"] if boundary else None,
    }


def _group(group: Any) -> dict:
    return {
        "path": group.path,
        "id": group.id,
        "members": sorted(user.name for user in group.users),
        "attached_policies": _attached(group.managed_policies),
        "inline_policies": dict(sorted(group.policies.items())),
    }


def _role(role: Any) -> dict:
    return {
        "path": role.path,
        "id": role.id,
        "trust_policy": role.assume_role_policy_document,
        "attached_policies": _attached(role.managed_policies),
        "inline_policies": dict(sorted(role.policies.items())),
        "tags": sorted((tag["Key"], tag["Value"]) for tag in role.tags or []),
        "permissions_boundary": role.permissions_boundary_arn,
    }


def _attached(policies: dict) -> dict[str, Any]:
    """Attached managed policies by ARN, each with the document of its default version."""
    return {
        policy.arn: next((v.document for v in policy.versions if v.is_default), None)
        for policy in sorted(policies.values(), key=lambda p: p.arn)
    }


def _changes(where: str, before: Any, after: Any) -> Iterable[str]:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            here = f"{where}/{key}" if where else str(key)
            if key not in after:
                yield f"{here}: removed (was {_short(before[key])})"
            elif key not in before:
                yield f"{here}: added {_short(after[key])}"
            else:
                yield from _changes(here, before[key], after[key])
        return
    yield f"{where}: {_short(before)} -> {_short(after)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."
