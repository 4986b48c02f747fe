"""On-call auto-approval on the local stack as ``make run`` starts it: who is on call is set on
the PagerDuty stand-in (``pagerduty_api_url``) as a person would, a request is asked with a
signed slash command, and the app (as the app principal, its token read from the stack's
secret) asks the stand-in, approves, and grants in the moto root account."""

from __future__ import annotations

import json
import urllib.request

from devstack.slack_command import ResponseCatcher, command_body
from tests.support.stack_client import admin, rest, slack, wait_for

REQUESTER = "U0LOCAL0003"


def on_call(stack, *people: dict) -> None:
    request = urllib.request.Request(
        stack["pagerduty_api_url"] + "/pagerduty/oncalls",
        data=json.dumps({"oncalls": list(people)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()


def test_an_on_call_engineer_is_approved_at_once_through_the_pagerduty_stand_in(stack):
    assert stack["pagerduty_api_url"].startswith("http://127.0.0.1:")
    rest(
        stack,
        "POST",
        "/users",
        {
            "username": "oncall-pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "SYS-ONCALL-1",
            "requested_by": "alice",
            "email": "oncall-pete@example.com",
            "slack_user": REQUESTER,
        },
    )
    on_call(
        stack, {"email": "oncall-pete@example.com", "escalation_policy": "PLOCALEP", "level": 1}
    )
    with ResponseCatcher(stack["slack_api_url"]) as catcher:
        body = command_body(
            "request BreakGlassGroup 1 paged for INC-77",
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
    shown = json.dumps(posted["args"]["blocks"])
    assert "Approved: on call (level 1) by pagerduty:PLOCALEP" in shown
    assert '"type": "actions"' not in shown  # nothing left to click

    [request] = rest(stack, "GET", "/requests?username=oncall-pete")["requests"]
    assert request["status"] == "approved" and request["decided_by"] == "pagerduty:PLOCALEP"
    assert request["on_call"] == {"level": 1, "by": "pagerduty:PLOCALEP"}
    members = admin(stack, "iam").get_group(GroupName="BreakGlassGroup")["Users"]
    assert "oncall-pete" in [m["UserName"] for m in members]
    story = rest(stack, "GET", f"/audit?ticket={request['id']}")["events"]
    assert [(e["action"], e["requested_by"], e["result"]) for e in story] == [
        ("request", f"slack:{REQUESTER}", "ok: pending"),
        ("decide", "pagerduty:PLOCALEP", "ok: approved: on call (level 1)"),
        ("grant", "pagerduty:PLOCALEP", "ok"),
    ]
