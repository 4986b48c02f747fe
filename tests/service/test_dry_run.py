"""Dry runs: a plan changes nothing, and the real run afterwards makes exactly the planned calls.

Each test asks for the plan of a change, checks that AWS and the app's records are untouched,
then runs the change and compares: the calls the execution made (its audit event, numbered by
wave) and the changing IAM calls botocore actually sent (captured underneath the app) must both
equal the plan.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
from collections import Counter

import botocore.client
import pytest

from chalicelib import bootstrap
from tests.support import onboard, ticket
from tests.support.iam_objects import give_every_dependent

FUTURE = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
CHILD = "222233334444"
ROOT = "123456789012"


@pytest.fixture(autouse=True)
def _still(clock):
    """One instant for plan and run: a revocation's deny names the minute it was written."""
    clock.fixed = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


_READ = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Simulate")


@contextlib.contextmanager
def sent_to_iam():
    """Every changing IAM call botocore makes in the block, as (operation, params)."""
    sent: list[tuple[str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        if self.meta.service_model.service_name == "iam" and not operation.startswith(_READ):
            sent.append((operation, dict(params)))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = spy
    try:
        yield sent
    finally:
        botocore.client.BaseClient._make_api_call = original


def flat(plan: dict) -> list[list[tuple[str, str, dict]]]:
    """The plan's waves as [(account, operation, params)], in the plan's order."""
    return [
        [
            (account, call["operation"], call["params"])
            for account, calls in wave["accounts"].items()
            for call in calls
        ]
        for wave in plan["waves"]
    ]


def digest(params: dict) -> dict:
    """Long values as the audit trail keeps them (their SHA-256)."""

    def short(value):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return value if len(text) <= 256 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    return {key: short(value) for key, value in params.items()}


def audit_of(api, ticket_id: str, result: str) -> list[dict]:
    events = api.call("GET", f"/audit?ticket={ticket_id}").json["events"]
    return [event for event in events if event["result"] == result]


def canonical(operation: str, params: dict) -> str:
    shown = {k: ("(secret)" if k in ("Password", "NewPassword") else v) for k, v in params.items()}
    return json.dumps([operation, shown], sort_keys=True)


def plan_then_run(api, method: str, path: str, body: dict, expect: int) -> dict:
    """Plan, check the plan changed nothing, run, and compare; returns the plan."""
    state = bootstrap.services().lifecycle.state
    before_records = state.records()
    planned = api.call(method, path, {**body, "dry_run": True})
    assert planned.status_code == 200, planned.json
    plan = planned.json
    assert plan["dry_run"] is True and plan["calls"] == sum(len(w) for w in flat(plan)) > 0
    assert state.records() == before_records, "a plan wrote the record"
    now = api.call("GET", f"/users/{plan['username']}")
    assert (now.json if now.status_code == 200 else None) == plan["state_before"], "IAM changed"
    assert audit_of(api, body["ticket"], "planned"), "the audit trail does not show the plan"
    assert not audit_of(api, body["ticket"], "ok")

    with sent_to_iam() as sent:
        done = api.call(method, path, body)
    assert done.status_code == expect, done.json

    # What the execution recorded, wave by wave, is the plan.
    executed = audit_of(api, body["ticket"], "ok")[-1]["detail"]["calls"]
    expected = [
        [
            {"account": account, "service": "iam", "operation": op, "params": digest(params)}
            for account, op, params in wave
        ]
        for wave in flat(plan)
    ]
    assert executed == expected
    # And what went to AWS is the plan too (the same calls, as many times each).
    planned_calls = Counter(canonical(op, params) for wave in flat(plan) for _, op, params in wave)
    assert Counter(canonical(op, params) for op, params in sent) == planned_calls
    return plan


def operations(plan: dict) -> list[list[str]]:
    return [[f"{account}:{op}" for account, op, _ in wave] for wave in flat(plan)]


def test_onboarding_plan_is_the_onboarding(api, iam):
    body = {
        "username": "pete",
        "groups": ["ChildDeveloperGroup"],
        "email": "pete@example.com",
        **ticket("T-1"),
    }
    planned = api.call("POST", "/users", {**body, "dry_run": True})
    assert planned.status_code == 200
    assert planned.json["state_before"] is None
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="pete")
    assert api.call("GET", "/users/pete").status_code == 404

    plan = plan_then_run(api, "POST", "/users", body, 201)
    assert operations(plan) == [
        [f"{ROOT}:CreateUser"],
        [f"{ROOT}:AddUserToGroup", f"{ROOT}:AttachUserPolicy", f"{ROOT}:CreateLoginProfile"],
    ]
    password = flat(plan)[1][2][2]["Password"]
    assert password == "(secret)"


def test_move_plan_is_the_move(api, iam):
    onboard(api, ticket="T-1")
    plan = plan_then_run(
        api, "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")}, 200
    )
    # The live sessions of the role the move takes away go in the same wave.
    assert sorted(operations(plan)[0]) == [
        f"{ROOT}:AddUserToGroup",
        f"{ROOT}:RemoveUserFromGroup",
        f"{CHILD}:PutRolePolicy",
    ]
    assert plan["state_before"]["groups"] == ["ChildDeveloperGroup"]


def test_suspend_plan_is_the_suspension(api, iam):
    onboard(api, ticket="T-1")
    iam.create_access_key(UserName="pete")
    plan = plan_then_run(
        api,
        "POST",
        "/users/pete/suspend",
        {"until": FUTURE, "reason": "leave", **ticket("T-2")},
        200,
    )
    first = operations(plan)[0]
    assert f"{ROOT}:RemoveUserFromGroup" in first and f"{ROOT}:UpdateAccessKey" in first
    assert f"{ROOT}:DeleteLoginProfile" in first
    assert f"{ROOT}:AttachUserPolicy" in first  # AccessSuspended: every credential refused
    assert f"{CHILD}:PutRolePolicy" in first  # live sessions, in the same wave


def test_restore_plan_is_the_restore(api, iam):
    onboard(api, ticket="T-1")
    iam.create_access_key(UserName="pete")
    assert api.call("POST", "/users/pete/suspend", ticket("T-2")).status_code == 200
    plan = plan_then_run(api, "POST", "/users/pete/restore", ticket("T-3"), 200)
    assert sorted(operations(plan)[0]) == sorted(
        [
            f"{ROOT}:AddUserToGroup",
            f"{ROOT}:UpdateAccessKey",
            f"{ROOT}:CreateLoginProfile",
            f"{ROOT}:DetachUserPolicy",
        ]
    )
    assert plan["state_before"]["status"] == "suspended"


def test_offboarding_plan_is_the_offboarding(api, iam):
    onboard(api, ticket="T-1")
    give_every_dependent(iam, "pete")
    plan = plan_then_run(api, "POST", "/users/pete/offboard", ticket("T-2"), 200)
    waves = operations(plan)
    assert waves[-1] == [f"{ROOT}:DeleteUser"]
    assert f"{CHILD}:PutRolePolicy" in waves[0]
    assert len(plan["waves"][0]["accounts"]) == 2  # root and the child account
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="pete")


def test_grant_plan_is_the_grant(api, iam):
    onboard(api, ticket="T-1")
    plan = plan_then_run(
        api,
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 2, "reason": "incident", **ticket("T-2")},
        201,
    )
    assert operations(plan) == [[f"{ROOT}:AddUserToGroup"]]


def test_a_plan_that_would_be_refused_is_refused_the_same_way(api, iam):
    onboard(api, ticket="T-1")
    refused = api.call("POST", "/users/pete/restore", {**ticket("T-2"), "dry_run": True})
    assert refused.status_code == 409
    assert audit_of(api, "T-2", "plan rejected: " + refused.json["Message"])
    unknown = api.call("POST", "/users/nobody/offboard", {**ticket("T-3"), "dry_run": True})
    assert unknown.status_code == 404


def test_a_plan_leaves_the_ticket_free(api, iam):
    """The plan is not the change: the same ticket then runs it, and a replay answers the run."""
    onboard(api, ticket="T-1")
    body = {"groups": ["BreakGlassGroup"], **ticket("T-2")}
    assert api.call("PUT", "/users/pete/groups", {**body, "dry_run": True}).status_code == 200
    first = api.call("PUT", "/users/pete/groups", body)
    assert first.status_code == 200 and first.json["groups"] == ["BreakGlassGroup"]
    assert api.call("PUT", "/users/pete/groups", body).json == first.json
