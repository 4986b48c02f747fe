"""The composition root: real adapters by default, built once per process, replaceable in tests."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from chalicelib.aws import AwsClients
from chalicelib.events import Events
from chalicelib.iam_gateway import IamGateway
from chalicelib.lifecycle import Lifecycle
from chalicelib.revocation import Revoker
from chalicelib.schedules import Schedules, slack_notifier
from chalicelib.operations import Operations
from chalicelib.secrets_store import SecretsStore
from chalicelib.settings import Settings, get_settings
from chalicelib.slack.store import SlackStore
from chalicelib.state_store import StateStore
from chalicelib.work_queue import WorkQueue


@dataclass
class Services:
    settings: Settings
    clients: AwsClients
    lifecycle: Lifecycle
    operations: Operations
    schedules: Schedules
    secrets: SecretsStore
    # Slack: its queue of work and its confirmations.
    work_queue: WorkQueue
    slack_store: SlackStore


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def build(settings: Settings | None = None, clients: AwsClients | None = None,
          clock: Callable[[], datetime] = utc_now) -> Services:
    settings = settings or get_settings()
    clients = clients or AwsClients(settings.region)
    state = StateStore(clients.root("dynamodb"), settings.state_table)
    revoker = Revoker(settings, clients, state, clock)
    lifecycle = Lifecycle(settings, IamGateway(clients.root("iam")), state, revoker, clock)
    events = Events(clients.root("events"), settings.event_bus, settings.app_name)
    work_queue = WorkQueue(functools.partial(clients.root, "sqs"), settings.work_queue)
    operations = Operations(settings, state, clients.root("dynamodb"), events, lifecycle,
                            work_queue)
    secrets = SecretsStore(clients.root("secretsmanager"), settings.secret_max_age)
    webhook = (lambda: secrets.get(settings.drift_webhook_secret)) \
        if settings.drift_webhook_secret else (lambda: None)
    schedules = Schedules(lifecycle, operations, clock, slack_notifier(webhook))
    slack_store = SlackStore(clients.root("dynamodb"), settings.state_table)
    return Services(settings=settings, clients=clients, lifecycle=lifecycle,
                    operations=operations, schedules=schedules, secrets=secrets,
                    work_queue=work_queue, slack_store=slack_store)


_current: Services | None = None


def services() -> Services:
    """The process's services, built on first use (a Lambda container builds them once)."""
    global _current
    if _current is None:
        _current = build()
    return _current


def use(replacement: Services | None) -> None:
    """Make ``replacement`` the services every handler uses (tests); None rebuilds on next use."""
    global _current
    _current = replacement


def reset() -> None:
    """Forget the built services and settings (tests change the environment between cases)."""
    use(None)
    get_settings.cache_clear()
