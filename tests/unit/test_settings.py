import pytest

from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings, get_settings

BASE = {"ALLOWED_GROUPS": "ChildDeveloperGroup, BreakGlassGroup", "ROOT_ACCOUNT_ID": "123456789012"}


def test_defaults_follow_app_name_and_stage():
    settings = Settings.from_env({**BASE, "STAGE": "prod"})
    assert settings.allowed_groups == ("ChildDeveloperGroup", "BreakGlassGroup")
    assert settings.state_table == "iam-lifecycle-prod-state"
    assert settings.idempotency_table == "iam-lifecycle-prod-idempotency"
    assert settings.api_token_secret == "iam-lifecycle/prod/api-token"
    assert settings.managed_path == "/managed/"
    assert settings.child_account_ids == ()
    assert settings.self_service_policy_arn == (
        "arn:aws:iam::123456789012:policy/ManagedUserSelfService"
    )


def test_lists_are_split_and_trimmed():
    settings = Settings.from_env(
        {
            **BASE,
            "CHILD_ACCOUNT_IDS": "222233334444, 333344445555,",
            "PROTECTED_USERS": "root-owner ,app",
        }
    )
    assert settings.child_account_ids == ("222233334444", "333344445555")
    assert settings.protected_users == {"root-owner", "app"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ALLOWED_GROUPS": ""}, "ALLOWED_GROUPS is required"),
        ({"ROOT_ACCOUNT_ID": "12345"}, "12-digit"),
        ({"CHILD_ACCOUNT_IDS": "222233334444,abc"}, "'abc' is not a 12-digit"),
        ({"MANAGED_PATH": "/"}, "not the root path"),
        ({"MANAGED_PATH": "managed"}, "must look like /managed/"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(change, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**BASE, **change})


def test_environment_is_read_once(monkeypatch):
    get_settings.cache_clear()
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    first = get_settings()
    monkeypatch.setenv("ALLOWED_GROUPS", "Other")
    assert get_settings() is first
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"APPROVAL_POLICIES": "[]"}, "JSON object"),
        ({"HYGIENE_UNUSED_ACTION": "delete"}, "HYGIENE_UNUSED_ACTION 'delete' must be one of"),
        ({"REVIEW_CARRY_OUT": "later"}, "REVIEW_CARRY_OUT 'later' must be one of"),
    ],
)
def test_a_capabilitys_bad_setting_stops_the_start(change, message):
    """Each capability parses its own settings; the services are not built with a bad one."""
    from chalicelib import bootstrap

    settings = Settings.from_env({**BASE, **change})
    with pytest.raises(ConfigurationError, match=message):
        bootstrap.build(settings)
