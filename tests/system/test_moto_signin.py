"""AWS Sign-In's sessions in the local AWS (devstack/moto_signin.py) behave, through boto3, as
AWS documents them.

AWS's documentation relied on:

- Sign-In API reference (https://docs.aws.amazon.com/signin/latest/APIReference/Welcome.html),
  as botocore's ``signin`` model (2023-01-01) carries it and the AWS Tools for PowerShell
  reference repeats it (Get-AMSPSessionList, Get-AMSPSession, Revoke-AMSPSessionBatch,
  https://docs.aws.amazon.com/powershell/v5/reference/items/Revoke-AMSPSessionBatch.html):
  ListSessions "lists sign-in sessions for an IAM identity ... If you omit principalArn, the
  operation lists the caller's own sessions ... Filters are combined with a logical AND";
  GetSession: "A session that belongs to a different identity or account is reported as not
  found"; BatchRevokeSessions "revokes up to five sign-in sessions. A revoked session can no
  longer be refreshed. Revoking a session that is already revoked succeeds. Each session must
  belong to the identity specified by principalArn ... Failures for individual sessions are
  returned in the errors list and do not fail the whole request".
- The ListSessions paginator (nextToken/maxResults, result key ``items``):
  https://docs.aws.amazon.com/boto3/latest/reference/services/signin/paginator/ListSessions.html
- CreateOAuth2Token's AccessDeniedException: ``error`` is "One of TOKEN_EXPIRED,
  AUTHCODE_EXPIRED, USER_CREDENTIALS_CHANGED, or INSUFFICIENT_PERMISSIONS" (the model); botocore's
  ``aws login`` credential provider (botocore.credentials.LoginCredentialFetcher) asks the person
  to sign in again on TOKEN_EXPIRED, which is what a revoked session answers here.
- Service Authorization Reference, "Actions, resources, and condition keys for AWS Signin"
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssignin.html):
  ListSessions is authorized as ``signin:ListSessions`` (List), BatchRevokeSessions as
  ``signin:BatchRevokeSessions`` (Write), GetSession as ``signin:GetSession`` (Read).
"""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_ext, moto_signin

ACCOUNT = "123456789012"
PETE = f"arn:aws:iam::{ACCOUNT}:user/pete"
ANNA = f"arn:aws:iam::{ACCOUNT}:user/anna"
CLI_CLIENT = "arn:aws:signin:::devtools/same-device"


@pytest.fixture
def signin():
    moto_ext.apply()
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        for name in ("pete", "anna"):
            iam.create_user(UserName=name, Path="/managed/")
        yield boto3.client("signin", region_name="us-east-1")


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str | None]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response.get("error")


def refresh(client, token: str) -> dict:
    return client.create_o_auth2_token(
        tokenInput={"clientId": CLI_CLIENT, "grantType": "refresh_token", "refreshToken": token}
    )["tokenOutput"]


def test_apply_is_idempotent():
    moto_signin.apply()
    moto_signin.apply()
    patterns = [p for s, p in __import__("moto.backend_index").backend_index.backend_url_patterns]
    assert len([p for p in patterns if "signin" in p.pattern]) == len(moto_signin.URL_BASES)


def test_an_issued_session_is_listed_for_its_user_only(signin):
    # Issued for the user's ARN with its path: Sign-In names the user without it.
    issued = moto_signin.issue_session(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/managed/pete")
    moto_signin.issue_session(ACCOUNT, ANNA, client_type="MCP")

    [session] = signin.list_sessions(principalArn=PETE)["items"]
    assert session["sessionArn"] == issued["sessionArn"]
    assert (session["principalArn"], session["status"], session["clientType"]) == (
        PETE,
        "ACTIVE",
        "CLI",
    )
    assert session["clientId"] == CLI_CLIENT
    assert session["expiresAt"] > session["issuedAt"] > 0

    everyone = signin.list_sessions(principalArn=f"arn:aws:iam::{ACCOUNT}:*")["items"]
    assert {s["principalArn"] for s in everyone} == {PETE, ANNA}
    assert signin.get_session(sessionArn=issued["sessionArn"], principalArn=PETE)["status"] == (
        "ACTIVE"
    )


def test_another_identitys_session_is_not_found(signin):
    issued = moto_signin.issue_session(ACCOUNT, PETE)
    with pytest.raises(ClientError) as excinfo:
        signin.get_session(sessionArn=issued["sessionArn"], principalArn=ANNA)
    assert error(excinfo) == ("ResourceNotFoundException", "RESOURCE_NOT_FOUND")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_sessions_page_by_next_token(signin):
    issued = {moto_signin.issue_session(ACCOUNT, PETE)["sessionArn"] for _ in range(12)}
    first = signin.list_sessions(principalArn=PETE, maxResults=5)
    assert len(first["items"]) == 5 and first["nextToken"]

    pages = signin.get_paginator("list_sessions").paginate(
        principalArn=PETE, PaginationConfig={"PageSize": 5}
    )
    sizes = [len(page["items"]) for page in pages]
    assert sizes == [5, 5, 2]
    listed = [
        s["sessionArn"]
        for page in signin.get_paginator("list_sessions").paginate(
            principalArn=PETE, PaginationConfig={"PageSize": 5}
        )
        for s in page["items"]
    ]
    assert sorted(listed) == sorted(issued)

    with pytest.raises(ClientError) as excinfo:
        signin.list_sessions(principalArn=PETE, maxResults=101)
    assert error(excinfo)[0] == "ValidationException"


def test_revoke_ends_the_sessions_and_reports_others_in_errors(signin):
    mine = [moto_signin.issue_session(ACCOUNT, PETE)["sessionArn"] for _ in range(3)]
    theirs = moto_signin.issue_session(ACCOUNT, ANNA)["sessionArn"]

    answer = signin.batch_revoke_sessions(
        principalArn=PETE, sessionArns=[*mine[:2], theirs], reason="offboarded"
    )
    assert sorted(s["sessionArn"] for s in answer["revokedSessions"]) == sorted(mine[:2])
    [refused] = answer["errors"]
    assert refused["sessionArn"] == theirs and refused["code"] and refused["message"]

    active = signin.list_sessions(principalArn=PETE, status="ACTIVE")["items"]
    assert [s["sessionArn"] for s in active] == [mine[2]]
    revoked = signin.list_sessions(principalArn=PETE, status="REVOKED")["items"]
    assert sorted(s["sessionArn"] for s in revoked) == sorted(mine[:2])
    # Another identity's session is untouched; revoking a revoked one succeeds.
    assert signin.get_session(sessionArn=theirs, principalArn=ANNA)["status"] == "ACTIVE"
    again = signin.batch_revoke_sessions(principalArn=PETE, sessionArns=mine[:1])
    assert again["revokedSessions"] == [{"sessionArn": mine[0]}] and again["errors"] == []


def test_more_than_five_sessions_in_one_call_is_a_validation_error(signin):
    mine = [moto_signin.issue_session(ACCOUNT, PETE)["sessionArn"] for _ in range(6)]
    with pytest.raises(ClientError) as excinfo:
        signin.batch_revoke_sessions(principalArn=PETE, sessionArns=mine)
    assert error(excinfo)[0] == "ValidationException"
    assert len(signin.list_sessions(principalArn=PETE, status="ACTIVE")["items"]) == 6


def test_a_principal_arn_with_a_path_is_a_validation_error(signin):
    with pytest.raises(ClientError) as excinfo:
        signin.list_sessions(principalArn=f"arn:aws:iam::{ACCOUNT}:user/managed/pete")
    assert error(excinfo)[0] == "ValidationException"


def test_refresh_is_accepted_while_active_and_refused_once_revoked(signin):
    issued = moto_signin.issue_session(ACCOUNT, PETE)
    token = refresh(signin, issued["refreshToken"])
    assert token["tokenType"] == "aws_sigv4" and 0 < token["expiresIn"] <= 900
    assert set(token["accessToken"]) == {"accessKeyId", "secretAccessKey", "sessionToken"}

    signin.batch_revoke_sessions(principalArn=PETE, sessionArns=[issued["sessionArn"]])
    with pytest.raises(ClientError) as excinfo:
        refresh(signin, token["refreshToken"])
    assert error(excinfo) == ("AccessDeniedException", "TOKEN_EXPIRED")


def test_a_new_mock_starts_without_sessions():
    moto_ext.apply()
    with mock_aws():
        moto_signin.issue_session(ACCOUNT, PETE)
    with mock_aws():
        client = boto3.client("signin", region_name="us-east-1")
        assert client.list_sessions(principalArn=PETE)["items"] == []


def _post(endpoint: str, path: str, body: bytes, content_type: str) -> dict:
    request = urllib.request.Request(
        f"{endpoint}{path}", data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def test_botocore_sends_session_operations_to_aws_whatever_the_endpoint(tmp_path, monkeypatch):
    """Why the local stack's processes need ``endpoint_rules``: without it the configured
    endpoint is ignored for ListSessions, with it every operation goes there."""
    local = "http://127.0.0.1:1"

    def url(session, operation: str, **params) -> str:
        client = session.client("signin", endpoint_url=local, region_name="us-east-1", **KEYLESS)
        sent: list[str] = []

        def stop(request, **_):
            sent.append(request.url)
            raise RuntimeError("not sent")

        client.meta.events.register("before-send", stop)
        with pytest.raises(RuntimeError):
            getattr(client, operation)(**params)
        return sent[0]

    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    assert url(boto3.session.Session(), "list_sessions").startswith(
        "https://signin.us-east-1.api.aws/"
    )
    monkeypatch.setenv("AWS_DATA_PATH", moto_signin.endpoint_rules(tmp_path))
    session = boto3.session.Session()
    assert url(session, "list_sessions") == f"{local}/list-sessions"
    assert url(session, "batch_revoke_sessions", sessionArns=["a"]) == (
        f"{local}/batch-revoke-sessions"
    )


KEYLESS = {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "x"}


def test_the_server_routes_signin_and_enforces_its_actions(tmp_path, monkeypatch):
    """In the threaded moto server (``make run``): a session issued over HTTP, listed and
    refreshed; with authorization enforced, a user without ``signin:ListSessions`` is refused
    and one allowed it on the listed user's ARN (with its path) is served."""
    from moto.server import ThreadedMotoServer

    moto_ext.apply()
    monkeypatch.setenv("AWS_DATA_PATH", moto_signin.endpoint_rules(tmp_path))
    session = boto3.session.Session()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = None

    def client(service: str, **credentials: str):
        return session.client(
            service, endpoint_url=endpoint, region_name="us-east-1", **credentials
        )

    try:
        iam = client("iam")
        iam.create_user(UserName="pete", Path="/managed/")
        keys = {}
        for name, resource in (
            ("reader", None),
            ("elsewhere", "arn:aws:iam::*:user/contractors/*"),
            ("operator", "arn:aws:iam::*:user/managed/*"),
        ):
            iam.create_user(UserName=name)
            if resource:
                iam.put_user_policy(
                    UserName=name,
                    PolicyName="signin",
                    PolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["signin:ListSessions", "signin:BatchRevokeSessions"],
                                    "Resource": resource,
                                }
                            ],
                        }
                    ),
                )
            key = iam.create_access_key(UserName=name)["AccessKey"]
            keys[name] = {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            }
        issued = _post(endpoint, moto_signin.ENDPOINT, b'{"username": "pete"}', "application/json")
        assert issued["sessionArn"] and issued["refreshToken"]

        previous = _post(endpoint, "/moto-api/reset-auth", b"0", "text/plain")[
            "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"
        ]
        with pytest.raises(ClientError) as excinfo:
            client("signin", **keys["reader"]).list_sessions(principalArn=PETE)
        assert error(excinfo)[0] == "AccessDeniedException"
        assert "signin:ListSessions" in excinfo.value.response["Error"]["Message"]
        # Authorized against the user's own ARN, with its path: another path is refused.
        with pytest.raises(ClientError) as excinfo:
            client("signin", **keys["elsewhere"]).list_sessions(principalArn=PETE)
        assert error(excinfo)[0] == "AccessDeniedException"
        assert "user/managed/pete" in excinfo.value.response["Error"]["Message"]

        operator = client("signin", **keys["operator"])
        [listed] = operator.list_sessions(principalArn=PETE, status="ACTIVE")["items"]
        assert listed["sessionArn"] == issued["sessionArn"]
        # Unsigned, as AWS's CreateOAuth2Token is: routed to Sign-In by its path.
        assert refresh(client("signin"), issued["refreshToken"])["tokenType"] == "aws_sigv4"
        operator.batch_revoke_sessions(principalArn=PETE, sessionArns=[issued["sessionArn"]])
        with pytest.raises(ClientError) as excinfo:
            refresh(client("signin"), issued["refreshToken"])
        assert error(excinfo) == ("AccessDeniedException", "TOKEN_EXPIRED")
    finally:
        if previous is not None:
            _post(endpoint, "/moto-api/reset-auth", str(previous).encode(), "text/plain")
        # The server shares this process's backends: leave none of its state behind.
        _post(endpoint, "/moto-api/reset", b"", "text/plain")
        server.stop()
