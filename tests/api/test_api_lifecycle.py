"""Move, suspend, restore, offboard, list, audit and the access matrix through the real app."""

from __future__ import annotations

import csv
import datetime
import io

import boto3
import pytest

from chalicelib import bootstrap
from tests.support import ticket
from tests.support.iam_objects import give_every_dependent

DEV = "arn:aws:iam::222233334444:role/DeveloperRole"
GLASS = "arn:aws:iam::222233334444:role/BreakGlassRole"
FUTURE = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()


@pytest.fixture
def pete(api):
    response = api.call(
        "POST", "/users", {"username": "pete", "groups": ["ChildDeveloperGroup"], **ticket("T-1")}
    )
    assert response.status_code == 201, response.json
    return response.json


def groups(iam, username="pete"):
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"])


def has_console(iam, username="pete"):
    try:
        iam.get_login_profile(UserName=username)
        return True
    except iam.exceptions.NoSuchEntityException:
        return False


def key_states(iam, username="pete"):
    return {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
    }


def events(api, **query):
    path = "/audit?" + "&".join(f"{k}={v}" for k, v in query.items())
    response = api.call("GET", path)
    assert response.status_code == 200
    return response.json["events"]


# move
def test_move_sets_exactly_the_given_groups(api, iam, pete):
    response = api.call(
        "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")}
    )
    assert response.status_code == 200, response.json
    assert response.json["groups"] == ["BreakGlassGroup"] and response.json["roles"] == [GLASS]
    assert groups(iam) == ["BreakGlassGroup"]
    both = api.call(
        "PUT",
        "/users/pete/groups",
        {"groups": ["BreakGlassGroup", "ChildDeveloperGroup"], **ticket("T-3")},
    )
    assert both.json["roles"] == [GLASS, DEV]
    none = api.call("PUT", "/users/pete/groups", {"groups": [], **ticket("T-4")})
    assert none.status_code == 200 and groups(iam) == []


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"groups": ["Admins"]}, 403, "Admins are not managed"),
        ({"groups": "BreakGlassGroup"}, 400, "groups"),
        ({}, 400, "groups: Field required"),
    ],
)
def test_move_refuses_bad_groups(api, iam, pete, body, status, message):
    response = api.call("PUT", "/users/pete/groups", {**body, **ticket("T-2")})
    assert response.status_code == status and message in response.json["Message"]
    assert groups(iam) == ["ChildDeveloperGroup"]


def test_move_of_an_unknown_user_is_404(api):
    response = api.call("PUT", "/users/ghost/groups", {"groups": [], **ticket("T-2")})
    assert response.status_code == 404


def test_a_member_of_an_unmanaged_group_is_not_moved(api, iam, pete):
    iam.create_group(GroupName="Admins")
    iam.add_user_to_group(UserName="pete", GroupName="Admins")
    response = api.call(
        "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")}
    )
    assert response.status_code == 409 and "Admins" in response.json["Message"]
    assert groups(iam) == ["Admins", "ChildDeveloperGroup"]


# suspend and restore
def test_suspend_takes_everything_away_and_restore_gives_back_exactly_that(api, iam, pete):
    active = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    retired = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="pete", AccessKeyId=retired, Status="Inactive")

    response = api.call(
        "POST",
        "/users/pete/suspend",
        {**ticket("T-2"), "until": FUTURE, "reason": "parental leave"},
    )
    assert response.status_code == 200, response.json
    user = response.json
    assert user["status"] == "suspended" and user["suspended_until"] == FUTURE
    assert user["groups"] == [] and user["roles"] == [] and user["console"] is False
    assert groups(iam) == [] and not has_console(iam)
    assert key_states(iam) == {active: "Inactive", retired: "Inactive"}

    response = api.call("POST", "/users/pete/restore", ticket("T-3"))
    assert response.status_code == 200, response.json
    assert response.json["user"]["status"] == "active"
    assert "suspended_until" not in response.json["user"]
    assert response.json["user"]["roles"] == [DEV]
    assert len(response.json["temporary_password"]) >= 20
    assert groups(iam) == ["ChildDeveloperGroup"] and has_console(iam)
    # only the key that was active before the suspension comes back
    assert key_states(iam) == {active: "Active", retired: "Inactive"}


def test_restore_without_console_access_gives_no_password(api, iam):
    api.call("POST", "/users", {"username": "bot", "groups": [], "console": False, **ticket("T-1")})
    api.call("POST", "/users/bot/suspend", ticket("T-2"))
    response = api.call("POST", "/users/bot/restore", ticket("T-3"))
    assert response.status_code == 200 and "temporary_password" not in response.json
    assert not has_console(iam, "bot")


@pytest.mark.parametrize(
    "body, message",
    [
        ({"until": "2001-01-01"}, "after today"),
        ({"until": "next week"}, "until"),
        ({"reason": "x" * 600}, "reason"),
    ],
)
def test_suspend_refuses_bad_input(api, iam, pete, body, message):
    response = api.call("POST", "/users/pete/suspend", {**ticket("T-2"), **body})
    assert response.status_code == 400 and message in response.json["Message"]
    assert groups(iam) == ["ChildDeveloperGroup"]


def test_wrong_state_transitions_are_409(api, pete):
    assert api.call("POST", "/users/pete/restore", ticket("T-2")).status_code == 409
    assert api.call("POST", "/users/pete/suspend", ticket("T-3")).status_code == 200
    again = api.call("POST", "/users/pete/suspend", ticket("T-4"))
    assert again.status_code == 409 and "suspended" in again.json["Message"]
    moved = api.call("PUT", "/users/pete/groups", {"groups": [], **ticket("T-5")})
    assert moved.status_code == 409 and "restore them" in moved.json["Message"]


@pytest.mark.parametrize("route", ["suspend", "restore", "offboard"])
def test_unknown_protected_and_invalid_users(api, route):
    assert api.call("POST", f"/users/ghost/{route}", ticket("T-9")).status_code == 404
    assert api.call("POST", f"/users/break-glass-owner/{route}", ticket("T-9")).status_code == 403
    assert api.call("POST", f"/users/bad%20name/{route}", ticket("T-9")).status_code == 400
    assert api.call("POST", f"/users/ghost/{route}", ticket("T-9"), token=None).status_code == 401


# offboard
def test_offboard_removes_the_user_and_every_dependent(api, iam, pete):
    created = give_every_dependent(iam, "pete")
    response = api.call("POST", "/users/pete/offboard", ticket("T-2"))
    assert response.status_code == 200, response.json
    answer = response.json
    assert answer["username"] == "pete" and answer["sessions_revoked_in"] == ["222233334444"]
    removed = answer["removed"]
    for kind, ids in created.items():
        assert removed[kind] == sorted(ids), kind
    assert removed["groups"] == ["ChildDeveloperGroup"]
    assert removed["login_profile"] == ["pete"]
    assert "arn:aws:iam::123456789012:policy/ManagedUserSelfService" in removed["attached_policies"]
    assert removed["user"] == ["pete"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="pete")
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert iam.get_group(GroupName="ChildDeveloperGroup")["Users"] == []

    # the same ticket answers the same again; another ticket finds nobody
    assert api.call("POST", "/users/pete/offboard", ticket("T-2")).json == answer
    gone = api.call("POST", "/users/pete/offboard", ticket("T-3"))
    assert gone.status_code == 404 and "already offboarded" in gone.json["Message"]
    assert api.call("GET", "/users/pete").status_code == 404


def test_offboard_refuses_a_member_of_an_unmanaged_group(api, iam, pete):
    iam.create_group(GroupName="Admins")
    iam.add_user_to_group(UserName="pete", GroupName="Admins")
    response = api.call("POST", "/users/pete/offboard", ticket("T-2"))
    assert response.status_code == 409 and "remove them there by hand" in response.json["Message"]
    assert groups(iam) == ["Admins", "ChildDeveloperGroup"]  # pete is still there, untouched


# idempotency and serialization
def test_same_ticket_same_body_returns_the_first_answer_and_changes_nothing(api, iam, pete):
    first = api.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")})
    iam.add_user_to_group(UserName="pete", GroupName="ChildDeveloperGroup")  # changed meanwhile
    again = api.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")})
    assert again.status_code == 200 and again.json == first.json
    assert groups(iam) == ["BreakGlassGroup", "ChildDeveloperGroup"]
    # The replay is in the trail too, as what it was: nothing done.
    assert [e["result"] for e in events(api, username="pete") if e["ticket"] == "T-2"] == [
        "ok",
        "replayed",
    ]


def test_same_ticket_different_body_is_409(api, iam, pete):
    api.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")})
    response = api.call("PUT", "/users/pete/groups", {"groups": [], **ticket("T-2")})
    assert response.status_code == 409 and "already used" in response.json["Message"]
    assert groups(iam) == ["BreakGlassGroup"]


def test_a_replayed_onboarding_answers_without_the_password_which_is_never_stored(api, pete):
    replay = api.call(
        "POST", "/users", {"username": "pete", "groups": ["ChildDeveloperGroup"], **ticket("T-1")}
    )
    assert replay.status_code == 201
    assert replay.json["user"] == pete["user"] and replay.json["aws_config"] == pete["aws_config"]
    assert "temporary_password" not in replay.json
    table = boto3.client("dynamodb")
    stored = str(table.scan(TableName="iam-lifecycle-dev-idempotency")["Items"])
    assert pete["temporary_password"] not in stored


def test_a_change_to_a_user_another_ticket_is_changing_is_409(api, iam, pete):
    bootstrap.services().lifecycle.state.acquire("pete", "T-other", 60)
    response = api.call("POST", "/users/pete/suspend", ticket("T-2"))
    assert response.status_code == 409 and "in progress" in response.json["Message"]
    assert groups(iam) == ["ChildDeveloperGroup"]
    bootstrap.services().lifecycle.state.release("pete", "T-other")
    assert api.call("POST", "/users/pete/suspend", ticket("T-2")).status_code == 200


# views
def test_list_shows_managed_users_only(api, iam, pete):
    iam.create_user(UserName="admin", Path="/")
    api.call("POST", "/users", {"username": "olga", "groups": [], **ticket("T-2")})
    response = api.call("GET", "/users")
    assert response.status_code == 200
    assert [u["username"] for u in response.json["users"]] == ["olga", "pete"]
    assert api.call("GET", "/users", token=None).status_code == 401


def test_access_matrix_in_json_and_csv(api, pete):
    api.call(
        "POST",
        "/users",
        {"username": "olga", "groups": ["BreakGlassGroup", "ChildDeveloperGroup"], **ticket("T-2")},
    )
    rows = api.call("GET", "/access-matrix").json["rows"]
    assert rows == [
        {
            "username": "olga",
            "status": "active",
            "group": "BreakGlassGroup",
            "account": "222233334444",
            "role": "BreakGlassRole",
            "managed": True,
        },
        {
            "username": "olga",
            "status": "active",
            "group": "ChildDeveloperGroup",
            "account": "222233334444",
            "role": "DeveloperRole",
            "managed": True,
        },
        {
            "username": "pete",
            "status": "active",
            "group": "ChildDeveloperGroup",
            "account": "222233334444",
            "role": "DeveloperRole",
            "managed": True,
        },
    ]
    response = api.call("GET", "/access-matrix?format=csv")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv"
    assert list(csv.DictReader(io.StringIO(response.body.decode()))) == [
        {**row, "managed": "yes"} for row in rows
    ]
    assert api.call("GET", "/access-matrix", token=None).status_code == 401


def test_audit_records_successes_and_failures_by_user_and_ticket(api, pete):
    api.call("POST", "/users/pete/restore", ticket("T-2"))  # wrong state
    api.call("POST", "/users/pete/suspend", ticket("T-3"))
    trail = events(api, username="pete")
    assert [(e["action"], e["ticket"], e["result"].split(":")[0]) for e in trail] == [
        ("onboard", "T-1", "ok"),
        ("restore", "T-2", "rejected"),
        ("suspend", "T-3", "ok"),
    ]
    assert all(e["requested_by"] == "alice" for e in trail)
    assert [e["action"] for e in events(api, ticket="T-3")] == ["suspend"]
    assert len(events(api)) == 3
    assert events(api, username="nobody") == []
    assert api.call("GET", "/audit", token=None).status_code == 401


def test_offboard_deletes_a_virtual_mfa_device_the_person_never_enabled(api, iam, pete):
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="pete")["VirtualMFADevice"][
        "SerialNumber"
    ]
    other = iam.create_virtual_mfa_device(VirtualMFADeviceName="olga")["VirtualMFADevice"][
        "SerialNumber"
    ]
    response = api.call("POST", "/users/pete/offboard", ticket("T-2"))
    assert response.status_code == 200
    assert response.json["removed"]["mfa_devices"] == [serial]
    assert [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]] == [
        other
    ]


def test_listing_more_users_than_the_app_runs_calls_at_once(api, iam):
    """Each user is described in a wave of its own inside the list's wave."""
    names = sorted(f"user{i:02d}" for i in range(20))
    for name in names:
        iam.create_user(UserName=name, Path="/managed/")
    response = api.call("GET", "/users")
    assert response.status_code == 200
    assert [u["username"] for u in response.json["users"]] == names
