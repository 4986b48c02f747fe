"""POST /users and GET /users/{username} through the real Chalice app against moto."""

import boto3
import pytest
from botocore.configloader import raw_config_parse

from chalicelib import bootstrap

DEV_ROLE = "arn:aws:iam::222233334444:role/DeveloperRole"
BODY = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-1",
    "requested_by": "alice",
    "email": "pete@example.com",
}


def _managed_users():
    return [u["UserName"] for u in boto3.client("iam").list_users(PathPrefix="/managed/")["Users"]]


def test_health_needs_no_token(api):
    response = api.call("GET", "/health", token=None)
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_onboard_creates_a_managed_user_with_console_and_groups(api, tmp_path):
    sent = []
    iam = bootstrap.services().clients.root("iam")
    iam.meta.events.register(
        "provide-client-params.iam.CreateLoginProfile", lambda params, **_: sent.append(params)
    )

    response = api.call("POST", "/users", BODY)

    assert response.status_code == 201, response.json
    answer = response.json
    user = answer["user"]
    assert user["arn"] == "arn:aws:iam::123456789012:user/managed/pete"
    assert user["status"] == "active" and user["groups"] == ["ChildDeveloperGroup"]
    assert user["console"] is True and user["mfa"] is False and user["access_keys"] == []
    assert user["roles"] == [DEV_ROLE] and user["grants"] == []
    # the login profile was requested with a reset on first sign-in and the password returned
    assert sent == [
        {
            "UserName": "pete",
            "Password": answer["temporary_password"],
            "PasswordResetRequired": True,
        }
    ]
    assert len(answer["temporary_password"]) >= 20

    aws = boto3.client("iam")
    tags = {t["Key"]: t["Value"] for t in aws.list_user_tags(UserName="pete")["Tags"]}
    assert tags["ticket"] == "T-1" and tags["requested_by"] == "alice"
    assert tags["email"] == "pete@example.com"
    attached = aws.list_attached_user_policies(UserName="pete")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["ManagedUserSelfService"]
    members = aws.get_group(GroupName="ChildDeveloperGroup")["Users"]
    assert [m["UserName"] for m in members] == ["pete"]

    config = tmp_path / "config"
    config.write_text(answer["aws_config"])
    profile = raw_config_parse(str(config))["profile 222233334444-DeveloperRole"]
    assert profile["role_arn"] == DEV_ROLE and profile["role_session_name"] == "pete"


def test_onboard_without_console_creates_no_login_profile(api):
    response = api.call("POST", "/users", {**BODY, "console": False})
    assert response.status_code == 201
    assert "temporary_password" not in response.json
    assert response.json["user"]["console"] is False


def test_get_user_describes_what_aws_holds(api):
    api.call("POST", "/users", BODY)
    key = boto3.client("iam").create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    response = api.call("GET", "/users/pete")
    assert response.status_code == 200
    assert response.json["access_keys"] == [{"id": key, "status": "Active", "last_used": None}]
    assert response.json["roles"] == [DEV_ROLE]


def test_retry_with_the_same_ticket_finishes_a_half_done_onboarding(api):
    # as if the first attempt stopped right after creating the user
    boto3.client("iam").create_user(
        UserName="pete", Path="/managed/", Tags=[{"Key": "ticket", "Value": "T-1"}]
    )
    response = api.call("POST", "/users", BODY)
    assert response.status_code == 201, response.json
    assert response.json["user"]["groups"] == ["ChildDeveloperGroup"]
    assert response.json["user"]["console"] is True


@pytest.mark.parametrize(
    "method, path, body", [("POST", "/users", BODY), ("GET", "/users/pete", None)]
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_401(api, method, path, body, token):
    response = api.call(method, path, body, token=token)
    assert response.status_code == 401
    assert "Bearer" in response.json["Message"] or "not valid" in response.json["Message"]
    assert _managed_users() == []


def test_a_basic_auth_header_is_401(api):
    response = api.call("GET", "/users/pete", token=None, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({**BODY, "username": "pete smith"}, 400, "username"),
        ({**BODY, "username": "x" * 65}, 400, "username"),
        ({**BODY, "groups": ["Administrators"]}, 403, "Administrators are not managed"),
        ({**BODY, "groups": "ChildDeveloperGroup"}, 400, "groups"),
        ({**BODY, "email": "not-an-email"}, 400, "email"),
        ({k: v for k, v in BODY.items() if k != "ticket"}, 400, "ticket: Field required"),
        ({**BODY, "ticket": "  "}, 400, "ticket"),
        ({**BODY, "admin": True}, 400, "admin: Extra inputs are not permitted"),
        ({**BODY, "username": "break-glass-owner"}, 403, "protected"),
        (b"{not json", 400, "JSON object"),
        (b"[1, 2]", 400, "JSON object"),
        (b"", 400, "JSON object"),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_to_fix_and_creates_nothing(api, body, status, message):
    response = api.call("POST", "/users", body)
    assert response.status_code == status, response.json
    assert message in response.json["Message"]
    assert _managed_users() == []


def test_an_allowed_group_missing_from_the_account_is_a_400(api):
    iam = boto3.client("iam")
    for policy in iam.list_attached_group_policies(GroupName="BreakGlassGroup")["AttachedPolicies"]:
        iam.detach_group_policy(GroupName="BreakGlassGroup", PolicyArn=policy["PolicyArn"])
    iam.delete_group(GroupName="BreakGlassGroup")
    response = api.call("POST", "/users", {**BODY, "groups": ["BreakGlassGroup"]})
    assert response.status_code == 400
    assert "BreakGlassGroup do not exist" in response.json["Message"]
    assert _managed_users() == []


def test_an_existing_user_is_a_409(api):
    assert api.call("POST", "/users", BODY).status_code == 201
    response = api.call("POST", "/users", {**BODY, "ticket": "T-2"})
    assert response.status_code == 409
    assert "pete cannot be onboarded: the name is not available" in response.json["Message"]


def test_a_user_outside_the_managed_path_is_a_409_and_untouched(api):
    boto3.client("iam").create_user(UserName="pete", Path="/")
    response = api.call("POST", "/users", BODY)
    assert response.status_code == 409
    assert boto3.client("iam").list_groups_for_user(UserName="pete")["Groups"] == []


@pytest.mark.parametrize(
    "path, status",
    [("/users/nobody", 404), ("/users/bad%20name", 400), ("/users/break-glass-owner", 403)],
)
def test_get_user_errors(api, path, status):
    response = api.call("GET", path)
    assert response.status_code == status, response.json


def test_get_user_outside_the_managed_path_is_404(api):
    boto3.client("iam").create_user(UserName="admin", Path="/")
    assert api.call("GET", "/users/admin").status_code == 404


@pytest.mark.parametrize("name", ["pete\n", "pete;rm", "", "pe te", "x" * 65])
def test_path_usernames_follow_iams_rule_to_the_last_character(name):
    from chalicelib.kernel.errors import BadRequest
    from chalicelib.kernel.identity import check_username

    with pytest.raises(BadRequest, match="not valid"):
        check_username(name)
    assert check_username("pete.o-neil+ops@example.com") == "pete.o-neil+ops@example.com"
