"""Cold start: a fresh Python process importing the app and answering its first request as
Lambda would call it, beside a fresh process that only imports boto3."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from tests.stack.local import PROJECT

FIRST_REQUEST = r"""
import json, sys
from app import app
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                            "requestId": "cold", "stage": "api"}}
class Context:
    function_name = "iam-lifecycle-dev"; memory_limit_in_mb = 512; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iam-lifecycle-dev"
    def get_remaining_time_in_millis(self): return 30000
answer = app(event, Context())
assert answer["statusCode"] == 200, answer
"""


def _run(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def run(repeats: int = 7) -> tuple[str, str, str]:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    env = {**os.environ, **config["environment_variables"],
           **config["stages"]["dev"]["environment_variables"], "AWS_DEFAULT_REGION": "us-east-1"}
    _run("pass", env)  # warm the file system cache for both
    app = statistics.median(_run(FIRST_REQUEST, env) for _ in range(repeats))
    bare = statistics.median(_run("import boto3", env) for _ in range(repeats))
    python = statistics.median(_run("pass", env) for _ in range(repeats))
    added = (app - bare) / (bare - python) * 100
    return ("cold start: import the app and answer GET /health (fresh process)",
            f"{app * 1000:,.0f} ms",
            f"import boto3 alone: {bare * 1000:,.0f} ms; the app adds {added:.0f}% to boto3's own "
            f"import ({(bare - python) * 1000:,.0f} ms over a bare interpreter)")


if __name__ == "__main__":
    print(" | ".join(run()))
