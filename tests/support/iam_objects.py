"""Give a user one of every kind of IAM object that hangs off it, as people accumulate them."""

from __future__ import annotations

import datetime
import functools
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

S3_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)
# What an offboarding's answer names under "removed" for a user given every dependent (below):
# the user and each kind of object that hangs off it.
REMOVED_KINDS = frozenset(
    {
        "groups",
        "access_keys",
        "login_profile",
        "signing_certificates",
        "ssh_public_keys",
        "service_specific_credentials",
        "mfa_devices",
        "inline_policies",
        "attached_policies",
        "permissions_boundary",
        "user",
    }
)


@functools.cache
def _keys() -> tuple[str, str]:
    """A self-signed X.509 certificate and an OpenSSH public key (made once per process)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signing")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    ssh = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), ssh.decode()


def give_every_dependent(
    iam, username: str, account: str = "123456789012", keys: int = 2
) -> dict[str, list[str]]:
    """``keys`` access keys (IAM allows two), a signing certificate, an SSH key, a service-specific credential, an
    enabled virtual MFA device, an inline and an attached policy, and a permissions boundary."""
    cert, ssh = _keys()
    created: dict[str, list[str]] = {}
    created["access_keys"] = sorted(
        iam.create_access_key(UserName=username)["AccessKey"]["AccessKeyId"] for _ in range(keys)
    )
    created["signing_certificates"] = [
        iam.upload_signing_certificate(UserName=username, CertificateBody=cert)["Certificate"][
            "CertificateId"
        ]
    ]
    created["ssh_public_keys"] = [
        iam.upload_ssh_public_key(UserName=username, SSHPublicKeyBody=ssh)["SSHPublicKey"][
            "SSHPublicKeyId"
        ]
    ]
    created["service_specific_credentials"] = [
        iam.create_service_specific_credential(
            UserName=username,
            ServiceName="codecommit.amazonaws.com",
        )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    ]
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=username)["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName=username,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    created["mfa_devices"] = [serial]
    iam.put_user_policy(UserName=username, PolicyName="extra-s3", PolicyDocument=S3_READ)
    created["inline_policies"] = ["extra-s3"]
    boundary = f"arn:aws:iam::{account}:policy/ManagedUserSelfService"
    iam.put_user_permissions_boundary(UserName=username, PermissionsBoundary=boundary)
    created["permissions_boundary"] = [boundary]
    return created


def left_in_iam(iam, usernames) -> list[str]:
    """What the account still holds of these users: the users, their group memberships and MFA
    devices (moto drops a deleted user's keys, certificates and policies with it, not these)."""
    wanted = {name.lower() for name in usernames}

    def pages(operation: str, key: str, **params):
        for page in iam.get_paginator(operation).paginate(**params):
            yield from page[key]

    left = [
        f"user {user['UserName']}"
        for user in pages("list_users", "Users")
        if user["UserName"].lower() in wanted
    ]
    for group in pages("list_groups", "Groups"):
        left += [
            f"{group['GroupName']} member {user['UserName']}"
            for user in pages("get_group", "Users", GroupName=group["GroupName"])
            if user["UserName"].lower() in wanted
        ]
    left += [
        f"MFA device {device['SerialNumber']}"
        for device in pages("list_virtual_mfa_devices", "VirtualMFADevices")
        if device["SerialNumber"].rsplit("/", 1)[-1].lower() in wanted
        or device.get("User", {}).get("UserName", "").lower() in wanted
    ]
    return left
