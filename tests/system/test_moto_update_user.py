"""A user's path changed as AWS changes it, on the local AWS (devstack/moto_update_user.py).

AWS documents it in the IAM API Reference, UpdateUser
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html): "To change a user
name, the requester must have appropriate permissions on both the source object and the target
object"; and in the IAM User Guide, "Rename an IAM user"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_rename.html): when a user's name or
path changes, the policies attached to it stay with it, it stays in the same groups, and its
unique ID remains the same; policies that name the user as a resource are not updated. Identity
policies test an IAM user's tags with ``aws:ResourceTag/<key>``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_iam-tags.html).

moto 5.2.5 loses a user's tags when its path changes, authorizes UpdateUser on the user as it is
only, and counts an ``aws:ResourceTag`` condition as met whatever the user's tags: each test here
fails without the module. The stage's own statement for adoption is what the principal holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_ext
from tests.support.enforcement import enforced

REGION = "us-east-1"
POLICY = Path(__file__).resolve().parents[2] / ".chalice" / "policy-dev.json"
MARK = {"Key": "iam-lifecycle:adopt", "Value": "true"}


def statement(sid: str) -> dict:
    return next(s for s in json.loads(POLICY.read_text())["Statement"] if s["Sid"] == sid)


@pytest.fixture
def iam():
    moto_ext.apply()
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def principal(iam, *statements: dict):
    """A client whose calls are authorized against ``statements`` only."""
    iam.create_user(UserName="app", Path="/service/")
    iam.put_user_policy(
        UserName="app",
        PolicyName="stage",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    key = iam.create_access_key(UserName="app")["AccessKey"]
    return boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def person(iam, name: str, marked: bool = True) -> dict:
    iam.create_user(
        UserName=name, Tags=[MARK, {"Key": "team", "Value": "data"}][0 if marked else 1 :]
    )
    iam.create_group(GroupName=f"{name}-group")
    iam.add_user_to_group(UserName=name, GroupName=f"{name}-group")
    iam.create_login_profile(UserName=name, Password="An-old-password-1!")
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="own",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    user = iam.get_user(UserName=name)["User"]
    return {"id": user["UserId"], "arn": user["Arn"], "key": key}


def test_a_path_change_keeps_the_user_and_its_tags_and_changes_its_arn(iam):
    made = person(iam, "ana")
    tags = iam.list_user_tags(UserName="ana")["Tags"]

    iam.update_user(UserName="ana", NewPath="/managed/")

    user = iam.get_user(UserName="ana")["User"]
    assert user["UserId"] == made["id"]
    assert user["Arn"] == made["arn"].replace(":user/ana", ":user/managed/ana")
    assert iam.list_user_tags(UserName="ana")["Tags"] == tags
    assert user.get("Tags") == tags
    assert [
        k["AccessKeyId"] for k in iam.list_access_keys(UserName="ana")["AccessKeyMetadata"]
    ] == [made["key"]]
    assert iam.get_login_profile(UserName="ana")["LoginProfile"]["UserName"] == "ana"
    assert iam.list_user_policies(UserName="ana")["PolicyNames"] == ["own"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="ana")["Groups"]] == [
        "ana-group"
    ]


def test_the_stage_may_read_and_move_only_users_marked_for_adoption(iam):
    app = principal(iam, statement("UsersMarkedForAdoption"))
    person(iam, "ana")
    person(iam, "bo", marked=False)
    with enforced():
        assert app.get_user(UserName="ana")["User"]["Path"] == "/"
        app.update_user(UserName="ana", NewPath="/managed/")
        app.update_user(UserName="ana", NewPath="/")  # and back: the tag goes with the user
        for call in (
            lambda: app.get_user(UserName="bo"),
            lambda: app.list_access_keys(UserName="bo"),
            lambda: app.update_user(UserName="bo", NewPath="/managed/"),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert iam.get_user(UserName="bo")["User"]["Path"] == "/"


def test_update_user_needs_permission_on_both_sides_of_the_move(iam):
    person(iam, "ana")
    # may act on users at / only: moving one to /managed/ is refused
    app = principal(
        iam,
        {
            "Effect": "Allow",
            "Action": ["iam:UpdateUser"],
            "Resource": ["arn:aws:iam::*:user/ana"],
        },
    )
    with enforced(), pytest.raises(ClientError) as refused:
        app.update_user(UserName="ana", NewPath="/managed/")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/"
