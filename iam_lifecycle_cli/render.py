"""Answers as Rich tables: a plan by wave and account, a list as rows, anything else as fields.
Pure: each function builds renderables from JSON, printed by the caller."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

# The list an answer holds, by its key ({"users": [...]}, {"events": [...]}, ...).
_LIST_KEYS = ("users", "events", "rows", "requests", "reviews", "findings", "items")
_SECRET_PARAMS = ("Password", "SecretAccessKey")


def cell(value: Any) -> str:
    """One value as a table cell: lists joined, objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(str(v) for v in value)
        return json.dumps(value, separators=(",", ":"), default=str)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def is_plan(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("dry_run") is True and "waves" in answer


def plan_calls(plan: dict) -> list[tuple[int, str, str, str, str]]:
    """(wave, account, service, operation, what) of every call of a plan, in order."""
    found = []
    for wave in plan.get("waves", []):
        for account, calls in sorted(wave.get("accounts", {}).items()):
            for call in calls:
                found.append(
                    (
                        int(wave.get("wave", 0)),
                        account,
                        str(call.get("service", "")),
                        str(call.get("operation", "")),
                        _params(call.get("params") or {}),
                    )
                )
    return found


def _params(params: dict) -> str:
    """A call's parameters in one line: documents shortened, secrets never shown."""
    shown = []
    for key, value in params.items():
        if key in _SECRET_PARAMS:
            value = "(secret)"
        elif key.endswith("Document") or key == "PolicyDocument":
            value = f"({len(str(value))} characters)"
        shown.append(f"{key}={cell(value)}")
    return " ".join(shown)


def plan(answer: dict) -> RenderableType:
    """A plan: what it is of, then one row per changing call, by wave and account."""
    head = Text.assemble(
        ("Plan ", "bold"),
        f"{answer.get('action')} of {answer.get('username')} (ticket {answer.get('ticket')}): ",
        (f"{answer.get('calls', 0)} changing calls", "bold"),
        f" in {len(answer.get('waves', []))} waves; nothing was changed.",
    )
    table = Table("wave", "account", "service", "operation", "parameters")
    for wave, account, service, operation, what in plan_calls(answer):
        table.add_row(str(wave), account, service, operation, what)
    parts: list[RenderableType] = [head, table]
    before = answer.get("state_before")
    if isinstance(before, dict):
        parts.insert(1, fields(before, title="State before"))
    return Group(*parts)


def short(value: Any, width: int = 120) -> str:
    """A cell of a list's table: long values (an audit event's calls) cut, whole with -o json."""
    text = cell(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def records(rows: list[dict], title: str | None = None) -> Table:
    """A list of records as one table: the columns every record's keys, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ():
            if key not in columns:
                columns.append(key)
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(short(row.get(c)) if isinstance(row, dict) else cell(row) for c in columns))
    return table


def fields(answer: dict, title: str | None = None) -> Table:
    table = Table("field", "value", title=title, show_header=False)
    for key, value in answer.items():
        table.add_row(Text(key, style="bold"), cell(value))
    return table


def answer(body: Any) -> RenderableType | str:
    """Any answer of the API, as a person reads it best."""
    if isinstance(body, str):
        return body
    if is_plan(body):
        return plan(body)
    if isinstance(body, dict):
        for key in _LIST_KEYS:
            if isinstance(body.get(key), list) and all(isinstance(r, dict) for r in body[key]):
                rest = {k: v for k, v in body.items() if k != key}
                if not body[key]:
                    return f"{key}: none"
                table = records(body[key], title=f"{key} ({len(body[key])})")
                return Group(fields(rest), table) if rest else table
        return fields(body)
    if isinstance(body, list):
        return records(body)
    return cell(body)
