"""The hygiene rules as pure functions (chalicelib/hygiene/rules.py): per credential, clocks from
last use or creation, notices before actions. No moto here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.hygiene import rules as h

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
POLICY = h.Policy()


def day(n: int) -> date:
    return (T0 + timedelta(days=n)).date()


def at(n: float) -> datetime:
    return T0 + timedelta(days=n)


def user(**fields) -> h.Facts:
    return h.Facts(username="pete", created=T0, **fields)


def key(kid: str = "AKIA1", created: float = 0, used: float | None = None, active=True) -> h.Key:
    return h.Key(kid, active, at(created), None if used is None else at(used))


def rules_of(findings) -> set[tuple[str, str, str | None]]:
    return {(f.rule, f.credential, f.action) for f in findings}


def test_a_new_user_without_any_use_is_not_due_on_day_zero():
    # The report's N/A and no_information: not used since creation, never "never used".
    facts = user(console=True, mfa=True, keys=(key(),))
    assert h.evaluate(facts, POLICY, day(0)) == []
    assert h.evaluate(facts, POLICY, day(37)) == []
    found = h.evaluate(facts, POLICY, day(38))  # 45 days less the 7 days' notice
    assert rules_of(found) == {
        ("unused", "console", "remove_console"),
        ("unused", "AKIA1", "deactivate_key"),
    }
    assert all(f.since == day(0) and f.due == day(45) for f in found)


def test_a_key_is_aged_from_its_last_use_not_its_creation():
    # c7n #3274: age read from the key's creation date.
    facts = user(keys=(key(created=0, used=40),))
    assert h.evaluate(facts, POLICY, day(60)) == []
    (found,) = h.evaluate(facts, POLICY, day(80))
    assert (found.rule, found.since, found.due) == ("unused", day(40), day(85))


def test_only_the_dormant_key_is_found_never_its_sibling():
    # c7n #5583: every key of a user disabled when one matched.
    facts = user(keys=(key("AKIAOLD", used=1), key("AKIANEW", created=10, used=59)))
    found = h.evaluate(facts, POLICY, day(60))
    assert {f.credential for f in found if f.action} == {"AKIAOLD"}


def test_a_key_used_today_is_never_due():
    # c7n #6732: keys in use that day disabled.
    facts = user(keys=(key(created=0, used=100.2),))
    today = day(100)
    assert not [f for f in h.evaluate(facts, POLICY, today) if f.rule.startswith("unused")]
    assert not h.still_due(facts, "unused", "AKIA1", POLICY, today)


def test_keys_deactivated_are_deleted_only_when_deletion_is_on_and_its_period_passed():
    # c7n #842: production keys deleted.
    facts = user(keys=(key(active=False),), deactivated={"AKIA1": day(50)})
    assert h.evaluate(facts, POLICY, day(400)) == []  # off by default
    on = h.Policy(
        tuple(replace(r, mode=h.ACT) if r.name == h.KEY_DELETION else r for r in POLICY.rules)
    )
    assert h.evaluate(facts, on, day(72)) == []
    (found,) = h.evaluate(facts, on, day(73))
    assert (found.rule, found.action, found.due) == ("key_deletion", "delete_key", day(80))
    # A key deactivated by hand is not this service's to delete.
    assert h.evaluate(replace(facts, deactivated={}), on, day(400)) == []


def test_iam8_is_kept_behind_iam22_for_the_same_credential():
    facts = user(console=True, mfa=True, password_last_used=at(1))
    (found,) = h.evaluate(facts, POLICY, day(100))
    assert (found.rule, found.due) == ("unused", day(46))
    only_90 = h.Policy(
        tuple(replace(r, mode=h.OFF) if r.name == h.UNUSED else r for r in POLICY.rules)
    )
    (found,) = h.evaluate(facts, only_90, day(100))
    assert (found.rule, found.due) == ("unused_90", day(91))


def test_rotation_notifies_at_90_days_and_deactivates_after_the_grace():
    facts = user(keys=(key(used=95),))
    assert h.evaluate(facts, POLICY, day(89)) == []
    (found,) = h.evaluate(facts, POLICY, day(90))
    assert (found.rule, found.notice_at, found.due) == ("key_rotation", day(90), day(104))


def test_console_without_mfa_notifies_then_removes_the_console():
    facts = user(console=True, password_last_used=at(20))
    (found,) = h.evaluate(facts, POLICY, day(7))
    assert (found.rule, found.action, found.due) == ("console_mfa", "remove_console", day(21))
    assert h.evaluate(replace(facts, mfa=True), POLICY, day(7)) == []


def test_more_than_one_active_key_is_a_notice_only():
    facts = user(keys=(key("A", used=3), key("B", created=2, used=3)))
    (found,) = h.evaluate(facts, POLICY, day(3))
    assert (found.rule, found.credential, found.action, found.due) == (
        "one_active_key",
        "access_keys",
        None,
        None,
    )
    assert h.next_step(found, None, POLICY, day(3)).step == h.NOTICE
    noticed = {"since": found.since.isoformat(), "noticed": day(3).isoformat(), "due": None}
    assert h.next_step(found, noticed, POLICY, day(9)).step == h.DONE


def test_protected_and_exempt_users_are_skipped():
    facts = user(keys=(key(),))
    assert h.evaluate(replace(facts, protected=True), POLICY, day(300)) == []
    exempt = replace(facts, exempt_until=day(300))
    assert h.evaluate(exempt, POLICY, day(300)) == []
    assert h.evaluate(exempt, POLICY, day(301))  # the exemption has ended


def test_notice_then_reminder_then_action():
    facts = user(keys=(key(),))
    (found,) = h.evaluate(facts, POLICY, day(38))
    first = h.next_step(found, None, POLICY, day(38))
    assert (first.step, first.due) == ("notify", day(45))
    notice = {"since": found.since.isoformat(), "noticed": day(38).isoformat(), "due": "2026-02-15"}
    assert h.next_step(found, notice, POLICY, day(40)).step == h.WAIT
    assert h.next_step(found, notice, POLICY, day(44)).step == h.REMIND
    # Due without a reminder (a run missed): the reminder first, the action the next run.
    assert h.next_step(found, notice, POLICY, day(45)).step == h.REMIND
    reminded = {**notice, "reminded": day(44).isoformat()}
    assert h.next_step(found, reminded, POLICY, day(45)).step == "deactivate_key"
    assert h.ticket(found, day(45)) == "hygiene:unused:pete:AKIA1:2026-02-15"


def test_a_finding_seen_late_still_gets_its_notice_period():
    facts = user(keys=(key(),))
    (found,) = h.evaluate(facts, POLICY, day(50))  # due on day 45 already
    step = h.next_step(found, None, POLICY, day(50))
    assert (step.step, step.due) == ("notify", day(57))
    row = h.as_row(found, step)
    assert row == {
        "username": "pete",
        "rule": "unused",
        "credential": "AKIA1",
        "since": "2026-01-01",
        "next_action": "notify",
        "due": "2026-02-27",
    }


def test_a_notice_for_an_earlier_clock_counts_for_nothing():
    facts = user(keys=(key(used=30),))  # used since the notice of day 38
    (found,) = h.evaluate(facts, POLICY, day(70))
    old = {"since": day(0).isoformat(), "noticed": day(38).isoformat(), "due": day(45).isoformat()}
    assert h.next_step(found, old, POLICY, day(70)).step == h.NOTICE


def test_a_restore_starts_the_clocks_again():
    facts = user(console=True, mfa=True, keys=(key(),), restored_at=at(60))
    assert h.evaluate(facts, POLICY, day(61)) == []
    assert not h.still_due(facts, "unused", "AKIA1", POLICY, day(61))


def test_still_due_judges_the_rule_alone():
    facts = user(console=True, mfa=True)
    assert h.still_due(facts, "unused_90", "console", POLICY, day(90))
    assert not h.still_due(facts, "unused_90", "console", POLICY, day(89))
    used = replace(facts, password_last_used=at(89))
    assert not h.still_due(used, "unused", "console", POLICY, day(90))


def test_the_rules_are_stage_settings_with_cis_defaults():
    import pytest

    from chalicelib.hygiene.settings import policy as hygiene_policy
    from chalicelib.kernel.errors import ConfigurationError
    from chalicelib.settings import Settings

    base = {"ALLOWED_GROUPS": "G", "ROOT_ACCOUNT_ID": "123456789012"}
    policy = hygiene_policy(Settings.from_env(base))
    assert [(r.name, r.security_hub, r.cis, r.days, r.mode) for r in policy.rules] == [
        ("unused", "IAM.22", "1.12", 45, "act"),
        ("unused_90", "IAM.8", "", 90, "act"),
        ("key_rotation", "IAM.3", "1.14", 90, "act"),
        ("console_mfa", "IAM.5", "1.10", 7, "act"),
        ("one_active_key", "", "1.13", 0, "notify"),
        ("key_deletion", "", "", 30, "off"),
    ]
    changed = hygiene_policy(
        Settings.from_env(
            {
                **base,
                "HYGIENE_UNUSED_DAYS": "30",
                "HYGIENE_UNUSED_ACTION": "notify",
                "HYGIENE_KEY_ROTATION_GRACE_DAYS": "0",
                "HYGIENE_NOTICE_DAYS": "14",
            }
        )
    )
    assert (changed.rule("unused").days, changed.rule("unused").mode) == (30, "notify")
    assert changed.rule("key_rotation").grace == 0 and changed.notice_days == 14
    for bad in (
        {"HYGIENE_UNUSED_ACTION": "delete"},
        {"HYGIENE_UNUSED_DAYS": "0"},
        {"HYGIENE_UNUSED_DAYS": "x"},
    ):
        with pytest.raises(ConfigurationError):
            hygiene_policy(Settings.from_env({**base, **bad}))
