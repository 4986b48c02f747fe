"""Run independent AWS calls together: one wave costs one round trip, not one per call."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chalicelib import call_log

T = TypeVar("T")
# botocore clients are thread-safe; 16 stays under the clients' connection pool of 32.
MAX_PARALLEL = 16


def wave(
    tasks: Mapping[str, Callable[[], Any]], limit: int | None = MAX_PARALLEL
) -> dict[str, Any]:
    """Run every task, wait for all, then raise the first failure (so none is left running
    while the caller records its state) or return the results by name. ``limit``: at most that
    many at once (None: all at once, for tasks that each talk to a client of their own, such as
    one per child account).

    Each wave has its own threads: waves nest (a list of users describes each user in a wave of
    its own), and a shared pool would deadlock once every worker waits on queued inner tasks.
    """
    if len(tasks) <= 1:
        return {name: task() for name, task in tasks.items()}
    # The caller's context (a recording, deferrals) goes with each task.
    forked, join = call_log.fork(dict(tasks))
    results: dict[str, Any] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(
        max_workers=min(len(forked), limit or len(forked)), thread_name_prefix="wave"
    ) as pool:
        futures = {name: pool.submit(task) for name, task in forked.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the wave ends
                failure = failure or error
    join()
    if failure is not None:
        raise failure
    return results


# Work that must be done but that nothing waits on (a lock's release once its document is
# written): the change that collects it runs it beside its own last wave.
_deferred: contextvars.ContextVar[list[Callable[[], Any]] | None] = contextvars.ContextVar(
    "waves_deferred", default=None
)


def in_context(task: Callable[[], T]) -> Callable[[], T]:
    """``task`` to run in another thread with this thread's context (recordings, deferrals)."""
    context = contextvars.copy_context()
    return lambda: context.run(task)


def defer(task: Callable[[], Any]) -> None:
    """Run ``task`` with the current change's last wave; at once when no change collects."""
    collected = _deferred.get()
    if collected is None:
        task()
    else:
        collected.append(task)


@contextlib.contextmanager
def collecting() -> Iterator[list[Callable[[], Any]]]:
    """Collect what :func:`defer` is given in this block (and in the waves it starts); the
    caller runs it. Whatever is left when the block fails is run before the failure goes on."""
    collected: list[Callable[[], Any]] = []
    token = _deferred.set(collected)
    failed = False
    try:
        yield collected
    except BaseException:
        failed = True
        raise
    finally:
        _deferred.reset(token)
        if failed:
            run_quietly(collected)


def run_quietly(tasks: list[Callable[[], Any]]) -> None:
    """Run deferred tasks together; their failures are logged, not raised (each is a release
    that expires by itself)."""
    import logging

    for name, outcome in _settled({str(i): t for i, t in enumerate(tasks)}).items():
        if isinstance(outcome, BaseException):
            logging.getLogger(__name__).warning("deferred task %s failed: %s", name, outcome)


def _settled(tasks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    def safe(task: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return task()
            except Exception as error:  # noqa: BLE001 - reported by the caller
                return error

        return run

    return wave({name: safe(task) for name, task in tasks.items()}, limit=None)
