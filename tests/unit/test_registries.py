"""The registries capabilities fill: the catalogue's actions and the queue's kinds of work."""

from __future__ import annotations

import pytest

from chalicelib import capabilities
from chalicelib.kernel import queue
from chalicelib.kernel.catalogue import ACTIONS, CATALOGUE, Action, declare

# Every kind of message on the work queue, as queued today and by earlier releases: a message in
# flight during an upgrade must still find its handler.
KINDS = {
    "callback": "chalicelib.edges.callbacks.delivery",
    "continue": "chalicelib.kernel.continuing",
    "change": "chalicelib.lifecycle.slack",
    "status": "chalicelib.lifecycle.slack",
    "hygiene": "chalicelib.hygiene.slack",
    "notice": "chalicelib.lifecycle.slack",
    "self": "chalicelib.approvals.slack",
    "extend": "chalicelib.approvals.slack",
    "decision": "chalicelib.approvals.slack",
    "approval_message": "chalicelib.approvals.slack",
    "review_start": "chalicelib.reviews.slack",
    "review_decision": "chalicelib.reviews.slack",
    "review_message": "chalicelib.reviews.slack",
    "review_item": "chalicelib.reviews.slack",
    "welcome_message": "chalicelib.people.slack",
    "hygiene_message": "chalicelib.people.slack",
    "expiry_message": "chalicelib.people.slack",
}


def test_every_kind_of_queued_work_has_its_handler():
    capabilities.queued_work()
    assert {kind: handler.__module__ for kind, handler in queue.HANDLERS.items()} == KINDS


def test_a_kind_has_one_handler():
    def first(services, work, receives):
        return None

    def second(services, work, receives):
        return None

    queue.register("test_kind", first)
    try:
        queue.register("test_kind", first)  # the same module imported again
        with pytest.raises(ValueError, match="test_kind"):
            queue.register("test_kind", second)
        assert queue.handler_of("test_kind") is first
    finally:
        queue.HANDLERS.pop("test_kind")


def test_a_kind_nobody_handles_fails_its_message():
    with pytest.raises(LookupError, match="no handler for queued work of kind 'nothing'"):
        queue.handler_of("nothing")


def test_an_action_name_event_or_slack_verb_is_declared_once():
    onboard = ACTIONS["onboard"]
    before = list(CATALOGUE)
    for taken in (
        Action("onboard", "OnboardRequest", "user.other", "x", "X"),
        Action("other", "OnboardRequest", onboard.event, "x", "X"),
        Action("other", "OnboardRequest", "user.other", "x", "X", slack=("", ""), verb="onboard"),
    ):
        with pytest.raises(ValueError, match="already declared"):
            declare("chalicelib.lifecycle.commands", taken)
    assert CATALOGUE == before


@pytest.mark.parametrize("action", CATALOGUE, ids=lambda a: a.name)
def test_an_actions_request_model_is_its_capabilitys(action):
    capability = action.commands.split(".")[1]
    assert action.commands == f"chalicelib.{capability}.commands"
    assert capability in ("lifecycle", "approvals", "reviews", "hygiene", "adoption")
    model = action.request_model()
    # Its own, or a base model of the kernel it names (RestoreRequest is TicketRequest).
    assert model.__module__ in (action.commands, "chalicelib.kernel.commands")


def test_every_button_the_messages_carry_is_listened_to_once():
    from chalicelib import capabilities
    from chalicelib.approvals import messages as approval_messages
    from chalicelib.edges.slack import listeners
    from chalicelib.reviews import messages as review_messages

    capabilities.slack_listeners()
    carried = {approval_messages.APPROVE_ACTION, approval_messages.DENY_ACTION}
    assert carried | set(review_messages.ACTIONS) <= set(listeners.BUTTONS)
    with pytest.raises(ValueError, match="listened to twice"):
        listeners.register([approval_messages.APPROVE_ACTION], lambda click: {})


# Every verb of the slash command, with its capability's module: each declares its own.
VERBS = {
    "help": "chalicelib.edges.slack.grammar",
    "status": "chalicelib.lifecycle.verbs",
    "onboard": "chalicelib.lifecycle.verbs",
    "move": "chalicelib.lifecycle.verbs",
    "suspend": "chalicelib.lifecycle.verbs",
    "restore": "chalicelib.lifecycle.verbs",
    "offboard": "chalicelib.lifecycle.verbs",
    "grant": "chalicelib.lifecycle.verbs",
    "hygiene": "chalicelib.hygiene.verbs",
    "request": "chalicelib.approvals.verbs",
    "requests": "chalicelib.approvals.verbs",
    "done": "chalicelib.approvals.verbs",
    "extend": "chalicelib.approvals.verbs",
    "review": "chalicelib.reviews.verbs",
}


def test_every_verb_is_declared_by_its_capability():
    from chalicelib.approvals import verbs as approvals
    from chalicelib.edges.slack import grammar, listeners
    from chalicelib.hygiene import verbs as hygiene
    from chalicelib.lifecycle import verbs as lifecycle
    from chalicelib.reviews import verbs as reviews

    declared = {
        verb.name: module.__name__
        for module in (grammar, lifecycle, hygiene, approvals, reviews)
        for verb in module.DECLARED
    }
    assert declared == VERBS
    assert list(listeners.VERBS) == list(VERBS)  # the help's order
    # What a verb changes is an action of the catalogue, and its words are the catalogue's.
    for name, verb in listeners.VERBS.items():
        assert verb.query or name in ACTIONS or name == "done"
        if name in ACTIONS and ACTIONS[name].slack:
            assert verb.words is None and verb.usage == ACTIONS[name].slack


def test_a_verb_is_declared_once():
    from chalicelib.edges.slack import listeners
    from chalicelib.edges.slack.grammar import nothing

    before = dict(listeners.VERBS)
    listeners.verbs(listeners.VERBS["status"])  # the same module imported again
    with pytest.raises(ValueError, match="declared twice"):
        listeners.verbs(listeners.Verb("status", nothing, words=("", "another status")))
    assert listeners.VERBS == before


def test_a_verb_a_capability_registers_is_parsed_and_listed():
    """A new verb needs its capability's declaration only: the grammar parses it by the registry
    and the help lists it."""
    from chalicelib.edges.slack import grammar, listeners, replies

    def _ping(verb: str, rest: list[str]) -> dict:
        return {"count": int(rest[0])} if rest else {}

    listeners.verbs(listeners.Verb("ping", _ping, words=("<user> [n]", "ping"), query=True))
    try:
        assert grammar.parse_command("ping pete 3") == grammar.Command("ping", "pete", {"count": 3})
        assert "`/access ping &lt;user&gt; [n]`  ping" in str(replies.help_text("/access"))
    finally:
        listeners.VERBS.pop("ping")
        listeners.WORDS.pop("ping")
