"""SCIM calls through the Chalice test client, with the stack's SCIM token."""

from __future__ import annotations

import json

import pytest

SCIM_JSON = "application/scim+json"


class ScimApi:
    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def __call__(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = "default",
        content_type: str = SCIM_JSON,
        headers: dict | None = None,
    ):
        sent = {"Content-Type": content_type}
        if token:
            sent["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        sent.update(headers or {})
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body).encode() if body else b""
        response = self.client.http.request(method, f"/scim/v2{path}", headers=sent, body=raw)
        response.json = json.loads(response.body) if response.body else None
        return response


@pytest.fixture
def scim(client, aws) -> ScimApi:
    return ScimApi(client, aws.scim_token)
