"""A name is not a person: what the service keeps for a person (their record, Slack link,
requests, review items) is bound to their IAM UserId, let go when they are offboarded, and never
acted on for a later holder of the name; a name that cannot be onboarded is refused in one
wording that tells nothing about which users exist, and leaves nothing behind."""

from __future__ import annotations

from datetime import date, timedelta

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from devstack.local import REGION, _Principal
from tests.support import onboard
from tests.support.enforcement import enforced

GROUP = "BreakGlassGroup"
UNAVAILABLE = (
    "cannot be onboarded: the name is not available (IAM user names are unique whatever their "
    "case); choose another name, or change an existing managed user with the other operations"
)


def offboard(api, name, ticket):
    answer = api.call("POST", f"/users/{name}/offboard", {"ticket": ticket, "requested_by": "hr"})
    assert answer.status_code == 200, answer.json
    return answer.json


def ask(api, name, ticket, group=GROUP):
    body = {
        "username": name,
        "group": group,
        "hours": 1,
        "reason": "deploy hotfix",
        "ticket": ticket,
        "requested_by": name,
    }
    answer = api.call("POST", "/requests", body)
    assert answer.status_code == 201, answer.json
    return answer.json


def approve(api, request_id, ticket="T-decide"):
    body = {"decision": "approve", "approver": "U0LOCAL0002", "ticket": ticket}
    return api.call("POST", f"/requests/{request_id}/decision", body)


def user_id(name):
    return boto3.client("iam", region_name=REGION).get_user(UserName=name)["User"]["UserId"]


def groups_of(name):
    iam = boto3.client("iam", region_name=REGION)
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"])


def link(member):
    """The Slack member's link item as stored, or None."""
    table = bootstrap.services().settings.state_table
    return (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=table, Key={"pk": {"S": f"MEMBER#{member}"}, "sk": {"S": "LINK"}})
        .get("Item")
    )


def test_the_record_and_the_link_name_the_person_iam_created(api):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    record = bootstrap.services().state.get_record("pete")
    assert record["user_id"] == user_id("pete")
    assert link("U0PETE00001")["user_id"] == {"S": user_id("pete")}


def test_offboarding_lets_go_of_the_link_and_cancels_pending_requests(standin, api):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    asked = ask(api, "pete", "T-ask")
    offboard(api, "pete", "T-off")
    assert link("U0PETE00001") is None
    shown = api.call("GET", f"/requests/{asked['id']}").json
    assert shown["status"] == "cancelled" and shown["why"] == "offboarded"
    cancelled = [e for e in api.call("GET", f"/audit?ticket={asked['id']}").json["events"]]
    assert cancelled[-1]["result"] == "ok: cancelled (offboarded)"
    assert cancelled[-1]["requested_by"] == "offboard:T-off"
    # A new pending request for the group may be made by whoever holds the name next.
    assert (
        onboard(
            api, "pete", ticket="T-2", expect=None, console=False, slack_user="U0PETE00002"
        ).status_code
        == 201
    )
    assert ask(api, "pete", "T-ask-2")["status"] == "pending"


def test_the_leavers_request_cannot_be_approved_for_the_new_holder_of_the_name(standin, api):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    asked = ask(api, "pete", "T-ask")
    offboard(api, "pete", "T-off")
    assert (
        onboard(
            api, "pete", ticket="T-2", expect=None, console=False, slack_user="U0PETE00002"
        ).status_code
        == 201
    )
    answer = approve(api, asked["id"])
    assert answer.status_code == 409, answer.json
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert api.call("GET", f"/requests/{asked['id']}").json["status"] == "cancelled"


def test_a_request_of_an_earlier_holder_is_not_granted_even_when_it_was_never_cancelled(
    standin, api
):
    """The name changed hands outside the service (deleted and made again by hand): nothing let
    go of the leaver's request, and its approval still grants the new person nothing."""
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    asked = ask(api, "pete", "T-ask")
    replace_by_hand("pete")

    answer = approve(api, asked["id"])
    assert answer.status_code == 409, answer.json
    assert "earlier user named pete" in answer.json["Message"]
    assert groups_of("pete") == ["ChildDeveloperGroup"]
    assert api.call("GET", f"/requests/{asked['id']}").json["status"] == "pending"


def replace_by_hand(name, groups=("ChildDeveloperGroup",)):
    """The name changes hands outside the service: its user deleted and made again in IAM."""
    iam = boto3.client("iam", region_name=REGION)
    for group in groups_of(name):
        iam.remove_user_from_group(UserName=name, GroupName=group)
    for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name, Path="/managed/")
    for group in groups:
        iam.add_user_to_group(UserName=name, GroupName=group)


def test_a_grant_of_an_earlier_holder_expires_without_touching_the_new_ones_groups(api, clock):
    assert onboard(api, "pete", ticket="T-1", expect=None, console=False).status_code == 201
    body = {"group": GROUP, "hours": 1, "reason": "incident", "ticket": "T-g"}
    granted = api.call("POST", "/users/pete/grants", {**body, "requested_by": "alice"})
    assert granted.status_code == 201, granted.json
    replace_by_hand("pete", groups=("ChildDeveloperGroup", GROUP))
    clock.advance(hours=1, minutes=1)
    assert bootstrap.services().schedules.expire_grants() == [{"username": "pete", "group": GROUP}]
    assert groups_of("pete") == [GROUP, "ChildDeveloperGroup"]


def _unmanaged_bob(api):
    boto3.client("iam", region_name=REGION).create_user(UserName="bob", Path="/")


def _managed_bob(api):
    assert onboard(api, "bob", ticket="T-first", expect=None, console=False).status_code == 201


def _managed_other_case(api):
    assert onboard(api, "Bob", ticket="T-first", expect=None, console=False).status_code == 201


@pytest.mark.parametrize("holder", [_unmanaged_bob, _managed_bob, _managed_other_case])
def test_an_unavailable_name_is_one_409_that_tells_nothing_and_leaves_nothing(api, holder):
    holder(api)
    before = bootstrap.services().state.get_record("bob")
    answer = onboard(
        api, "bob", ticket="T-bob", expect=None, console=False, slack_user="U0BOB000001"
    )
    assert answer.status_code == 409, answer.json
    assert answer.json["Message"] == f"bob {UNAVAILABLE}"
    assert bootstrap.services().state.get_record("bob") == before
    assert link("U0BOB000001") is None


def test_a_protected_name_stays_a_403(api):
    answer = onboard(api, "break-glass-owner", ticket="T-p", expect=None, console=False)
    assert answer.status_code == 403, answer.json


def test_an_unmanaged_user_the_service_cannot_see_is_the_same_409_and_leaves_nothing(
    api, aws, clock
):
    """As in AWS, the app's path-scoped policy cannot read a user at ``/``: only CreateUser
    tells it the name is taken, and nothing was written before it asked."""
    boto3.client("iam", region_name=REGION).create_user(UserName="bob", Path="/")
    bootstrap.use(
        bootstrap.build(
            clients=AwsClients(REGION, session=_Principal(aws.app_credentials)), clock=clock
        )
    )
    with enforced():
        answer = onboard(
            api, "bob", ticket="T-bob", expect=None, console=False, slack_user="U0BOB000001"
        )
    assert answer.status_code == 409, answer.json
    assert answer.json["Message"] == f"bob {UNAVAILABLE}"
    assert bootstrap.services().state.get_record("bob") is None
    assert link("U0BOB000001") is None


def test_offboarding_closes_the_persons_open_review_items_as_revokes_it_carried_out(api):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    assert onboard(api, "sam", ticket="T-2", expect=None, console=False).status_code == 201
    due = (date.today() + timedelta(days=10)).isoformat()
    body = {"due": due, "ticket": "T-rev", "requested_by": "alice"}
    review = api.call("POST", "/reviews", body).json
    offboarded = offboard(api, "pete", "T-off")

    shown = api.call("GET", f"/reviews/{review['id']}").json
    [item] = [i for i in shown["items"] if i["username"] == "pete"]
    assert item["decision"] == "revoke" and item["decided_by"] == "hr"
    assert item["offboarded"] == "T-off" and item["removal_ticket"] == "T-off"
    assert item["removed_at"] and item["sessions_revoked_in"] == offboarded["sessions_revoked_in"]
    [sam] = [i for i in shown["items"] if i["username"] == "sam"]
    assert "decision" not in sam and "removed_at" not in sam

    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    [row] = [r for r in evidence["items"] if r["username"] == "pete"]
    assert row["how"] == "revoke by the offboarding of the user (T-off)"
    assert row["audit"]["action"] == "offboard" and row["audit"]["ticket"] == "T-off"
    assert row["holds"] is True and row["check"] == "user gone"
    assert evidence["totals"]["undecided"] == 1 and evidence["totals"]["carried_out"] == 1
    # A reviewer's later click changes nothing: the access is gone.
    decision = {"decision": "keep", "reviewer": "U0LOCAL0002", "ticket": "T-d"}
    late = api.call("POST", f"/reviews/{review['id']}/items/{item['id']}/decision", decision)
    assert late.status_code == 409, late.json


def test_a_revocation_owed_for_the_leaver_survives_the_new_holders_onboarding(
    api, monkeypatch, clock
):
    """The leaver's role sessions could not be denied in one account; a new pete onboarded
    before that account is reachable must not wipe the owed revocation off the record."""
    from devstack.local import SETUP_CREDENTIALS, Provisioner, shared_session
    from tests.support.revocation import denied, revocation_document

    late = "444455556666"  # listed before its roles were deployed
    monkeypatch.setenv("CHILD_ACCOUNT_IDS", f"222233334444,{late}")
    bootstrap.reset()
    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )
    assert onboard(api, "pete", ticket="T-1", expect=None, console=False).status_code == 201
    assert list(offboard(api, "pete", "T-off")["sessions_revocation_pending"]) == [late]
    assert onboard(api, "pete", ticket="T-2", expect=None, console=False).status_code == 201
    record = bootstrap.services().state.get_record("pete")
    assert record["revocation_pending"] == [late] and record["user_id"] == user_id("pete")

    Provisioner(endpoint_url=None, children=(late,)).deploy_child(
        Provisioner(None).child_credentials(SETUP_CREDENTIALS, late)
    )
    assert bootstrap.services().schedules.prune_revocations()["retried_for"] == ["pete"]
    assert "*:pete" in denied(revocation_document("DeveloperRole", late))
    assert bootstrap.services().state.get_record("pete")["revocation_pending"] == []


@pytest.fixture
def dynamodb_fails_once(client):
    """``fail(operation, marker)``: the app's next DynamoDB ``operation`` whose request holds
    ``marker`` fails as AWS does when it is down (a 5xx)."""
    from botocore.awsrequest import AWSResponse

    events = bootstrap.services().clients.root("dynamodb").meta.events
    registered = []

    def fail(operation, marker):
        state = {"failed": 0}

        def hook(params, **_):
            body = params.get("body") or b""
            body = body.encode() if isinstance(body, str) else body
            if state["failed"] or marker.encode() not in body:
                return None
            state["failed"] += 1
            return (
                AWSResponse("https://dynamodb.amazonaws.com", 500, {}, None),
                {
                    "Error": {"Code": "InternalServerError", "Message": "internal failure"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
            )

        events.register(f"before-call.dynamodb.{operation}", hook)
        registered.append((operation, hook))
        return state

    yield fail
    for operation, hook in registered:
        events.unregister(f"before-call.dynamodb.{operation}", hook)


def test_an_offboarding_that_could_not_let_go_says_so_and_its_retry_does(
    standin, api, dynamodb_fails_once
):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    asked = ask(api, "pete", "T-ask")
    failed = dynamodb_fails_once("DeleteItem", "MEMBER#U0PETE00001")
    body = {"ticket": "T-off", "requested_by": "hr"}
    first = api.call("POST", "/users/pete/offboard", body)
    assert failed["failed"] == 1 and first.status_code == 502, first.json
    assert "pete was offboarded, but what is kept for them" in first.json["Message"]
    assert link("U0PETE00001") is not None
    again = api.call("POST", "/users/pete/offboard", body)
    assert again.status_code == 200, again.json
    assert link("U0PETE00001") is None
    assert api.call("GET", f"/requests/{asked['id']}").json["status"] == "cancelled"


def test_a_resumed_onboarding_of_a_reused_name_finishes_and_binds_the_new_person(
    api, dynamodb_fails_once
):
    assert (
        onboard(
            api, "pete", ticket="T-1", expect=None, console=False, slack_user="U0PETE00001"
        ).status_code
        == 201
    )
    offboard(api, "pete", "T-off")
    failed = dynamodb_fails_once("PutItem", '"STATE"')
    first = onboard(api, "pete", ticket="T-2", expect=None, console=False, slack_user="U0PETE00002")
    assert failed["failed"] == 1 and first.status_code == 502, first.json
    # The user exists, its record is still the leaver's: the same ticket finishes the job.
    assert bootstrap.services().state.get_record("pete")["status"] == "offboarded"
    again = onboard(api, "pete", ticket="T-2", expect=None, console=False, slack_user="U0PETE00002")
    assert again.status_code == 201, again.json
    record = bootstrap.services().state.get_record("pete")
    assert record["status"] == "active" and record["user_id"] == user_id("pete")
    assert link("U0PETE00002")["user_id"] == {"S": user_id("pete")}
