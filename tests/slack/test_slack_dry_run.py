"""`--dry-run` through Slack: the plan comes back to the requester only, and nothing changes."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.edges.slack import grammar
from tests.support import onboard
from tests.support.slack import ephemeral, everything_in, queued, run_worker


@pytest.mark.parametrize(
    "text, fields",
    [
        ("offboard pete --dry-run", {"dry_run": True}),
        (
            "suspend pete \u2014dry-run until 2099-01-01 leave",
            {"until": "2099-01-01", "reason": "leave", "dry_run": True},
        ),
        ("move pete BreakGlassGroup --DRY-RUN", {"groups": ["BreakGlassGroup"], "dry_run": True}),
        (
            "grant pete BreakGlassGroup 2 --dry-run incident",
            {"group": "BreakGlassGroup", "hours": 2, "reason": "incident", "dry_run": True},
        ),
    ],
)
def test_the_flag_is_taken_wherever_it_stands(text, fields):
    parsed = grammar.parse_command(text)
    assert parsed.username == "pete" and parsed.fields == fields


def test_the_flag_applies_to_changes_only(slack, sqs):
    answer = ephemeral(slack.command("status pete --dry-run"))
    assert "--dry-run applies to changes only" in answer
    assert queued(sqs) == []


def test_an_offboarding_plan_needs_no_confirmation_and_changes_nothing(
    api, slack, poller, catcher, sqs
):
    onboard(api, "pete")
    acknowledged = ephemeral(
        slack.command("offboard pete --dry-run", response_url=catcher.url(), trigger_id="9.9.9")
    )
    assert "Planning" in acknowledged
    assert run_worker(poller) == [(1, 0)]
    plan = catcher.next()
    assert plan["response_type"] == "ephemeral"
    text = everything_in(plan)
    for expected in (
        "Plan: offboard pete",
        "nothing was changed",
        "DeleteUser",
        "RemoveUserFromGroup",
        "222233334444",
        "PutRolePolicy",
        "Wave 1",
        "slack:9.9.9",
    ):
        assert expected in text, expected
    boto3.client("iam").get_user(UserName="pete")  # still there
    events = bootstrap.services().lifecycle.state.audit_events(ticket="slack:9.9.9")
    assert [(e["action"], e["result"]) for e in events] == [("offboard", "planned")]


def test_a_plan_never_shows_a_password(api, slack, poller, catcher):
    ephemeral(
        slack.command("onboard pete ChildDeveloperGroup --dry-run", response_url=catcher.url())
    )
    run_worker(poller)
    plan = catcher.next()
    text = everything_in(plan)
    assert "CreateLoginProfile" in text and "(secret)" in text
    assert plan["response_type"] == "ephemeral"
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_user(UserName="pete")
