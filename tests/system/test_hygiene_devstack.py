"""Credential hygiene on the local stack as ``make run`` starts it: the app's clock moved with
``python -m devstack.clock advance``, last use set through the emulator's endpoint, the
schedule fired with ``fire`` as the app principal (IAM enforced: .chalice/policy-dev.json)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from devstack.moto_last_used import ENDPOINT
from tests.support.stack_client import admin, call, clock


def fire(stack, *flags: str) -> dict:
    """The schedule's answer (the lines before it are the app's JSON logs and metrics)."""
    lines = clock(stack, "credential_hygiene", *flags)
    return json.loads(lines[-1])["credential_hygiene"]


def set_last_used(stack, body: dict) -> None:
    request = urllib.request.Request(
        stack["aws_endpoint_url"] + ENDPOINT,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == {"ok": True}


def test_a_dormant_key_is_noticed_reminded_then_deactivated_and_a_new_user_is_not(stack):
    iam = admin(stack, "iam")
    for name in ("dora", "nora"):
        body = {"username": name, "groups": ["ChildDeveloperGroup"], "ticket": f"T-{name}"}
        status, _ = call(
            stack, "POST", "/users", {**body, "requested_by": "alice", "console": False}
        )
        assert status == 201
    key_id = iam.create_access_key(UserName="dora")["AccessKey"]["AccessKeyId"]
    nora_key = iam.create_access_key(UserName="nora")["AccessKey"]["AccessKeyId"]
    assert call(stack, "GET", "/hygiene") == (200, {"findings": []})  # day 0: nothing, N/A or not

    now = clock(stack, "advance", "50d")[-1]
    # nora's key was used an hour ago (the endpoint moto lacks); dora's never.
    set_last_used(stack, {"username": "nora", "keys": {nora_key: now}})
    status, answer = call(stack, "GET", "/hygiene")
    assert status == 200
    assert [
        (f["username"], f["rule"], f["credential"], f["next_action"]) for f in answer["findings"]
    ] == [("dora", "unused", key_id, "notify")]

    assert [f["credential"] for f in fire(stack)["noticed"]] == [key_id]
    clock(stack, "advance", "6d")
    assert [f["credential"] for f in fire(stack)["reminded"]] == [key_id]
    clock(stack, "advance", "1d")
    set_last_used(stack, {"username": "nora", "keys": {nora_key: clock(stack, "now")[-1]}})
    plan = fire(stack, "--dry-run")
    assert [p["ticket"].split(":")[1:4] for p in plan["plans"]] == [["unused", "dora", key_id]]
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Active"
    acted = fire(stack)["acted"]
    assert [(a["credential"], a["done"]) for a in acted] == [(key_id, "deactivated")]
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert iam.list_access_keys(UserName="nora")["AccessKeyMetadata"][0]["Status"] == "Active"

    status, restored = call(
        stack, "POST", "/users/dora/restore", {"ticket": "T-r", "requested_by": "alice"}
    )
    assert status == 200, restored
    assert iam.list_access_keys(UserName="dora")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_the_password_last_use_set_is_what_aws_would_report(stack):
    iam = admin(stack, "iam")
    body = {"username": "pia", "groups": ["ChildDeveloperGroup"], "ticket": "T-pia"}
    assert call(stack, "POST", "/users", {**body, "requested_by": "alice"})[0] == 201
    set_last_used(stack, {"username": "pia", "password": "2026-01-02T03:04:05Z"})
    assert (
        iam.get_user(UserName="pia")["User"]["PasswordLastUsed"]
        .isoformat()
        .startswith("2026-01-02T03:04:05")
    )


def test_what_aws_makes_after_the_clock_moved_is_new_to_hygiene(stack):
    """AWS has one time: a key made after ``clock advance 50d`` is made that day, 0 days old, not
    50 (moto stamps what it makes with its own clock, which follows the stack's:
    devstack/moto_clock.py). Fifty days later it is an unused key."""
    iam = admin(stack, "iam")
    moved = datetime.fromisoformat(clock(stack, "advance", "50d")[-1])
    body = {"username": "kit", "groups": ["ChildDeveloperGroup"], "ticket": "T-kit"}
    assert (
        call(stack, "POST", "/users", {**body, "requested_by": "alice", "console": False})[0] == 201
    )
    key = iam.create_access_key(UserName="kit")["AccessKey"]
    assert abs(key["CreateDate"] - moved) < timedelta(minutes=10)
    assert abs(iam.get_user(UserName="kit")["User"]["CreateDate"] - moved) < timedelta(minutes=10)
    status, answer = call(stack, "GET", "/hygiene")
    assert status == 200
    assert [f for f in answer["findings"] if f["username"] == "kit"] == []

    clock(stack, "advance", "50d")
    status, answer = call(stack, "GET", "/hygiene")
    assert [(f["rule"], f["credential"]) for f in answer["findings"] if f["username"] == "kit"] == [
        ("unused", key["AccessKeyId"])
    ]
    clock(stack, "reset")
