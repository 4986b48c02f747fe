"""chalicelib/edges/openapi.yaml as the tests read it, and a caller of the app's routes that checks every
answer against it."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import urlencode

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

DOCUMENT = Path(__file__).resolve().parents[2] / "chalicelib" / "edges" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Signed by Slack instead of the bearer token, form-encoded; tests/slack/test_slack.py checks their
# answers.
SLACK_ROUTES = {("/slack/commands", "post"), ("/slack/interactions", "post")}
# SCIM 2.0, with its own token and error bodies; tests/api/test_scim.py checks its answers.
SCIM_ROUTES = {
    ("/scim/v2/{resource}", "get"),
    ("/scim/v2/{resource}", "post"),
    *(("/scim/v2/{resource}/{ident}", m) for m in ("get", "put", "patch", "delete")),
}


@functools.cache
def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def resolve(node, seen: tuple[str, ...] = ()):
    """``node`` with every local ``$ref`` replaced by what it points to in the document."""
    if isinstance(node, list):
        return [resolve(item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in seen, ref
        target = document()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(target, seen + (ref,))
    return {key: resolve(value, seen) for key, value in node.items()}


@functools.cache
def operations() -> dict[tuple[str, str], dict]:
    return {
        (path, method): resolve(item[method])
        for path, item in document()["paths"].items()
        for method in METHODS
        if method in item
    }


def documented_response(template: str, method: str, response) -> dict:
    """Check ``response`` against what the document says of that route and its status code."""
    operation = operations()[(template, method.lower())]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method} {template} answered {status}, which the document does not list: "
        f"{response.body!r}"
    )
    content = operation["responses"][status].get("content", {})
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    body = response.json
    if not media and status == "415":
        # Chalice's own error answer carries no Content-Type header (API Gateway then sends
        # application/json); its body is the same JSON error.
        media, body = "application/json", json.loads(response.body)
    assert media in content, (
        f"{method} {template} {status} answered {media!r}; documented: {list(content)}"
    )
    if media == "application/json":
        validator = OAS30Validator(content[media]["schema"], format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, f"{method} {template} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )
    return body


class Caller:
    """Calls routes by their documented template, checks each answer, remembers what it called."""

    def __init__(self, api) -> None:
        self.api = api
        self.called: set[tuple[str, str]] = set()

    def __call__(
        self,
        method: str,
        template: str,
        body=None,
        *,
        query: dict | None = None,
        status: int,
        token: str | None = "default",
        headers: dict | None = None,
        **path,
    ):
        url = template.format(**path) + (f"?{urlencode(query)}" if query else "")
        response = self.api.call(method, url, body, token=token, headers=headers)
        response.json = documented_response(template, method, response)
        assert response.status_code == status, (method, url, response.status_code, response.body)
        self.called.add((template, method.lower()))
        return response
