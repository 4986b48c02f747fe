"""Fixtures of more than one tier: moto in process, provisioned from the real templates, the app's
test client, and the work queue with Lambda's event source for it. Helpers: tests/support/."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.aws.clients import AwsClients
from devstack import api_gateway
from devstack.local import PROJECT, REGION, Facts, shared_session
from devstack.queue_poller import Poller
from devstack.slack_api import SlackApiStandIn
from tests.support.app_client import Api, Clock, isolate, stage_environment
from tests.support.approvals import IN_PROCESS_APPROVAL_POLICIES, Flow
from tests.support.slack import NOWHERE_HOST
from tests.support.world import World


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
def client(aws: Facts, monkeypatch: pytest.MonkeyPatch, clock: Clock, standin):
    """The real Chalice app with the dev stage's configuration, against ``aws``.

    The stage's variables are also set in the test's own environment, so a test may reach the
    app's services (``bootstrap.services()``) as the handlers do. Slack is the stand-in
    (``standin``), as in the local stack.
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
@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch):
    with SlackApiStandIn() as slack_api:
        monkeypatch.setenv("SLACK_API_URL", slack_api.url)
        # Answers go to the stand-in, or to NOWHERE_HOST (Slack unreachable), as the stage says.
        monkeypatch.setenv("SLACK_RESPONSE_HOSTS", f"{slack_api.host},{NOWHERE_HOST}")
        yield slack_api


@pytest.fixture
def flow(standin, client, aws, clock):
    running = Flow(client, aws, standin, clock)
    yield running
    running.close()
