"""The steps of a complete offboarding, one small function of ``(client, username)`` each.

Every step lists what it removes, tolerates ``NoSuchEntity`` (a retry after a failure halfway
finds part of the work done), paginates every list, and declares the IAM actions it calls.
Access-removing steps run first, in one parallel wave; the rest in a second wave; then the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.iam_gateway import aws_errors, tolerant


@dataclass(frozen=True)
class Step:
    kind: str
    # Yields each id once removed, so a failure halfway still reports what went before it.
    run: Callable[[Any, str], Iterable[str]]
    permissions: tuple[str, ...]


def _listed(client: Any, operation: str, key: str, field: str | None, **params: Any) -> list[str]:
    """Every page of a list call; ``field`` picks the id from each item (None: items are ids)."""
    try:
        with aws_errors(f"listing {key} of {params.get('UserName')}"):
            pages = client.get_paginator(operation).paginate(**params)
            return [item[field] if field else item for page in pages for item in page[key]]
    except NotFound:
        return []


def deactivate_access_keys(client: Any, username: str) -> Iterable[str]:
    keys = _listed(client, "list_access_keys", "AccessKeyMetadata", "AccessKeyId", UserName=username)
    yield from (k for k in keys if tolerant(client.update_access_key, f"deactivating key {k}",
                                     UserName=username, AccessKeyId=k, Status="Inactive"))


def delete_login_profile(client: Any, username: str) -> Iterable[str]:
    removed = tolerant(client.delete_login_profile, f"deleting the console login of {username}",
                    UserName=username)
    return [username] if removed else []


def _delete_each(list_operation: str, key: str, field: str | None, delete: str, id_param: str
                 ) -> Callable[[Any, str], Iterable[str]]:
    """A step that lists the user's objects of one kind and deletes each."""

    def step(client: Any, username: str) -> Iterable[str]:
        for item in _listed(client, list_operation, key, field, UserName=username):
            if tolerant(getattr(client, delete), f"{delete.replace('_', ' ')} {item}",
                        UserName=username, **{id_param: item}):
                yield item

    step.__name__ = delete
    return step


remove_groups = _delete_each("list_groups_for_user", "Groups", "GroupName",
                             "remove_user_from_group", "GroupName")
delete_access_keys = _delete_each("list_access_keys", "AccessKeyMetadata", "AccessKeyId",
                                  "delete_access_key", "AccessKeyId")
delete_signing_certificates = _delete_each("list_signing_certificates", "Certificates",
                                           "CertificateId", "delete_signing_certificate",
                                           "CertificateId")
delete_ssh_keys = _delete_each("list_ssh_public_keys", "SSHPublicKeys", "SSHPublicKeyId",
                               "delete_ssh_public_key", "SSHPublicKeyId")
delete_inline_policies = _delete_each("list_user_policies", "PolicyNames", None,
                                      "delete_user_policy", "PolicyName")
detach_policies = _delete_each("list_attached_user_policies", "AttachedPolicies", "PolicyArn",
                               "detach_user_policy", "PolicyArn")


def delete_service_credentials(client: Any, username: str) -> Iterable[str]:
    # Not paginated in the IAM API: one call returns every credential of the user.
    try:
        with aws_errors(f"listing the service-specific credentials of {username}"):
            listed = client.list_service_specific_credentials(UserName=username)
    except NotFound:
        return []
    ids = [c["ServiceSpecificCredentialId"] for c in listed["ServiceSpecificCredentials"]]
    yield from (i for i in ids if tolerant(client.delete_service_specific_credential,
                                    f"deleting service credential {i}", UserName=username,
                                    ServiceSpecificCredentialId=i))


def _user_arn(client: Any, username: str) -> str | None:
    try:
        with aws_errors(f"reading {username}"):
            return client.get_user(UserName=username)["User"]["Arn"]
    except NotFound:
        return None


def delete_mfa_devices(client: Any, username: str) -> Iterable[str]:
    """Deactivate every device, then delete the virtual ones: those assigned, and the one the
    self-service policy lets the person create under their own name, which is left unassigned
    when they never finished enabling it or when an earlier attempt stopped after deactivating."""
    serials = _listed(client, "list_mfa_devices", "MFADevices", "SerialNumber", UserName=username)
    for serial in serials:
        tolerant(client.deactivate_mfa_device, f"deactivating MFA device {serial}",
                 UserName=username, SerialNumber=serial)
        if ":mfa/" not in serial:  # a hardware device: nothing more to delete
            yield serial
    arn = _user_arn(client, username)
    virtual = {s for s in serials if ":mfa/" in s}
    if arn:
        virtual.add(arn.split(":user/")[0] + f":mfa/{username}")
    for serial in sorted(virtual):
        if tolerant(client.delete_virtual_mfa_device, f"deleting MFA device {serial}",
                    SerialNumber=serial):
            yield serial


def delete_permissions_boundary(client: Any, username: str) -> Iterable[str]:
    try:
        with aws_errors(f"reading {username}"):
            boundary = client.get_user(UserName=username)["User"].get("PermissionsBoundary")
    except NotFound:
        return []
    if not boundary:
        return []
    tolerant(client.delete_user_permissions_boundary, f"deleting the boundary of {username}",
          UserName=username)
    return [boundary["PermissionsBoundaryArn"]]


def delete_user(client: Any, username: str) -> Iterable[str]:
    return [username] if tolerant(client.delete_user, f"deleting user {username}", UserName=username) else []


# Wave 1: whatever grants access now. Wave 2: every remaining dependent. Then the user itself.
ACCESS_WAVE = (
    Step("groups", remove_groups, ("iam:ListGroupsForUser", "iam:RemoveUserFromGroup")),
    Step("access_keys", deactivate_access_keys, ("iam:ListAccessKeys", "iam:UpdateAccessKey")),
    Step("login_profile", delete_login_profile, ("iam:DeleteLoginProfile",)),
)
CLEANUP_WAVE = (
    Step("deleted_access_keys", delete_access_keys, ("iam:ListAccessKeys", "iam:DeleteAccessKey")),
    Step("signing_certificates", delete_signing_certificates,
         ("iam:ListSigningCertificates", "iam:DeleteSigningCertificate")),
    Step("ssh_public_keys", delete_ssh_keys, ("iam:ListSSHPublicKeys", "iam:DeleteSSHPublicKey")),
    Step("service_specific_credentials", delete_service_credentials,
         ("iam:ListServiceSpecificCredentials", "iam:DeleteServiceSpecificCredential")),
    Step("mfa_devices", delete_mfa_devices, ("iam:ListMFADevices", "iam:DeactivateMFADevice",
                                             "iam:GetUser", "iam:DeleteVirtualMFADevice")),
    Step("inline_policies", delete_inline_policies, ("iam:ListUserPolicies", "iam:DeleteUserPolicy")),
    Step("attached_policies", detach_policies,
         ("iam:ListAttachedUserPolicies", "iam:DetachUserPolicy")),
    Step("permissions_boundary", delete_permissions_boundary,
         ("iam:GetUser", "iam:DeleteUserPermissionsBoundary")),
)
USER_STEP = Step("user", delete_user, ("iam:DeleteUser",))
