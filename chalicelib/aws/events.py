"""Every completed operation is published on EventBridge, so other systems can react."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.errors import UpstreamError

# action -> detail-type
DETAIL_TYPES = {
    "onboard": "user.onboarded",
    "move": "user.moved",
    "suspend": "user.suspended",
    "restore": "user.restored",
    "offboard": "user.offboarded",
    "grant": "user.granted",
    "expire_grant": "grant.expired",
    "revoke_sessions": "user.sessions_revoked",
}


class Events:
    def __init__(self, client: Any, bus: str, source: str) -> None:
        self.client = client
        self.bus = bus
        self.source = source

    def publish(self, action: str, detail: dict) -> None:
        entry = {
            "Source": self.source,
            "DetailType": DETAIL_TYPES.get(action, f"user.{action}"),
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self.bus,
        }
        with aws_errors(f"publishing {entry['DetailType']}"):
            answer = self.client.put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            reason = answer["Entries"][0].get("ErrorCode", "unknown")
            raise UpstreamError(f"EventBridge refused {entry['DetailType']} ({reason}); retry")
