"""The on-call check of a new request: PagerDuty asked who is on call where the group's policy
says (``OnCallDirectory``, cached a minute by its adapter), the person's e-mail read from their
user only when someone is, and the pure rules of ``on_call.py`` applied. A failure of either
read is an outcome with a note, never an approval and never an error: the request then goes
to the approvers as any other."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.approvals import on_call as on_call
from chalicelib.approvals.on_call import OnCall, Outcome
from chalicelib.kernel.errors import AppError
from chalicelib.kernel.ports import OnCallDirectory
from chalicelib.kernel.telemetry import count, logger


class OnCallCheck:
    def __init__(
        self,
        directory: Callable[[], OnCallDirectory],
        email_of: Callable[[str], str | None],
    ) -> None:
        self._directory = directory
        self._email_of = email_of  # the e-mail kept on a managed user (its tag), if any

    def assess(self, rule: OnCall, username: str) -> Outcome:
        try:
            entries = self._directory().on_call(
                schedule=rule.schedule, escalation_policy=rule.escalation_policy
            )
        except AppError as error:
            logger().warning(
                "PagerDuty could not be asked who is on call", extra={"reason": error.message}
            )
            count("on_call", "unavailable")
            return on_call.unavailable(error.message)
        except Exception:  # whatever went wrong, the approvers decide
            logger().exception("the on-call check failed")
            count("on_call", "unavailable")
            return on_call.unavailable("the check failed")
        if not entries:
            return Outcome()
        try:
            email = self._email_of(username)
        except AppError as error:
            logger().warning("could not read the user's e-mail", extra={"reason": error.message})
            return on_call.unavailable(f"the e-mail of {username} could not be read")
        return on_call.assess(rule, username, email, entries)
