"""An SQS long poll waits its ``WaitTimeSeconds`` of real time on the local stack's moto, however
the stack's clock moves meanwhile (devstack/moto_clock.py).

AWS: "the ReceiveMessage call waits ... up to the maximum wait time" of 20 seconds (Amazon SQS
Developer Guide, "Amazon SQS short and long polling"); the clock of the dates AWS records has
nothing to do with it. The local stack's queue poller long-polls with a one-second wait; a wait
that ran on the moved clock kept it (and the stack's stop) waiting for as long as the clock had
been moved forward.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

from devstack import moto_clock

HOURS = 2 * 3600


@pytest.fixture
def queue(tmp_path):
    moto_clock.apply()
    clock_file = tmp_path / "clock.json"
    clock_file.write_text(json.dumps({"offset_seconds": HOURS}))  # `clock advance 2h`
    moto_clock.follow(clock_file)
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="work")["QueueUrl"]
            yield sqs, url, clock_file
    finally:
        moto_clock.follow(None)


def polling(sqs, url: str, wait: int) -> tuple[threading.Thread, list[dict]]:
    """A long poll of ``wait`` seconds under way in a thread; the list its answer goes to."""
    answers: list[dict] = []
    thread = threading.Thread(
        target=lambda: answers.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait)),
        daemon=True,
    )
    thread.start()
    time.sleep(0.3)  # the poll has begun, on the clock two hours ahead
    return thread, answers


def test_a_long_poll_ends_after_its_wait_when_the_clock_is_moved_back_meanwhile(queue):
    sqs, url, clock_file = queue
    polling_thread, answers = polling(sqs, url, 1)
    clock_file.write_text(json.dumps({"offset_seconds": 0}))  # `clock reset`
    polling_thread.join(timeout=60)  # a bound for the test, far above the poll's one second
    assert not polling_thread.is_alive(), "the long poll waits on the moved clock"
    assert answers[0].get("Messages", []) == []


def test_a_long_poll_answers_a_message_sent_while_it_waits(queue):
    sqs, url, _ = queue
    polling_thread, answers = polling(sqs, url, 20)
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    polling_thread.join(timeout=60)
    assert not polling_thread.is_alive()
    assert [m["Body"] for m in answers[0]["Messages"]] == ["hello"]
