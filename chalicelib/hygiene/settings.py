"""Hygiene's settings: the rules as the stage sets them, parsed from what chalicelib/settings.py
read (``HYGIENE_<RULE>_ACTION`` act, notify or off; ``_DAYS``; ``_GRACE_DAYS`` where the rule
waits after being broken; ``HYGIENE_NOTICE_DAYS``, ``HYGIENE_REMINDER_DAYS``). Defaults as CIS
v3.0.0 and Security Hub."""

from __future__ import annotations

from chalicelib.hygiene import rules
from chalicelib.kernel.errors import ConfigurationError
from chalicelib.settings import Settings, whole


def policy(settings: Settings) -> rules.Policy:
    """The stage's hygiene policy, parsed once per settings."""
    return settings.part(_parse)


def _parse(settings: Settings) -> rules.Policy:
    env = settings.capability_env
    parsed = []
    for rule in rules.DEFAULT_RULES:
        prefix = f"HYGIENE_{rule.name.upper()}"
        mode = env.get(f"{prefix}_ACTION", "").strip().lower() or rule.mode
        if mode not in rules.MODES:
            raise ConfigurationError(f"{prefix}_ACTION {mode!r} must be one of act, notify, off")
        days = whole(env, f"{prefix}_DAYS", rule.days)
        if days < 1 and rule.name != rules.ONE_ACTIVE_KEY:
            raise ConfigurationError(f"{prefix}_DAYS must be at least 1")
        grace = whole(env, f"{prefix}_GRACE_DAYS", rule.grace)
        parsed.append(rules.Rule(rule.name, rule.security_hub, rule.cis, days, mode, grace))
    return rules.Policy(
        tuple(parsed),
        notice_days=whole(env, "HYGIENE_NOTICE_DAYS", 7),
        reminder_days=whole(env, "HYGIENE_REMINDER_DAYS", 1),
    )
