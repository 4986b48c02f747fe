"""The access reviews' verb of the slash command, for operators:
``review start [group...] due YYYY-MM-DD``."""

from __future__ import annotations

from chalicelib.edges.slack.grammar import DATE, Usage
from chalicelib.edges.slack.listeners import NONE, Verb, verbs


def _review(verb: str, rest: list[str]) -> dict:
    if not rest or rest[0].lower() != "start":
        raise Usage(verb, "start a review: `review start [group...] due YYYY-MM-DD`")
    words = rest[1:]
    lowered = [w.lower() for w in words]
    if "due" not in lowered:
        raise Usage(verb, "give the due date: `due YYYY-MM-DD`")
    at = lowered.index("due")
    groups, after = words[:at], words[at + 1 :]
    if len(after) != 1 or not DATE.fullmatch(after[0]):
        raise Usage(verb, "`due` takes one date as YYYY-MM-DD, last in the command")
    return {**({"groups": groups} if groups else {}), "due": after[0]}


DECLARED = verbs(
    Verb("review", _review, user=NONE, kind="review_start", doing="Starting an access review")
)
