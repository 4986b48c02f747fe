"""templates/root/monitoring.yaml watches what the app really emits and what Chalice really
deploys: the EMF metric of chalicelib/kernel/telemetry.py (namespace, name, dimensions), the
functions as Chalice names them, and the dead-letter queue of templates/root/service.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.kernel.catalogue import ACTIONS
from devstack import cfn

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = PROJECT / "templates/root/monitoring.yaml"
CONFIG = json.loads((PROJECT / ".chalice" / "config.json").read_text())
REGION = "us-east-1"


def alarms() -> dict[str, dict]:
    template = cfn.load_template(TEMPLATE)
    return {
        lid: r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def sub(value, stage: str = "dev") -> str:
    """A template string with AppName, Stage and ServiceName at their defaults (Stage: ``stage``)."""
    text = value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value
    if isinstance(text, dict) and text == {"Ref": "ServiceName"}:
        text = "${ServiceName}"
    return (
        text.replace("${AppName}", CONFIG["app_name"])
        .replace("${Stage}", stage)
        .replace("${ServiceName}", CONFIG["environment_variables"]["POWERTOOLS_SERVICE_NAME"])
    )


def metrics_of(alarm: dict) -> list[dict]:
    if "Metrics" in alarm:
        return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    return [{key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions")}]


def test_failed_operations_are_watched_with_the_dimensions_the_app_emits(api, capsys):
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
    [emf] = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    # Hygiene's changes and the approvals have alarms of their own: one alarm's metric math
    # takes 10 metrics.
    metrics = (
        metrics_of(alarms()["FailedOperationsAlarm"])
        + metrics_of(alarms()["FailedHygieneChangesAlarm"])
        + metrics_of(alarms()["FailedApprovalsAlarm"])
        + metrics_of(alarms()["FailedReviewsAlarm"])
        + metrics_of(alarms()["FailedAdoptionsAlarm"])
    )
    assert (
        {m["MetricName"] for m in metrics}
        >= set(ACTIONS)
        >= {"onboard", "move", "suspend", "restore", "offboard"}
    )
    for metric in metrics:
        assert sub(metric["Namespace"]) == directive["Namespace"]
        dimensions = {d["Name"]: sub(d["Value"]) for d in metric["Dimensions"]}
        [names] = directive["Dimensions"]
        assert set(dimensions) == set(names)  # an alarm matches the exact dimension set only
        assert dimensions == {"outcome": "failed", "service": emf["service"]}


def chalice_function_names(stage: str) -> set[str]:
    from app import app

    app_name = CONFIG["app_name"]
    handlers = {source.name for source in app.event_sources}
    handlers |= {function.name for function in app.pure_lambda_functions}
    return {f"{app_name}-{stage}"} | {f"{app_name}-{stage}-{name}" for name in handlers}


def test_every_function_of_the_app_is_watched_by_its_chalice_name():
    watched = {
        sub(d["Value"])
        for alarm in alarms().values()
        for metric in metrics_of(alarm)
        if metric["Namespace"] == "AWS/Lambda"
        for d in metric["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert watched == chalice_function_names("dev")


def test_the_dead_letter_queue_alarm_watches_the_service_stacks_queue():
    service = cfn.load_template(PROJECT / "templates/root/service.yaml")
    queue_name = service["Resources"]["DeadLetterQueue"]["Properties"]["QueueName"]
    [metric] = metrics_of(alarms()["DeadLetterQueueAlarm"])
    assert metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    alarm = alarms()["DeadLetterQueueAlarm"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


@pytest.fixture
def session(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def test_deployed_alarms_notify_the_topic_and_the_dashboard_shows_them(session):
    outputs = cfn.deploy(session, TEMPLATE, "monitoring", {"Stage": "prod"})
    cloudwatch = session.client("cloudwatch")
    deployed = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(deployed) == {sub(a["AlarmName"], "prod") for a in alarms().values()}
    for alarm in deployed.values():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [outputs["AlarmTopicArn"]]
        assert alarm["TreatMissingData"] == "notBreaching"  # metrics only exist when it happens
    body = json.loads(cloudwatch.get_dashboard(DashboardName="iam-lifecycle-prod")["DashboardBody"])
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {a["AlarmArn"] for a in deployed.values()}
