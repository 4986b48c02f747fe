"""The capabilities this service is made of, composed in one place.

Importing this module declares every capability's actions into the kernel's catalogue, and its
verbs of the slash command into the Slack edge's registry (each declaration is light: names,
words and word parsers, no pydantic); ``queued_work`` imports whatever registers a kind of queued
work, for the queue worker. ``chalicelib/__init__.py`` imports it, so whatever reads the whole
catalogue or grammar (Slack's help, the API clients' actions, the metrics, the OpenAPI test)
finds it whole, whichever module of the service was imported first. Slack's help lists the
verbs in the order they are registered here.
"""

# In the catalogue's order, not sorted.
# isort: off
from chalicelib.lifecycle import catalogue as lifecycle
from chalicelib.approvals import catalogue as approvals
from chalicelib.hygiene import catalogue as hygiene
from chalicelib.reviews import catalogue as reviews
# isort: on

# isort: off
from chalicelib.lifecycle import verbs as lifecycle_verbs
from chalicelib.hygiene import verbs as hygiene_verbs
from chalicelib.approvals import verbs as approvals_verbs
from chalicelib.reviews import verbs as reviews_verbs
# isort: on

__all__ = [
    "lifecycle",
    "approvals",
    "hygiene",
    "reviews",
    "lifecycle_verbs",
    "hygiene_verbs",
    "approvals_verbs",
    "reviews_verbs",
    "queued_work",
    "slack_listeners",
]


def queued_work() -> None:
    """Import every module that registers a kind of queued work (chalicelib/kernel/queue.py),
    before the queue worker dispatches: the capabilities' Slack work, the ticket callbacks, the
    rest of a REST change. Only the worker's path pays for them."""
    import chalicelib.approvals.slack
    import chalicelib.edges.callbacks.delivery
    import chalicelib.hygiene.slack
    import chalicelib.kernel.continuing
    import chalicelib.lifecycle.slack
    import chalicelib.people.slack
    import chalicelib.reviews.slack  # noqa: F401


def slack_listeners() -> None:
    """Import every module that listens to a Slack button (chalicelib/edges/slack/listeners.py),
    before the Slack edge answers a click: light modules, no pydantic."""
    import chalicelib.approvals.buttons
    import chalicelib.reviews.buttons  # noqa: F401
