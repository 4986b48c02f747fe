"""moto's backends kept as they are at one moment and put back later, in the process that runs
moto (the in-process mock of the tests or the local stack's server).

A provisioning deploys every template through moto's CloudFormation (seconds); copying the
backends it filled takes a fraction of one. Putting the copy back gives exactly what a fresh
provisioning gives: every backend moto knows (``BackendDict._instances``: IAM, STS,
CloudFormation, DynamoDB, SQS, Secrets Manager, Sign-In, ...) as it was, anything made since gone.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

# Locks and conditions cannot be copied; a world at rest holds none, so a copy gets new ones.
_LOCKS: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}


class Snapshot:
    """Copies of the backends in use when it was taken."""

    def __init__(self) -> None:
        registries = list(_registries())
        copies = copy_world([dict(r) for r in registries], registries)
        self.kept: list[tuple[Any, Any]] = list(zip(registries, copies, strict=True))

    def restore(self, keep_sessions: bool = False) -> None:
        """Every backend as it was taken, each registry filled anew with a copy (so the snapshot
        can be restored again). With ``keep_sessions``, the role sessions STS issued since stay
        valid, as in AWS (a client holding them goes on working): STS is left as it is now, and
        so are the keys IAM holds for its sessions."""
        from moto.core.base_backend import backend_lock
        from moto.iam.models import iam_backends

        keep = {"sts"} if keep_sessions else set()
        sessions = _session_keys() if keep_sessions else {}
        instances = _registries()
        kept_now = [r for r in instances if r.service_name in keep]
        replaced = [(r, accounts) for r, accounts in self.kept if r.service_name not in keep]
        registries = [registry for registry, _ in self.kept] + kept_now
        restored = copy_world([accounts for _, accounts in replaced], registries)
        with backend_lock:
            for registry in instances:
                if registry.service_name not in keep:
                    registry.clear()
            instances[:] = kept_now
            for (registry, _), accounts in zip(replaced, restored, strict=True):
                registry.update(accounts)
                instances.append(registry)
            for (account, partition), keys in sessions.items():
                iam_backends[account][partition].access_keys.update(keys)


def _registries() -> list[Any]:
    """moto's registry of the backends in use (``BackendDict._instances``), itself."""
    from moto.core.base_backend import BackendDict

    return BackendDict._instances  # type: ignore[misc]


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


def copy_world(value: Any, registries: list[Any]) -> Any:
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
