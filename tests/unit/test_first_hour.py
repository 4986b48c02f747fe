"""A person's first hour, as pure functions: the keyless config (and the key holder's), the
welcome's order, the stage's access-key setting, and the merge script run by ``sh`` on real
files. No moto.

The keyless profile cannot be exercised locally: ``aws login`` needs a console sign-in, which
the local stack has not. What is proven here is that botocore, the AWS CLI's own library,
reads the config as a login profile: the source profile holds ``login_session`` = the user's ARN
(path included) and ``region``, as AWS documents the profile ``aws login`` writes
("Login for AWS local development using console credentials",
https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sign-in.html, and "Using console
credentials to authenticate AWS SDKs and tools",
https://docs.aws.amazon.com/sdkref/latest/guide/access-login.html: a profile with
``login_session = arn:aws:iam::<account>:user/<name>`` and ``region``; credentials last 15
minutes and are refreshed for up to 12 hours), and that each role profile sources its
credentials from that login session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import botocore.session
import pytest
from botocore.configloader import raw_config_parse
from botocore.exceptions import BotoCoreError, MissingDependencyException

from chalicelib.kernel.errors import ConfigurationError
from chalicelib.lifecycle import access_map
from chalicelib.lifecycle.config_merge import merge_snippet
from chalicelib.lifecycle.welcome import console_url, welcome
from chalicelib.settings import Settings

ROOT = "123456789012"
DEV = "arn:aws:iam::222233334444:role/DeveloperRole"
GLASS = "arn:aws:iam::222233334444:role/BreakGlassRole"
ODD = "pe+te=x,y.z@q-1"  # every character IAM allows beside letters and digits


def config(username: str = "pete", roles=(DEV, GLASS), credentials=access_map.LOGIN_SESSION):
    return access_map.aws_config(
        username,
        list(roles),
        root_account_id=ROOT,
        managed_path="/managed/",
        region="eu-west-1",
        mfa_roles=frozenset({"*"}),
        credentials=credentials,
    )


@pytest.fixture
def aws_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_LOGIN_CACHE_DIRECTORY", str(tmp_path / "login-cache"))
    return tmp_path


@pytest.mark.parametrize("username", ["pete", ODD])
def test_the_keyless_config_is_a_login_profile_as_botocore_reads_it(aws_files, username):
    (aws_files / "config").write_text(config(username))
    profiles = botocore.session.Session().full_config["profiles"]
    source = f"{ROOT}-{username}"
    assert profiles[source] == {
        "login_session": f"arn:aws:iam::{ROOT}:user/managed/{username}",
        "region": "eu-west-1",
    }
    for role in (DEV, GLASS):
        assert profiles[f"222233334444-{role.rsplit('/', 1)[1]}"] == {
            "source_profile": source,
            "role_arn": role,
            "role_session_name": username,
            "mfa_serial": f"arn:aws:iam::{ROOT}:mfa/{username}",
            "region": "eu-west-1",
        }
    assert set(profiles) == {source, "222233334444-DeveloperRole", "222233334444-BreakGlassRole"}


def test_botocore_takes_a_role_profiles_credentials_from_the_login_session(aws_files):
    """Resolving a role profile reaches botocore's login provider for its source profile: with
    no cached sign-in here it says to run ``aws login`` (or, without the CRT extra that signs
    the refresh, that it needs it); no access key is ever looked for."""
    (aws_files / "config").write_text(config())
    session = botocore.session.Session(profile="222233334444-DeveloperRole")
    with pytest.raises((MissingDependencyException, BotoCoreError)) as raised:
        session.get_credentials().get_frozen_credentials()
    message = str(raised.value)
    assert "aws login" in message or "login credential provider" in message, message


def test_a_key_holders_config_takes_the_key_from_the_credentials_file(aws_files):
    (aws_files / "config").write_text(config(credentials=access_map.ACCESS_KEY))
    (aws_files / "credentials").write_text(
        access_map.aws_credentials(f"{ROOT}-pete", "AKIAEXAMPLE", "s3cr3t")
    )
    source = botocore.session.Session(profile=f"{ROOT}-pete")
    assert sections_of(aws_files / "config")[f"profile {ROOT}-pete"] == {"region": "eu-west-1"}
    frozen = source.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("AKIAEXAMPLE", "s3cr3t")
    role = botocore.session.Session(profile="222233334444-DeveloperRole")
    assert role.full_config["profiles"]["222233334444-DeveloperRole"]["source_profile"] == (
        f"{ROOT}-pete"
    )


def test_mfa_serial_only_where_mfa_is_required():
    text = access_map.aws_config(
        "pete",
        [DEV, GLASS],
        root_account_id=ROOT,
        managed_path="/managed/",
        region="eu-west-1",
        mfa_roles=frozenset({"BreakGlassRole"}),
    )
    assert text.count("mfa_serial = ") == 1
    assert [p["mfa"] for p in access_map.profiles([DEV, GLASS], frozenset({"*"}))] == [True, True]


# the welcome
def steps(credentials: str, console: bool = True) -> list[dict]:
    text = config(credentials=credentials)
    return welcome(
        username="pete",
        sign_in_url=console_url("acme", ROOT),
        console=console,
        credentials=credentials,
        source_profile=f"{ROOT}-pete",
        mfa_serial=f"arn:aws:iam::{ROOT}:mfa/pete",
        aws_config=text,
        merge=merge_snippet("pete", text),
        try_profile="222233334444-DeveloperRole",
    )


def test_the_welcome_is_in_the_order_a_new_hire_needs_it():
    keyless = steps(access_map.LOGIN_SESSION)
    assert [s["step"] for s in keyless] == [
        "sign_in",
        "user_name",
        "password",
        "mfa",
        "aws_login",
        "aws_config",
    ]
    assert keyless[0]["url"] == "https://acme.signin.aws.amazon.com/console"
    assert keyless[2]["secret"] == "temporary_password"
    assert keyless[4]["command"] == f"aws login --profile {ROOT}-pete"
    assert "login_session" in keyless[5]["config"] and keyless[5]["merge"].startswith("#!/bin/sh")
    assert keyless[5]["try"] == "aws sts get-caller-identity --profile 222233334444-DeveloperRole"

    keys = steps(access_map.ACCESS_KEY)
    assert [s["step"] for s in keys] == [
        "sign_in",
        "user_name",
        "password",
        "mfa",
        "access_key",
        "aws_config",
    ]
    assert keys[4]["secret"] == "access_key" and keys[4]["profile"] == f"{ROOT}-pete"
    assert "login_session" not in keys[5]["config"]

    no_console = steps(access_map.ACCESS_KEY, console=False)
    assert [s["step"] for s in no_console] == ["user_name", "mfa", "access_key", "aws_config"]


def test_the_console_url_uses_the_alias_when_there_is_one():
    assert console_url(None, ROOT) == f"https://{ROOT}.signin.aws.amazon.com/console"
    assert console_url("acme-root", ROOT) == "https://acme-root.signin.aws.amazon.com/console"


@pytest.mark.parametrize(
    ("value", "allowed", "issued"),
    [("", False, False), ("none", False, False), ("self_service", True, False)]
    + [("issued_at_onboarding", True, True)],
)
def test_access_keys_is_a_stage_setting(value, allowed, issued):
    env = {"ALLOWED_GROUPS": "G", "ROOT_ACCOUNT_ID": ROOT, "ACCESS_KEYS": value}
    settings = Settings.from_env(env)
    assert (settings.keys_allowed, settings.keys_issued) == (allowed, issued)


def test_an_unknown_access_keys_value_is_refused():
    with pytest.raises(ConfigurationError, match="ACCESS_KEYS"):
        Settings.from_env({"ALLOWED_GROUPS": "G", "ROOT_ACCOUNT_ID": ROOT, "ACCESS_KEYS": "yes"})


# the merge script, run by sh on real files
EXISTING = """\
# My AWS config, kept by hand.
[default]
region = eu-central-1
output = json

; the old profile a move made useless
[profile 222233334444-OldRole]
role_arn = arn:aws:iam::222233334444:role/OldRole
source_profile = default

# my personal account (a comment that leads into the next profile)
[profile personal]
region = us-west-2
   # an indented comment inside it
cli_pager =

[profile 222233334444-DeveloperRole]
role_arn = arn:aws:iam::222233334444:role/DeveloperRole
source_profile = default
"""


def run(script: str, home: Path, config_file: Path | None = None) -> subprocess.CompletedProcess:
    path = home / "merge.sh"
    path.write_text(script)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(home)}
    if config_file is not None:
        env["AWS_CONFIG_FILE"] = str(config_file)
    done = subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done


def sections_of(path: Path) -> dict[str, dict]:
    return raw_config_parse(str(path))


@pytest.mark.process  # sh runs the merge
@pytest.mark.parametrize("username", ["pete", ODD])
def test_the_merge_keeps_every_other_profile_and_comment(tmp_path, username):
    home = tmp_path
    aws = home / ".aws"
    aws.mkdir()
    (aws / "config").write_text(EXISTING)
    profiles = config(username, roles=(DEV,))
    run(merge_snippet(username, profiles, ["222233334444-OldRole"]), home)
    merged = (aws / "config").read_text()

    # A backup of the file as it was, first.
    [backup] = aws.glob("config.bak.*")
    assert backup.read_text() == EXISTING
    # Everything that was not the service's is still there, as it was, in its order.
    kept = [
        "# My AWS config, kept by hand.",
        "[default]",
        "region = eu-central-1",
        "output = json",
        "# my personal account (a comment that leads into the next profile)",
        "[profile personal]",
        "region = us-west-2",
        "   # an indented comment inside it",
        "cli_pager =",
    ]
    lines = merged.splitlines()
    assert [line for line in lines if line in kept] == kept
    # The stale profile and the hand-pasted copy of a managed one are gone; the new ones once.
    parsed = sections_of(aws / "config")
    assert "profile 222233334444-OldRole" not in parsed
    assert merged.count("[profile 222233334444-DeveloperRole]") == 1
    assert parsed["profile 222233334444-DeveloperRole"]["source_profile"] == f"{ROOT}-{username}"
    assert parsed[f"profile {ROOT}-{username}"]["login_session"].endswith(f"/managed/{username}")
    assert parsed["default"] == {"region": "eu-central-1", "output": "json"}
    assert parsed["profile personal"] == {"region": "us-west-2", "cli_pager": ""}


@pytest.mark.process  # sh runs the merge
def test_running_the_merge_again_changes_nothing(tmp_path):
    (tmp_path / ".aws").mkdir()
    config_file = tmp_path / ".aws" / "config"
    config_file.write_text(EXISTING)
    script = merge_snippet("pete", config(roles=(DEV, GLASS)), ["222233334444-OldRole"])
    run(script, tmp_path)
    once = config_file.read_text()
    run(script, tmp_path)
    run(script, tmp_path)
    assert config_file.read_text() == once
    assert len(list(config_file.parent.glob("config.bak.*"))) == 3  # one backup a run, none lost


@pytest.mark.process  # sh runs the merge
def test_after_a_move_the_merge_removes_the_profiles_it_no_longer_reaches(tmp_path):
    config_file = tmp_path / "elsewhere" / "config"
    run(merge_snippet("pete", config(roles=(DEV, GLASS))), tmp_path, config_file)
    assert "profile 222233334444-BreakGlassRole" in sections_of(config_file)
    # The move took BreakGlassGroup away: the new config, and the profile to remove.
    run(
        merge_snippet("pete", config(roles=(DEV,)), ["222233334444-BreakGlassRole"]),
        tmp_path,
        config_file,
    )
    assert set(sections_of(config_file)) == {
        f"profile {ROOT}-pete",
        "profile 222233334444-DeveloperRole",
    }


@pytest.mark.process  # sh runs the merge
def test_the_merge_creates_a_missing_file_and_honours_aws_config_file(tmp_path):
    config_file = tmp_path / "new" / "dir" / "config"
    done = run(merge_snippet("pete", config()), tmp_path, config_file)
    assert "Backed up" not in done.stdout  # nothing to back up
    assert sections_of(config_file)[f"profile {ROOT}-pete"]["region"] == "eu-west-1"
    assert not (tmp_path / ".aws").exists()  # AWS_CONFIG_FILE, as the CLI reads it


@pytest.mark.process  # sh runs the merge
def test_the_merge_leaves_another_persons_block_alone(tmp_path):
    config_file = tmp_path / "config"
    run(merge_snippet("pete", config("pete")), tmp_path, config_file)
    run(merge_snippet("olga", config("olga")), tmp_path, config_file)
    run(merge_snippet("pete", config("pete", roles=())), tmp_path, config_file)
    parsed = sections_of(config_file)
    assert f"profile {ROOT}-olga" in parsed and f"profile {ROOT}-pete" in parsed
    assert parsed["profile 222233334444-DeveloperRole"]["source_profile"] == f"{ROOT}-olga"
