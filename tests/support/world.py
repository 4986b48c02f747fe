"""The provisioned in-process moto world, built once per process and restored for each test.

Provisioning deploys every template through moto's CloudFormation (about a second, far more on a
busy machine); copying the backends it filled takes milliseconds. A test gets exactly what a
fresh provisioning gives it: ``mock_aws()`` drops every backend on entry, as it always did, and
the provisioned backends are then put back as copies of the ones kept, so nothing a test does
reaches the next one.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devstack import moto_ext
from devstack.local import Facts, Provisioner
from tests.support.app_client import isolate

# Locks and conditions cannot be copied; a world at rest holds none, so a copy gets new ones.
_LOCKS: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}


class World:
    """Copies of the backends in use when it was captured (moto's registry of them,
    ``BackendDict._instances``: IAM, STS, CloudFormation, DynamoDB, SQS, Secrets Manager, ...),
    and the facts of the provisioning that filled them."""

    def __init__(self, facts: Facts) -> None:
        from moto.core.base_backend import BackendDict

        registries = list(BackendDict._instances)
        self.facts = facts
        copies = _copy([dict(r) for r in registries], registries)
        self.kept = list(zip(registries, copies, strict=True))

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
        """In the active mock: every backend as it was captured, anything made since gone.
        With ``keep_sessions``, the role sessions STS issued since stay valid, as in AWS (a
        client holding them goes on working): STS is left as it is now, and so are the keys
        IAM holds for its sessions."""
        from moto.core.base_backend import BackendDict, backend_lock

        keep = {"sts"} if keep_sessions else set()
        sessions = _session_keys() if keep_sessions else {}
        kept_now = [r for r in BackendDict._instances if r.service_name in keep]
        replaced = [(r, accounts) for r, accounts in self.kept if r.service_name not in keep]
        registries = [registry for registry, _ in self.kept] + kept_now
        restored = _copy([accounts for _, accounts in replaced], registries)
        with backend_lock:
            for registry in BackendDict._instances:
                if registry.service_name not in keep:
                    registry.clear()
            BackendDict._instances[:] = kept_now
            for (registry, _), accounts in zip(replaced, restored, strict=True):
                registry.update(accounts)
                BackendDict._instances.append(registry)
        from moto.iam.models import iam_backends

        for (account, partition), keys in sessions.items():
            iam_backends[account][partition].access_keys.update(keys)


def _session_keys() -> dict[tuple[str, str], dict[str, Any]]:
    """IAM's keys of role sessions (those of no user), by account and partition."""
    from moto.iam.models import iam_backends

    return {
        (account, partition): {
            ident: key for ident, key in backend.access_keys.items() if key.user_name is None
        }
        for account, backends in dict.items(iam_backends)
        for partition, backend in dict.items(backends)
    }


def _copy(value: Any, registries: list[Any]) -> Any:
    """A deep copy in which references to moto's registries stay the registries themselves
    (one copy of the whole world, so objects two backends share stay shared)."""
    memo: dict[int, Any] = {id(registry): registry for registry in registries}
    dispatch: dict[type, Any] = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    saved = {kind: dispatch.get(kind) for kind in _LOCKS}
    for kind, make in _LOCKS.items():
        dispatch[kind] = lambda _value, _memo, _make=make: _make()
    try:
        return copy.deepcopy(value, memo)
    finally:
        for kind, previous in saved.items():
            if previous is None:
                dispatch.pop(kind, None)
            else:
                dispatch[kind] = previous
