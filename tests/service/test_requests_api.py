"""REST requests for access (POST /requests, GET /requests, GET /requests/{id}, POST
/requests/{id}/decision) against moto through the real app: the same rules as Slack's buttons,
the grant through the change runner, and the whole story under the request's id."""

from __future__ import annotations

from tests.support.approvals import APPROVER, GROUP, NOBODY, OPERATOR

ASK = {"username": "pete", "group": GROUP, "hours": 2, "reason": "INC-7", "requested_by": "jira"}


def onboard(api, username="pete", member=NOBODY):
    body = {
        "username": username,
        "groups": ["ChildDeveloperGroup"],
        "ticket": f"T-{username}",
        "requested_by": "alice",
        "slack_user": member,
    }
    answer = api.call("POST", "/users", body)
    assert answer.status_code == 201, answer.json


def ask(api, ticket="CHG-1", **changes):
    return api.call("POST", "/requests", {**ASK, "ticket": ticket, **changes})


def decide(api, request_id, approver=APPROVER, decision="approve", ticket="CHG-1-D"):
    body = {"decision": decision, "approver": approver, "ticket": ticket}
    return api.call("POST", f"/requests/{request_id}/decision", body)


def test_a_request_over_rest(standin, api):
    onboard(api)
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
    onboard(api)
    request_id = ask(api).json["id"]
    refused = decide(api, request_id, approver=NOBODY)
    assert refused.status_code == 403 and "only an approver" in refused.json["Message"]
    onboard(api, "olga", OPERATOR)
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
    onboard(api)
    denied = decide(api, ask(api).json["id"], decision="deny")
    assert denied.json["status"] == "denied"
    late = ask(api, ticket="CHG-3").json["id"]
    clock.advance(hours=3, seconds=1)
    expired = decide(api, late, ticket="CHG-3-D")
    assert expired.status_code == 409 and "expired" in expired.json["Message"]
    assert api.call("GET", f"/requests/{late}").json["status"] == "expired"
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_break_glass_over_rest_is_granted_at_once(standin, api):
    onboard(api)
    asked = ask(api, break_glass=True, hours=1)
    assert asked.status_code == 201 and asked.json["status"] == "approved"
    assert asked.json["grant"]["group"] == GROUP


def test_bad_input_is_a_clear_400_or_403(standin, api):
    onboard(api)
    assert ask(api, hours=0).status_code == 400
    assert ask(api, hours=5).json["Message"].endswith("at most 4 hours")
    assert ask(api, reason="").status_code == 400
    assert ask(api, reason="x" * 501).status_code == 400
    assert ask(api, group="ChildDeveloperGroup").status_code == 403
    assert ask(api, ticket="slack:forged").status_code == 400
    assert ask(api, username="nobody").status_code == 403
    assert api.call("GET", "/requests").json == {"requests": []}
