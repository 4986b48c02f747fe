"""The changing AWS calls an operation makes, wave by wave, and the dry run that makes none.

Every client made by AwsClients reports its calls here; outside a recording nothing is kept.
A recording keeps IAM's changing calls (in the root and every child account) with the wave they
ran in. Waves are counted along the path of ``waves.wave`` calls that led to a call, not by the
clock, so a plan and its execution number them the same whatever the threads' timing.

A dry run records the same way but answers every changing call of every service itself instead
of sending it: reads still reach AWS, so the plan is built by the real code from the real state,
and nothing changes.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.kernel import waves

T = TypeVar("T")

_READS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Simulate")
# Reaching a child account changes nothing there.
_HARMLESS = frozenset({"AssumeRole"})
# Values never shown in a plan or kept in the audit trail.
_SECRET_PARAMS = frozenset({"Password", "NewPassword", "OldPassword"})
SECRET = "(secret)"
# The root account's label until the plan names it (clients do not know their account's id).
ROOT = "root"


class PlanComplete(Exception):
    """Raised where an operation starts building its answer: a dry run needs only the calls."""


def is_change(operation: str) -> bool:
    return not operation.startswith(_READS) and operation not in _HARMLESS


@dataclass
class _Track:
    """Where a thread of work stands: waves of calls behind it, and its place for ordering."""

    step: int = 0
    path: tuple[int, ...] = ()
    seq: int = 0


@dataclass
class Recording:
    dry_run: bool = False
    calls: list[dict] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, account: str, service: str, operation: str, params: dict, track: _Track) -> None:
        track.step += 1
        track.seq += 1
        call = {
            "account": account,
            "service": service,
            "operation": operation,
            "params": _shown(params),
        }
        with self._lock:
            self.calls.append({**call, "_wave": track.step, "_order": track.path + (track.seq,)})

    def waves(self, root_account: str = ROOT) -> list[list[dict]]:
        """The calls by wave (only waves that change something), each in the code's order."""
        with self._lock:
            calls = sorted(self.calls, key=lambda c: (c["_wave"], c["_order"]))
        grouped: dict[int, list[dict]] = {}
        for call in calls:
            public = {k: v for k, v in call.items() if not k.startswith("_")}
            if public["account"] == ROOT:
                public["account"] = root_account
            grouped.setdefault(call["_wave"], []).append(public)
        return list(grouped.values())


_recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar(
    "call_log_recording", default=None
)
_track: contextvars.ContextVar[_Track | None] = contextvars.ContextVar(
    "call_log_track", default=None
)


@contextlib.contextmanager
def recording(dry_run: bool = False) -> Iterator[Recording]:
    """Record the changing calls made in this block (and in the waves it starts)."""
    record = Recording(dry_run=dry_run)
    tokens = _recording.set(record), _track.set(_Track())
    try:
        yield record
    finally:
        _track.reset(tokens[1])
        _recording.reset(tokens[0])


def planning() -> bool:
    record = _recording.get()
    return record is not None and record.dry_run


def changes_done() -> None:
    """Where an operation's changes end and its answer begins: a dry run stops here (it needs
    only the calls), and a change that got this far answers whatever the time (only reads are
    left)."""
    waves.no_deadline()
    if planning():
        raise PlanComplete()


def plan(work: Callable[[], Any]) -> Recording:
    """The changing calls ``work`` would make, made by the real code against the real state
    with every changing call answered instead of sent."""
    with recording(dry_run=True) as record:
        try:
            work()
        except PlanComplete:
            pass  # the changes are all known; the answer is not needed
    return record


def the_plan(
    action: str, username: str, ticket: str, before: dict | None, waves: list[list[dict]]
) -> dict:
    """A dry run's answer: the user before, and the changing calls by wave and account."""
    return {
        "dry_run": True,
        "action": action,
        "username": username,
        "ticket": ticket,
        "state_before": before,
        "calls": sum(len(wave) for wave in waves),
        "waves": by_wave_and_account(waves),
    }


def by_wave_and_account(waves: list[list[dict]]) -> list[dict]:
    """Waves numbered from 1, each with its calls grouped by account."""
    numbered = []
    for number, calls in enumerate(waves, start=1):
        accounts: dict[str, list[dict]] = {}
        for call in calls:
            accounts.setdefault(call["account"], []).append(
                {k: v for k, v in call.items() if k != "account"}
            )
        numbered.append({"wave": number, "accounts": accounts})
    return numbered


def fork(
    tasks: dict[str, Callable[[], T]],
) -> tuple[dict[str, Callable[[], T]], Callable[[], None]]:
    """Tasks of one wave, each carrying the caller's context and its own track; call the
    returned function once they all ended."""
    parent = _track.get()
    if parent is None or len(tasks) <= 1:  # not recording, or run inline on the caller's track
        return {name: _in_context(task, None) for name, task in tasks.items()}, lambda: None
    children = [
        _Track(step=parent.step, path=parent.path + (parent.seq, index))
        for index in range(len(tasks))
    ]
    forked = {
        name: _in_context(task, child)
        for (name, task), child in zip(tasks.items(), children, strict=True)
    }

    def join() -> None:
        parent.step = max(child.step for child in children)
        parent.seq += 1

    return forked, join


def _in_context(task: Callable[[], T], track: _Track | None) -> Callable[[], T]:
    context = contextvars.copy_context()

    def run() -> T:
        if track is not None:
            _track.set(track)
        return task()

    return lambda: context.run(run)


def active() -> Recording | None:
    """The recording the current call belongs to, if any."""
    return _recording.get()


def current_track() -> _Track:
    return _track.get() or _Track()


def _shown(params: dict) -> dict:
    return {key: SECRET if key in _SECRET_PARAMS else value for key, value in params.items()}


def compact(waves: list[list[dict]], limit: int = 256) -> list[list[dict]]:
    """The calls for the audit trail: long values (policy documents) as their SHA-256, so an
    offboarding's calls fit in one item and still compare with its plan."""

    def short(value: Any) -> Any:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if len(text) <= limit:
            return value
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    return [
        [{**call, "params": {k: short(v) for k, v in call["params"].items()}} for call in wave]
        for wave in waves
    ]


waves.set_fork(fork)
