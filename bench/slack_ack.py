"""How fast a slash command is acknowledged: signature check, parsing, the allow-list, the replay
guard (one conditional write) and the queue message, through the real Chalice app (its test
client) against moto in process. Slack gives the answer 3 seconds.

    .venv/bin/python bench/slack_ack.py            # BENCH_SLACK_REQUESTS=5000 for more

Prints one line: the number of requests, the median and the 99th percentile in milliseconds.
The queue is emptied every 100 requests, outside the timing, as the worker keeps it short: moto's
SendMessage takes longer the more messages wait (it counts them on every call).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

REQUESTS = int(os.environ.get("BENCH_SLACK_REQUESTS", "1000"))
WARM_UP = 20
DRAIN_EVERY = 100
# Every verb's acknowledgement; offboard answers with a confirmation (a write, no message).
TEXTS = [
    "onboard pete{n} ChildDeveloperGroup pete{n}@example.com",
    "move pete{n} BreakGlassGroup",
    "suspend pete{n} until 2099-01-01 leave",
    "restore pete{n}",
    "status pete{n}",
    "grant pete{n} BreakGlassGroup 2 incident",
    "offboard pete{n}",
]


def _isolate(stage: dict[str, str]) -> None:
    """No real AWS account or profile; the dev stage's configuration, as the Lambda has it."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            **stage,
        }
    )


def _drain(sqs, queue: str) -> None:  # type: ignore[no-untyped-def]
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def main() -> None:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    _isolate(
        {
            **config["environment_variables"],
            **config["stages"]["dev"]["environment_variables"],
            "LOG_LEVEL": "WARNING",
        }
    )

    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.aws.clients import AwsClients
    from devstack import moto_ext
    from devstack.local import REGION, Provisioner, shared_session
    from devstack.slack_command import allowed_users, command_body, sign

    moto_ext.apply()
    with mock_aws():
        facts = Provisioner(endpoint_url=None).run()
        bootstrap.reset()
        bootstrap.use(bootstrap.build(clients=AwsClients(REGION, session=shared_session())))
        from app import app

        user = allowed_users()[0]
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.get_queue_url(QueueName=bootstrap.services().settings.work_queue)["QueueUrl"]
        timings = []
        with Client(app, stage_name="dev", project_dir=str(PROJECT)) as client:
            for n in range(WARM_UP + REQUESTS):
                if n % DRAIN_EVERY == 0:
                    _drain(sqs, queue)
                text = TEXTS[n % len(TEXTS)].format(n=n)
                body = command_body(
                    text,
                    user_id=user,
                    response_url="https://hooks.slack.com/x",
                    trigger_id=f"{n}.bench",
                )
                headers = sign(facts.slack_signing_secret, body)
                start = time.perf_counter()
                response = client.http.post("/slack/commands", headers=headers, body=body)
                elapsed = time.perf_counter() - start
                answer = json.loads(response.body)
                if (
                    response.status_code != 200
                    or "received already" in answer["text"]
                    or not (":hourglass" in answer["text"] or "Offboard" in answer["text"])
                ):
                    raise SystemExit(f"unexpected answer to {text!r}: {response.body!r}")
                if n >= WARM_UP:
                    timings.append(elapsed * 1000)
    median = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[98]
    print(
        f"slack ack (verify, parse, authorize, enqueue; moto in process): {len(timings)} "
        f"requests, median {median:.2f} ms, p99 {p99:.2f} ms",
        flush=True,
    )


if __name__ == "__main__":
    main()
