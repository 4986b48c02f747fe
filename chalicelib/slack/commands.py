"""The grammar of the slash command, turned into the same request models the REST API takes.

    help [verb] · status <user> · onboard <user> <group>... [email] · move <user> <group>...
    suspend <user> [until YYYY-MM-DD] [reason...] · restore <user> · offboard <user>
    grant <user> <group> <hours> <reason...>

Any change also takes ``--dry-run``: the answer is its plan, and nothing changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from chalicelib.errors import BadRequest
from chalicelib.schemas import (GrantRequest, MoveRequest, OffboardRequest, OnboardRequest,
                                RestoreRequest, SuspendRequest, TicketRequest, check_username,
                                parse)

# verb: (arguments, what it does)
VERBS: dict[str, tuple[str, str]] = {
    "help": ("[verb]", "this help, or the help of one verb"),
    "status": ("<user>", "a user's status, groups, roles and keys (only you see it)"),
    "onboard": ("<user> <group>... [email]",
                "create the user in these groups; the temporary password comes only to you"),
    "move": ("<user> <group>...", "set the user's groups to exactly these"),
    "suspend": ("<user> [until YYYY-MM-DD] [reason...]",
                "take groups, keys and console away, remembered for a restore"),
    "restore": ("<user>", "give back what the suspension took; a new temporary password if the "
                "user had console access"),
    "offboard": ("<user>", "delete the user and everything it owns (asks you to confirm)"),
    "grant": ("<user> <group> <hours> <reason...>", "add the user to a group for some hours"),
}
OPEN_VERBS = frozenset({"help", "status"})
# Added to any change: answer with the plan (every AWS call, by wave and account), change nothing.
DRY_RUN = "--dry-run"
MODELS = {"onboard": OnboardRequest, "move": MoveRequest, "suspend": SuspendRequest,
          "restore": RestoreRequest, "offboard": OffboardRequest, "grant": GrantRequest}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Slack sends an address typed in a command as <mailto:a@b.c|a@b.c> when it links it.
_MAILTO = re.compile(r"^<mailto:([^|>]+)(\|[^>]*)?>$")


class Usage(Exception):
    """The command does not follow the grammar: the answer is the help of ``verb``."""

    def __init__(self, verb: str | None, problem: str) -> None:
        super().__init__(problem)
        self.verb = verb
        self.problem = problem


@dataclass(frozen=True)
class Command:
    verb: str
    username: str = ""
    fields: dict = field(default_factory=dict)  # request fields besides ticket and requested_by

    @property
    def changes(self) -> bool:
        return self.verb not in OPEN_VERBS


def verb_of(text: str) -> str:
    words = text.split()
    return words[0].lower() if words else "help"


def parse_command(text: str) -> Command:
    words = [_unlink(word) for word in text.split()]
    verb = words[0].lower() if words else "help"
    args = [word for word in words[1:] if not _is_dry_run(word)]
    dry_run = len(args) < len(words) - 1
    if verb not in VERBS:
        raise Usage(None, f"there is no verb {verb!r}")
    if verb == "help":
        topic = args[0].lower() if args else ""
        return Command("help", fields={"verb": topic if topic in VERBS else ""})
    if dry_run and verb in OPEN_VERBS:
        raise Usage(verb, f"{DRY_RUN} applies to changes only")
    if not args:
        raise Usage(verb, "name the user")
    username, rest = args[0], args[1:]
    _check_username(verb, username)
    fields = _PARSERS[verb](verb, rest)
    return Command(verb, username, {**fields, "dry_run": True} if dry_run else fields)


def _is_dry_run(word: str) -> bool:
    # Slack clients with smart punctuation turn "--" into an en or em dash.
    return word.lower().replace("\u2014", "--").replace("\u2013", "--") == DRY_RUN


def _unlink(word: str) -> str:
    linked = _MAILTO.match(word)
    return linked.group(1) if linked else word


def _check_username(verb: str, username: str) -> None:
    try:
        check_username(username)
    except BadRequest as error:
        raise Usage(verb, error.message) from None


def _nothing(verb: str, rest: list[str]) -> dict:
    if rest:
        raise Usage(verb, f"unexpected {' '.join(rest)!r}")
    return {}


def _onboard(verb: str, rest: list[str]) -> dict:
    fields: dict = {}
    if rest and "@" in rest[-1]:
        fields["email"] = rest.pop()
    if not rest:
        raise Usage(verb, "name at least one group")
    return {"groups": rest, **fields}


def _move(verb: str, rest: list[str]) -> dict:
    if not rest:
        raise Usage(verb, "name at least one group")
    return {"groups": rest}


def _suspend(verb: str, rest: list[str]) -> dict:
    fields: dict = {}
    if rest and rest[0].lower() == "until":
        if len(rest) < 2 or not _DATE.match(rest[1]):
            raise Usage(verb, "`until` takes a date as YYYY-MM-DD")
        fields["until"] = rest[1]
        rest = rest[2:]
    if rest:
        fields["reason"] = " ".join(rest)
    return fields


def _grant(verb: str, rest: list[str]) -> dict:
    if len(rest) < 3:
        raise Usage(verb, "name the group, the number of hours and a reason")
    group, hours, reason = rest[0], rest[1], rest[2:]
    if not hours.isdigit():
        raise Usage(verb, f"hours must be a whole number, not {hours!r}")
    return {"group": group, "hours": int(hours), "reason": " ".join(reason)}


_PARSERS = {"status": _nothing, "onboard": _onboard, "move": _move, "suspend": _suspend,
            "restore": _nothing, "offboard": _nothing, "grant": _grant}


def request_for(command: Command, ticket: str, requested_by: str) -> TicketRequest | OnboardRequest:
    """The request model the REST API would take for this command, validated the same way."""
    data = {**command.fields, "ticket": ticket, "requested_by": requested_by}
    if command.verb == "onboard":
        data["username"] = command.username
    try:
        return parse(MODELS[command.verb], json.dumps(data))  # type: ignore[return-value]
    except BadRequest as error:
        raise Usage(command.verb, error.message.removeprefix("invalid request: ")) from None
