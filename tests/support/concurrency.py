"""Calls released together from as many threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

CALLERS = 20  # how many callers a concurrency test sends at once


def all_at_once(calls: list[Callable[[], object]]) -> list:
    """Run the calls in as many threads, released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls, timeout=120))
