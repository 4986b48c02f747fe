"""What a person is told once onboarded: the welcome, queued for the Slack member an onboarding
names. The runner calls :meth:`Welcome.after` once a change has committed (the composition root
wires it), so neither a replay (which commits nothing) nor a resumed onboarding of the same
ticket tells the person twice: the queue worker sends it once for the ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.people import messages

if TYPE_CHECKING:
    from chalicelib.aws.queue import WorkQueue


class Welcome:
    def __init__(self, work_queue: WorkQueue | None) -> None:
        self.work_queue = work_queue

    def after(
        self, action: str, username: str, request: Any, answer: dict
    ) -> tuple[str, dict] | None:
        """Queue the welcome (its steps, no secret) of an onboarding that names a member; what
        could not be queued comes back as (audit result, detail) for the runner to record."""
        member = getattr(request, "slack_user", None)
        if action != "onboard" or not member or not answer.get("welcome"):
            return None
        message = messages.welcome(
            ticket=request.ticket,
            username=answer.get("user", {}).get("username") or username,
            slack_user=member,
            requested_by=request.requested_by,
            steps=answer["welcome"],
        )
        why = messages.queue(self.work_queue, message)
        if why is None:
            return None
        return (
            f"welcome message undelivered: could not queue it ({why})",
            {"to": {"slack_user": member}},
        )
