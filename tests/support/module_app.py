"""The real app against a fresh in-process moto, once per module: what the ``aws``, ``client`` and
``api`` fixtures of conftest build per test, for property tests whose hundreds of examples share
one world (provisioning per test would cost more than the examples)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chalicelib.aws.clients import AwsClients
from devstack import moto_ext
from devstack.local import PROJECT, REGION, Facts, Provisioner, shared_session
from tests.support.app_client import Api, Clock, isolate, stage_environment


@contextmanager
def running_app() -> Iterator[tuple[Api, Facts]]:
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib import bootstrap

    with pytest.MonkeyPatch.context() as env:
        isolate(env, stage_environment())
        moto_ext.apply()
        with mock_aws():
            facts = Provisioner(endpoint_url=None).run()
            bootstrap.reset()
            bootstrap.use(
                bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=Clock())
            )
            try:
                with Client(app, stage_name="dev", project_dir=str(PROJECT)) as client:
                    yield Api(client, facts.api_token), facts
            finally:
                bootstrap.reset()
