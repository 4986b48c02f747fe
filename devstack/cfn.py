"""Deploy a CloudFormation template on moto, creating what moto's CloudFormation cannot.

moto 5.2.5 does not create AWS::IAM::Group or AWS::SecretsManager::Secret from a template: they are
created with their own APIs, from the same properties, once the rest of the stack exists. Anything
that cannot be reproduced that way raises UnsupportedTemplate.
"""

import json
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import WaiterError
from cfnlint.decode import cfn_yaml


class UnsupportedTemplate(ValueError):
    """The template uses something this module would otherwise get wrong."""


def load_template(path: str | Path) -> dict:
    """The template as plain JSON data, short-form tags (!Ref, !Sub...) expanded."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def _refers_to(node: Any, logical_ids: set[str]) -> bool:
    """Whether ``node`` names one of ``logical_ids`` (Ref, GetAtt, DependsOn, "${Id}" in Sub)."""
    text = json.dumps(node)
    return any(f'"{lid}"' in text or re.search(rf"\$\{{{lid}[.}}]", text) for lid in logical_ids)


def _resolve(node: Any, refs: Mapping[str, Any], where: str) -> Any:
    """Evaluate Ref, Fn::GetAtt ("Id.Attr" in ``refs``) and a string Fn::Sub; refuse the rest."""

    def lookup(name: str) -> Any:
        if name not in refs:
            raise UnsupportedTemplate(f"{where}: cannot resolve {name!r}")
        return refs[name]

    if isinstance(node, list):
        return [_resolve(item, refs, where) for item in node]
    if not isinstance(node, dict):
        return node
    if list(node) in (["Ref"], ["Fn::GetAtt"]):
        value = next(iter(node.values()))
        return lookup(value if isinstance(value, str) else ".".join(value))
    if list(node) == ["Fn::Sub"] and isinstance(node["Fn::Sub"], str):
        text = re.sub(r"\$\{(?!!)([^}]+)\}", lambda m: str(lookup(m[1])), node["Fn::Sub"])
        return text.replace("${!", "${")  # ${!Literal} stands for ${Literal}
    if functions := [key for key in node if key.startswith("Fn::")]:
        raise UnsupportedTemplate(f"{where}: unsupported intrinsic function {functions}")
    return {key: _resolve(value, refs, where) for key, value in node.items()}


def _check(where: str, given: Mapping[str, Any], allowed: set[str]) -> None:
    if unknown := sorted(set(given) - allowed):
        raise UnsupportedTemplate(f"{where}: unsupported {unknown}")


def _create_group(client_for, name: str, props: dict) -> tuple[str, str]:
    iam = client_for("iam")
    arn = iam.create_group(GroupName=name, Path=props.get("Path", "/"))["Group"]["Arn"]
    for policy_arn in props.get("ManagedPolicyArns", []):
        iam.attach_group_policy(GroupName=name, PolicyArn=policy_arn)
    for policy in props.get("Policies", []):
        iam.put_group_policy(
            GroupName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return name, arn  # Ref of a group is its name


def _create_secret(client_for, name: str, props: dict) -> tuple[str, str]:
    secrets = client_for("secretsmanager")
    value = props.get("SecretString", "")
    if "GenerateSecretString" in props:  # botocore rejects options the API does not have
        value = secrets.get_random_password(**props["GenerateSecretString"])["RandomPassword"]
    arn = secrets.create_secret(
        Name=name,
        Description=props.get("Description", ""),
        SecretString=value,
        Tags=props.get("Tags", []),
    )["ARN"]
    return arn, arn  # Ref of a secret is its ARN


GROUP_PROPERTIES = {"GroupName", "Path", "ManagedPolicyArns", "Policies"}
SECRET_PROPERTIES = {"Name", "Description", "SecretString", "GenerateSecretString", "Tags"}
# Resource type -> (name property, supported properties, creator returning (Ref, Arn)).
SHIMMED = {
    "AWS::IAM::Group": ("GroupName", GROUP_PROPERTIES, _create_group),
    "AWS::SecretsManager::Secret": ("Name", SECRET_PROPERTIES, _create_secret),
}


# CloudWatch alarms and dashboards (templates/root/monitoring.yaml) are missing from moto's
# CloudFormation too; their properties are PutMetricAlarm's and PutDashboard's parameters.
def _create_alarm(client_for, name: str, props: dict) -> tuple[str, str]:
    cloudwatch = client_for("cloudwatch")
    cloudwatch.put_metric_alarm(**{**props, "AlarmName": name})
    arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return name, arn  # Ref of an alarm is its name


def _create_dashboard(client_for, name: str, props: dict) -> tuple[str, str]:
    cloudwatch = client_for("cloudwatch")
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    [entry] = cloudwatch.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    return name, entry["DashboardArn"]


ALARM_PROPERTIES = {
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
}
SHIMMED.update(
    {
        "AWS::CloudWatch::Alarm": ("AlarmName", ALARM_PROPERTIES, _create_alarm),
        "AWS::CloudWatch::Dashboard": (
            "DashboardName",
            {"DashboardName", "DashboardBody"},
            _create_dashboard,
        ),
    }
)


def deploy(
    session: boto3.Session,
    path: str | Path,
    stack_name: str,
    parameters: Mapping[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """Create stack ``stack_name`` from the template at ``path``; return its outputs.

    Clients are ``session.client(service, endpoint_url=endpoint_url)``: the moto server's URL, or
    None for moto in process. Returns the stack's outputs (without those naming a group or secret)
    and ``<LogicalId>Name`` and ``<LogicalId>Arn`` of each group and secret.
    """
    if endpoint_url is None:  # moto in this process: brought closer to AWS first
        from devstack import moto_ext

        moto_ext.apply()
    client_for = partial(session.client, endpoint_url=endpoint_url)
    template, parameters = load_template(path), dict(parameters or {})
    resources, outputs = template["Resources"], template.get("Outputs", {})
    shimmed = {
        lid: resources.pop(lid) for lid in list(resources) if resources[lid]["Type"] in SHIMMED
    }
    for lid, resource in shimmed.items():
        _check(lid, resource, {"Type", "Properties", "DeletionPolicy", "UpdateReplacePolicy"})
        _check(f"{lid}.Properties", resource.get("Properties", {}), SHIMMED[resource["Type"]][1])
    if users := sorted(lid for lid in resources if _refers_to(resources[lid], set(shimmed))):
        raise UnsupportedTemplate(f"{users} refer to {sorted(shimmed)}, created outside the stack")
    for key in [key for key in outputs if _refers_to(outputs[key], set(shimmed))]:
        del outputs[key]

    cloudformation = client_for("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    try:
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1}
        )
    except WaiterError as error:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}"
            for e in events
            if e.get("ResourceStatusReason")
        ]
        raise RuntimeError(f"stack {stack_name} was not created: {reasons}") from error
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]

    _, partition, _, region, account, _ = stack["StackId"].split(":", 5)
    refs: dict[str, Any] = {
        "AWS::StackName": stack_name,
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": partition,
    }
    for key, spec in template.get("Parameters", {}).items():
        value = str(parameters.get(key, spec.get("Default", "")))
        refs[key] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    refs.update(
        {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
        }
    )

    result = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for lid, resource in shimmed.items():
        name_property, _, create = SHIMMED[resource["Type"]]
        props = _resolve(resource.get("Properties", {}), refs, lid)
        name = props.get(name_property, f"{stack_name}-{lid}")
        refs[lid], refs[f"{lid}.Arn"] = create(client_for, name, props)
        result.update({f"{lid}Name": name, f"{lid}Arn": refs[f"{lid}.Arn"]})
    return result
