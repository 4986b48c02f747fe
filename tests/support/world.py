"""The provisioned in-process moto world, built once per process and restored for each test.

Provisioning deploys every template through moto's CloudFormation (about a second, far more on a
busy machine); copying the backends it filled takes milliseconds (devstack/snapshot.py). A test
gets exactly what a fresh provisioning gives it: ``mock_aws()`` drops every backend on entry, as
it always did, and the provisioned backends are then put back as copies of the ones kept, so
nothing a test does reaches the next one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from devstack import moto_ext
from devstack.local import Facts, Provisioner
from devstack.snapshot import Snapshot
from tests.support.app_client import isolate


class World:
    """Copies of the backends in use when it was captured (moto's registry of them,
    ``BackendDict._instances``: IAM, STS, CloudFormation, DynamoDB, SQS, Secrets Manager, ...),
    and the facts of the provisioning that filled them."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.snapshot = Snapshot()

    @classmethod
    def provision(cls) -> World:
        """What ``Provisioner(endpoint_url=None).run()`` builds in a fresh mock."""
        from moto import mock_aws

        with pytest.MonkeyPatch.context() as env:
            isolate(env)
            moto_ext.apply()
            with mock_aws():
                return cls(Provisioner(endpoint_url=None).run())

    @contextmanager
    def fresh(self) -> Iterator[Facts]:
        """A mock holding a copy of this world; the facts (a copy) to use it with."""
        from moto import mock_aws

        with mock_aws():  # its entry drops every backend, as before any provisioning
            self.restore()
            yield copy.deepcopy(self.facts)

    def restore(self, keep_sessions: bool = False) -> None:
        """In the active mock: every backend as it was captured, anything made since gone
        (with ``keep_sessions``, the role sessions STS issued since stay valid, as in AWS)."""
        self.snapshot.restore(keep_sessions)
