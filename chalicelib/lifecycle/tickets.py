"""Access that ends with its ticket: when the ticketing system says a ticket closed
(``POST /tickets/{ticket}/closed``), every grant made under it ends now, as an expiry ends one,
and a request asked under it that still waits is cancelled (by the approvals, wired in
``bootstrap.py``) before any grant is ended, so no approval grants it afterwards.

Each person's grants end in a change of their own (``close_ticket``, through the runner, under
a ticket ``closed:<digest>`` made from the ticket, the person and the grants it ends, so a retry
finishes what a failure left, and a grant made under the ticket later is ended by a change of
its own), and each is audited under the closed ticket too. What a closure ended is read
back from those audit events: a second call ends nothing more and answers what was ended.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, UpstreamError
from chalicelib.kernel.identity import key
from chalicelib.kernel.ports import StateStore
from chalicelib.kernel.runner import Operations

ACTION = "close_ticket"
PREFIX = "closed:"  # the tickets of its changes, which no caller may use
# What an ended grant says of its person's sessions, from their change's answer.
_REVOCATION = ("sessions_revoked_in", "sessions_revocation_pending")


class TicketClosure:
    def __init__(
        self,
        state: StateStore,
        operations: Operations,
        made_under: Callable[[str], set[str]] = lambda _ticket: set(),
        cancel_asked_under: Callable[[str, str], list[str]] = lambda _ticket, _by: [],
    ) -> None:
        self.state = state
        self.operations = operations
        # The tickets of grants made under a ticket besides its own: the ids of the requests
        # asked under it (an approved request's grant carries its id as ticket).
        self.made_under = made_under
        # What waits under the ticket (a pending request asked under it), cancelled first, so
        # no approval grants it after the closing: the ids cancelled.
        self.cancel_asked_under = cancel_asked_under

    def close(self, ticket: str, requested_by: str) -> dict:
        """Cancel what waits under ``ticket`` and end every grant made under it: ``{"ticket",
        "ended": [{"username", "group", "sessions_revoked_in", "sessions_revocation_pending"?}],
        "cancelled"?: [request ids]}``, those ended or cancelled before included."""
        made = sorted({ticket} | self.made_under(ticket))
        failed: dict[str, str] = {}
        try:
            cancelled = self.cancel_asked_under(ticket, requested_by)
        except AppError as error:
            cancelled, failed["(pending request)"] = [], error.message
        ended = self._ended_before(ticket)
        now: list[dict] = []
        for record in self.state.records():
            if not any(g.get("ticket") in made for g in record.get("grants", [])):
                continue
            name = record["username"]
            grants = [g for g in record["grants"] if g.get("ticket") in made]
            try:
                answer = self._end(name, ticket, made, grants, requested_by)
            except AppError as error:
                failed[name] = error.message
                continue
            now += _entries(answer)
        ended = sorted(ended + now, key=lambda e: (e["username"], e["group"]))
        if failed:
            why = "; ".join(f"{name}: {message}" for name, message in sorted(failed.items()))
            raise UpstreamError(
                f"the grants of ticket {ticket} were not all ended ({why}); what ended stays "
                "ended: retry the call",
                detail={"ended": ended, "not_ended": failed, "cancelled": cancelled},
            )
        return {"ticket": ticket, "ended": ended, **({"cancelled": cancelled} if cancelled else {})}

    def _end(
        self, name: str, ticket: str, made: list[str], grants: list[dict], requested_by: str
    ) -> dict:
        these = [ticket, key(name)] + sorted(f"{g['group']}@{g.get('granted_at')}" for g in grants)
        digest = hashlib.sha256("\n".join(these).encode()).hexdigest()[:32]
        request = ACTIONS[ACTION].request_model()(
            ticket=f"{PREFIX}{digest}",
            requested_by=requested_by,
            closed=ticket,
            grants=made,
        )
        answer = self.operations.change(ACTION, name, request)
        if answer.get("ended"):  # under the ticket that closed: its story ends with it
            result = "revocation_pending" if answer.get("sessions_revocation_pending") else "ok"
            self.state.audit(
                ACTION,
                answer["username"],
                ticket,
                requested_by,
                result,
                {"ended": _entries(answer), "by": request.ticket},
            )
        return answer

    def _ended_before(self, ticket: str) -> list[dict]:
        events = self.state.audit_events(ticket=ticket)
        return [
            entry
            for event in events
            if event["action"] == ACTION
            for entry in (event.get("detail") or {}).get("ended", [])
        ]


def _entries(answer: dict[str, Any]) -> list[dict]:
    """One entry per group that ended: with the sessions revoked, or, where another grant of
    the group still covers now, until when it is held."""
    revocation = {k: answer[k] for k in _REVOCATION if k in answer}
    held = answer.get("held_until") or {}
    entries = []
    for group in sorted({g["group"] for g in answer.get("ended", [])}):
        entry = {"username": answer["username"], "group": group}
        entries.append(
            {**entry, "held_until": held[group]} if group in held else {**entry, **revocation}
        )
    return entries
