"""Adoption's settings: ``ADOPT_ALLOWED_POLICIES``, the attached policies (ARNs, comma-separated)
an adopted user may keep; the self-service policy is always allowed (it grants a person only
their own password, MFA device and keys)."""

from __future__ import annotations

from chalicelib.adoption import rules
from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings, names


def policy(settings: Settings) -> rules.Policy:
    return settings.part(_parse)


def _parse(settings: Settings) -> rules.Policy:
    allowed = names(settings.capability_env.get("ADOPT_ALLOWED_POLICIES", ""))
    wrong = [arn for arn in allowed if not arn.startswith("arn:aws") or ":policy/" not in arn]
    if wrong:
        raise ConfigurationError(
            f"ADOPT_ALLOWED_POLICIES: {', '.join(wrong)} are not policy ARNs "
            "(arn:aws:iam::<account>:policy/<name>)"
        )
    return rules.Policy(
        managed_path=settings.managed_path,
        allowed_groups=settings.allowed_groups,
        protected_users=settings.protected_users,
        allowed_policies=frozenset({*allowed, settings.self_service_policy_arn}),
        app_name=settings.app_name,
    )
