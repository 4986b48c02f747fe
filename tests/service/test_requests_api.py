"""REST requests for access (POST /requests, GET /requests, GET /requests/{id}, POST
/requests/{id}/decision) against moto through the real app: the same rules as Slack's buttons,
the grant through the change runner, and the whole story under the request's id."""

from __future__ import annotations

import boto3

from tests.support import onboard
from tests.support.approvals import APPROVER, GROUP, NOBODY, OPERATOR

ASK = {"username": "pete", "group": GROUP, "hours": 2, "reason": "INC-7", "requested_by": "jira"}


def ask(api, ticket="CHG-1", **changes):
    return api.call("POST", "/requests", {**ASK, "ticket": ticket, **changes})


def decide(api, request_id, approver=APPROVER, decision="approve", ticket="CHG-1-D"):
    body = {"decision": decision, "approver": approver, "ticket": ticket}
    return api.call("POST", f"/requests/{request_id}/decision", body)


def test_a_request_over_rest(standin, api):
    onboard(api, slack_user=NOBODY)
    asked = ask(api)
    assert asked.status_code == 201, asked.json
    request = asked.json
    assert request["status"] == "pending" and request["id"].startswith("req-")
    assert request["requested_by"] == "jira" and request["hours"] == 2
    assert ask(api).json == request  # the same ticket asks once
    assert ask(api, reason="another").status_code == 409
    again = ask(api, ticket="CHG-2")
    assert again.status_code == 409 and "pending request" in again.json["Message"]

    assert api.call("GET", f"/requests/{request['id']}").json == request
    assert api.call("GET", "/requests?status=pending").json == {"requests": [request]}
    assert api.call("GET", "/requests?username=olga").json == {"requests": []}
    assert api.call("GET", "/requests?status=maybe").status_code == 400
    assert api.call("GET", "/requests/req-nothing").status_code == 404


def test_the_decision_rules_apply_to_rest(standin, api):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    refused = decide(api, request_id, approver=NOBODY)
    assert refused.status_code == 403 and "only an approver" in refused.json["Message"]
    onboard(api, "olga", slack_user=OPERATOR)
    own = ask(api, ticket="CHG-O", username="olga").json["id"]
    assert decide(api, own, approver=OPERATOR).status_code == 403  # her own request

    approved = decide(api, request_id)
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved" and approved.json["decided_by"] == APPROVER
    assert approved.json["grant"]["group"] == GROUP
    assert decide(api, request_id).json == approved.json  # the same decision again
    second = decide(api, request_id, approver=OPERATOR, ticket="CHG-1-E")
    assert second.status_code == 409
    user = api.call("GET", "/users/pete").json
    assert [g["group"] for g in user["grants"]] == [GROUP]

    story = api.call("GET", f"/audit?ticket={request_id}").json["events"]
    assert [(e["action"], e["result"].split(":")[0]) for e in story] == [
        ("request", "ok"),
        ("decide", "rejected"),
        ("decide", "ok"),
        ("grant", "ok"),
        ("decide", "rejected"),
    ]
    assert story[2]["requested_by"] == f"slack:{APPROVER}"


def test_deny_and_expiry_over_rest(standin, api, clock):
    onboard(api, slack_user=NOBODY)
    denied = decide(api, ask(api).json["id"], decision="deny")
    assert denied.json["status"] == "denied"
    late = ask(api, ticket="CHG-3").json["id"]
    clock.advance(hours=3, seconds=1)
    expired = decide(api, late, ticket="CHG-3-D")
    assert expired.status_code == 409 and "expired" in expired.json["Message"]
    assert api.call("GET", f"/requests/{late}").json["status"] == "expired"
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_break_glass_over_rest_is_granted_at_once(standin, api):
    onboard(api, slack_user=NOBODY)
    asked = ask(api, break_glass=True, hours=1)
    assert asked.status_code == 201 and asked.json["status"] == "approved"
    assert asked.json["grant"]["group"] == GROUP


def test_bad_input_is_a_clear_400_or_403(standin, api):
    onboard(api, slack_user=NOBODY)
    assert ask(api, hours=0).status_code == 400
    assert ask(api, hours=5).json["Message"].endswith("at most 4 hours")
    assert ask(api, reason="").status_code == 400
    assert ask(api, reason="x" * 501).status_code == 400
    assert ask(api, group="ChildDeveloperGroup").status_code == 403
    assert ask(api, ticket="slack:forged").status_code == 400
    assert ask(api, username="nobody").status_code == 403
    assert api.call("GET", "/requests").json == {"requests": []}


def suspend(api, username="pete", ticket="T-s"):
    body = {"ticket": ticket, "requested_by": "alice"}
    assert api.call("POST", f"/users/{username}/suspend", body).status_code == 200


def restore(api, username="pete", ticket="T-r"):
    body = {"ticket": ticket, "requested_by": "alice"}
    assert api.call("POST", f"/users/{username}/restore", body).status_code == 200


def left_approved(request_id):
    """An approval whose grant was never made (its answer lost, or written by a version that
    left such requests approved): the request approved, with no grant."""
    from chalicelib import bootstrap
    from chalicelib.approvals import rules as rules

    service = bootstrap.services().approvals
    request = service.get(request_id)
    policy = service.policy(request["group"])
    decided = rules.decide(request, policy, "approve", APPROVER, service.clock(), ticket="CHG-1-D")
    service.requests.update(decided, request["version"])
    service.requests.release(decided)


def test_an_approval_the_grant_refuses_closes_the_request_failed(standin, api):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    suspend(api)
    decided = decide(api, request_id)
    assert decided.status_code == 200, decided.json
    assert decided.json["status"] == "failed" and "grant" not in decided.json
    assert "pete is suspended" in decided.json["failure_reason"]
    restore(api)
    # A retry of the decision and a replay of the request, after the restore, grant nothing.
    assert decide(api, request_id).json == decided.json
    assert ask(api).json == decided.json
    assert api.call("GET", "/users/pete").json["grants"] == []
    assert api.call("GET", "/requests?status=failed").json == {"requests": [decided.json]}
    story = [
        (e["action"], e["result"])
        for e in api.call("GET", f"/audit?ticket={request_id}").json["events"]
    ]
    assert story[-1][0] == "decide" and story[-1][1].startswith("failed: not granted")
    assert not [r for a, r in story if a == "grant" and r.startswith("ok")]


def test_nothing_grants_after_the_requests_pending_window(standin, api, clock):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    left_approved(request_id)
    clock.advance(days=2)
    replayed = ask(api)  # the same ticket, days later
    assert replayed.json["status"] == "failed", replayed.json
    assert "pending window" in replayed.json["failure_reason"]
    assert decide(api, request_id).json == replayed.json
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_a_late_grant_reads_the_user_again(standin, api):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    left_approved(request_id)
    # Meanwhile pete got the group for one hour under another ticket: a late grant of this
    # request would replace that expiry with a longer one.
    grant = {
        "group": GROUP,
        "hours": 1,
        "reason": "INC-8",
        "ticket": "CHG-8",
        "requested_by": "ops",
    }
    assert api.call("POST", "/users/pete/grants", grant).status_code == 201
    [held] = api.call("GET", "/users/pete").json["grants"]
    retried = decide(api, request_id)
    assert retried.json["status"] == "failed" and "holds" in retried.json["failure_reason"]
    assert api.call("GET", "/users/pete").json["grants"] == [held]


def test_an_approved_request_whose_grant_was_made_is_not_failed_on_replay(standin, api):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    approved = decide(api, request_id).json
    assert approved["status"] == "approved" and approved["grant"]
    assert ask(api).json == approved
    assert decide(api, request_id).json == approved


def test_a_user_without_a_linked_member_cannot_ask_for_one_approver(standin, api, flow):
    onboard(api, "olga")
    refused = ask(api, username="olga")
    assert refused.status_code == 403
    assert "no linked Slack member" in refused.json["Message"]
    assert api.call("GET", "/requests").json == {"requests": []}
    # With two distinct approvers needed, nobody approves their own access alone.
    flow.policies({GROUP: {"approvers": [OPERATOR, APPROVER], "approvals": 2}})
    request_id = ask(api, username="olga", ticket="CHG-2").json["id"]
    assert decide(api, request_id, approver=OPERATOR).json["status"] == "pending"
    again = decide(api, request_id, approver=OPERATOR, ticket="CHG-2-E")
    assert again.status_code == 409 and "approved this request already" in again.json["Message"]
    assert decide(api, request_id, ticket="CHG-2-F").json["status"] == "approved"


def test_an_approver_linked_to_the_requested_user_is_refused(standin, api, flow):
    from chalicelib import bootstrap

    flow.policies({GROUP: {"approvers": [OPERATOR, APPROVER], "approvals": 2}})
    onboard(api, "olga")
    person = boto3.client("iam").get_user(UserName="olga")["User"]["UserId"]
    bootstrap.services().state.link_member(APPROVER, "olga", person)  # the approver is olga
    request_id = ask(api, username="olga").json["id"]
    refused = decide(api, request_id)
    assert refused.status_code == 403 and "linked to olga" in refused.json["Message"]
    assert decide(api, request_id, approver=OPERATOR, ticket="CHG-1-E").json["status"] == "pending"
    assert bootstrap.services().approvals.decidable(APPROVER) == []


def test_the_schedule_closes_an_approval_left_without_its_grant(standin, api, flow, clock):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    left_approved(request_id)
    assert flow.fire("expire_requests") == {"expired": []}
    assert api.call("GET", f"/requests/{request_id}").json["status"] == "approved"  # may be owed
    clock.advance(hours=3)
    flow.fire("expire_requests")
    closed = api.call("GET", f"/requests/{request_id}").json
    assert closed["status"] == "failed" and "pending window" in closed["failure_reason"]
    story = api.call("GET", f"/audit?ticket={request_id}").json["events"]
    assert story[-1]["requested_by"] == "schedule"
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_a_grant_the_runner_refuses_closes_the_request_failed(standin, api, flow):
    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    # The stage's grant maximum lowered between the request and its decision.
    flow.policies(
        {GROUP: {"approvers": [OPERATOR, APPROVER], "max_hours": 1}},
        grant_max_hours={GROUP: 1},
    )
    decided = decide(api, request_id)
    assert decided.status_code == 200, decided.json
    assert decided.json["status"] == "failed"
    assert "at most 1 hours" in decided.json["failure_reason"]
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_a_grant_owed_while_another_change_holds_the_user_is_finished_by_a_retry(standin, api):
    from chalicelib import bootstrap

    onboard(api, slack_user=NOBODY)
    request_id = ask(api).json["id"]
    state = bootstrap.services().state
    state.acquire("pete", "another-change", 60)
    busy = decide(api, request_id)
    assert busy.status_code == 409 and "in progress" in busy.json["Message"]
    assert api.call("GET", f"/requests/{request_id}").json["status"] == "approved"
    state.release("pete", "another-change")
    finished = decide(api, request_id)  # the same decision ticket, retried
    assert finished.json["status"] == "approved" and finished.json["grant"]["group"] == GROUP


def test_an_extension_asked_over_rest_makes_the_current_grant_longer_once_approved(standin, api):
    import datetime

    onboard(api, slack_user=NOBODY)
    first = ask(api, hours=1).json["id"]
    granted = decide(api, first).json["grant"]["expires_at"]
    refused = ask(api, ticket="CHG-X", hours=3, extend=True)
    assert refused.status_code == 400 and "at most 2 hours at a time" in refused.json["Message"]

    asked = ask(api, ticket="CHG-2", extend=True)
    assert asked.status_code == 201, asked.json
    assert asked.json["status"] == "pending" and asked.json["extends"] == {"expires_at": granted}
    approved = decide(api, asked.json["id"], ticket="CHG-2-D")
    assert approved.status_code == 200, approved.json
    later = datetime.datetime.fromisoformat(granted) + datetime.timedelta(hours=2)
    assert approved.json["grant"] == {"group": GROUP, "expires_at": later.isoformat()}
    assert api.call("GET", "/users/pete").json["grants"] == [
        {"group": GROUP, "expires_at": later.isoformat()}
    ]
    onboard(api, "olga", slack_user=OPERATOR)
    nothing = ask(api, ticket="CHG-3", username="olga", extend=True)
    assert nothing.status_code == 409 and "nothing to extend" in nothing.json["Message"]
