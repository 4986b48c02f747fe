"""The approvals' verbs of the slash command, each for the member's own linked user:

request <group> <hours> <reason...> [--break-glass] [--for @member] · requests · done <group>
extend <group> [hours]

``--for @member`` asks for the user linked to that member instead (the edge looks them up); only
the group's named requesters may (the service decides).
"""

from __future__ import annotations

from chalicelib.edges.slack.grammar import (
    FOR_MEMBER,
    MENTION,
    Usage,
    group_hours_reason,
    nothing,
    one_group,
    whole_hours,
)
from chalicelib.edges.slack.listeners import NONE, SELF, Verb, verbs

BREAK_GLASS = "--break-glass"


FOR = "--for"


def _flag(word: str) -> str:
    # Slack clients with smart punctuation turn "--" into an en or em dash.
    return word.lower().replace("\u2014", "--").replace("\u2013", "--")


def _request(verb: str, rest: list[str]) -> dict:
    rest, member = _for(verb, rest)
    flags = [word for word in rest if _flag(word) == BREAK_GLASS]
    rest = [word for word in rest if word not in flags]
    if len(rest) < 3:
        raise Usage(verb, "name the group, the number of hours and a reason")
    fields = group_hours_reason(verb, rest)
    if member:
        fields[FOR_MEMBER] = member
    return {**fields, "break_glass": True} if flags else fields


def _extend(verb: str, rest: list[str]) -> dict:
    """``<group> [hours]``: without hours, as many as the group's policy allows at a time."""
    if len(rest) not in (1, 2):
        raise Usage(verb, "name the group, and the hours if fewer than its policy allows")
    fields = {"group": rest[0]}
    return {**fields, "hours": whole_hours(verb, rest[1])} if len(rest) == 2 else fields


def _for(verb: str, rest: list[str]) -> tuple[list[str], str]:
    """The words without ``--for @member``, and that member (empty when not asked for)."""
    at = [n for n, word in enumerate(rest) if _flag(word) == FOR]
    if not at:
        return rest, ""
    found = MENTION.fullmatch(rest[at[0] + 1]) if at[0] + 1 < len(rest) else None
    if len(at) > 1 or found is None:
        raise Usage(verb, f"{FOR} takes one member, as a mention: `{FOR} @someone`")
    return rest[: at[0]] + rest[at[0] + 2 :], found.group(1)


DECLARED = verbs(
    Verb("request", _request, who=SELF, user=NONE, kind="self", sends="request"),
    Verb(
        "requests",
        nothing,
        words=("", "the pending requests you may decide, and your own"),
        who=SELF,
        user=NONE,
        query=True,
        kind="self",
    ),
    Verb("done", one_group, who=SELF, user=NONE, kind="self"),
    Verb("extend", _extend, who=SELF, user=NONE, kind="self"),
)
