"""Cold start: a fresh process with Lambda's environment (tracing on) acknowledging a signed Slack
command against the local stack, beside a fresh process that imports boto3, makes one client and
makes one call against the same stack.

    .venv/bin/python bench/cold_start.py            # BENCH_COLD_REPEATS=7, BENCH_IMPORTTIME=1

The app's process is given what Lambda gives a function: its variables (function name, memory,
X-Ray daemon address and trace header, ...), the stage's variables from .chalice/config.json and
the app principal's credentials. It imports the app and calls it as Lambda calls the API
function: with an API Gateway proxy event. Each figure is the median of alternating runs, timed
from the spawn of the process to the answer (the parent's clock before the spawn, the child's
after the answer: both read the same system clock), so interpreter start-up counts and the
process's exit does not. BENCH_IMPORTTIME=1 also writes the app's heaviest imports to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.local import (  # noqa: E402
    PROJECT,
    REGION,
    STAGE,
    Facts,
    LocalStack,
    app_environment,
)
from devstack.slack_api import root_of  # noqa: E402
from devstack.slack_command import allowed_users, command_body, sign  # noqa: E402

TARGET = 1.5
TEXT = "onboard pete{n} ChildDeveloperGroup pete{n}@example.com"
FUNCTION = f"iam-lifecycle-{STAGE}"

# argv: spawn time (ns), the API Gateway proxy event (JSON).
APP = r"""
import time; started = time.perf_counter()
import json, sys
from app import app
class Context:
    function_name = "FUNCTION"; memory_limit_in_mb = MEMORY; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:REGION:ACCOUNT:function:FUNCTION"
    def get_remaining_time_in_millis(self): return 30000
answer = app(json.loads(sys.argv[2]), Context())
done = time.time_ns()
in_process = (time.perf_counter() - started) * 1000
# This process's own peak: ru_maxrss would carry the spawning parent's (Linux keeps it across
# fork and exec), and the parent here runs the moto server.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"spawn_ms": (done - int(sys.argv[1])) / 1e6, "in_process_ms": in_process,
                  "max_rss_kb": peak, "status": answer["statusCode"], "body": answer["body"]}))
"""
BASELINE = r"""
import time; started = time.perf_counter()
import json, sys
import boto3
c = boto3.client("sts", endpoint_url=sys.argv[2]); c.get_caller_identity()
done = time.time_ns()
print(json.dumps({"spawn_ms": (done - int(sys.argv[1])) / 1e6,
                  "in_process_ms": (time.perf_counter() - started) * 1000}))
"""


def lambda_environment(base: dict[str, str], memory: int) -> dict[str, str]:
    """What Lambda sets for a Python function (tracing on, as the stage has ``xray``), and the
    stage's variables as Chalice deploys them."""
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    env = {
        key: value for key, value in base.items() if not key.startswith(("POWERTOOLS_", "_X_AMZN"))
    }
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]cold",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
            "_HANDLER": "app.app",
            "LAMBDA_TASK_ROOT": str(PROJECT),
            "TZ": ":UTC",
            # Nothing listens there: the X-Ray SDK sends its UDP datagrams all the same.
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            **config["environment_variables"],
            **config["stages"][STAGE]["environment_variables"],
        }
    )
    return env


def event(body: bytes, headers: dict[str, str]) -> dict:
    """The API Gateway (REST, proxy integration) event of a POST to /slack/commands."""
    return {
        "resource": "/slack/commands",
        "path": "/slack/commands",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/slack/commands",
            "httpMethod": "POST",
            "path": "/api/slack/commands",
            "requestId": str(uuid.uuid4()),
            "stage": "api",
        },
    }


def _spawn(code: str, env: dict[str, str], arg: str, *flags: str) -> tuple[dict, float, str]:
    start = time.time_ns()
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, str(start), arg],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = (time.time_ns() - start) / 1e6
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "no output")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, done.stderr


def _signed(facts: Facts, n: int) -> str:
    # on the stack's Slack stand-in: the only host its app answers (SLACK_RESPONSE_HOSTS)
    root = root_of(facts.slack_api_url) if facts.slack_api_url else "https://hooks.slack.com"
    body = command_body(
        TEXT.format(n=n),
        user_id=allowed_users()[0],
        response_url=f"{root}/commands/cold",
        trigger_id=f"{uuid.uuid4().hex}.cold",
    )
    return json.dumps(event(body, sign(facts.slack_signing_secret, body)))


def import_offenders(stderr: str, top: int = 12) -> list[str]:
    """The heaviest imports the process made itself (not those nested in them) in ``-X importtime``
    output, as "cumulative ms  module"."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "[us]" not in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if not name.startswith("  "):  # one space after the bar: a top-level import
                rows.append((int(cumulative) / 1000, name.strip()))
    rows.sort(reverse=True)
    return [f"{ms:8.1f} ms  {name}" for ms, name in rows[:top]]


def measure(repeats: int = int(os.environ.get("BENCH_COLD_REPEATS", "7"))) -> tuple[str, str, str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    memory = int(config.get("lambda_memory_size", 128))
    stack = LocalStack()
    facts = stack.start()
    try:
        base = app_environment(facts)
        app_env = lambda_environment(base, memory)
        code = (
            APP.replace("FUNCTION", FUNCTION)
            .replace("MEMORY", str(memory))
            .replace("REGION", REGION)
            .replace("ACCOUNT", facts.root_account_id)
        )
        endpoint = str(facts.aws_endpoint_url)
        _spawn(BASELINE, base, endpoint)  # warm the file system cache for both
        _spawn(code, app_env, _signed(facts, -1))
        apps, baselines = [], []
        for n in range(repeats):
            answer, wall, _ = _spawn(code, app_env, _signed(facts, n))
            if answer["status"] != 200 or ":hourglass" not in answer["body"]:
                raise RuntimeError(f"unexpected acknowledgement: {answer}")
            apps.append({**answer, "wall_ms": wall})
            answer, wall, _ = _spawn(BASELINE, base, endpoint)
            baselines.append({**answer, "wall_ms": wall})
        if os.environ.get("BENCH_IMPORTTIME"):
            _, _, stderr = _spawn(code, app_env, _signed(facts, repeats), "-X", "importtime")
            print("heaviest imports of the app's cold start (cumulative):", file=sys.stderr)
            print("\n".join(import_offenders(stderr)), file=sys.stderr)
    finally:
        stack.stop()

    def medians(runs: list[dict]) -> dict[str, float]:
        return {
            key: statistics.median(r[key] for r in runs)
            for key in ("spawn_ms", "in_process_ms", "wall_ms")
        }

    app, bare = medians(apps), medians(baselines)
    ratio = app["spawn_ms"] / bare["spawn_ms"]
    rss = statistics.median(r["max_rss_kb"] for r in apps) / 1024
    # spawn: to the answer; in_process: from the first line; wall: the whole process, exit too.
    print(
        json.dumps({"app": app, "baseline": bare, "ratio": ratio, "peak_rss_mib": rss}),
        file=sys.stderr,
    )
    return (
        "cold start: a fresh Lambda-like process (tracing on) acknowledging a signed Slack "
        f"command against the local stack (median of {repeats})",
        f"{app['spawn_ms']:,.0f} ms ({app['in_process_ms']:,.0f} ms from its first line), "
        f"peak RSS {rss:,.0f} MiB",
        f"boto3 + one client + one call: {bare['spawn_ms']:,.0f} ms; ratio {ratio:.2f}x, "
        f"target {TARGET}x: {'met' if ratio <= TARGET else 'not met'}",
    )


def run() -> tuple[str, str, str]:
    """The row, measured in a process of its own: the moto server shares moto's state with the
    process that starts it, and enforcing IAM there would enforce it on the in-process moto of
    the other rows."""
    done = subprocess.run(
        [sys.executable, __file__, "--row"],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=900,
        check=True,
    )
    label, measured, beside = json.loads(done.stdout.strip().splitlines()[-1])
    return label, measured, beside


if __name__ == "__main__":
    row = measure()
    print(json.dumps(row) if "--row" in sys.argv else " | ".join(row))
