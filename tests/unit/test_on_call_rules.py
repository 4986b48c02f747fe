"""On-call auto-approval's pure rules (chalicelib/approvals/on_call.py): the policy key, who
matches at which level, and what the approvers are told when nobody does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.approvals import on_call, rules
from chalicelib.kernel.errors import ConfigurationError, Conflict
from chalicelib.kernel.ports import OnCallEntry

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIMITS = {"BreakGlassGroup": 4}
TIERS = on_call.OnCall(escalation_policy="PESC001", max_level=1)
SCHEDULE = on_call.OnCall(schedule="PSCHED1")
PETE = "pete@example.com"


def entry(email=PETE, level=1, policy="PESC001", schedule="PSCHED1") -> OnCallEntry:
    return OnCallEntry(email=email, level=level, escalation_policy=policy, schedule=schedule)


def policy(raw_on_call) -> rules.Policy:
    [found] = rules.policies_from(
        {"BreakGlassGroup": {"approvers": ["U0AAA"], "on_call": raw_on_call}}, LIMITS
    ).values()
    return found


def test_a_policy_names_a_schedule_or_an_escalation_policy_and_its_highest_level():
    assert policy({"schedule": "PSCHED1"}).on_call == SCHEDULE
    assert policy({"escalation_policy": "PESC001", "max_level": 2}).on_call == on_call.OnCall(
        escalation_policy="PESC001", max_level=2
    )
    [plain] = rules.policies_from({"BreakGlassGroup": {"approvers": ["U0AAA"]}}, LIMITS).values()
    assert plain.on_call is None


@pytest.mark.parametrize(
    "raw, says",
    [
        ("PSCHED1", "must be"),
        ({}, "must be"),
        ({"schedule": "PSCHED1", "escalation_policy": "PESC001"}, "not both or neither"),
        ({"max_level": 1}, "not both or neither"),
        ({"schedule": "sched-1"}, r"on_call.schedule must be a PagerDuty id"),
        ({"escalation_policy": "PESC001"}, "max_level must be the highest escalation level"),
        ({"escalation_policy": "PESC001", "max_level": 0}, "from 1 to 20"),
        ({"escalation_policy": "PESC001", "max_level": True}, "from 1 to 20"),
        ({"schedule": "PSCHED1", "max_level": 1}, "belongs to an escalation policy"),
        ({"schedule": "PSCHED1", "tier": 1}, "unknown keys"),
    ],
)
def test_an_on_call_that_cannot_work_stops_the_start_saying_what_to_fix(raw, says):
    with pytest.raises(ConfigurationError, match=says) as raised:
        policy(raw)
    assert "APPROVAL_POLICIES['BreakGlassGroup'].on_call" in raised.value.message


def test_someone_on_call_in_an_approving_tier_is_approved_at_their_lowest_level():
    found = on_call.assess(TIERS, "pete", PETE, [entry(level=2), entry(level=1)])
    assert found == on_call.Outcome(on_call.Match(1, "pagerduty:PESC001"))


def test_the_e_mail_matches_whatever_its_case():
    found = on_call.assess(TIERS, "pete", "Pete@Example.com ", [entry()])
    assert found.match == on_call.Match(1, "pagerduty:PESC001")


def test_a_tier_past_the_limit_is_not_approved_and_the_approvers_are_told_why():
    found = on_call.assess(TIERS, "pete", PETE, [entry(level=2), entry(email="olga@x.io")])
    assert found.match is None
    assert found.note == (
        "pete is on call at level 2 of PESC001; only levels up to 1 are approved at once"
    )


def test_a_higher_limit_approves_the_second_tier():
    two = on_call.OnCall(escalation_policy="PESC001", max_level=2)
    assert on_call.assess(two, "pete", PETE, [entry(level=2)]).match == on_call.Match(
        2, "pagerduty:PESC001"
    )


def test_on_a_schedule_being_on_call_is_enough_whatever_the_level():
    found = on_call.assess(SCHEDULE, "pete", PETE, [entry(level=3)])
    assert found.match == on_call.Match(3, "pagerduty:PSCHED1")


def test_only_the_policys_own_schedule_or_escalation_policy_counts():
    elsewhere = [entry(policy="POTHER1", schedule="POTHER2")]
    assert on_call.assess(TIERS, "pete", PETE, elsewhere) == on_call.Outcome()
    assert on_call.assess(SCHEDULE, "pete", PETE, elsewhere) == on_call.Outcome()
    # on the escalation policy directly, not through the schedule
    direct = [entry(schedule="")]
    assert on_call.assess(SCHEDULE, "pete", PETE, direct) == on_call.Outcome()
    assert on_call.assess(TIERS, "pete", PETE, direct).match == on_call.Match(
        1, "pagerduty:PESC001"
    )


def test_someone_not_on_call_goes_to_the_approvers_without_a_note():
    assert on_call.assess(TIERS, "pete", PETE, [entry(email="olga@example.com")]) == (
        on_call.Outcome()
    )
    assert on_call.assess(TIERS, "pete", PETE, []) == on_call.Outcome()


def test_a_user_without_an_e_mail_cannot_be_matched_and_the_approvers_are_told():
    found = on_call.assess(TIERS, "pete", None, [entry()])
    assert found.match is None and "pete has no e-mail on their user" in found.note


def test_pagerduty_down_is_never_an_approval():
    found = on_call.unavailable("could not reach PagerDuty (TimeoutError)")
    assert found.match is None
    assert found.note.startswith("PagerDuty could not be asked whether the requester is on call")


def test_an_approval_by_pagerduty_names_it_and_the_level():
    request = rules.create(
        rules.NewRequest("pete", "BreakGlassGroup", 1, "INC-1", "T-1", "jira", requester="U0P"),
        rules.Policy("BreakGlassGroup", max_hours=4, approvers=frozenset({"U0AAA"})),
        NOW,
    )
    approved = on_call.approve(request, on_call.Match(1, "pagerduty:PESC001"), NOW)
    assert approved["status"] == rules.APPROVED and approved["decided_by"] == "pagerduty:PESC001"
    assert approved["on_call"] == {"level": 1, "by": "pagerduty:PESC001"}
    assert approved["version"] == request["version"] + 1
    assert rules.view(approved)["on_call"] == {"level": 1, "by": "pagerduty:PESC001"}
    assert on_call.result(on_call.Match(1, "x")) == "ok: approved: on call (level 1)"
    with pytest.raises(Conflict):
        on_call.approve(approved, on_call.Match(1, "pagerduty:PESC001"), NOW)


@pytest.mark.parametrize(
    "env, says",
    [
        ({"PAGERDUTY_API_URL": "api.pagerduty.com"}, "PAGERDUTY_API_URL 'api.pagerduty.com'"),
        ({"PAGERDUTY_TIMEOUT_SECONDS": "30"}, "PAGERDUTY_TIMEOUT_SECONDS must be from 1 to 10"),
        ({"PAGERDUTY_TIMEOUT_SECONDS": "soon"}, "must be a whole number"),
    ],
)
def test_pagerduty_settings_that_cannot_work_stop_the_start(env, says):
    from chalicelib.settings import Settings

    base = {"ALLOWED_GROUPS": "BreakGlassGroup", "ROOT_ACCOUNT_ID": "123456789012"}
    defaults = Settings.from_env(base)
    assert defaults.pagerduty_api_url == "https://api.pagerduty.com"
    assert defaults.pagerduty_token_secret == "iam-lifecycle/dev/pagerduty-token"
    assert defaults.pagerduty_timeout == 3
    with pytest.raises(ConfigurationError, match=says):
        Settings.from_env({**base, **env})
