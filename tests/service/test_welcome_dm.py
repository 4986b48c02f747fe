"""The welcome by direct message: an onboarding that names the person's Slack member queues it
after the change, the worker sends it once for the ticket (replays, a resumed onboarding and a
second delivery included), and it carries the steps, never a secret."""

from __future__ import annotations

import json

import boto3

from chalicelib import bootstrap
from chalicelib.kernel import direct_messages as person_messages
from devstack.local import REGION
from tests.support import onboard
from tests.support.approvals import NOBODY, OPERATOR, text_of

ONBOARD = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-WELCOME",
    "requested_by": "alice",
}


def test_an_onboarding_naming_a_member_welcomes_them_once_without_a_secret(flow, api):
    answer = onboard(api, ticket="T-WELCOME", slack_user=NOBODY, access_key=True).json
    password = answer["temporary_password"]
    secret_key = answer["access_key"]["secret_access_key"]
    assert flow.dms_to(NOBODY) == []  # queued, not sent while the change runs
    flow.work()
    [dm] = flow.dms_to(NOBODY)
    shown = text_of(dm)
    sign_in = next(s for s in answer["welcome"] if s["step"] == "sign_in")["url"]
    assert sign_in in shown and "`pete`" in shown
    assert "Turn on MFA" in shown and "~/.aws/config" in shown
    assert "comes from *alice*, who onboarded you" in shown
    assert password not in shown and secret_key not in shown
    assert answer["access_key"]["access_key_id"] not in shown
    [opened] = flow.calls("conversations.open")
    assert opened["args"]["users"] == NOBODY

    # A replay of the ticket answers again and tells nobody again.
    again = api.call("POST", "/users", {**ONBOARD, "slack_user": NOBODY, "access_key": True})
    assert again.status_code == 201 and "temporary_password" not in again.json
    assert flow.work() == 0
    assert len(flow.dms_to(NOBODY)) == 1
    sent = [e for e in flow.audit("T-WELCOME") if e["action"] == "direct_message"]
    assert [(e["result"], e["detail"]["about"]) for e in sent] == [("ok: sent", "welcome")]


def test_the_welcome_queued_or_delivered_twice_is_sent_once(flow, api):
    answer = onboard(api, ticket="T-WELCOME", slack_user=NOBODY).json
    message = person_messages.welcome(
        ticket="T-WELCOME",
        username="pete",
        slack_user=NOBODY,
        requested_by="alice",
        steps=answer["welcome"],
    )
    # As a resumed onboarding of the same ticket would queue it again, or SQS deliver it twice.
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=bootstrap.services().settings.work_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    flow.work()
    assert len(flow.dms_to(NOBODY)) == 1


def test_a_failed_send_is_retried_and_then_sent_once(flow, api, monkeypatch):
    onboard(api, ticket="T-WELCOME", slack_user=NOBODY)
    api_client = bootstrap.services().slack_api
    real = api_client.direct_message
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            from chalicelib.kernel.errors import UpstreamError

            raise UpstreamError("could not reach Slack's chat.postMessage")
        return real(*args, **kwargs)

    monkeypatch.setattr(api_client, "direct_message", flaky)
    # A message that failed is visible again at once (in AWS: after the visibility timeout).
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=bootstrap.services().settings.work_queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    flow.work()
    assert len(calls) == 2 and len(flow.dms_to(NOBODY)) == 1


def test_a_slack_onboarding_names_the_operator_who_hands_the_password(flow):
    flow.command(f"onboard pete ChildDeveloperGroup <@{NOBODY}|pete>", OPERATOR)
    flow.work()
    [dm] = flow.dms_to(NOBODY)
    assert f"<@{OPERATOR}>" in json.dumps(dm)
    private = [r for r in flow.replies() if "Welcome pack" in r.get("text", "")]
    assert private  # the requester still gets the pack with the password, privately


def test_no_member_no_welcome_message(flow, api):
    onboard(api, ticket="T-WELCOME")
    assert flow.work() == 0
    assert flow.calls("conversations.open") == [] and flow.calls("chat.postMessage") == []
