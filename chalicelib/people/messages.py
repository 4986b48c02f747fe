"""What a person is told directly, in Slack, when their user is linked to a Slack member
(``slack_user``): the welcome after an onboarding, and credential hygiene's notices and
reminders. Each is queued as work and sent by the queue worker (chalicelib/people/slack.py),
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
    from chalicelib.aws.queue import WorkQueue

WELCOME_KIND = "welcome_message"
HYGIENE_KIND = "hygiene_message"
KINDS = (WELCOME_KIND, HYGIENE_KIND)
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


def queue(work_queue: WorkQueue | None, message: dict) -> str | None:
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
