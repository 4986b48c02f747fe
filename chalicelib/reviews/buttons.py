"""Keep, Revoke and Keep all on a reviewer's message: a click is a decision, queued."""

from __future__ import annotations

from typing import Any

from chalicelib.edges.slack import listeners
from chalicelib.reviews.messages import ACTIONS, DECISION_OF, KEEP_ALL_ACTION


def decision(click: listeners.Click) -> dict[str, Any]:
    # value: <review>:<item>:<chunk>, or <review>:<chunk> for Keep all
    parts = str(click.action.get("value", "")).split(":")
    keep_all = click.action["action_id"] == KEEP_ALL_ACTION
    chunk = parts[-1] if len(parts) in (2, 3) else "0"
    return {
        "kind": "review_decision",
        "review": parts[0],
        "item": "" if keep_all or len(parts) < 3 else parts[1],
        "chunk": int(chunk) if chunk.lstrip("-").isdigit() else 0,
        "decision": DECISION_OF[click.action["action_id"]],
        "slack_user": click.slack_user,
        "response_url": click.response_url,
        "ticket": click.ticket,
    }


listeners.register(ACTIONS, decision)
