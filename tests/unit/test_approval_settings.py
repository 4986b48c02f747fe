"""APPROVAL_POLICIES and the Slack Web API settings, read by the one settings reader."""

from __future__ import annotations

import json

import pytest

from chalicelib.approvals.settings import policies as approval_policies
from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings

BASE = {"ALLOWED_GROUPS": "ChildDeveloperGroup,BreakGlassGroup", "ROOT_ACCOUNT_ID": "123456789012"}


def test_no_policy_by_default_and_slacks_own_api():
    settings = Settings.from_env(BASE)
    assert approval_policies(settings) == {}
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.slack_bot_token_secret == "iam-lifecycle/dev/slack-bot-token"


def test_policies_and_a_base_url_without_its_slash():
    policies = {"BreakGlassGroup": {"approvers": ["U0AAA"], "approvals": 2}}
    settings = Settings.from_env(
        {**BASE, "APPROVAL_POLICIES": json.dumps(policies), "SLACK_API_URL": "http://x:1/api"}
    )
    assert approval_policies(settings)["BreakGlassGroup"].approvals == 2
    assert settings.slack_api_url == "http://x:1/api/"


@pytest.mark.parametrize(
    "raw, says",
    [
        ("{not json", "must be JSON"),
        ("[]", "JSON object"),
        (json.dumps({"BreakGlassGroup": {"approvers": ["U0AAA"]}}), None),
    ],
)
def test_a_bad_setting_is_named(raw, says):
    if says is None:
        approval_policies(Settings.from_env({**BASE, "APPROVAL_POLICIES": raw}))
        return
    with pytest.raises(ConfigurationError, match=says):
        approval_policies(Settings.from_env({**BASE, "APPROVAL_POLICIES": raw}))


def test_a_policy_for_a_group_the_service_does_not_manage_is_refused():
    raw = json.dumps({"BreakGlassGroup": {"approvers": ["U0AAA"]}})
    with pytest.raises(ConfigurationError, match="not in ALLOWED_GROUPS"):
        approval_policies(
            Settings.from_env(
                {**BASE, "ALLOWED_GROUPS": "ChildDeveloperGroup", "APPROVAL_POLICIES": raw}
            )
        )
