"""The self-service policy (templates/root/access-groups.yaml, ``ManagedUserSelfService``) against
AWS's documentation, by the stage's ACCESS_KEYS, and in force on moto with
``aws:MultiFactorAuthPresent`` evaluated as AWS sets it (devstack/moto_mfa.py).

AWS's documents it follows:
- the AWS managed policy SignInLocalDevelopmentAccess, what ``aws login`` needs:
  ``signin:AuthorizeOAuth2Access`` and ``signin:CreateOAuth2Token`` on
  ``arn:aws:signin:*:*:oauth2/public-client/*``
  (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/SignInLocalDevelopmentAccess.html);
- "IAM: Allows IAM users to self-manage an MFA device"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html):
  the person may create, enable, list and resync their own MFA device; deactivating it needs
  MFA; statement BlockMostAccessUnlessSignedInWithMFA denies every other action unless
  ``aws:MultiFactorAuthPresent`` (``BoolIfExists`` ... ``false``), with ``iam:ChangePassword``
  and ``iam:GetAccountPasswordPolicy`` added so that the first sign-in can change the password
  (the note of "AWS: Allows MFA-authenticated IAM users to manage their own credentials on the
  Security credentials page"), and ``sts:GetSessionToken`` so that a key holder can get an MFA
  session.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import cfn, moto_ext
from devstack.local import PROJECT, REGION
from tests.support.enforcement import enforced

ROOT = "123456789012"
TEMPLATE = PROJECT / "templates/root/access-groups.yaml"
SIGN_IN = {"signin:AuthorizeOAuth2Access", "signin:CreateOAuth2Token"}
OWN_USER = f"arn:aws:iam::{ROOT}:user/managed/${{aws:username}}"
BEFORE_MFA = SIGN_IN | {
    "iam:ChangePassword",
    "iam:GetAccountPasswordPolicy",
    "iam:GetUser",
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetMFADevice",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
}
KEYS = {
    "iam:CreateAccessKey",
    "iam:DeleteAccessKey",
    "iam:GetAccessKeyLastUsed",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
}


@pytest.fixture
def deployed(monkeypatch):
    """Deploys the root template with AccessKeys=<mode>; returns the policy's statements."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    moto_ext.apply()
    with mock_aws():
        session = boto3.Session(region_name=REGION)

        def deploy(mode: str) -> dict[str, dict]:
            outputs = cfn.deploy(
                session,
                TEMPLATE,
                f"access-groups-{mode.replace('_', '-')}",
                {"ChildAccountIds": "222233334444", "AccessKeys": mode},
            )
            iam = session.client("iam")
            arn = outputs["SelfServicePolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)
            statements = document["PolicyVersion"]["Document"]["Statement"]
            iam.delete_policy(PolicyArn=arn)  # the next mode's stack names it again
            return {s["Sid"]: s for s in statements}

        yield deploy


def actions(statement: dict) -> set[str]:
    found = statement.get("Action") or statement.get("NotAction")
    return {found} if isinstance(found, str) else set(found)


def test_it_holds_aws_login_and_own_mfa_and_denies_the_rest_without_mfa(deployed):
    statements = deployed("none")
    sign_in = statements["SignInLocalDevelopment"]
    assert actions(sign_in) == SIGN_IN and sign_in["Effect"] == "Allow"
    assert sign_in["Resource"] == "arn:aws:signin:*:*:oauth2/public-client/*"
    assert actions(statements["OwnMfaDevice"]) == {
        "iam:EnableMFADevice",
        "iam:GetMFADevice",
        "iam:ListMFADevices",
        "iam:ResyncMFADevice",
    }
    assert statements["OwnMfaDevice"]["Resource"] == OWN_USER
    deactivate = statements["DeactivateOwnMfaDeviceOnlyWithMfa"]
    assert deactivate["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    block = statements["BlockMostAccessUnlessSignedInWithMFA"]
    assert block["Effect"] == "Deny" and block["Resource"] == "*"
    assert actions(block) == BEFORE_MFA and "Action" not in block
    assert block["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    # Nothing it allows is outside what the person may do before MFA, but deactivating and
    # deleting their own MFA device (both need MFA: the first by condition, the second by the
    # block).
    allowed = set().union(*(actions(s) for s in statements.values() if s["Effect"] == "Allow"))
    assert allowed - BEFORE_MFA == {"iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"}
    assert not allowed & KEYS  # no keys of their own on a keyless stage


@pytest.mark.parametrize("mode", ["self_service", "issued_at_onboarding"])
def test_where_keys_are_allowed_the_person_manages_their_own_only_with_mfa(deployed, mode):
    statements = deployed(mode)
    keys = statements["OwnAccessKeysOnlyWithMfa"]
    assert actions(keys) == KEYS and keys["Resource"] == OWN_USER
    assert keys["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert not KEYS & actions(statements["BlockMostAccessUnlessSignedInWithMFA"])


def test_the_template_follows_the_stages_access_keys_setting():
    """The local stack deploys the template with the dev stage's ACCESS_KEYS; prod's is none."""
    from devstack.local import stage_access_keys

    template = cfn.load_template(TEMPLATE)
    assert template["Parameters"]["AccessKeys"]["AllowedValues"] == [
        "none",
        "self_service",
        "issued_at_onboarding",
    ]
    assert stage_access_keys("dev") == "issued_at_onboarding"
    assert stage_access_keys("prod") == "none"
    config = json.loads((PROJECT / ".chalice/config.json").read_text())
    # Every role then needs MFA: the profiles carry mfa_serial for every role.
    assert config["environment_variables"]["MFA_ROLES"] == "*"


# in force, with moto evaluating aws:MultiFactorAuthPresent as AWS sets it
@pytest.fixture
def person(aws):
    """pete, onboarded by hand as the app does: in ChildDeveloperGroup, the self-service policy
    attached, with an access key of his own."""
    iam = boto3.client("iam")
    iam.create_user(UserName="pete", Path="/managed/")
    iam.add_user_to_group(UserName="pete", GroupName="ChildDeveloperGroup")
    iam.attach_user_policy(
        UserName="pete", PolicyArn=f"arn:aws:iam::{ROOT}:policy/ManagedUserSelfService"
    )
    key = iam.create_access_key(UserName="pete")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def test_without_mfa_the_child_accounts_are_refused_with_it_they_are_reached(person):
    sts = boto3.client("sts", region_name=REGION, **person)
    role = "arn:aws:iam::222233334444:role/DeveloperRole"
    with enforced():
        with pytest.raises(ClientError) as refused:
            sts.assume_role(RoleArn=role, RoleSessionName="pete")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assumed = sts.assume_role(
            RoleArn=role,
            RoleSessionName="pete",
            SerialNumber=f"arn:aws:iam::{ROOT}:mfa/pete",
            TokenCode="123456",
        )["Credentials"]
        child = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
        )
        assert child.get_caller_identity()["Arn"].endswith("assumed-role/DeveloperRole/pete")


def test_without_mfa_the_person_may_not_touch_their_keys(person):
    iam = boto3.client("iam", region_name=REGION, **person)
    with enforced():
        for call in (
            lambda: iam.create_access_key(UserName="pete"),
            lambda: iam.list_access_keys(UserName="pete"),
            lambda: iam.list_users(),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
