"""What a revocation writes to a child role's lock: taken beside the role's reads, let go after
the deny is written; renewed before the write only when less than two thirds of the lock's life
would be left ahead of it (a third of it gone since it was taken or last renewed), and after the
overflow policies were read.

The state table's calls are observed through botocore's own events on the app's client (the
calls themselves go to moto unchanged)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib import bootstrap
from tests.support.revocation import CHILD, revocation_document

ROLE = "DeveloperRole"
ARN = f"arn:aws:iam::{CHILD}:role/{ROLE}"
TARGETS = {CHILD: [ROLE]}


def _revoker(**settings):
    revoker = bootstrap.services().lifecycle.revoker
    revoker.settings = dataclasses.replace(revoker.settings, **settings)
    return revoker


def _kind(operation: str, params: dict) -> str | None:
    """What a state table call does to the role's lock or waiting set, if it touches them."""
    key = (params.get("Key") or params.get("Item") or {}).get("pk", {}).get("S", "")
    if key == f"WAITING#{ARN}":
        return f"waiting {operation}"
    if key != f"LOCK#{ARN}":
        return None
    if operation == "PutItem":
        return "take"
    return "renew" if "REMOVE" not in params["UpdateExpression"] else "let go"


@contextmanager
def _observed(revoker, slow_renewal: float = 0.0) -> Iterator[list[str]]:
    """The calls on the role's lock and waiting set, in order; a renewal takes ``slow_renewal``
    seconds more (a throttled request retried)."""
    seen: list[str] = []
    client = revoker.state.client

    def record(params, model, **_):
        kind = _kind(model.name, params)
        if kind is not None:
            seen.append(kind)
            if kind == "renew" and slow_renewal:
                time.sleep(slow_renewal)

    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def test_a_revocation_right_after_its_reads_takes_and_lets_go_of_a_roles_lock_only(client):
    """Nobody waiting, the lock taken a moment ago: two lock writes and the waiting set's one
    read (before: the lock renewed twice in a row between them)."""
    revoker = _revoker()
    with _observed(revoker) as seen:
        assert revoker.revoke(["olga"], TARGETS).done == [CHILD]
    assert sorted(seen) == sorted(["take", "waiting GetItem", "let go"])
    assert "olga" in str(revocation_document(ROLE))


def test_the_lock_is_renewed_when_a_third_of_its_life_went_by_before_the_write(client):
    """The change went on for more than a third of the lock's life (here one second) between
    the reads and the write: the lock is renewed before the write, once."""
    revoker = _revoker(revocation_lock_seconds=1)
    with _observed(revoker) as seen:
        begun = revoker.begin(TARGETS)
        time.sleep(0.4)
        assert begun.commit(["olga"]).done == [CHILD]
    assert seen[-2:] == ["renew", "let go"] and seen.count("renew") == 1
    assert "olga" in str(revocation_document(ROLE))


def test_the_lock_is_renewed_after_the_overflow_policies_were_read(client):
    """A prune reads the role's overflow policies (several IAM calls, each retried when
    throttled) between the reads and the write: the lock is renewed before the write, however
    little time that took."""
    revoker = _revoker(revocation_overflow=4)
    revoker.revoke(["olga"], TARGETS)
    with _observed(revoker) as seen:
        assert revoker.begin(TARGETS).commit([]).done == [CHILD]
    assert seen[-2:] == ["renew", "let go"] and seen.count("renew") == 1


def test_the_lock_is_renewed_again_when_its_renewal_took_a_third_of_its_life(client):
    """The renewal itself took longer than a third of the lock's life (a throttled request
    retried): the write would start with less than two thirds ahead, so the lock is renewed
    again first."""
    revoker = _revoker(revocation_lock_seconds=1)
    with _observed(revoker, slow_renewal=0.5) as seen:
        begun = revoker.begin(TARGETS)
        time.sleep(0.4)
        assert begun.commit(["olga"]).done == [CHILD]
    assert seen.count("renew") == 2 and seen[-1] == "let go"


def test_a_lock_taken_after_waiting_is_renewed_when_its_reads_took_a_third_of_its_life(client):
    """The lock was held by another beside the reads: taken once that one let go, the role read
    again under it; those reads took more than a third of its life, so it is renewed before the
    write (and not when they did not)."""
    revoker = _revoker(revocation_lock_seconds=1)
    for slow, renewals in ((0.0, 0), (0.5, 1)):
        revoker.state.acquire_lock(ARN, "somebody else", 1)
        begun = revoker.begin(TARGETS)  # the lock not taken
        threading.Timer(0.2, revoker.state.release_lock, (ARN, "somebody else")).start()
        pause = _pause_on_waiting_read(revoker.state.client, slow)
        try:
            with _observed(revoker) as seen:
                assert begun.commit(["pete"]).done == [CHILD]
        finally:
            revoker.state.client.meta.events.unregister("before-call.dynamodb.GetItem", pause)
        taken = seen.index("take")
        assert "renew" not in seen[:taken], seen
        assert seen[taken:].count("renew") == renewals, (slow, seen)
    assert "pete" in str(revocation_document(ROLE))


def _pause_on_waiting_read(client, seconds: float):
    def pause(params, **_):
        if seconds and f"WAITING#{ARN}" in params.get("body", b"").decode():
            time.sleep(seconds)

    client.meta.events.register("before-call.dynamodb.GetItem", pause)
    return pause


def test_what_was_read_beside_a_lock_let_go_meanwhile_is_read_again_under_it(client):
    """The role's deny is read beside its lock's taking. Another writer may write it and let the
    lock go in between (our read before its write, our lock after its release): the lock is then
    ours, but the document read is not what is there. It is read again under the lock, and the
    other writer's person is not written over."""
    revoker = _revoker()
    iam = revoker._iam(CHILD)
    read, other = threading.Event(), []

    def document_read(model, **_):
        read.set()

    def before_our_lock(params, **_):
        if f"LOCK#{ARN}" in params.get("body", b"").decode() and not other:
            other.append("wanda")  # (its own calls pass)
            assert read.wait(10), "the deny was not read beside the lock"
            assert revoker.revoke(["wanda"], TARGETS).done == [CHILD]

    iam.meta.events.register("after-call.iam.GetRolePolicy", document_read)
    revoker.state.client.meta.events.register("before-call.dynamodb.PutItem", before_our_lock)
    try:
        begun = revoker.begin(TARGETS)
    finally:
        iam.meta.events.unregister("after-call.iam.GetRolePolicy", document_read)
        revoker.state.client.meta.events.unregister("before-call.dynamodb.PutItem", before_our_lock)
    assert other and begun.commit(["pete"]).done == [CHILD]
    document = revocation_document(ROLE)
    assert "wanda" in str(document) and "pete" in str(document)
