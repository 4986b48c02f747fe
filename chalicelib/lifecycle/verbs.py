"""The lifecycle's verbs of the slash command: ``status`` and the changes of a named user.

status <user> · onboard <user> <group>... [@member] [email] · move <user> <group>...
suspend <user> [until YYYY-MM-DD] [reason...] · restore <user> · offboard <user>
grant <user> <group> <hours> <reason...>
"""

from __future__ import annotations

from chalicelib.edges.slack.grammar import (
    DATE,
    MENTION,
    Usage,
    group_hours_reason,
    nothing,
)
from chalicelib.edges.slack.listeners import ANYONE, Verb, verbs


def _onboard(verb: str, rest: list[str]) -> dict:
    fields: dict = {}
    mentions = [word for word in rest if MENTION.fullmatch(word)]
    if len(mentions) > 1:
        raise Usage(verb, "mention at most one Slack member: the person this user is")
    if mentions:
        rest = [word for word in rest if word not in mentions]
        fields["slack_user"] = MENTION.fullmatch(mentions[0]).group(1)  # type: ignore[union-attr]
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
        if len(rest) < 2 or not DATE.fullmatch(rest[1]):
            raise Usage(verb, "`until` takes a date as YYYY-MM-DD")
        fields["until"] = rest[1]
        rest = rest[2:]
    if rest:
        fields["reason"] = " ".join(rest)
    return fields


DECLARED = verbs(
    Verb(
        "status",
        nothing,
        words=("<user>", "a user's status, groups, roles and keys (only you see it)"),
        who=ANYONE,
        query=True,
        kind="status",
    ),
    Verb("onboard", _onboard),
    Verb("move", _move),
    Verb("suspend", _suspend),
    Verb("restore", nothing),
    Verb("offboard", nothing, confirm=True),
    Verb("grant", group_hours_reason),
)
