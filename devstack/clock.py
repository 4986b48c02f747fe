"""The local stack's time: fires the app's scheduled handlers as EventBridge would (each on its
rate, or one on demand), and keeps the app's clock, which can be moved forward.

Run as the app principal (the environment of ``devstack.local.app_environment``, or, from a
shell beside ``make run``, the app's credentials in .local/stack.json), like ``chalice local``;
the handlers are the ones Lambda runs, invoked as Lambda invokes them (the stage's environment
of .chalice/config.json, the scheduled event EventBridge sends).

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

import contextlib
import datetime
import functools
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from devstack import facts as stack
from devstack import lifetime
from devstack.facts import PROJECT, STAGE

if TYPE_CHECKING:
    from chalice.app import Chalice

# Chalice's Rate units, in seconds (chalice is imported only to fire a handler).
_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
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
    from chalice.app import Rate, ScheduledEventConfig

    periods: dict[str, float] = {}
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig) and isinstance(
            source.schedule_expression, Rate
        ):
            rate = source.schedule_expression
            periods[source.name] = rate.value * _SECONDS[str(rate.unit)]
    return periods


class Invoker:
    """The app's scheduled handlers, invoked as Lambda invokes them: with the function's
    environment from .chalice/config.json (chalice.config's scoping, as ``chalice deploy``
    reads it) set around the call. Chalice's test client does the same, but importing it
    takes its whole command line (seconds)."""

    def __init__(self, app: Chalice) -> None:
        from chalice.config import Config

        self.app = app
        on_disk = json.loads((PROJECT / ".chalice" / "config.json").read_text())
        self.config = Config(
            chalice_stage=STAGE,
            user_provided_params={"project_dir": str(PROJECT)},
            config_from_disk=on_disk,
        )

    def invoke(self, name: str, event: dict) -> object:
        env = self.config.scope(STAGE, name).environment_variables
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            return self.app.handler_map[name](event, _Context(name))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class _Context:
    """What Lambda's context gives a handler (Powertools reads these)."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.aws_request_id = f"local-{time.time_ns()}"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 900

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _client() -> tuple[Invoker, dict[str, float]]:
    install()
    from app import app

    return Invoker(app), schedules(app)


def _fire_now(argv: list[str], out: IO[str]) -> int:
    """Fire the schedules named in ``argv`` now; each answer is one JSON line on ``out``."""
    client, periods = _client()
    dry_run = "--dry-run" in argv
    names = [name for name in argv if name != "--dry-run"]
    unknown = [name for name in names if name not in periods]
    if unknown:
        print(f"unknown schedule(s) {unknown}; known: {sorted(periods)}", file=sys.stderr)
        return 2
    for name in names:
        print(json.dumps({name: fire(client, name, dry_run)}, default=str), file=out, flush=True)
    return 0


def fire(client: Invoker, name: str, dry_run: bool = False) -> object:
    """The scheduled event EventBridge sends, to the handler ``name``."""
    event = {
        "version": "0",
        "id": f"local-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"rule/{name}"],
        "detail": {"dry_run": True} if dry_run else {},
    }
    return client.invoke(name, event)


def _as_the_app() -> None:
    """From a shell beside ``make run``: take the app's credentials from the facts file. Only a
    process already pointed at a local stack (the stack's own clock) keeps its environment:
    credentials in the shell without the stack's endpoint would be real AWS."""
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_ENDPOINT_URL"):
        return
    facts = stack.read()
    os.environ.update({key.upper(): value for key, value in facts["app_credentials"].items()})
    if facts.get("clock_file"):
        os.environ["STACK_CLOCK_FILE"] = facts["clock_file"]
    os.environ.update(
        AWS_ENDPOINT_URL=facts["aws_endpoint_url"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )


@contextlib.contextmanager
def answer_only() -> Iterator[IO[str]]:
    """Yields this process's stdout for the answer, while anything else written there (the
    app's log lines and metrics, which Lambda sends to CloudWatch) goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    answer = os.fdopen(os.dup(saved), "w")
    try:
        yield answer
    finally:
        answer.flush()
        answer.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


HELP = __doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[2] + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(HELP, end="")
        return 0
    try:
        _as_the_app()
        if argv and argv[:1] not in (["advance"], ["now"], ["reset"]):
            stack.check(os.environ["AWS_ENDPOINT_URL"])
    except stack.StackDown as down:
        return stack.say_down(down)
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
    if argv:
        with answer_only() as out:
            return _fire_now(argv, out)
    client, periods = _client()

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
