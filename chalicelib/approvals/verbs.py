"""The approvals' verbs of the slash command, each for the member's own linked user:

request <group> <hours> <reason...> [--break-glass] · requests · done <group>
"""

from __future__ import annotations

from chalicelib.edges.slack.grammar import Usage, group_hours_reason, nothing, one_group
from chalicelib.edges.slack.listeners import NONE, SELF, Verb, verbs

BREAK_GLASS = "--break-glass"


def _request(verb: str, rest: list[str]) -> dict:
    flags = [word for word in rest if word.lower().replace("\u2014", "--") == BREAK_GLASS]
    rest = [word for word in rest if word not in flags]
    if len(rest) < 3:
        raise Usage(verb, "name the group, the number of hours and a reason")
    fields = group_hours_reason(verb, rest)
    return {**fields, "break_glass": True} if flags else fields


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
)
