"""The runner runs what capabilities register, as the catalogue names it; an executor it takes
stops where its changes end in a dry run. No moto here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.kernel import recording
from chalicelib.kernel.runner import Operations


class Executor:
    """A capability's executor that changes nothing: what it would do is a call of its hook."""

    def __init__(self) -> None:
        self.changes_done = lambda: None

    def read(self, action: str, username: str, request: object = None) -> None:
        return None

    def perform(self, action: str, username: str, request: object, snap: object = None) -> dict:
        self.changes_done()
        return {"username": username, "answered": True}


def runner() -> Operations:
    settings = SimpleNamespace(idempotency_ttl=3600, lease_seconds=10)
    return Operations(settings, state=None, tickets=None, events=None)  # type: ignore[arg-type]


def test_a_registered_executor_stops_where_its_changes_end_in_a_dry_run():
    ops, executor = runner(), Executor()
    ops.register(executor, ("move",))

    assert ops.executor("move") is executor
    with recording.recording(dry_run=True), pytest.raises(recording.PlanComplete):
        executor.perform("move", "pete", None)
    plan = recording.plan(lambda: executor.perform("move", "pete", None))
    assert plan.dry_run and plan.calls == []


def test_only_the_catalogues_runner_changes_register_and_each_once():
    ops = runner()
    with pytest.raises(ValueError, match="catalogue"):
        ops.register(Executor(), ("request",))  # the approvals service runs requests
    with pytest.raises(ValueError, match="catalogue"):
        ops.register(Executor(), ("promote",))
    ops.register(Executor(), ("suspend",))
    with pytest.raises(ValueError, match="already"):
        ops.register(Executor(), ("suspend",))
    with pytest.raises(LookupError):
        ops.executor("restore")
