"""``POST /moto-api/stack/reset`` (devstack/reset.py) puts a running local stack back as it was
provisioned, with the app's processes still serving: what the system tier relies on to share
one stack between its modules."""

from __future__ import annotations

import datetime
import json
import urllib.request

from devstack import moto_throttle
from devstack.reset import ENDPOINT
from devstack.slack_api import root_of
from tests.support.stack_client import admin, call, clock, recorded


def send(url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    """POST ``body`` as JSON (GET without one); the JSON answer."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def days_ahead(stack) -> float:
    """How far the app's clock runs ahead of the real time."""
    now = datetime.datetime.fromisoformat(clock(stack, "now")[-1])
    return (now - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400


def test_a_reset_puts_the_stack_back_as_provisioned_and_the_app_serves_on(stack):
    aws, slack_api = stack["aws_endpoint_url"], stack["slack_api_url"]
    iam = admin(stack, "iam")
    users = iam.list_users()["Users"]
    onboarding = {
        "username": "rhea",
        "groups": ["ChildDeveloperGroup"],
        "ticket": "RESET-1",
        "requested_by": "alice",
    }
    assert call(stack, "POST", "/users", onboarding)[0] == 201
    clock(stack, "advance", "30d")
    assert days_ahead(stack) > 29
    send(aws + moto_throttle.ENDPOINT, {"service": "sts", "rate": 50})
    bot = {"Authorization": f"Bearer {stack['slack_bot_token']}"}
    assert send(slack_api + "auth.test", {}, bot)["ok"]
    send(root_of(slack_api) + "/commands/T0LOCAL/reset", {"text": "an answer"})
    assert recorded(stack)

    assert send(aws + ENDPOINT, {}) == {"ok": True}

    assert iam.list_users()["Users"] == users  # rhea is gone, and so is her record
    assert call(stack, "GET", "/users/rhea")[0] == 404
    assert abs(days_ahead(stack)) < 0.01
    assert send(aws + moto_throttle.ENDPOINT)["limits"] == {}
    assert recorded(stack) == []
    assert send(root_of(slack_api) + "/_responses")["responses"] == []
    # The app's processes serve on as the app principal: the same ticket onboards anew.
    assert call(stack, "POST", "/users", onboarding)[0] == 201
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/managed/")["Users"]] == ["rhea"]
