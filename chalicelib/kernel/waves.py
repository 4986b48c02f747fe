"""Run independent AWS calls together: one wave costs one round trip, not one per call."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Fork = Callable[
    [dict[str, Callable[[], Any]]], tuple[dict[str, Callable[[], Any]], Callable[[], None]]
]
# botocore clients are thread-safe; 16 stays under the clients' connection pool of 32.
MAX_PARALLEL = 16


class OutOfTime(Exception):  # noqa: N818 (a signal, not a failure)
    """The caller's time to answer ran out: the work stops before its next wave, where a crash
    could have stopped it too, and is finished elsewhere under the same ticket."""


# When the caller must have its answer (time.monotonic()); None: no limit.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """No wave starts in the block (nor in the waves it runs) once ``seconds`` have passed."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def no_deadline() -> None:
    """The changes are made: what is left (the answer's reads) finishes whatever the time."""
    _deadline.set(None)


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
    due = _deadline.get()
    if due is not None and time.monotonic() > due:
        raise OutOfTime("no time left to answer within")
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
