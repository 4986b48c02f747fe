"""Reads of the whole account cost a few calls, not a few per person: GET /users, the access
matrix and drift read users, groups and policies in one GetAccountAuthorizationDetails beside the
state table, and console, MFA and keys from the credential report, reading live only the people
the report cannot speak for."""

from __future__ import annotations

import functools
import time

import boto3
import pytest

from chalicelib import bootstrap
from tests.support import onboard


@pytest.fixture
def sent():
    """Every AWS call the app's clients send from here on, by operation."""
    calls: list[str] = []
    clients = bootstrap.services().clients
    for service in ("iam", "dynamodb", "sts"):
        clients.root(service).meta.events.register(
            "before-call", lambda model, **_: calls.append(model.name)
        )
    return calls


def _count(calls: list[str], model, **_) -> None:
    calls.append(model.name)


@pytest.mark.parametrize("route", ["/users", "/access-matrix", "/access-matrix?format=csv"])
def test_the_cost_of_a_whole_account_read_does_not_grow_with_the_people(api, route):
    counts = []
    for people in (3, 12):
        for n in range(people - 3 * len(counts)):
            onboard(api, f"p{len(counts)}x{n}")
        # The report is stamped to the second: a person changed in the second it was made is
        # read live (tests/service/test_account_reads.py::test_people_with_keys...), so let it pass.
        time.sleep(1.1)
        calls: list[str] = []
        clients = bootstrap.services().clients
        handler = functools.partial(_count, calls)
        for service in ("iam", "dynamodb"):
            clients.root(service).meta.events.register("before-call", handler)
        assert api.call("GET", route).status_code == 200
        for service in ("iam", "dynamodb"):
            clients.root(service).meta.events.unregister("before-call", handler)
        counts.append(calls)
    assert len(counts[0]) == len(counts[1]) <= 5, counts
    assert "GetAccountAuthorizationDetails" in counts[1]
    assert not {"ListGroupsForUser", "GetUser", "ListAccessKeys"} & set(counts[1])


def test_people_with_keys_are_read_live_and_shown_whole(api, sent):
    onboard(api, "pete")
    onboard(api, "olga")
    key = boto3.client("iam").create_access_key(UserName="olga")["AccessKey"]["AccessKeyId"]
    time.sleep(1.1)  # past the second the report is stamped with (see above)
    sent.clear()
    users = {u["username"]: u for u in api.call("GET", "/users").json["users"]}
    assert users["olga"]["access_keys"] == [{"id": key, "status": "Active", "last_used": None}]
    assert users["pete"]["access_keys"] == [] and users["pete"]["console"] is True
    # The report gives no key ids: only olga is read one by one.
    assert sent.count("ListAccessKeys") == 1 and sent.count("GetLoginProfile") == 1
    # Each user as the whole-account read shows it is the user as GET /users/{name} shows it.
    for name in ("pete", "olga"):
        assert api.call("GET", f"/users/{name}").json == users[name]


def test_a_suspended_person_is_shown_as_iam_and_the_record_say(api):
    onboard(api, "pete", ("ChildDeveloperGroup", "BreakGlassGroup"))
    assert (
        api.call(
            "POST", "/users/pete/suspend", {"ticket": "S-1", "requested_by": "alice"}
        ).status_code
        == 200
    )
    (pete,) = api.call("GET", "/users").json["users"]
    assert pete == api.call("GET", "/users/pete").json
    assert pete["status"] == "suspended" and pete["groups"] == [] and pete["console"] is False
    assert api.call("GET", "/access-matrix").json["rows"] == []
