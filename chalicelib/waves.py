"""Run independent AWS calls together: one wave costs one round trip, not one per call."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chalicelib import call_log

T = TypeVar("T")
# botocore clients are thread-safe; 16 stays under the clients' connection pool of 32.
MAX_PARALLEL = 16


def wave(tasks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run every task, wait for all, then raise the first failure (so none is left running
    while the caller records its state) or return the results by name.

    Each wave has its own threads: waves nest (a list of users describes each user in a wave of
    its own), and a shared pool would deadlock once every worker waits on queued inner tasks.
    """
    if len(tasks) <= 1:
        return {name: task() for name, task in tasks.items()}
    tasks, join = call_log.fork(tasks)  # the caller's context (a recording) goes with each task
    results: dict[str, Any] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(len(tasks), MAX_PARALLEL),
                            thread_name_prefix="wave") as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the wave ends
                failure = failure or error
    join()
    if failure is not None:
        raise failure
    return results
