"""The access reviews' settings, parsed from what chalicelib/settings.py read: REVIEW_OWNERS
(JSON: group -> [Slack member ids]), REVIEW_CARRY_OUT (immediately | at_close),
REVIEW_UNDECIDED (keep | revoke | escalate), REVIEW_CHANNEL (the operators' channel),
REVIEW_REMINDER_DAYS, REVIEW_QUARTERLY (true | false) and REVIEW_QUARTERLY_DAYS (the quarterly
campaign's days to decide); the operators are SLACK_ALLOWED_USERS."""

from __future__ import annotations

import json

from chalicelib.kernel.errors import ConfigurationError
from chalicelib.reviews import rules
from chalicelib.settings import Settings, flag, whole


def policy(settings: Settings) -> rules.Policy:
    """The stage's review policy, parsed and checked once per settings."""
    return settings.part(_parse)


def _parse(settings: Settings) -> rules.Policy:
    env = settings.capability_env
    raw = env.get("REVIEW_OWNERS", "").strip() or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigurationError("REVIEW_OWNERS must be JSON") from None
    found = rules.Policy(
        owners=rules.owners_from(parsed),
        operators=settings.slack_allowed_users,
        carry_out=env.get("REVIEW_CARRY_OUT", "").strip().lower() or "immediately",
        undecided=env.get("REVIEW_UNDECIDED", "").strip().lower() or "escalate",
        channel=env.get("REVIEW_CHANNEL", "").strip(),
        reminder_days=whole(env, "REVIEW_REMINDER_DAYS", 3),
        quarterly=flag(env, "REVIEW_QUARTERLY", False),
        quarterly_days=whole(env, "REVIEW_QUARTERLY_DAYS", 14),
    )
    rules.check_policy(found, settings.allowed_groups)
    return found
