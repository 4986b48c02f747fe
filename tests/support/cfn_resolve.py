"""A CloudFormation template's resources as they would be deployed, for given parameters.

``devstack.cfn`` deploys templates on moto and resolves only what moto's CloudFormation leaves to
it (Ref, GetAtt, a plain Sub). The policy proofs need the documents themselves, with the
template's conditions applied: this resolves the intrinsic functions the templates use
(Ref, Fn::Sub with and without a variable map, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or,
Fn::Join, Fn::Split, Fn::Select, Fn::GetAtt of a role's Arn, AWS::NoValue), reading the template
with ``devstack.cfn.load_template`` (cfn-lint's YAML loader, short forms expanded).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from devstack.cfn import load_template

_NO_VALUE = object()


class Unresolvable(ValueError):
    """The template uses something this resolver does not know."""


def resolve(
    path: str | Path,
    parameters: dict[str, str] | None = None,
    *,
    account: str = "123456789012",
    region: str = "us-east-1",
    stack: str = "stack",
) -> dict[str, dict]:
    """Logical id -> the resource (``Type``, ``Properties``) with every intrinsic resolved; a
    resource whose ``Condition`` is false is left out, as CloudFormation leaves it out."""
    template = load_template(path)
    given = dict(parameters or {})
    if unknown := sorted(set(given) - set(template.get("Parameters", {}))):
        raise Unresolvable(f"{path}: no parameters {unknown}")
    refs: dict[str, Any] = {
        "AWS::Partition": "aws",
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::StackName": stack,
        "AWS::URLSuffix": "amazonaws.com",
    }
    for name, spec in template.get("Parameters", {}).items():
        if name not in given and "Default" not in spec:
            raise Unresolvable(f"{path}: parameter {name} has no value")
        value = str(given.get(name, spec.get("Default")))
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            raise Unresolvable(f"{path}: {name}={value!r} is not one of {spec['AllowedValues']}")
        refs[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" else value
    resolver = _Resolver(template, refs, account)
    resources = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        resources[logical_id] = {
            "Type": resource["Type"],
            "Properties": resolver.value(resource.get("Properties", {})),
        }
    return resources


class _Resolver:
    def __init__(self, template: dict, refs: dict[str, Any], account: str) -> None:
        self.template = template
        self.refs = refs
        self.account = account
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.refs:
            return self.refs[name]
        resource = self.template.get("Resources", {}).get(name)
        if resource is None:
            raise Unresolvable(f"cannot resolve Ref {name}")
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            return self.value(props.get("RoleName", name))
        if kind == "AWS::IAM::Group":
            return self.value(props.get("GroupName", name))
        if kind == "AWS::IAM::ManagedPolicy":
            policy = self.value(props.get("ManagedPolicyName", name))
            path = self.value(props.get("Path", "/"))
            return f"arn:aws:iam::{self.account}:policy{path}{policy}"
        raise Unresolvable(f"cannot resolve Ref of a {kind} ({name})")

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.template.get("Resources", {}).get(name, {})
        if resource.get("Type") == "AWS::IAM::Role" and attribute == "Arn":
            path = self.value(resource.get("Properties", {}).get("Path", "/"))
            return f"arn:aws:iam::{self.account}:role{path}{self.ref(name)}"
        raise Unresolvable(f"cannot resolve Fn::GetAtt {name}.{attribute}")

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def lookup(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        # ${!Literal} stands for ${Literal}: an IAM policy variable such as ${!aws:username}.
        return re.sub(r"\$\{(?!!)([^}]+)\}", lookup, text).replace("${!", "${")

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, arg)] = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.value(v) for k, v in variables.items()})
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.value(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.value(item) for item in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(item) for item in arg)
            if key == "Fn::Or":
                return any(self.value(item) for item in arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return delimiter.join(str(item) for item in self.value(items))
            if key == "Fn::Split":
                delimiter, text = arg
                return str(self.value(text)).split(delimiter)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key.startswith("Fn::"):
                raise Unresolvable(f"unsupported intrinsic function {key}")
        resolved = {key: self.value(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}


def policy_document(resources: dict[str, dict], logical_id: str) -> dict:
    """The policy document of a ManagedPolicy or Policy resource."""
    return resources[logical_id]["Properties"]["PolicyDocument"]


def trust_policy(resources: dict[str, dict], logical_id: str) -> dict:
    """A role's trust policy (AssumeRolePolicyDocument)."""
    return resources[logical_id]["Properties"]["AssumeRolePolicyDocument"]
