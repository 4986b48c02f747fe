"""The IAM fingerprint the property tests compare before and after a rejected request
(tests/support/iam_fingerprint.py) reads from moto's backend what IAM's API answers, and sees
every kind of change it covers when the change is made through the API."""

from __future__ import annotations

import json

import boto3
import pytest

from devstack.local import CHILD_ACCOUNTS, ROOT_ACCOUNT, SETUP_CREDENTIALS, Provisioner
from tests.support.iam_fingerprint import iam_changes, iam_fingerprint
from tests.support.iam_objects import S3_READ, give_every_dependent

USER, BARE = "Fingerprinted", "bare"  # a stored spelling with capitals: the API answers it
GROUP, ROLE = "fingerprint-group", "fingerprint-role"
CHILD = CHILD_ACCOUNTS[0]
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ROOT_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
OTHER_TRUST = TRUST.replace(ROOT_ACCOUNT, CHILD)
DENY_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
)


@pytest.fixture
def equipped(aws, iam) -> dict:
    """A user with one of every dependent, a tag, a password and a group; a group with policies;
    a role with policies, a tag and a boundary; and a user, group and role with nothing."""
    iam.create_user(UserName=USER, Path="/managed/", Tags=[{"Key": "ticket", "Value": "T-1"}])
    created = give_every_dependent(iam, USER, keys=1)
    iam.create_login_profile(UserName=USER, Password="A-long-passw0rd!")
    policy = iam.create_policy(PolicyName="fingerprint-read", PolicyDocument=S3_READ)["Policy"]
    iam.attach_user_policy(UserName=USER, PolicyArn=policy["Arn"])
    iam.create_group(GroupName=GROUP)
    iam.add_user_to_group(GroupName=GROUP, UserName=USER)
    iam.put_group_policy(GroupName=GROUP, PolicyName="inline", PolicyDocument=S3_READ)
    iam.attach_group_policy(GroupName=GROUP, PolicyArn=policy["Arn"])
    iam.create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "team", "Value": "a"}]
    )
    iam.put_role_policy(RoleName=ROLE, PolicyName="inline", PolicyDocument=S3_READ)
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=policy["Arn"])
    iam.put_role_permissions_boundary(RoleName=ROLE, PermissionsBoundary=policy["Arn"])
    iam.create_user(UserName=BARE)
    iam.create_group(GroupName=BARE)
    iam.create_role(RoleName=BARE, AssumeRolePolicyDocument=TRUST)
    return {**created, "policy": [policy["Arn"]]}


def test_the_fingerprint_holds_what_the_api_answers(equipped, iam):
    seen = iam_fingerprint()
    assert set(seen) == {ROOT_ACCOUNT, *CHILD_ACCOUNTS}
    root = seen[ROOT_ACCOUNT]
    # Asked in another case, the API answers the stored user, as the fingerprint holds it.
    asked = USER.upper()
    user = iam.get_user(UserName=asked)["User"]
    assert set(root["users"]) == {
        u["UserName"] for page in iam.get_paginator("list_users").paginate() for u in page["Users"]
    }
    key = iam.list_access_keys(UserName=asked)["AccessKeyMetadata"][0]
    assert root["users"][USER] == {
        "path": user["Path"],
        "id": user["UserId"],
        "groups": [g["GroupName"] for g in iam.list_groups_for_user(UserName=asked)["Groups"]],
        "login_profile": {
            "reset_required": iam.get_login_profile(UserName=asked)["LoginProfile"][
                "PasswordResetRequired"
            ]
        },
        "access_keys": [(key["AccessKeyId"], key["Status"])],
        "attached_policies": {
            p["PolicyArn"]: document(iam, p["PolicyArn"])
            for p in iam.list_attached_user_policies(UserName=asked)["AttachedPolicies"]
        },
        "inline_policies": {
            name: json.dumps(iam.get_user_policy(UserName=asked, PolicyName=name)["PolicyDocument"])
            for name in iam.list_user_policies(UserName=asked)["PolicyNames"]
        },
        "tags": [(t["Key"], t["Value"]) for t in iam.list_user_tags(UserName=asked)["Tags"]],
        "mfa_devices": [
            d["SerialNumber"] for d in iam.list_mfa_devices(UserName=asked)["MFADevices"]
        ],
        "signing_certificates": [
            (c["CertificateId"], c["Status"])
            for c in iam.list_signing_certificates(UserName=asked)["Certificates"]
        ],
        "ssh_public_keys": [
            (k["SSHPublicKeyId"], k["Status"])
            for k in iam.list_ssh_public_keys(UserName=asked)["SSHPublicKeys"]
        ],
        "service_specific_credentials": [
            (c["ServiceSpecificCredentialId"], c["Status"])
            for c in iam.list_service_specific_credentials(UserName=asked)[
                "ServiceSpecificCredentials"
            ]
        ],
        "permissions_boundary": user["PermissionsBoundary"]["PermissionsBoundaryArn"],
    }
    # Every kind is there to be compared: a fingerprint of empty lists would agree too.
    assert all(root["users"][USER].values()), root["users"][USER]

    group = iam.get_group(GroupName=GROUP)
    assert root["groups"][GROUP] == {
        "path": group["Group"]["Path"],
        "id": group["Group"]["GroupId"],
        "members": [u["UserName"] for u in group["Users"]],
        "attached_policies": {
            p["PolicyArn"]: document(iam, p["PolicyArn"])
            for p in iam.list_attached_group_policies(GroupName=GROUP)["AttachedPolicies"]
        },
        "inline_policies": {
            name: json.dumps(
                iam.get_group_policy(GroupName=GROUP, PolicyName=name)["PolicyDocument"]
            )
            for name in iam.list_group_policies(GroupName=GROUP)["PolicyNames"]
        },
    }
    role = iam.get_role(RoleName=ROLE)["Role"]
    assert root["roles"][ROLE] == {
        "path": role["Path"],
        "id": role["RoleId"],
        "trust_policy": json.dumps(role["AssumeRolePolicyDocument"]),
        "attached_policies": {
            p["PolicyArn"]: document(iam, p["PolicyArn"])
            for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
        },
        "inline_policies": {
            name: json.dumps(iam.get_role_policy(RoleName=ROLE, PolicyName=name)["PolicyDocument"])
            for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
        },
        "tags": [(t["Key"], t["Value"]) for t in iam.list_role_tags(RoleName=ROLE)["Tags"]],
        "permissions_boundary": role["PermissionsBoundary"]["PermissionsBoundaryArn"],
    }
    assert set(root["roles"]) == {
        r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]
    }
    assert root["virtual_mfa_devices"] == {
        d["SerialNumber"]: d.get("User", {}).get("UserName")
        for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    }
    assert set(seen[CHILD]["roles"]) == {r["RoleName"] for r in child_iam().list_roles()["Roles"]}


def document(iam, arn: str) -> str:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    answer = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return json.dumps(answer)


def child_iam():
    return boto3.client("iam", **Provisioner(None).child_credentials(SETUP_CREDENTIALS, CHILD))


def _key_status(iam) -> None:
    key = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"][0]["AccessKeyId"]
    iam.update_access_key(UserName=USER, AccessKeyId=key, Status="Inactive")


def _new_policy_version(iam) -> None:
    arn = iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"][0]["PolicyArn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=DENY_ALL, SetAsDefault=True)


def _recreate_user(iam) -> None:
    iam.delete_user(UserName=BARE)
    iam.create_user(UserName=BARE)


def _recreate_group(iam) -> None:
    iam.delete_group(GroupName=BARE)
    iam.create_group(GroupName=BARE, Path="/other/")  # moto ignores UpdateGroup's NewPath alone


def _recreate_role(iam) -> None:
    iam.delete_role(RoleName=BARE)
    iam.create_role(
        RoleName=BARE, AssumeRolePolicyDocument=TRUST, Path="/other/"
    )  # no UpdateRole path


def _disable_mfa(iam) -> None:
    serial = iam.list_mfa_devices(UserName=USER)["MFADevices"][0]["SerialNumber"]
    iam.deactivate_mfa_device(UserName=USER, SerialNumber=serial)


def _certificate_status(iam) -> None:
    cert = iam.list_signing_certificates(UserName=USER)["Certificates"][0]["CertificateId"]
    iam.update_signing_certificate(UserName=USER, CertificateId=cert, Status="Inactive")


def _ssh_key_status(iam) -> None:
    key = iam.list_ssh_public_keys(UserName=USER)["SSHPublicKeys"][0]["SSHPublicKeyId"]
    iam.update_ssh_public_key(UserName=USER, SSHPublicKeyId=key, Status="Inactive")


def _credential_status(iam) -> None:
    credential = iam.list_service_specific_credentials(UserName=USER)["ServiceSpecificCredentials"][
        0
    ]["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(
        UserName=USER, ServiceSpecificCredentialId=credential, Status="Inactive"
    )


def _detach(iam, **entity: str) -> None:
    (kind,) = entity
    listing = {
        "UserName": iam.list_attached_user_policies,
        "GroupName": iam.list_attached_group_policies,
        "RoleName": iam.list_attached_role_policies,
    }[kind]
    detach = {
        "UserName": iam.detach_user_policy,
        "GroupName": iam.detach_group_policy,
        "RoleName": iam.detach_role_policy,
    }[kind]
    detach(PolicyArn=listing(**entity)["AttachedPolicies"][0]["PolicyArn"], **entity)


def _revoke_child_sessions(_iam) -> None:
    """What revoking a person's sessions does in a child account: an inline deny on a role."""
    child = child_iam()
    role = child.list_roles()["Roles"][0]["RoleName"]
    child.put_role_policy(
        RoleName=role, PolicyName="AWSRevokeOlderSessions", PolicyDocument=DENY_ALL
    )


U, G, R = (f"{ROOT_ACCOUNT}/{kind}" for kind in ("users", "groups", "roles"))
# (where the fingerprint must see it, the change made through the API)
CHANGES = [
    (f"{U}/{BARE}/path", lambda iam: iam.update_user(UserName=BARE, NewPath="/managed/")),
    (f"{U}/{BARE}/id", _recreate_user),
    (f"{U}/new", lambda iam: iam.create_user(UserName="new")),
    (
        (f"{U}/{USER}/groups", f"{G}/{BARE}/members"),  # one fact, as both sides list it
        lambda iam: iam.add_user_to_group(GroupName=BARE, UserName=USER),
    ),
    (f"{U}/{USER}/login_profile", lambda iam: iam.delete_login_profile(UserName=USER)),
    (
        f"{U}/{USER}/login_profile",
        lambda iam: iam.update_login_profile(UserName=USER, PasswordResetRequired=True),
    ),
    (f"{U}/{USER}/access_keys", _key_status),
    (f"{U}/{USER}/access_keys", lambda iam: iam.create_access_key(UserName=USER)),
    (f"{U}/{USER}/attached_policies", lambda iam: _detach(iam, UserName=USER)),
    (  # the policy is attached to all three
        (
            f"{U}/{USER}/attached_policies",
            f"{G}/{GROUP}/attached_policies",
            f"{R}/{ROLE}/attached_policies",
        ),
        _new_policy_version,
    ),
    (
        f"{U}/{USER}/inline_policies",
        lambda iam: iam.put_user_policy(
            UserName=USER, PolicyName="extra-s3", PolicyDocument=DENY_ALL
        ),
    ),
    (
        f"{U}/{USER}/tags",
        lambda iam: iam.tag_user(UserName=USER, Tags=[{"Key": "ticket", "Value": "T-2"}]),
    ),
    ((f"{U}/{USER}/mfa_devices", f"{ROOT_ACCOUNT}/virtual_mfa_devices"), _disable_mfa),
    (f"{U}/{USER}/signing_certificates", _certificate_status),
    (f"{U}/{USER}/ssh_public_keys", _ssh_key_status),
    (f"{U}/{USER}/service_specific_credentials", _credential_status),
    (
        f"{U}/{USER}/permissions_boundary",
        lambda iam: iam.delete_user_permissions_boundary(UserName=USER),
    ),
    ((f"{G}/{BARE}/path", f"{G}/{BARE}/id"), _recreate_group),
    (
        (f"{G}/{GROUP}/members", f"{U}/{USER}/groups"),
        lambda iam: iam.remove_user_from_group(GroupName=GROUP, UserName=USER),
    ),
    (f"{G}/{GROUP}/attached_policies", lambda iam: _detach(iam, GroupName=GROUP)),
    (
        f"{G}/{GROUP}/inline_policies",
        lambda iam: iam.delete_group_policy(GroupName=GROUP, PolicyName="inline"),
    ),
    ((f"{R}/{BARE}/path", f"{R}/{BARE}/id"), _recreate_role),
    (
        f"{R}/{ROLE}/trust_policy",
        lambda iam: iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=OTHER_TRUST),
    ),
    (f"{R}/{ROLE}/attached_policies", lambda iam: _detach(iam, RoleName=ROLE)),
    (
        f"{R}/{ROLE}/inline_policies",
        lambda iam: iam.put_role_policy(
            RoleName=ROLE, PolicyName="inline", PolicyDocument=DENY_ALL
        ),
    ),
    (f"{R}/{ROLE}/tags", lambda iam: iam.untag_role(RoleName=ROLE, TagKeys=["team"])),
    (
        f"{R}/{ROLE}/permissions_boundary",
        lambda iam: iam.delete_role_permissions_boundary(RoleName=ROLE),
    ),
    (
        f"{ROOT_ACCOUNT}/virtual_mfa_devices",
        lambda iam: iam.create_virtual_mfa_device(VirtualMFADeviceName="spare"),
    ),
    (f"{CHILD}/roles", _revoke_child_sessions),
]


def _places(where: str | tuple[str, ...]) -> tuple[str, ...]:
    return (where,) if isinstance(where, str) else where


@pytest.mark.parametrize(
    "where, change", CHANGES, ids=[f"{_places(w)[0]} {i}" for i, (w, _) in enumerate(CHANGES)]
)
def test_a_change_made_through_the_api_is_seen_where_it_was_made(equipped, iam, where, change):
    before = iam_fingerprint()
    change(iam)
    changes = iam_changes(before, iam_fingerprint())
    places = _places(where)
    for place in places:
        assert any(line.startswith(place) for line in changes), (f"not seen: {place}", changes)
    assert all(line.startswith(places) for line in changes), changes  # nothing else


def test_every_kind_the_fingerprint_holds_is_changed_above(equipped):
    """A kind added to the fingerprint is proven here too (one left out fails a change above)."""
    root = iam_fingerprint()[ROOT_ACCOUNT]
    held = {f"{ROOT_ACCOUNT}/{kind}" for kind in root} | {
        f"{ROOT_ACCOUNT}/{kind}/{{}}/{fact}"
        for kind in ("users", "groups", "roles")
        for entity in root[kind].values()
        for fact in entity
    }
    changed = set()
    for where, _ in CHANGES:
        for place in _places(where):
            parts = place.split("/")
            changed.add("/".join(parts[:2]))
            if len(parts) == 4:
                changed.add("/".join([*parts[:2], "{}", parts[3]]))
    assert held <= changed, sorted(held - changed)


def test_unchanged_is_equal_and_changes_say_what_differs(equipped, iam):
    before = iam_fingerprint()
    assert iam_fingerprint() == before and iam_changes(before, iam_fingerprint()) == []
    iam.add_user_to_group(GroupName=BARE, UserName=USER)
    iam.delete_user(UserName=BARE)
    iam.create_user(UserName="new")
    changes = iam_changes(before, iam_fingerprint())
    assert len(changes) == 4, changes
    assert changes[0] == f"{U}/{USER}/groups: {[GROUP]!r} -> {sorted([BARE, GROUP])!r}"
    assert changes[1].startswith(f"{U}/{BARE}: removed (was {{'path': '/', 'id': "), changes
    assert changes[2].startswith(f"{U}/new: added {{'path': '/', 'id': "), changes
    assert changes[3] == f"{G}/{BARE}/members: [] -> {[USER]!r}"
