"""The service's OpenAPI document as the command reads it: one ``Operation`` per REST route.

A route added to the document is a command without any change here. The Slack and SCIM routes
are left out: they take credentials of their own (Slack's signature, the SCIM token)."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Beside this module in the package: a link to chalicelib/edges/openapi.yaml, copied into a
# built wheel. IAM_LIFECYCLE_OPENAPI names another (a deployment's newer document).
DOCUMENT = Path(__file__).resolve().parent / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
_OWN_CREDENTIALS = ("/slack/", "/scim/")


@dataclass(frozen=True)
class Param:
    """A path or query parameter, or a property of the JSON body."""

    name: str
    kind: str  # "string", "integer", "number", "boolean", "array", "object"
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str  # the command: operationId in kebab case (onboardUser -> onboard-user)
    method: str
    path: str
    summary: str
    tag: str
    public: bool  # no credential needed (security: [])
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()
    body: tuple[Param, ...] = ()
    body_required: bool = False
    raw_formats: tuple[str, ...] = field(default=())  # the ?format= values that answer text


def command_name(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", operation_id).lower()


def document_path() -> Path:
    return Path(os.environ.get("IAM_LIFECYCLE_OPENAPI") or DOCUMENT)


@functools.cache
def document() -> dict:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(document_path().read_text(), Loader=loader)  # noqa: S506 (a safe loader)


def resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points to."""
    if isinstance(node, list):
        return [resolve(item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:  # a recursive schema: left as it is
            return {}
        target: Any = document()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(target, seen + (ref,))
    return {key: resolve(value, seen) for key, value in node.items()}


def schema(name: str) -> dict:
    """A schema of ``components.schemas``, references resolved."""
    return resolve(document()["components"]["schemas"][name])


def _kind(node: dict) -> str:
    if "type" in node:
        return str(node["type"])
    for key in ("oneOf", "anyOf", "allOf"):
        if key in node and node[key]:
            return _kind(node[key][0])
    return "string"


def _param(name: str, node: dict, required: bool, help: str = "") -> Param:
    items = node.get("items", {}) if _kind(node) == "array" else node
    return Param(
        name=name,
        kind=_kind(node),
        required=required,
        help=" ".join((help or node.get("description") or "").split()),
        choices=tuple(str(c) for c in items.get("enum", ()) if c is not None),
        pattern=items.get("pattern"),
    )


def _operation(path: str, method: str, item: dict, raw: dict) -> Operation:
    found = resolve(raw)
    parameters = [resolve(p) for p in item.get("parameters", []) + found.get("parameters", [])]
    body_schema: dict = {}
    content = (found.get("requestBody") or {}).get("content", {})
    if "application/json" in content:
        body_schema = content["application/json"].get("schema", {})
    required = set(body_schema.get("required", []))
    raw_formats: list[str] = []
    for response in found.get("responses", {}).values():
        for media in response.get("content") or {}:
            if media != "application/json" and not media.endswith("+json"):
                raw_formats.append(media)
    formats = next((p for p in parameters if p["name"] == "format"), None)
    text_formats = tuple(
        str(value)
        for value in ((formats or {}).get("schema", {}).get("enum") or ())
        if value != "json"
    )
    return Operation(
        name=command_name(found.get("operationId") or f"{method}-{path}"),
        method=method.upper(),
        path=path,
        summary=" ".join((found.get("summary") or "").split()),
        tag=(found.get("tags") or ["other"])[0],
        public=found.get("security") == [],
        path_params=tuple(
            _param(p["name"], p.get("schema", {}), True, p.get("description", ""))
            for p in parameters
            if p.get("in") == "path"
        ),
        query=tuple(
            _param(
                p["name"], p.get("schema", {}), bool(p.get("required")), p.get("description", "")
            )
            for p in parameters
            if p.get("in") == "query"
        ),
        body=tuple(
            _param(name, prop, name in required)
            for name, prop in body_schema.get("properties", {}).items()
        ),
        body_required=bool((found.get("requestBody") or {}).get("required")),
        raw_formats=text_formats if raw_formats else (),
    )


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every REST route of the document, in its order."""
    found = []
    for path, item in document()["paths"].items():
        if path.startswith(_OWN_CREDENTIALS):
            continue
        for method in METHODS:
            if method in item:
                found.append(_operation(path, method, item, item[method]))
    return tuple(found)


def by_name(name: str) -> Operation:
    for operation in operations():
        if operation.name == name:
            return operation
    raise KeyError(name)
