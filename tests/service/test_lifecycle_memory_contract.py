"""The in-memory IAM of tests/support/memory.py held against the real gateway on moto: the same
calls, the same answers and the same refusals, so that what the lifecycle tests prove over the
fake holds over IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.aws.iam import IamGateway
from chalicelib.kernel.errors import Conflict, NotFound, UpstreamError
from tests.support.memory import DEV_ROLE, ROOT, MemoryIam, assume

GROUP = "ChildDeveloperGroup"
POLICY = f"arn:aws:iam::{ROOT}:policy/ManagedUserSelfService"


def _moto() -> Iterator[Any]:
    from moto import mock_aws

    from devstack import moto_ext

    moto_ext.apply()  # names without regard to case, the calls moto lacks, as in every tier
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        client.create_group(GroupName=GROUP)
        client.put_group_policy(
            GroupName=GROUP, PolicyName="assume", PolicyDocument=json.dumps(assume(DEV_ROLE))
        )
        client.create_policy(
            PolicyName="ManagedUserSelfService", PolicyDocument=json.dumps(assume(DEV_ROLE))
        )
        yield IamGateway(client)


def _memory() -> Iterator[Any]:
    iam = MemoryIam()
    iam.groups = {GROUP: [assume(DEV_ROLE)]}
    iam.policies = {POLICY}
    yield iam


@pytest.fixture(params=["moto", "memory"])
def iam(request) -> Iterator[Any]:
    yield from {"moto": _moto, "memory": _memory}[request.param]()


def kind(name: str) -> Any:
    return next(k for k in IamGateway.cleanup_kinds if k.kind == name)


def test_users_are_one_per_name_whatever_its_case(iam):
    assert iam.get_user("pete") is None
    created = iam.create_user("pete", "/managed/", {"ticket": "T-1"})
    assert set(created) == {"username", "arn", "path", "id"}
    assert created["arn"] == f"arn:aws:iam::{ROOT}:user/managed/pete"
    assert iam.create_user("PETE", "/", {}) is None  # taken, in any case, at any path
    user = iam.get_user("PETE")
    assert user["username"] == "pete" and user["id"] == created["id"]
    assert user["path"] == "/managed/" and user["tags"] == {"ticket": "T-1"}
    assert user["boundary"] is None and user["password_last_used"] is None
    iam.tag_user("pete", {"email": "p@example.com"})
    iam.untag_user("pete", ["ticket", "absent"])
    assert iam.get_user("pete")["tags"] == {"email": "p@example.com"}


def test_console_login(iam):
    iam.create_user("pete", "/managed/", {})
    assert not iam.has_login_profile("pete") and iam.login_profile("pete") is None
    iam.set_console_password("pete", "Aa1!" * 6, new_user=True)
    assert iam.has_login_profile("pete") and iam.login_profile("pete")["created"]
    iam.set_console_password("pete", "Bb2@" * 6)  # replaced, not refused
    with pytest.raises(Conflict):
        iam.set_console_password("pete", "Cc3#" * 6, new_user=True)  # one exists already
    assert iam.delete_login_profile("pete") is True
    assert iam.delete_login_profile("pete") is False
    assert not iam.has_login_profile("nobody")


def test_groups_and_policies(iam):
    iam.create_user("pete", "/managed/", {})
    iam.add_to_group("pete", GROUP)
    iam.add_to_group("pete", GROUP)  # a member already: no error
    assert iam.groups_of("pete") == [GROUP]
    with pytest.raises(NotFound):
        iam.add_to_group("pete", "NoSuchGroup")
    assert iam.remove_from_group("pete", GROUP) is True
    assert iam.groups_of("pete") == []
    assert iam.remove_from_group("pete", GROUP) is False
    iam.attach_user_policy("pete", POLICY)
    iam.attach_user_policy("pete", POLICY)
    with pytest.raises(NotFound):
        iam.attach_user_policy("pete", f"arn:aws:iam::{ROOT}:policy/Missing")
    assert iam.detach_user_policy("pete", POLICY) is True
    assert iam.detach_user_policy("pete", POLICY) is False
    assert iam.group_access((GROUP, "Absent")) == {GROUP: [assume(DEV_ROLE)]}
    with pytest.raises(NotFound):
        iam.groups_of("nobody")


def test_access_keys(iam):
    iam.create_user("pete", "/managed/", {})
    first = iam.create_access_key("pete")
    assert set(first) == {"access_key_id", "secret_access_key"}
    second = iam.create_access_key("pete")["access_key_id"]
    with pytest.raises(UpstreamError, match="LimitExceeded"):  # two keys a user
        iam.create_access_key("pete")
    assert iam.set_key_status("pete", second, "Inactive") is True
    assert sorted(iam.access_keys("pete"), key=lambda k: k["status"]) == [
        {"id": first["access_key_id"], "status": "Active"},
        {"id": second, "status": "Inactive"},
    ]
    assert {k["id"] for k in iam.key_facts("pete")} == {first["access_key_id"], second}
    assert iam.last_used(second) is None
    assert iam.delete_access_key("pete", second) is True
    assert iam.delete_access_key("pete", second) is False
    assert iam.set_key_status("pete", second, "Active") is False
    assert iam.mfa_devices("pete") == []


def test_a_user_is_deleted_only_once_nothing_depends_on_it(iam):
    iam.create_user("pete", "/managed/", {})
    iam.add_to_group("pete", GROUP)
    key_id = iam.create_access_key("pete")["access_key_id"]
    iam.attach_user_policy("pete", POLICY)
    lists = {listing: read() for listing, read in iam.dependents("pete").items()}
    assert lists[("list_groups_for_user", "Groups", "GroupName")] == [GROUP]
    assert lists[("list_access_keys", "AccessKeyMetadata", "AccessKeyId")] == [key_id]
    assert lists[("list_attached_user_policies", "AttachedPolicies", "PolicyArn")] == [POLICY]
    with pytest.raises(Conflict):
        iam.remove_dependent(kind("user"), "pete", "pete")
    assert iam.remove_dependent(kind("groups"), "pete", GROUP) is True
    assert iam.remove_dependent(kind("deleted_access_keys"), "pete", key_id) is True
    assert iam.remove_dependent(kind("attached_policies"), "pete", POLICY) is True
    assert iam.remove_dependent(kind("login_profile"), "pete", "pete") is False
    assert iam.remove_dependent(kind("user"), "pete", "pete") is True
    assert iam.get_user("pete") is None
    assert iam.remove_dependent(kind("user"), "pete", "pete") is False
    assert all(read() == [] for read in iam.dependents("pete").values())
