"""The capabilities this service is made of, composed in one place.

Importing this module declares every capability's actions into the kernel's catalogue (each
declaration is light: names and words, no pydantic); ``queued_work`` imports whatever registers
a kind of queued work, for the queue worker. ``chalicelib/__init__.py`` imports it, so
whatever reads the whole catalogue (Slack's help, the API clients' actions, the metrics, the
OpenAPI test) finds it whole, whichever module of the service was imported first. The order is
the catalogue's: Slack's help lists its verbs in it.
"""

# In the catalogue's order, not sorted.
# isort: off
from chalicelib.lifecycle import catalogue as lifecycle
from chalicelib.approvals import catalogue as approvals
from chalicelib.hygiene import catalogue as hygiene
from chalicelib.reviews import catalogue as reviews
from chalicelib.adoption import catalogue as adoption
# isort: on

__all__ = [
    "lifecycle",
    "approvals",
    "hygiene",
    "reviews",
    "adoption",
    "queued_work",
    "slack_listeners",
]


def queued_work() -> None:
    """Import every module that registers a kind of queued work (chalicelib/kernel/queue.py),
    before the queue worker dispatches: the capabilities' Slack work, the ticket callbacks, the
    rest of a REST change. Only the worker's path pays for them."""
    import chalicelib.approvals.slack
    import chalicelib.edges.callbacks.delivery
    import chalicelib.kernel.continuing
    import chalicelib.lifecycle.slack
    import chalicelib.people.slack
    import chalicelib.reviews.slack  # noqa: F401


def slack_listeners() -> None:
    """Import every module that listens to a Slack button (chalicelib/edges/slack/listeners.py),
    before the Slack edge answers a click: light modules, no pydantic."""
    import chalicelib.approvals.buttons
    import chalicelib.reviews.buttons  # noqa: F401
