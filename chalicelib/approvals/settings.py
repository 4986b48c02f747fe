"""The approvals' settings: APPROVAL_POLICIES, a JSON object of group -> policy
(chalicelib/approvals/rules.py), parsed from what chalicelib/settings.py read."""

from __future__ import annotations

import json

from chalicelib.approvals.rules import Policy, policies_from
from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings


def policies(settings: Settings) -> dict[str, Policy]:
    """Each requestable group's policy, parsed and checked once per settings."""
    return settings.part(_parse)


def _parse(settings: Settings) -> dict[str, Policy]:
    raw = settings.capability_env.get("APPROVAL_POLICIES", "").strip() or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigurationError("APPROVAL_POLICIES must be JSON") from None
    found = policies_from(parsed, settings.grant_max_hours)
    for group in found:
        if group not in settings.allowed_groups:
            raise ConfigurationError(
                f"APPROVAL_POLICIES names {group}, which is not in ALLOWED_GROUPS"
            )
    return found
