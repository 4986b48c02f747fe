"""Extensions of one's own time-bound access (``/access extend <group> [hours]``, or the Extend
button of the notice sent before a grant ends), as the group's approval policy allows
(:mod:`chalicelib.approvals.extensions`): the policy is read here. Where it says ``approval``,
the extension is a request its approvers decide (``ApprovalService.ask``); else the grant is
made longer at once by the lifecycle's ``extend`` change, through the runner (the person's
lease, once per ticket, audited as ``extend``), which checks the cap again under the lease.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.approvals import extensions as rules
from chalicelib.approvals import settings as approval_settings
from chalicelib.kernel import direct_messages
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, Forbidden
from chalicelib.kernel.ports import Queue, StateStore
from chalicelib.kernel.runner import Operations
from chalicelib.kernel.telemetry import count, logger
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.approvals.commands import AccessRequest

ACTION = "extend"


def _no_approvals(body: AccessRequest, member: str) -> dict:
    raise Forbidden(f"an extension of {body.group} needs its approvers, and none can be asked")


class Extending:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        operations: Operations,
        work_queue: Queue,
        clock: Callable[[], datetime],
        ask: Callable[[AccessRequest, str], dict] | None = None,
    ) -> None:
        self.settings = settings
        # A request to the approvers, for the Slack member asking (``ApprovalService.ask``).
        self.ask = ask or _no_approvals
        self.state = state
        self.operations = operations
        self.work_queue = work_queue
        self.clock = clock

    def policies(self) -> dict[str, rules.Extensions]:
        """The groups whose grants may be extended, and how."""
        return {
            group: policy.extensions
            for group, policy in approval_settings.policies(self.settings).items()
            if policy.extensions is not None
        }

    def extend(
        self, username: str, group: str, hours: int | None, member: str, ticket: str
    ) -> dict:
        """Make ``username``'s current grant of ``group`` longer, for the Slack ``member``
        linked to them; refused (and audited) where the policy allows no extension."""
        by = f"slack:{member}"
        try:
            extensions = self.policies().get(group)
            if extensions is None:
                raise Forbidden(
                    f"{group} cannot be extended: its approval policy allows no extensions; "
                    "ask for it again with `/access request`"
                )
            added = rules.hours_of(hours, extensions, group)
        except AppError as error:
            self._refused(username, ticket, by, error)
            raise
        if extensions.approval:  # never longer without its approvers: a request they decide
            return {"request": self._ask(username, group, added, member, ticket)}
        request = ACTIONS[ACTION].request_model()(
            group=group, hours=added, most=extensions.count, ticket=ticket, requested_by=by
        )
        return self.operations.change(ACTION, username, request)

    def _ask(self, username: str, group: str, hours: int, member: str, ticket: str) -> dict:
        """The extension as a request to the group's approvers (``ApprovalService.ask``, which
        checks the cap and refuses, audited, before anything is posted)."""
        from chalicelib.approvals.commands import AccessRequest

        grant = rules.current(
            (self.state.get_record(username) or {}).get("grants", []), group, self.clock()
        )
        why = (grant or {}).get("reason") or "more time"
        body = AccessRequest(
            username=username,
            group=group,
            hours=hours,
            reason=f"extension: {why}"[:500],
            ticket=ticket,
            requested_by=f"slack:{member}",
            extend=True,
        )
        return self.ask(body, member)

    def notices(self, records: list[dict]) -> list[dict]:
        """Queue the notice of each grant ending within its policy's notice (each is sent once
        by the queue worker, however often it is queued); what was queued."""
        queued = []
        for notice in rules.notices_due(records, self.policies(), self.clock()):
            fields = ("group", "expires_at", "extensions_left", "hours", "approval")
            message = direct_messages.expiry_notice(
                username=notice["username"],
                slack_user=notice["slack_user"],
                notice={k: notice[k] for k in fields},
            )
            why = direct_messages.queue(self.work_queue, message)
            if why is None:
                queued.append({k: notice[k] for k in ("username", "group", "expires_at")})
        return queued

    def _refused(self, username: str, ticket: str, by: str, error: AppError) -> None:
        outcome = "rejected" if error.status < 500 else "failed"
        try:
            self.state.audit(ACTION, username, ticket, by, f"{outcome}: {error.message}")
        except AppError:
            logger().exception("could not write the audit event of a refusal")
        count(ACTION, outcome)
