"""Requests for access on the local stack as ``make run`` starts it: a request asked with a
signed slash command, posted by the app to the Slack Web API stand-in (``slack_api_url``), its
Approve button clicked by both approvers the dev stage's BreakGlassGroup needs, as Slack sends
the click, and the grant made in the moto root account by the app principal (so
.chalice/policy-dev.json must allow every call on the way); then its break-glass, limited."""

from __future__ import annotations

import json

import boto3

from devstack.slack_command import ResponseCatcher, click_body, command_body
from tests.support.stack_client import rest, slack, wait_for

REQUESTER, FIRST, APPROVER = "U0LOCAL0003", "U0LOCAL0001", "U0LOCAL0002"


def test_a_request_clicked_through_in_slack_is_granted(stack):
    assert stack["slack_api_url"].startswith("http://127.0.0.1:")
    rest(
        stack,
        "POST",
        "/users",
        {
            "username": "pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "SYS-1",
            "requested_by": "alice",
            "slack_user": REQUESTER,
        },
    )
    with ResponseCatcher(stack["slack_api_url"]) as catcher:
        body = command_body(
            "request BreakGlassGroup 1 deploy INC-42",
            user_id=REQUESTER,
            response_url=catcher.url(),
        )
        status, answer = slack(stack, "/slack/commands", body)
        assert status == 200 and "Asking for access" in answer

        [posted] = wait_for(
            stack,
            lambda c: (
                c["method"] == "chat.postMessage" and c["args"]["channel"] == "C0LOCALAPPROVALS"
            ),
        )
        [actions] = [b for b in posted["args"]["blocks"] if b["type"] == "actions"]
        approve = {e["action_id"]: e["value"] for e in actions["elements"]}["request_approve"]

        # the first of two approvers: the message shows who approved and when, still open
        click = click_body(
            "request_approve", approve, user_id=FIRST, response_url=catcher.url("/first")
        )
        assert slack(stack, "/slack/interactions", click)[0] == 200
        [vote] = wait_for(stack, lambda c: c["method"] == "chat.update")
        shown = json.dumps(vote["args"]["blocks"])
        assert "1 of 2 approvals given" in shown and f"<@{FIRST}> approved at" in shown
        assert rest(stack, "GET", f"/requests/{approve}")["status"] == "pending"

        click = click_body(
            "request_approve", approve, user_id=APPROVER, response_url=catcher.url("/click")
        )
        assert slack(stack, "/slack/interactions", click)[0] == 200
        [update] = wait_for(
            stack,
            lambda c: c["method"] == "chat.update" and "Approved by" in json.dumps(c["args"]),
        )
        assert update["args"]["channel"] == "C0LOCALAPPROVALS"
        assert f"Approved by <@{APPROVER}>" in json.dumps(update["args"]["blocks"])
        wait_for(
            stack,
            lambda c: (
                c["method"] == "chat.postMessage"
                and c["args"]["channel"] == "D" + REQUESTER[1:]
                and "was approved" in c["args"]["text"]
            ),
        )

    request = rest(stack, "GET", f"/requests/{approve}")
    assert request["status"] == "approved" and request["decided_by"] == APPROVER
    assert [(a["by"], a["decision"]) for a in request["approvals"]] == [
        (FIRST, "approve"),
        (APPROVER, "approve"),
    ]
    iam = boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        "iam", endpoint_url=stack["aws_endpoint_url"]
    )
    members = iam.get_group(GroupName="BreakGlassGroup")["Users"]
    assert "pete" in [m["UserName"] for m in members]
    story = rest(stack, "GET", f"/audit?ticket={approve}")["events"]
    assert [(e["action"], e["result"]) for e in story] == [
        ("request", "ok: pending"),
        ("decide", "ok: approval recorded, waiting for more"),
        ("decide", "ok: approved"),
        ("grant", "ok"),
    ]
    assert story[2]["detail"]["approvers"] == [FIRST, APPROVER]

    # Break-glass: granted at once, a review opened; again within its cooldown: refused.
    with ResponseCatcher(stack["slack_api_url"]) as catcher:

        def command(text: str) -> dict:
            body = command_body(text, user_id=REQUESTER, response_url=catcher.url())
            assert slack(stack, "/slack/commands", body)[0] == 200
            return catcher.next(timeout=60)

        assert "ended now" in command("done BreakGlassGroup")["text"]
        activated = command("request BreakGlassGroup 1 --break-glass prod is down INC-43")
        assert "Break-glass access to *BreakGlassGroup* is active" in activated["text"]
        wait_for(
            stack,
            lambda c: (
                c["method"] == "chat.postMessage"
                and c["args"]["channel"] == "C0LOCALREVIEWS"
                and "Break-glass use" in json.dumps(c["args"]["blocks"])
            ),
        )
        [review] = [r for r in rest(stack, "GET", "/reviews")["reviews"] if r.get("source")]
        assert [i["username"] for i in review["items"]] == ["pete"]
        assert "ended now" in command("done BreakGlassGroup")["text"]
        refused = command("request BreakGlassGroup 1 --break-glass prod is down again")
        assert "the next activation may be at" in refused["text"]
    assert "pete" not in [
        m["UserName"] for m in iam.get_group(GroupName="BreakGlassGroup")["Users"]
    ]
