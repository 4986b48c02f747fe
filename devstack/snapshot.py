"""moto's backends kept as they are at one moment and put back later, in the process that runs
moto (the in-process mock of the tests or the local stack's server).

A provisioning deploys every template through moto's CloudFormation (seconds); copying the
backends it filled takes a fraction of one. Putting the copy back gives exactly what a fresh
provisioning gives: every backend moto knows (``BackendDict._instances``: IAM, STS,
CloudFormation, DynamoDB, SQS, Secrets Manager, Sign-In, ...) as it was, anything made since gone.

A restore copies the kept world afresh, as ``copy.deepcopy`` would (pickling is no way: moto keeps
cryptography's keys, which do not pickle), but for values nothing changes, which the copy shares
with the snapshot: strings, numbers, times, and the metric queries of CloudWatch's alarms.
"""

from __future__ import annotations

import copy
import copyreg
import datetime
import functools
import threading
import uuid
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
    (one copy of the whole world, so objects two backends share stay shared).

    ``copy.deepcopy``'s algorithm, object for object (the same memo, ``__deepcopy__`` hooks,
    reductions and reconstruction), in one function and in a third of its time: the strings,
    numbers and ``None`` that make up most of the world are kept where they are met rather than
    through a call each, and the objects of plain classes are made without their reduction.
    Values nothing changes (:func:`_kept`) are kept too, where deepcopy would copy them.
    tests/service/test_world.py holds it to ``copy.deepcopy``'s result on the provisioned world."""
    memo: dict[int, Any] = {id(registry): registry for registry in registries}
    dispatch: dict[type, Any] = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    saved = {kind: dispatch.get(kind) for kind in _LOCKS}
    for kind, make in _LOCKS.items():
        dispatch[kind] = lambda _value, _memo, _make=make: _make()
    try:
        return _Copier(memo).copy(value)
    finally:
        for kind, previous in saved.items():
            if previous is None:
                dispatch.pop(kind, None)
            else:
                dispatch[kind] = previous


_NOTHING = object()


class _Copier:
    """One deep copy: ``copy`` is ``copy.deepcopy(value, memo)``, the values of ``_kept()``
    aside."""

    def __init__(self, memo: dict[int, Any]) -> None:
        self.memo = memo
        # What reductions made for the copy (arguments, state) lives as long as the memo, so
        # that no id in it is reused (what ``copy._keep_alive`` does).
        self.alive: list[Any] = []
        memo[id(memo)] = self.alive
        self.kept = _kept()

    def copy(self, x: Any) -> Any:  # noqa: C901 - copy.deepcopy's cases, in its order
        cls: Any = type(x)
        kept = self.kept
        if cls in kept:  # the same in the copy (what deepcopy returns itself, never memoized)
            return x
        memo = self.memo
        y = memo.get(id(x), _NOTHING)
        if y is not _NOTHING:
            return y
        if cls is dict:
            y = {}
            memo[id(x)] = y
            copy_ = self.copy
            for key, value in x.items():
                y[key if type(key) in kept else copy_(key)] = (
                    value if type(value) in kept else copy_(value)
                )
            return y
        if cls is list:
            y = []
            memo[id(x)] = y
            copy_ = self.copy
            y.extend([item if type(item) in kept else copy_(item) for item in x])
            return y
        if cls is tuple:
            items = [item if type(item) in kept else self.copy(item) for item in x]
            y = memo.get(id(x), _NOTHING)  # a tuple inside a cycle through itself
            if y is not _NOTHING:
                return y
            y = tuple(items) if any(a is not b for a, b in zip(x, items, strict=True)) else x
        elif _plain(cls) and not _HOOKS & x.__dict__.keys():
            y = cls.__new__(cls)  # what object's reduction makes, its __dict__ then copied in
            memo[id(x)] = y
            if x.__dict__:
                y.__dict__.update(self.copy(x.__dict__))
        else:
            copier = copy._deepcopy_dispatch.get(cls)  # type: ignore[attr-defined]
            if copier is not None:
                y = copier(x, memo)
            elif issubclass(cls, type):
                y = x
            else:
                hook = getattr(x, "__deepcopy__", None)
                if hook is not None:
                    y = hook(memo)
                else:
                    y = self._reconstruct(x, _reduction(x, cls))
        if y is not x:
            memo[id(x)] = y
            self.alive.append(x)
        return y

    def _reconstruct(self, x: Any, reduction: Any) -> Any:
        """``copy._reconstruct`` of a deep copy."""
        if isinstance(reduction, str):
            return x
        self.alive.append(reduction)
        func, args, state, listiter, dictiter = (*reduction, None, None, None)[:5]
        copy_ = self.copy
        y = func(*[copy_(arg) for arg in args])
        self.memo[id(x)] = y
        if state is not None:
            state = copy_(state)
            if hasattr(y, "__setstate__"):
                y.__setstate__(state)
            else:
                slots = None
                if isinstance(state, tuple) and len(state) == 2:
                    state, slots = state
                if state is not None:
                    y.__dict__.update(state)
                if slots is not None:
                    for key, value in slots.items():
                        setattr(y, key, value)
        if listiter is not None:
            for item in listiter:
                y.append(copy_(item))
        if dictiter is not None:
            for key, value in dictiter:
                self.alive.append((key, value))
                key = copy_(key)
                y[key] = copy_(value)
        return y


# What copy.deepcopy looks up on an object to copy it; an object's own __dict__ could hold one.
_HOOKS = frozenset({"__deepcopy__", "__reduce_ex__", "__reduce__"})


@functools.cache
def _plain(cls: type) -> bool:
    """Whether ``copy.deepcopy`` copies the class's objects as ``object``'s reduction has it: made
    anew by ``cls.__new__(cls)``, their ``__dict__`` copied into them. So for Python classes with
    no slots, reduction, state, copy hook or attribute lookup of their own, over ``object``."""
    return (
        all(
            base is object or (base.__flags__ & _HEAP_TYPE and "__slots__" not in vars(base))
            for base in cls.__mro__
        )
        and cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and cls.__getstate__ is object.__getstate__
        and cls.__getattribute__ is object.__getattribute__
        and not any(
            hasattr(cls, name)
            for name in (
                "__setstate__",
                "__deepcopy__",
                "__getnewargs__",
                "__getnewargs_ex__",
                "__getattr__",
            )
        )
        and cls not in copyreg.dispatch_table
        and cls not in copy._deepcopy_dispatch  # type: ignore[attr-defined]
    )


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def _reduction(x: Any, cls: type) -> Any:
    """What ``copy.deepcopy`` reconstructs an object from."""
    reductor = copyreg.dispatch_table.get(cls)
    if reductor is not None:
        return reductor(x)
    reductor = getattr(x, "__reduce_ex__", None)
    if reductor is not None:
        return reductor(4)
    reductor = getattr(x, "__reduce__", None)
    if reductor:
        return reductor()
    raise copy.Error(f"un(deep)copyable object of type {cls}")


# The types copy.deepcopy copies as themselves (its dispatch's atomic entries).
_ATOMIC = frozenset(
    kind
    for kind, copier in copy._deepcopy_dispatch.items()  # type: ignore[attr-defined]
    if copier is copy._deepcopy_atomic  # type: ignore[attr-defined]
)

# Values that nothing changes once made, which deepcopy makes anew all the same: a copy and the
# snapshot hold the same ones (moto's times: 100 per restore).
_IMMUTABLE = frozenset({datetime.datetime, datetime.date, datetime.timedelta, uuid.UUID})


@functools.cache
def _kept() -> frozenset[type]:
    """What a copy holds as the snapshot does: the atomic and immutable values, and the parts of
    CloudWatch's alarms (their metric queries: 1,500 of the world's 9,000 objects), which moto
    makes once, in PutMetricAlarm, and never writes to (their attributes are set in their
    ``__init__`` alone; tests/service/test_world.py reads moto's source for any other write)."""
    return _ATOMIC | _IMMUTABLE | shared_moto_values()


def shared_moto_values() -> frozenset[type]:
    """moto's classes whose objects a restored world shares with the snapshot."""
    from moto.cloudwatch import models

    return frozenset({models.MetricDataQuery, models.MetricStat, models.Metric, models.Dimension})
