"""The local stack as ``make run`` starts it: moto on loopback with IAM enforced, the app under
``chalice local`` limited to .chalice/policy-dev.json. Proves the access model for real."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.stack_client import admin, call, clock

CHILD = "222233334444"
DEV_ROLE = f"arn:aws:iam::{CHILD}:role/DeveloperRole"


def session(stack, credentials):
    return boto3.session.Session(region_name="us-east-1", **credentials)


def own_keys(stack, username):
    key = admin(stack, "iam").create_access_key(UserName=username)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def assume_developer_role(stack, credentials, username):
    """With an MFA code: the self-service policy denies sts:AssumeRole without one."""
    sts = session(stack, credentials).client("sts", endpoint_url=stack["aws_endpoint_url"])
    return sts.assume_role(
        RoleArn=DEV_ROLE,
        RoleSessionName=username,
        SerialNumber=f"arn:aws:iam::123456789012:mfa/{username}",
        TokenCode="123456",
    )["Credentials"]


def test_facts_describe_the_stack(stack):
    assert stack["root_account_id"] == "123456789012"
    assert stack["child_account_ids"] == [CHILD]
    assert set(stack) >= {
        "api_url",
        "aws_endpoint_url",
        "api_token",
        "slack_signing_secret",
        "admin_credentials",
    }
    assert call(stack, "GET", "/health", token=False) == (200, {"status": "ok"})
    assert call(stack, "GET", "/users/nobody", token=False)[0] == 401


def test_a_member_of_child_developer_group_can_assume_developer_role(stack):
    status, answer = call(
        stack,
        "POST",
        "/users",
        {
            "username": "pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "T-100",
            "requested_by": "alice",
        },
    )
    assert status == 201, answer
    assert answer["user"]["roles"] == [DEV_ROLE]
    members = admin(stack, "iam").get_group(GroupName="ChildDeveloperGroup")["Users"]
    assert "pete" in [m["UserName"] for m in members]

    credentials = assume_developer_role(stack, own_keys(stack, "pete"), "pete")
    child = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    identity = child.client("sts", endpoint_url=stack["aws_endpoint_url"]).get_caller_identity()
    assert identity["Account"] == CHILD
    assert identity["Arn"].endswith("assumed-role/DeveloperRole/pete")


def test_a_user_outside_the_group_gets_access_denied(stack):
    status, answer = call(
        stack,
        "POST",
        "/users",
        {
            "username": "olga",
            "groups": [],
            "ticket": "T-101",
            "requested_by": "alice",
            "console": False,
        },
    )
    assert status == 201, answer
    assert answer["user"]["roles"] == []
    with pytest.raises(ClientError) as denied:
        assume_developer_role(stack, own_keys(stack, "olga"), "olga")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_authorization_is_enforced_for_unknown_principals(stack):
    stranger = {"aws_access_key_id": "AKIAEXAMPLEEXAMPLE12", "aws_secret_access_key": "x" * 40}
    with pytest.raises(ClientError):
        session(stack, stranger).client("iam", endpoint_url=stack["aws_endpoint_url"]).list_users()


def test_a_user_created_by_the_admin_outside_the_path_is_invisible_to_the_app(stack):
    admin(stack, "iam").create_user(UserName="root-admin", Path="/")
    assert call(stack, "GET", "/users/root-admin")[0] == 404
    assert (
        call(
            stack,
            "POST",
            "/users",
            {"username": "root-admin", "groups": [], "ticket": "T-102", "requested_by": "alice"},
        )[0]
        == 409
    )


def test_a_revoked_persons_open_session_is_denied(stack):
    """Runs before any other revocation in this stack. moto evaluates the deny but not its conditions (it denies every session of the role), so
    this proves the statement is in force; the document is checked for the conditions that make
    it deny only this person's sessions issued before the revocation."""
    body = {
        "username": "sam",
        "groups": ["ChildDeveloperGroup"],
        "ticket": "T-300",
        "requested_by": "alice",
        "console": False,
    }
    assert call(stack, "POST", "/users", body)[0] == 201
    credentials = assume_developer_role(stack, own_keys(stack, "sam"), "sam")
    session = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    s3 = session.client("s3", endpoint_url=stack["aws_endpoint_url"])
    s3.list_buckets()  # DeveloperPolicy lets the open session read S3

    status, user = call(
        stack, "POST", "/users/sam/suspend", {"ticket": "T-301", "requested_by": "alice"}
    )
    assert status == 200 and user["sessions_revoked_in"] == [CHILD], user
    with pytest.raises(ClientError) as denied:
        s3.list_buckets()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"

    sts = admin(stack, "sts")
    child = sts.assume_role(
        RoleArn=f"arn:aws:iam::{CHILD}:role/OrganizationAccountAccessRole",
        RoleSessionName="inspect",
    )["Credentials"]
    child_iam = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id=child["AccessKeyId"],
        aws_secret_access_key=child["SecretAccessKey"],
        aws_session_token=child["SessionToken"],
    ).client("iam", endpoint_url=stack["aws_endpoint_url"])
    document = child_iam.get_role_policy(RoleName="DeveloperRole", PolicyName="AccessRevocation")[
        "PolicyDocument"
    ]
    (statement,) = document["Statement"]
    assert (
        statement["Effect"] == "Deny"
        and statement["Action"] == "*"
        and statement["Resource"] == "*"
    )
    assert statement["Condition"]["StringLike"] == {"aws:userid": ["*:sam"]}
    assert set(statement["Condition"]["DateLessThan"]) == {"aws:TokenIssueTime"}


# After the revocation above: moto's conditional deny applies to every session of the role.
def test_the_whole_lifecycle_with_iam_enforced(stack):
    """onboard → the person's own keys reach DeveloperRole; suspend → AccessDenied; restore →
    allowed again; offboard → the user and every dependent object are gone."""
    from tests.support.iam_objects import give_every_dependent

    body = {
        "username": "lena",
        "groups": ["ChildDeveloperGroup"],
        "ticket": "T-200",
        "requested_by": "alice",
    }
    assert call(stack, "POST", "/users", body)[0] == 201
    keys = own_keys(stack, "lena")
    assume_developer_role(stack, keys, "lena")

    status, user = call(
        stack, "POST", "/users/lena/suspend", {"ticket": "T-201", "requested_by": "alice"}
    )
    assert status == 200 and user["status"] == "suspended", user
    with pytest.raises(ClientError) as denied:
        assume_developer_role(stack, keys, "lena")
    assert denied.value.response["Error"]["Code"] in ("AccessDenied", "InvalidClientTokenId")

    status, answer = call(
        stack, "POST", "/users/lena/restore", {"ticket": "T-202", "requested_by": "alice"}
    )
    assert status == 200 and answer["user"]["status"] == "active", answer
    assume_developer_role(stack, keys, "lena")

    iam = admin(stack, "iam")
    created = give_every_dependent(iam, "lena", keys=1)  # lena holds one key already
    status, answer = call(
        stack, "POST", "/users/lena/offboard", {"ticket": "T-203", "requested_by": "alice"}
    )
    assert status == 200, answer
    for kind, ids in created.items():
        assert set(ids) <= set(answer["removed"][kind]), kind
    with pytest.raises(ClientError) as gone:
        iam.get_user(UserName="lena")
    assert gone.value.response["Error"]["Code"] == "NoSuchEntity"
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert "lena" not in [
        u["UserName"] for u in iam.get_group(GroupName="ChildDeveloperGroup")["Users"]
    ]
    with pytest.raises(ClientError):
        assume_developer_role(stack, keys, "lena")

    status, trail = call(stack, "GET", "/audit?username=lena")
    assert [(e["action"], e["result"]) for e in trail["events"]] == [
        ("onboard", "ok"),
        ("suspend", "ok"),
        ("restore", "ok"),
        ("offboard", "ok"),
    ]


def test_the_clock_fires_scheduled_handlers_as_the_app_principal(stack):
    """On demand, as a test would: the drift report runs with the app's own permissions."""
    lines = clock(
        stack,
        "report_drift",
        "expire_grants",
        "restore_due_users",
        "prune_revocations",
        timeout=120,
    )
    results = [json.loads(line) for line in lines if line.startswith("{")]
    assert [list(r) for r in results] == [
        ["report_drift"],
        ["expire_grants"],
        ["restore_due_users"],
        ["prune_revocations"],
    ]
    assert results[0]["report_drift"]["findings"] == []


def test_a_group_the_service_does_not_manage_is_shown_not_read(stack):
    """The app may not read the policies of a group it does not manage: a person who is also in
    one is shown with it marked unmanaged, on every read, instead of failing the read for all."""
    iam = admin(stack, "iam")
    iam.create_group(GroupName="FinanceGroup")
    iam.put_group_policy(
        GroupName="FinanceGroup",
        PolicyName="finance",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::{CHILD}:role/Finance",
                    }
                ],
            }
        ),
    )
    assert (
        call(
            stack,
            "POST",
            "/users",
            {
                "username": "fiona",
                "groups": ["ChildDeveloperGroup"],
                "ticket": "GR-1",
                "requested_by": "alice",
            },
        )[0]
        == 201
    )
    iam.add_user_to_group(UserName="fiona", GroupName="FinanceGroup")

    status, fiona = call(stack, "GET", "/users/fiona")
    assert status == 200, fiona
    assert fiona["groups"] == ["ChildDeveloperGroup", "FinanceGroup"]
    assert fiona["unmanaged_groups"] == ["FinanceGroup"] and fiona["roles"] == [DEV_ROLE]
    status, listed = call(stack, "GET", "/users")
    assert status == 200 and "fiona" in [u["username"] for u in listed["users"]], listed
    status, config = call(stack, "GET", "/users/fiona/aws-config")
    assert status == 200 and "Finance" not in config["aws_config"], config
    status, matrix = call(stack, "GET", "/access-matrix")
    assert status == 200, matrix
    assert {
        "username": "fiona",
        "status": "active",
        "group": "FinanceGroup",
        "account": "",
        "role": "",
        "managed": False,
    } in matrix["rows"]
    request = urllib.request.Request(
        stack["api_url"] + "/access-matrix?format=csv",
        headers={"Authorization": f"Bearer {stack['api_token']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "fiona,active,FinanceGroup,,,no" in response.read().decode()

    # A plan refuses exactly as the run does.
    move = {"groups": ["BreakGlassGroup"], "ticket": "GR-2", "requested_by": "alice"}
    planned = call(stack, "PUT", "/users/fiona/groups", {**move, "dry_run": True})
    run = call(stack, "PUT", "/users/fiona/groups", move)
    assert planned[0] == run[0] == 409, (planned, run)
    assert planned[1]["Message"] == run[1]["Message"] and "FinanceGroup" in run[1]["Message"]


@pytest.mark.parametrize("route", ["offboard", "suspend", "restore"])
def test_unknown_and_unmanaged_users_are_404_not_an_aws_error(stack, route):
    admin(stack, "iam").create_user(UserName=f"outsider-{route}")  # at path /: not the app's
    for name in ("nobody-at-all", f"outsider-{route}"):
        status, answer = call(
            stack,
            "POST",
            f"/users/{name}/{route}",
            {"ticket": f"UK-{route}-{name}", "requested_by": "alice"},
        )
        assert status == 404, (name, answer)
        assert "retry" not in answer["Message"]
        assert call(stack, "GET", f"/users/{name}")[0] == 404
    admin(stack, "iam").get_user(UserName=f"outsider-{route}")  # untouched


def test_routes_under_iam_are_checked_as_api_gateways_iam_authorizer_checks_them(stack):
    """chalice local runs no IAM authorizer; the local stack does (devstack/api_gateway_iam.py,
    after https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def send(headers: dict) -> tuple[int, dict]:
        request = urllib.request.Request(f"{stack['api_url']}/iam/users", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    keys = stack["admin_credentials"]
    request = AWSRequest(method="GET", url=f"{stack['api_url']}/iam/users")
    SigV4Auth(
        Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"]),
        "execute-api",
        "us-east-1",
    ).add_auth(request)
    signed = dict(request.headers.items())

    # the gateway lets the administrator's signed request through; the app knows no such client
    status, answer = send(signed)
    assert status == 403 and "user/stack-admin is not an API client" in answer["Message"]
    # the gateway refuses what is unsigned or signed wrongly, before the app sees it
    assert send({}) == (403, {"message": "Missing Authentication Token"})
    forged = {**signed, "Authorization": signed["Authorization"][:-4] + "0000"}
    status, answer = send(forged)
    assert status == 403 and "signature we calculated does not match" in answer["message"]
