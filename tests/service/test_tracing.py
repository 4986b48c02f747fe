"""X-Ray tracing: one subsegment per invocation of any handler, named after it, with nothing of
the request or the answer in it; a pass-through wherever tracing is off (tests, chalice local)."""

from __future__ import annotations

import contextlib
import json

import pytest

from chalicelib.kernel import tracing
from tests.support import onboard


class Subsegment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.annotations: dict = {}
        self.metadata: dict = {}

    def put_annotation(self, key: str, value) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value, namespace: str = "default") -> None:
        self.metadata[key] = value


class Recorder:
    """Stands in for the X-Ray SDK's recorder, which needs Lambda's trace header to record."""

    def __init__(self) -> None:
        self.subsegments: list[Subsegment] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str, **_):
        self.subsegments.append(Subsegment(name))
        yield self.subsegments[-1]

    def patch(self, *_, **__) -> None:
        pass


@pytest.fixture
def traced(monkeypatch):
    """Tracing switched on as in Lambda, into ``Recorder``."""
    from aws_lambda_powertools import Tracer

    recorder = Recorder()
    Tracer._reset_config()  # Powertools keeps a disabled state per process
    monkeypatch.setattr(
        tracing,
        "tracer",
        lambda: Tracer(
            service="iam-lifecycle", disabled=False, provider=recorder, auto_patch=False
        ),
    )
    yield recorder
    Tracer._reset_config()


@pytest.mark.parametrize(
    "where",
    [
        {},  # the test client: outside Lambda
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"},  # chalice local
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"},  # sam local
    ],
)
def test_tracing_is_off_outside_lambda_and_the_app_still_answers(client, monkeypatch, where):
    # Off where no X-Ray daemon listens even without POWERTOOLS_TRACE_DISABLED (which the tests
    # set): the middleware then passes the event on untouched, with no tracer built.
    for key in (
        "POWERTOOLS_TRACE_DISABLED",
        "LAMBDA_TASK_ROOT",
        "AWS_CHALICE_CLI_MODE",
        "AWS_SAM_LOCAL",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in where.items():
        monkeypatch.setenv(key, value)
    tracing.tracer.cache_clear()
    try:
        assert isinstance(tracing.tracer(), tracing._Off)
        answer = client.http.get("/health")
        assert (answer.status_code, json.loads(answer.body)) == (200, {"status": "ok"})
    finally:
        tracing.tracer.cache_clear()


def test_every_route_and_handler_gets_its_own_subsegment_without_payloads(traced, api, monkeypatch):
    monkeypatch.setattr(tracing, "_cold", True)  # as in a fresh Lambda process
    created = onboard(api, ticket="T-1", expect=None)
    assert created.status_code == 201 and created.json["temporary_password"]
    api.call("GET", "/users/nobody")
    api.client.lambda_.invoke(
        "report_drift",
        api.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    )

    names = [s.name for s in traced.subsegments]
    assert names == ["## POST /users", "## GET /users/{username}", "## report_drift"]
    first, missing, scheduled = traced.subsegments
    assert first.annotations == {"ColdStart": True, "handler": "POST /users", "status": 201}
    assert missing.annotations["status"] == 404 and missing.annotations["ColdStart"] is False
    assert scheduled.annotations["handler"] == "report_drift"
    # Answers carry temporary passwords: nothing of them goes into a trace.
    assert all(not s.metadata for s in traced.subsegments)


def test_the_stage_configuration_turns_tracing_on_and_never_captures_answers():
    from devstack.local import PROJECT

    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    assert config["environment_variables"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    for stage, settings in config["stages"].items():
        assert settings.get("xray") is True, stage
        assert "POWERTOOLS_TRACE_DISABLED" not in settings["environment_variables"], stage
