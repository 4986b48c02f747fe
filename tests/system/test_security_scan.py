"""Security scan with cfripper (offline, about a second) of every template under templates/ and of
the two stage policies, each wrapped as the execution role Chalice deploys.

A finding is either fixed or accepted where it arises, with the reason:
- in a template, in the resource's Metadata:
      Metadata:
        cfripper:
          ignore:
            - rule: WildcardResourceRule
              reason: why this is intended
- for a stage policy, in POLICY_FINDINGS below (a JSON policy has no room for comments).
Templates are scanned once per branch of their Fn::If conditions, so every variant is covered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack import cfn

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((PROJECT / "templates").rglob("*.yaml"))
ROOT_ACCOUNT, CHILD_ACCOUNT = "123456789012", "222233334444"
# Values for parameters without a default.
SAMPLE_PARAMETERS = {
    "RootAccountId": ROOT_ACCOUNT,
    "ChildAccountIds": f"{CHILD_ACCOUNT},333344445555",
}
NO_VALUE = {"Ref": "AWS::NoValue"}

# (rule, the actions it names) -> why the stage policy keeps them.
POLICY_FINDINGS = {
    (
        "PrivilegeEscalationRule",
        frozenset(
            {
                "iam:AddUserToGroup",
                "iam:AttachUserPolicy",
                "iam:CreateAccessKey",
                "iam:CreateLoginProfile",
                "iam:UpdateLoginProfile",
            }
        ),
    ): "Onboarding is exactly this: a console password for a new person, the self-service "
    "policy, the groups, and (where the stage issues keys) the person's first access key, "
    "handed out once. Each is bounded: users under /managed/ only, AttachUserPolicy only "
    "for the self-service policy (iam:PolicyARN condition), AddUserToGroup only for the "
    "groups the service manages. So the most the role can give anyone is what those groups "
    "give, and it can create no access key for itself (it is a role).",
}


def scanner(account: str) -> tuple[Any, Any]:
    from cfripper.cli import init_cfripper

    return init_cfripper(None, None, account, None)


def branch(node: Any, pick: int) -> Any:
    """``node`` with every Fn::If replaced by its true (pick=1) or false (pick=2) value."""
    if isinstance(node, list):
        return [branch(item, pick) for item in node if item != NO_VALUE]
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            return branch(node["Fn::If"][pick], pick)
        return {key: branch(value, pick) for key, value in node.items() if value != NO_VALUE}
    return node


def scan(template: dict, account: str) -> list[Any]:
    import pycfmodel

    config, processor = scanner(account)
    required = {
        name for name, spec in template.get("Parameters", {}).items() if "Default" not in spec
    }
    assert required <= set(SAMPLE_PARAMETERS), (
        f"add samples for {required - set(SAMPLE_PARAMETERS)}"
    )
    model = pycfmodel.parse(template).resolve({name: SAMPLE_PARAMETERS[name] for name in required})
    result = processor.process_cf_template(model, config)
    assert not result.exceptions, result.exceptions
    return result.failures


def ignored(template: dict) -> dict[tuple[str, str], str]:
    """(logical id, rule) -> reason, from each resource's Metadata.cfripper.ignore."""
    found = {}
    for lid, resource in template.get("Resources", {}).items():
        for entry in resource.get("Metadata", {}).get("cfripper", {}).get("ignore", []):
            assert len(entry.get("reason", "")) > 20, f"{lid}: say why {entry['rule']} is accepted"
            found[(lid, entry["rule"])] = entry["reason"]
    return found


@pytest.mark.parametrize(
    "path", TEMPLATES, ids=[p.relative_to(PROJECT).as_posix() for p in TEMPLATES]
)
def test_template_findings_are_fixed_or_explained_in_place(path):
    template = cfn.load_template(path)
    account = CHILD_ACCOUNT if "child" in path.parts else ROOT_ACCOUNT
    accepted = ignored(template)
    used, open_findings = set(), {}
    for pick in (1, 2):
        for failure in scan(branch(template, pick), account):
            keys = {(lid, failure.rule) for lid in failure.resource_ids or {"?"}}
            if keys <= set(accepted):
                used |= keys
            else:  # one line per rule and resource, with its first reason
                where = f"{failure.rule} on {sorted(failure.resource_ids or [])}"
                open_findings.setdefault(where, failure.reason[:200])
    assert not open_findings, "\n".join(f"{k}: {v}" for k, v in sorted(open_findings.items()))
    assert set(accepted) <= used, f"no longer found, drop the ignore: {set(accepted) - used}"


def role_of(stage: str) -> dict:
    """The stage policy as Chalice deploys it: the inline policy of a Lambda execution role."""
    document = json.loads((PROJECT / ".chalice" / f"policy-{stage}.json").read_text())
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return {
        "Resources": {
            "ApiHandlerRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": trust,
                    "Policies": [
                        {"PolicyName": "ApiHandlerRolePolicy", "PolicyDocument": document}
                    ],
                },
            }
        }
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_policy_findings_are_fixed_or_explained(stage):
    found = {(f.rule, frozenset(f.actions or ())) for f in scan(role_of(stage), ROOT_ACCOUNT)}
    unexplained = found - set(POLICY_FINDINGS)
    assert not unexplained, sorted((rule, sorted(actions)) for rule, actions in unexplained)
    assert set(POLICY_FINDINGS) <= found, "a finding explained here is gone: drop its entry"


def test_the_scanner_does_find_what_it_is_there_for():
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:*"], "Resource": "*"}],
    }
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "Policies": [{"PolicyName": "wide", "PolicyDocument": wide}],
                },
            }
        }
    }
    rules = {failure.rule for failure in scan(template, ROOT_ACCOUNT)}
    assert {"CrossAccountTrustRule", "PrivilegeEscalationRule", "WildcardResourceRule"} <= rules
