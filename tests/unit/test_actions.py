"""The catalogue is the one list of actions: each entry is whole (a domain method taking
``(username, request, snap)``, a request model, its reads, an event, words for replies), and
what REST, Slack, the events and the alarms know of actions is what it declares. No moto here."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from chalicelib.adoption.service import ACTIONS as ADOPTION
from chalicelib.adoption.service import AdoptionActions
from chalicelib.edges.slack import grammar, replies
from chalicelib.hygiene.actions import ACTIONS as HYGIENE
from chalicelib.hygiene.actions import HygieneActions
from chalicelib.kernel.catalogue import ACTIONS, CATALOGUE, SLACK_ACTIONS
from chalicelib.kernel.snapshot import READS
from chalicelib.lifecycle.operations import Lifecycle

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("action", CATALOGUE, ids=lambda a: a.name)
def test_each_action_is_declared_whole(action):
    if action.runs == "approvals":  # run by the approvals service, its rules approvals/rules.py
        from chalicelib.approvals.service import ApprovalService

        assert callable(getattr(ApprovalService, {"request": "ask"}.get(action.name, "decide")))
        assert action.request_model().model_fields.keys() >= {"ticket", "requested_by"}
        return
    if action.runs == "reviews":  # run by the reviews service, its rules reviews/rules.py
        from chalicelib.reviews.service import ReviewService

        method_name = {"review": "start", "review_decide": "decide", "review_close": "close"}
        assert callable(getattr(ReviewService, method_name[action.name]))
        assert action.request_model().model_fields.keys() >= {"ticket", "requested_by"}
        assert action.event.count(".") == 1 and action.done and action.doing
        return
    executor = (
        HygieneActions
        if action.name in HYGIENE
        else AdoptionActions
        if action.name in ADOPTION
        else Lifecycle
    )
    method = getattr(executor, action.name)
    assert list(inspect.signature(method).parameters) == ["self", "username", "request", "snap"]
    model = action.request_model()
    assert {"ticket", "requested_by", "dry_run"} <= set(model.model_fields)
    # what its snapshot reads (adoption reads a person whole, outside the path, its own way)
    assert action.name in READS or action.name in ADOPTION
    assert action.event.count(".") == 1 and action.done and action.doing


def test_each_change_the_runner_runs_has_one_executor():
    """The lifecycle and credential hygiene register the runner's changes between them: each
    once, and nothing the catalogue does not give the runner."""
    from chalicelib.lifecycle.operations import ACTIONS as LIFECYCLE

    runs = {a.name for a in CATALOGUE if a.runs == "lifecycle"}
    assert not set(LIFECYCLE) & set(HYGIENE)
    assert not (set(LIFECYCLE) | set(HYGIENE)) & set(ADOPTION)
    assert set(LIFECYCLE) | set(HYGIENE) | set(ADOPTION) == runs


def test_names_are_unique_and_events_distinct():
    assert len(ACTIONS) == len(CATALOGUE)
    assert len({a.event for a in CATALOGUE}) == len(CATALOGUE)


def test_slack_offers_the_catalogues_slack_actions_and_its_queries():
    assert set(grammar.VERBS) == set(SLACK_ACTIONS) | {"help", "status", "hygiene", "requests"}
    for name, action in SLACK_ACTIONS.items():
        assert grammar.VERBS[name] == action.slack
        assert f"*pete* {action.done}" not in replies.acknowledged(name, "pete", "T-1")["text"]
        assert action.doing in replies.acknowledged(name, "pete", "T-1")["text"]


def test_creating_actions_answer_201_and_others_200():
    assert {a.name for a in CATALOGUE if a.status == 201} == {
        "onboard",
        "grant",
        "request",
        "review",
    }


def test_only_callers_actions_can_be_dry_run():
    """The schedules' own changes have no caller to show a plan to."""
    assert {a.name for a in CATALOGUE if not a.dry_run} == {
        "expire_grant",
        "revoke_sessions",
        "request",
        "decide",
        "end_grant",
        "expire_request",
        "review",
        "review_decide",
        "review_close",
    }


def test_every_action_has_a_failure_alarm():
    """templates/root/monitoring.yaml watches the failures of each action's metric."""
    text = (PROJECT / "templates" / "root" / "monitoring.yaml").read_text()
    for action in CATALOGUE:
        assert f"MetricName: {action.name}\n" in text, action.name
