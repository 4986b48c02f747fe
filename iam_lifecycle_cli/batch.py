"""A batch CSV: its rows read and checked, every row before any is sent, and each row's request.

One row per person and change; the header names the columns, in any order:

    action,username,ticket,groups,requested_by,email,console,reason,until,slack_user
    onboard,pete,HR-101,ChildDeveloperGroup,,pete@example.com,false,,,
    move,olga,HR-102,ChildDeveloperGroup BreakGlassGroup,,,,,,
    offboard,sam,HR-103,,,,,,,

``action``, ``username`` and ``ticket`` are needed on every row; ``groups`` (separated by spaces,
``;`` or ``,``) by ``onboard`` and ``move``. An empty cell is left out of the request. Each row's
ticket is that change's ticket: sent again, it is the same change, which is how a batch run
again goes on where it stopped."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# action -> (method, path, the columns it takes beside action, username and ticket)
ACTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "onboard": ("POST", "/users", ("groups", "email", "console", "slack_user")),
    "move": ("PUT", "/users/{username}/groups", ("groups",)),
    "suspend": ("POST", "/users/{username}/suspend", ("reason", "until")),
    "restore": ("POST", "/users/{username}/restore", ()),
    "offboard": ("POST", "/users/{username}/offboard", ()),
}
NEEDED = ("action", "username", "ticket")
COLUMNS = (*NEEDED, "groups", "requested_by", "email", "console", "reason", "until", "slack_user")
NEEDS_GROUPS = ("onboard", "move")
MAX_GROUPS = 10
RESERVED_TICKETS = ("slack:", "schedule:")
_SPLIT = re.compile(r"[\s;,]+")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_TRUE, _FALSE = ("true", "yes", "1", "y"), ("false", "no", "0", "n")


@dataclass(frozen=True)
class Row:
    line: int  # the line of the file, the header being line 1
    action: str
    username: str
    ticket: str
    cells: dict[str, str] = field(default_factory=dict)  # the row's other non-empty cells

    @property
    def groups(self) -> list[str]:
        return [g for g in _SPLIT.split(self.cells.get("groups", "")) if g]

    def request(self, requested_by: str, dry_run: bool = False) -> tuple[str, str, dict]:
        """(method, path, JSON body) of this row's change."""
        method, path, _ = ACTIONS[self.action]
        body: dict[str, Any] = {
            "ticket": self.ticket,
            "requested_by": self.cells.get("requested_by") or requested_by,
        }
        if self.action == "onboard":
            body["username"] = self.username
        for column in ACTIONS[self.action][2]:
            if column == "groups":
                body["groups"] = self.groups
            elif column == "console" and "console" in self.cells:
                body["console"] = self.cells["console"].lower() in _TRUE
            elif column in self.cells:
                body[column] = self.cells[column]
        if dry_run:
            body["dry_run"] = True
        return method, path.format(username=self.username), body

    @property
    def gives_secrets(self) -> bool:
        """Whether its answer may carry a temporary password, answered once only: an
        onboarding with a console login (the default) and a restore of one who had it."""
        if self.action == "restore":
            return True
        return self.action == "onboard" and self.cells.get("console", "true").lower() in _TRUE


class BatchError(Exception):
    """The file cannot be run: every problem found, each naming its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _patterns() -> tuple[Callable[[str], bool], Callable[[str], bool], int]:
    """The username and group patterns and the ticket's length, from the OpenAPI document."""
    from iam_lifecycle_cli.spec import schema

    username = re.compile(schema("Username")["pattern"])
    group = re.compile(schema("GroupName")["pattern"])
    return (
        lambda v: bool(username.fullmatch(v)),
        lambda v: bool(group.fullmatch(v)),
        int(schema("Text").get("maxLength", 256)),
    )


def parse(text: str) -> list[Row]:
    """The rows of a batch CSV, or BatchError listing every problem (none is sent then)."""
    valid_username, valid_group, ticket_length = _patterns()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    problems = []
    missing = [name for name in NEEDED if name not in header]
    if missing:
        problems.append(f"line 1: the header needs the columns {', '.join(missing)}")
    unknown = [name for name in header if name and name not in COLUMNS]
    if unknown:
        problems.append(
            f"line 1: unknown columns {', '.join(unknown)} (the columns: {', '.join(COLUMNS)})"
        )
    if problems:
        raise BatchError(problems)
    rows: list[Row] = []
    tickets: dict[str, int] = {}
    people: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        line = reader.line_num or number
        cells = {
            (key or "").strip().lower(): (value or "").strip()
            for key, value in raw.items()
            if key is not None
        }
        if None in raw:
            problems.append(f"line {line}: more cells than the header has columns")
        if not any(cells.values()):
            continue  # a blank line
        found = _row_problems(cells, valid_username, valid_group, ticket_length)
        problems += [f"line {line}: {problem}" for problem in found]
        username, ticket = cells.get("username", ""), cells.get("ticket", "")
        if ticket:
            if ticket in tickets:
                problems.append(
                    f"line {line}: ticket {ticket} is also on line {tickets[ticket]}; "
                    "each change needs a ticket of its own"
                )
            tickets.setdefault(ticket, line)
        if username:
            # IAM user names are one whatever their case: two rows would race for one user.
            if username.lower() in people:
                problems.append(
                    f"line {line}: {username} is also on line {people[username.lower()]}; "
                    "one row per person in a batch"
                )
            people.setdefault(username.lower(), line)
        if not found:
            others = {k: v for k, v in cells.items() if k not in NEEDED and v}
            rows.append(Row(line, cells["action"].lower(), username, ticket, others))
    if problems:
        raise BatchError(problems)
    if not rows:
        raise BatchError(["the file has no rows"])
    return rows


def _row_problems(
    cells: dict[str, str],
    valid_username: Callable[[str], bool],
    valid_group: Callable[[str], bool],
    ticket_length: int,
) -> list[str]:
    problems = []
    action = cells.get("action", "").lower()
    if action not in ACTIONS:
        return [f"action {cells.get('action')!r}: give one of {', '.join(ACTIONS)}"]
    username, ticket = cells.get("username", ""), cells.get("ticket", "")
    if not valid_username(username):
        problems.append(f"username {username!r}: use 1 to 64 letters, digits or +=,.@_- characters")
    if not ticket:
        problems.append("needs a ticket")
    elif ticket.startswith(RESERVED_TICKETS):
        problems.append(f"ticket {ticket}: tickets starting slack: or schedule: are the service's")
    elif len(ticket) > ticket_length:
        problems.append(f"ticket {ticket[:20]}...: at most {ticket_length} characters")
    takes = ACTIONS[action][2]
    for column, value in cells.items():
        if value and column not in NEEDED and column != "requested_by" and column not in takes:
            problems.append(f"{column} does not apply to {action} (it takes: {', '.join(takes)})")
    groups = [g for g in _SPLIT.split(cells.get("groups", "")) if g]
    if action in NEEDS_GROUPS:
        if not groups:
            problems.append(f"{action} needs groups")
        elif len(groups) > MAX_GROUPS:
            problems.append(f"at most {MAX_GROUPS} groups")
        bad = [g for g in groups if not valid_group(g)]
        if bad:
            problems.append(f"group names {', '.join(bad)} are not valid IAM group names")
    console = cells.get("console", "")
    if console and console.lower() not in _TRUE + _FALSE:
        problems.append(f"console {console!r}: give true or false")
    until = cells.get("until", "")
    if until and not _DATE.match(until):
        problems.append(f"until {until!r}: give a date as YYYY-MM-DD")
    email = cells.get("email", "")
    if email and not _EMAIL.match(email):
        problems.append(f"email {email!r} is not an email address")
    return problems
