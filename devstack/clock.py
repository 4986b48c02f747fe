"""The local stack's time: fires the app's scheduled handlers as EventBridge would (each on its
rate, or one on demand), and keeps the app's clock, which can be moved forward.

Run as the app principal (the environment of ``devstack.local.app_environment``, or, from a
shell beside ``make run``, the app's credentials in .local/stack.json), like ``chalice local``;
the handlers are the ones Lambda runs, invoked through Chalice's test client with the scheduled
event EventBridge sends.

    python -m devstack.clock                        # every handler on its rate, until stopped
    python -m devstack.clock expire_grants          # one handler now; prints its result
    python -m devstack.clock credential_hygiene --dry-run   # its plan (detail dry_run: true)
    python -m devstack.clock advance 50d            # the app's clock 50 days on (also h, m)
    python -m devstack.clock now                    # the app's time
    python -m devstack.clock reset                  # back to the real time

The app's clock is the real time plus an offset kept in a file (``STACK_CLOCK_FILE``; the local
stack's is named in .local/stack.json as ``clock_file``). Every process of the stack (the API
under ``chalice local``, the queue poller, this clock) builds the app's services with
:func:`now` as their clock (:func:`install`), so grants, ``until`` dates, dormant credentials
and the like can be tried without waiting. AWS's side (moto) follows the same offset
(devstack/moto_clock.py): a user made now and the clock moved 50 days on is a user made 50 days
ago, and a key made after the move is new.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from chalice.app import Rate, ScheduledEventConfig
from chalice.test import Client

from devstack import lifetime
from devstack.local import PROJECT, STAGE

_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}
_UNITS = {"d": 86400, "h": 3600, "m": 60}
_SPAN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([dhm])$")


def clock_file() -> Path | None:
    name = os.environ.get("STACK_CLOCK_FILE")
    return Path(name) if name else None


def offset() -> float:
    """Seconds the app's clock runs ahead of the real time."""
    path = clock_file()
    try:
        return float(json.loads(path.read_text())["offset_seconds"]) if path else 0.0
    except (OSError, ValueError, KeyError):
        return 0.0


def now() -> datetime.datetime:
    """The app's time in the local stack."""
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset())


def advance(span: str) -> datetime.datetime:
    """Move the app's clock ``span`` ("50d", "3h", "10m") forward; returns the new time."""
    found = _SPAN.match(span.strip().lower())
    if not found:
        raise ValueError(f"{span!r}: give a number and d, h or m, such as 50d")
    path = clock_file()
    if path is None:
        raise RuntimeError("STACK_CLOCK_FILE is not set: is the local stack running?")
    seconds = offset() + float(found.group(1)) * _UNITS[found.group(2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"offset_seconds": seconds}) + "\n")
    return now()


def reset() -> datetime.datetime:
    """Put the app's clock back to the real time (what was made meanwhile keeps its dates)."""
    path = clock_file()
    if path is None:
        raise RuntimeError("STACK_CLOCK_FILE is not set: is the local stack running?")
    path.write_text(json.dumps({"offset_seconds": 0.0}) + "\n")
    return now()


def install() -> None:
    """Build this process's app services with the stack's clock (before the first handler)."""
    from chalicelib import bootstrap

    if not isinstance(bootstrap.build, functools.partial):
        bootstrap.build = functools.partial(bootstrap.build, clock=now)


def schedules(app) -> dict[str, float]:
    """Each scheduled handler's name and period in seconds."""
    periods: dict[str, float] = {}
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig) and isinstance(
            source.schedule_expression, Rate
        ):
            rate = source.schedule_expression
            periods[source.name] = rate.value * _SECONDS[rate.unit]
    return periods


def fire(client: Client, name: str, dry_run: bool = False) -> object:
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={"dry_run": True} if dry_run else {},
        resources=[f"rule/{name}"],
    )
    return client.lambda_.invoke(name, event).payload


def _as_the_app() -> None:
    """From a shell beside ``make run``: take the app's credentials from the facts file. Only a
    process already pointed at a local stack (the stack's own clock) keeps its environment:
    credentials in the shell without the stack's endpoint would be real AWS."""
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_ENDPOINT_URL"):
        return
    facts = json.loads(
        Path(os.environ.get("STACK_FILE", PROJECT / ".local" / "stack.json")).read_text()
    )
    os.environ.update({key.upper(): value for key, value in facts["app_credentials"].items()})
    if facts.get("clock_file"):
        os.environ["STACK_CLOCK_FILE"] = facts["clock_file"]
    os.environ.update(
        AWS_ENDPOINT_URL=facts["aws_endpoint_url"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )


def main(argv: list[str]) -> int:
    _as_the_app()
    if argv[:1] == ["advance"] and len(argv) == 2:
        try:
            print(advance(argv[1]).isoformat(timespec="seconds"), flush=True)
        except (ValueError, RuntimeError) as error:
            print(error, file=sys.stderr)
            return 2
        return 0
    if argv == ["now"]:
        print(now().isoformat(timespec="seconds"), flush=True)
        return 0
    if argv == ["reset"]:
        try:
            print(reset().isoformat(timespec="seconds"), flush=True)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 2
        return 0
    install()
    from app import app

    client = Client(app, stage_name=STAGE, project_dir=str(PROJECT))
    periods = schedules(app)
    dry_run = "--dry-run" in argv
    argv = [name for name in argv if name != "--dry-run"]
    if argv:
        unknown = [name for name in argv if name not in periods]
        if unknown:
            print(f"unknown schedule(s) {unknown}; known: {sorted(periods)}", file=sys.stderr)
            return 2
        for name in argv:
            print(json.dumps({name: fire(client, name, dry_run)}, default=str), flush=True)
        return 0

    lifetime.end_with_parent()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    due = {name: time.monotonic() + period for name, period in periods.items()}
    while not stopped.is_set():
        tick = time.monotonic()
        for name, at in due.items():
            if at <= tick:
                try:
                    fire(client, name)
                except Exception as error:  # a failed run waits for its next turn, as in Lambda
                    print(f"{name} failed: {error}", file=sys.stderr, flush=True)
                due[name] = tick + periods[name]
        stopped.wait(min(due.values()) - time.monotonic() if due else 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
