"""A user's path changed as AWS changes it, and ``aws:ResourceTag`` on IAM users evaluated.

AWS (IAM API Reference, UpdateUser,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html; IAM User Guide, "Rename
an IAM user", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_rename.html):

- changing a user's path keeps the user: its unique id, its policies and groups (and with the
  user its access keys, password, MFA devices and tags); its ARN takes the new path;
- "the requester must have appropriate permissions on both the source object and the target
  object": UpdateUser is authorized against the user's ARN now and its ARN under the new path;
- IAM users carry tags that identity policies test with ``aws:ResourceTag/<key>`` (IAM User
  Guide, "Controlling access to and for IAM users and roles using tags",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_iam-tags.html); a key the resource
  does not carry does not match (the ``IfExists`` operators excepted).

moto 5.2.5 keys a user's tags by its ARN, so a path change loses them; it authorizes UpdateUser
on the user as it is only; and it counts a condition whose key the request does not carry as
met. Here the tags follow the user, UpdateUser is authorized on both ARNs, and a statement's
``aws:ResourceTag/`` conditions on an IAM user are evaluated against that user's tags (String
operators); every other condition is left as it was evaluated before.
"""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase
from moto.iam.models import IAMBackend, iam_backends

PREFIX = "aws:ResourceTag/"
_local = threading.local()
_applied = False


def _user(resource: str) -> Any:
    """The IAM user an ARN names, or None."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("user/"):
        return None
    try:
        return iam_backends[parts[4]][parts[1]].get_user(parts[5].rsplit("/", 1)[-1])
    except Exception:  # the action itself reports the missing user
        return None


def _tags(resource: str) -> dict[str, str] | None:
    user = _user(resource)
    if user is None:
        return None
    backend = iam_backends[user.account_id][resource.split(":")[1]]
    return {t["Key"]: t["Value"] for t in backend.tagger.list_tags_for_resource(user.arn)["Tags"]}


def _param(data: Any, name: str) -> str | None:
    value = (data or {}).get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value or None


def check_action_permitted(self: IAMRequestBase, resource: str) -> None:
    tags = _tags(resource)
    targets = [resource]
    new_path = _param(self._data, "NewPath")
    if self._action == "iam:UpdateUser" and new_path and tags is not None:
        prefix, name = resource.split(":user/", 1)[0], resource.rsplit("/", 1)[-1]
        target = f"{prefix}:user{new_path}{name}"
        new_name = _param(self._data, "NewUserName")
        if new_name:
            target = target.rsplit("/", 1)[0] + "/" + new_name
        targets.append(target)
    _local.tags = tags
    try:
        for each in targets:  # both sides of the move, as AWS authorizes them
            _previous_check(self, each)
    finally:
        _local.tags = None


def _matches(operator: str, wanted: Any, actual: str | None) -> bool:
    values = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
    base = operator.removesuffix("IfExists")
    if actual is None:
        return operator.endswith("IfExists") or base.startswith("StringNot")
    if base == "StringEquals":
        return actual in values
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in [v.lower() for v in values]
    if base == "StringLike":
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringNotLike":
        return not any(fnmatch.fnmatchcase(actual, v) for v in values)
    return False  # an operator not modelled here never grants


def _check_conditions(
    self: IAMPolicyStatement, incoming_condition_values: dict[str, str] | None
) -> bool:
    conditions = self._statement.get("Condition") or {}
    tags = getattr(_local, "tags", None)
    others: dict[str, Any] = {}
    for operator, pairs in conditions.items():
        rest = {k: v for k, v in pairs.items() if not k.startswith(PREFIX)}
        for condition_key, wanted in pairs.items():
            if not condition_key.startswith(PREFIX):
                continue
            actual = (tags or {}).get(condition_key[len(PREFIX) :])
            if not _matches(operator, wanted, actual):
                return False
        if rest:
            others[operator] = rest
    if others == conditions:
        return _previous_conditions(self, incoming_condition_values)
    if not others:
        return True
    return _previous_conditions(
        IAMPolicyStatement({**self._statement, "Condition": others}), incoming_condition_values
    )


def update_user(
    self: IAMBackend,
    user_name: str,
    new_path: str | None = None,
    new_user_name: str | None = None,
) -> None:
    """moto's, with the user's tags kept under its new ARN."""
    user = self.get_user(user_name)
    old_arn = user.arn
    tags = self.tagger.list_tags_for_resource(old_arn)["Tags"]
    _previous_update_user(self, user_name, new_path=new_path, new_user_name=new_user_name)
    if tags and user.arn != old_arn:
        self.tagger.delete_all_tags_for_resource(old_arn)
        self.tagger.tag_resource(user.arn, tags)


_previous_check = IAMRequestBase.check_action_permitted
_previous_conditions = IAMPolicyStatement._check_conditions
_previous_update_user = IAMBackend.update_user


def apply() -> None:
    """After moto_mfa's: its checks run inside these."""
    global _applied, _previous_check, _previous_conditions, _previous_update_user
    if _applied:
        return
    _previous_check = IAMRequestBase.check_action_permitted
    _previous_conditions = IAMPolicyStatement._check_conditions
    _previous_update_user = IAMBackend.update_user
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    IAMPolicyStatement._check_conditions = _check_conditions  # type: ignore[method-assign]
    IAMBackend.update_user = update_user  # type: ignore[method-assign]
    _applied = True
