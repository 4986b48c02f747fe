"""What a person is told directly, in Slack, when their user is linked to a Slack member
(``slack_user``): the welcome after an onboarding, credential hygiene's notices and reminders,
and the notice that a grant ends soon (with an Extend button where its policy allows). Each is queued as work and sent by the queue worker (chalicelib/people/slack.py),
so a slow or rate-limited Slack never holds a change or a hygiene run; each is sent once for its
``once`` name (the onboarding's ticket, the notice's ticket and step), however often it is queued
or delivered.

Nothing secret is queued: the welcome's steps name the answer's field holding a secret, never
the secret itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.kernel.errors import AppError
from chalicelib.kernel.telemetry import logger

if TYPE_CHECKING:
    from chalicelib.kernel.ports import Queue

WELCOME_KIND = "welcome_message"
HYGIENE_KIND = "hygiene_message"
EXPIRY_KIND = "expiry_message"
KINDS = (WELCOME_KIND, HYGIENE_KIND, EXPIRY_KIND)
# The Extend button of an expiry notice (its value: the group); the approvals listen to it.
EXTEND_ACTION = "grant_extend"
SLACK_DM, EMAIL = "slack_dm", "email"  # the channels a person's notice goes by

_SECRETS = ("temporary_password", "access_key")


def welcome(
    *, ticket: str, username: str, slack_user: str, requested_by: str, steps: list[dict]
) -> dict[str, Any]:
    """The queue message of an onboarding's welcome, for the member it names."""
    # The steps hold no secret by design (a step names the answer's field); should one ever
    # carry a secret's field itself, it is left out.
    steps = [{k: v for k, v in step.items() if k not in _SECRETS} for step in steps]
    return {
        "kind": WELCOME_KIND,
        "once": f"welcome:{ticket}",
        "ticket": ticket,
        "username": username,
        "slack_user": slack_user,
        "requested_by": requested_by,
        "welcome": steps,
    }


def hygiene_notice(
    *, ticket: str, what: str, username: str, slack_user: str, notice: dict
) -> dict[str, Any]:
    """The queue message of a hygiene notice (``what``: noticed, reminded) for ``slack_user``."""
    return {
        "kind": HYGIENE_KIND,
        "once": f"{ticket}:{what}",
        "ticket": ticket,
        "what": what,
        "username": username,
        "slack_user": slack_user,
        "notice": notice,
    }


def expiry_notice(*, username: str, slack_user: str, notice: dict) -> dict[str, Any]:
    """The queue message of the notice that a grant ends soon (``notice``: its group,
    ``expires_at``, ``extensions_left``, ``hours``, ``approval``), sent once per expiry: an
    extension moves the expiry, and the next notice is of the new one."""
    once = f"expiry:{notice['group']}:{notice['expires_at']}"
    return {
        "kind": EXPIRY_KIND,
        "once": once,
        "ticket": f"schedule:{once}",
        "username": username,
        "slack_user": slack_user,
        "notice": notice,
    }


def queue(work_queue: Queue | None, message: dict) -> str | None:
    """Queue ``message``; None when it is queued, else why not (the caller records it)."""
    if work_queue is None:
        return "no work queue"
    try:
        work_queue.send(message)
    except AppError as error:
        logger().warning(
            f"could not queue the {message['kind']} to {message['slack_user']}",
            extra={"reason": error.message},
        )
        return error.message
    return None
