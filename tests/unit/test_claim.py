"""The claim of a user: a snapshot read again under the lease is let go like the first one."""

from __future__ import annotations

import time
from types import SimpleNamespace

from chalicelib.kernel.claim import Claim as _Claim


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
