"""Logs carry the ticket as correlation id, metrics count every outcome, and a temporary password
never reaches a log or the idempotency store."""

from __future__ import annotations

import io
import json
import logging

import boto3

from chalicelib.kernel.telemetry import logger
from tests.support import onboard


def test_temporary_passwords_never_reach_logs_or_stored_state(api, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # everything any library would log, botocore included
    onboarded = onboard(api, ticket="T-1", expect=None)
    api.call("POST", "/users/pete/suspend", {"ticket": "T-2", "requested_by": "alice"})
    restored = api.call("POST", "/users/pete/restore", {"ticket": "T-3", "requested_by": "alice"})
    passwords = [onboarded.json["temporary_password"], restored.json["temporary_password"]]

    printed = capsys.readouterr()
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert len(caplog.records) > 10  # the capture did see the requests' logs
    dynamodb = boto3.client("dynamodb")
    stored = str(
        [
            dynamodb.scan(TableName=t)["Items"]
            for t in ("iam-lifecycle-dev-state", "iam-lifecycle-dev-idempotency")
        ]
    )
    for password in passwords:
        assert password not in printed.out + printed.err
        assert password not in logged
        assert password not in stored


def test_logs_name_the_ticket_and_metrics_count_outcomes(api, capsys):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger().registered_formatter)  # the JSON lines Lambda would ship
    logger().addHandler(handler)
    api.call(
        "POST",
        "/users",
        {
            "username": "pete",
            "groups": [],
            "ticket": "T-1",
            "requested_by": "alice",
            "console": False,
        },
    )
    api.call("POST", "/users/pete/restore", {"ticket": "T-2", "requested_by": "alice"})
    logger().removeHandler(handler)
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert {(e["correlation_id"], e["action"], e["message"]) for e in logs} >= {
        ("T-1", "onboard", "onboard done"),
        ("T-2", "restore", "restore rejected"),
    }
    metrics = [line for line in lines if "_aws" in line]
    counted = {
        (
            m["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            m["outcome"],
        )
        for m in metrics
    }
    assert counted >= {
        ("iam-lifecycle-dev", "onboard", "ok"),
        ("iam-lifecycle-dev", "restore", "rejected"),
    }
