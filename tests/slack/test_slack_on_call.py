"""On-call auto-approval through signed Slack requests: the dev stage's BreakGlassGroup policy
names PagerDuty escalation policy PLOCALEP up to level 1; the PagerDuty stand-in says who is on
call, and the person is matched by the e-mail kept on their user."""

from __future__ import annotations

import html

import pytest

from tests.support.approvals import APPROVER, GROUP, NOBODY, OPERATOR, buttons, text_of

PETE = "pete@example.com"
POLICY = "PLOCALEP"


def ask(flow, member=NOBODY, text=f"request {GROUP} 2 deploy hotfix INC-7") -> str:
    response = flow.command(text, member)
    assert response.status_code == 200, response.body
    flow.work()
    return html.unescape(" ".join(r["text"] for r in flow.replies()))


def story(flow, request_id) -> list[tuple[str, str, str]]:
    return [(e["action"], e["requested_by"], e["result"]) for e in flow.audit(request_id)]


def test_an_on_call_engineer_in_the_first_tier_is_approved_at_once(flow, pagerduty):
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call(
        {"email": "Pete@Example.com", "escalation_policy": POLICY, "level": 1},
        {"email": "olga@example.com", "escalation_policy": POLICY, "level": 2},
    )
    answer = ask(flow)
    assert "was approved; access until" in answer
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    [request] = flow.requests()
    assert request["status"] == "approved" and request["decided_by"] == f"pagerduty:{POLICY}"
    assert request["on_call"] == {"level": 1, "by": f"pagerduty:{POLICY}"}
    assert request["grant"]["group"] == GROUP
    # The approvers' channel is told, without buttons; the requester by direct message.
    [post] = flow.channel_posts()
    assert buttons(post) == {}
    assert f"Approved: on call (level 1) by pagerduty:{POLICY}" in text_of(post)
    assert "was approved" in text_of(flow.dms_to(NOBODY)[-1])
    assert story(flow, request["id"]) == [
        ("request", f"slack:{NOBODY}", "ok: pending"),
        ("decide", f"pagerduty:{POLICY}", "ok: approved: on call (level 1)"),
        ("grant", f"pagerduty:{POLICY}", "ok"),
    ]
    [asked] = pagerduty.requests
    assert asked["query"]["escalation_policy_ids[]"] == [POLICY]
    assert asked["query"]["include[]"] == ["users"]
    assert asked["accept"] == "application/vnd.pagerduty+json;version=2"


def test_an_on_call_engineer_in_the_wrong_tier_is_sent_to_the_approvers(flow, pagerduty):
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call({"email": PETE, "escalation_policy": POLICY, "level": 2})
    assert "Its approvers decide in Slack" in ask(flow)
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    [request] = flow.requests(status="pending")
    [post] = flow.channel_posts()
    assert set(buttons(post)) == {"request_approve", "request_deny"}
    assert "pete is on call at level 2 of PLOCALEP; only levels up to 1" in text_of(post)
    flow.approve(request["id"], APPROVER)  # and then approved as any other
    flow.work()
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert [r for _, _, r in story(flow, request["id"])] == ["ok: pending", "ok: approved", "ok"]


@pytest.mark.parametrize("status", [503, 429, 0])
def test_pagerduty_failing_sends_the_request_to_the_approvers_with_a_note(flow, pagerduty, status):
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call({"email": PETE, "escalation_policy": POLICY, "level": 1})
    pagerduty.fail(status)  # 0: the connection closed without an answer
    assert "Its approvers decide in Slack" in ask(flow)
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    [request] = flow.requests(status="pending")
    [post] = flow.channel_posts()
    assert set(buttons(post)) == {"request_approve", "request_deny"}
    assert "PagerDuty could not be asked whether the requester is on call" in text_of(post)
    assert [r for _, _, r in story(flow, request["id"])] == ["ok: pending"]


def test_a_wrong_pagerduty_token_is_never_an_approval(flow, pagerduty):
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call({"email": PETE, "escalation_policy": POLICY, "level": 1})
    pagerduty.token = "another-token"
    ask(flow)
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert "HTTP 401" in text_of(flow.channel_posts()[0])


def test_someone_not_on_call_or_without_an_e_mail_is_sent_to_the_approvers(flow, pagerduty):
    pagerduty.set_on_call({"email": "olga@example.com", "escalation_policy": POLICY, "level": 1})
    flow.link("pete", NOBODY, email=PETE)
    flow.link("olga", OPERATOR)  # her user keeps no e-mail
    ask(flow)
    ask(flow, member=OPERATOR)
    assert len(flow.requests(status="pending")) == 2
    pete_post, olga_post = flow.channel_posts()
    assert "PagerDuty" not in text_of(pete_post)
    assert "olga has no e-mail on their user" in text_of(olga_post)
    # one question to PagerDuty for both: its answer is kept for a minute
    assert len(pagerduty.requests) == 1


def test_only_a_group_whose_policy_names_on_call_is_auto_approved(flow, pagerduty):
    flow.policies({GROUP: {"approvers": [OPERATOR, APPROVER], "channel": "C0LOCALAPPROVALS"}})
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call({"email": PETE, "escalation_policy": POLICY, "level": 1})
    ask(flow)
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert len(flow.requests(status="pending")) == 1 and pagerduty.requests == []


def test_an_on_call_approval_without_a_channel_tells_each_approver(flow, pagerduty):
    flow.policies(
        {
            GROUP: {
                "approvers": [OPERATOR, APPROVER],
                "on_call": {"schedule": "PLOCALS1"},
            }
        }
    )
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call(
        {"email": PETE, "escalation_policy": POLICY, "level": 3, "schedule": "PLOCALS1"}
    )
    ask(flow)
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    for approver in (OPERATOR, APPROVER):
        [told] = flow.dms_to(approver)
        assert "Approved: on call (level 3) by pagerduty:PLOCALS1" in text_of(told)
    assert pagerduty.requests[0]["query"]["schedule_ids[]"] == ["PLOCALS1"]


def test_a_rest_request_for_someone_on_call_answers_approved_and_granted(flow, pagerduty, api):
    flow.link("pete", NOBODY, email=PETE)
    pagerduty.set_on_call({"email": PETE, "escalation_policy": POLICY, "level": 1})
    answer = api.call(
        "POST",
        "/requests",
        {
            "username": "pete",
            "group": GROUP,
            "hours": 1,
            "reason": "paged for INC-8",
            "ticket": "CHG-ONCALL-1",
            "requested_by": "jira",
        },
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "approved" and answer.json["grant"]["group"] == GROUP
    assert answer.json["on_call"] == {"level": 1, "by": f"pagerduty:{POLICY}"}
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
