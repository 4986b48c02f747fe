"""``aws:MultiFactorAuthPresent`` as AWS sets it, in the policies moto evaluates.

AWS (IAM User Guide, "AWS global condition context keys", aws:MultiFactorAuthPresent; and AWS
re:Post, "How do I use an MFA token to authenticate access to my AWS resources through the AWS
CLI?", https://repost.aws/knowledge-center/mfa-iam-user-aws-cli):

- a request signed with a user's long-term access key has no such key in its context: a ``Bool``
  condition on it does not match, a ``BoolIfExists`` one does (which is why AWS's
  BlockMostAccessUnlessSignedInWithMFA statement uses ``BoolIfExists`` ... ``false``: it denies
  a key holder who did not authenticate with MFA);
- ``sts:AssumeRole`` called with ``SerialNumber`` and ``TokenCode`` is MFA-authenticated ("MFA-
  protected API access"), and so are the role session's credentials it returns: the key is
  ``true`` for both; temporary credentials issued without MFA carry ``false``.

moto 5.2.5 evaluates no ``Bool`` condition (it counts as met, so that statement denies every
caller) and, where a condition does not match, answers Deny instead of leaving the statement
out. Here the key is set per request as above, ``Bool``/``BoolIfExists`` on it are evaluated,
and a statement whose conditions do not match does not apply, as in AWS. Every other condition
is left as moto treats it.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.iam.access_control import (
    AssumedRoleAccessKey,
    IAMPolicyStatement,
    IAMRequestBase,
    PermissionResult,
)
from moto.sts.models import STSBackend
from moto.sts.responses import TokenResponse

KEY = "aws:MultiFactorAuthPresent"
_local = threading.local()
# Access key ids of role sessions issued to an MFA-authenticated AssumeRole.
_mfa_sessions: set[str] = set()
_lock = threading.Lock()


def _param(data: Any, name: str) -> str | None:
    value = (data or {}).get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value or None


def context_of(request: IAMRequestBase) -> dict[str, str]:
    """The request's ``aws:MultiFactorAuthPresent``, or nothing (a long-term key)."""
    data = request._data
    if _param(data, "SerialNumber") and _param(data, "TokenCode"):
        return {KEY: "true"}
    key = request._access_key
    if isinstance(key, AssumedRoleAccessKey):
        with _lock:
            return {KEY: "true" if key._access_key_id in _mfa_sessions else "false"}
    return {}


_original_check_action_permitted = IAMRequestBase.check_action_permitted
_original_check_conditions = IAMPolicyStatement._check_conditions
_original_assume_role_response = TokenResponse.assume_role
_original_assume_role = STSBackend.assume_role


def check_action_permitted(self: IAMRequestBase, resource: str) -> None:
    _local.context = context_of(self)
    try:
        _original_check_action_permitted(self, resource)
    finally:
        _local.context = {}


def _check_conditions(
    self: IAMPolicyStatement, incoming_condition_values: dict[str, str] | None
) -> bool:
    conditions = self._statement.get("Condition") or {}
    context = {**(incoming_condition_values or {}), **getattr(_local, "context", {})}
    others: dict[str, Any] = {}
    for operator, pairs in conditions.items():
        if operator not in ("Bool", "BoolIfExists") or KEY not in pairs:
            others[operator] = pairs
            continue
        rest = {k: v for k, v in pairs.items() if k != KEY}
        if rest:
            others[operator] = rest
        wanted = pairs[KEY] if isinstance(pairs[KEY], list) else [pairs[KEY]]
        if KEY not in context:
            if operator == "Bool":
                return False
            continue  # BoolIfExists: an absent key matches
        if context[KEY].lower() not in [str(w).lower() for w in wanted]:
            return False
    if not others:
        return True
    return _original_check_conditions(
        IAMPolicyStatement({**self._statement, "Condition": others}), incoming_condition_values
    )


def is_action_permitted(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> PermissionResult:
    """moto's, except that a statement whose conditions do not match does not apply."""
    if "NotAction" in self._statement:
        concerned = not self._check_element_matches("NotAction", action)
    else:
        concerned = self._check_element_matches("Action", action)
    if not concerned or self.is_unknown_principal(self._statement.get("Principal")):
        return PermissionResult.NEUTRAL
    if principal and not self._check_principal(principal):
        return PermissionResult.DENIED
    if not self._check_conditions(incoming_condition_values):
        return PermissionResult.NEUTRAL
    if not self._statement.get("Resource"):  # a trust policy
        return PermissionResult.PERMITTED
    if not self._check_element_matches("Resource", resource):
        return PermissionResult.NEUTRAL
    if self._statement["Effect"] == "Allow":
        return PermissionResult.PERMITTED
    return PermissionResult.DENIED


def assume_role_response(self: TokenResponse) -> Any:
    _local.issuing_with_mfa = bool(self._get_param("SerialNumber") and self._get_param("TokenCode"))
    try:
        return _original_assume_role_response(self)
    finally:
        _local.issuing_with_mfa = False


def assume_role(self: STSBackend, *args: Any, **kwargs: Any) -> Any:
    role = _original_assume_role(self, *args, **kwargs)
    if getattr(_local, "issuing_with_mfa", False):
        with _lock:
            _mfa_sessions.add(role.access_key_id)
    return role


def apply() -> None:
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    IAMPolicyStatement._check_conditions = _check_conditions  # type: ignore[method-assign]
    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
    TokenResponse.assume_role = assume_role_response  # type: ignore[method-assign]
    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
