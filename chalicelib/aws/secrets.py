"""Secrets (API token, Slack signing secret), each read once per ``max_age`` seconds per container.

What Powertools Parameters' SecretsProvider does for a plain ``get``, with the client the app
made: that utility imports boto3 (s3transfer and all) at import, ~25 ms of every cold Slack
acknowledgement, which reads a secret before anything else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.aws.errors import aws_errors


class SecretsStore:
    def __init__(
        self, client: Any, max_age: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        with self._lock:
            cached = self._cache.get(name)
        if cached and cached[1] > self._clock():
            return cached[0]
        with aws_errors(f"reading secret {name}"):
            answer = self._client.get_secret_value(SecretId=name)
        value = str(answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"])
        with self._lock:
            self._cache[name] = (value, self._clock() + self._max_age)
        return value
