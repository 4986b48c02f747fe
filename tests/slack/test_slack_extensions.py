"""Extensions of one's own grant through signed Slack requests: the notice before a grant ends
(a direct message with an Extend button, sent once), the button and ``/access extend`` making
the grant longer as the group's policy allows, and the refusals past its cap."""

from __future__ import annotations

import datetime
import html

from chalicelib import bootstrap
from tests.support.approvals import APPROVER, CHANNEL, GROUP, NOBODY, OPERATOR, buttons, text_of

POLICY = {
    "approvers": [OPERATOR, APPROVER],
    "channel": CHANNEL,
    "break_glass": True,
    "extensions": {"count": 1, "hours": 2, "notice_minutes": 30},
}
START = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)


def granted(flow, policy=POLICY):
    """pete (member NOBODY) holds GROUP for an hour from 09:00, by a break-glass activation."""
    flow.clock.fixed = START
    flow.policies({GROUP: policy})
    flow.link("pete", NOBODY)
    flow.command(f"request {GROUP} 1 --break-glass outage INC-9", NOBODY)
    flow.work()
    flow.replies()
    flow.standin.reset()
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def said(flow) -> str:
    [reply] = flow.replies()
    return html.unescape(reply["text"])


def grants_of(username):
    return bootstrap.services().state.get_record(username)["grants"]


def test_the_notice_before_expiry_carries_an_extend_button_and_is_sent_once(flow):
    granted(flow)
    flow.clock.advance(minutes=29)  # 09:29: 31 minutes left, not yet
    assert flow.fire("expire_grants") == {"expired": [], "noticed": []}
    flow.clock.advance(minutes=1)
    noticed = flow.fire("expire_grants")["noticed"]
    assert noticed == [
        {"username": "pete", "group": GROUP, "expires_at": "2026-11-25T10:00:00+00:00"}
    ]
    flow.work()
    [notice] = flow.dms_to(NOBODY)
    assert buttons(notice) == {"grant_extend": GROUP}
    assert "ends at 2026-11-25T10:00:00+00:00" in text_of(notice)
    assert "1 extension(s) left" in text_of(notice)
    flow.clock.advance(minutes=5)
    flow.fire("expire_grants")  # still within the notice: queued again, not sent again
    flow.work()
    assert len(flow.dms_to(NOBODY)) == 1
    story = bootstrap.services().state.audit_events(username="pete")
    sent = [e for e in story if (e.get("detail") or {}).get("about") == "expiry_notice"]
    assert [e["result"] for e in sent] == ["ok: sent"]


def test_the_button_extends_the_grant_and_its_old_expiry_ends_nothing(flow):
    granted(flow)
    flow.clock.advance(minutes=40)
    response = flow.click("grant_extend", GROUP, NOBODY)
    assert response.status_code == 200
    flow.work()
    assert "now ends at 2026-11-25T12:00:00+00:00" in said(flow)
    [grant] = grants_of("pete")
    assert grant["expires_at"] == "2026-11-25T12:00:00+00:00" and grant["extensions"] == 1
    [extended] = [
        e
        for e in bootstrap.services().state.audit_events(username="pete")
        if e["action"] == "extend"
    ]
    assert extended["result"] == "ok" and extended["requested_by"] == f"slack:{NOBODY}"
    flow.clock.advance(minutes=30)  # 10:10: the old expiry is past
    assert flow.fire("expire_grants")["expired"] == []
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    flow.clock.advance(hours=2)  # 12:10
    assert flow.fire("expire_grants")["expired"] == [{"username": "pete", "group": GROUP}]
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]


def test_past_the_cap_an_extension_is_refused_and_the_grant_kept(flow):
    granted(flow)
    flow.command(f"extend {GROUP} 1", NOBODY)
    flow.work()
    assert "now ends at 2026-11-25T11:00:00+00:00" in said(flow)
    flow.command(f"extend {GROUP}", NOBODY)
    flow.work()
    assert "extended 1 time(s), the most its policy allows" in said(flow)
    flow.click("grant_extend", GROUP, NOBODY)
    flow.work()
    assert "the most its policy allows" in said(flow)
    [grant] = grants_of("pete")
    assert grant["expires_at"] == "2026-11-25T11:00:00+00:00"
    results = [
        e["result"]
        for e in bootstrap.services().state.audit_events(username="pete")
        if e["action"] == "extend"
    ]
    assert results[0] == "ok" and [r.split(":")[0] for r in results[1:]] == ["rejected"] * 2


def test_what_cannot_be_extended_gets_a_clear_refusal(flow):
    granted(flow)
    flow.command(f"extend {GROUP} 3", NOBODY)
    flow.work()
    assert "by at most 2 hours at a time" in said(flow)
    flow.command("extend ChildDeveloperGroup", NOBODY)
    flow.work()
    assert "ChildDeveloperGroup cannot be extended" in said(flow)
    flow.command(f"done {GROUP}", NOBODY)
    flow.work()
    flow.replies()
    flow.command(f"extend {GROUP}", NOBODY)
    flow.work()
    assert "holds no time-bound access to BreakGlassGroup now" in said(flow)
    assert "name the group" in html.unescape(flow.command("extend", NOBODY).json["text"])


def test_a_policy_without_extensions_extends_nothing_and_notices_nothing(flow):
    granted(flow, {k: v for k, v in POLICY.items() if k != "extensions"})
    flow.clock.advance(minutes=45)
    assert flow.fire("expire_grants")["noticed"] == []
    flow.click("grant_extend", GROUP, NOBODY)
    flow.work()
    assert "its approval policy allows no extensions" in said(flow)
    assert grants_of("pete")[0]["expires_at"] == "2026-11-25T10:00:00+00:00"


# extensions the group's approvers decide (``approval: true``)
APPROVED = {**POLICY, "extensions": {"count": 1, "hours": 2, "approval": True}}


def asked_extension(flow) -> dict:
    """pete asks to extend his grant by 2 h at 09:40: one request, pending, posted."""
    granted(flow, APPROVED)
    flow.clock.advance(minutes=40)
    flow.command(f"extend {GROUP} 2", NOBODY)
    flow.work()
    assert "Asked to extend *BreakGlassGroup* by 2 h" in said(flow)
    [request] = flow.requests(status="pending")
    assert request["extends"] == {"expires_at": "2026-11-25T10:00:00+00:00"}
    assert request["hours"] == 2 and request["group"] == GROUP
    [post] = flow.channel_posts()
    assert "extend pete's BreakGlassGroup by 2 h" in text_of(post)
    assert set(buttons(post)) == {"request_approve", "request_deny"}
    return request


def test_an_extension_needing_approval_is_asked_and_once_approved_extends_from_the_expiry(flow):
    request = asked_extension(flow)
    assert grants_of("pete")[0]["expires_at"] == "2026-11-25T10:00:00+00:00"  # not yet
    flow.approve(request["id"], NOBODY)  # only the policy's approvers decide
    flow.work()
    assert "only an approver of BreakGlassGroup may decide" in said(flow)
    flow.approve(request["id"], APPROVER)
    flow.work()
    [grant] = grants_of("pete")
    assert grant["expires_at"] == "2026-11-25T12:00:00+00:00" and grant["extensions"] == 1
    [shown] = [r for r in flow.requests() if r["id"] == request["id"]]
    assert shown["status"] == "approved"
    assert shown["grant"] == {"group": GROUP, "expires_at": "2026-11-25T12:00:00+00:00"}
    assert "access until 2026-11-25T12:00:00+00:00" in text_of(flow.updates()[-1])
    story = [(e["action"], e["result"]) for e in flow.audit(request["id"])]
    assert [s for s in story if not s[1].startswith("rejected")] == [
        ("request", "ok: pending"),
        ("decide", "ok: approved"),
        ("extend", "ok"),
    ]
    flow.clock.advance(minutes=30)  # 10:10: the old expiry ends nothing
    assert flow.fire("expire_grants")["expired"] == []
    assert flow.groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_a_denied_extension_changes_nothing(flow):
    request = asked_extension(flow)
    flow.deny(request["id"], APPROVER)
    flow.work()
    [shown] = [r for r in flow.requests() if r["id"] == request["id"]]
    assert shown["status"] == "denied" and "grant" not in shown
    [grant] = grants_of("pete")
    assert grant["expires_at"] == "2026-11-25T10:00:00+00:00" and "extensions" not in grant
    flow.clock.advance(minutes=30)  # 10:10: the grant ends at its own expiry
    assert flow.fire("expire_grants")["expired"] == [{"username": "pete", "group": GROUP}]


def test_past_the_cap_an_extension_is_refused_before_anything_is_posted(flow):
    request = asked_extension(flow)
    flow.approve(request["id"], APPROVER)
    flow.work()
    flow.replies()
    flow.standin.reset()
    flow.command(f"extend {GROUP}", NOBODY)
    flow.work()
    assert "extended 1 time(s), the most its policy allows" in said(flow)
    assert flow.channel_posts() == [] and flow.requests(status="pending") == []
    assert grants_of("pete")[0]["expires_at"] == "2026-11-25T12:00:00+00:00"


def test_an_extension_approved_after_its_grant_ended_fails_and_grants_nothing(flow):
    request = asked_extension(flow)
    flow.command(f"done {GROUP}", NOBODY)  # ends the grant, and the extension waiting on it
    flow.work()
    flow.replies()
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    [shown] = [r for r in flow.requests() if r["id"] == request["id"]]
    assert shown["status"] == "cancelled"
    # asked again, and the grant ends at its expiry before an approver decides
    granted_again = asked_extension_after_end(flow)
    flow.clock.advance(minutes=30)  # past the grant's expiry
    flow.fire("expire_grants")
    flow.approve(granted_again["id"], APPROVER)
    flow.work()
    [shown] = [r for r in flow.requests() if r["id"] == granted_again["id"]]
    assert shown["status"] == "failed" and "has ended" in shown["failure_reason"]
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert [g for g in grants_of("pete") if g["group"] == GROUP] == []


def asked_extension_after_end(flow) -> dict:
    flow.clock.fixed = START + datetime.timedelta(hours=2)
    flow.command(f"request {GROUP} 1 --break-glass outage INC-10", NOBODY)
    flow.work()
    flow.replies()
    flow.clock.advance(minutes=40)  # 11:40, the grant ends at 12:00
    flow.command(f"extend {GROUP} 1", NOBODY)
    flow.work()
    flow.replies()
    [request] = flow.requests(status="pending")
    return request
