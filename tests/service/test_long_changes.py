"""A REST change that cannot answer within API Gateway's 29 seconds answers 202 and is finished
by the queue worker under the same ticket; the ticket's callback carries the outcome.

IAM here answers each call after a pause (as it does when it throttles and the SDK backs off)
and the app must answer within one second: an offboarding takes at least six IAM round trips one
after another (its reads, then four waves of removals), so it stops between two waves."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from chalicelib.kernel import continuing
from devstack.local import REGION, shared_session
from tests.support import onboard
from tests.support.iam_objects import REMOVED_KINDS, give_every_dependent


class SlowIam:
    """Once ``on``, each IAM call of the app's waits a moment before it is sent."""

    def __init__(self) -> None:
        self.on = False

    def __call__(self, **_) -> None:
        if self.on:
            time.sleep(0.3)


@pytest.fixture
def slow_iam(client, monkeypatch) -> SlowIam:
    monkeypatch.setenv("ANSWER_WITHIN_SECONDS", "1")
    bootstrap.reset()
    services = bootstrap.build(clients=AwsClients(REGION, session=shared_session()))
    bootstrap.use(services)
    slow = SlowIam()
    services.clients.root("iam").meta.events.register("before-call", slow)
    return slow


def test_an_offboarding_past_its_time_answers_202_and_the_worker_finishes_it(
    api, slow_iam, poller, receiver
):
    onboard(api, "pete", ticket="T-0")
    give_every_dependent(boto3.client("iam"), "pete")
    slow_iam.on = True
    body = {"ticket": "T-1", "requested_by": "alice", "callback_url": receiver.url("/T-1")}

    first = api.call("POST", "/users/pete/offboard", body)

    assert first.status_code == 202, first.json
    assert first.json["follow"] == "/audit?ticket=T-1"
    assert first.headers["Location"] == "/audit?ticket=T-1"
    trail = api.call("GET", "/audit?ticket=T-1").json["events"]
    assert [e["result"] for e in trail] == [continuing.AUDITED]

    while poller.poll_once() != (0, 0):
        pass

    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_user(UserName="pete")
    results = [e["result"] for e in api.call("GET", "/audit?ticket=T-1").json["events"]]
    assert results[:2] == [continuing.AUDITED, "ok"], results
    outcome = [json.loads(r["body"]) for r in receiver.requests]
    assert [(o["action"], o["result"], o["status"]) for o in outcome] == [("offboard", "ok", 200)]
    # The same request again answers the outcome, every removal named.
    again = api.call("POST", "/users/pete/offboard", body)
    assert again.status_code == 200 and set(again.json["removed"]) == REMOVED_KINDS


def test_a_queued_continuation_no_change_handed_over_is_refused(api, poller, sqs):
    onboard(api, "pete", ticket="T-0")
    forged = {
        "kind": continuing.KIND,
        "action": "offboard",
        "username": "pete",
        "request": {"ticket": "T-9", "requested_by": "mallory"},
    }
    queue = sqs.get_queue_url(QueueName=bootstrap.services().settings.work_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(forged))
    assert poller.poll_once() == (1, 0)
    assert boto3.client("iam").get_user(UserName="pete")["User"]["UserName"] == "pete"
    assert api.call("GET", "/audit?ticket=T-9").json["events"] == []
