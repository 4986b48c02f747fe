"""The grammar of the slash command, turned into the same request models the REST API takes.

The verbs are the capabilities' (each declares its own in its ``verbs.py``, registered in
chalicelib/edges/slack/listeners.py); this module reads any of them the same way:
``<verb> [<user>] <words...> [--dry-run]``, and gives the word parsers verbs share (hours,
dates, mentions). ``help`` is the edge's own. Any change of a user named in the command also
takes ``--dry-run``: the answer is its plan, and nothing changes. A ``SELF`` verb acts for the
member's own linked user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.edges.slack import listeners
from chalicelib.edges.slack.listeners import ANYONE, NONE, OPTIONAL, SELF, Verb, verbs
from chalicelib.kernel.catalogue import SLACK_ACTIONS
from chalicelib.kernel.errors import BadRequest
from chalicelib.kernel.identity import check_username

if TYPE_CHECKING:
    from chalicelib.kernel.commands import Change

# name -> (arguments, what it does), in the help's order; filled as capabilities register.
VERBS = listeners.WORDS


class _Verbs:
    """The names of the registered verbs that ``test`` holds for, read when asked (capabilities
    register theirs after this module is imported)."""

    def __init__(self, test: Callable[[Verb], bool]) -> None:
        self.test = test

    def __contains__(self, name: object) -> bool:
        verb = listeners.VERBS.get(name) if isinstance(name, str) else None
        return verb is not None and self.test(verb)

    def __iter__(self) -> Iterator[str]:
        return (name for name, verb in listeners.VERBS.items() if self.test(verb))


# For the member's own linked user, who may use them whoever they are.
SELF_VERBS = _Verbs(lambda verb: verb.who == SELF)
# A mention Slack sends for @someone: <@U123> or <@U123|name>.
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
# Added to any change: answer with the plan (every AWS call, by wave and account), change nothing.
DRY_RUN = "--dry-run"
# A SELF verb's field naming another member (``--for @member``): the edge acts for the user
# linked to that member, and gives the request model their name as ``for``.
FOR_MEMBER = "for_member"


# ASCII digits only: \d would take any script's digits, which the date parser then refuses.
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
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
        return not listeners.VERBS[self.verb].query


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
    declared = listeners.VERBS[verb]
    if dry_run and declared.who == ANYONE:
        raise Usage(verb, f"{DRY_RUN} applies to changes only")
    if declared.user == OPTIONAL and not args:
        return Command(verb)  # about everyone
    if declared.user == NONE:  # the member's own user (looked up by the edge), or no one user
        if dry_run:
            raise Usage(verb, f"{DRY_RUN} applies to changes of a user named in the command only")
        return Command(verb, "", declared.parse(verb, args))
    if not args:
        raise Usage(verb, "name the user")
    username, rest = args[0], args[1:]
    _check_username(verb, username)
    fields = declared.parse(verb, rest)
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


def nothing(verb: str, rest: list[str]) -> dict:
    """The fields of a verb that takes no more words."""
    if rest:
        raise Usage(verb, f"unexpected {' '.join(rest)!r}")
    return {}


def whole_hours(verb: str, hours: str) -> int:
    """A number of hours as typed: ASCII digits only, and a number too long to read is as out of
    range as one just past the limit (the request model says its limit)."""
    # isdigit() is also true of "²" (which int() refuses) and of other scripts' digits.
    if not (hours.isascii() and hours.isdigit()):
        raise Usage(verb, f"hours must be a whole number written with 0-9, not {hours!r}")
    digits = hours.lstrip("0") or "0"
    return int(digits) if len(digits) <= 9 else 10**9


def group_hours_reason(verb: str, rest: list[str]) -> dict:
    """``<group> <hours> <reason...>``: a grant's, and a request's."""
    if len(rest) < 3:
        raise Usage(verb, "name the group, the number of hours and a reason")
    group, hours, reason = rest[0], rest[1], rest[2:]
    return {"group": group, "hours": whole_hours(verb, hours), "reason": " ".join(reason)}


def one_group(verb: str, rest: list[str]) -> dict:
    if len(rest) != 1:
        raise Usage(verb, "name the group")
    return {"group": rest[0]}


def _help(verb: str, rest: list[str]) -> dict:  # read by parse_command itself
    return {}


DECLARED = verbs(
    Verb(
        "help",
        _help,
        words=("[verb]", "this help, or the help of one verb"),
        who=ANYONE,
        user=NONE,
        query=True,
    )
)


def request_for(command: Command, ticket: str, requested_by: str) -> Change:
    """The request model the REST API would take for this command, validated the same way."""
    from chalicelib.kernel.commands import parse

    model = SLACK_ACTIONS[command.verb].request_model()
    data = {**command.fields, "ticket": ticket, "requested_by": requested_by}
    if "username" in model.model_fields:  # named in the body, not the path (onboard, request)
        data["username"] = command.username
    try:
        return parse(model, json.dumps(data))
    except BadRequest as error:
        raise Usage(command.verb, error.message.removeprefix("invalid request: ")) from None
