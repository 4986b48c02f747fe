"""A person's ~/.aws/config: GET /users/{username}/aws-config, and the config (with the profiles to
remove) in the answers of a move, a grant and a restore, over REST and Slack.

What the config should hold is not taken from the app's own policy reading: moto, enforcing IAM,
decides with the person's own access key which child roles it may assume, and botocore assumes
each profile exactly as the AWS CLI would.
"""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.configloader import raw_config_parse
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.lifecycle import replies
from chalicelib.lifecycle.commands import RestoreRequest
from devstack.local import REGION
from tests.support import onboard, ticket
from tests.support.enforcement import enforced as iam_enforced
from tests.support.slack import ephemeral, everything_in, run_worker

ROOT = "123456789012"
CHILD = "222233334444"
DEV = f"arn:aws:iam::{CHILD}:role/DeveloperRole"
GLASS = f"arn:aws:iam::{CHILD}:role/BreakGlassRole"
# MFA_ROLES of the stage is "*": the self-service policy denies sts:AssumeRole without MFA, so
# every profile asks for it.
SOURCE = f"{ROOT}-pete"  # the person's own profile: aws login, or their access key


def config_of(api, username: str = "pete") -> dict:
    response = api.call("GET", f"/users/{username}/aws-config")
    assert response.status_code == 200, response.json
    return response.json


def sections(text: str, tmp_path) -> dict[str, dict]:
    """The config's role profiles as botocore's own loader reads them (the person's own source
    profile left out)."""
    path = tmp_path / "config"
    path.write_text(text)
    return {name: p for name, p in raw_config_parse(str(path)).items() if "role_arn" in p}


def profile_names(text: str, tmp_path) -> set[str]:
    return {name.removeprefix("profile ") for name in sections(text, tmp_path)}


# what the person's own key may assume, decided by moto's IAM enforcement


def child_roles(child: str = CHILD) -> list[str]:
    """Every role of a child account, listed by the root's administrator through
    OrganizationAccountAccessRole as AWS Organizations sets it up."""
    assumed = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{child}:role/OrganizationAccountAccessRole",
        RoleSessionName="inspection",
    )["Credentials"]
    iam = boto3.client(
        "iam",
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    )
    return sorted(role["Arn"] for role in iam.list_roles()["Roles"])


def access_key(username: str = "pete") -> dict:
    key = boto3.client("iam").create_access_key(UserName=username)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def assumable(key: dict, roles: list[str], username: str = "pete") -> set[str]:
    """The roles ``key`` may assume, by asking STS with IAM enforced, with an MFA code (the
    self-service policy denies everything else without one)."""
    sts = boto3.client("sts", region_name=REGION, **key)
    allowed = set()
    with iam_enforced():
        for arn in roles:
            try:
                sts.assume_role(
                    RoleArn=arn,
                    RoleSessionName=username,
                    SerialNumber=f"arn:aws:iam::{ROOT}:mfa/{username}",
                    TokenCode="123456",
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "AccessDenied", error
                continue
            allowed.add(arn)
    return allowed


@pytest.mark.parametrize(
    "groups",
    [["ChildDeveloperGroup"], ["BreakGlassGroup"], ["BreakGlassGroup", "ChildDeveloperGroup"], []],
)
def test_the_profiles_are_exactly_the_roles_the_persons_own_key_may_assume(
    api, tmp_path, monkeypatch, groups
):
    onboard(api, groups=groups)
    key = access_key()  # the config of a key holder: the key's profile holds only the region
    answer = config_of(api)
    assert answer["credentials"] == "access_key" and answer["source_profile"] == SOURCE
    candidates = child_roles()
    expected = assumable(key, candidates)
    assert set(candidates) - expected, "some child role must stay out of reach"
    assert len(expected) == len(groups)  # each group reaches its one role

    parsed = sections(answer["aws_config"], tmp_path)
    assert {p["role_arn"] for p in parsed.values()} == expected
    assert answer["profiles"] == [
        {
            "profile": name.removeprefix("profile "),
            "role_arn": p["role_arn"],
            "mfa": "mfa_serial" in p,
        }
        for name, p in parsed.items()
    ]

    # Each profile works as the AWS CLI uses it: the person's key under their own profile's
    # name, AssumeRole with the profile's settings (a token code asked for where mfa_serial is).
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[{SOURCE}]\n" + "".join(f"{k} = {v}\n" for k, v in key.items()))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    asked: list[str] = []
    with iam_enforced():
        for name, profile in parsed.items():
            session = botocore.session.Session(profile=name.removeprefix("profile "))
            session.get_component("credential_provider").get_provider("assume-role")._prompter = (
                lambda prompt, role=profile["role_arn"]: asked.append(role) or "123456"
            )
            arn = session.create_client("sts").get_caller_identity()["Arn"]
            role = profile["role_arn"].rsplit("/", 1)[1]
            assert arn == f"arn:aws:sts::{CHILD}:assumed-role/{role}/pete"
    assert sorted(asked) == sorted(expected)


def test_each_profile_has_what_the_aws_cli_needs(api, tmp_path, monkeypatch):
    onboard(api, groups=["BreakGlassGroup", "ChildDeveloperGroup"])
    text = config_of(api)["aws_config"]
    parsed = sections(text, tmp_path)
    assert set(parsed) == {f"profile {CHILD}-DeveloperRole", f"profile {CHILD}-BreakGlassRole"}
    for profile in parsed.values():
        assert profile["role_session_name"] == "pete"
        assert profile["source_profile"] == SOURCE
        assert profile["region"] == REGION
        assert profile["mfa_serial"] == f"arn:aws:iam::{ROOT}:mfa/pete"

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    loaded = botocore.session.Session().full_config["profiles"]
    # No key: the source profile is the person's console sign-in (aws login).
    assert loaded[SOURCE] == {
        "login_session": f"arn:aws:iam::{ROOT}:user/managed/pete",
        "region": REGION,
    }
    assert loaded[f"{CHILD}-BreakGlassRole"] == {
        "source_profile": SOURCE,
        "role_arn": GLASS,
        "role_session_name": "pete",
        "mfa_serial": f"arn:aws:iam::{ROOT}:mfa/pete",
        "region": REGION,
    }
    assert loaded[f"{CHILD}-DeveloperRole"] == {
        "source_profile": SOURCE,
        "role_arn": DEV,
        "role_session_name": "pete",
        "mfa_serial": f"arn:aws:iam::{ROOT}:mfa/pete",
        "region": REGION,
    }


# the route
def test_the_route_answers_json_or_the_bare_file(api, tmp_path):
    onboard(api)
    answer = config_of(api)
    assert answer["username"] == "pete"
    assert answer["profiles"] == [
        {"profile": f"{CHILD}-DeveloperRole", "role_arn": DEV, "mfa": True}
    ]
    assert answer["credentials"] == "login_session" and answer["source_profile"] == SOURCE
    text = api.call("GET", "/users/pete/aws-config?format=text")
    assert text.status_code == 200 and text.headers["Content-Type"] == "text/plain"
    assert text.body.decode() == answer["aws_config"]
    assert api.call("GET", "/users/pete/aws-config?format=json").json == answer


def test_the_route_refuses_as_the_other_user_routes_do(api):
    boto3.client("iam").create_user(UserName="admin", Path="/")  # not managed
    for path, status in [
        ("/users/ghost/aws-config", 404),
        ("/users/admin/aws-config", 404),
        ("/users/bad%20name/aws-config", 400),
        ("/users/break-glass-owner/aws-config", 403),
    ]:
        response = api.call("GET", path)
        assert response.status_code == status, (path, response.json)
        assert response.json["Message"], path
    assert api.call("GET", "/users/ghost/aws-config", token=None).status_code == 401
    assert api.call("GET", "/users/ghost/aws-config", token="wrong").status_code == 401


def test_a_suspended_user_has_no_profile(api, tmp_path):
    onboard(api)
    assert api.call("POST", "/users/pete/suspend", ticket("T-2")).status_code == 200
    answer = config_of(api)
    assert answer["profiles"] == [] and sections(answer["aws_config"], tmp_path) == {}


# the config in the answers of changes
def test_a_move_answers_the_new_config_and_the_profile_to_remove(api, tmp_path):
    onboard(api)
    response = api.call(
        "PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")}
    )
    assert response.status_code == 200, response.json
    moved = response.json
    assert moved["groups"] == ["BreakGlassGroup"] and moved["roles"] == [GLASS]  # USER, as before
    assert profile_names(moved["aws_config"], tmp_path) == {f"{CHILD}-BreakGlassRole"}
    assert moved["profiles_to_remove"] == [f"{CHILD}-DeveloperRole"]
    assert config_of(api)["aws_config"] == moved["aws_config"]
    # a replay answers the same
    again = api.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")})
    assert again.json == moved

    both = api.call(
        "PUT",
        "/users/pete/groups",
        {"groups": ["BreakGlassGroup", "ChildDeveloperGroup"], **ticket("T-3")},
    ).json
    assert both["profiles_to_remove"] == []
    none = api.call("PUT", "/users/pete/groups", {"groups": [], **ticket("T-4")}).json
    assert none["profiles_to_remove"] == [f"{CHILD}-BreakGlassRole", f"{CHILD}-DeveloperRole"]
    assert sections(none["aws_config"], tmp_path) == {}


def test_a_grant_adds_a_profile_and_removes_none(api, tmp_path):
    onboard(api)
    response = api.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 2, "reason": "incident 7", **ticket("T-2")},
    )
    assert response.status_code == 201, response.json
    granted = response.json
    assert profile_names(granted["aws_config"], tmp_path) == {
        f"{CHILD}-DeveloperRole",
        f"{CHILD}-BreakGlassRole",
    }
    assert granted["profiles_to_remove"] == []
    assert config_of(api)["aws_config"] == granted["aws_config"]


def test_a_restore_gives_the_config_back(api, tmp_path):
    created = onboard(api).json
    api.call("POST", "/users/pete/suspend", ticket("T-2"))
    response = api.call("POST", "/users/pete/restore", ticket("T-3"))
    assert response.status_code == 200, response.json
    restored = response.json
    assert restored["temporary_password"] and restored["user"]["status"] == "active"
    assert restored["aws_config"] == created["aws_config"]
    assert profile_names(restored["aws_config"], tmp_path) == {f"{CHILD}-DeveloperRole"}
    assert restored["profiles_to_remove"] == []
    assert config_of(api)["aws_config"] == restored["aws_config"]


def test_a_retried_restore_that_had_completed_carries_the_config(api):
    """The ticket's answer is gone from the idempotency store, the restore itself was done."""
    onboard(api)
    api.call("POST", "/users/pete/suspend", ticket("T-2"))
    first = api.call("POST", "/users/pete/restore", ticket("T-3")).json
    again = bootstrap.services().lifecycle.restore("pete", RestoreRequest(**ticket("T-3")))
    assert again["aws_config"] == first["aws_config"] and again["profiles_to_remove"] == []
    assert again["temporary_password"] != first["temporary_password"]


def test_a_move_retried_after_failing_halfway_still_names_the_profile_to_remove(api, iam_fails):
    """The first attempt took DeveloperGroup away and failed to add BreakGlassGroup; the retry
    starts from that half-moved state and must still say which profile went."""
    onboard(api)
    iam_fails.armed = True
    body = {"groups": ["BreakGlassGroup"], **ticket("T-2")}
    failed = api.call("PUT", "/users/pete/groups", body)
    assert failed.status_code >= 500 and iam_fails.failures == 1, failed.json
    groups = boto3.client("iam").list_groups_for_user(UserName="pete")["Groups"]
    assert groups == []  # half done
    moved = api.call("PUT", "/users/pete/groups", body)
    assert moved.status_code == 200, moved.json
    assert moved.json["profiles_to_remove"] == [f"{CHILD}-DeveloperRole"]


@pytest.fixture
def iam_fails(client):
    """Once armed, the app's next AddUserToGroup fails as AWS does when it is down (a 5xx)."""
    from botocore.awsrequest import AWSResponse

    class Once:
        armed = False
        failures = 0

        def __call__(self, **_):
            if not self.armed or self.failures:
                return None
            self.failures += 1
            return (
                AWSResponse("https://iam.amazonaws.com", 500, {}, None),
                {
                    "Error": {"Code": "ServiceFailure", "Message": "internal failure"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
            )

    once = Once()
    events = bootstrap.services().clients.root("iam").meta.events
    events.register("before-call.iam.AddUserToGroup", once)
    yield once
    events.unregister("before-call.iam.AddUserToGroup", once)


def test_the_config_costs_no_changing_call(api):
    """The move's audited calls are its group changes and the deny of the role it takes away
    (DeveloperRole's sessions), and nothing for the config."""
    onboard(api)
    api.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket("T-2")})
    (event,) = [
        e for e in api.call("GET", "/audit?ticket=T-2").json["events"] if e["result"] == "ok"
    ]
    calls = [
        (c["operation"], c["params"].get("GroupName") or c["params"].get("RoleName"))
        for wave in event["detail"]["calls"]
        for c in wave
    ]
    assert sorted(calls) == [
        ("AddUserToGroup", "BreakGlassGroup"),
        ("PutRolePolicy", "DeveloperRole"),
        ("RemoveUserFromGroup", "ChildDeveloperGroup"),
    ]


def test_a_plan_is_unchanged_by_the_config(api):
    onboard(api)
    plan = api.call(
        "PUT",
        "/users/pete/groups",
        {"groups": ["BreakGlassGroup"], "dry_run": True, **ticket("T-2")},
    ).json
    # the two group changes and the deny of DeveloperRole's sessions, which the move takes away
    assert plan["dry_run"] is True and "aws_config" not in plan and plan["calls"] == 3


# Slack
def test_a_move_through_slack_gives_the_requester_the_config_and_the_profile_to_remove(
    api, slack, poller, catcher
):
    onboard(api)
    ephemeral(slack.command("move pete BreakGlassGroup", response_url=catcher.url()))
    assert run_worker(poller) == [(1, 0)]
    public, private = catcher.next(), catcher.next()
    assert public["response_type"] == "in_channel" and public["text"] == "pete moved"
    assert "[profile" not in everything_in(public)

    assert private["response_type"] == "ephemeral"
    shown = everything_in(private)
    config = config_of(api)["aws_config"]
    assert "[profile 222233334444-BreakGlassRole]" in config
    code = "".join(
        block["text"]["text"].split("```")[1]
        for block in private["blocks"]
        if "```" in block.get("text", {}).get("text", "")
    )
    assert code == config  # nothing in it is markup to escape
    assert f"`{CHILD}-DeveloperRole`" in shown and "remove" in shown


def test_a_grant_through_slack_gives_the_requester_the_new_config(api, slack, poller, catcher):
    onboard(api)
    ephemeral(
        slack.command("grant pete BreakGlassGroup 2 incident INC-7", response_url=catcher.url())
    )
    run_worker(poller)
    public, private = catcher.next(), catcher.next()
    assert public["text"] == "pete granted access"
    assert private["response_type"] == "ephemeral"
    assert "role_arn = " + GLASS in everything_in(private)
    assert "No profile to remove" in everything_in(private)


def test_a_long_config_and_many_profiles_stay_within_slacks_limits():
    profiles = [
        f"[profile {n:012d}-Role{n}]\nsource_profile = default\n"
        f"role_arn = arn:aws:iam::{n:012d}:role/Role{n}\nrole_session_name = pete\n"
        "region = us-east-1\n"
        for n in range(400)
    ]
    config = "# Profiles for pete.\n" + "\n".join(profiles)
    answer = {
        "username": "pete",
        "groups": [],
        "roles": [],
        "grants": [],
        "access_keys": [],
        "status": "active",
        "aws_config": config,
        "profiles_to_remove": [f"{n:012d}-Role{n}" for n in range(400)],
    }
    messages = replies.result("move", answer, "T-1", "U1")
    private = messages[-1]
    assert private["response_type"] == "ephemeral"
    for message in messages:
        assert len(message["blocks"]) <= 50
        for block in message["blocks"]:
            texts = (
                [block["text"]["text"]]
                if "text" in block
                else [e["text"] for e in block.get("elements", []) + block.get("fields", [])]
            )
            assert all(len(text) <= 3000 for text in texts), block
    code = "".join(
        block["text"]["text"].split("```")[1]
        for block in private["blocks"]
        if "```" in block["text"]["text"]
    )
    assert config.startswith(code) and code.endswith("\n")  # cut between lines
    assert "aws-config?format=text" in everything_in(private)
    assert "more_" in everything_in(private)
