"""What a cold start loads: importing the app does no work and loads none of the heavy libraries;
each path loads what it uses (bench/cold_start.py measures the whole acknowledgement)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import boto3
import pytest
from moto import mock_aws
from slack_sdk.signature import SignatureVerifier

from chalicelib.aws.secrets import SecretsStore
from chalicelib.edges.slack.edge import signature_valid
from devstack.local import PROJECT
from tests.support.app_client import stage_environment

HEAVY = ("pydantic", "boto3", "botocore", "slack_sdk", "aws_xray_sdk", "aws_lambda_powertools")


def loaded_after(code: str) -> set[str]:
    """The heavy libraries a fresh interpreter has loaded after running ``code``."""
    script = (
        f"import json, sys\n{code}\nprint(json.dumps(sorted(set(m.split('.')[0] for m in sys.modules)"
        f" & set({HEAVY!r}))))"
    )
    env = {**os.environ, **stage_environment()}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_app_loads_no_heavy_library():
    assert loaded_after("import app") == set()


def test_a_health_check_with_tracing_off_loads_neither_aws_nor_the_xray_sdk():
    event = {
        "resource": "/health",
        "path": "/health",
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "stage": "api"},
    }
    code = (
        f"from app import app\nanswer = app({event!r}, None)\n"
        "assert answer['statusCode'] == 200, answer"
    )
    # Powertools is, to ask whether tracing is on (it reads botocore's version for its user agent).
    assert loaded_after(code) <= {"aws_lambda_powertools", "botocore"}


def test_help_is_answered_without_pydantic():
    code = (
        "from chalicelib.edges.slack import grammar, replies\n"
        "replies.help_text('/access', grammar.parse_command('help').fields['verb'])"
    )
    assert "pydantic" not in loaded_after(code)


@pytest.mark.parametrize(
    "case",
    [
        "good",
        "wrong secret",
        "stale",
        "future",
        "tampered",
        "not ascii",
        "not utf-8",
        "empty secret",
    ],
)
def test_the_signature_check_answers_as_slack_sdk_does(case):
    secret, body, stamp = "s3cret", b"token=x&text=status%20pete", str(int(time.time()))
    if case == "stale":
        stamp = str(int(time.time()) - 301)
    if case == "future":
        stamp = str(int(time.time()) + 301)
    signed = (
        "v0="
        + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    )
    checked_secret, checked_body, signature = secret, body, signed
    if case == "wrong secret":
        checked_secret = "other"
    if case == "tampered":
        checked_body = body + b"x"
    if case == "not ascii":
        signature = signed[:-1] + "é"
    if case == "not utf-8":
        checked_body = b"\xff" + body
    if case == "empty secret":
        checked_secret = " "

    def outcome(check):  # type: ignore[no-untyped-def]
        try:
            return check()
        except Exception as error:  # noqa: BLE001 - the kind of error is what is compared
            return type(error).__mro__[1] if isinstance(error, UnicodeError) else type(error)

    ours = outcome(lambda: signature_valid(checked_secret, checked_body, stamp, signature))
    theirs = outcome(
        lambda: SignatureVerifier(checked_secret).is_valid(checked_body, stamp, signature)
    )
    assert ours == theirs
    assert (ours is True) == (case == "good")


def test_secrets_are_read_once_per_max_age():
    now = [0.0]
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="token", SecretString="first")
        secrets = SecretsStore(client, max_age=300, clock=lambda: now[0])
        assert secrets.get("token") == "first"
        client.put_secret_value(SecretId="token", SecretString="second")
        assert secrets.get("token") == "first"  # cached
        now[0] += 301
        assert secrets.get("token") == "second"


def test_a_schedule_deployed_from_its_blueprint_runs_with_the_apps_middleware():
    """Chalice deploys a Blueprint's schedule with its module as the Lambda handler, so a cold
    start imports that module, not app.py (aws/chalice#1566): the module must still bring the
    app's middleware (tracing, the audit trail's client ``schedule``) and its services."""
    from app import app

    handlers = {
        s.handler_string for s in app.event_sources if not s.handler_string.startswith("app.")
    }
    assert handlers  # the capabilities' schedules
    for handler in sorted(handlers):
        module, name = handler.rsplit(".", 1)
        code = (
            f"import sys, {module} as m\nh = m.{name}\n"
            "assert [f.__name__ for f in h.middleware_handlers] == ['trace', '_scheduled'], "
            "h.middleware_handlers\nassert 'app' in sys.modules"
        )
        loaded_after(code)  # raises when the check fails
