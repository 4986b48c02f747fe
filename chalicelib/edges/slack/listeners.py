"""What capabilities listen to in Slack: the verbs of the slash command and the buttons of their
messages. Each capability registers its own (its ``verbs.py`` and ``buttons.py``); the edge
parses, authorizes and queues by these registries and knows no capability. The composition root
imports the registrations (``chalicelib/capabilities.py``) before a command or a click is
handled. The registering modules stay light: no pydantic, no AWS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.kernel.catalogue import SLACK_ACTIONS

# Who may use a verb.
ANYONE = "anyone"  # every member of the workspace
SELF = "self"  # every member linked to a user, for that user (the command names no user)
OPERATORS = "operators"  # only the members the stage lists (SLACK_ALLOWED_USERS)
# Whether the command names a user (after the verb).
REQUIRED, OPTIONAL, NONE = "required", "optional", "none"


@dataclass(frozen=True)
class Verb:
    """A verb of the slash command: how its words become request fields, and who may use it."""

    name: str
    # (verb, the words after the verb and its user) -> request fields; raises grammar.Usage.
    parse: Callable[[str, list[str]], dict]
    words: tuple[str, str] | None = None  # (arguments, what it does); an action's: the catalogue's
    who: str = OPERATORS
    user: str = REQUIRED
    query: bool = False  # answers only, changes nothing
    kind: str = "change"  # the kind of queued work it becomes
    # SELF verbs: the queued work carries the action's request model ("request"), or the fields.
    sends: str = "fields"
    confirm: bool = False  # asks the member to confirm first (an offboarding)
    doing: str = ""  # a campaign's acknowledgement: "Starting an access review"

    @property
    def campaign(self) -> bool:
        """A change of no one user (an access review of groups): operators only."""
        return self.who == OPERATORS and self.user == NONE

    @property
    def usage(self) -> tuple[str, str]:
        words = self.words or SLACK_ACTIONS[self.name].slack
        assert words is not None, f"the Slack verb {self.name} has no words"
        return words


# name -> verb, in the order the help lists them; WORDS: name -> (arguments, what it does)
VERBS: dict[str, Verb] = {}
WORDS: dict[str, tuple[str, str]] = {}


def verbs(*declared: Verb) -> tuple[Verb, ...]:
    """Register a capability's verbs: each name once, in the order the help lists them."""
    for verb in declared:
        if VERBS.get(verb.name, verb) != verb:
            raise ValueError(f"the Slack verb {verb.name} is declared twice")
        VERBS[verb.name] = verb
        WORDS[verb.name] = verb.usage
    return declared


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
