"""The CloudFormation templates: lint-clean, and deployed on moto they build what they describe."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from cfnlint.api import lint_file
from moto import mock_aws

from chalicelib.lifecycle import revocation_policy
from chalicelib.settings import Settings
from devstack import cfn

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ROOT_ACCOUNT = "123456789012"  # moto's default account
CHILD_ACCOUNTS = ("222233334444", "333344445555")
REGION = "us-east-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch):
    """A session of the root account in a fresh in-process moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def child_session(root: boto3.Session, account: str) -> boto3.Session:
    """Calls with these credentials land in ``account`` (moto does not check the role here)."""
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    sts = root.client("sts")
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def policy_document(iam, arn: str) -> dict:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def physical_ids(session: boto3.Session, stack_name: str) -> dict[str, str]:
    resources = session.client("cloudformation").list_stack_resources(StackName=stack_name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResourceSummaries"]
    }


def trust_conditions(iam, role_name: str) -> dict:
    [statement] = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ROOT_ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    return statement["Condition"]


def test_templates_are_lint_clean():
    paths = sorted(TEMPLATES.rglob("*.yaml"))
    assert len(paths) >= 3
    findings = [str(match) for path in paths for match in lint_file(path)]
    assert not findings, "\n".join(findings)


def test_access_groups_grant_the_child_roles(session):
    outputs = cfn.deploy(
        session,
        TEMPLATES / "root/access-groups.yaml",
        "access-groups",
        {"ChildAccountIds": ",".join(CHILD_ACCOUNTS)},
    )
    template = cfn.load_template(TEMPLATES / "root/access-groups.yaml")
    assert set(template["Outputs"]) <= set(outputs)
    iam, ids = session.client("iam"), physical_ids(session, "access-groups")

    groups = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Group"}
    assert set(groups) == {"ChildDeveloperGroup", "BreakGlassGroup"}
    for lid, group in groups.items():
        name = group["Properties"]["GroupName"]
        assert outputs[f"{lid}Name"] == name
        assert outputs[f"{lid}Arn"] == iam.get_group(GroupName=name)["Group"]["Arn"]
        attached = iam.list_attached_group_policies(GroupName=name)["AttachedPolicies"]
        expected = [ids[ref["Ref"]] for ref in group["Properties"]["ManagedPolicyArns"]]
        assert [p["PolicyArn"] for p in attached] == expected
        assert iam.list_group_policies(GroupName=name)["PolicyNames"] == []  # nothing inline
    assert outputs["ChildDeveloperPolicyArn"] == ids["ChildDeveloperPolicy"]

    for policy, role in (
        ("ChildDeveloperPolicy", "DeveloperRole"),
        ("BreakGlassPolicy", "BreakGlassRole"),
    ):
        [statement] = policy_document(iam, outputs[f"{policy}Arn"])["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        assert statement["Resource"] == [f"arn:aws:iam::{a}:role/{role}" for a in CHILD_ACCOUNTS]
        assert "Condition" not in statement

    # Its statements, by stage setting and against AWS's documentation:
    # tests/service/test_self_service_policy.py.
    self_service = policy_document(iam, outputs["SelfServicePolicyArn"])["Statement"]
    assert self_service[-1]["Sid"] == "BlockMostAccessUnlessSignedInWithMFA"


def deploy_access_roles(session, **parameters: str) -> tuple[boto3.Session, dict]:
    """templates/child/access-roles.yaml in the first child account, as an administrator
    there; its session and the stack's outputs."""
    child = child_session(session, CHILD_ACCOUNTS[0])
    outputs = cfn.deploy(
        child,
        TEMPLATES / "child/access-roles.yaml",
        "access-roles",
        {"RootAccountId": ROOT_ACCOUNT, **parameters},
    )
    return child, outputs


def test_child_roles_trust_the_root_account_by_user_name(session):
    child, outputs = deploy_access_roles(session)
    template = cfn.load_template(TEMPLATES / "child/access-roles.yaml")
    assert set(template["Outputs"]) == set(outputs)
    iam = child.client("iam")
    same_name = {"StringLike": {"sts:RoleSessionName": "${aws:username}"}}
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}

    assert trust_conditions(iam, "DeveloperRole") == same_name
    assert trust_conditions(iam, "BreakGlassRole") == {**same_name, **mfa}
    developer = iam.get_role(RoleName="DeveloperRole")["Role"]
    assert developer["Arn"] == outputs["DeveloperRoleArn"]
    assert developer["Arn"].startswith(f"arn:aws:iam::{CHILD_ACCOUNTS[0]}:")
    assert developer["MaxSessionDuration"] == 3600 and outputs["MaxSessionDuration"] == "3600"
    attached = iam.list_attached_role_policies(RoleName="DeveloperRole")["AttachedPolicies"]
    # DeveloperPolicy, and the four overflow policies of its session denies (empty: a
    # statement that denies nothing)
    overflow = [
        f"arn:aws:iam::{CHILD_ACCOUNTS[0]}:policy/access-revocation/DeveloperRoleRevocation{n}"
        for n in range(1, 5)
    ]
    assert sorted(p["PolicyArn"] for p in attached) == sorted(
        [outputs["DeveloperPolicyArn"], *overflow]
    )
    for arn in overflow:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        assert document["Document"] == revocation_policy.placeholder_document()
    assert iam.list_role_policies(RoleName="DeveloperRole")["PolicyNames"] == []
    actions = {
        a
        for s in policy_document(iam, outputs["DeveloperPolicyArn"])["Statement"]
        for a in s["Action"]
    }
    assert {
        "codepipeline:*",
        "codebuild:*",
        "codedeploy:*",
        "logs:GetLogEvents",
        "s3:Get*",
        "s3:List*",
    } <= actions

    revocation = iam.get_role(RoleName="AccessRevocationRole")["Role"]
    [trust] = revocation["AssumeRolePolicyDocument"]["Statement"]
    # Every function role Chalice makes for the stage (<app>-<stage>-<function>), by pattern.
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{ROOT_ACCOUNT}:root"}
    assert trust["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ROOT_ACCOUNT}:role/iam-lifecycle-prod-*"}
    }
    assert iam.list_role_policies(RoleName="AccessRevocationRole")["PolicyNames"] == [
        "ManageRevocationPolicy"
    ]
    document = iam.get_role_policy(
        RoleName="AccessRevocationRole", PolicyName="ManageRevocationPolicy"
    )["PolicyDocument"]
    # boto3 decodes JSON only: a Python repr would stay a str
    [grant, overflow] = document["Statement"]
    assert set(grant["Action"]) == {
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:GetRole",
    }
    assert grant["Resource"] == [outputs["DeveloperRoleArn"], outputs["BreakGlassRoleArn"]]
    # the two roles' overflow policies only: a new version, the old one deleted
    assert set(overflow["Action"]) == {
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
    }
    account = CHILD_ACCOUNTS[0]
    assert overflow["Resource"] == [
        f"arn:aws:iam::{account}:policy/access-revocation/DeveloperRoleRevocation*",
        f"arn:aws:iam::{account}:policy/access-revocation/BreakGlassRoleRevocation*",
    ]
    # moto's AWS::IAM::Role ignores ManagedPolicyArns, so BreakGlassRole's policies are checked
    # in the template only.
    assert template["Resources"]["BreakGlassRole"]["Properties"]["ManagedPolicyArns"] == {
        "Ref": "BreakGlassPolicyArns"
    }


def test_child_role_mfa_follows_the_parameters(session):
    cfn.deploy(
        session,
        TEMPLATES / "child/access-roles.yaml",
        "access-roles",
        {
            "RootAccountId": ROOT_ACCOUNT,
            "DeveloperMfaRequired": "true",
            "BreakGlassMfaRequired": "false",
            "MaxSessionDuration": "7200",
        },
    )
    iam = session.client("iam")
    assert "Bool" in trust_conditions(iam, "DeveloperRole")
    assert "Bool" not in trust_conditions(iam, "BreakGlassRole")
    assert iam.get_role(RoleName="BreakGlassRole")["Role"]["MaxSessionDuration"] == 7200


def test_service_resources(session):
    outputs = cfn.deploy(
        session, TEMPLATES / "root/service.yaml", "iam-lifecycle-service", {"Stage": "dev"}
    )
    template = cfn.load_template(TEMPLATES / "root/service.yaml")
    assert set(template["Outputs"]) <= set(outputs)
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    secrets = session.client("secretsmanager")

    state = dynamodb.describe_table(TableName="iam-lifecycle-dev-state")["Table"]
    assert state["TableArn"] == outputs["StateTableArn"]
    assert state["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert state["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {
        i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
        for i in state["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        name: (
            [
                {"AttributeName": key, "KeyType": "HASH"},
                {"AttributeName": "at", "KeyType": "RANGE"},
            ],
            "ALL",
        )
        for name, key in (("by-ticket", "ticket"), ("by-entity", "entity"))
    }
    idempotency = dynamodb.describe_table(TableName=outputs["IdempotencyTableName"])["Table"]
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    # moto's CloudFormation ignores TimeToLiveSpecification and PointInTimeRecoverySpecification.
    assert template["Resources"]["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }

    queue = sqs.get_queue_attributes(QueueUrl=outputs["WorkQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert queue["VisibilityTimeout"] == "180"
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": outputs["DeadLetterQueueArn"],
        "maxReceiveCount": 5,
    }
    dead_letters = sqs.get_queue_attributes(
        QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["MessageRetentionPeriod"]
    )
    assert dead_letters["Attributes"]["MessageRetentionPeriod"] == "1209600"

    for name, arn_key in (
        ("iam-lifecycle/dev/api-token", "ApiTokenSecretArn"),
        ("iam-lifecycle/dev/slack-signing-secret", "SlackSigningSecretArn"),
        ("iam-lifecycle/dev/callback-secret", "CallbackSigningSecretArn"),
    ):
        assert secrets.describe_secret(SecretId=name)["ARN"] == outputs[arn_key]
    for arn_key in ("ApiTokenSecretArn", "CallbackSigningSecretArn"):
        value = secrets.get_secret_value(SecretId=outputs[arn_key])["SecretString"]
        assert len(value) == 48 and value.isalnum()
    # The app reads the callback secret under the name its settings default to.
    settings = Settings.from_env({"ALLOWED_GROUPS": "g", "ROOT_ACCOUNT_ID": ROOT_ACCOUNT})
    assert outputs["CallbackSigningSecretName"] == settings.callback_secret


def _template_with_group(attributes: dict | None = None, **properties) -> dict:
    statement = {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}
    return {
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}
                },
            },
            "Group": {"Type": "AWS::IAM::Group", "Properties": properties, **(attributes or {})},
        }
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            _template_with_group(GroupName="g", Unknown="x"),
            "Group.Properties: unsupported ['Unknown']",
        ),
        (_template_with_group({"Condition": "Always"}, GroupName="g"), "unsupported ['Condition']"),
        (_template_with_group(GroupName={"Fn::Select": [0, ["a"]]}), "Fn::Select"),
        (_template_with_group(GroupName={"Ref": "Missing"}), "cannot resolve 'Missing'"),
    ],
)
def test_deploy_refuses_what_it_cannot_reproduce(session, tmp_path, template, message):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    with pytest.raises(cfn.UnsupportedTemplate) as raised:
        cfn.deploy(session, path, "refused")
    assert message in str(raised.value)


def test_deploy_refuses_stack_resources_that_need_a_group(session, tmp_path):
    template = _template_with_group(GroupName="g")
    template["Resources"]["Policy"]["Properties"]["Groups"] = [{"Ref": "Group"}]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    with pytest.raises(cfn.UnsupportedTemplate, match=r"\['Policy'\] refer to \['Group'\]"):
        cfn.deploy(session, path, "refused")
    assert session.client("cloudformation").list_stacks()["StackSummaries"] == []
