"""The credential hygiene schedule at a company's size, in process against moto provisioned from
the real templates, 50 ms added to every AWS call: 1,000 managed people (a fifth of them with
an access key in use), nothing due. Beside it, what a check of each person would cost (their
keys, console, MFA and the keys' last use: a description of each, 16 at a time), measured on
100 of them, as bench/scale.py measures the reads it replaced.

Calls are counted from those actually sent (bench/aws_timeline.py); IAM's are told apart by
botocore's model of IAM."""

from __future__ import annotations

import time

from bench.aws_timeline import Timeline, fresh_timeline
from bench.scale import LATENCY, PEOPLE, SAMPLE, _environment, _measured, _met

TARGET_IAM_CALLS, TARGET_SECONDS = 20, 2.0
WITH_KEYS = 5  # one person in five holds an access key


def _iam_operations() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_service_model("iam").operation_names)


def schedule(timeline: Timeline) -> list[tuple[str, str, str]]:
    from moto import mock_aws

    from devstack import moto_ext
    from devstack.local import CHILD_ACCOUNTS, Provisioner

    _environment(CHILD_ACCOUNTS)
    moto_ext.apply()
    iam_operations = _iam_operations()
    with mock_aws():
        Provisioner(endpoint_url=None).run()
        import boto3

        from chalicelib import bootstrap
        from chalicelib.kernel.waves import wave
        from devstack.moto_last_used import set_last_used

        bootstrap.reset()
        services = bootstrap.services()
        life, hygiene = services.lifecycle, services.hygiene
        iam = boto3.client("iam")
        names = [f"person{n:04d}" for n in range(PEOPLE)]
        for n, name in enumerate(names):  # as onboarded: the user, its group, its record
            iam.create_user(UserName=name, Path="/managed/")
            iam.add_user_to_group(UserName=name, GroupName="ChildDeveloperGroup")
            if n % WITH_KEYS == 0:
                key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
                set_last_used(name, keys={key_id: services.clock()})
            life.state.put_record(
                name,
                {
                    "status": "active",
                    "groups": ["ChildDeveloperGroup"],
                    "ticket": f"T-{name}",
                    "grants": [],
                },
            )

        def per_person() -> None:
            wave({name: (lambda name=name: life.describe(name)) for name in names[:SAMPLE]})

        base_calls, _, base_seconds = _measured(timeline, per_person)
        rows = []
        for label, fresh in (("its report made anew", True), ("its report reused", False)):
            if fresh:
                time.sleep(1.1)  # a report younger than the setting is reused: make it older
                hygiene.settings = _with_max_age(hygiene.settings, 1)
            else:
                hygiene.settings = _with_max_age(hygiene.settings, 4 * 3600)
            calls, waves, seconds = _measured(timeline, hygiene.run, latency=LATENCY)
            sent = list(timeline.calls)
            iam_calls = sum(1 for call in sent if call.operation in iam_operations)
            result = hygiene.run()
            assert not any(result.values()), result  # nothing was due
            rows.append(
                (
                    f"credential hygiene schedule, {PEOPLE:,} managed people, nothing due, "
                    f"{label} (50 ms per AWS call)",
                    f"{iam_calls} IAM calls ({calls} AWS calls in {waves} waves), {seconds:.2f} s",
                    f"per person, as before: {base_calls} calls and {base_seconds:.1f} s for "
                    f"{SAMPLE} (x{PEOPLE // SAMPLE}: {base_calls * PEOPLE // SAMPLE:,} calls); "
                    f"target at most {TARGET_IAM_CALLS} IAM calls and {TARGET_SECONDS:.0f} s: "
                    f"{_met(iam_calls <= TARGET_IAM_CALLS and seconds < TARGET_SECONDS)}",
                )
            )
    return rows


def _with_max_age(settings, seconds: int):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(settings, hygiene_report_max_age=seconds)


def run() -> list[tuple[str, str, str]]:
    return schedule(fresh_timeline())


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
