"""Session revocation in the child account, time-bound grants, the schedules and the events."""

from __future__ import annotations

import datetime
import http.server
import json
import threading

import boto3
import pytest

from chalicelib import bootstrap
from devstack.local import SETUP_CREDENTIALS, Provisioner
from tests.support import onboard, ticket
from tests.support.revocation import CHILD, denied, revocation_document


def groups_of(username):
    iam = boto3.client("iam")
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"])


def minute_after(moment: datetime.datetime) -> str:
    floor = moment.replace(second=0, microsecond=0)
    return (floor if floor == moment else floor + datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


# revocation
def test_suspend_denies_the_persons_sessions_on_every_managed_role(api, clock):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 30, 12, tzinfo=datetime.UTC)
    onboard(api, "pete")
    response = api.call("POST", "/users/pete/suspend", ticket("T-2"))
    assert response.status_code == 200, response.json
    assert response.json["sessions_revoked_in"] == [CHILD]
    for role in ("DeveloperRole", "BreakGlassRole"):
        assert denied(revocation_document(role)) == {"*:pete": "2026-11-25T09:31:00Z"}


def test_offboarding_two_people_merges_them_and_pruning_drops_them(api, clock):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 30, 12, tzinfo=datetime.UTC)
    onboard(api, "pete")
    onboard(api, "olga")
    assert api.call("POST", "/users/pete/offboard", ticket("T-2")).json["sessions_revoked_in"] == [
        CHILD
    ]
    clock.advance(seconds=20)
    api.call("POST", "/users/olga/offboard", ticket("T-3"))
    document = revocation_document("DeveloperRole")
    assert len(document["Statement"]) == 1
    assert denied(document) == {"*:olga": "2026-11-25T09:31:00Z", "*:pete": "2026-11-25T09:31:00Z"}

    clock.advance(minutes=30)
    assert bootstrap.services().schedules.prune_revocations()["pruned_in"] == [CHILD]
    assert denied(revocation_document("DeveloperRole")) == {
        "*:olga": "2026-11-25T09:31:00Z",
        "*:pete": "2026-11-25T09:31:00Z",
    }
    clock.advance(minutes=31)  # MaxSessionDuration (1 hour) has passed since 09:31
    bootstrap.services().schedules.prune_revocations()
    assert revocation_document("DeveloperRole") is None
    assert revocation_document("BreakGlassRole") is None


def test_an_unreachable_account_is_reported_audited_and_retried(api, monkeypatch, clock):
    late = "444455556666"  # listed in the configuration before its roles were deployed
    monkeypatch.setenv("CHILD_ACCOUNT_IDS", f"{CHILD},{late}")
    bootstrap.reset()
    from chalicelib.aws.clients import AwsClients
    from devstack.local import REGION, shared_session

    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )

    onboard(api, "pete")
    response = api.call("POST", "/users/pete/offboard", ticket("T-2"))
    assert response.status_code == 200, response.json
    assert response.json["sessions_revoked_in"] == [CHILD]
    assert list(response.json["sessions_revocation_pending"]) == [late]
    assert "AccessRevocationRole" in response.json["sessions_revocation_pending"][late]
    event = api.call("GET", "/audit?ticket=T-2").json["events"][-1]
    assert event["result"] == "revocation_pending"  # never "ok" while a revocation is owed

    # the roles arrive in that account; the schedule finishes the revocation
    Provisioner(endpoint_url=None, children=(late,)).deploy_child(
        Provisioner(None).child_credentials(SETUP_CREDENTIALS, late)
    )
    retried = bootstrap.services().schedules.prune_revocations()
    assert retried["retried_for"] == ["pete"]
    assert "*:pete" in denied(revocation_document("DeveloperRole", late))
    record = bootstrap.services().lifecycle.state.get_record("pete")
    assert record["revocation_pending"] == [] and record["sessions_revoked_in"] == [CHILD, late]
    trail = api.call("GET", "/audit?username=pete").json["events"]
    assert [e["action"] for e in trail][-1] == "revoke_sessions"


# grants
def test_a_grant_adds_the_group_until_it_expires_then_revokes_what_only_it_allowed(api, clock):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)
    onboard(api, "pete")
    response = api.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 2, "reason": "incident 42", **ticket("T-2")},
    )
    assert response.status_code == 201, response.json
    assert response.json["grants"] == [
        {"group": "BreakGlassGroup", "expires_at": "2026-11-25T11:00:00+00:00"}
    ]
    assert groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert "arn:aws:iam::222233334444:role/BreakGlassRole" in response.json["roles"]

    clock.advance(hours=1, minutes=59)
    assert bootstrap.services().schedules.expire_grants() == []
    clock.advance(minutes=1)
    assert bootstrap.services().schedules.expire_grants() == [
        {"username": "pete", "group": "BreakGlassGroup"}
    ]
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert denied(revocation_document("BreakGlassRole")) == {"*:pete": "2026-11-25T11:00:00Z"}
    assert revocation_document("DeveloperRole") is None  # still theirs through their own group
    user = api.call("GET", "/users/pete").json
    assert user["grants"] == [] and user["roles"] == [
        "arn:aws:iam::222233334444:role/DeveloperRole"
    ]
    assert bootstrap.services().schedules.expire_grants() == []  # nothing left to expire
    actions = [e["action"] for e in api.call("GET", "/audit?username=pete").json["events"]]
    assert actions == ["onboard", "grant", "expire_grant"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"group": "BreakGlassGroup", "hours": 5}, 400, "at most 4 hours"),
        ({"group": "ChildDeveloperGroup", "hours": 1}, 403, "cannot be granted for a time"),
        ({"group": "Admins", "hours": 1}, 403, "cannot be granted"),
        ({"group": "BreakGlassGroup", "hours": 0}, 400, "hours"),
        ({"group": "BreakGlassGroup"}, 400, "hours: Field required"),
    ],
)
def test_grants_refuse_what_the_configuration_does_not_allow(api, body, status, message):
    onboard(api, "pete")
    response = api.call(
        "POST", "/users/pete/grants", {"reason": "because", **body, **ticket("T-2")}
    )
    assert response.status_code == status and message in response.json["Message"], response.json
    assert groups_of("pete") == ["ChildDeveloperGroup"]


def test_grants_refuse_suspended_users_and_permanent_members(api):
    onboard(api, "pete", ("BreakGlassGroup",))
    body = {"group": "BreakGlassGroup", "hours": 1, "reason": "x"}
    assert api.call("POST", "/users/pete/grants", {**body, **ticket("T-2")}).status_code == 409
    api.call("POST", "/users/pete/suspend", ticket("T-3"))
    assert api.call("POST", "/users/pete/grants", {**body, **ticket("T-4")}).status_code == 409
    assert api.call("POST", "/users/ghost/grants", {**body, **ticket("T-5")}).status_code == 404


def test_a_suspension_ends_grants_and_a_restore_does_not_bring_them_back(api):
    onboard(api, "pete")
    api.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 1, "reason": "x", **ticket("T-2")},
    )
    api.call("POST", "/users/pete/suspend", ticket("T-3"))
    restored = api.call("POST", "/users/pete/restore", ticket("T-4")).json["user"]
    assert restored["groups"] == ["ChildDeveloperGroup"] and restored["grants"] == []


def test_moving_keeps_a_granted_group_until_it_expires(api):
    onboard(api, "pete")
    api.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 1, "reason": "x", **ticket("T-2")},
    )
    moved = api.call("PUT", "/users/pete/groups", {"groups": [], **ticket("T-3")}).json
    assert moved["groups"] == ["BreakGlassGroup"]


def grant(api, hours, name, group="BreakGlassGroup"):
    body = {"group": group, "hours": hours, "reason": "incident", **ticket(name)}
    response = api.call("POST", "/users/pete/grants", body)
    assert response.status_code == 201, response.json
    return response.json


def test_a_shorter_grant_beside_a_longer_one_never_ends_it_early(api, clock):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)
    onboard(api, "pete")
    grant(api, 4, "T-2")
    clock.advance(minutes=30)
    shown = grant(api, 1, "T-3")["grants"]
    # The group is held until the last grant covering it ends.
    assert shown == [{"group": "BreakGlassGroup", "expires_at": "2026-11-25T13:00:00+00:00"}]
    clock.advance(hours=1)  # 10:30: the one-hour grant is over, the four-hour one is not
    schedules = bootstrap.services().schedules
    assert schedules.expire_grants() == [{"username": "pete", "group": "BreakGlassGroup"}]
    assert groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert revocation_document("BreakGlassRole") is None
    assert api.call("GET", "/users/pete").json["grants"] == shown
    clock.advance(hours=2, minutes=30)  # 13:00
    assert schedules.expire_grants() == [{"username": "pete", "group": "BreakGlassGroup"}]
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert denied(revocation_document("BreakGlassRole")) == {"*:pete": "2026-11-25T13:00:00Z"}
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_back_to_back_grants_hold_the_group_without_a_gap(api, clock):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)
    onboard(api, "pete")
    grant(api, 2, "T-2")
    clock.advance(hours=1, minutes=59)
    grant(api, 2, "T-3")  # asked for as the first one ends
    clock.advance(minutes=1)  # 11:00: the first one's expiry
    schedules = bootstrap.services().schedules
    assert schedules.expire_grants() == [{"username": "pete", "group": "BreakGlassGroup"}]
    assert groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert revocation_document("BreakGlassRole") is None
    events = api.call("GET", "/audit?username=pete").json["events"]
    assert [e["action"] for e in events] == ["onboard", "grant", "grant", "expire_grant"]
    clock.advance(hours=1, minutes=58)
    assert schedules.expire_grants() == []
    clock.advance(minutes=1)  # 12:59: the second one's
    assert schedules.expire_grants() == [{"username": "pete", "group": "BreakGlassGroup"}]
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert denied(revocation_document("BreakGlassRole")) == {"*:pete": "2026-11-25T12:59:00Z"}


def test_done_ends_every_grant_of_the_group(api, clock):
    onboard(api, "pete")
    grant(api, 4, "T-2")
    grant(api, 1, "T-3")
    from chalicelib.lifecycle.commands import ExpireGrantRequest

    answer = bootstrap.services().operations.change(
        "end_grant", "pete", ExpireGrantRequest(group="BreakGlassGroup", **ticket("T-4"))
    )
    assert answer["sessions_revoked_in"] == [CHILD] and "held_until" not in answer
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert api.call("GET", "/users/pete").json["grants"] == []


def test_a_ticket_closing_ends_the_grants_made_under_it_and_revokes_their_sessions(
    standin, api, clock
):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)
    onboard(api, "pete")
    grant(api, 4, "CHG-7")
    grant(api, 1, "CHG-8")  # beside it, under another ticket
    # olga's grant: a request asked under CHG-7, approved (its grant's ticket is the request's)
    onboard(api, "olga", slack_user="U0LOCAL0003")
    asked = {"username": "olga", "group": "BreakGlassGroup", "hours": 2, "reason": "INC-7"}
    request = api.call("POST", "/requests", {**asked, **ticket("CHG-7")}).json
    decision = {"decision": "approve", "approver": "U0LOCAL0002", "ticket": "CHG-7-D"}
    assert api.call("POST", f"/requests/{request['id']}/decision", decision).status_code == 200
    clock.advance(minutes=10)

    closed = api.call("POST", "/tickets/CHG-7/closed", {"requested_by": "jira"})
    assert closed.status_code == 200, closed.json
    assert closed.json == {
        "ticket": "CHG-7",
        "ended": [
            {"username": "olga", "group": "BreakGlassGroup", "sessions_revoked_in": [CHILD]},
            {
                "username": "pete",
                "group": "BreakGlassGroup",
                "held_until": "2026-11-25T10:00:00+00:00",
            },
        ],
    }
    # olga's only grant ended: the group and her sessions of its role went
    assert groups_of("olga") == ["ChildDeveloperGroup"]
    assert denied(revocation_document("BreakGlassRole")) == {"*:olga": "2026-11-25T09:10:00Z"}
    # pete keeps the group until CHG-8's grant ends
    assert groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]
    assert api.call("GET", "/users/pete").json["grants"] == [
        {"group": "BreakGlassGroup", "expires_at": "2026-11-25T10:00:00+00:00"}
    ]
    story = api.call("GET", "/audit?ticket=CHG-7").json["events"]
    assert sorted((e["action"], e["username"], e["result"]) for e in story)[:2] == [
        ("close_ticket", "olga", "ok"),
        ("close_ticket", "pete", "ok"),
    ]
    # again: nothing more to end, the same answer; an unknown ticket ended nothing
    again = api.call("POST", "/tickets/CHG-7/closed", {"requested_by": "jira"})
    assert again.status_code == 200 and again.json == closed.json
    assert len(api.call("GET", "/audit?ticket=CHG-7").json["events"]) == len(story)
    unknown = api.call("POST", "/tickets/CHG-404/closed", {"requested_by": "jira"})
    assert unknown.json == {"ticket": "CHG-404", "ended": []}
    refused = api.call("POST", "/tickets/schedule:x/closed", {"requested_by": "jira"})
    assert refused.status_code == 400 and "prefix" in refused.json["Message"]
    assert api.call("POST", "/tickets/CHG-7/closed", {}).status_code == 400


def test_a_ticket_closing_cancels_the_request_waiting_under_it(standin, api, clock, poller):
    clock.fixed = datetime.datetime(2026, 11, 25, 9, 0, 0, tzinfo=datetime.UTC)
    onboard(api, "olga", slack_user="U0LOCAL0003")
    asked = {"username": "olga", "group": "BreakGlassGroup", "hours": 2, "reason": "INC-9"}
    request = api.call("POST", "/requests", {**asked, **ticket("CHG-9")}).json
    assert request["status"] == "pending"
    while poller.poll_once() != (0, 0):  # the approvers' channel message is posted
        pass
    clock.advance(minutes=10)

    closed = api.call("POST", "/tickets/CHG-9/closed", {"requested_by": "jira"})
    assert closed.status_code == 200, closed.json
    assert closed.json == {"ticket": "CHG-9", "ended": [], "cancelled": [request["id"]]}
    shown = api.call("GET", f"/requests/{request['id']}").json
    assert shown["status"] == "cancelled"
    [cancelled] = [e for e in api.call("GET", f"/audit?ticket={request['id']}").json["events"][1:]]
    assert (cancelled["action"], cancelled["result"]) == ("request", "ok: cancelled")
    assert cancelled["requested_by"] == "ticket:CHG-9"
    while poller.poll_once() != (0, 0):  # the channel message loses its buttons
        pass
    [update] = standin.recorded("chat.update")
    assert "the ticket it was asked under closed" in json.dumps(update["args"])
    assert "request_approve" not in json.dumps(update["args"])
    # an approval now grants nothing; closing again answers the same
    decision = {"decision": "approve", "approver": "U0LOCAL0002", "ticket": "CHG-9-D"}
    assert api.call("POST", f"/requests/{request['id']}/decision", decision).status_code == 409
    assert groups_of("olga") == ["ChildDeveloperGroup"]
    again = api.call("POST", "/tickets/CHG-9/closed", {"requested_by": "jira"})
    assert again.json == closed.json


# restores that fall due
def test_suspended_users_are_restored_when_their_date_comes(api, clock):
    onboard(api, "pete")
    until = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    api.call("POST", "/users/pete/suspend", {**ticket("T-2"), "until": until})
    api.call("POST", "/users/olga/suspend", ticket("T-x"))  # unknown: ignored
    onboard(api, "olga")
    api.call("POST", "/users/olga/suspend", ticket("T-3"))  # no end date: stays suspended
    schedules = bootstrap.services().schedules
    clock.advance(days=2)
    assert schedules.restore_due() == []
    clock.advance(days=1)
    assert schedules.restore_due() == ["pete"]
    assert groups_of("pete") == ["ChildDeveloperGroup"] and groups_of("olga") == []
    trail = api.call("GET", "/audit?username=pete").json["events"]
    assert trail[-1]["action"] == "restore" and trail[-1]["requested_by"] == "schedule"
    assert schedules.restore_due() == []


# drift
@pytest.fixture
def slack_webhook():
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server interface
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_every_kind_of_drift_is_audited_and_sent_to_slack(api, monkeypatch, clock, slack_webhook):
    url, received = slack_webhook
    boto3.client("secretsmanager").create_secret(
        Name="iam-lifecycle/dev/drift-webhook", SecretString=url
    )
    monkeypatch.setenv("DRIFT_WEBHOOK_SECRET", "iam-lifecycle/dev/drift-webhook")
    bootstrap.reset()
    from chalicelib.aws.clients import AwsClients
    from devstack.local import REGION, shared_session

    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )

    onboard(api, "pete")
    onboard(api, "olga")
    assert bootstrap.services().schedules.report_drift() == []
    assert received == []

    iam = boto3.client("iam")
    iam.add_user_to_group(UserName="pete", GroupName="BreakGlassGroup")  # by hand
    iam.create_user(UserName="admin", Path="/")
    iam.add_user_to_group(UserName="admin", GroupName="ChildDeveloperGroup")  # outside the app
    iam.create_user(UserName="stray", Path="/managed/")  # under the path, never onboarded
    iam.add_user_to_group(UserName="stray", GroupName="ChildDeveloperGroup")

    findings = bootstrap.services().schedules.report_drift()
    assert sorted((f["kind"], f["username"]) for f in findings) == [
        ("groups_differ", "pete"),
        ("unmanaged_member", "admin"),
        ("unmanaged_member", "stray"),
    ]
    pete = next(f for f in findings if f["username"] == "pete")
    assert pete["expected"] == ["ChildDeveloperGroup"]
    assert pete["actual"] == ["BreakGlassGroup", "ChildDeveloperGroup"]
    drift_events = [e for e in api.call("GET", "/audit").json["events"] if e["action"] == "drift"]
    assert {e["username"] for e in drift_events} == {"pete", "admin", "stray"}
    assert len(received) == 1
    assert "admin" in received[0]["text"] and "pete" in received[0]["text"]


# events
def test_every_completed_operation_is_published_on_eventbridge(api):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="lifecycle-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events")
    events.put_rule(Name="lifecycle", EventPattern=json.dumps({"source": ["iam-lifecycle"]}))
    events.put_targets(Rule="lifecycle", Targets=[{"Id": "queue", "Arn": arn}])

    onboard(api, "pete")
    api.call("POST", "/users/pete/restore", ticket("T-bad"))  # rejected: nothing published
    api.call("POST", "/users/pete/suspend", ticket("T-2"))
    api.call("POST", "/users/pete/restore", ticket("T-3"))
    api.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 1, "reason": "x", **ticket("T-4")},
    )
    api.call("PUT", "/users/pete/groups", {"groups": ["ChildDeveloperGroup"], **ticket("T-5")})
    api.call("POST", "/users/pete/offboard", ticket("T-6"))

    published = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        published += [json.loads(m["Body"]) for m in messages]
    assert [(e["detail-type"], e["detail"]["ticket"]) for e in published] == [
        ("user.onboarded", "T-pete"),
        ("user.suspended", "T-2"),
        ("user.restored", "T-3"),
        ("user.granted", "T-4"),
        ("user.moved", "T-5"),
        ("user.offboarded", "T-6"),
    ]
    assert all(e["detail"]["requested_by"] == "alice" for e in published)
    # No event carries the password: no field of that name (the welcome step only names it).
    assert '"temporary_password":' not in json.dumps(published)
