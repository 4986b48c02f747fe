"""What a complete offboarding removes: each kind of dependent object, how to list it and how to
remove one, and the IAM actions that takes.

The lists are all read in the operation's first wave (they depend on nothing but the name); the
removals then run by id in the waves the data allows: access first (groups, keys deactivated,
console), every other dependent next, virtual MFA devices once deactivated, and the user last.
Every removal tolerates ``NoSuchEntity``: a retry after a failure halfway finds part of it done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.aws.errors import aws_errors, tolerant
from chalicelib.kernel.errors import AccessDenied, NotFound
from chalicelib.lifecycle.offboarding import ACCESS, AFTER_MFA, CLEANUP, USER


@dataclass(frozen=True)
class Kind:
    kind: str
    phase: int
    # (client, username, id) -> whether it was there to remove
    remove: Callable[[Any, str, str], bool]
    permissions: tuple[str, ...]
    # (operation, key in the answer, field of each item, or None when items are ids); None:
    # the ids come from elsewhere (the user itself, its boundary)
    listing: tuple[str, str, str | None] | None = None


def listed(client: Any, username: str, listing: tuple[str, str, str | None]) -> list[str]:
    """Every page of one list call; empty when the user is gone (or not the app's to see)."""
    operation, key, field = listing
    try:
        with aws_errors(f"listing {key} of {username}"):
            if operation == "list_service_specific_credentials":  # not paginated in the API
                pages: Any = [client.list_service_specific_credentials(UserName=username)]
            else:
                pages = client.get_paginator(operation).paginate(UserName=username)
            return [item[field] if field else item for page in pages for item in page[key]]
    except (NotFound, AccessDenied):
        return []


def _by(call: str, id_param: str | None, **fixed: str) -> Callable[[Any, str, str], bool]:
    """A removal: ``call`` with the user name and the id (as ``id_param``)."""

    def remove(client: Any, username: str, item: str) -> bool:
        params = {"UserName": username, **fixed, **({id_param: item} if id_param else {})}
        return tolerant(getattr(client, call), f"{call.replace('_', ' ')} {item}", **params)

    return remove


def _delete_virtual_mfa(client: Any, username: str, serial: str) -> bool:
    return tolerant(
        client.delete_virtual_mfa_device, f"deleting MFA device {serial}", SerialNumber=serial
    )


KEYS = ("list_access_keys", "AccessKeyMetadata", "AccessKeyId")
MFA = ("list_mfa_devices", "MFADevices", "SerialNumber")
KINDS: tuple[Kind, ...] = (
    Kind(
        "groups",
        ACCESS,
        _by("remove_user_from_group", "GroupName"),
        ("iam:ListGroupsForUser", "iam:RemoveUserFromGroup"),
        ("list_groups_for_user", "Groups", "GroupName"),
    ),
    Kind(
        "access_keys",
        ACCESS,
        _by("update_access_key", "AccessKeyId", Status="Inactive"),
        ("iam:ListAccessKeys", "iam:UpdateAccessKey"),
        KEYS,
    ),
    Kind("login_profile", ACCESS, _by("delete_login_profile", None), ("iam:DeleteLoginProfile",)),
    Kind(
        "deleted_access_keys",
        CLEANUP,
        _by("delete_access_key", "AccessKeyId"),
        ("iam:ListAccessKeys", "iam:DeleteAccessKey"),
        KEYS,
    ),
    Kind(
        "signing_certificates",
        CLEANUP,
        _by("delete_signing_certificate", "CertificateId"),
        ("iam:ListSigningCertificates", "iam:DeleteSigningCertificate"),
        ("list_signing_certificates", "Certificates", "CertificateId"),
    ),
    Kind(
        "ssh_public_keys",
        CLEANUP,
        _by("delete_ssh_public_key", "SSHPublicKeyId"),
        ("iam:ListSSHPublicKeys", "iam:DeleteSSHPublicKey"),
        ("list_ssh_public_keys", "SSHPublicKeys", "SSHPublicKeyId"),
    ),
    Kind(
        "service_specific_credentials",
        CLEANUP,
        _by("delete_service_specific_credential", "ServiceSpecificCredentialId"),
        ("iam:ListServiceSpecificCredentials", "iam:DeleteServiceSpecificCredential"),
        (
            "list_service_specific_credentials",
            "ServiceSpecificCredentials",
            "ServiceSpecificCredentialId",
        ),
    ),
    Kind(
        "mfa_devices",
        CLEANUP,
        _by("deactivate_mfa_device", "SerialNumber"),
        ("iam:ListMFADevices", "iam:DeactivateMFADevice"),
        MFA,
    ),
    Kind(
        "inline_policies",
        CLEANUP,
        _by("delete_user_policy", "PolicyName"),
        ("iam:ListUserPolicies", "iam:DeleteUserPolicy"),
        ("list_user_policies", "PolicyNames", None),
    ),
    Kind(
        "attached_policies",
        CLEANUP,
        _by("detach_user_policy", "PolicyArn"),
        ("iam:ListAttachedUserPolicies", "iam:DetachUserPolicy"),
        ("list_attached_user_policies", "AttachedPolicies", "PolicyArn"),
    ),
    Kind(
        "permissions_boundary",
        CLEANUP,
        _by("delete_user_permissions_boundary", None),
        ("iam:GetUser", "iam:DeleteUserPermissionsBoundary"),
    ),
    # Virtual devices: those assigned, and the one the self-service policy lets the person
    # create under their own name, left unassigned when they never finished enabling it.
    Kind(
        "virtual_mfa_devices",
        AFTER_MFA,
        _delete_virtual_mfa,
        ("iam:GetUser", "iam:DeleteVirtualMFADevice"),
    ),
    Kind("user", USER, _by("delete_user", None), ("iam:DeleteUser",)),
)
LISTINGS = {kind.listing for kind in KINDS if kind.listing}
