"""AccessGuardPolicy (templates/child/access-roles.yaml): a session that can edit IAM cannot remove
the revocation deny written against it, while the app's revocation path still writes it.

The guard's document is checked as the template resolves it on moto. Its effect is checked on
moto with IAM authorization enforced: a BreakGlassRole session allowed everything is refused the
changes the guard names, and AccessRevocationRole (the app's path) still puts the deny. moto does
not load AWS managed policies such as AdministratorAccess (and ignores the role's
ManagedPolicyArns), so the set-up gives BreakGlassRole an equivalent inline allow of everything.
moto evaluates no conditions (a conditional Deny denies everyone): the guard's first two
statements are unconditional, and its third (detaching the guard from any role, keyed on
``iam:PolicyARN``) is checked here as a document only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import cfn
from devstack.local import (
    ADMIN_POLICY,
    REGION,
    SETUP_CREDENTIALS,
    Facts,
    Provisioner,
    _Principal,
)
from tests.support.app_client import stage_environment
from tests.support.enforcement import enforced
from tests.system.test_templates import (
    CHILD_ACCOUNTS,
    ROOT_ACCOUNT,
    TEMPLATES,
    child_session,
    deploy_access_roles,
    policy_document,
)

GUARD_PATH = "/access-revocation/"
ROLE_CHANGES = [
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:DeleteRole",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
]
POLICY_CHANGES = [
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
]


def expected_guard(account: str, developer_policy_arn: str) -> list[dict]:
    prefix = f"arn:aws:iam::{account}"
    return [
        {
            "Sid": "DenyChangingTheAccessRoles",
            "Effect": "Deny",
            "Action": ROLE_CHANGES,
            "Resource": [
                f"{prefix}:role/DeveloperRole",
                f"{prefix}:role/BreakGlassRole",
                f"{prefix}:role/AccessRevocationRole",
            ],
        },
        {
            "Sid": "DenyChangingTheirPolicies",
            "Effect": "Deny",
            "Action": POLICY_CHANGES,
            "Resource": [developer_policy_arn, f"{prefix}:policy/access-revocation/*"],
        },
        {
            "Sid": "DenyDetachingTheGuard",
            "Effect": "Deny",
            "Action": "iam:DetachRolePolicy",
            "Resource": "*",
            "Condition": {"ArnLike": {"iam:PolicyARN": f"{prefix}:policy/access-revocation/*"}},
        },
    ]


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    from moto import mock_aws

    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def attached(iam: Any, role: str) -> list[str]:
    return [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    ]


def test_the_guard_as_the_template_resolves_it(session):
    child, outputs = deploy_access_roles(session)
    iam = child.client("iam")
    guard = outputs["AccessGuardPolicyArn"]
    assert guard.startswith(f"arn:aws:iam::{CHILD_ACCOUNTS[0]}:policy{GUARD_PATH}")
    assert iam.get_policy(PolicyArn=guard)["Policy"]["Path"] == GUARD_PATH
    document = policy_document(iam, guard)
    assert document["Statement"] == expected_guard(CHILD_ACCOUNTS[0], outputs["DeveloperPolicyArn"])
    # On BreakGlassRole only: DeveloperRole cannot edit IAM, and the revocation role must not be
    # kept from what it is for.
    assert guard in attached(iam, "BreakGlassRole")
    assert guard not in attached(iam, "DeveloperRole")
    assert attached(iam, "AccessRevocationRole") == []
    # The document's own resources cover the guard: it is under the path it protects.
    assert guard.startswith(document["Statement"][1]["Resource"][1].removesuffix("*"))
    # The template's own logical id, which the policy evaluator's test table reads.
    template = cfn.load_template(TEMPLATES / "child/access-roles.yaml")
    assert template["Resources"]["AccessGuardPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"


def test_further_roles_named_in_the_parameter_carry_the_guard(session):
    child = child_session(session, CHILD_ACCOUNTS[0])
    iam = child.client("iam")
    for name in ("PlatformAdminRole", "DeploymentRole"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ADMIN_TRUST))
    _, outputs = deploy_access_roles(session, GuardedRoleNames="PlatformAdminRole,DeploymentRole")
    guard = outputs["AccessGuardPolicyArn"]
    for role in ("BreakGlassRole", "PlatformAdminRole", "DeploymentRole"):
        assert guard in attached(iam, role), role
    assert guard not in attached(iam, "DeveloperRole")


ADMIN_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ROOT_ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


# With IAM authorization enforced.
CHILD = "222233334444"  # devstack.local's child account
POLICY = "AccessRevocation"
PERMISSIVE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def _client(credentials: dict, service: str) -> Any:
    return boto3.client(service, region_name=REGION, **credentials)


class Guarded:
    """The provisioned stack (``aws``), a BreakGlassRole session named ``pete`` allowed
    everything, and the app's revoker running as the app's own principal."""

    def __init__(self, facts: Facts, monkeypatch: pytest.MonkeyPatch) -> None:
        from chalicelib import bootstrap
        from chalicelib.aws.clients import AwsClients
        from chalicelib.aws.revocation import Revoker

        provisioner = Provisioner(endpoint_url=None)
        self.setup_iam = provisioner.client(
            provisioner.child_credentials(SETUP_CREDENTIALS, CHILD), "iam"
        )
        # AdministratorAccess as an inline policy (moto loads no AWS managed policies).
        self.setup_iam.put_role_policy(
            RoleName="BreakGlassRole",
            PolicyName="AdministratorAccessEquivalent",
            PolicyDocument=json.dumps(ADMIN_POLICY),
        )
        self.setup_iam.create_role(
            RoleName="ScratchRole", AssumeRolePolicyDocument=json.dumps(ADMIN_TRUST)
        )
        self.guard = facts.outputs[CHILD]["AccessGuardPolicyArn"]
        self.developer_policy = facts.outputs[CHILD]["DeveloperPolicyArn"]
        # Assumed before enforcement: moto does not evaluate the trust's session-name condition.
        credentials = _client(facts.admin_credentials, "sts").assume_role(
            RoleArn=f"arn:aws:iam::{CHILD}:role/BreakGlassRole", RoleSessionName="pete"
        )["Credentials"]
        self.break_glass = _client(
            {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            },
            "iam",
        )
        for key, value in stage_environment("dev").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CHILD_ACCOUNT_IDS", CHILD)
        bootstrap.reset()
        services = bootstrap.build(
            clients=AwsClients(REGION, session=_Principal(facts.app_credentials))
        )
        # As chalicelib/bootstrap.py builds it for the lifecycle.
        self.revoker = Revoker(services.settings, services.clients, services.state, services.clock)

    def document(self, role: str) -> dict | None:
        try:
            return self.setup_iam.get_role_policy(RoleName=role, PolicyName=POLICY)[
                "PolicyDocument"
            ]
        except self.setup_iam.exceptions.NoSuchEntityException:
            return None


@pytest.fixture
def guarded(aws: Facts, monkeypatch: pytest.MonkeyPatch) -> Iterator[Guarded]:
    from chalicelib import bootstrap

    yield Guarded(aws, monkeypatch)
    bootstrap.reset()


def refusal(call: Any, **params: Any) -> str:
    try:
        call(**params)
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "allowed"


def test_a_break_glass_session_cannot_remove_its_deny_and_the_app_still_writes_it(guarded):
    from chalicelib.lifecycle.revocation_policy import denied_before

    bg = guarded.break_glass
    with enforced():
        # The app's path: another person's deny on DeveloperRole only, so that BreakGlassRole
        # carries no conditional deny yet (moto would let it deny the session everything).
        first = guarded.revoker.revoke(["alice"], {CHILD: ["DeveloperRole"]})
        assert (first.done, first.pending) == ([CHILD], {})

        # The session is allowed everything else: it reads the deny and edits an unguarded role.
        read = bg.get_role_policy(RoleName="DeveloperRole", PolicyName=POLICY)
        assert read["PolicyDocument"]["Statement"]
        bg.put_role_policy(RoleName="ScratchRole", PolicyName="Scratch", PolicyDocument=PERMISSIVE)

        refused = {
            f"delete {POLICY} on {role}": refusal(
                bg.delete_role_policy, RoleName=role, PolicyName=POLICY
            )
            for role in ("DeveloperRole", "BreakGlassRole")
        } | {
            f"put {POLICY} on {role}": refusal(
                bg.put_role_policy, RoleName=role, PolicyName=POLICY, PolicyDocument=PERMISSIVE
            )
            for role in ("DeveloperRole", "BreakGlassRole", "AccessRevocationRole")
        }
        refused |= {
            "detach the guard": refusal(
                bg.detach_role_policy, RoleName="BreakGlassRole", PolicyArn=guarded.guard
            ),
            "delete the guard": refusal(bg.delete_policy, PolicyArn=guarded.guard),
            "rewrite the guard": refusal(
                bg.create_policy_version,
                PolicyArn=guarded.guard,
                PolicyDocument=PERMISSIVE,
                SetAsDefault=True,
            ),
            "rewrite DeveloperPolicy": refusal(
                bg.create_policy_version,
                PolicyArn=guarded.developer_policy,
                PolicyDocument=PERMISSIVE,
                SetAsDefault=True,
            ),
            "trust of AccessRevocationRole": refusal(
                bg.update_assume_role_policy,
                RoleName="AccessRevocationRole",
                PolicyDocument=json.dumps(ADMIN_TRUST),
            ),
            "delete DeveloperRole": refusal(bg.delete_role, RoleName="DeveloperRole"),
        }
        assert refused == dict.fromkeys(refused, "AccessDenied")

        # The app's path is not guarded: the person's own deny goes on both roles.
        revoked = guarded.revoker.revoke(["pete"])
        assert (revoked.done, revoked.pending) == ([CHILD], {})

    now = datetime.now(UTC)
    developer = guarded.document("DeveloperRole")
    assert denied_before(developer, "alice") is not None  # still there, as the app wrote it
    for role in ("DeveloperRole", "BreakGlassRole"):
        moment = denied_before(guarded.document(role), "pete")
        assert moment is not None and moment >= now.replace(second=0, microsecond=0), role
    assert guarded.guard in attached(guarded.setup_iam, "BreakGlassRole")


def test_without_the_guard_the_same_session_removes_the_deny(guarded):
    """What the test above refuses is the guard's doing: detached, the deny goes."""
    guarded.setup_iam.detach_role_policy(RoleName="BreakGlassRole", PolicyArn=guarded.guard)
    with enforced():
        revoked = guarded.revoker.revoke(["alice"], {CHILD: ["DeveloperRole"]})
        assert revoked.done == [CHILD]
        guarded.break_glass.delete_role_policy(RoleName="DeveloperRole", PolicyName=POLICY)
    assert guarded.document("DeveloperRole") is None


def test_what_moto_cannot_evaluate_the_policy_evaluator_decides(session):
    """The guard's conditional statement (detaching it from any role, ``iam:PolicyARN``) and the
    service control policy of docs/deploying.md, in IAM's semantics (tests/support/iam_eval.py)."""
    from tests.support import iam_eval

    if reason := iam_eval.missing():
        pytest.skip(reason)
    child, outputs = deploy_access_roles(session)
    account, guard = CHILD_ACCOUNTS[0], outputs["AccessGuardPolicyArn"]
    document = policy_document(child.client("iam"), guard)
    principal = iam_eval.session_arn(account, "PlatformAdminRole", "pete")
    context = iam_eval.role_session_context(
        account, "PlatformAdminRole", "pete", "2026-12-01T13:00:00Z"
    )

    def detach(role: str, policy: str) -> dict:
        return iam_eval.request(
            "iam:DetachRolePolicy",
            f"arn:aws:iam::{account}:role/{role}",
            principal,
            {**context, "iam:PolicyARN": policy},
            [ADMIN_POLICY, document],
        )

    other = f"arn:aws:iam::{account}:policy/ReadOnly"
    assert iam_eval.decide(
        [
            detach("PlatformAdminRole", guard),
            detach("ScratchRole", other),
            detach("BreakGlassRole", other),
        ]
    ) == ["ExplicitlyDenied", "Allowed", "ExplicitlyDenied"]

    scp = json.loads(_scp_of_the_docs())
    denied = {"aws:TokenIssueTime": "2026-12-01T13:59:00Z"}
    later = {"aws:TokenIssueTime": "2026-12-01T14:01:00Z"}
    requests = [
        iam_eval.request(
            "s3:GetObject",
            "arn:aws:s3:::bucket/key",
            iam_eval.session_arn(account, "DeveloperRole", name),
            {**iam_eval.role_session_context(account, "DeveloperRole", name, "x"), **issued},
            [ADMIN_POLICY],
            scps=[ADMIN_POLICY, scp],
        )
        for name, issued in (
            ("jane.doe@example.com", denied),
            ("jane.doe@example.com", later),
            ("pete", denied),
            ("peter", denied),
        )
    ]
    assert iam_eval.decide(requests) == [
        "ExplicitlyDenied",
        "Allowed",
        "ExplicitlyDenied",
        "Allowed",
    ]


def _scp_of_the_docs() -> str:
    text = (TEMPLATES.parent / "docs" / "deploying.md").read_text()
    section = text.split("### With AWS Organizations: a service control policy", 1)[1]
    return section.split("```json", 1)[1].split("```", 1)[0]
