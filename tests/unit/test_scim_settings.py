"""The SCIM settings, read by the one settings reader (no moto)."""

import pytest

from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings

BASE = {"ALLOWED_GROUPS": "ChildDeveloperGroup", "ROOT_ACCOUNT_ID": "123456789012"}
POLICY = '{"BreakGlassGroup": {"approvers": ["U0LOCAL0001"], "channel": "C0APPROVALS"}}'


def test_scim_defaults():
    settings = Settings.from_env({**BASE, "STAGE": "prod"})
    assert settings.scim_token_secret == "iam-lifecycle/prod/scim-token"
    assert settings.scim_console is False  # the temporary password never goes back over SCIM
    assert settings.scim_offboard_after_days == 0  # off unless the stage sets it
    assert settings.scim_max_body == 256 * 1024


def test_scim_settings_are_read():
    settings = Settings.from_env(
        {**BASE, "SCIM_CONSOLE": "True", "SCIM_OFFBOARD_AFTER_DAYS": "30", "SCIM_MAX_BODY": "1024"}
    )
    assert settings.scim_console is True
    assert settings.scim_offboard_after_days == 30 and settings.scim_max_body == 1024


@pytest.mark.parametrize(
    "change, message",
    [
        ({"SCIM_CONSOLE": "yes"}, "SCIM_CONSOLE 'yes' must be true or false"),
        ({"SCIM_OFFBOARD_AFTER_DAYS": "-1"}, "must be a whole number"),
        ({"SCIM_MAX_BODY": "1MB"}, "must be a whole number"),
    ],
)
def test_bad_scim_settings_are_refused(change, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**BASE, **change})


def test_scim_groups_default_to_those_that_are_not_time_bound():
    """Access that is asked for and approved (an approval policy) or granted for hours (a grant
    limit) is never handed out by an IdP push."""
    two = {**BASE, "ALLOWED_GROUPS": "ChildDeveloperGroup,BreakGlassGroup"}
    assert Settings.from_env(two).scim_groups == ("ChildDeveloperGroup",)  # GRANT_MAX_HOURS
    approved = {**two, "APPROVAL_POLICIES": POLICY}
    assert Settings.from_env(approved).scim_groups == ("ChildDeveloperGroup",)
    open_ = {**two, "GRANT_MAX_HOURS": ""}
    assert Settings.from_env(open_).scim_groups == ("ChildDeveloperGroup", "BreakGlassGroup")
    assert Settings.from_env({**two, "SCIM_GROUPS": ""}).scim_groups == ()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"SCIM_GROUPS": "BreakGlassGroup"}, "has an approval policy"),
        ({"SCIM_GROUPS": "Administrators"}, "not in ALLOWED_GROUPS"),
        ({"SCIM_BASE_URL": "iam.example.com/scim/v2"}, "must be an absolute URL"),
    ],
)
def test_bad_scim_groups_and_base_url_are_refused(change, message):
    env = {
        **BASE,
        "ALLOWED_GROUPS": "ChildDeveloperGroup,BreakGlassGroup",
        "APPROVAL_POLICIES": POLICY,
    }
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**env, **change})


def test_the_scim_base_url_is_read_without_its_trailing_slash():
    settings = Settings.from_env({**BASE, "SCIM_BASE_URL": "https://iam.example.com/api/scim/v2/"})
    assert settings.scim_base_url == "https://iam.example.com/api/scim/v2"
    assert Settings.from_env(BASE).scim_base_url == ""
