"""Every completed operation is published on EventBridge, so other systems can react."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import UpstreamError


class Events:
    def __init__(self, client: Any, bus: str, source: str) -> None:
        self.client = client
        self.bus = bus
        self.source = source

    def publish(self, action: str, detail: dict) -> None:
        entry = {
            "Source": self.source,
            "DetailType": ACTIONS[action].event,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self.bus,
        }
        with aws_errors(f"publishing {entry['DetailType']}"):
            answer = self.client.put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            reason = answer["Entries"][0].get("ErrorCode", "unknown")
            raise UpstreamError(f"EventBridge refused {entry['DetailType']} ({reason}); retry")
