"""moto's clock follows the local stack's app clock (devstack/clock.py).

On AWS there is one time. The local stack moves the app's clock forward (``clock advance 50d``)
to try dates without waiting; moto 5.2.5 stamps what it makes (a user's or an access key's
``CreateDate``, a key's last use, a credential report) with ``moto.core.utils.utcnow``, the real
time. Without this, a key made after ``clock advance 50d`` would be 50 days old to the app the
moment it is made. With it, moto's time is the real time plus the same offset, read from the
same file, so AWS's side and the app's agree as they do on AWS.

moto's modules import ``utcnow`` by name, many of them only when a service is first called, so
the function is changed in place (its code made to call the shifted clock) rather than
rebound in each module. Applied in the process that runs moto; ``follow(path)`` names the clock
file (the local stack's ``clock_file``); until then, and in the tests' in-process moto, the
offset is zero.

A wait is not a date: an SQS long poll waits at most its ``WaitTimeSeconds`` of real time
(Amazon SQS Developer Guide, "Amazon SQS short and long polling"), whatever the clock says.
moto ends a long poll when its ``unix_time`` passes the start plus the wait, so a clock moved
back meanwhile (``clock reset`` after ``clock advance 2h``) kept a receive waiting for two hours,
and the queue poller with it, which then outlived the stack's stop. The wait is measured here in
real time instead, moto looking for messages without waiting in between.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
import types
from pathlib import Path
from typing import Any

from moto.core import utils as moto_utils
from moto.sqs.models import SQSBackend

_lock = threading.Lock()
_followed: Path | None = None
_cached: tuple[float, float] = (-1.0, 0.0)  # (the file's mtime, its offset in seconds)
_real: Any = None


def follow(path: str | Path | None) -> None:
    """From now on moto's time is the real time plus the offset kept in ``path``."""
    global _followed, _cached
    with _lock:
        _followed = Path(path) if path else None
        _cached = (-1.0, 0.0)


def offset() -> float:
    """The followed file's offset, read again only when the file changed."""
    global _cached
    path = _followed
    if path is None:
        return 0.0
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return 0.0
    if mtime != _cached[0]:
        try:
            seconds = float(json.loads(path.read_text())["offset_seconds"])
        except (OSError, ValueError, KeyError):
            seconds = 0.0
        _cached = (mtime, seconds)
    return _cached[1]


def _devstack_shifted_utcnow() -> datetime.datetime:
    """moto's naive UTC time, moved by the stack's offset."""
    return _real() + datetime.timedelta(seconds=offset())


def _calls_the_shifted_clock() -> datetime.datetime:
    # Its code becomes moto's utcnow's: the name is looked up in moto.core.utils' globals.
    return _devstack_shifted_utcnow()


def apply() -> None:
    """Idempotent: moto's ``utcnow``, wherever it was imported, follows the stack's clock."""
    global _real
    with _lock:
        if _real is not None:
            return
        original = moto_utils.utcnow
        _real = types.FunctionType(
            original.__code__, original.__globals__, "real_utcnow", original.__defaults__
        )
        original.__globals__["_devstack_shifted_utcnow"] = _devstack_shifted_utcnow
        original.__code__ = _calls_the_shifted_clock.__code__
        SQSBackend.receive_message = _waiting_in_real_time(SQSBackend.receive_message)  # type: ignore[method-assign]


def _waiting_in_real_time(receive: Any) -> Any:
    def receive_message(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            found = receive(self, queue_name, count, 0, *args, **kwargs)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            # Until a message is sent, or a second (one in flight may be visible again), as
            # moto waits; its condition takes a float.
            self.get_queue(queue_name).wait_for_messages(min(left, 1.0))  # type: ignore[arg-type]

    return receive_message
