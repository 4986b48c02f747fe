"""The environment the tests give the app, its clock, and JSON calls through its test client."""

from __future__ import annotations

import datetime
import json

import pytest

from devstack.local import PROJECT, REGION


def isolate(env: pytest.MonkeyPatch, extra: dict[str, str] | None = None) -> None:
    """Fake credentials, no profile or endpoint of the developer's, no tracing (no X-Ray
    daemon here; Powertools also disables it outside Lambda, this makes it explicit)."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        env.delenv(key, raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **(extra or {}),
    }.items():
        env.setenv(key, value)


def stage_environment(stage: str = "dev") -> dict[str, str]:
    """The environment variables Chalice gives the functions of ``stage``."""
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    return {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }


class Clock:
    """The app's clock in tests: real time until a test sets or advances it."""

    def __init__(self) -> None:
        self.fixed: datetime.datetime | None = None

    def __call__(self) -> datetime.datetime:
        return self.fixed or datetime.datetime.now(datetime.UTC)

    def advance(self, **delta: float) -> None:
        self.fixed = self() + datetime.timedelta(**delta)


class Api:
    """JSON calls with the stack's bearer token."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = "default",
        headers: dict | None = None,
    ):
        sent = {"Content-Type": "application/json"}
        if token:
            sent["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        sent.update(headers or {})
        raw = (
            body
            if isinstance(body, (bytes, str))
            else json.dumps(body).encode()
            if body is not None
            else b""
        )
        response = self.client.http.request(method, path, headers=sent, body=raw)
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        response.json = json.loads(response.body) if response.body and is_json else None
        return response
