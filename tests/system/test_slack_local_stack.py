"""Slack end to end on the local stack as ``make run`` starts it: a signed slash command to the API
under ``chalice local``, the work read from the real queue by the poller (as the app principal, so
.chalice/policy-dev.json must allow every SQS and DynamoDB call), and the answers received on
loopback as Slack would receive them."""

from __future__ import annotations

import json
import queue

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack.slack_command import (
    ResponseCatcher,
    allowed_users,
    button,
    click_body,
    command_body,
    post,
    sign,
)
from tests.support.stack_client import call

USER = allowed_users()[0]


def admin_iam(stack):
    return boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        "iam", endpoint_url=stack["aws_endpoint_url"]
    )


def send(stack, path: str, body: bytes) -> tuple[int, str]:
    return post(stack["api_url"] + path, body, sign(stack["slack_signing_secret"], body))


def test_onboarding_and_offboarding_from_slack(stack):
    with ResponseCatcher(stack["slack_api_url"]) as catcher:
        body = command_body(
            "onboard slackpete ChildDeveloperGroup pete@example.com",
            user_id=USER,
            response_url=catcher.url(),
        )
        status, answer = send(stack, "/slack/commands", body)
        assert status == 200, answer
        assert json.loads(answer)["response_type"] == "ephemeral"

        private, public = catcher.next(timeout=60), catcher.next(timeout=30)
        assert private["response_type"] == "ephemeral" and "```" in json.dumps(private)
        assert public["response_type"] == "in_channel" and public["text"] == "slackpete onboarded"

        iam = admin_iam(stack)
        user = iam.get_user(UserName="slackpete")["User"]
        assert user["Path"] == "/managed/"
        members = iam.get_group(GroupName="ChildDeveloperGroup")["Users"]
        assert "slackpete" in [member["UserName"] for member in members]

        body = command_body("offboard slackpete", user_id=USER, response_url=catcher.url())
        status, answer = send(stack, "/slack/commands", body)
        confirmation = button(json.loads(answer), "offboard_confirm")
        assert status == 200 and confirmation, answer
        click = click_body(
            "offboard_confirm", confirmation, user_id=USER, response_url=catcher.url("/click")
        )
        assert send(stack, "/slack/interactions", click)[0] == 200
        result = catcher.next(timeout=60)
        assert result["text"] == "slackpete offboarded", result
        assert catcher.next(timeout=30) == {"delete_original": True}
        with pytest.raises(ClientError):
            iam.get_user(UserName="slackpete")

        # a second click does nothing
        assert send(stack, "/slack/interactions", click)[0] == 200
        with pytest.raises(queue.Empty):
            catcher.next(timeout=3)


def test_a_forged_command_is_refused_by_the_deployed_route(stack):
    body = command_body("status slackpete", user_id=USER, response_url="http://127.0.0.1:9/")
    headers = sign("not-the-secret", body)
    assert post(stack["api_url"] + "/slack/commands", body, headers)[0] == 401


def test_a_change_to_an_unknown_user_is_answered_once_and_not_retried(stack):
    """A 404 is final: the requester is told, and the queue does not deliver it again."""
    with ResponseCatcher(stack["slack_api_url"]) as catcher:
        body = command_body("suspend nobody-here", user_id=USER, response_url=catcher.url())
        assert send(stack, "/slack/commands", body)[0] == 200
        answer = catcher.next(timeout=60)
        assert "no managed user named nobody-here" in json.dumps(answer), answer
        with pytest.raises(queue.Empty):  # no retry: nothing more is posted
            catcher.next(timeout=5)


def test_a_command_naming_another_loopback_port_is_refused_by_the_local_stack(stack):
    """The stack's one Slack host is its stand-in: the app under chalice local refuses any other
    response_url, another port on loopback included, and queues nothing."""
    elsewhere = stack["api_url"] + "/commands/T0/1/x"  # loopback, but not the Slack stand-in
    body = command_body("status nobody", user_id=USER, response_url=elsewhere)
    status, answer = send(stack, "/slack/commands", body)
    assert status == 200
    reply = json.loads(answer)
    assert reply["response_type"] == "ephemeral"
    assert "is not one of this service's Slack hosts" in reply["text"]


def test_unknown_routes_answer_404_without_the_token_under_chalice_local(stack):
    """As API Gateway with the catch-all route: a JSON 404 for any path the API lacks, at any
    depth and with any method, never the 403 that echoes the Authorization header."""
    for method, path in (("GET", "/nope"), ("DELETE", "/users/pete/nope/deeper"), ("PUT", "/")):
        status, answer = call(stack, method, path)
        assert status == 404, (method, path, answer)
        assert answer["Message"].startswith("no route /")
        assert stack["api_token"] not in json.dumps(answer)
    status, answer = call(stack, "GET", "/health?deep=true")
    assert status == 200 and answer["status"] == "ok", answer
