"""IAM user, group and role names are one name in any case, on the local AWS as on AWS.

AWS documents it in the IAM User Guide, "IAM and AWS STS quotas"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): "Names of users,
groups, roles, and instance profiles must be unique within the account. They aren't
distinguished by case, for example, you can't create groups named both ADMINS and admins."
And in CreateUser's UserName parameter (IAM API model, as AWS's SDK references print it:
https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/iam/aws.sdk.kotlin.services.iam.model/-create-user-request/user-name.html):
"IAM user, group, role, and policy names must be unique within the account. Names are not
distinguished by case. For example, you cannot create resources named both "MyResource" and
"myresource"."

moto 5.2.5 keeps names exactly, so each test here fails without ``devstack/moto_iam_case.py``.
"""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_ext, moto_iam_case
from devstack.local import free_port

REGION = "us-east-1"
PATH = "/managed/"


@pytest.fixture
def iam():
    moto_ext.apply()
    with mock_aws():
        client = boto3.client("iam", region_name=REGION)
        client.create_user(UserName="pete", Path=PATH)
        yield client


def account() -> str:
    return boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_apply_is_idempotent_and_marks_the_class():
    moto_iam_case.apply()
    moto_iam_case.apply()
    from moto.iam.models import IAMBackend

    assert IAMBackend.get_role is moto_iam_case._get_role
    assert getattr(IAMBackend, moto_iam_case._MARK) is True


def test_every_reset_backend_keys_users_and_groups_by_folded_name():
    moto_ext.apply()
    from moto.iam.models import iam_backends

    for _ in range(2):  # entering mock_aws resets the backends: the names stay folded
        with mock_aws():
            backend = iam_backends[account()]["aws"]
            assert isinstance(backend.users, moto_iam_case.NameDict)
            assert isinstance(backend.groups, moto_iam_case.NameDict)


def test_creating_another_case_of_an_existing_user_is_a_duplicate(iam):
    with pytest.raises(ClientError) as clash:
        iam.create_user(UserName="Pete")
    # Exactly what moto answers for the same spelling twice.
    assert error(clash) == ("EntityAlreadyExists", "User Pete already exists", 409)
    with pytest.raises(ClientError) as same:
        iam.create_user(UserName="pete")
    assert error(same)[0] == "EntityAlreadyExists"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["pete"]


def test_get_user_in_another_case_answers_the_stored_user(iam):
    user = iam.get_user(UserName="PETE")["User"]
    assert (user["UserName"], user["Path"]) == ("pete", PATH)
    assert user["Arn"] == f"arn:aws:iam::{account()}:user/managed/pete"


def test_list_users_gives_the_spelling_created():
    moto_ext.apply()
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="Pete.Smith", Path=PATH)
        assert [u["UserName"] for u in iam.list_users()["Users"]] == ["Pete.Smith"]
        assert iam.get_user(UserName="pete.smith")["User"]["UserName"] == "Pete.Smith"
        assert [u["UserName"] for u in iam.list_users(PathPrefix=PATH)["Users"]] == ["Pete.Smith"]


def test_group_membership_is_one_user_whatever_the_case(iam):
    iam.create_group(GroupName="ChildDeveloperGroup")
    iam.add_user_to_group(GroupName="ChildDeveloperGroup", UserName="PETE")
    iam.add_user_to_group(GroupName="ChildDeveloperGroup", UserName="Pete")  # already a member

    groups = iam.list_groups_for_user(UserName="pete")["Groups"]
    assert [g["GroupName"] for g in groups] == ["ChildDeveloperGroup"]
    members = iam.get_group(GroupName="ChildDeveloperGroup")["Users"]
    assert [m["UserName"] for m in members] == ["pete"]

    iam.remove_user_from_group(GroupName="ChildDeveloperGroup", UserName="pEtE")
    assert iam.list_groups_for_user(UserName="PETE")["Groups"] == []
    assert iam.get_group(GroupName="ChildDeveloperGroup")["Users"] == []


def test_credentials_and_policies_named_in_another_case_belong_to_the_stored_user(iam):
    iam.create_login_profile(UserName="PETE", Password="Xx1!xxxxxxxxxxxx")
    assert iam.get_login_profile(UserName="pete")["LoginProfile"]["UserName"] == "pete"
    with pytest.raises(ClientError) as twice:
        iam.create_login_profile(UserName="Pete", Password="Xx1!xxxxxxxxxxxx")
    assert error(twice)[0] == "EntityAlreadyExists"

    key = iam.create_access_key(UserName="Pete")["AccessKey"]
    assert key["UserName"] == "pete"
    [listed] = iam.list_access_keys(UserName="PETE")["AccessKeyMetadata"]
    assert (listed["AccessKeyId"], listed["UserName"]) == (key["AccessKeyId"], "pete")
    iam.update_access_key(UserName="pEtE", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="pete")["AccessKeyMetadata"][0]["Status"] == "Inactive"

    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="pete")["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName="PETE",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    [device] = iam.list_mfa_devices(UserName="Pete")["MFADevices"]
    assert (device["UserName"], device["SerialNumber"]) == ("pete", serial)

    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
        }
    )
    iam.put_user_policy(UserName="PETE", PolicyName="own", PolicyDocument=document)
    assert iam.get_user_policy(UserName="pete", PolicyName="own")["UserName"] == "pete"
    policy_arn = iam.create_policy(PolicyName="p", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="Pete", PolicyArn=policy_arn)
    assert [
        p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="pete")["AttachedPolicies"]
    ] == [policy_arn]
    iam.tag_user(UserName="PETE", Tags=[{"Key": "team", "Value": "ops"}])
    assert iam.list_user_tags(UserName="pete")["Tags"] == [{"Key": "team", "Value": "ops"}]

    # Taken apart through yet other spellings, as an offboarding given "PETE" would.
    iam.deactivate_mfa_device(UserName="pete", SerialNumber=serial)
    iam.delete_access_key(UserName="PEte", AccessKeyId=key["AccessKeyId"])
    iam.delete_login_profile(UserName="PETE")
    iam.delete_user_policy(UserName="PETE", PolicyName="own")
    iam.detach_user_policy(UserName="PETE", PolicyArn=policy_arn)
    iam.untag_user(UserName="PETE", TagKeys=["team"])
    assert iam.list_mfa_devices(UserName="pete")["MFADevices"] == []
    assert iam.list_access_keys(UserName="pete")["AccessKeyMetadata"] == []


def test_delete_user_in_another_case_deletes_the_stored_user(iam):
    iam.put_user_policy(
        UserName="pete",
        PolicyName="own",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
            }
        ),
    )
    with pytest.raises(ClientError) as refused:  # moto's own checks still apply
        iam.delete_user(UserName="PETE")
    assert error(refused)[0] == "DeleteConflict"
    iam.delete_user_policy(UserName="Pete", PolicyName="own")

    iam.delete_user(UserName="PETE")
    with pytest.raises(ClientError) as gone:
        iam.get_user(UserName="pete")
    assert error(gone)[0] == "NoSuchEntity"
    assert iam.list_users()["Users"] == []
    # The name is free again, in any spelling.
    assert iam.create_user(UserName="Pete")["User"]["UserName"] == "Pete"


def test_update_user_renames_but_never_onto_another_users_name(iam):
    iam.create_user(UserName="olga")
    with pytest.raises(ClientError) as taken:
        iam.update_user(UserName="pete", NewUserName="OLGA")
    assert error(taken)[:2] == ("EntityAlreadyExists", "User OLGA already exists")
    assert iam.get_user(UserName="olga")["User"]["UserName"] == "olga"

    iam.update_user(UserName="PETE", NewUserName="Pete")  # a change of case only
    assert iam.get_user(UserName="pete")["User"]["UserName"] == "Pete"
    assert sorted(u["UserName"] for u in iam.list_users()["Users"]) == ["Pete", "olga"]


def test_group_names_are_one_name_in_any_case(iam):
    iam.create_group(GroupName="ADMINS")  # the example in AWS's documentation
    with pytest.raises(ClientError) as clash:
        iam.create_group(GroupName="admins")
    assert error(clash)[:2] == ("EntityAlreadyExists", "Group admins already exists")
    assert iam.get_group(GroupName="Admins")["Group"]["GroupName"] == "ADMINS"
    iam.put_group_policy(
        GroupName="admins",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    assert iam.get_group_policy(GroupName="aDmInS", PolicyName="p")["GroupName"] == "ADMINS"
    iam.delete_group_policy(GroupName="Admins", PolicyName="p")
    iam.delete_group(GroupName="admins")
    assert iam.list_groups()["Groups"] == []


def test_role_names_are_one_name_in_any_case(iam):
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account()}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="DeveloperRole", AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as clash:
        iam.create_role(RoleName="developerrole", AssumeRolePolicyDocument=trust)
    assert error(clash)[:2] == (
        "EntityAlreadyExists",
        "Role with name developerrole already exists.",
    )
    assert iam.get_role(RoleName="DEVELOPERROLE")["Role"]["RoleName"] == "DeveloperRole"
    iam.put_role_policy(
        RoleName="developerRole",
        PolicyName="AccessRevocation",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    answer = iam.get_role_policy(RoleName="DEVELOPERROLE", PolicyName="AccessRevocation")
    assert answer["RoleName"] == "DeveloperRole"
    iam.delete_role_policy(RoleName="developerrole", PolicyName="AccessRevocation")
    iam.delete_role(RoleName="DEVELOPERROLE")
    assert iam.list_roles()["Roles"] == []


def test_name_dict_finds_any_case_and_keeps_the_spelling():
    names = moto_iam_case.NameDict({"Pete": 1})
    names["olga"] = 2
    assert names["PETE"] == 1 and "pete" in names and names.get("OLGA") == 2
    assert list(names) == ["Pete", "olga"] and list(names.keys()) == ["Pete", "olga"]
    assert list(names.items()) == [("Pete", 1), ("olga", 2)] and list(names.values()) == [1, 2]
    assert dict(names) == {"Pete": 1, "olga": 2} == names and len(names) == 2
    names["PETE"] = 3  # another spelling of the same name replaces the entry
    assert list(names.items()) == [("PETE", 3), ("olga", 2)]
    assert names.pop("pete") == 3 and names.pop("pete", None) is None
    del names["OLGA"]
    assert not names and names.get("olga") is None
    with pytest.raises(KeyError):
        names["nobody"]
    assert isinstance(names.copy(), moto_iam_case.NameDict)


def test_the_threaded_server_authorizes_another_case_against_the_stored_users_arn():
    """As ``make run`` serves it: a policy scoped to the stored user's ARN (its path included)
    lets a caller read the user named "PETE"; moto alone looks for a user "PETE", finds none,
    and authorizes against ``user/PETE``, which the policy does not grant."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer

    moto_ext.apply()
    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        admin = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
        arn = admin.create_user(UserName="pete", Path=PATH)["User"]["Arn"]
        with pytest.raises(ClientError) as clash:
            admin.create_user(UserName="Pete", Path=PATH)
        assert error(clash)[0] == "EntityAlreadyExists"
        admin.create_user(UserName="reader")
        admin.put_user_policy(
            UserName="reader",
            PolicyName="read-pete",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["iam:GetUser", "iam:ListGroupsForUser"],
                            "Resource": arn,
                        }
                    ],
                }
            ),
        )
        key = admin.create_access_key(UserName="reader")["AccessKey"]
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()  # IAM enforced from here on

        reader = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        user = reader.get_user(UserName="PETE")["User"]
        assert (user["UserName"], user["Arn"]) == ("pete", arn)
        assert reader.list_groups_for_user(UserName="Pete")["Groups"] == []
        with pytest.raises(ClientError) as denied:  # still scoped: another user is refused
            reader.get_user(UserName="reader")
        assert error(denied)[0] == "AccessDenied"
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = saved
        # The server shares this process's backends: leave none of its state behind.
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).read()
        server.stop()
