"""The one mapping of the app's errors to Slack replies (chalicelib/edges/http.py is its
counterpart for HTTP): what the requester reads when what they asked for failed."""

from __future__ import annotations

from chalicelib.edges.slack.blocks import escape, message
from chalicelib.kernel.errors import AppError

_LEADS = {
    400: ":warning: Cannot do that",
    401: ":no_entry: Not allowed",
    403: ":no_entry: Refused",
    404: ":mag: Not found",
    409: ":warning: Conflict",
}


def for_error(error: AppError, doing: str, *, will_retry: bool = False, attempts: int = 0) -> dict:
    """What the requester reads when ``doing`` (e.g. "onboard pete") failed with ``error``.

    A rejection (4xx) is final. A failure (5xx) in the queue worker is retried (``will_retry``)
    until the message goes to the dead-letter queue after ``attempts``; one at acknowledgement
    time is simply reported.
    """
    what = f"`{escape(doing)}`"
    if error.status < 500:
        lead = _LEADS.get(error.status, ":warning: Cannot do that")
        return message(f"{lead}: {what}: {escape(error.message)}")
    if will_retry:
        return message(
            f":warning: {what} failed: {escape(error.message)}. It is retried "
            "automatically; the result follows here."
        )
    if attempts:
        return message(
            f":x: {what} failed {attempts} times: {escape(error.message)}. It was set "
            "aside for an operator (dead-letter queue); run the command again to "
            "start over."
        )
    if not error.retryable:  # the message says what an operator must fix first
        return message(f":x: {what} failed: {escape(error.message)}")
    return message(
        f":x: {what} failed: {escape(error.message)}. Nothing was queued; run the command again."
    )
