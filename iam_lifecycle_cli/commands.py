"""One command per REST route, made from the OpenAPI document: path parameters are arguments,
query parameters and the JSON body's properties are options (``--body`` gives the whole body)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import click

from iam_lifecycle_cli.spec import Operation, Param

_TYPES: dict[str, Any] = {"integer": int, "number": float}


def requested_by_default() -> str:
    """Who a change is asked by, unless told: IAM_LIFECYCLE_REQUESTED_BY, else the login."""
    try:
        return os.environ.get("IAM_LIFECYCLE_REQUESTED_BY") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's user without a passwd entry)
        return "operator"


def _option(param: Param, prefix: str = "") -> click.Option:
    flag = f"--{prefix}{param.name.replace('_', '-')}"
    help = param.help[:200] + (" (required)" if param.required else "")
    if param.kind == "boolean":
        return click.Option(
            [f"{flag}/--no-{prefix}{param.name.replace('_', '-')}", param.name],
            default=None,
            help=help,
        )
    if param.kind == "array":
        return click.Option(
            [flag, param.name],
            multiple=True,
            help=f"{help} Repeat it, or separate values with commas.",
            type=click.Choice(param.choices) if param.choices else None,
        )
    kind = click.Choice(param.choices) if param.choices else _TYPES.get(param.kind, str)
    return click.Option([flag, param.name], type=kind, help=help)


def _values(value: Any, param: Param) -> Any:
    if param.kind == "array":
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    if param.kind == "object":
        try:
            return json.loads(value)
        except ValueError:
            raise click.BadParameter(f"--{param.name}: give a JSON object") from None
    return value


def _body(option: str | None) -> dict:
    if option is None:
        return {}
    text = Path(option[1:]).read_text() if option.startswith("@") else option
    try:
        body = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--body") from None
    if not isinstance(body, dict):
        raise click.BadParameter("give a JSON object", param_hint="--body")
    return body


def build(operation: Operation, run: Any) -> click.Command:
    """The command of ``operation``; ``run(operation, path, query, body)`` sends it."""
    names = {p.name for p in operation.path_params}
    params: list[click.Parameter] = [
        click.Argument([p.name], metavar=p.name.upper()) for p in operation.path_params
    ]
    query = [q for q in operation.query if q.name not in names]
    params += [_option(q) for q in query]
    names |= {q.name for q in query}
    body = [b for b in operation.body if b.name not in names]
    params += [_option(b) for b in body]
    if operation.body:
        params.append(
            click.Option(
                ["--body"],
                help="The whole JSON body (or @FILE); the options above override its fields.",
            )
        )

    def callback(**given: Any) -> Any:
        path = operation.path
        for param in operation.path_params:
            path = path.replace("{" + param.name + "}", str(given[param.name]))
        found_query = {
            q.name: _values(given[q.name], q) for q in query if given.get(q.name) not in (None, ())
        }
        document: dict | None = None
        if operation.body:
            document = _body(given.get("body"))
            for prop in body:
                if given.get(prop.name) not in (None, ()):
                    document[prop.name] = _values(given[prop.name], prop)
            if "requested_by" in {b.name for b in body} and "requested_by" not in document:
                document["requested_by"] = requested_by_default()
            missing = [b.name for b in body if b.required and b.name not in document]
            if missing:
                raise click.UsageError(
                    "missing "
                    + ", ".join(f"--{m.replace('_', '-')}" for m in missing)
                    + " (or give them in --body)"
                )
        return run(operation, path, found_query, document)

    return click.Command(
        operation.name,
        params=params,
        callback=callback,
        help=f"{operation.summary}\n\n{operation.method} {operation.path}",
        short_help=operation.summary[:80],
    )
