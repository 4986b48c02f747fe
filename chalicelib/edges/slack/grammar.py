"""The grammar of the slash command, turned into the same request models the REST API takes.

    help [verb] · status <user> · hygiene [user] · onboard <user> <group>... [email] · move <user> <group>...
    suspend <user> [until YYYY-MM-DD] [reason...] · restore <user> · offboard <user>
    grant <user> <group> <hours> <reason...>
    request <group> <hours> <reason...> [--break-glass] · requests · done <group>
    review start [group...] due YYYY-MM-DD

Any change of a user named in the command also takes ``--dry-run``: the answer is its plan, and
nothing changes. ``request``, ``requests`` and ``done`` act for the member's own linked user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.kernel.catalogue import SLACK_ACTIONS
from chalicelib.kernel.errors import BadRequest
from chalicelib.kernel.identity import check_username

if TYPE_CHECKING:
    from chalicelib.kernel.commands import Change

# verb: (arguments, what it does); the changes are the catalogue's Slack actions.
VERBS: dict[str, tuple[str, str]] = {
    "help": ("[verb]", "this help, or the help of one verb"),
    "status": ("<user>", "a user's status, groups, roles and keys (only you see it)"),
    "hygiene": (
        "[user]",
        "credential hygiene findings: what is due and when, for everyone or one user "
        "(only you see it)",
    ),
    **{name: action.slack for name, action in SLACK_ACTIONS.items() if action.slack},
    "requests": ("", "the pending requests you may decide, and your own"),
}
OPEN_VERBS = frozenset({"help", "status", "hygiene"})
# The open verbs that queue a query for the worker; what they queue is of their own kind.
QUERIES = frozenset({"status", "hygiene"})
# Open to every member, for the user linked to them (the command names no user).
SELF_VERBS = frozenset(
    {verb for verb, action in SLACK_ACTIONS.items() if action.self_service} | {"requests"}
)
QUERY_VERBS = OPEN_VERBS | {"requests"}
# Changes of no one user (an access review of groups): operators only, no user named.
CAMPAIGN_VERBS = frozenset({"review"})
BREAK_GLASS = "--break-glass"
# A mention Slack sends for @someone: <@U123> or <@U123|name>.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
# Added to any change: answer with the plan (every AWS call, by wave and account), change nothing.
DRY_RUN = "--dry-run"


# ASCII digits only: \d would take any script's digits, which the date parser then refuses.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Slack sends an address typed in a command as <mailto:a@b.c|a@b.c> when it links it.
_MAILTO = re.compile(r"<mailto:([^|<>]+)(?:\|([^<>]*))?>")
# Any of Slack's markup: <target> or <target|label> (links, mentions, channels, user groups).
_MARKUP = re.compile(r"<([^|<>]*)(?:\|([^<>]*))?>")


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
        return self.verb not in QUERY_VERBS


def parse_command(text: str) -> Command:
    """The command ``text`` means. Its verb is what the edge authorizes, so it is only ever the
    first word as typed (in any case); a Usage names the verb only when the text has one."""
    words = text.split()
    verb = _as_verb(words[0]) if words else "help"
    if verb is None:
        linked = _linked_verb(text)
        if linked:  # named, so that the edge refuses it to a member not listed
            raise Usage(linked, f"type `{linked}` as plain text, not as a link or mention")
        raise Usage(None, f"there is no verb {words[0].lower()!r}")
    args = [_unlink(word) for word in words[1:] if not _is_dry_run(word)]
    dry_run = len(args) < len(words) - 1
    if verb == "help":
        topic = args[0].lower() if args else ""
        return Command("help", fields={"verb": topic if topic in VERBS else ""})
    if dry_run and verb in OPEN_VERBS:
        raise Usage(verb, f"{DRY_RUN} applies to changes only")
    if verb == "hygiene" and not args:
        return Command("hygiene")  # everyone's findings
    if dry_run and verb in SELF_VERBS:
        raise Usage(verb, f"{DRY_RUN} applies to changes of a user named in the command only")
    if verb in CAMPAIGN_VERBS:
        if dry_run:
            raise Usage(verb, f"{DRY_RUN} applies to changes of a user named in the command only")
        return Command(verb, "", _PARSERS[verb](verb, args))
    if verb in SELF_VERBS:  # for the member's own user, which the edge looks up
        return Command(verb, "", _PARSERS[verb](verb, args))
    if not args:
        raise Usage(verb, "name the user")
    username, rest = args[0], args[1:]
    _check_username(verb, username)
    fields = _PARSERS[verb](verb, rest)
    return Command(verb, username, {**fields, "dry_run": True} if dry_run else fields)


def _is_dry_run(word: str) -> bool:
    # Slack clients with smart punctuation turn "--" into an en or em dash.
    return word.lower().replace("\u2014", "--").replace("\u2013", "--") == DRY_RUN


def _as_verb(word: str) -> str | None:
    # ASCII first: lower() turns some other letters into ASCII ones (the Kelvin sign into k).
    return word.lower() if word.isascii() and word.lower() in VERBS else None


def _linked_verb(text: str) -> str | None:
    """The verb Slack's markup at the start of ``text`` shows or points to (a link, mention,
    channel or user group). It is never taken as the verb: what the member sees may not be what
    the markup holds, and the only verb authorized is the one typed."""
    linked = _MARKUP.match(text.lstrip())
    for part in linked.groups() if linked else ():
        shown = (part or "").removeprefix("mailto:").lstrip("@#!").split()
        if shown and _as_verb(shown[0]):
            return _as_verb(shown[0])
    return None


def _unlink(word: str) -> str:
    """An address Slack linked, as typed. A link whose label shows another address than it holds
    was written by hand: it stays as it is (and is refused as an email) rather than taking an
    address the member did not see."""
    linked = _MAILTO.fullmatch(word)
    if linked and linked.group(2) in (None, linked.group(1)):
        return linked.group(1)
    return word


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
    mentions = [word for word in rest if _MENTION.fullmatch(word)]
    if len(mentions) > 1:
        raise Usage(verb, "mention at most one Slack member: the person this user is")
    if mentions:
        rest = [word for word in rest if word not in mentions]
        fields["slack_user"] = _MENTION.fullmatch(mentions[0]).group(1)  # type: ignore[union-attr]
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
        if len(rest) < 2 or not _DATE.fullmatch(rest[1]):
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
    # ASCII digits: isdigit() is also true of "²" (which int() refuses) and of other scripts'.
    if not (hours.isascii() and hours.isdigit()):
        raise Usage(verb, f"hours must be a whole number written with 0-9, not {hours!r}")
    # More digits than int() reads (4300) are as out of range as 721: the model says its limit.
    digits = hours.lstrip("0") or "0"
    number = int(digits) if len(digits) <= 9 else 10**9
    return {"group": group, "hours": number, "reason": " ".join(reason)}


def _request(verb: str, rest: list[str]) -> dict:
    flags = [word for word in rest if word.lower().replace("\u2014", "--") == BREAK_GLASS]
    rest = [word for word in rest if word not in flags]
    if len(rest) < 3:
        raise Usage(verb, "name the group, the number of hours and a reason")
    fields = _grant(verb, rest)
    return {**fields, "break_glass": True} if flags else fields


def _group(verb: str, rest: list[str]) -> dict:
    if len(rest) != 1:
        raise Usage(verb, "name the group")
    return {"group": rest[0]}


def _review(verb: str, rest: list[str]) -> dict:
    """``start [group...] due YYYY-MM-DD``."""
    if not rest or rest[0].lower() != "start":
        raise Usage(verb, "start a review: `review start [group...] due YYYY-MM-DD`")
    words = rest[1:]
    lowered = [w.lower() for w in words]
    if "due" not in lowered:
        raise Usage(verb, "give the due date: `due YYYY-MM-DD`")
    at = lowered.index("due")
    groups, after = words[:at], words[at + 1 :]
    if len(after) != 1 or not _DATE.fullmatch(after[0]):
        raise Usage(verb, "`due` takes one date as YYYY-MM-DD, last in the command")
    return {**({"groups": groups} if groups else {}), "due": after[0]}


_PARSERS = {
    "status": _nothing,
    "hygiene": _nothing,
    "onboard": _onboard,
    "move": _move,
    "suspend": _suspend,
    "restore": _nothing,
    "offboard": _nothing,
    "grant": _grant,
    "request": _request,
    "requests": _nothing,
    "done": _group,
    "review": _review,
}


def request_for(command: Command, ticket: str, requested_by: str) -> Change:
    """The request model the REST API would take for this command, validated the same way."""
    from chalicelib.kernel.commands import parse

    data = {**command.fields, "ticket": ticket, "requested_by": requested_by}
    if command.verb in ("onboard", "request"):
        data["username"] = command.username
    try:
        return parse(SLACK_ACTIONS[command.verb].request_model(), json.dumps(data))
    except BadRequest as error:
        raise Usage(command.verb, error.message.removeprefix("invalid request: ")) from None
