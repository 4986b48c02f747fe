"""The app's AWS Sign-In adapter (chalicelib/aws/signin.py) against the local AWS with Sign-In
(devstack/moto_signin.py).

AWS's documentation relied on (Sign-In API reference, as botocore's ``signin`` model and
https://docs.aws.amazon.com/powershell/v5/reference/items/Revoke-AMSPSessionBatch.html carry it):
BatchRevokeSessions "revokes up to five sign-in sessions ... Failures for individual sessions are
returned in the errors list and do not fail the whole request"; ListSessions pages with
nextToken. Service Authorization Reference for AWS Signin
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssignin.html): the
calls are authorized as ``signin:ListSessions`` and ``signin:BatchRevokeSessions``.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto import mock_aws

from chalicelib.aws.clients import AwsClients
from chalicelib.aws.signin import SignIn, principal_arn
from chalicelib.kernel.errors import AccessDenied, UpstreamError
from devstack import moto_ext, moto_signin
from devstack.local import PROJECT, REGION, shared_session

ACCOUNT = "123456789012"
PETE = f"arn:aws:iam::{ACCOUNT}:user/managed/pete"  # as IAM names him; Sign-In drops the path
ANNA = f"arn:aws:iam::{ACCOUNT}:user/managed/anna"


class Calls:
    """The Sign-In operations a client sent, and how many sessions each revoke named."""

    def __init__(self, client) -> None:
        self.names: list[str] = []
        self.batches: list[int] = []
        self._lock = threading.Lock()
        client.meta.events.register("before-call.signin", self._called)

    def _called(self, model, params, **_):
        with self._lock:
            self.names.append(model.name)
            if model.name == "BatchRevokeSessions":
                self.batches.append(len(json.loads(params["body"])["sessionArns"]))


@pytest.fixture
def moto():
    moto_ext.apply()
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        for name in ("pete", "anna"):
            iam.create_user(UserName=name, Path="/managed/")
        yield iam


@pytest.fixture
def clients(moto) -> AwsClients:
    return AwsClients(REGION, session=shared_session())


def active(user_arn: str) -> list[str]:
    client = boto3.client("signin", region_name=REGION)
    items = client.list_sessions(principalArn=principal_arn(user_arn), status="ACTIVE")["items"]
    return [s["sessionArn"] for s in items]


def issue(user_arn: str, count: int) -> list[str]:
    return [moto_signin.issue_session(ACCOUNT, user_arn)["sessionArn"] for _ in range(count)]


def test_a_user_without_sessions_costs_one_call(clients):
    calls = Calls(clients.root("signin"))
    assert SignIn(lambda: clients.root("signin")).revoke_sessions(PETE) == 0
    assert calls.names == ["ListSessions"]


def test_every_session_is_revoked_in_batches_of_five(clients):
    issue(PETE, 12)
    theirs = issue(ANNA, 2)
    calls = Calls(clients.root("signin"))

    assert SignIn(lambda: clients.root("signin")).revoke_sessions(PETE, reason="offboarded") == 12
    assert calls.names.count("ListSessions") == 1
    assert sorted(calls.batches) == [2, 5, 5]
    assert active(PETE) == []
    assert sorted(active(ANNA)) == sorted(theirs)  # another person's sessions are untouched


def test_the_client_is_made_on_first_use_only(clients):
    made: list[str] = []

    def client():
        made.append("signin")
        return clients.root("signin")

    signin = SignIn(client)
    assert made == []
    signin.revoke_sessions(PETE)
    assert made


def test_a_session_aws_reports_in_errors_fails_closed(clients):
    mine = issue(PETE, 7)
    refused = mine[6]

    def report_one_refused(model, parsed, **_):
        # moto revokes every session of the user; AWS may answer one in ``errors`` instead.
        if (
            model.name == "BatchRevokeSessions"
            and {"sessionArn": refused} in parsed["revokedSessions"]
        ):
            parsed["revokedSessions"].remove({"sessionArn": refused})
            parsed["errors"].append(
                {"sessionArn": refused, "code": "INTERNAL_FAILURE", "message": "try again"}
            )

    clients.root("signin").meta.events.register("after-call.signin", report_one_refused)
    with pytest.raises(UpstreamError) as excinfo:
        SignIn(lambda: clients.root("signin")).revoke_sessions(PETE)
    assert "6 of 7 revoked, 1 still active" in excinfo.value.message
    assert "INTERNAL_FAILURE" in excinfo.value.message
    detail = excinfo.value.detail or {}
    assert detail["left"] == [refused]
    assert sorted(detail["revoked"]) == sorted(mine[:6])
    assert excinfo.value.retryable


@pytest.fixture
def enforced(monkeypatch):
    """moto checks every request against the caller's policies from now on."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)


def principal(iam, name: str, document: dict) -> AwsClients:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    return AwsClients(REGION, session=session)


def test_a_refused_revoke_fails_closed_naming_what_is_left(moto, request):
    mine = issue(PETE, 3)
    allowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "signin:ListSessions",
                "Resource": "arn:aws:iam::*:user/managed/*",
            }
        ],
    }
    clients = principal(moto, "lister", allowed)
    request.getfixturevalue("enforced")
    with pytest.raises(AccessDenied) as excinfo:
        SignIn(lambda: clients.root("signin")).revoke_sessions(PETE)
    assert "0 of 3 revoked, 3 still active" in excinfo.value.message
    assert "signin:BatchRevokeSessions" in excinfo.value.message
    assert sorted((excinfo.value.detail or {})["left"]) == sorted(mine)
    assert not excinfo.value.retryable


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_policy_allows_listing_and_revoking(moto, request, stage):
    document = json.loads((PROJECT / ".chalice" / f"policy-{stage}.json").read_text())
    clients = principal(moto, f"app-{stage}", document)
    issue(PETE, 6)
    request.getfixturevalue("enforced")
    assert SignIn(lambda: clients.root("signin")).revoke_sessions(PETE) == 6
