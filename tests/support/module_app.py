"""The real app against a fresh in-process moto, once per module: what the ``aws``, ``client`` and
``api`` fixtures of conftest build per test, for property tests whose hundreds of examples share
one world (a world per example would cost more than the examples)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.aws.clients import AwsClients
from devstack.local import PROJECT, REGION, Facts, shared_session
from tests.support.app_client import Api, Clock, isolate, stage_environment
from tests.support.approvals import IN_PROCESS_APPROVAL_POLICIES
from tests.support.world import World


@contextmanager
def running_app(provisioned: World) -> Iterator[tuple[Api, Facts]]:
    """The app against a copy of the ``provisioned`` world (the session's fixture)."""
    from chalice.test import Client

    from app import app
    from chalicelib import bootstrap

    with pytest.MonkeyPatch.context() as env:
        isolate(env, stage_environment())
        env.setenv("APPROVAL_POLICIES", IN_PROCESS_APPROVAL_POLICIES)  # as tests/conftest.py
        with provisioned.fresh() as facts:
            bootstrap.reset()
            bootstrap.use(
                bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=Clock())
            )
            try:
                with Client(app, stage_name="dev", project_dir=str(PROJECT)) as client:
                    yield Api(client, facts.api_token), facts
            finally:
                bootstrap.reset()
