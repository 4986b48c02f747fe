"""Guard rails that must hold in AWS's world: one identity per person whatever the spelling, one
change per ticket, replays that never undo a later change, and the smaller edges of the REST API.

These run on a moto whose IAM user names are case-insensitive, as AWS's are
(devstack/moto_iam_case.py, proven in tests/system/test_moto_iam_case.py).
"""

from __future__ import annotations

import csv
import io

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import AccessDenied
from tests.support import onboard, ticket
from tests.support.revocation import denied, revocation_document


def users() -> list[str]:
    return sorted(
        u["UserName"] for u in boto3.client("iam").list_users(PathPrefix="/managed/")["Users"]
    )


def groups_of(username: str) -> list[str]:
    iam = boto3.client("iam")
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"])


def trail(api, **query: str) -> list[dict]:
    path = "/audit?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api.call("GET", path).json["events"]


# one person, one name
@pytest.mark.parametrize(
    "spelling", ["Break-Glass-Owner", "BREAK-GLASS-OWNER", "break-Glass-owner"]
)
def test_a_protected_user_is_refused_in_any_spelling(api, spelling):
    for method, path, body in [
        ("POST", f"/users/{spelling}/offboard", ticket("T-9")),
        ("POST", f"/users/{spelling}/suspend", ticket("T-9")),
        ("PUT", f"/users/{spelling}/groups", {"groups": [], **ticket("T-9")}),
        ("GET", f"/users/{spelling}", None),
        ("POST", "/users", {"username": spelling, "groups": [], **ticket("T-9")}),
    ]:
        answer = api.call(method, path, body)
        assert answer.status_code == 403, (method, path, answer.json)


def test_onboarding_a_name_that_differs_only_in_case_is_a_409_and_makes_no_second_user(api):
    onboard(api, "pete", ticket="T-1")
    for spelling in ("Pete", "PETE"):
        answer = api.call(
            "POST",
            "/users",
            {"username": spelling, "groups": ["BreakGlassGroup"], **ticket(f"T-{spelling}")},
        )
        assert answer.status_code == 409, answer.json
        # The one wording of an unavailable name: it does not say how the name is held.
        message = answer.json["Message"]
        assert message.startswith(f"{spelling} cannot be onboarded: the name is not available")
        assert "pete" not in message
    assert users() == ["pete"] and groups_of("pete") == ["ChildDeveloperGroup"]


def test_a_request_in_another_case_acts_on_the_one_person_and_their_record(api):
    onboard(api, "pete", ticket="T-1")
    assert api.call("POST", "/users/Pete/suspend", ticket("T-2")).status_code == 200
    # A suspended person gets no groups back by being named in capitals.
    moved = api.call("PUT", "/users/PETE/groups", {"groups": ["BreakGlassGroup"], **ticket("T-3")})
    assert moved.status_code == 409, moved.json
    assert groups_of("pete") == []
    shown = api.call("GET", "/users/PETE").json
    assert shown["username"] == "pete" and shown["status"] == "suspended"
    # One trail, whichever spelling asks for it.
    assert (
        [e["ticket"] for e in trail(api, username="PETE")]
        == [e["ticket"] for e in trail(api, username="pete")]
        == ["T-1", "T-2", "T-3"]
    )
    restored = api.call("POST", "/users/pEtE/restore", ticket("T-4"))
    assert restored.status_code == 200 and restored.json["user"]["username"] == "pete"
    assert groups_of("pete") == ["ChildDeveloperGroup"]


def test_a_session_deny_names_the_user_as_iam_spells_it(api):
    """StringLike is case-sensitive and sessions are named ${aws:username}, the stored spelling:
    a deny for *:OLGA would leave olga's sessions working."""
    onboard(api, "olga", ticket="T-1")
    answer = api.call("POST", "/users/OLGA/offboard", ticket("T-2"))
    assert answer.status_code == 200, answer.json
    assert answer.json["username"] == "olga"
    assert list(denied(revocation_document("DeveloperRole"))) == ["*:olga"]
    assert users() == []


def test_a_user_renamed_in_case_keeps_one_lease(api, monkeypatch):
    """The lease is keyed by the person: a change naming PETE waits for one naming pete."""
    onboard(api, "pete", ticket="T-1")
    state = bootstrap.services().lifecycle.state
    state.acquire("pete", "someone-else", 60)
    busy = api.call("POST", "/users/PETE/suspend", ticket("T-2"))
    assert busy.status_code == 409 and "in progress" in busy.json["Message"], busy.json
    assert groups_of("pete") == ["ChildDeveloperGroup"]


# one ticket, one change
def test_one_ticket_cannot_run_a_second_action(api):
    onboard(api, "pete", ticket="T-1")
    assert (
        api.call(
            "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-5")}
        ).status_code
        == 200
    )
    second = api.call("POST", "/users/pete/suspend", ticket("T-5"))
    assert second.status_code == 409 and "already used" in second.json["Message"], second.json
    assert groups_of("pete") == ["BreakGlassGroup"]
    assert api.call("GET", "/users/pete").json["status"] == "active"
    # The refusal is in the trail like any attempt.
    assert [(e["action"], e["result"].split(":")[0]) for e in trail(api, ticket="T-5")] == [
        ("move", "ok"),
        ("suspend", "rejected"),
    ]


def test_a_second_leaseholder_with_the_same_ticket_is_refused(api):
    """The lease belongs to one invocation, not to its ticket: the same ticket cannot slip past
    a change that holds the person."""
    onboard(api, "pete", ticket="T-1")
    bootstrap.services().lifecycle.state.acquire("pete", "T-6", 60)  # as the old lease owner was
    answer = api.call("POST", "/users/pete/suspend", ticket("T-6"))
    assert answer.status_code == 409, answer.json
    assert groups_of("pete") == ["ChildDeveloperGroup"]


# replays
def forget_idempotency() -> None:
    """What the idempotency table's TTL does after a day."""
    table = bootstrap.services().settings.idempotency_table
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def test_resending_an_onboarding_once_its_idempotency_record_expired_leaves_a_suspension(api):
    onboard(api, "pete", ("ChildDeveloperGroup", "BreakGlassGroup"), ticket="T-1")
    assert api.call("POST", "/users/pete/suspend", ticket("T-2")).status_code == 200
    forget_idempotency()
    again = api.call(
        "POST",
        "/users",
        {"username": "pete", "groups": ["ChildDeveloperGroup", "BreakGlassGroup"], **ticket("T-1")},
    )
    assert again.status_code == 409, again.json
    assert "temporary_password" not in (again.json or {})
    assert groups_of("pete") == []
    with pytest.raises(ClientError):
        boto3.client("iam").get_login_profile(UserName="pete")
    assert api.call("GET", "/users/pete").json["status"] == "suspended"
    # The suspension's memory is intact: a restore gives back both groups.
    assert api.call("POST", "/users/pete/restore", ticket("T-3")).status_code == 200
    assert groups_of("pete") == ["BreakGlassGroup", "ChildDeveloperGroup"]


def test_resending_an_onboarding_after_a_move_is_a_409_that_changes_nothing(api):
    onboard(api, "pete", ticket="T-1")
    assert (
        api.call(
            "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")}
        ).status_code
        == 200
    )
    forget_idempotency()
    again = api.call(
        "POST", "/users", {"username": "pete", "groups": ["ChildDeveloperGroup"], **ticket("T-1")}
    )
    assert again.status_code == 409, again.json
    assert groups_of("pete") == ["BreakGlassGroup"]


# smaller edges
@pytest.mark.parametrize(
    "reserved", ["slack:1.2.3", "schedule:restore:pete:2030-01-01", "Schedule:drift:x", "SLACK:x"]
)
def test_a_caller_cannot_claim_a_ticket_the_service_makes(api, reserved):
    onboard(api, "pete", ticket="T-1")
    for method, path, body in [
        (
            "POST",
            "/users",
            {"username": "sam", "groups": [], "ticket": reserved, "requested_by": "alice"},
        ),
        ("POST", "/users/pete/restore", {"ticket": reserved, "requested_by": "alice"}),
        ("POST", "/users/pete/suspend", {"ticket": reserved, "requested_by": "alice"}),
    ]:
        answer = api.call(method, path, body)
        assert answer.status_code == 400 and "ticket" in answer.json["Message"], answer.json
    assert users() == ["pete"] and groups_of("pete") == ["ChildDeveloperGroup"]


@pytest.mark.parametrize("name", ["=1+2", "+pete", "-pete", "@pete"])
def test_csv_cells_that_a_spreadsheet_would_run_are_disarmed(api, name):
    onboard(api, name, ticket="T-1")
    answer = api.call("GET", "/access-matrix?format=csv")
    rows = list(csv.DictReader(io.StringIO(answer.body.decode())))
    assert rows and all(row["username"] == f"'{name}" for row in rows), rows
    # JSON keeps the name as it is.
    assert {row["username"] for row in api.call("GET", "/access-matrix").json["rows"]} == {name}


def test_the_logger_forgets_a_request_once_it_is_answered(api):
    from chalicelib.kernel.telemetry import logger

    onboard(api, "pete", ticket="T-1")
    keys = logger().get_current_keys()
    assert not {"requested_by", "username", "action"} & set(keys), keys
    assert keys.get("correlation_id") is None


def test_access_denied_is_final_and_names_what_is_missing():
    error = ClientError(
        {
            "Error": {
                "Code": "AccessDenied",
                "Message": (
                    "User: arn:aws:sts::123456789012:assumed-role/app/x is not authorized to perform: "
                    "iam:ListGroupsForUser on resource: arn:aws:iam::123456789012:user/admin because no "
                    "identity-based policy allows the iam:ListGroupsForUser action"
                ),
            }
        },
        "ListGroupsForUser",
    )
    with pytest.raises(AccessDenied) as raised:
        with aws_errors("listing the groups of admin"):
            raise error
    assert not raised.value.retryable
    assert "iam:ListGroupsForUser on arn:aws:iam::123456789012:user/admin" in raised.value.message
    assert "retry with the same ticket" not in raised.value.message
    # Without AWS's wording, the operation is named.
    with pytest.raises(AccessDenied, match="ListGroupsForUser"):
        with aws_errors("listing"):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": ""}}, "ListGroupsForUser"
            )


def test_drift_reports_a_managed_user_in_a_group_the_service_does_not_manage(api):
    onboard(api, "pete", ticket="T-1")
    iam = boto3.client("iam")
    iam.create_group(GroupName="FinanceGroup")
    iam.add_user_to_group(UserName="pete", GroupName="FinanceGroup")
    findings = bootstrap.services().schedules.report_drift()
    assert findings == [{"kind": "unmanaged_group", "username": "pete", "group": "FinanceGroup"}]


class DenyingIam:
    """IAM refusing the app an action, as AWS answers when the role's policy lacks it (403)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model, **_):
        from botocore.awsrequest import AWSResponse

        self.calls += 1
        message = (
            f"User: arn:aws:sts::123456789012:assumed-role/app/x is not authorized to "
            f"perform: iam:{model.name} on resource: arn:aws:iam::123456789012:user/pete"
        )
        return (
            AWSResponse("https://iam.amazonaws.com", 403, {}, None),
            {
                "Error": {"Code": "AccessDenied", "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
        )


def test_the_queue_worker_does_not_retry_what_aws_refuses_for_good(client, api):
    """AccessDenied will be AccessDenied on every retry: the requester is told what permission
    is missing, and the message is done (not sent round to the dead-letter queue)."""
    import json

    from chalicelib.settings import work_queue_name
    from devstack.queue_poller import lambda_event
    from devstack.slack_command import ResponseCatcher, allowed_users

    denying = DenyingIam()
    events = bootstrap.services().clients.root("iam").meta.events
    events.register("before-call.iam.CreateUser", denying)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=work_queue_name())["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    member = allowed_users()[0]
    try:
        with ResponseCatcher() as catcher:
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(
                    {
                        "kind": "change",
                        "action": "onboard",
                        "username": "pete",
                        "response_url": catcher.url(),
                        "slack_user": member,
                        "request": {
                            "username": "pete",
                            "groups": ["ChildDeveloperGroup"],
                            "ticket": "slack:9.9",
                            "requested_by": f"slack:{member}",
                        },
                    }
                ),
            )
            messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
            answer = client.lambda_.invoke("worker", lambda_event(messages, arn)).payload
            told = catcher.next()
    finally:
        events.unregister("before-call.iam.CreateUser", denying)
    assert answer == {"batchItemFailures": []}
    assert "iam:CreateUser" in told["text"] and "retried" not in told["text"], told
    assert [e["result"].split(":")[0] for e in trail(api, ticket="slack:9.9")] == ["failed"]


def test_a_suspension_revokes_in_the_accounts_of_the_organization(api, monkeypatch):
    """CHILD_ORGANIZATIONAL_UNITS: an account of the OU is a child account without a deploy;
    one the StackSet has not reached yet (no AccessRevocationRole) is named as owed, with why,
    and the others are done."""
    import dataclasses

    orgs = boto3.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    unit = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]
    created = orgs.create_account(AccountName="new", Email="new@example.com")["CreateAccountStatus"]
    orgs.move_account(
        AccountId=created["AccountId"], SourceParentId=root, DestinationParentId=unit["Id"]
    )
    services = bootstrap.services()
    settings = dataclasses.replace(services.settings, child_organizational_units=(unit["Id"],))
    revoker = services.lifecycle.revoker
    monkeypatch.setattr(revoker, "settings", settings)
    monkeypatch.setattr(revoker.children, "settings", settings)
    onboard(api, "pete", ticket="T-1")
    answer = api.call("POST", "/users/pete/suspend", ticket("T-2")).json
    assert answer["sessions_revoked_in"] == ["222233334444"]
    assert list(answer["sessions_revocation_pending"]) == [created["AccountId"]]
    (event,) = [e for e in trail(api, ticket="T-2")]
    assert event["result"] == "revocation_pending"
    record = services.lifecycle.state.get_record("pete")
    assert record["revocation_pending"] == [created["AccountId"]]
