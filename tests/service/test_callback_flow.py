"""Ticket callbacks end to end: a REST change with a callback_url, the queue worker run from the
queue as Lambda's event source would, and a receiver on loopback checking the signature."""

from __future__ import annotations

import hashlib
import hmac
import json

import boto3
import pytest

from chalicelib import bootstrap
from tests.support import onboard
from tests.support.receiver import Receiver
from tests.support.slack import queued

SECRET_NAME = "iam-lifecycle/dev/callback-secret"


@pytest.fixture
def secret(client) -> str:
    return boto3.client("secretsmanager").get_secret_value(SecretId=SECRET_NAME)["SecretString"]


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    """Retries without the production backoff (1 s, doubling): the schedule is not under test.
    Autouse fixtures come first, so the app's settings are read with it."""
    monkeypatch.setenv("CALLBACK_BACKOFF", "0.01")


def signed_by(secret: str, request: dict) -> bool:
    headers = request["headers"]
    message = b"v1:" + headers["x-access-request-timestamp"].encode() + b":" + request["body"]
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-access-signature"])


def callback_events(api, ticket: str) -> list[dict]:
    events = api.call("GET", f"/audit?ticket={ticket}").json["events"]
    return [event for event in events if event["result"].startswith("callback")]


def test_the_result_is_posted_signed_once_the_worker_runs(api, receiver, poller, secret):
    response = onboard(api, ticket="T-1", expect=None, callback_url=receiver.url("/hooks/T-1"))
    assert response.status_code == 201
    assert receiver.requests == []  # queued: a slow receiver never holds the REST answer
    assert poller.poll_once() == (1, 0)

    (request,) = receiver.requests
    assert request["path"] == "/hooks/T-1" and signed_by(secret, request)
    body = json.loads(request["body"])
    assert body["action"] == "onboard" and body["result"] == "ok" and body["status"] == 201
    assert body["ticket"] == "T-1" and body["requested_by"] == "alice"
    assert body["answer"]["user"]["groups"] == ["ChildDeveloperGroup"]
    assert "[profile 222233334444-DeveloperRole]" in body["answer"]["aws_config"]
    assert "temporary_password" not in body["answer"]  # a password never leaves by callback
    (event,) = callback_events(api, "T-1")
    assert event["result"] == "callback delivered" and event["detail"]["attempts"] == 1


def test_a_500_is_retried(api, receiver, poller, secret):
    assert bootstrap.services().settings.callback_backoff == 0.01
    receiver.fail(2)
    onboard(api, ticket="T-1", expect=None, callback_url=receiver.url("/hooks/T-1"))
    poller.poll_once()
    assert len(receiver.requests) == 3
    assert all(signed_by(secret, request) for request in receiver.requests)
    ids = {request["headers"]["x-access-delivery"] for request in receiver.requests}
    assert len(ids) == 1  # one delivery, so the receiver can drop duplicates
    assert callback_events(api, "T-1")[0]["detail"]["attempts"] == 3


def test_a_rejected_change_is_called_back_too(api, receiver, poller):
    onboard(api, ticket="T-1", expect=None)
    again = api.call(
        "POST",
        "/users/pete/restore",
        {"ticket": "T-2", "requested_by": "alice", "callback_url": receiver.url("/T-2")},
    )
    assert again.status_code == 409
    poller.poll_once()
    body = json.loads(receiver.requests[0]["body"])
    assert body["result"] == "rejected" and body["status"] == 409
    assert body["error"] == again.json["Message"]


def test_a_plan_is_called_back(api, receiver, poller):
    onboard(api, ticket="T-1", expect=None)
    planned = api.call(
        "POST",
        "/users/pete/offboard",
        {
            "ticket": "T-2",
            "requested_by": "alice",
            "dry_run": True,
            "callback_url": receiver.url("/T-2"),
        },
    )
    assert planned.status_code == 200
    poller.poll_once()
    body = json.loads(receiver.requests[0]["body"])
    assert body["result"] == "planned" and body["answer"]["calls"] == planned.json["calls"]


def test_a_host_not_on_the_allow_list_is_refused_before_anything_changes(api, receiver, sqs):
    response = onboard(
        api, ticket="T-1", expect=None, callback_url="https://tickets.example.com/hook"
    )
    assert response.status_code == 400
    assert "tickets.example.com is not allowed" in response.json["Message"]
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_user(UserName="pete")
    assert queued(sqs) == []


@pytest.fixture
def at_once(sqs, poller):
    """A message that failed is visible again at once (in AWS: after the visibility timeout)."""
    sqs.set_queue_attributes(QueueUrl=poller.queue_url, Attributes={"VisibilityTimeout": "0"})


def test_a_receiver_back_up_gets_it_on_a_later_receive(api, receiver, poller, at_once, secret):
    port = receiver.port
    onboard(api, ticket="T-1", expect=None, callback_url=receiver.url("/hooks/T-1"))
    receiver.close()
    assert poller.poll_once() == (0, 1)  # left on the queue for another receive
    (event,) = callback_events(api, "T-1")
    assert event["result"].startswith("callback not delivered yet: no success after 4 attempts")
    assert event["detail"]["payload"]["answer"]["user"]["username"] == "pete"

    back = Receiver(port=port)
    try:
        assert poller.poll_once() == (1, 0)
        (request,) = back.requests
        assert signed_by(secret, request) and json.loads(request["body"])["ticket"] == "T-1"
    finally:
        back.close()
    assert callback_events(api, "T-1")[-1]["result"] == "callback delivered"


def test_nothing_is_lost_when_the_receiver_stays_down(api, receiver, poller, at_once, sqs):
    url = receiver.url("/hooks/T-1")
    receiver.close()
    response = onboard(api, ticket="T-1", expect=None, callback_url=url)
    assert response.status_code == 201
    limit = bootstrap.services().work_queue.max_receives()
    outcomes = [poller.poll_once() for _ in range(limit)]
    assert outcomes == [(0, 1)] * (limit - 1) + [(1, 0)]  # the last receive gives up
    assert queued(sqs) == [] and queued(sqs, "iam-lifecycle-dev-work-dlq") == []
    events = callback_events(api, "T-1")
    assert [e["result"].split(":")[0] for e in events] == (
        ["callback not delivered yet"] * (limit - 1) + ["callback undelivered"]
    )
    kept = events[-1]["detail"]["payload"]
    assert kept["result"] == "ok" and kept["answer"]["user"]["username"] == "pete"


def test_a_callback_that_cannot_be_queued_is_kept_in_the_audit_trail(api, receiver, sqs, poller):
    sqs.delete_queue(QueueUrl=poller.queue_url)  # the work queue is gone
    response = onboard(api, ticket="T-1", expect=None, callback_url=receiver.url("/hooks/T-1"))
    assert response.status_code == 201  # the change is done all the same
    (event,) = callback_events(api, "T-1")
    assert event["result"].startswith("callback undelivered: could not queue it")
    assert event["detail"]["payload"]["answer"]["user"]["username"] == "pete"
    assert event["detail"]["url"] == receiver.url("/hooks/T-1")
