"""The SQS work queue: requests acknowledged at once (Slack) are done later by the queue worker."""

from __future__ import annotations

import json
import threading
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel import caller

CLIENT = "client"  # the message attribute naming the client the work is done for


class WorkQueue:
    """``client`` is the SQS client, or a function that makes it on first use (a cold start that
    never queues anything does not pay for it)."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name
        self._url: str | None = None
        self._max_receives: int | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if callable(self._client):  # botocore clients are not callable
            self._client = self._client()
        return self._client

    @property
    def url(self) -> str:
        """Looked up once per container: the queue's URL never changes."""
        with self._lock:
            if self._url is None:
                with aws_errors(f"finding the work queue {self.name}"):
                    self._url = self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
            return self._url

    def send(self, work: dict) -> str:
        """Queue ``work``; the client it is done for (chalicelib/kernel/caller.py) goes with it as a
        message attribute, for the worker to act for the same client."""
        client = caller.current()
        attributes = {CLIENT: {"DataType": "String", "StringValue": client}} if client else {}
        with aws_errors(f"queueing work on {self.name}"):
            return self.client.send_message(
                QueueUrl=self.url, MessageBody=json.dumps(work), MessageAttributes=attributes
            )["MessageId"]

    def max_receives(self) -> int:
        """How often a message is received before SQS moves it to the dead-letter queue
        (0 when the queue has none)."""
        with self._lock:
            cached = self._max_receives
        if cached is None:
            with aws_errors(f"reading the redrive policy of {self.name}"):
                attributes = self.client.get_queue_attributes(
                    QueueUrl=self.url, AttributeNames=["RedrivePolicy"]
                )["Attributes"]
            policy = attributes.get("RedrivePolicy")
            cached = int(json.loads(policy)["maxReceiveCount"]) if policy else 0
            with self._lock:
                self._max_receives = cached
        return cached
