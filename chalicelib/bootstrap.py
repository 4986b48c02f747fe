"""The composition root: real adapters by default, built once per process, replaceable in tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from chalicelib.aws import AwsClients
from chalicelib.iam_gateway import IamGateway
from chalicelib.lifecycle import Lifecycle
from chalicelib.revocation import Revoker
from chalicelib.operations import Operations
from chalicelib.secrets_store import SecretsStore
from chalicelib.settings import Settings, get_settings
from chalicelib.state_store import StateStore


@dataclass
class Services:
    settings: Settings
    clients: AwsClients
    lifecycle: Lifecycle
    operations: Operations
    secrets: SecretsStore


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def build(settings: Settings | None = None, clients: AwsClients | None = None,
          clock: Callable[[], datetime] = utc_now) -> Services:
    settings = settings or get_settings()
    clients = clients or AwsClients(settings.region)
    state = StateStore(clients.root("dynamodb"), settings.state_table)
    revoker = Revoker(settings, clients, state, clock)
    lifecycle = Lifecycle(settings, IamGateway(clients.root("iam")), state, revoker, clock)
    operations = Operations(settings, state, clients.root("dynamodb"))
    secrets = SecretsStore(clients.root("secretsmanager"), settings.secret_max_age)
    return Services(settings, clients, lifecycle, operations, secrets)


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
