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
import time

import boto3

from devstack.slack_command import ResponseCatcher, click_body, command_body
from tests.support.stack_client import clock, rest, slack, wait_for

OPERATOR, OWNER, PETE = "U0LOCAL0001", "U0LOCAL0002", "U0LOCAL0003"


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
    # sam is linked to a Slack member: one reviewer's keep is his decision.
    for name, member in (("pete", PETE), ("sam", "U0SAM000001"), ("ana", None)):
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
    with ResponseCatcher(stack["slack_api_url"]) as catcher:
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
        "outside": 0,
        "owed_by_hand": 0,
    }
    assert evidence["check"]["verdict"] == "PASS"
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
