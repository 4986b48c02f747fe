"""The SCIM settings, read by the one settings reader (no moto)."""

import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings

BASE = {"ALLOWED_GROUPS": "ChildDeveloperGroup", "ROOT_ACCOUNT_ID": "123456789012"}


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
