"""The append-only audit trail."""

from __future__ import annotations

import uuid

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.state.table import AUDIT_PAGE, Table, _user, now_iso
from chalicelib.kernel import caller


class AuditTrail(Table):
    def audit(
        self,
        action: str,
        username: str,
        ticket: str,
        requested_by: str,
        result: str,
        detail: dict | None = None,
    ) -> dict:
        at = now_iso()
        event = {
            "at": at,
            "action": action,
            "username": username,
            "ticket": ticket,
            "requested_by": requested_by,
            "result": result,
        }
        # The authenticated client beside the requester it claims (absent outside every edge).
        client = caller.current()
        if client:
            event["client"] = client
        values = {
            **event,
            "pk": _user(username),
            "sk": f"AUDIT#{at}#{uuid.uuid4().hex[:8]}",
            "entity": "audit",
            "detail": detail or None,
        }
        with aws_errors(f"writing the audit trail of {username}"):
            self.client.put_item(TableName=self.table, Item=self._item(values))
        return event

    def audit_events(self, username: str | None = None, ticket: str | None = None) -> list[dict]:
        """Events, oldest first: of one user, of one ticket, or (neither) the latest overall."""
        if username:
            items = self._query(
                "pk = :pk AND begins_with(sk, :audit)", {":pk": _user(username), ":audit": "AUDIT#"}
            )
        elif ticket:
            items = self._query_index("by-ticket", "ticket", ticket)
        else:
            items = self._query_index("by-entity", "entity", "audit", newest=AUDIT_PAGE)
        events = [self._plain(item) for item in items if item.get("entity", {}).get("S") == "audit"]
        if ticket:
            events = [event for event in events if event.get("ticket") == ticket]
        fields = (
            "at",
            "action",
            "username",
            "ticket",
            "requested_by",
            "client",
            "result",
            "detail",
        )
        return sorted(({k: e[k] for k in fields if k in e} for e in events), key=lambda e: e["at"])
