"""The reads of the deep health check: each a small live call (nothing cached) proving the app
can reach, with its own permissions, what it needs. A secret's value is read and dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.aws.errors import aws_errors


class Probes:
    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client  # the root account's client of a service

    def iam(self, managed_path: str) -> None:
        with aws_errors(f"listing the users under {managed_path}"):
            self._client("iam").list_users(PathPrefix=managed_path, MaxItems=1)

    def table(self, name: str) -> None:
        with aws_errors(f"reading the table {name}"):
            self._client("dynamodb").get_item(
                TableName=name, Key={"pk": {"S": "HEALTH"}, "sk": {"S": "HEALTH"}}
            )

    def queue(self, name: str) -> None:
        sqs = self._client("sqs")
        with aws_errors(f"reading the queue {name}"):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])

    def secret(self, name: str) -> None:
        with aws_errors(f"reading the secret {name}"):
            self._client("secretsmanager").get_secret_value(SecretId=name)
