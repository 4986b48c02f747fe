"""Requests for access end to end through signed Slack requests: the slash command, the
approvers' channel message and its buttons (clicked as Slack sends the interaction), the worker
run from the queue, and what the app posted to the Slack Web API stand-in."""

from __future__ import annotations

import html
import json
import sys

import boto3

from devstack.local import REGION
from tests.support.approvals import (
    APPROVER,
    CHANNEL,
    GROUP,
    NOBODY,
    OPERATOR,
    STRANGER,
    ask,
    buttons,
    pending_id,
    text_of,
)
from tests.support.slack import ephemeral


def test_onboarding_from_slack_links_the_mentioned_member(flow):
    answer = ephemeral(
        flow.command(
            f"onboard pete ChildDeveloperGroup <@{NOBODY}|pete> pete@example.com", OPERATOR
        )
    )
    assert "Onboarding *pete*" in answer
    flow.work()
    iam = boto3.client("iam", region_name=REGION)
    tags = {t["Key"]: t["Value"] for t in iam.get_user(UserName="pete")["User"]["Tags"]}
    assert tags["slack_user"] == NOBODY and tags["email"] == "pete@example.com"
    assert "Asking for access" in ephemeral(flow.command(f"request {GROUP} 1 on call", NOBODY))


def test_a_member_linked_to_nobody_is_told_at_once_and_nothing_is_queued(flow):
    answer = ephemeral(flow.command(f"request {GROUP} 1 on call", STRANGER))
    assert "not linked to a managed user" in answer
    assert flow.work() == 0
    assert flow.requests() == [] and flow.calls() == []


def test_a_request_is_posted_to_the_approvers_channel_and_an_approval_grants_it(flow):
    flow.link("pete", NOBODY)
    assert "Asking for access for *pete*" in ask(flow)
    [asked] = flow.replies()
    assert "Asked for *BreakGlassGroup* for 2 h" in html.unescape(asked["text"])
    [post] = flow.channel_posts()
    request_id = pending_id(flow)
    assert buttons(post) == {"request_approve": request_id, "request_deny": request_id}
    assert "deploy hotfix INC-1" in text_of(post)
    assert "was sent to its approvers" in text_of(flow.dms_to(NOBODY)[0])

    assert flow.approve(request_id, APPROVER).status_code == 200
    flow.work()
    [update] = flow.updates()
    assert update["channel"] == CHANNEL and update["ts"]
    assert buttons(update) == {} and f"Approved by <@{APPROVER}>" in text_of(update)
    assert "was approved" in text_of(flow.dms_to(NOBODY)[-1])
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    [request] = flow.requests()
    assert request["status"] == "approved" and request["decided_by"] == APPROVER
    assert request["grant"]["group"] == GROUP
    # One ticket tells the whole story: asked, approved, granted through the change runner.
    story = [(e["action"], e["result"]) for e in flow.audit(request_id)]
    assert story == [
        ("request", "ok: pending"),
        ("decide", "ok: approved"),
        ("grant", "ok"),
    ]


def test_a_deny_grants_nothing_and_tells_the_requester(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.deny(request_id, APPROVER)
    flow.work()
    assert ":x: Denied" in text_of(flow.updates()[-1])
    assert "was denied" in text_of(flow.dms_to(NOBODY)[-1])
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert [e["result"] for e in flow.audit(request_id)] == ["ok: pending", "ok: denied"]


def test_someone_not_an_approver_of_the_group_is_refused_ephemerally(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.replies()
    flow.approve(request_id, STRANGER)
    flow.work()
    [refusal] = flow.replies()
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert "only an approver of BreakGlassGroup" in html.unescape(refusal["text"])
    assert flow.requests()[0]["status"] == "pending" and flow.updates() == []
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    refused = flow.audit(request_id)[-1]
    assert refused["requested_by"] == f"slack:{STRANGER}"
    assert refused["result"].startswith("rejected: only an approver")


def test_the_requester_may_not_approve_their_own_request(flow):
    flow.link("olga", OPERATOR)  # an approver of every group, asking for herself
    ask(flow, OPERATOR)
    request_id = pending_id(flow)
    flow.replies()
    flow.approve(request_id, OPERATOR)
    flow.work()
    assert "another approver must decide" in html.unescape(flow.replies()[0]["text"])
    assert flow.groups_of("olga") == ["ChildDeveloperGroup"]
    flow.approve(request_id, APPROVER)  # the other approver may
    flow.work()
    assert flow.groups_of("olga") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_self_approval_when_the_policy_allows_it(flow):
    flow.policies({GROUP: {"approvers": [OPERATOR], "channel": CHANNEL, "self_approval": True}})
    flow.link("olga", OPERATOR)
    ask(flow, OPERATOR)
    flow.approve(pending_id(flow), OPERATOR)
    flow.work()
    assert flow.groups_of("olga") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_a_double_click_grants_once(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.replies()
    flow.approve(request_id, APPROVER)
    flow.approve(request_id, APPROVER)  # both queued before the worker runs
    flow.work()
    grants = [e for e in flow.audit(request_id) if e["action"] == "grant"]
    assert [e["result"] for e in grants] == ["ok"]
    assert "approved already" in html.unescape(flow.replies()[0]["text"])
    assert len(flow.updates()) == 1


def test_two_approvers_clicking_at_once_grant_once(flow):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib import bootstrap
    from chalicelib.kernel.errors import Conflict

    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    approvals = bootstrap.services().approvals

    def decide(member):
        try:
            return approvals.decide(request_id, "approve", member, ticket=f"slack:{member}")
        except Conflict as error:
            return error

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleaved finely, as two Lambda instances are
    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(decide, [OPERATOR, APPROVER]))
    finally:
        sys.setswitchinterval(interval)
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
    assert sum(isinstance(o, dict) and o["status"] == "approved" for o in outcomes) == 1
    grants = [e for e in flow.audit(request_id) if e["action"] == "grant"]
    assert [e["result"] for e in grants] == ["ok"]
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_a_pending_request_expires_and_a_click_after_it_grants_nothing(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.clock.advance(hours=3, minutes=1)
    assert flow.fire("expire_requests") == {"expired": [request_id]}
    flow.work()
    assert "Expired" in text_of(flow.updates()[-1]) and buttons(flow.updates()[-1]) == {}
    assert "expired" in text_of(flow.dms_to(NOBODY)[-1])
    flow.replies()
    flow.approve(request_id, APPROVER)
    flow.work()
    assert "expired already" in html.unescape(flow.replies()[0]["text"])
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    story = [(e["action"], e["result"]) for e in flow.audit(request_id)]
    assert story[:2] == [("request", "ok: pending"), ("expire_request", "ok: expired")]
    assert story[2][1].startswith("rejected")
    # once expired, the group may be asked for again
    ask(flow, text=f"request {GROUP} 1 again")
    assert len(flow.requests(status="pending")) == 1


def test_break_glass_is_granted_at_once_with_every_approver_told(flow):
    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down INC-9")
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    [request] = flow.requests()
    assert request["status"] == "approved" and request["grant"]
    for approver in (OPERATOR, APPROVER):
        [notice] = flow.dms_to(approver)
        assert "Break-glass" in text_of(notice) and "prod is down INC-9" in text_of(notice)
        assert "review" in text_of(notice)
    [post] = flow.channel_posts()
    assert buttons(post) == {} and "break-glass" in text_of(post)
    story = [(e["action"], e["result"]) for e in flow.audit(request["id"])]
    assert story == [
        ("request", "ok: break-glass"),
        ("decide", "ok: break-glass activated"),
        ("grant", "ok"),
    ]


def test_break_glass_needs_a_reason_and_a_policy_that_allows_it(flow):
    flow.link("pete", NOBODY)
    assert "a reason" in ephemeral(flow.command(f"request {GROUP} 1 --break-glass", NOBODY))
    flow.policies({GROUP: {"approvers": [OPERATOR], "channel": CHANNEL}})
    ask(flow, text=f"request {GROUP} 1 --break-glass outage")
    assert "no break-glass activation" in html.unescape(flow.replies()[0]["text"])
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]


def test_done_ends_ones_own_grant_now(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.approve(request_id, APPROVER)
    flow.work()
    flow.replies()
    assert "Ending the access of *pete*" in ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    assert "ended now" in html.unescape(flow.replies()[0]["text"])
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    [request] = flow.requests()
    assert request["status"] == "ended"
    assert "Ended early" in text_of(flow.updates()[-1])
    assert [e["action"] for e in flow.audit(request_id)][-1] == "end_grant"


def test_done_while_pending_cancels_the_request(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    assert flow.requests()[0]["status"] == "cancelled"
    assert "Cancelled by the requester" in text_of(flow.updates()[-1])
    flow.approve(request_id, APPROVER)
    flow.work()
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]


def test_done_without_a_grant_says_so(flow):
    flow.link("pete", NOBODY)
    ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    assert "holds no time-bound access" in html.unescape(flow.replies()[0]["text"])


def test_requests_lists_what_the_member_may_decide(flow):
    flow.link("pete", NOBODY)
    ask(flow)
    flow.replies()
    ephemeral(flow.command("requests", APPROVER))
    flow.work()
    [listing] = flow.replies()
    assert "Waiting for your decision* (1)" in html.unescape(json.dumps(listing))
    assert buttons(listing) == {
        "request_approve": pending_id(flow),
        "request_deny": pending_id(flow),
    }
    flow.link("olga", STRANGER)
    ephemeral(flow.command("requests", STRANGER))
    flow.work()
    assert "No pending request waits for your decision" in json.dumps(flow.replies()[0])


def test_bad_requests_get_a_clear_answer_and_record_nothing(flow):
    flow.link("pete", NOBODY)
    assert "hours must be a whole number" in ephemeral(
        flow.command(f"request {GROUP} two because", NOBODY)
    )
    assert "name the group" in ephemeral(flow.command(f"request {GROUP} 2", NOBODY))
    assert "at most 500 characters" in ephemeral(
        flow.command(f"request {GROUP} 1 " + "x" * 501, NOBODY)
    )
    for text, says in [
        (f"request {GROUP} 5 too long", "at most 4 hours"),
        ("request ChildDeveloperGroup 1 more", "cannot be requested"),
    ]:
        ephemeral(flow.command(text, NOBODY))
        flow.work()
        assert says in html.unescape(flow.replies()[0]["text"]), text
    assert flow.requests() == [] and flow.calls() == []
    ask(flow)
    flow.replies()
    ask(flow, text=f"request {GROUP} 1 a second time")
    assert "pending request for BreakGlassGroup already" in html.unescape(flow.replies()[0]["text"])
    assert len(flow.requests()) == 1


def test_a_suspended_requester_is_refused(flow):
    from chalicelib import bootstrap
    from chalicelib.lifecycle.commands import SuspendRequest

    flow.link("pete", NOBODY)
    bootstrap.services().operations.change(
        "suspend", "pete", SuspendRequest(ticket="T-s", requested_by="alice")
    )
    ask(flow)
    assert "pete is suspended" in html.unescape(flow.replies()[0]["text"])
    assert flow.requests() == []


def test_slacks_rate_limit_is_waited_out(flow):
    import urllib.request

    flow.link("pete", NOBODY)
    urllib.request.urlopen(
        urllib.request.Request(
            flow.standin.url + "_rate_limit",
            data=json.dumps({"method": "chat.postMessage", "times": 1, "retry_after": 1}).encode(),
            method="POST",
        )
    ).read()
    ask(flow)
    throttled = [c for c in flow.standin.recorded("chat.postMessage") if c.get("answered") == 429]
    assert len(throttled) == 1
    assert len(flow.channel_posts()) == 1


def test_members_of_the_approvers_user_group_may_decide(flow):
    flow.policies({GROUP: {"approver_group": "S0ONCALL", "channel": CHANNEL}})
    flow.standin.user_groups["S0ONCALL"] = [STRANGER]
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.approve(request_id, APPROVER)  # an approver by the dev policy, not by this one
    flow.work()
    assert flow.requests()[0]["status"] == "pending"
    flow.approve(request_id, STRANGER)
    flow.work()
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert flow.calls("usergroups.users.list")[0]["args"] == {"usergroup": "S0ONCALL"}


def test_without_a_channel_each_approver_is_asked_directly(flow):
    flow.policies({GROUP: {"approvers": [OPERATOR, APPROVER]}})
    flow.link("pete", NOBODY)
    ask(flow)
    for approver in (OPERATOR, APPROVER):
        [asked] = flow.dms_to(approver)
        assert set(buttons(asked)) == {"request_approve", "request_deny"}
    assert flow.channel_posts() == []


MARKUP = "INC-1 <!channel> <https://evil.example|click here> & <@U0LOCAL0001>"


def raw_markup_in(calls: list[dict]) -> list[str]:
    """Slack markup that reached a message's text or blocks unescaped."""
    sent = json.dumps([c["args"] for c in calls])
    return [m for m in ("<!channel>", "<https://evil", "<@U0LOCAL0001>") if m in sent]


def test_a_persons_free_text_reaches_slack_escaped(flow):
    from chalicelib import bootstrap

    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 2 {MARKUP}")
    [post] = flow.channel_posts()
    assert "&lt;!channel&gt;" in post["text"] and "&amp;" in post["text"]
    request_id = pending_id(flow)
    bootstrap.services().approvals.decide(request_id, "deny", APPROVER, reason=MARKUP)
    flow.work()
    # break-glass: the notice to every approver carries the reason too
    ask(flow, text=f"request {GROUP} 1 --break-glass {MARKUP}")
    assert len(flow.dms_to(OPERATOR)) == 1
    posted = flow.calls("chat.postMessage") + flow.calls("chat.update")
    assert len(posted) >= 6 and raw_markup_in(posted) == []


def test_without_a_channel_the_approvers_are_sent_the_reason_escaped(flow):
    flow.policies({GROUP: {"approvers": [OPERATOR, APPROVER]}})
    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 2 {MARKUP}")
    assert len(flow.dms_to(APPROVER)) == 1
    assert raw_markup_in(flow.calls("chat.postMessage")) == []


def test_an_approval_of_a_suspended_user_fails_and_says_so_in_slack(flow):
    from chalicelib import bootstrap
    from chalicelib.lifecycle.commands import RestoreRequest, SuspendRequest

    operations = bootstrap.services().operations
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    operations.change("suspend", "pete", SuspendRequest(ticket="T-s", requested_by="alice"))
    flow.approve(request_id, APPROVER)
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "failed" and "pete is suspended" in request["failure_reason"]
    update = text_of(flow.updates()[-1])
    assert "not granted" in update and "pete is suspended" in update
    assert buttons(flow.updates()[-1]) == {}
    assert "approved but not granted" in text_of(flow.dms_to(NOBODY)[-1])
    operations.change("restore", "pete", RestoreRequest(ticket="T-r", requested_by="alice"))
    flow.approve(request_id, APPROVER)  # a second click after the restore grants nothing
    flow.work()
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert flow.requests()[0]["status"] == "failed"
