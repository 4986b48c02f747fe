"""The Approve and Deny buttons of a request's channel message: a click is a decision, queued."""

from __future__ import annotations

from typing import Any

from chalicelib.approvals.messages import APPROVE_ACTION, DENY_ACTION
from chalicelib.edges.slack import listeners


def decision(click: listeners.Click) -> dict[str, Any]:
    return {
        "kind": "decision",
        "id": str(click.action.get("value", "")),
        "decision": "approve" if click.action["action_id"] == APPROVE_ACTION else "deny",
        "slack_user": click.slack_user,
        "response_url": click.response_url,
        "ticket": click.ticket,
    }


listeners.register((APPROVE_ACTION, DENY_ACTION), decision)
