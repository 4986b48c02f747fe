"""The deployment file against an account (moto in process): the first file read from the
organization and its IAM, and a second stage sharing the root account under a name prefix,
deployed from what the build generates beside today's stage and kept apart by its own policy."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml
from moto import mock_aws

from deploy import generate
from deploy.model import DeploymentError, parse
from deploy.organization import first_file
from devstack import cfn
from tests.support.enforcement import enforced

REGION = "eu-west-1"
ROOT = "409876543210"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch):
    """The root account (the organization's management account) in a fresh in-process moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_ACCOUNT_ID": ROOT,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def organization(session) -> dict[str, str]:
    """An organization: Workloads/Prod and Sandbox OUs, an account in each, one suspended."""
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    units = {}
    units["Workloads"] = org.create_organizational_unit(ParentId=root, Name="Workloads")
    units["Prod"] = org.create_organizational_unit(
        ParentId=units["Workloads"]["OrganizationalUnit"]["Id"], Name="Prod"
    )
    units["Sandbox"] = org.create_organizational_unit(ParentId=root, Name="Sandbox")
    accounts = {}
    for name, unit in (("shop-prod", "Prod"), ("shop-sandbox", "Sandbox"), ("shared", None)):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        if unit:
            org.move_account(
                AccountId=account,
                SourceParentId=root,
                DestinationParentId=units[unit]["OrganizationalUnit"]["Id"],
            )
        accounts[name] = account
    return accounts


def test_the_first_file_is_read_from_the_organization_and_its_iam(session):
    accounts = organization(session)
    iam = session.client("iam")
    iam.create_group(GroupName="Admins")
    iam.create_user(UserName="alice")
    iam.create_user(UserName="bob", Path="/team/")
    iam.add_user_to_group(GroupName="Admins", UserName="alice")

    text = first_file("prod", session=session, region=REGION)

    document = yaml.safe_load(text)
    stage = document["stages"]["prod"]
    assert document["region"] == REGION
    assert stage["accounts"]["root"] == ROOT
    assert stage["accounts"]["children"] == sorted(accounts.values())  # not the management one
    for line in (
        f"from account {ROOT}",
        "/Workloads/Prod/",
        "/Sandbox/",
        f"#   {accounts['shop-prod']}  shop-prod  (/Workloads/Prod/)",
        f"#   {accounts['shared']}  shared  (/)",
        "#   Admins  (path /, 1 members)",
        "#   alice  (path /)",
        "#   bob  (path /team/)",
    ):
        assert line in text, line
    deployment = parse(document)  # checks as written, nothing to edit for a first deploy
    assert generate.stage_environment(deployment, "prod")["CHILD_ACCOUNT_IDS"] == ",".join(
        sorted(accounts.values())
    )


def test_without_an_organization_the_file_says_what_was_not_read_and_check_says_what_to_add(
    session,
):
    text = first_file("prod", session=session, region=REGION)
    assert "# Not read: the organization: AWSOrganizationsNotInUseException" in text
    with pytest.raises(DeploymentError) as error:
        parse(yaml.safe_load(text), "iam.yaml")
    assert "iam.yaml: stages.prod.accounts.children: list at least one child account id" in str(
        error.value
    )


def two_stages() -> dict:
    stage = {
        "accounts": {"root": ROOT, "children": ["409876543211"]},
        "allowed_groups": ["ChildDeveloperGroup", "BreakGlassGroup"],
        "scim": {"groups": ["ChildDeveloperGroup"]},
    }
    dev = {
        "accounts": {"root": ROOT, "children": ["409876543212"]},
        "name_prefix": "Dev",
        "managed_path": "/managed-dev/",
        "allowed_groups": ["DevChildDeveloperGroup", "DevBreakGlassGroup"],
        "grant_max_hours": {"DevBreakGlassGroup": 4},
        "scim": {"groups": ["DevChildDeveloperGroup"]},
    }
    return {"region": REGION, "stages": {"prod": stage, "dev": dev}}


def test_a_prefixed_stage_deploys_beside_todays_and_its_policy_keeps_to_its_own(session, tmp_path):
    deployment = parse(two_stages())
    generate.build(deployment, tmp_path, "test")
    for name in ("prod", "dev"):
        given = json.loads((tmp_path / "parameters" / name / "root-access-groups.json").read_text())
        template = generate._template_path(tmp_path, deployment.stages[name], "root/access-groups")
        stack = generate.names(name, deployment.stages[name])["groups_stack"]
        cfn.deploy(session, template, stack, given)
    iam = session.client("iam")
    groups = {g["GroupName"] for g in iam.list_groups()["Groups"]}
    assert groups == {
        "ChildDeveloperGroup",
        "BreakGlassGroup",
        "DevChildDeveloperGroup",
        "DevBreakGlassGroup",
    }
    policies = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert {"ManagedUserSelfService", "DevManagedUserSelfService", "AccessSuspended"} <= policies
    assert {"DevAccessSuspended", "ChildDeveloperPolicy", "DevChildDeveloperPolicy"} <= policies

    # The dev stage's functions, holding only the generated policy-dev.json.
    iam.create_user(UserName="prod-pete", Path="/managed/")
    iam.create_user(UserName="dev-dana", Path="/managed-dev/")
    iam.create_user(UserName="app-dev")
    iam.put_user_policy(
        UserName="app-dev",
        PolicyName="policy-dev",
        PolicyDocument=(tmp_path / ".chalice" / "policy-dev.json").read_text(),
    )
    key = iam.create_access_key(UserName="app-dev")["AccessKey"]
    app = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    ).client("iam")
    with enforced():
        app.add_user_to_group(GroupName="DevChildDeveloperGroup", UserName="dev-dana")
        for call in (
            lambda: app.add_user_to_group(GroupName="ChildDeveloperGroup", UserName="dev-dana"),
            lambda: app.tag_user(UserName="prod-pete", Tags=[{"Key": "k", "Value": "v"}]),
            lambda: app.delete_login_profile(UserName="prod-pete"),
        ):
            with pytest.raises(app.exceptions.ClientError) as denied:
                call()
            assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="dev-dana")["Groups"]] == [
        "DevChildDeveloperGroup"
    ]
