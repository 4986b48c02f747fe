"""The IAM operations added to moto behave, through boto3, as AWS's do."""

from __future__ import annotations

import re
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_iam_extras

CODECOMMIT = "codecommit.amazonaws.com"
KEYSPACES = "cassandra.amazonaws.com"
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"


@pytest.fixture
def iam():
    moto_iam_extras.apply()
    with mock_aws():
        client = boto3.client("iam")
        client.create_user(UserName="alice")
        yield client


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_apply_is_idempotent():
    moto_iam_extras.apply()
    moto_iam_extras.apply()
    from moto.iam.models import IAMBackend

    assert IAMBackend.delete_user is moto_iam_extras._delete_user


def test_create_returns_the_password_once_and_list_returns_metadata(iam):
    account = boto3.client("sts").get_caller_identity()["Account"]
    created = iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    credential = created["ServiceSpecificCredential"]
    assert credential["ServiceUserName"] == f"alice-at-{account}"
    assert credential["ServicePassword"]
    assert re.fullmatch(r"ACCA[A-Z0-9]{17}", credential["ServiceSpecificCredentialId"])
    assert (credential["UserName"], credential["ServiceName"], credential["Status"]) == (
        "alice",
        CODECOMMIT,
        "Active",
    )
    assert credential["CreateDate"].tzinfo is not None

    iam.create_service_specific_credential(UserName="alice", ServiceName=KEYSPACES)
    listed = iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"]
    assert {c["ServiceName"] for c in listed} == {CODECOMMIT, KEYSPACES}
    assert all("ServicePassword" not in c for c in listed)

    only = iam.list_service_specific_credentials(UserName="alice", ServiceName=CODECOMMIT)
    [metadata] = only["ServiceSpecificCredentials"]
    assert metadata["ServiceSpecificCredentialId"] == credential["ServiceSpecificCredentialId"]
    assert metadata["ServiceUserName"] == credential["ServiceUserName"]


def test_delete_removes_the_credential(iam):
    credential_id = iam.create_service_specific_credential(
        UserName="alice", ServiceName=CODECOMMIT
    )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    iam.delete_service_specific_credential(
        UserName="alice", ServiceSpecificCredentialId=credential_id
    )
    assert (
        iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"] == []
    )


def test_update_sets_the_status(iam):
    credential_id = iam.create_service_specific_credential(
        UserName="alice", ServiceName=CODECOMMIT
    )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    iam.update_service_specific_credential(
        UserName="alice", ServiceSpecificCredentialId=credential_id, Status="Inactive"
    )
    [metadata] = iam.list_service_specific_credentials(UserName="alice")[
        "ServiceSpecificCredentials"
    ]
    assert metadata["Status"] == "Inactive"


def test_unknown_credential_id_is_no_such_entity(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.delete_service_specific_credential(
            UserName="alice", ServiceSpecificCredentialId="ACCAAAAAAAAAAAAAAAAAA"
        )
    assert error_code(excinfo) == "NoSuchEntity"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    "call",
    [
        lambda iam: iam.create_service_specific_credential(
            UserName="nobody", ServiceName=CODECOMMIT
        ),
        lambda iam: iam.list_service_specific_credentials(UserName="nobody"),
        lambda iam: iam.delete_service_specific_credential(
            UserName="nobody", ServiceSpecificCredentialId="ACCAAAAAAAAAAAAAAAAAA"
        ),
        lambda iam: iam.delete_user_permissions_boundary(UserName="nobody"),
    ],
    ids=["create", "list", "delete", "delete-boundary"],
)
def test_missing_user_is_no_such_entity(iam, call):
    with pytest.raises(ClientError) as excinfo:
        call(iam)
    assert error_code(excinfo) == "NoSuchEntity"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unsupported_service_and_per_service_limit(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_specific_credential(UserName="alice", ServiceName="s3.amazonaws.com")
    assert error_code(excinfo) == "NotSupportedService"
    for _ in range(2):
        iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    assert error_code(excinfo) == "LimitExceeded"


def test_delete_user_conflicts_while_credentials_remain(iam):
    credential_id = iam.create_service_specific_credential(
        UserName="alice", ServiceName=CODECOMMIT
    )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName="alice")
    assert error_code(excinfo) == "DeleteConflict"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    iam.delete_service_specific_credential(
        UserName="alice", ServiceSpecificCredentialId=credential_id
    )
    iam.delete_user(UserName="alice")
    iam.create_user(UserName="alice")
    assert (
        iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"] == []
    )


def test_moto_keeps_its_own_delete_conflicts(iam):
    iam.put_user_policy(
        UserName="alice",
        PolicyName="inline",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}'
        ),
    )
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName="alice")
    assert error_code(excinfo) == "DeleteConflict"


def test_a_new_mock_starts_without_credentials():
    moto_iam_extras.apply()
    with mock_aws():
        iam = boto3.client("iam")
        iam.create_user(UserName="alice")
        iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    with mock_aws():
        iam = boto3.client("iam")
        iam.create_user(UserName="alice")
        assert (
            iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"]
            == []
        )


def test_permissions_boundary_put_and_delete(iam):
    iam.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=BOUNDARY)
    assert iam.get_user(UserName="alice")["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": BOUNDARY,
    }
    # AWS's ListUsers does not report boundaries.
    assert all("PermissionsBoundary" not in u for u in iam.list_users()["Users"])

    iam.delete_user_permissions_boundary(UserName="alice")
    assert "PermissionsBoundary" not in iam.get_user(UserName="alice")["User"]


def test_create_user_with_a_boundary(iam):
    created = iam.create_user(UserName="bob", PermissionsBoundary=BOUNDARY)["User"]
    assert created["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert (
        iam.get_user(UserName="bob")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == BOUNDARY
    )
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="carol", PermissionsBoundary="not-a-policy-arn-at-all")
    assert error_code(excinfo) == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName="carol")
    assert error_code(excinfo) == "NoSuchEntity"


def test_over_http_with_the_threaded_server():
    from moto.server import ThreadedMotoServer

    moto_iam_extras.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="http-user")
        created = iam.create_service_specific_credential(
            UserName="http-user", ServiceName=CODECOMMIT
        )["ServiceSpecificCredential"]
        assert created["ServicePassword"]
        assert created["ServiceUserName"].startswith("http-user-at-")
        [listed] = iam.list_service_specific_credentials(UserName="http-user")[
            "ServiceSpecificCredentials"
        ]
        assert listed["ServiceSpecificCredentialId"] == created["ServiceSpecificCredentialId"]
        assert "ServicePassword" not in listed
        with pytest.raises(ClientError) as excinfo:
            iam.delete_user(UserName="http-user")
        assert error_code(excinfo) == "DeleteConflict"
    finally:
        # The server shares this process's backends: leave none of its state behind.
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).read()
        server.stop()
