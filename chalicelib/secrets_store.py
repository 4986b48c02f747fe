"""Secrets (API token, Slack signing secret) through Powertools Parameters, cached per container."""

from __future__ import annotations

from typing import Any


class SecretsStore:
    def __init__(self, client: Any, max_age: int) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._provider = SecretsProvider(boto3_client=client)
        self._max_age = max_age

    def get(self, name: str) -> str:
        from chalicelib.iam_gateway import aws_errors

        with aws_errors(f"reading secret {name}"):
            return str(self._provider.get(name, max_age=self._max_age))
