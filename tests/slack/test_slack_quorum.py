"""Requests past one approver, through signed Slack requests and the REST API: a quorum of
distinct approvers shown decision by decision, who may ask, break-glass limits (and the review
each activation opens), and asking for someone else."""

from __future__ import annotations

import html

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

TWO = {"approvers": [OPERATOR, APPROVER], "channel": CHANNEL, "approvals": 2}


def said(flow) -> str:
    return " ".join(html.unescape(r.get("text", "")) for r in flow.replies())


# quorum
def test_two_approvers_are_needed_and_the_message_shows_each_decision(flow):
    flow.policies({GROUP: TWO})
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    assert "0 of 2 approvals given" in text_of(flow.channel_posts()[0])

    flow.approve(request_id, OPERATOR)
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "pending" and flow.groups_of("pete") == ["ChildDeveloperGroup"]
    [first] = request["approvals"]
    assert first["by"] == first["approver"] == OPERATOR and first["decision"] == "approve"
    vote = flow.updates()[-1]
    assert "1 of 2 approvals given" in text_of(vote)
    assert f"<@{OPERATOR}> approved at {first['at']}" in text_of(vote)
    assert set(buttons(vote)) == {"request_approve", "request_deny"}  # still open for more

    flow.replies()
    flow.approve(request_id, OPERATOR)  # the same approver again is not a second approval
    flow.work()
    assert "you approved this request already" in said(flow)
    assert flow.requests()[0]["status"] == "pending"

    flow.approve(request_id, APPROVER)
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "approved" and request["grant"]["group"] == GROUP
    assert [a["by"] for a in request["approvals"]] == [OPERATOR, APPROVER]
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    done = text_of(flow.updates()[-1])
    assert f"Approved by <@{APPROVER}>" in done and f"<@{OPERATOR}> approved at" in done
    assert buttons(flow.updates()[-1]) == {}
    story = [(e["action"], e["result"], e.get("detail") or {}) for e in flow.audit(request_id)]
    assert [(a, r) for a, r, _ in story] == [
        ("request", "ok: pending"),
        ("decide", "ok: approval recorded, waiting for more"),
        ("decide", "rejected: you approved this request already; it waits for another approver"),
        ("decide", "ok: approved"),
        ("grant", "ok"),
    ]
    assert story[3][2]["approvers"] == [OPERATOR, APPROVER]  # the audit names every approver


def test_one_approval_of_two_then_a_deny_grants_nothing(flow):
    flow.policies({GROUP: TWO})
    flow.link("pete", NOBODY)
    ask(flow)
    request_id = pending_id(flow)
    flow.approve(request_id, OPERATOR)
    flow.deny(request_id, APPROVER)
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "denied" and request["decided_by"] == APPROVER
    assert [a["decision"] for a in request["approvals"]] == ["approve", "deny"]
    assert ":x: Denied" in text_of(flow.updates()[-1]) and buttons(flow.updates()[-1]) == {}
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]


def test_the_requester_never_counts_toward_the_quorum(flow):
    flow.policies({GROUP: {**TWO, "self_approval": True}})
    flow.link("olga", OPERATOR)  # an approver, asking for herself
    ask(flow, OPERATOR)
    request_id = pending_id(flow)
    flow.replies()
    flow.approve(request_id, OPERATOR)
    flow.work()
    assert "another approver must decide" in said(flow)
    flow.approve(request_id, APPROVER)
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "pending" and [a["by"] for a in request["approvals"]] == [APPROVER]
    assert flow.groups_of("olga") == ["ChildDeveloperGroup"]


# who may ask
def test_a_member_the_policy_does_not_name_may_not_ask_and_nothing_is_posted(flow):
    flow.policies({GROUP: {**TWO, "requesters": [OPERATOR, "S0SRE"]}})
    flow.link("pete", NOBODY)
    ask(flow)
    assert "may not ask for BreakGlassGroup: only the requesters its policy names" in said(flow)
    assert flow.requests() == [] and flow.channel_posts() == []
    from chalicelib import bootstrap

    refused = bootstrap.services().state.audit_events(username="pete")[-1]
    assert refused["action"] == "request" and refused["result"].startswith("rejected: <@")
    assert refused["requested_by"] == f"slack:{NOBODY}"
    # a member of a requesters' user group may
    flow.standin.user_groups["S0SRE"] = [NOBODY]
    ask(flow, text=f"request {GROUP} 2 deploy again")
    assert len(flow.requests(status="pending")) == 1 and len(flow.channel_posts()) == 1
    assert flow.calls("usergroups.users.list")[-1]["args"] == {"usergroup": "S0SRE"}


# break-glass limits, and the review each activation opens
def test_break_glass_within_its_cooldown_is_refused_saying_when_next(flow):
    flow.policies({GROUP: {**TWO, "approvals": 1, "break_glass": {"cooldown_hours": 4}}})
    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down")
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    [first] = flow.requests()
    ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    flow.replies()
    flow.clock.advance(hours=1)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down again")
    refusal = said(flow)
    assert "the next activation may be at" in refusal and "cooldown of 4 h" in refusal
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert [r["id"] for r in flow.requests()] == [first["id"]]
    flow.clock.advance(hours=3)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down a third time")
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_break_glass_beyond_its_daily_count_is_refused(flow):
    flow.policies({GROUP: {**TWO, "break_glass": True, "break_glass_limits": {"per_day": 1}}})
    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down")
    ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    flow.replies()
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down again")
    assert "1 time(s) in the last 24 hours" in said(flow)
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]


# asking for someone else
def test_a_requester_the_policy_names_asks_for_someone_else_over_rest(flow, api):
    flow.policies({GROUP: {**TWO, "requesters": [STRANGER]}})
    flow.link("pete", NOBODY)
    body = {
        "for": "pete",
        "group": GROUP,
        "hours": 2,
        "reason": "on call for INC-5",
        "ticket": "CHG-5",
        "requested_by": STRANGER,
    }
    asked = api.call("POST", "/requests", body)
    assert asked.status_code == 201, asked.json
    request = asked.json
    assert request["for"] == "pete" and request["username"] == "pete"
    assert request["requested_by"] == STRANGER
    flow.work()
    told = text_of(flow.dms_to(NOBODY)[0])  # the person
    assert "asked for *BreakGlassGroup* for you" in told and f"<@{STRANGER}>" in told
    assert "/access done BreakGlassGroup` cancels it" in told
    assert "for `pete` was sent to its approvers" in text_of(flow.dms_to(STRANGER)[0])
    post = text_of(flow.channel_posts()[0])
    assert f"asked for by <@{STRANGER}>" in post

    # four eyes: neither the person nor the one who asked may approve it
    for member in (NOBODY, STRANGER):
        flow.policies({GROUP: {**TWO, "approvers": [member, APPROVER], "requesters": [STRANGER]}})
        refused = api.call(
            "POST",
            f"/requests/{request['id']}/decision",
            {"decision": "approve", "approver": member, "ticket": f"CHG-5-{member}"},
        )
        assert refused.status_code == 403, refused.json
        assert "another approver must decide" in refused.json["Message"]

    # the person cancels it
    ephemeral(flow.command(f"done {GROUP}", NOBODY))
    flow.work()
    assert flow.requests()[0]["status"] == "cancelled"
    assert "cancelled" in text_of(flow.dms_to(STRANGER)[-1])


def test_asking_for_someone_else_needs_a_named_requester(flow, api):
    flow.link("pete", NOBODY)
    body = {
        "for": "pete",
        "group": GROUP,
        "hours": 2,
        "reason": "INC-5",
        "ticket": "CHG-6",
        "requested_by": STRANGER,
    }
    refused = api.call("POST", "/requests", body)
    assert refused.status_code == 403 and "names no requesters" in refused.json["Message"]
    flow.policies({GROUP: {**TWO, "requesters": [OPERATOR]}})
    refused = api.call("POST", "/requests", {**body, "ticket": "CHG-7"})
    assert refused.status_code == 403 and "may ask for someone else" in refused.json["Message"]
    refused = api.call("POST", "/requests", {**body, "ticket": "CHG-8", "requested_by": "jira"})
    assert refused.status_code == 403 and "Slack member who asks" in refused.json["Message"]
    both = api.call("POST", "/requests", {**body, "ticket": "CHG-9", "username": "olga"})
    assert both.status_code == 400 and "different users" in both.json["Message"]
    assert flow.requests() == [] and flow.calls() == []
    audited = flow.audit("CHG-7")
    assert audited and audited[0]["result"].startswith("rejected:")


def test_each_break_glass_use_opens_a_review_item(flow, api):
    flow.link("pete", NOBODY)
    ask(flow, text=f"request {GROUP} 1 --break-glass prod is down INC-9")
    [request] = flow.requests()
    [review] = api.call("GET", "/reviews").json["reviews"]
    assert review["source"] == "break_glass" and review["request"] == request["id"]
    assert review["groups"] == [] and review["status"] == "open"
    [item] = review["items"]
    assert (item["username"], item["group"], item["kind"]) == ("pete", GROUP, "grant")
    assert item["reviewer"] == APPROVER  # the group's first owner who is not pete
    [shown] = flow.channel_posts_to("C0LOCALREVIEWS")
    assert "Break-glass use: `pete`" in text_of(shown) and "prod is down INC-9" in text_of(shown)
    assert f"<@{APPROVER}>, please keep or revoke it" in text_of(shown)
    # a campaign of the group may still start: the use's review holds no group
    started = api.call(
        "POST",
        "/reviews",
        {"groups": [GROUP], "due": "2099-01-01", "ticket": "REV-1", "requested_by": "alice"},
    )
    assert started.status_code == 201, started.json
    # the message delivered again opens no second review
    from chalicelib import bootstrap
    from chalicelib.kernel import review_items

    again = review_items.break_glass_use(
        request_id=request["id"],
        username="pete",
        group=GROUP,
        reason=request["reason"],
        activated_by=request["decided_by"],
        activated_at=request["decided_at"],
        expires_at=request["grant"]["expires_at"],
    )
    assert bootstrap.services().reviews.open_use(again)["id"] == review["id"]
    assert len(api.call("GET", "/reviews").json["reviews"]) == 2


def test_a_requester_asks_for_someone_else_in_slack(flow):
    flow.policies({GROUP: {**TWO, "requesters": [STRANGER]}})
    flow.link("pete", NOBODY)  # the one who asks (STRANGER) need not be a managed user
    answer = ask(flow, STRANGER, f"request {GROUP} 2 on call INC-5 --for <@{NOBODY}|pete>")
    assert "Asking for access for *pete*" in answer
    assert "Asked for *BreakGlassGroup* for 2 h" in said(flow)
    [request] = flow.requests()
    assert request["for"] == "pete" and request["requested_by"] == f"slack:{STRANGER}"
    assert request["reason"] == "on call INC-5"
    assert "asked for *BreakGlassGroup* for you" in text_of(flow.dms_to(NOBODY)[0])
    assert "for `pete` was sent to its approvers" in text_of(flow.dms_to(STRANGER)[0])
    flow.approve(request["id"], OPERATOR)
    flow.approve(request["id"], APPROVER)
    flow.work()
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert "For `pete`: :white_check_mark:" in text_of(flow.dms_to(STRANGER)[-1])
    assert "For you (`pete`)" in text_of(flow.dms_to(NOBODY)[-1])


def test_asking_for_someone_else_in_slack_is_refused_clearly(flow):
    flow.policies({GROUP: {**TWO, "requesters": [OPERATOR], "break_glass": True}})
    flow.link("pete", NOBODY)
    unlinked = ephemeral(flow.command(f"request {GROUP} 2 INC-5 --for <@{STRANGER}>", OPERATOR))
    assert f"<@{STRANGER}> is not linked to a managed user" in unlinked
    assert "as a mention" in ephemeral(
        flow.command(f"request {GROUP} 2 INC-5 --for pete", OPERATOR)
    )
    assert flow.work() == 0
    ask(flow, APPROVER, f"request {GROUP} 2 INC-5 --for <@{NOBODY}>")  # not a named requester
    assert "only the requesters BreakGlassGroup's policy names may ask" in said(flow)
    ask(flow, OPERATOR, f"request {GROUP} 1 --break-glass outage --for <@{NOBODY}>")
    assert "activated by the person who needs it" in said(flow)
    assert flow.requests() == [] and flow.groups_of("pete") == ["ChildDeveloperGroup"]
