"""The claim of a user: a snapshot read again under the lease is let go like the first one; the
heartbeat renews each hold once when it is added and then in rounds."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from chalicelib.kernel.claim import Claim as _Claim
from chalicelib.kernel.claim import Heartbeat


class Read:
    """A snapshot per read, each knowing whether it was let go (its revocation's locks)."""

    def __init__(self) -> None:
        self.made: list[SimpleNamespace] = []

    def __call__(self) -> SimpleNamespace:
        snapshot = SimpleNamespace(abandoned=False)
        snapshot.abandon = lambda: setattr(snapshot, "abandoned", True)
        self.made.append(snapshot)
        return snapshot


class State:
    """A lease whose previous holder let go just now: reads made beside it cannot be trusted."""

    def acquire(self, username: str, owner: str, seconds: int) -> float:
        return time.time() + 1

    def release(self, username: str, owner: str) -> None:
        pass

    def renew(self, username: str, owner: str, seconds: int) -> bool:
        return True


def test_a_snapshot_read_again_under_the_lease_is_let_go_when_no_change_follows():
    operations = SimpleNamespace(
        state=State(), settings=SimpleNamespace(operation_timeout=30, lease_seconds=10)
    )
    read = Read()
    claim = _Claim(operations, "pete", "owner", read)  # type: ignore[arg-type]

    again = claim.snapshot()  # a refused change (400, 404) then ends here
    claim.settle()

    first, second = read.made
    assert again is second
    assert first.abandoned and second.abandoned


class Renewals:
    """Counts a hold's renewals; ``wait`` until it has been renewed ``n`` times."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self, seconds: int) -> bool:
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        return True

    def wait(self, n: int, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout)


def test_a_hold_added_is_renewed_once_at_once_and_the_others_are_not_renewed_again():
    """A ticket's record taken for longer than a lease is brought down to one at once; the
    lease just taken for one is not written again until its round, nor is anything renewed
    again because something else was added."""
    heartbeat = Heartbeat(seconds=300, limit=600)  # no round within the test
    lease, ticket, locks = Renewals(), Renewals(), Renewals()
    try:
        heartbeat.also(lease, at_once=False)
        heartbeat.also(ticket)
        assert ticket.wait(1)
        heartbeat.also(locks)
        assert locks.wait(1)
        time.sleep(0.2)  # anything else it would do at once, done
        assert (lease.count, ticket.count, locks.count) == (0, 1, 1)
    finally:
        heartbeat.stop()


def test_every_hold_is_renewed_each_round():
    heartbeat = Heartbeat(seconds=1, limit=600)  # a round every third of a second
    lease, ticket = Renewals(), Renewals()
    try:
        heartbeat.also(lease, at_once=False)
        heartbeat.also(ticket)
        assert lease.wait(3) and ticket.wait(4)
    finally:
        heartbeat.stop()


def test_a_hold_no_longer_ours_is_not_renewed_again():
    heartbeat = Heartbeat(seconds=1, limit=600)
    gone = Renewals()
    calls = []

    def let_go(seconds: int) -> bool:
        calls.append(seconds)
        return False

    try:
        heartbeat.also(let_go)
        heartbeat.also(gone, at_once=False)
        assert gone.wait(3)
        assert calls == [1]
    finally:
        heartbeat.stop()
