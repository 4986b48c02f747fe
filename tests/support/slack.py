"""Slack's side of the app, in process: signed slash commands and clicks sent to the app's test
client, the work queue read with boto3, and the worker run from it."""

from __future__ import annotations

import html
import json

from chalicelib.settings import work_queue_name
from devstack.queue_poller import Poller
from devstack.slack_command import allowed_users, click_body, command_body, sign

ALLOWED = allowed_users()[0]
STRANGER = "U0STRANGER1"
QUEUE = work_queue_name()
# A Slack host of the tests' stage (SLACK_RESPONSE_HOSTS) where nothing listens: Slack down.
NOWHERE_HOST = "127.0.0.1:9"
NOWHERE = f"http://{NOWHERE_HOST}/commands/nothing-listens-here"


class Slack:
    """Slack's side: signed slash commands and clicks sent to the app's test client."""

    def __init__(self, client, secret: str) -> None:
        self.client = client
        self.secret = secret

    def command(
        self,
        text: str,
        *,
        user: str = ALLOWED,
        response_url: str = NOWHERE,
        trigger_id: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ):
        body = command_body(text, user_id=user, response_url=response_url, trigger_id=trigger_id)
        return self.send("/slack/commands", body, sign(secret or self.secret, body, timestamp))

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = ALLOWED,
        response_url: str = NOWHERE,
        secret: str | None = None,
    ):
        body = click_body(action_id, value, user_id=user, response_url=response_url)
        return self.send("/slack/interactions", body, sign(secret or self.secret, body))

    def send(self, path: str, body: bytes, headers: dict):
        response = self.client.http.post(path, headers=headers, body=body)
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        response.json = json.loads(response.body) if is_json and response.body else None
        return response


def queue_url(sqs, name: str = QUEUE) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def queued(sqs, name: str = QUEUE) -> list[dict]:
    """Every message on the queue (taken off it for good)."""
    url, found = queue_url(sqs, name), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def ephemeral(response) -> str:
    """The text of an answer only the requester sees, as Slack shows it (mrkdwn unescaped)."""
    assert response.status_code == 200, response.body
    assert response.json["response_type"] == "ephemeral", response.json
    return html.unescape(response.json["text"])


def everything_in(message: dict) -> str:
    return json.dumps(message)


def run_worker(poller: Poller, times: int = 1) -> list[tuple[int, int]]:
    return [poller.poll_once() for _ in range(times)]
