"""A Slack reply never leaves a revocation unsaid: what is owed (and why) and a whole-role
cutoff are in the channel message of an offboarding and of a suspension."""

from __future__ import annotations

import json

from chalicelib.lifecycle import replies

OWED = {"444455556666": "AccessRevocationRole not deployed in 444455556666 yet: AccessDenied"}


def _text(messages: list[dict]) -> str:
    return json.dumps(messages)


def test_an_offboarding_names_what_is_owed_and_the_cutoff():
    answer = {
        "username": "pete",
        "removed": {"user": ["pete"]},
        "sessions_revoked_in": ["222233334444"],
        "sessions_revocation_pending": OWED,
        "sessions_revoked_by_role_cutoff": ["222233334444"],
    }
    text = _text(replies.result("offboard", answer, "slack:1", "U0LOCAL0001"))
    assert "Revocation still owed" in text and "444455556666" in text and "not deployed" in text
    assert "Whole roles cut off in* 222233334444" in text


def test_a_suspension_names_what_is_owed():
    user = {
        "username": "pete",
        "arn": "arn:aws:iam::123456789012:user/managed/pete",
        "status": "suspended",
        "groups": [],
        "console": False,
        "mfa": False,
        "access_keys": [],
        "roles": [],
        "grants": [],
        "sessions_revoked_in": ["222233334444"],
        "sessions_revocation_pending": OWED,
    }
    text = _text(replies.result("suspend", user, "slack:1", "U0LOCAL0001"))
    assert "Revocation still owed" in text and "444455556666" in text
    assert "cut off" not in text


def test_nothing_owed_says_nothing_more():
    answer = {"username": "pete", "removed": {}, "sessions_revoked_in": ["222233334444"]}
    text = _text(replies.result("offboard", answer, "slack:1", "U0LOCAL0001"))
    assert "owed" not in text and "cut off" not in text
