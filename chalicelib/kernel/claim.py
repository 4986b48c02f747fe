"""The claim of a user for one change: its lease (one change per user at a time), the snapshot
read beside it, and the heartbeat that renews what the running change holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from chalicelib.kernel import waves
from chalicelib.kernel.errors import AppError, InProgress
from chalicelib.kernel.ports import StateStore
from chalicelib.kernel.telemetry import logger
from chalicelib.settings import Settings


class Holder(Protocol):
    """Who claims: the state store holding the leases, and the settings timing them."""

    @property
    def state(self) -> StateStore: ...
    @property
    def settings(self) -> Settings: ...


class Claim:
    """The user's lease and the operation's snapshot, read together beside the ticket's claim.

    Reads made beside the acquisition can be trusted only if nobody held the user while they
    were made: when the previous holder let go after they started (less a margin for clocks),
    they are made again, now under the lease."""

    MARGIN = 0.1  # seconds: far more than the clocks of two Lambda hosts disagree (AWS Time Sync)
    WAIT = 2.0  # seconds a busy lease is waited for before the change is refused as in progress

    def __init__(
        self, holder: Holder, username: str, owner: str, read: Callable[[], Any] | None
    ) -> None:
        self._state, self._username, self._owner = holder.state, username, owner
        self._timeout = holder.settings.lease_seconds
        self.heartbeat = Heartbeat(self._timeout, holder.settings.operation_timeout)
        self.reads = read is not None
        self._read = read
        self._held = False
        self._started = time.time()
        self._future: Future | None = None
        self._reread: Any = None  # read again under the lease: let go like the first
        if read is not None:
            self._future = _CLAIMS.submit(waves.in_context(self._both))

    def _both(self) -> Any:
        """The lease and the snapshot together; the snapshot is None when it cannot be
        trusted (the lease was busy, or let go while the reads were made)."""
        found = waves.wave({"lease": self._try_acquire, "snapshot": self._read or (lambda: None)})
        if found["lease"] is None or found["lease"] > self._started - self.MARGIN:
            _abandon(found["snapshot"])
            return None
        return found["snapshot"]

    def _try_acquire(self) -> float | None:
        try:
            held_until = self._state.acquire(self._username, self._owner, self._timeout)
        except InProgress:
            return None
        self._held = True
        # (taken for one lease just now: renewed from the next round)
        self.heartbeat.also(partial(self._state.renew, self._username, self._owner), at_once=False)
        return held_until

    def snapshot(self) -> Any:
        """Called once the ticket is ours: the lease held and the snapshot read under it. A
        lease another request holds is waited for a moment: it may be a duplicate of this very
        ticket, refused by the ticket's claim and letting go at once."""
        found = self._future.result() if self._future is not None else None
        if found is not None:
            return found
        deadline = time.monotonic() + self.WAIT
        delay = 0.05
        while not self._held:
            if self._try_acquire() is None:
                if time.monotonic() > deadline:
                    raise InProgress(
                        f"another change to {self._username} is in progress; retry in a minute"
                    )
                time.sleep(delay)
                delay = min(2 * delay, 0.4)
        self._reread = self._read() if self._read else None
        return self._reread

    def release(self) -> None:
        if self._held:
            self._held = False
            try:
                self._state.release(self._username, self._owner)
            except AppError:
                # The lease expires by itself lease_seconds after its last renewal.
                logger().warning("could not release the lease", extra={"username": self._username})

    def settle(self) -> None:
        """After the ticket's claim: a snapshot still being read is waited for, and a lease
        taken for a change that never ran (a replay, a refused ticket) is let go."""
        self.heartbeat.stop()  # first: a process that dies here renews nothing any more
        if self._future is not None:
            try:
                _abandon(self._future.result())  # nothing once the change committed it
            except Exception:  # the change that needed it reported it
                pass
        _abandon(self._reread)
        self.release()


class Heartbeat:
    """Renews what a running change holds (the user's lease, the ticket's in-progress record,
    the revocation's locks on child roles) every third of the lease, and each as it is added
    unless it was just taken for one lease: a change whose process died is taken over one lease
    after its last renewal, and one that hangs once ``limit`` seconds have passed."""

    def __init__(self, seconds: int, limit: int) -> None:
        self._seconds, self._limit = seconds, limit
        self._renewals: list[Callable[[int], bool]] = []
        self._added: list[Callable[[int], bool]] = []  # to renew at once
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def also(self, renew: Callable[[int], bool], at_once: bool = True) -> None:
        """Renew ``renew`` (which says False once there is nothing of ours to renew) too, from
        now: at once, so that what was taken for longer than a lease is brought down to one,
        unless ``at_once`` is False (it was just taken for one lease). Only the new one is
        renewed then; the others keep their rounds, so a change writes each renewal once."""
        with self._lock:
            self._renewals.append(renew)
            if at_once:
                self._added.append(renew)
        self._wake.set()
        if self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def _beat(self) -> None:
        given_up = time.monotonic() + self._limit
        round_due = time.monotonic() + self._seconds / 3
        while True:
            self._wake.wait(max(0.0, round_due - time.monotonic()))
            self._wake.clear()
            if self._stopped.is_set():
                return
            if time.monotonic() > given_up:
                logger().warning("a change ran past OPERATION_TIMEOUT; its lease is let run out")
                return
            with self._lock:
                if time.monotonic() >= round_due:  # the round: everything held
                    round_due = time.monotonic() + self._seconds / 3
                    due, self._added = list(self._renewals), []
                else:  # woken for what was just added
                    due, self._added = self._added, []
            for renew in due:
                try:
                    if not renew(self._seconds):
                        with self._lock:  # let go, or saved: nothing to renew
                            if renew in self._renewals:
                                self._renewals.remove(renew)
                except AppError as error:  # the next round tries again, well within the lease
                    logger().warning("could not renew a lease", extra={"reason": error.message})
                except Exception:
                    logger().exception("the heartbeat stopped; the lease runs out")
                    return
                except BaseException:  # the process is going away: so is its hold
                    return


def _abandon(snapshot: Any) -> None:
    if snapshot is not None:
        snapshot.abandon()


# Threads that claim a user while the ticket is claimed: a few per change in flight.
_CLAIMS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="claim")
