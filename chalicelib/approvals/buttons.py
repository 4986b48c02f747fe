"""The Approve and Deny buttons of a request's channel message (a click is a decision, queued),
and the Extend button of the notice that a grant ends soon (a click is an extension, queued)."""

from __future__ import annotations

from typing import Any

from chalicelib.approvals.messages import APPROVE_ACTION, DENY_ACTION
from chalicelib.edges.slack import listeners
from chalicelib.kernel.direct_messages import EXTEND_ACTION


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


def extension(click: listeners.Click) -> dict[str, Any]:
    return {
        "kind": "extend",
        "group": str(click.action.get("value", "")),
        "slack_user": click.slack_user,
        "response_url": click.response_url,
        "ticket": click.ticket,
    }


listeners.register((EXTEND_ACTION,), extension)
