"""Credential hygiene on the local stack as ``make run`` starts it: the app's clock moved with
``python -m devstack.clock advance``, last use set through the emulator's endpoint, the
schedule fired with ``fire`` as the app principal (IAM enforced: .chalice/policy-dev.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest

from devstack.local import PROJECT
from devstack.moto_last_used import ENDPOINT
from devstack.process import running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as facts:
        yield facts


def call(stack, method, path, body=None):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {stack['api_token']}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        stack["api_url"] + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def admin(stack, service):
    return boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        service, endpoint_url=stack["aws_endpoint_url"]
    )


def clock(stack, *args: str) -> list[str]:
    """``python -m devstack.clock ...`` as a person runs it beside ``make run``."""
    app = stack["app_credentials"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=app["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=app["aws_secret_access_key"],
        AWS_SESSION_TOKEN=app["aws_session_token"],
        AWS_ENDPOINT_URL=stack["aws_endpoint_url"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        STACK_CLOCK_FILE=stack["clock_file"],
    )
    done = subprocess.run(
        [sys.executable, "-m", "devstack.clock", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def fire(stack, *flags: str) -> dict:
    """The schedule's answer (the lines before it are the app's JSON logs and metrics)."""
    lines = clock(stack, "credential_hygiene", *flags)
    return json.loads(lines[-1])["credential_hygiene"]


def set_last_used(stack, body: dict) -> None:
    request = urllib.request.Request(
        stack["aws_endpoint_url"] + ENDPOINT,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == {"ok": True}


def test_a_dormant_key_is_noticed_reminded_then_deactivated_and_a_new_user_is_not(stack):
    iam = admin(stack, "iam")
    for name in ("dora", "nora"):
        body = {"username": name, "groups": ["ChildDeveloperGroup"], "ticket": f"T-{name}"}
        status, _ = call(
            stack, "POST", "/users", {**body, "requested_by": "alice", "console": False}
        )
        assert status == 201
    key_id = iam.create_access_key(UserName="dora")["AccessKey"]["AccessKeyId"]
    nora_key = iam.create_access_key(UserName="nora")["AccessKey"]["AccessKeyId"]
    assert call(stack, "GET", "/hygiene") == (200, {"findings": []})  # day 0: nothing, N/A or not

    now = clock(stack, "advance", "50d")[-1]
    # nora's key was used an hour ago (the endpoint moto lacks); dora's never.
    set_last_used(stack, {"username": "nora", "keys": {nora_key: now}})
    status, answer = call(stack, "GET", "/hygiene")
    assert status == 200
    assert [
        (f["username"], f["rule"], f["credential"], f["next_action"]) for f in answer["findings"]
    ] == [("dora", "unused", key_id, "notify")]

    assert [f["credential"] for f in fire(stack)["noticed"]] == [key_id]
    clock(stack, "advance", "6d")
    assert [f["credential"] for f in fire(stack)["reminded"]] == [key_id]
    clock(stack, "advance", "1d")
    set_last_used(stack, {"username": "nora", "keys": {nora_key: clock(stack, "now")[-1]}})
    plan = fire(stack, "--dry-run")
    assert [p["ticket"].split(":")[1:4] for p in plan["plans"]] == [["unused", "dora", key_id]]
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Active"
    acted = fire(stack)["acted"]
    assert [(a["credential"], a["done"]) for a in acted] == [(key_id, "deactivated")]
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert iam.list_access_keys(UserName="nora")["AccessKeyMetadata"][0]["Status"] == "Active"

    status, restored = call(
        stack, "POST", "/users/dora/restore", {"ticket": "T-r", "requested_by": "alice"}
    )
    assert status == 200, restored
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_the_password_last_use_set_is_what_aws_would_report(stack):
    iam = admin(stack, "iam")
    body = {"username": "pia", "groups": ["ChildDeveloperGroup"], "ticket": "T-pia"}
    assert call(stack, "POST", "/users", {**body, "requested_by": "alice"})[0] == 201
    set_last_used(stack, {"username": "pia", "password": "2026-01-02T03:04:05Z"})
    assert (
        iam.get_user(UserName="pia")["User"]["PasswordLastUsed"]
        .isoformat()
        .startswith("2026-01-02T03:04:05")
    )
