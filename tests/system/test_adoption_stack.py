"""Adopting an account's existing users on the local stack as ``make run`` starts it: the app as
a principal holding exactly .chalice/policy-dev.json, IAM enforced. People made by hand at /
(keys, a password, MFA, groups, one with an inline policy, one not marked for adoption) are
planned first, then adopted; a person's own access key reaches the same role before, after the
adoption and after the release, and the access matrix is the plan's.

A path change keeps the user (its unique id, keys, password) and changes its ARN: AWS's IAM User
Guide, "Rename an IAM user" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_rename.html),
and UpdateUser (https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html); the local
stack changes paths as AWS does (devstack/moto_update_user.py,
tests/system/test_moto_update_user.py)."""

from __future__ import annotations

import json

import boto3

from tests.support.stack_client import admin, call

CHILD = "222233334444"
DEV_ROLE = f"arn:aws:iam::{CHILD}:role/DeveloperRole"
MARK = {"Key": "iam-lifecycle:adopt", "Value": "true"}


def made_by_hand(stack, name: str, marked: bool = True) -> dict:
    iam = admin(stack, "iam")
    iam.create_user(UserName=name, Tags=[MARK] if marked else [])
    iam.add_user_to_group(UserName=name, GroupName="ChildDeveloperGroup")
    iam.create_login_profile(UserName=name, Password="An-old-password-1!")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=serial["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def reaches_developer_role(stack, credentials: dict, name: str) -> str:
    """The caller's ARN, after assuming DeveloperRole with the person's own key."""
    session = boto3.session.Session(region_name="us-east-1", **credentials)
    sts = session.client("sts", endpoint_url=stack["aws_endpoint_url"])
    sts.assume_role(
        RoleArn=DEV_ROLE,
        RoleSessionName=name,
        SerialNumber=f"arn:aws:iam::123456789012:mfa/{name}",
        TokenCode="123456",
    )
    return sts.get_caller_identity()["Arn"]


def test_existing_users_are_adopted_plan_first_with_access_unchanged_and_released(stack):
    ava = made_by_hand(stack, "ava")
    made_by_hand(stack, "ben")
    admin(stack, "iam").put_user_policy(
        UserName="ben",
        PolicyName="extra",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    made_by_hand(stack, "cleo", marked=False)
    assert reaches_developer_role(stack, ava, "ava") == "arn:aws:iam::123456789012:user/ava"

    # the plan of every user outside management, first
    status, plan = call(
        stack,
        "POST",
        "/adoptions",
        {"all": True, "dry_run": True, "ticket": "ADOPT-1", "requested_by": "platform"},
    )
    assert status == 200, plan
    outcome = {r["username"]: r for r in plan["results"]}
    assert outcome["ava"]["result"] == "planned"
    ava_plan = outcome["ava"]["plan"]
    assert ava_plan["changes"]["path"] == {"before": "/", "after": "/managed/"}
    assert ava_plan["access_matrix"]["before"] == ava_plan["access_matrix"]["after"]
    assert [r["role"] for r in ava_plan["access_matrix"]["before"]] == ["DeveloperRole"]
    assert outcome["ben"]["result"] == "refused"
    assert "inline policy extra" in outcome["ben"]["reasons"][0]
    # the stage may not even read a user nobody marked: IAM refuses it, and the plan says why
    assert outcome["cleo"]["result"] == "refused"
    assert "not marked for adoption" in outcome["cleo"]["reasons"][0]
    assert admin(stack, "iam").get_user(UserName="ava")["User"]["Path"] == "/"

    status, done = call(
        stack,
        "POST",
        "/adoptions",
        {"usernames": ["ava", "ben", "cleo"], "ticket": "ADOPT-1", "requested_by": "platform"},
    )
    assert status == 200, done
    assert done["progress"]["adopted"] == 1 and done["progress"]["refused"] == 2

    # the same key, the same role; only the ARN carries the new path
    arn = reaches_developer_role(stack, ava, "ava")
    assert arn == "arn:aws:iam::123456789012:user/managed/ava"
    status, rows = call(stack, "GET", "/access-matrix")
    mine = [
        {k: r[k] for k in ("username", "group", "account", "role")}
        for r in rows["rows"]
        if r["username"] == "ava"
    ]
    assert mine == ava_plan["access_matrix"]["before"]
    status, user = call(stack, "GET", "/users/ava")
    assert status == 200 and user["mfa"] is True and user["console"] is True

    status, released = call(
        stack, "POST", "/users/ava/release", {"ticket": "ADOPT-2", "requested_by": "platform"}
    )
    assert status == 200 and released["path"] == "/", released
    assert reaches_developer_role(stack, ava, "ava") == "arn:aws:iam::123456789012:user/ava"
    status, trail = call(stack, "GET", "/audit?username=ava")
    assert {("adopt", "planned"), ("adopt", "ok"), ("release", "ok")} <= {
        (e["action"], e["result"]) for e in trail["events"]
    }
