"""The Slack buttons capabilities listen to: each registers the ``action_id``s of the buttons its
messages carry, with what a click queues (the worker decides who may). The edge answers a click
by this registry and knows no capability; the composition root imports the registrations
(``chalicelib/capabilities.py``, ``slack_listeners``) before the interaction is handled."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Click:
    """A button clicked, as Slack signed it."""

    action: dict  # the block action: action_id, value, action_ts
    slack_user: str  # the member Slack signed for
    response_url: str  # where the answer goes (already checked against the stage's hosts)
    trigger: str  # Slack's trigger id (or the action's timestamp): the click's ticket

    @property
    def ticket(self) -> str | None:
        return f"slack:{self.trigger}" if self.trigger else None


# action_id -> the queued work of a click
BUTTONS: dict[str, Callable[[Click], dict[str, Any]]] = {}


def register(action_ids: Iterable[str], work: Callable[[Click], dict[str, Any]]) -> None:
    """``work(click)`` is the queue message a click of any of ``action_ids`` becomes."""
    for action_id in action_ids:
        if BUTTONS.get(action_id, work) is not work:
            raise ValueError(f"the Slack button {action_id} is listened to twice")
        BUTTONS[action_id] = work
