"""A caller of a running local stack (``devstack``), as a person beside ``make run`` is: its REST
API with the token, AWS as the admin, the clock's command line, the Slack Web API stand-in's
record, and signed Slack requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import boto3

from devstack.local import PROJECT
from devstack.slack_command import post, sign


def call(stack, method: str, path: str, body=None, token: bool = True) -> tuple[int, Any]:
    """(status, JSON answer) of one REST call; an error status is answered, not raised."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {stack['api_token']}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        stack["api_url"] + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rest(stack, method: str, path: str, body=None, raw: bool = False) -> Any:
    """The answer of a REST call that must succeed: JSON, or the text itself with ``raw``."""
    request = urllib.request.Request(
        stack["api_url"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {stack['api_token']}",
            "Content-Type": "application/json",
        },
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = answer.read()
    return data.decode() if raw else json.loads(data)


def admin(stack, service: str) -> Any:
    return boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        service, endpoint_url=stack["aws_endpoint_url"]
    )


def clock(stack, *args: str, timeout: float = 180) -> list[str]:
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
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def recorded(stack) -> list[dict]:
    """What the app posted to the Slack Web API stand-in, in order."""
    with urllib.request.urlopen(stack["slack_api_url"] + "_recorded", timeout=10) as answer:
        return json.loads(answer.read())["calls"]


def wait_for(stack, found, timeout: float = 60) -> list[dict]:
    """The recorded Slack calls ``found`` accepts, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [c for c in recorded(stack) if found(c)]
        if hits:
            return hits
        time.sleep(0.3)
    raise AssertionError(f"not posted within {timeout} s")


def slack(stack, path: str, body: str) -> Any:
    """A form POSTed to the app's Slack route, signed as Slack signs it."""
    return post(stack["api_url"] + path, body, sign(stack["slack_signing_secret"], body))
