"""Run independent AWS calls together: one wave costs one round trip, not one per call."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Fork = Callable[
    [dict[str, Callable[[], Any]]], tuple[dict[str, Callable[[], Any]], Callable[[], None]]
]
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
    forked, join = _fork(dict(tasks))
    results: dict[str, Any] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(
        max_workers=min(len(forked), limit or len(forked)), thread_name_prefix="wave"
    ) as pool:
        futures = {name: pool.submit(task) for name, task in forked.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BaseException as error:  # re-raised below, after the wave ends
                failure = failure or error
    join()
    if failure is not None:
        raise failure
    return results


def in_context(task: Callable[[], T]) -> Callable[[], T]:
    """``task`` to run in another thread with this thread's context (a recording)."""
    context = contextvars.copy_context()
    return lambda: context.run(task)


def _plain(
    tasks: dict[str, Callable[[], Any]],
) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    return {name: in_context(task) for name, task in tasks.items()}, lambda: None


_fork: Fork = _plain


def set_fork(fork: Fork) -> None:
    """How each wave hands its tasks the caller's context. The dry-run recorder installs its
    own, which also gives each task its own track in the plan; the waves know nothing of it."""
    global _fork
    _fork = fork
