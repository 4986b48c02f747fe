"""Fixtures of more than one tier: moto in process, provisioned from the real templates, the app's
test client, and the work queue with Lambda's event source for it. Helpers: tests/support/."""

from __future__ import annotations

import gc

import boto3
import pytest

from chalicelib.aws.clients import AwsClients
from devstack import api_gateway
from devstack.local import PROJECT, REGION, Facts, shared_session
from devstack.pagerduty_api import PagerDutyStandIn
from devstack.queue_poller import Poller
from devstack.slack_api import SlackApiStandIn
from tests.support import client_side
from tests.support.app_client import Api, Clock, isolate, stage_environment
from tests.support.approvals import IN_PROCESS_APPROVAL_POLICIES, Flow
from tests.support.slack import NOWHERE_HOST
from tests.support.world import World

client_side.apply()
# A test process holds about 400,000 objects (moto, botocore's models, the provisioned world) and
# each moto call makes and drops thousands more: with CPython's default thresholds (700, 10, 10)
# full collections walked them all so often that they took 16.5 of 43 CPU seconds in three
# modules (3 s with these). Collections are rarer; what they free is the same.
gc.set_threshold(50_000, 20, 100)


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real AWS account or a developer's profile."""
    isolate(monkeypatch)


@pytest.fixture(scope="session")
def provisioned() -> World:
    """One provisioning per process (each xdist worker is one), kept for ``aws`` to restore."""
    return World.provision()


@pytest.fixture
def aws(provisioned: World) -> Facts:
    """A fresh in-process moto, provisioned as the local stack is (authorization not enforced):
    the backends one provisioning filled, copied anew for each test."""
    with provisioned.fresh() as facts:
        yield facts


@pytest.fixture
def iam():
    """The root account's IAM in the test's moto, with the test's own credentials: to arrange and
    inspect (authorization not enforced)."""
    return boto3.client("iam")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(aws: Facts, monkeypatch: pytest.MonkeyPatch, clock: Clock, standin, pagerduty):
    """The real Chalice app with the dev stage's configuration, against ``aws``.

    The stage's variables are also set in the test's own environment, so a test may reach the
    app's services (``bootstrap.services()``) as the handlers do. Slack is the stand-in
    (``standin``), and PagerDuty too (``pagerduty``), as in the local stack.
    """
    from chalice.test import Client

    from app import app
    from chalicelib import bootstrap

    api_gateway.apply()  # routes as API Gateway and the local stack do
    for key, value in stage_environment().items():
        monkeypatch.setenv(key, value)
    # The in-process tiers start from one approver, no requesters named and break-glass
    # unlimited; a test of another policy sets it (Flow.policies). The local stack runs the
    # stage's own (two approvers, named requesters, limited break-glass).
    monkeypatch.setenv("APPROVAL_POLICIES", IN_PROCESS_APPROVAL_POLICIES)
    bootstrap.reset()
    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )
    with Client(app, stage_name="dev", project_dir=str(PROJECT)) as test_client:
        yield test_client
    bootstrap.reset()


@pytest.fixture
def api(client, aws: Facts) -> Api:
    return Api(client, aws.api_token)


@pytest.fixture
def sqs():
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def poller(client, sqs) -> Poller:
    """Lambda's SQS event source for the app's queue handler, in this process."""
    from app import app

    return Poller.for_app(app, client, sqs, wait_seconds=0)


# Requests and approvals (tests/slack, tests/service): the Slack Web API stand-in, and a
# signed Slack session with the queue worker and the app's clock.
@pytest.fixture(scope="session")
def slack_standin():
    """One stand-in per process (starting and stopping one per test is a quarter second)."""
    with SlackApiStandIn() as slack_api:
        yield slack_api


@pytest.fixture
def standin(slack_standin: SlackApiStandIn, monkeypatch: pytest.MonkeyPatch):
    """The Slack Web API stand-in, as it started: nothing recorded, limited or configured."""
    slack_standin.restore()
    monkeypatch.setenv("SLACK_API_URL", slack_standin.url)
    # Answers go to the stand-in, or to NOWHERE_HOST (Slack unreachable), as the stage says.
    monkeypatch.setenv("SLACK_RESPONSE_HOSTS", f"{slack_standin.host},{NOWHERE_HOST}")
    yield slack_standin
    slack_standin.restore()


@pytest.fixture(scope="session")
def pagerduty_standin():
    """One PagerDuty stand-in per process, as the Slack one."""
    with PagerDutyStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def pagerduty(pagerduty_standin: PagerDutyStandIn, monkeypatch: pytest.MonkeyPatch, aws: Facts):
    """PagerDuty's REST API stand-in, with the stage's token; nobody on call until a test says."""
    pagerduty_standin.reset()
    pagerduty_standin.token = aws.pagerduty_token
    monkeypatch.setenv("PAGERDUTY_API_URL", pagerduty_standin.url)
    yield pagerduty_standin
    pagerduty_standin.reset()


@pytest.fixture
def flow(standin, client, aws, clock):
    running = Flow(client, aws, standin, clock)
    yield running
    running.close()
