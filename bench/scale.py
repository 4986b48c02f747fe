"""Reads and revocations at a company's size, in process against moto provisioned from the real
templates, 50 ms added to every AWS call:

- ``GET /users`` and ``/access-matrix`` with 1,000 managed people, beside the per-person reads
  they replaced (a description of each person, 16 at a time), measured on 100 of them;
- one person's session revocation in 100 child accounts, beside the same revocation one
  account after another.

Waves are counted from the calls actually sent (bench/aws_timeline.py)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from bench.aws_timeline import Timeline, depths, fresh_timeline
from devstack.local import PROJECT, REGION

LATENCY = 0.05
WIDE = 2.0  # per call, where hundreds of calls go at once (see revocation())
PEOPLE, SAMPLE = 1000, 100
ACCOUNTS = 100
TARGET_CALLS, TARGET_SECONDS, TARGET_WAVES = 30, 3.0, 4


def _environment(children: tuple[str, ...]) -> None:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    os.environ.update(
        {
            **config["environment_variables"],
            **config["stages"]["dev"]["environment_variables"],
            "CHILD_ACCOUNT_IDS": ",".join(children),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _measured(
    timeline: Timeline, work: Callable[[], Any], latency: float = LATENCY
) -> tuple[int, int, float]:
    """(calls, waves, seconds) of ``work`` at ``latency`` per call."""
    timeline.reset()
    timeline.latency = latency
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    timeline.latency = 0
    calls = list(timeline.calls)
    return len(calls), max(depths(calls), default=0), seconds


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def reads(timeline: Timeline) -> list[tuple[str, str, str]]:
    from moto import mock_aws

    from devstack import moto_ext
    from devstack.local import CHILD_ACCOUNTS, Provisioner

    _environment(CHILD_ACCOUNTS)
    moto_ext.apply()
    rows = []
    with mock_aws():
        Provisioner(endpoint_url=None).run()
        import boto3

        from chalicelib import bootstrap
        from chalicelib.lifecycle import queries

        bootstrap.reset()
        services = bootstrap.services()
        life = services.lifecycle
        iam = boto3.client("iam")
        names = [f"person{n:04d}" for n in range(PEOPLE)]
        for name in names:  # as onboarded: the user, its group, its record
            iam.create_user(UserName=name, Path="/managed/")
            iam.add_user_to_group(UserName=name, GroupName="ChildDeveloperGroup")
            life.state.put_record(
                name,
                {
                    "status": "active",
                    "groups": ["ChildDeveloperGroup"],
                    "ticket": f"T-{name}",
                    "grants": [],
                },
            )
        time.sleep(1.1)  # the credential report is stamped to the second
        from chalicelib.kernel.waves import wave

        def per_person() -> None:  # what GET /users did before: a description of each
            wave({name: (lambda name=name: life.describe(name)) for name in names[:SAMPLE]})

        base_calls, _, base_seconds = _measured(timeline, per_person)
        for label, view in (
            ("GET /users", lambda: queries.list_users(life)),
            ("GET /access-matrix", lambda: queries.access_matrix(life)),
        ):
            calls, waves, seconds = _measured(timeline, view)
            rows.append(
                (
                    f"{label}, {PEOPLE:,} managed people (50 ms per AWS call)",
                    f"{calls} AWS calls in {waves} waves, {seconds:.2f} s",
                    f"per person, as before: {base_calls} calls and {base_seconds:.1f} s for "
                    f"{SAMPLE} (x{PEOPLE // SAMPLE}: {base_calls * PEOPLE // SAMPLE:,} calls); target "
                    f"at most {TARGET_CALLS} calls and {TARGET_SECONDS:.0f} s: "
                    f"{_met(calls <= TARGET_CALLS and seconds <= TARGET_SECONDS)}",
                )
            )
    return rows


def revocation(timeline: Timeline) -> list[tuple[str, str, str]]:
    from moto import mock_aws

    from devstack import moto_ext
    from devstack.local import Provisioner

    children = tuple(f"{300000000000 + n:012d}" for n in range(ACCOUNTS))
    _environment(children)
    moto_ext.apply()
    with mock_aws():
        Provisioner(endpoint_url=None, children=children).run()
        from chalicelib import bootstrap
        from chalicelib.kernel import waves

        bootstrap.reset()
        revoker = bootstrap.services().lifecycle.revoker

        def revoke(name: str) -> None:
            revoker.revoke([name])

        # moto answers in this process, about 13 ms of CPU a call: at 50 ms a call, 400 calls
        # sent together would queue behind each other here as they do not at AWS. At 2 s a
        # call they overlap, and the waves counted are those of the code.
        cold = _measured(timeline, lambda: revoke("sam"), latency=WIDE)
        # A warm container: the accounts' credentials and clients are reused.
        calls, depth, seconds = _measured(timeline, lambda: revoke("pete"), latency=WIDE)
        # The same, one account and one role after another.
        original = waves.wave

        def one_at_a_time(tasks: dict, limit: int | None = None) -> dict:
            return {name: task() for name, task in tasks.items()}

        bootstrap.reset()
        revoker = bootstrap.services().lifecycle.revoker
        import chalicelib.aws.revocation as module

        module.wave = one_at_a_time  # type: ignore[assignment]
        try:
            base_calls, base_depth, base_seconds = _measured(timeline, lambda: revoke("olga"))
        finally:
            module.wave = original  # type: ignore[assignment]
    return [
        (
            f"one person's session revocation in {ACCOUNTS} child accounts",
            f"{depth} waves ({calls} calls; {seconds:.1f} s at {WIDE:.0f} s per call); the "
            f"container's first: {cold[1]} waves ({cold[0]} calls, AssumeRole included)",
            f"one account after another: {base_depth} waves ({base_calls} calls, "
            f"{base_seconds:.1f} s at 50 ms per call); target at most {TARGET_WAVES} waves: "
            f"{_met(depth <= TARGET_WAVES)}",
        )
    ]


def run() -> list[tuple[str, str, str]]:
    timeline = fresh_timeline()
    return reads(timeline) + revocation(timeline)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
