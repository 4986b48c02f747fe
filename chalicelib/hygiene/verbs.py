"""The hygiene capability's verb of the slash command: ``hygiene [user]``, open to everyone."""

from __future__ import annotations

from chalicelib.edges.slack.grammar import nothing
from chalicelib.edges.slack.listeners import ANYONE, OPTIONAL, Verb, verbs

DECLARED = verbs(
    Verb(
        "hygiene",
        nothing,
        words=(
            "[user]",
            "credential hygiene findings: what is due and when, for everyone or one user "
            "(only you see it)",
        ),
        who=ANYONE,
        user=OPTIONAL,
        query=True,
        kind="hygiene",
    )
)
