"""The onboarding's welcome and its first access key (moto in process, the dev stage, which issues
keys: ACCESS_KEYS=issued_at_onboarding).

The key is handed out as the temporary password is: once, in the answer. It is never in the
state table or the idempotency table, the audit trail, the logs, the EventBridge event or the
ticket's callback, and a replay answers without it.
"""

from __future__ import annotations

import json
import logging
import os

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from chalicelib.kernel.snapshot import READS
from chalicelib.settings import Settings
from devstack.local import REGION, shared_session

ROOT = "123456789012"
CHILD = "222233334444"
BODY = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-1",
    "requested_by": "alice",
    "access_key": True,
}


def keys_of(username: str = "pete") -> list[str]:
    return [
        k["AccessKeyId"]
        for k in boto3.client("iam").list_access_keys(UserName=username)["AccessKeyMetadata"]
    ]


@pytest.fixture
def events():
    """What the app publishes on EventBridge, as sent (recorded on the way out)."""
    sent: list[dict] = []

    def record(params, **_):
        sent.append(params)

    client = bootstrap.services().clients.root("events")
    client.meta.events.register("before-parameter-build.events.PutEvents", record)
    yield sent
    client.meta.events.unregister("before-parameter-build.events.PutEvents", record)


def test_onboarding_with_a_key_answers_it_once_in_a_key_holders_welcome(api):
    response = api.call("POST", "/users", BODY)
    assert response.status_code == 201, response.json
    answer = response.json
    key = answer["access_key"]
    assert set(key) == {"access_key_id", "secret_access_key"}
    assert keys_of() == [key["access_key_id"]]
    assert answer["user"]["access_keys"] == [
        {"id": key["access_key_id"], "status": "Active", "last_used": None}
    ]
    assert answer["credentials"] == "access_key"
    assert "login_session" not in answer["aws_config"]
    assert f"[profile {ROOT}-pete]" in answer["aws_config"]
    steps = [s["step"] for s in answer["welcome"]]
    assert steps == ["sign_in", "user_name", "password", "mfa", "access_key", "aws_config"]
    # The steps hold no secret: they name the fields that do.
    assert key["secret_access_key"] not in json.dumps(answer["welcome"])
    assert answer["temporary_password"] not in json.dumps(answer["welcome"])
    assert answer["welcome"][4]["secret"] == "access_key"
    assert answer["welcome"][0]["url"] == f"https://{ROOT}.signin.aws.amazon.com/console"


def test_the_key_is_kept_nowhere_and_never_replayed(api, events, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    body = {**BODY, "callback_url": "http://127.0.0.1:9/tickets"}
    first = api.call("POST", "/users", body)
    assert first.status_code == 201, first.json
    secret = first.json["access_key"]["secret_access_key"]
    password = first.json["temporary_password"]

    dynamodb = boto3.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        items = json.dumps(dynamodb.scan(TableName=table)["Items"])
        assert secret not in items and password not in items, table
    audit = json.dumps(api.call("GET", "/audit?username=pete").json)
    assert secret not in audit and password not in audit
    assert '"CreateAccessKey"' in audit  # the call is audited, its answer is not
    assert events and secret not in json.dumps(events, default=str)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="iam-lifecycle-dev-work")["QueueUrl"]
    queued = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert queued and all(secret not in m["Body"] and password not in m["Body"] for m in queued)
    assert any("callback" in m["Body"] and "welcome" in m["Body"] for m in queued)

    again = api.call("POST", "/users", body)  # the same ticket, the same body: a replay
    assert again.status_code == 201
    assert "access_key" not in again.json and "temporary_password" not in again.json
    assert again.json["welcome"] == first.json["welcome"]  # the steps, without the secrets
    assert keys_of() == [first.json["access_key"]["access_key_id"]]  # no second key

    out, err = capfd.readouterr()
    for text in (caplog.text, out, err):
        assert secret not in text and password not in text


def test_a_stage_that_issues_no_keys_refuses_the_option(api, client, clock, monkeypatch):
    for mode in ("none", "self_service"):
        settings = Settings.from_env({**os.environ, "ACCESS_KEYS": mode})
        bootstrap.use(
            bootstrap.build(settings, AwsClients(REGION, session=shared_session()), clock)
        )
        response = api.call("POST", "/users", {**BODY, "ticket": f"T-{mode}"})
        assert response.status_code == 400, response.json
        assert "ACCESS_KEYS" in response.json["Message"] and "aws login" in response.json["Message"]
    assert boto3.client("iam").list_users(PathPrefix="/managed/")["Users"] == []


def test_a_keyless_onboarding_welcomes_with_aws_login_and_the_accounts_alias(api):
    boto3.client("iam").create_account_alias(AccountAlias="acme-root")
    response = api.call("POST", "/users", {**BODY, "access_key": False})
    assert response.status_code == 201, response.json
    answer = response.json
    assert "access_key" not in answer and answer["credentials"] == "login_session"
    assert keys_of() == []
    welcome = {s["step"]: s for s in answer["welcome"]}
    assert list(welcome) == ["sign_in", "user_name", "password", "mfa", "aws_login", "aws_config"]
    assert welcome["sign_in"]["url"] == "https://acme-root.signin.aws.amazon.com/console"
    assert welcome["aws_login"]["command"] == f"aws login --profile {ROOT}-pete"
    assert welcome["aws_config"]["config"] == answer["aws_config"]
    assert f"login_session = arn:aws:iam::{ROOT}:user/managed/pete" in answer["aws_config"]
    assert welcome["aws_config"]["try"].endswith(f"--profile {CHILD}-DeveloperRole")
    assert welcome["mfa"]["mfa_serial"] == f"arn:aws:iam::{ROOT}:mfa/pete"


def test_the_alias_is_read_in_the_onboardings_first_wave():
    assert "alias" in READS["onboard"]


@pytest.fixture
def attach_fails_once(client):
    """The app's next AttachUserPolicy fails as AWS does when it is down (a 5xx)."""
    from botocore.awsrequest import AWSResponse

    state = {"failures": 0}

    def fail(**_):
        if state["failures"]:
            return None
        state["failures"] += 1
        return (
            AWSResponse("https://iam.amazonaws.com", 500, {}, None),
            {
                "Error": {"Code": "ServiceFailure", "Message": "internal failure"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
        )

    client_events = bootstrap.services().clients.root("iam").meta.events
    client_events.register("before-call.iam.AttachUserPolicy", fail)
    yield state
    client_events.unregister("before-call.iam.AttachUserPolicy", fail)


def test_a_retried_onboarding_replaces_the_key_nobody_saw(api, attach_fails_once):
    failed = api.call("POST", "/users", BODY)
    assert failed.status_code >= 500 and attach_fails_once["failures"] == 1, failed.json
    assert len(keys_of()) == 1  # made beside the failed attachment; its secret never shown
    done = api.call("POST", "/users", BODY)
    assert done.status_code == 201, done.json
    assert keys_of() == [done.json["access_key"]["access_key_id"]]


def test_the_merge_script_route(api):
    api.call("POST", "/users", {**BODY, "access_key": False})
    script = api.call("GET", f"/users/pete/aws-config?format=shell&remove={CHILD}-BreakGlassRole")
    assert script.status_code == 200 and script.headers["Content-Type"] == "text/x-shellscript"
    text = script.body.decode()
    assert text.startswith("#!/bin/sh") and f"profile {CHILD}-BreakGlassRole" in text
    assert api.call("GET", "/users/pete/aws-config").json["aws_config"] in text
    plain = api.call("GET", "/users/pete/aws-config?format=shell")
    assert plain.status_code == 200 and plain.body.decode().startswith("#!/bin/sh")
    refused = api.call("GET", "/users/pete/aws-config?format=shell&remove=default")
    assert refused.status_code == 400 and "remove" in refused.json["Message"]
