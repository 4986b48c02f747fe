"""``make bench``: every figure in one table, printed and written to bench/results.md.

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


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from bench import calls, cold_start, hygiene, offboarding, scale

    rows = [cold_start.run()]
    rows.append(
        _script("slack_ack.py", "Slack acknowledgement (verify, parse, authorize, enqueue)")
    )
    rows += calls.run()
    # In process, before the rows that turn IAM enforcement on in moto (it holds process-wide).
    rows += scale.run()
    rows += hygiene.run()
    rows += offboarding.run(latency_ms=50, repeats=3, bulk=int(os.environ.get("BENCH_BULK", "100")))
    rows.append(_script("package_size.py", "deployment package"))

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = ["| figure | measured | beside it |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join([f"# Benchmark ({when})", "", f"Machine: {machine()}", "", *table, ""])
    print(text)
    (PROJECT / "bench" / "results.md").write_text(text)


if __name__ == "__main__":
    main()
