"""Extensions and tickets that end access, on the local stack as ``make run`` starts it (the app
a principal limited to .chalice/policy-dev.json, IAM enforced): the notice before a grant ends,
sent by the expiry schedule to the Slack Web API stand-in, its Extend button clicked as Slack
sends the click, then the grant's ticket closed by the ticketing system."""

from __future__ import annotations

import json

from devstack.slack_command import ResponseCatcher, button, click_body
from tests.support.stack_client import admin, clock, rest, slack, wait_for

MEMBER = "U0LOCAL0003"
GROUP = "BreakGlassGroup"


def test_a_grant_extended_from_its_notice_then_ended_by_its_ticket(stack):
    rest(
        stack,
        "POST",
        "/users",
        {
            "username": "pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "SYS-X1",
            "requested_by": "alice",
            "slack_user": MEMBER,
        },
    )
    granted = rest(
        stack,
        "POST",
        "/users/pete/grants",
        {"group": GROUP, "hours": 1, "reason": "INC-42", "ticket": "CHG-42", "requested_by": "j"},
    )
    [until] = [g["expires_at"] for g in granted["grants"]]

    # 31 minutes later the expiry schedule tells pete, with an Extend button
    clock(stack, "advance", "31m")
    clock(stack, "expire_grants")
    [notice] = wait_for(
        stack,
        lambda c: (
            c["method"] == "chat.postMessage"
            and c["args"]["channel"] == "D" + MEMBER[1:]
            and "grant_extend" in json.dumps(c["args"].get("blocks"))
        ),
    )
    assert button(notice["args"], "grant_extend") == GROUP

    with ResponseCatcher(stack["slack_api_url"]) as catcher:
        click = click_body("grant_extend", GROUP, user_id=MEMBER, response_url=catcher.url())
        assert slack(stack, "/slack/interactions", click)[0] == 200
        assert "now ends at" in catcher.next(timeout=60)["text"]
    [extended] = rest(stack, "GET", "/users/pete")["grants"]
    assert extended["expires_at"] > until  # two hours later, from its old expiry

    # the ticket it was granted under closes: the group goes, with its sessions
    closed = rest(stack, "POST", "/tickets/CHG-42/closed", {"requested_by": "jira"})
    [ended] = closed["ended"]
    assert ended["username"] == "pete" and ended["group"] == GROUP
    assert ended["sessions_revoked_in"] == stack["child_account_ids"]
    members = admin(stack, "iam").get_group(GroupName=GROUP)["Users"]
    assert "pete" not in [m["UserName"] for m in members]
    assert rest(stack, "GET", "/users/pete")["grants"] == []
    story = rest(stack, "GET", "/audit?username=pete")["events"]
    assert [e["action"] for e in story if e["result"] == "ok"][-3:] == [
        "extend",
        "close_ticket",
        "close_ticket",
    ]
