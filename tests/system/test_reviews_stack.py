"""An access review end to end on the local stack as ``make run`` starts it: started with a signed
slash command, the owner's direct message posted to the Slack Web API stand-in, Keep and Revoke
clicked as Slack sends them, one item left to lapse, the app's clock moved with
``python -m devstack.clock advance`` and the daily schedule fired, and the evidence in JSON, CSV
and HTML checked against IAM (the moto root account) and the audit trail."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from devstack.local import PROJECT
from devstack.process import running_stack
from devstack.slack_command import ResponseCatcher, click_body, command_body, post, sign

OPERATOR, OWNER, PETE = "U0LOCAL0001", "U0LOCAL0002", "U0LOCAL0003"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as facts:
        yield facts


def rest(stack, method, path, body=None, raw=False):
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


def recorded(stack) -> list[dict]:
    with urllib.request.urlopen(stack["slack_api_url"] + "_recorded", timeout=10) as answer:
        return json.loads(answer.read())["calls"]


def wait_for(stack, found, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [c for c in recorded(stack) if found(c)]
        if hits:
            return hits
        time.sleep(0.3)
    raise AssertionError(f"not posted within {timeout} s")


def clock(stack, *args: str) -> list[str]:
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


def slack(stack, path, body):
    return post(stack["api_url"] + path, body, sign(stack["slack_signing_secret"], body))


def values_of(message: dict) -> dict[str, str]:
    """username -> the value of its item's buttons, in a reviewer's message."""
    found, blocks = {}, message["blocks"]
    for n, block in enumerate(blocks):
        if block["type"] == "section" and "text" in block and block["text"]["text"].startswith("*"):
            name = block["text"]["text"][1:].split("*")[0]
            if n + 1 < len(blocks) and blocks[n + 1]["type"] == "actions":
                found[name] = blocks[n + 1]["elements"][0]["value"]
    return found


def test_a_review_runs_on_the_local_stack_and_its_evidence_matches_iam(stack):
    for name, member in (("pete", PETE), ("sam", None), ("ana", None)):
        body = {
            "username": name,
            "groups": ["ChildDeveloperGroup"],
            "ticket": f"SYS-{name}",
            "requested_by": "alice",
            "console": False,
        }
        rest(stack, "POST", "/users", {**body, **({"slack_user": member} if member else {})})
    today = datetime.date.fromisoformat(clock(stack, "now")[-1][:10])
    due = (today + datetime.timedelta(days=10)).isoformat()
    with ResponseCatcher() as catcher:
        body = command_body(
            f"review start ChildDeveloperGroup due {due}",
            user_id=OPERATOR,
            response_url=catcher.url(),
        )
        status, answer = slack(stack, "/slack/commands", body)
        assert status == 200 and "Starting an access review" in answer
        [dm] = wait_for(
            stack,
            lambda c: c["method"] == "chat.postMessage" and c["args"]["channel"] == "D" + OWNER[1:],
        )
        values = values_of(dm["args"])
        assert set(values) == {"pete", "sam", "ana"}
        review_id = values["pete"].split(":")[0]
        for action, name in (("review_revoke", "pete"), ("review_keep", "sam")):
            click = click_body(action, values[name], user_id=OWNER, response_url=catcher.url("/c"))
            assert slack(stack, "/slack/interactions", click)[0] == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            review = rest(stack, "GET", f"/reviews/{review_id}")
            if sum(1 for i in review["items"] if i.get("decision")) == 2:
                break
            time.sleep(0.3)

    iam = boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        "iam", endpoint_url=stack["aws_endpoint_url"]
    )
    members = {u["UserName"] for u in iam.get_group(GroupName="ChildDeveloperGroup")["Users"]}
    assert members == {"sam", "ana"}

    # ana lapses: past the due date the schedule closes the review and escalates her item.
    clock(stack, "advance", "11d")
    fired = json.loads(clock(stack, "access_reviews")[-1])["access_reviews"]
    assert fired["closed"] == [review_id]
    wait_for(
        stack,
        lambda c: c["method"] == "chat.postMessage" and c["args"]["channel"] == "C0LOCALREVIEWS",
    )

    evidence = rest(stack, "GET", f"/reviews/{review_id}/evidence")
    assert evidence["review"]["status"] == "closed"
    assert evidence["totals"] | {} == {
        "items": 3,
        "kept": 1,
        "revoked": 1,
        "carried_out": 1,
        "undecided": 1,
        "lapsed": 0,
        "escalated": 1,
    }
    assert evidence["check"]["every_revoke_carried_out"] and evidence["check"]["every_revoke_holds"]
    [pete] = [i for i in evidence["items"] if i["username"] == "pete"]
    removal = rest(stack, "GET", f"/audit?ticket={pete['removal_ticket']}")["events"]
    assert [(e["action"], e["result"]) for e in removal] == [("move", "ok")]
    assert pete["audit"]["at"] == removal[0]["at"] and pete["decided_by"] == OWNER

    rows = list(
        csv.DictReader(
            io.StringIO(rest(stack, "GET", f"/reviews/{review_id}/evidence?format=csv", raw=True))
        )
    )
    assert {r["username"]: (r["decision"], r["still_holds"]) for r in rows} == {
        "pete": ("revoke", "yes"),
        "sam": ("keep", ""),
        "ana": ("", ""),
    }
    page = rest(stack, "GET", f"/reviews/{review_id}/evidence?format=html", raw=True)
    assert "PASS: all 1 revoke(s)" in page and "escalated to the operators" in page
