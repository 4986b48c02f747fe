"""The composition root: real adapters by default, built once per process, replaceable in tests."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.aws.clients import AwsClients
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.adoption.service import Adoption, AdoptionActions
    from chalicelib.approvals.extending import Extending
    from chalicelib.approvals.service import ApprovalService
    from chalicelib.aws.events import Events
    from chalicelib.aws.health import Probes
    from chalicelib.aws.queue import WorkQueue
    from chalicelib.aws.secrets import SecretsStore
    from chalicelib.aws.slack_state import SlackStore
    from chalicelib.aws.state import StateStore
    from chalicelib.edges.clients import Gate
    from chalicelib.edges.pagerduty import PagerDuty
    from chalicelib.edges.slack.web_api import SlackApi
    from chalicelib.hygiene.actions import HygieneActions
    from chalicelib.hygiene.service import Hygiene
    from chalicelib.kernel.runner import Operations
    from chalicelib.lifecycle.operations import Lifecycle
    from chalicelib.lifecycle.schedules import Schedules
    from chalicelib.lifecycle.tickets import TicketClosure
    from chalicelib.people.leavers import Leavers
    from chalicelib.reviews.service import ReviewService
    from chalicelib.scim.endpoint import Ports as ScimPorts


T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Built(functools.cached_property[T]):
    """A part of the services made (and its modules imported) on first use, once across threads:
    a Slack acknowledgement needs the secrets, the Slack store and the queue, and a cold start
    that serves one should not load IAM's model, the lifecycle or pydantic for the others."""

    _lock = threading.RLock()  # parts are made from parts

    def __get__(self, instance: Any, owner: type | None = None) -> T:  # type: ignore[override]
        with self._lock:
            return super().__get__(instance, owner)


class Services:
    def __init__(
        self, settings: Settings, clients: AwsClients, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.clock = clock

    @_Built
    def secrets(self) -> SecretsStore:
        from chalicelib.aws.secrets import SecretsStore

        return SecretsStore(self.clients.root("secretsmanager"), self.settings.secret_max_age)

    @_Built
    def api_clients(self) -> Gate:
        from chalicelib.edges.clients import Gate

        settings = self.settings
        return Gate(self.secrets.get, settings.api_clients_secret, settings.api_token_secret)

    @_Built
    def health_probes(self) -> Probes:
        from chalicelib.aws.health import Probes

        return Probes(self.clients.root)

    # Slack: its queue of work and its confirmations.
    @_Built
    def work_queue(self) -> WorkQueue:
        from chalicelib.aws.queue import WorkQueue

        return WorkQueue(functools.partial(self.clients.root, "sqs"), self.settings.work_queue)

    @_Built
    def slack_store(self) -> SlackStore:
        from chalicelib.aws.slack_state import SlackStore

        return SlackStore(self.clients.root("dynamodb"), self.settings.state_table)

    @_Built
    def state(self) -> StateStore:
        from chalicelib.aws.state import StateStore

        return StateStore(self.clients.root("dynamodb"), self.settings.state_table)

    @_Built
    def lifecycle(self) -> Lifecycle:
        from chalicelib.aws.iam import IamGateway
        from chalicelib.aws.revocation import Revoker
        from chalicelib.aws.signin import SignIn
        from chalicelib.lifecycle.operations import Lifecycle

        revoker = Revoker(self.settings, self.clients, self.state, self.clock)
        lifecycle = Lifecycle(
            self.settings,
            IamGateway(self.clients.root("iam")),
            self.state,
            revoker,
            self.clock,
            SignIn(lambda: self.clients.root("signin")),
        )
        lifecycle.forget = lambda *leaver: self.leavers.forget(*leaver)
        return lifecycle

    def person(self, username: str) -> str | None:
        """The UserId of whoever IAM holds under ``username`` now (None: nobody it may see)."""
        return (self.lifecycle.iam.get_user(username) or {}).get("id")

    @_Built
    def leavers(self) -> Leavers:
        from chalicelib.approvals.leavers import RequestsOfLeavers
        from chalicelib.aws import requests, reviews
        from chalicelib.people.leavers import Leavers
        from chalicelib.reviews.leavers import ItemsOfLeavers

        store = requests.RequestStore(self.state, self.person)
        return Leavers(
            self.state.unlink_member,
            {
                "requests": RequestsOfLeavers(
                    store, self.state.audit, self.work_queue.send, self.clock
                ).forget,
                "reviews": ItemsOfLeavers(reviews.ReviewStore(self.state), self.clock).forget,
            },
        )

    @_Built
    def events(self) -> Events:
        from chalicelib.aws.events import Events

        return Events(self.clients.root("events"), self.settings.event_bus, self.settings.app_name)

    @_Built
    def hygiene_actions(self) -> HygieneActions:
        from chalicelib.hygiene.actions import HygieneActions

        lifecycle = self.lifecycle  # the same ports, and the same reads
        return HygieneActions(
            self.settings, lifecycle.iam, self.state, self.clock, lifecycle.reader
        )

    @_Built
    def operations(self) -> Operations:
        from chalicelib.adoption import service as adoption
        from chalicelib.aws.tickets import TicketStore
        from chalicelib.hygiene import actions as hygiene_actions
        from chalicelib.kernel.runner import Operations
        from chalicelib.lifecycle import operations as lifecycle
        from chalicelib.people.welcome import Welcome

        settings = self.settings
        tickets = TicketStore(
            table_name=settings.idempotency_table, boto3_client=self.clients.root("dynamodb")
        )
        runner = Operations(
            settings,
            self.state,
            tickets,
            self.events,
            self.work_queue,
            state_before=lambda username: self.lifecycle.describe_if_exists(username),
            after_change=Welcome(self.work_queue).after,
        )
        runner.register(self.lifecycle, lifecycle.ACTIONS)
        runner.register(self.hygiene_actions, hygiene_actions.ACTIONS)
        runner.register(self.adoption_actions, adoption.ACTIONS)
        return runner

    @_Built
    def adoption_actions(self) -> AdoptionActions:
        from chalicelib.adoption.service import AdoptionActions
        from chalicelib.aws.adoption import AdoptionGateway

        lifecycle = self.lifecycle
        return AdoptionActions(
            self.settings,
            lifecycle.iam,
            AdoptionGateway(self.clients.root("iam")),
            self.state,
            lifecycle.roles,
            lifecycle.describe,
        )

    @_Built
    def adoption(self) -> Adoption:
        from chalicelib.adoption.service import Adoption

        return Adoption(
            self.settings,
            self.adoption_actions,
            self.operations.change,
            # Half the time to answer: the user being adopted when it ends must finish too.
            (self.settings.answer_within / 2) or None,
        )

    # Requests for access: the store, Slack's Web API (bot token from a secret) and the service.
    @_Built
    def slack_api(self) -> SlackApi:
        from chalicelib.edges.slack.web_api import SlackApi

        settings = self.settings
        return SlackApi(
            lambda: self.secrets.get(settings.slack_bot_token_secret), settings.slack_api_url
        )

    @_Built
    def pagerduty(self) -> PagerDuty:
        """PagerDuty's REST API (API token from a secret), who is on call now."""
        from chalicelib.edges.pagerduty import PagerDuty

        settings = self.settings
        return PagerDuty(
            lambda: self.secrets.get(settings.pagerduty_token_secret),
            settings.pagerduty_api_url,
            timeout=settings.pagerduty_timeout,
            max_age=settings.pagerduty_cache_seconds,
        )

    def email_of(self, username: str) -> str | None:
        """The e-mail kept on a managed user (its ``email`` tag, set at onboarding or by SCIM)."""
        return (self.lifecycle.iam.get_user(username) or {}).get("tags", {}).get("email")

    @_Built
    def approvals(self) -> ApprovalService:
        from chalicelib.approvals.on_call_check import OnCallCheck
        from chalicelib.approvals.service import ApprovalService
        from chalicelib.aws.requests import RequestStore

        return ApprovalService(
            self.settings,
            self.state,
            RequestStore(self.state, self.person),
            self.operations,
            self.events,
            self.work_queue,
            lambda: self.slack_api,
            self.clock,
            lambda member: self.slack_store.linked_user(member),
            OnCallCheck(lambda: self.pagerduty, self.email_of),
        )

    @_Built
    def extending(self) -> Extending:
        from chalicelib.approvals.extending import Extending

        return Extending(
            self.settings,
            self.state,
            self.operations,
            self.work_queue,
            self.clock,
            lambda body, member: self.approvals.ask(body, requester=member),
        )

    @_Built
    def reviews(self) -> ReviewService:
        from chalicelib.aws.reviews import ReviewStore
        from chalicelib.lifecycle import queries
        from chalicelib.reviews.service import ReviewService

        return ReviewService(
            self.settings,
            self.lifecycle.iam,
            self.state,
            functools.partial(queries.read_account, self.lifecycle),
            ReviewStore(self.state),
            self.operations,
            self.events,
            self.work_queue,
            self.clock,
            self.slack_store.linked_user,
        )

    @_Built
    def notify(self) -> Callable[[str], None]:
        """The operators' channel: the Slack incoming webhook of drift reports, if any."""
        from chalicelib.lifecycle.schedules import slack_notifier

        settings = self.settings
        webhook = (
            (lambda: self.secrets.get(settings.drift_webhook_secret))
            if settings.drift_webhook_secret
            else (lambda: None)
        )
        return slack_notifier(webhook)

    @_Built
    def ticket_closure(self) -> TicketClosure:
        from chalicelib.approvals.rules import request_id
        from chalicelib.lifecycle.tickets import TicketClosure

        # An approved request's grant carries the request's id, made from the ticket it was
        # asked under: that ticket closing ends it too.
        # and the request asked under it, while it waits, is cancelled.
        return TicketClosure(
            self.state,
            self.operations,
            lambda ticket: {request_id(ticket)},
            lambda ticket, by: self.approvals.cancel_asked_under(ticket, by),
        )

    @_Built
    def schedules(self) -> Schedules:
        from chalicelib.lifecycle.schedules import Schedules

        # Before a grant ends, its person is told (and offered an extension) where the
        # group's approval policy allows extensions.
        return Schedules(
            self.lifecycle,
            self.operations,
            self.clock,
            self.notify,
            before_expiry=lambda records: self.extending.notices(records),
        )

    @property
    def scim(self) -> ScimPorts:
        """The SCIM endpoint's ports, with the settings as they are now: its token, IAM's users
        and groups, the records, the runner (the lifecycle and the runner are made only when a
        request changes something)."""
        from chalicelib.aws.iam import IamGateway
        from chalicelib.scim.endpoint import Ports

        settings = self.settings
        return Ports(
            settings,
            token=lambda: self.secrets.get(settings.scim_token_secret),
            iam=IamGateway(self.clients.root("iam")),
            state=self.state,
            change=lambda *change: self.operations.change(*change),
            check_user_allowed=lambda name: self.lifecycle.check_user_allowed(name),
        )

    @_Built
    def hygiene(self) -> Hygiene:
        from chalicelib.hygiene.service import Hygiene

        return Hygiene(
            self.settings,
            self.lifecycle.iam,
            self.state,
            self.operations,
            self.clock,
            self.notify,
            self.work_queue,
            self.lifecycle.check_user_allowed,
        )


def build(
    settings: Settings | None = None,
    clients: AwsClients | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    settings = settings or get_settings()
    check(settings)
    return Services(settings, clients or AwsClients(settings.region), clock)


def check(settings: Settings) -> None:
    """Parse every capability's own settings now, so that a bad policy stops the start (a
    ConfigurationError naming the variable) rather than the first request that needs it."""
    from chalicelib.adoption import settings as adoption
    from chalicelib.approvals import settings as approvals
    from chalicelib.hygiene import settings as hygiene
    from chalicelib.reviews import settings as reviews

    adoption.policy(settings)
    approvals.policies(settings)
    hygiene.policy(settings)
    reviews.policy(settings)


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
