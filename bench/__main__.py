"""``make bench``: every figure in one table, printed and written to bench/results.md.
``python -m bench calls`` (or ``layoff``, or both) runs those alone and puts their rows in place of
their last figures.

Each figure is a median over repeated runs in this one process run, with what it is compared to
measured beside it in the same run. Wall-clock figures depend on the machine and its load: the
table says what machine it ran on.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _script(name: str, label: str) -> tuple[str, str, str]:
    """The benchmarks that print one line of their own."""
    done = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / name)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line and not line.startswith("{")]
    if done.returncode != 0 or not lines:
        return (label, "failed", (done.stderr.strip().splitlines() or ["no output"])[-1])
    return (label, lines[-1], "")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown cpu",
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average {load}"
    )


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    return ["| figure | measured | beside it |", "|---|---|---|"] + [
        f"| {a} | {b} | {c} |" for a, b, c in rows
    ]


def _alone(name: str) -> list[tuple[str, str, str]]:
    """One benchmark's rows (``python -m bench <name>``)."""
    from bench import calls, layoff

    alone = {
        "calls": calls.run,
        "layoff": lambda: layoff.run(int(os.environ.get("BENCH_LAYOFF_PEOPLE", "1000"))),
    }
    if name not in alone:
        raise SystemExit(f"unknown benchmark {name!r}; one of: {', '.join(sorted(alone))}")
    return alone[name]()


def _update(rows: list[tuple[str, str, str]], names: list[str]) -> str:
    """bench/results.md with ``rows`` in place of the rows of the same figure (others kept),
    and a line saying when and where they were measured."""
    path = PROJECT / "bench" / "results.md"
    lines = path.read_text().splitlines() if path.exists() else ["# Benchmark", ""]
    fresh = {a: f"| {a} | {b} | {c} |" for a, b, c in rows}
    kept = []
    for line in lines:
        label = line.split(" | ", 1)[0].removeprefix("| ") if line.startswith("| ") else None
        if label in fresh:
            kept.append(fresh.pop(label))
        elif not line.startswith(f"Rows of `{' '.join(names)}` "):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    if not any(line.startswith("| figure |") for line in kept):
        kept += ["", *_table([])]
    kept += list(fresh.values())
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f"Rows of `{' '.join(names)}` measured alone ({when}) on {machine()}."
    return "\n".join([*kept, "", note, ""])


def main(names: list[str]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if names:
        rows = [row for name in names for row in _alone(name)]
        print("\n".join(_table(rows)))
        (PROJECT / "bench" / "results.md").write_text(_update(rows, names))
        return
    from bench import calls, cold_start, hygiene, layoff, offboarding, scale

    rows = [cold_start.run()]
    rows.append(
        _script("slack_ack.py", "Slack acknowledgement (verify, parse, authorize, enqueue)")
    )
    rows += calls.run()
    # In process, before the rows that turn IAM enforcement on in moto (it holds process-wide).
    rows += scale.run()
    rows += hygiene.run()
    if people := int(os.environ.get("BENCH_LAYOFF_PEOPLE", "1000")):
        rows += layoff.run(people)
    rows += offboarding.run(latency_ms=50, repeats=3, bulk=int(os.environ.get("BENCH_BULK", "100")))
    rows.append(_script("package_size.py", "deployment package"))

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([f"# Benchmark ({when})", "", f"Machine: {machine()}", "", *_table(rows), ""])
    print(text)
    (PROJECT / "bench" / "results.md").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
