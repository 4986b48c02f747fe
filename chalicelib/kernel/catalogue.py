"""The catalogue: every change the service makes, each declared once by the capability that owns
it (``<capability>/catalogue.py``, beside its request models in ``<capability>/commands.py``).

An action's name is the method of the executor that carries it out (the capability that
registered it with the runner: ``<executor>.<name>(username, request, snap=None)``), its metric
and its name in the audit trail. REST, Slack, the queue worker, the schedules, the events, the
replies and the alarms all read this registry; nothing keeps a list of actions of its own. The
kernel imports no capability: ``chalicelib/capabilities.py`` imports each capability's
declarations, and ``chalicelib/__init__.py`` imports it, so the catalogue is whole before any
module of the service runs. How to add one: CONTRIBUTING.md, "Add an action".

Requests and approvals (``runs="approvals"``) are run by ``approvals/service.py`` instead of the
change runner: their audit events carry the request's id as ticket, so that one ticket tells a
request's whole story, while the grant an approval leads to goes through the runner under that
same id. Their domain rules are ``approvals/rules.py``.

Access reviews (``runs="reviews"``) are run by ``reviews/service.py``: their audit events carry
the campaign's id as ticket; a revoke is carried out through the runner as a ``move`` out of the
group (or an ``end_grant``) under the ticket ``review:<campaign>:<item>``. Their domain rules are
``reviews/rules.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Action:
    name: str
    model: str  # its request model, by name in ``commands`` (pydantic loads on use)
    event: str  # the EventBridge detail type of its completion
    done: str  # "<user> onboarded": replies and notices
    doing: str  # "Onboarding <user>": the acknowledgement while it runs
    creates: bool = False  # REST answers 201 Created
    dry_run: bool = True  # a caller may ask for its plan instead
    # (arguments, what it does) when people may ask for it with the Slack command
    slack: tuple[str, str] | None = None
    verb: str = ""  # its Slack verb, when not its name
    # "lifecycle": the change runner; "approvals": the approvals service; "reviews": the reviews
    runs: str = "lifecycle"
    # Open to every linked member for their own user (not only to the listed operators).
    self_service: bool = False
    # The module holding ``model``: the declaring capability's commands (set by ``declare``).
    commands: str = ""

    @property
    def slack_verb(self) -> str:
        return self.verb or self.name

    @property
    def status(self) -> int:
        return 201 if self.creates else 200

    def request_model(self) -> Any:
        return getattr(importlib.import_module(self.commands), self.model)


# Filled in place by ``declare``, in the order the capabilities declare (Slack's help lists its
# verbs in that order): whoever imported these names sees every declared action.
CATALOGUE: list[Action] = []
ACTIONS: dict[str, Action] = {}
# What people may ask for with the Slack command, by verb.
SLACK_ACTIONS: dict[str, Action] = {}


def declare(commands: str, *actions: Action) -> None:
    """Add a capability's ``actions``, whose request models are in the module ``commands``. A
    name, event or Slack verb is one action's only: a second is a mistake in the declarations."""
    for declared in actions:
        action = replace(declared, commands=commands)
        taken = [
            what
            for what, free in (
                (action.name, action.name not in ACTIONS),
                (action.event, all(a.event != action.event for a in CATALOGUE)),
                (action.slack_verb, action.slack is None or action.slack_verb not in SLACK_ACTIONS),
            )
            if not free
        ]
        if taken:
            raise ValueError(f"{action.name}: {', '.join(taken)} already declared")
        CATALOGUE.append(action)
        ACTIONS[action.name] = action
        if action.slack is not None:
            SLACK_ACTIONS[action.slack_verb] = action
