"""What Lambda's SQS event source does, for the local stack (``chalice local`` never reads SQS):
receive from the app's queue, hand each batch to the app's queue handler as the SQS event Lambda
sends, and delete only what the handler reports done.

It behaves like an event source with ReportBatchItemFailures on: records named in the answer's
``batchItemFailures`` stay on the queue, an exception leaves the whole batch there. Either way
they come back after the visibility timeout and, after the queue's maxReceiveCount, SQS moves them
to the dead-letter queue.

``python -m devstack.queue_poller`` runs it as its own process with the app's environment (see
``LocalStack.serve_worker``), so the handler runs as the app principal, and so do the receive and
delete calls, as they do under the function's execution role.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import lifetime
from devstack.local import PROJECT, REGION, STAGE

logger = logging.getLogger("queue-poller")


def sqs_sources(app: Any) -> list[Any]:
    """The app's ``@app.on_sqs_message`` handlers: queue name, batch size and function name."""
    from chalice.app import SQSEventConfig

    return [source for source in app.event_sources if isinstance(source, SQSEventConfig)]


def lambda_event(messages: list[dict], queue_arn: str, region: str = REGION) -> dict:
    """The event Lambda hands the function for ``messages`` (as ReceiveMessage returns them)."""

    def attribute(value: dict) -> dict:
        return {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }

    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: attribute(value)
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class Poller:
    sqs: Any
    queue_url: str
    queue_arn: str
    batch_size: int
    invoke: Callable[[dict], Any]  # the function: event in, its answer out
    wait_seconds: int = 1

    @classmethod
    def for_app(cls, app: Any, client: Any, sqs: Any, wait_seconds: int = 1) -> Poller:
        """A poller of the app's one queue handler, invoked through Chalice's test client (the
        stage's environment variables and a Lambda context, as Lambda gives them)."""
        (source,) = sqs_sources(app)
        url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return cls(
            sqs,
            url,
            arn,
            source.batch_size,
            lambda event: client.lambda_.invoke(source.name, event).payload,
            wait_seconds,
        )

    def poll_once(self) -> tuple[int, int]:
        """One receive and one invocation; returns (records done, records failed)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0, 0
        try:
            answer = self.invoke(lambda_event(messages, self.queue_arn))
            failed = {
                item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])
            }
        except Exception as error:  # the invocation failed: nothing is deleted
            logger.warning(
                "the batch failed: %s",
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )
            failed = {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages) - len(failed), len(failed)


def main() -> None:
    import boto3
    from chalice.test import Client

    logging.basicConfig(level=logging.INFO, format="queue poller: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    sys.path.insert(0, str(PROJECT))
    from devstack import clock

    lifetime.end_with_parent()
    clock.install()  # the app's services take the stack's clock
    from app import app

    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    # The app's credentials and the stack's endpoint come from the environment.
    sqs = boto3.client("sqs", region_name=REGION)
    with Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as client:
        poller = Poller.for_app(app, client, sqs)
        ready = os.environ.get("POLLER_READY_FILE")
        if ready:
            Path(ready).touch()
        logger.info("polling %s", poller.queue_url)
        while not stopped.is_set():
            try:
                done, failed = poller.poll_once()
            except Exception as error:  # the stack going away, or moto refusing: try again
                logger.warning("receive failed: %s", error)
                stopped.wait(1)
                continue
            if failed:
                logger.info("%d done, %d failed (left on the queue for a retry)", done, failed)
            elif done:
                logger.info("%d done", done)


if __name__ == "__main__":
    main()
