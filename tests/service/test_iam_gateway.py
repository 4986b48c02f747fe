import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.aws.errors import aws_errors
from chalicelib.aws.iam import IamGateway
from chalicelib.kernel.errors import AccessDenied, Conflict, NotFound, UpstreamError


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "AnyOperation")


@pytest.mark.parametrize(
    "code, error",
    [
        ("NoSuchEntity", NotFound),
        ("EntityAlreadyExists", Conflict),
        ("DeleteConflict", Conflict),
        ("Throttling", UpstreamError),
        ("ServiceFailure", UpstreamError),
        ("AccessDenied", AccessDenied),
    ],
)
def test_botocore_errors_become_the_apps_errors(code, error):
    with pytest.raises(error) as raised, aws_errors("doing a thing"):
        raise _client_error(code)
    assert raised.value.message.startswith("doing a thing")


def test_connection_failures_are_upstream_errors():
    with pytest.raises(UpstreamError, match="failed to reach AWS"), aws_errors("calling"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@pytest.fixture
def gateway(aws):
    return IamGateway(boto3.client("iam"))


def test_user_round_trip(gateway):
    assert gateway.get_user("pete") is None
    created = gateway.create_user("pete", "/managed/", {"ticket": "T-1"})
    assert created["arn"] == "arn:aws:iam::123456789012:user/managed/pete"
    user = gateway.get_user("pete")
    assert user["path"] == "/managed/" and user["tags"] == {"ticket": "T-1"}
    assert created["id"] == user["id"]  # IAM's UserId: the person, not the name
    # a name taken in any case, at any path, is None: the caller answers one wording for all
    assert gateway.create_user("PETE", "/", {}) is None


def test_console_groups_keys_and_mfa(gateway):
    gateway.create_user("pete", "/managed/", {})
    assert not gateway.has_login_profile("pete")
    sent = []
    gateway.client.meta.events.register(
        "provide-client-params.iam", lambda params, model, **_: sent.append((model.name, params))
    )
    gateway.set_console_password("pete", "Aa1!" * 6)
    assert gateway.has_login_profile("pete")
    gateway.set_console_password("pete", "Bb2@" * 6)  # a second call replaces the password
    assert [
        (name, p.get("Password"), p.get("PasswordResetRequired"))
        for name, p in sent
        if name.endswith("LoginProfile") and name != "GetLoginProfile"
    ] == [("CreateLoginProfile", "Aa1!" * 6, True), ("UpdateLoginProfile", "Bb2@" * 6, True)]
    assert gateway.delete_login_profile("pete") is True
    assert gateway.delete_login_profile("pete") is False
    gateway.add_to_group("pete", "ChildDeveloperGroup")
    assert gateway.groups_of("pete") == ["ChildDeveloperGroup"]
    key = gateway.client.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    assert gateway.access_keys("pete") == [{"id": key, "status": "Active"}]
    assert gateway.last_used(key) is None
    assert gateway.mfa_devices("pete") == []
    with pytest.raises(NotFound):
        gateway.groups_of("nobody")


def test_group_policies_are_read_in_one_whole_account_read(gateway):
    """Inline and attached (local managed, default version) documents of the managed groups
    that exist, from GetAccountAuthorizationDetails; other groups are not looked at."""
    iam = gateway.client
    iam.create_group(GroupName="FinanceGroup")
    iam.put_group_policy(
        GroupName="ChildDeveloperGroup",
        PolicyName="inline",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",'
            ' "Resource": "*"}]}'
        ),
    )
    sent = []
    iam.meta.events.register(
        "provide-client-params.iam", lambda params, model, **_: sent.append(model.name)
    )
    access = gateway.group_access(("ChildDeveloperGroup", "BreakGlassGroup", "NoSuchGroup"))
    assert sent == ["GetAccountAuthorizationDetails"]
    assert set(access) == {"ChildDeveloperGroup", "BreakGlassGroup"}
    resources = [s["Resource"] for d in access["ChildDeveloperGroup"] for s in d["Statement"]]
    assert "arn:aws:iam::222233334444:role/DeveloperRole" in str(resources)
    assert "*" in resources  # the inline one
