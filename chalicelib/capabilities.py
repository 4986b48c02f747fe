"""The capabilities this service is made of, composed in one place.

Importing this module declares every capability's actions into the kernel's catalogue (each
declaration is light: names and words, no pydantic). ``chalicelib/__init__.py`` imports it, so
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
# isort: on

__all__ = ["lifecycle", "approvals", "hygiene", "reviews"]
