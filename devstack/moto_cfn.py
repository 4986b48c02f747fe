"""CloudFormation's ``AWS::NoValue`` in a list, as AWS treats it: the item is removed.

AWS documents the pseudo parameter as removing "the corresponding resource property when
specified as a return value in the Fn::If intrinsic function" (CloudFormation User Guide,
pseudo parameters reference, AWS::NoValue); in a list, such as a policy's statements, the item
goes. moto 5.2.5 resolves it to null and keeps it, so a statement made conditional with
``!If [Condition, {...}, !Ref AWS::NoValue]`` (templates/root/access-groups.yaml) leaves a null
statement behind and IAM refuses the policy document.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing

_original = parsing.clean_json


def _no_value(raw: Any) -> bool:
    return isinstance(raw, dict) and (raw == {"Ref": "AWS::NoValue"} or "Fn::If" in raw)


def clean_json(resource_json: Any, resources_map: Any) -> Any:
    cleaned = _original(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(cleaned, list):
        return [
            value
            for value, raw in zip(cleaned, resource_json, strict=True)
            if not (value is None and _no_value(raw))
        ]
    return cleaned


def apply() -> None:
    parsing.clean_json = clean_json
