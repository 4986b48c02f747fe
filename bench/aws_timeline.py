"""Every AWS call of the process on a timeline, with a fixed added latency per call.

Registered in botocore's built-in handlers, so every client made afterwards (the app's root and
child-account clients included) is measured; the latency stands in for IAM's real round trip.
A session reads those handlers once, when it is made, and some of the bench's sessions are kept
for the process (``devstack.local.shared_session``): so the process has one timeline, registered
before the first session is made, and ``fresh_timeline()`` hands it to each benchmark reset.
"""

from __future__ import annotations

import bisect
import functools
import threading
import time
from dataclasses import dataclass

import botocore.handlers


@dataclass
class Call:
    operation: str
    start: float
    end: float
    retries: int = 0  # attempts after the first (throttled or failed ones)


class Timeline:
    def __init__(self) -> None:
        self.latency = 0.0
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self._before))
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", self._delay))
        botocore.handlers.BUILTIN_HANDLERS.append(("after-call", self._after))

    def _before(self, context, **_):  # type: ignore[no-untyped-def]
        context["bench_start"] = time.perf_counter()

    def _delay(self, **_):  # type: ignore[no-untyped-def]
        if self.latency:
            time.sleep(self.latency)

    def _after(self, model, context, http_response=None, parsed=None, **_):  # type: ignore[no-untyped-def]
        if http_response is not None and http_response.raw is None:
            return  # answered by a dry run, never sent
        retries = (parsed or {}).get("ResponseMetadata", {}).get("RetryAttempts", 0)
        call = Call(
            model.name,
            context.get("bench_start", time.perf_counter()),
            time.perf_counter(),
            retries,
        )
        with self._lock:
            self.calls.append(call)

    def reset(self) -> None:
        with self._lock:
            self.calls = []


@functools.cache
def _the_timeline() -> Timeline:
    return Timeline()


def fresh_timeline() -> Timeline:
    """The process's timeline, for one benchmark: nothing recorded yet, no latency added."""
    found = _the_timeline()
    found.reset()
    found.latency = 0.0
    return found


def depths(calls: list[Call]) -> list[int]:
    """For each call, the longest chain of calls that ran one after another up to and including
    it: the round trips it waited for on the critical path."""
    order = sorted(range(len(calls)), key=lambda i: calls[i].end)
    depth = [0] * len(calls)
    # The calls already placed, by end, and the deepest chain among the first k of them: a
    # call's predecessors are those that ended before it started (n log n, for bursts of
    # thousands of calls).
    ends: list[float] = []
    deepest: list[int] = []
    for i in order:
        k = bisect.bisect_right(ends, calls[i].start)
        depth[i] = 1 + (deepest[k - 1] if k else 0)
        ends.append(calls[i].end)
        deepest.append(max(depth[i], deepest[-1] if deepest else 0))
    return depth
