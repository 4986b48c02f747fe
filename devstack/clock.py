"""Fires the app's scheduled handlers as EventBridge would: each on its rate, or one on demand.

Run as the app principal (the environment of ``devstack.local.app_environment``, or, from a
shell beside ``make run``, the app's credentials in .local/stack.json), like ``chalice local``; the handlers are the ones Lambda runs, invoked through Chalice's test client
with the scheduled event EventBridge sends.

    python -m devstack.clock                 # every handler on its rate, until stopped
    python -m devstack.clock expire_grants   # one handler now; prints its result
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from chalice.app import Rate, ScheduledEventConfig
from chalice.test import Client

from devstack.local import PROJECT, STAGE

_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


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


def fire(client: Client, name: str) -> object:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[f"rule/{name}"]
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
    os.environ.update(
        AWS_ENDPOINT_URL=facts["aws_endpoint_url"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )


def main(argv: list[str]) -> int:
    _as_the_app()
    from app import app

    client = Client(app, stage_name=STAGE, project_dir=str(PROJECT))
    periods = schedules(app)
    if argv:
        unknown = [name for name in argv if name not in periods]
        if unknown:
            print(f"unknown schedule(s) {unknown}; known: {sorted(periods)}", file=sys.stderr)
            return 2
        for name in argv:
            print(json.dumps({name: fire(client, name)}, default=str), flush=True)
        return 0

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    due = {name: time.monotonic() + period for name, period in periods.items()}
    while not stopped.is_set():
        now = time.monotonic()
        for name, at in due.items():
            if at <= now:
                try:
                    fire(client, name)
                except Exception as error:  # a failed run waits for its next turn, as in Lambda
                    print(f"{name} failed: {error}", file=sys.stderr, flush=True)
                due[name] = now + periods[name]
        stopped.wait(min(due.values()) - time.monotonic() if due else 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
