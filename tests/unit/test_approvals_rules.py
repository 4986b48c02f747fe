"""The rules of requests and approvals (chalicelib/approvals/rules.py), without moto or Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.approvals import rules as rules
from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIMITS = {"BreakGlassGroup": 4}
POLICY = rules.Policy(
    "BreakGlassGroup", max_hours=4, approvers=frozenset({"U0AAA", "U0BBB"}), channel="C0APP"
)
ACTIVE = {"status": "active", "groups": ["ChildDeveloperGroup"], "grants": []}


def new(**changes) -> rules.NewRequest:
    fields = {
        "username": "pete",
        "group": "BreakGlassGroup",
        "hours": 2,
        "reason": "INC-1",
        "ticket": "slack:1.2",
        "requested_by": "slack:U0PETE",
        "requester": "U0PETE",
    }
    return rules.NewRequest(**{**fields, **changes})


def pending(**changes) -> dict:
    return {**rules.create(new(), POLICY, NOW), **changes}


def test_policies_are_read_with_their_defaults():
    [policy] = rules.policies_from(
        {"BreakGlassGroup": {"approvers": ["U0AAA"], "channel": "C0APP"}}, LIMITS
    ).values()
    assert policy.approvals == 1 and policy.pending_hours == 3 and policy.max_hours == 4
    assert not policy.self_approval and not policy.break_glass


@pytest.mark.parametrize(
    "entry, says",
    [
        ({"approvers": []}, "names no approver"),
        ({"approvers": ["alice"]}, "Slack member ids"),
        ({"approvers": ["U0AAA"], "max_hours": 9}, "from 1 to 4"),
        ({"approvers": ["U0AAA"], "approvals": 0}, "at least 1"),
        ({"approvers": ["U0AAA"], "channel": "#access"}, "channel id"),
        ({"approvers": ["U0AAA"], "self_approval": "yes"}, "true or false"),
        ({"approvers": ["U0AAA"], "approver": ["U0AAA"]}, "with the keys"),
        ({"approver_group": "team"}, "user group id"),
    ],
)
def test_a_policy_that_cannot_work_is_a_configuration_error(entry, says):
    with pytest.raises(ConfigurationError, match=says):
        rules.policies_from({"BreakGlassGroup": entry}, LIMITS)


def test_only_a_grantable_group_may_have_a_policy():
    with pytest.raises(ConfigurationError, match="no grant maximum"):
        rules.policies_from({"ChildDeveloperGroup": {"approvers": ["U0AAA"]}}, LIMITS)


@pytest.mark.parametrize(
    "changes, record, error, says",
    [
        ({"group": "Other"}, ACTIVE, Forbidden, "cannot be requested"),
        ({"hours": 5}, ACTIVE, BadRequest, "at most 4 hours"),
        ({"hours": 0}, ACTIVE, BadRequest, "positive whole number"),
        ({"reason": "  "}, ACTIVE, BadRequest, "give a reason"),
        ({"reason": "x" * 501}, ACTIVE, BadRequest, "500 characters"),
        ({"break_glass": True}, ACTIVE, Forbidden, "no break-glass"),
        ({}, None, Forbidden, "not a managed user"),
        ({}, {**ACTIVE, "status": "suspended"}, Conflict, "pete is suspended"),
        ({}, {**ACTIVE, "groups": ["BreakGlassGroup"]}, Conflict, "without an expiry"),
        ({}, {**ACTIVE, "grants": [{"group": "BreakGlassGroup"}]}, Conflict, "holds"),
    ],
)
def test_what_may_not_be_asked_for(changes, record, error, says):
    with pytest.raises(error, match=says):
        policy = POLICY if changes.get("group", "BreakGlassGroup") == "BreakGlassGroup" else None
        rules.check_request(new(**changes), policy, record, {"BreakGlassGroup": POLICY})


def test_a_new_request_waits_for_the_policys_pending_time():
    request = rules.create(new(), POLICY, NOW)
    assert request["status"] == "pending" and request["approvals"] == []
    assert request["expires_at"] == (NOW + timedelta(hours=3)).isoformat(timespec="seconds")
    assert request["id"] == rules.request_id("slack:1.2") == rules.request_id("SLACK:1.2")
    assert not rules.is_expired(request, NOW + timedelta(hours=2, minutes=59))
    assert rules.is_expired(request, NOW + timedelta(hours=3))


def test_only_an_approver_who_did_not_ask_decides():
    rules.check_decider(pending(), POLICY, "U0AAA")
    with pytest.raises(Forbidden, match="only an approver"):
        rules.check_decider(pending(), POLICY, "U0CCC")
    asked_by_approver = pending(requester="U0AAA", requested_by="slack:U0AAA")
    with pytest.raises(Forbidden, match="another approver"):
        rules.check_decider(asked_by_approver, POLICY, "U0AAA")
    allowed = rules.Policy(**{**POLICY.__dict__, "self_approval": True})
    rules.check_decider(asked_by_approver, allowed, "U0AAA")


def test_members_of_the_approvers_user_group_decide():
    policy = rules.Policy("BreakGlassGroup", max_hours=4, approver_group="S0TEAM")
    rules.check_decider(pending(), policy, "U0DDD", ["U0DDD"])
    with pytest.raises(Forbidden):
        rules.check_decider(pending(), policy, "U0DDD", [])


def test_one_approval_approves_and_a_second_decision_changes_nothing():
    approved = rules.decide(pending(), POLICY, "approve", "U0AAA", NOW)
    assert approved["status"] == "approved" and approved["decided_by"] == "U0AAA"
    assert approved["version"] == 1
    for decision in ("approve", "deny"):
        with pytest.raises(Conflict, match="approved already"):
            rules.decide(approved, POLICY, decision, "U0BBB", NOW)


def test_two_approvals_needed():
    policy = rules.Policy(**{**POLICY.__dict__, "approvals": 2})
    once = rules.decide(pending(), policy, "approve", "U0AAA", NOW)
    assert once["status"] == "pending" and once["approvals"] == ["U0AAA"]
    with pytest.raises(Conflict, match="approved this request already"):
        rules.decide(once, policy, "approve", "U0AAA", NOW)
    twice = rules.decide(once, policy, "approve", "U0BBB", NOW)
    assert twice["status"] == "approved" and twice["decided_by"] == "U0BBB"


def test_a_deny_by_any_approver_denies():
    denied = rules.decide(pending(), POLICY, "deny", "U0BBB", NOW, reason="not now")
    assert denied["status"] == "denied" and denied["decision_reason"] == "not now"


def test_no_decision_after_expiry():
    with pytest.raises(Conflict, match="expired"):
        rules.decide(pending(), POLICY, "approve", "U0AAA", NOW + timedelta(hours=4))


def test_closing():
    assert rules.close(pending(), "expired", NOW, "schedule")["status"] == "expired"
    assert rules.close(pending(), "cancelled", NOW, "slack:U0PETE")["status"] == "cancelled"
    with pytest.raises(Conflict):
        rules.close(pending(), "ended", NOW, "slack:U0PETE")
    approved = rules.activate(pending(break_glass=True), NOW)
    assert approved["decided_by"] == "U0PETE"
    assert rules.close(approved, "ended", NOW, "slack:U0PETE")["status"] == "ended"


def test_the_view_is_the_contracts_request():
    shown = rules.view(rules.with_grant(pending(), {"group": "BreakGlassGroup", "expires_at": "x"}))
    assert set(shown) == {
        "id",
        "username",
        "group",
        "hours",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "expires_at",
        "grant",
        "approvals",  # every decision so far: none yet
    }
    assert shown["approvals"] == []


def test_decidable_leaves_out_ones_own_and_others_groups():
    mine = pending(requester="U0AAA", id="r1")
    theirs = pending(id="r2")
    found = rules.decidable([mine, theirs], {"BreakGlassGroup": POLICY}, "U0AAA", {})
    assert [r["id"] for r in found] == ["r2"]
    assert rules.decidable([theirs], {"BreakGlassGroup": POLICY}, "U0ZZZ", {}) == []


def test_four_eyes_need_a_linked_member_or_two_approvers():
    with pytest.raises(Forbidden, match="no linked Slack member"):
        rules.check_request(new(requester=""), POLICY, ACTIVE, {"BreakGlassGroup": POLICY})
    for changes in ({"approvals": 2}, {"self_approval": True}, {"break_glass": True}):
        policy = rules.Policy(**{**POLICY.__dict__, **changes})
        asked = new(requester="", break_glass=bool(changes.get("break_glass")))
        rules.check_request(asked, policy, ACTIVE, {"BreakGlassGroup": policy})


def test_an_approver_linked_to_the_requested_user_may_not_decide():
    with pytest.raises(Forbidden, match="linked to pete"):
        rules.check_decider(pending(), POLICY, "U0AAA", approver_user="PETE")
    rules.check_decider(pending(), POLICY, "U0AAA", approver_user="olga")
    allowed = rules.Policy(**{**POLICY.__dict__, "self_approval": True})
    rules.check_decider(pending(), allowed, "U0AAA", approver_user="pete")
    found = rules.decidable([pending()], {"BreakGlassGroup": POLICY}, "U0AAA", {}, "pete")
    assert found == []


def test_an_approval_is_granted_only_in_its_window_and_for_a_user_who_may_have_it():
    approved = rules.decide(pending(), POLICY, "approve", "U0AAA", NOW)
    assert rules.grant_refusal(approved, ACTIVE, NOW) is None
    late = rules.grant_refusal(approved, ACTIVE, NOW + timedelta(hours=3))
    assert late is not None and "pending window closed" in late
    suspended = rules.grant_refusal(approved, {**ACTIVE, "status": "suspended"}, NOW)
    assert suspended is not None and "pete is suspended" in suspended
    assert "not a managed user" in (rules.grant_refusal(approved, None, NOW) or "")
    other = {**ACTIVE, "grants": [{"group": "BreakGlassGroup", "ticket": "CHG-9"}]}
    assert "holds BreakGlassGroup" in (rules.grant_refusal(approved, other, NOW) or "")
    own = {**ACTIVE, "grants": [{"group": "BreakGlassGroup", "ticket": approved["id"]}]}
    assert rules.grant_refusal(approved, own, NOW) is None
    assert rules.made_grant(approved, own) == own["grants"][0]
    assert rules.made_grant(approved, other) is None


def test_a_failed_approval_is_closed_with_why():
    approved = rules.decide(pending(), POLICY, "approve", "U0AAA", NOW)
    failed = rules.fail(approved, NOW, "pete is suspended")
    assert failed["status"] == "failed" and failed["version"] == approved["version"] + 1
    assert rules.view(failed)["failure_reason"] == "pete is suspended"
    with pytest.raises(Conflict):
        rules.fail(pending(), NOW, "why")
    with pytest.raises(Conflict):
        rules.fail(
            rules.with_grant(approved, {"group": "BreakGlassGroup", "expires_at": "x"}), NOW, "why"
        )
    with pytest.raises(Conflict, match="failed already"):
        rules.decide(failed, POLICY, "approve", "U0BBB", NOW)


# quorum: N distinct approvers, never the requester; every decision kept with who and when
QUORUM = rules.Policy(**{**POLICY.__dict__, "approvals": 2})
LATER = NOW + timedelta(minutes=5)


def test_a_quorum_keeps_each_decision_with_who_and_when():
    once = rules.decide(pending(), QUORUM, "approve", "U0AAA", NOW)
    assert once["status"] == "pending"
    assert rules.view(once)["approvals"] == [
        {"by": "U0AAA", "approver": "U0AAA", "at": rules.iso(NOW), "decision": "approve"}
    ]
    twice = rules.decide(once, QUORUM, "approve", "U0BBB", LATER)
    assert twice["status"] == "approved" and rules.approvers_of(twice) == ["U0AAA", "U0BBB"]
    assert [(a["by"], a["at"]) for a in rules.view(twice)["approvals"]] == [
        ("U0AAA", rules.iso(NOW)),
        ("U0BBB", rules.iso(LATER)),
    ]


def test_a_second_click_by_one_approver_is_not_a_second_approval():
    once = rules.decide(pending(), QUORUM, "approve", "U0AAA", NOW)
    with pytest.raises(Conflict, match="approved this request already"):
        rules.decide(once, QUORUM, "approve", "U0AAA", LATER)


def test_a_deny_after_one_approval_of_two_closes_it():
    once = rules.decide(pending(), QUORUM, "approve", "U0AAA", NOW)
    denied = rules.decide(once, QUORUM, "deny", "U0BBB", LATER)
    assert denied["status"] == "denied" and denied["decided_by"] == "U0BBB"
    assert [a["decision"] for a in rules.view(denied)["approvals"]] == ["approve", "deny"]
    with pytest.raises(Conflict, match="denied already"):
        rules.decide(denied, QUORUM, "approve", "U0CCC", LATER)


def test_the_requester_never_counts_toward_a_quorum_even_with_self_approval():
    mine = pending(requester="U0AAA", requested_by="slack:U0AAA")
    both = rules.Policy(**{**QUORUM.__dict__, "self_approval": True})
    with pytest.raises(Forbidden, match="another approver"):
        rules.check_decider(mine, both, "U0AAA")
    with pytest.raises(Forbidden, match="linked to pete"):
        rules.check_decider(pending(), both, "U0AAA", approver_user="pete")
    rules.check_decider(mine, both, "U0AAA", decision="deny")  # they may still say no
    one = rules.Policy(**{**POLICY.__dict__, "self_approval": True})
    rules.check_decider(mine, one, "U0AAA")  # one approval, self-approval: as ever


def test_a_request_recorded_before_decisions_were_kept_names_its_approvers():
    old = {**pending(approvals=["U0AAA"]), "status": "approved"}
    del old["decisions"]
    assert rules.view(old)["approvals"] == [
        {"by": "U0AAA", "approver": "U0AAA", "decision": "approve"}
    ]


# who may ask
def test_requesters_are_members_or_user_groups():
    [policy] = rules.policies_from(
        {"BreakGlassGroup": {"approvers": ["U0AAA"], "requesters": ["U0PETE", "S0SRE"]}}, LIMITS
    ).values()
    assert policy.requesters == {"U0PETE"} and policy.requester_groups == {"S0SRE"}
    rules.check_requester(new(), policy)
    rules.check_requester(new(requester="U0SRE1"), policy, ["U0SRE1"])
    with pytest.raises(Forbidden, match="only the requesters its policy names"):
        rules.check_requester(new(requester="U0OLGA"), policy, ["U0SRE1"])
    with pytest.raises(Forbidden, match="without a Slack member"):
        rules.check_requester(new(requester=""), policy)


def test_without_requesters_anyone_may_ask_for_themselves_but_nobody_for_another():
    rules.check_requester(new(requester="U0ANYONE"), POLICY)
    with pytest.raises(Forbidden, match="names no requesters"):
        rules.check_requester(new(requester="U0BOSS", for_user="pete"), POLICY)
    named = rules.Policy(**{**POLICY.__dict__, "requesters": frozenset({"U0BOSS"})})
    rules.check_requester(new(requester="U0BOSS", for_user="pete"), named)
    with pytest.raises(Forbidden, match="may ask for someone else"):
        rules.check_requester(new(requester="U0OLGA", for_user="pete"), named)


@pytest.mark.parametrize(
    "requesters, says",
    [([], "requesters must list"), (["alice"], "requesters must list"), ("U0AAA", "must list")],
)
def test_requesters_that_cannot_work_are_a_configuration_error(requesters, says):
    with pytest.raises(ConfigurationError, match=says):
        rules.policies_from(
            {"BreakGlassGroup": {"approvers": ["U0AAA"], "requesters": requesters}}, LIMITS
        )


# asking for someone else: the person is told, never approves
def test_a_request_for_someone_else_keeps_who_asked_and_for_whom():
    asked = rules.create(
        new(requester="U0BOSS", requested_by="slack:U0BOSS", for_user="pete", person="U0PETE"),
        POLICY,
        NOW,
    )
    assert rules.view(asked)["for"] == "pete" and asked["person"] == "U0PETE"
    assert rules.requesters(asked) == {"U0BOSS", "U0PETE"}
    for member in ("U0BOSS", "U0PETE"):
        approver = rules.Policy(**{**POLICY.__dict__, "approvers": frozenset({member})})
        with pytest.raises(Forbidden, match="another approver"):
            rules.check_decider(asked, approver, member)
    assert not rules.same_request(asked, new(requester="U0BOSS", requested_by="slack:U0BOSS"))


# break-glass limits
def bg(at: datetime, status: str = "approved", **changes) -> dict:
    return {
        **pending(break_glass=True, status=status, decided_at=rules.iso(at)),
        **changes,
    }


LIMITED = rules.Policy(
    **{**POLICY.__dict__, "break_glass": True},
)


def limited(cooldown: float = 0, per_day: int = 0) -> rules.Policy:
    return rules.Policy(
        **{
            **LIMITED.__dict__,
            "break_glass_cooldown_hours": cooldown,
            "break_glass_per_day": per_day,
        }
    )


def test_break_glass_may_be_true_false_or_its_limits():
    def read(entry):
        return rules.policies_from({"BreakGlassGroup": {"approvers": ["U0AAA"], **entry}}, LIMITS)[
            "BreakGlassGroup"
        ]

    assert read({"break_glass": True}).break_glass and not read({}).break_glass
    assert read({"break_glass": True}).break_glass_cooldown_hours == 0
    policy = read({"break_glass": {"cooldown_hours": 4, "per_day": 2}})
    assert policy.break_glass and policy.break_glass_cooldown_hours == 4
    assert policy.break_glass_per_day == 2
    same = read({"break_glass": True, "break_glass_limits": {"cooldown_hours": 4, "per_day": 2}})
    assert same == policy
    for entry, says in [
        ({"break_glass": "yes"}, "true, false or"),
        ({"break_glass": {"cooldown": 4}}, "take the keys"),
        ({"break_glass": {"per_day": -1}}, "per_day must be"),
        ({"break_glass": {"cooldown_hours": "4"}}, "cooldown_hours must be"),
        ({"break_glass_limits": {"per_day": 1}}, "needs break_glass: true"),
        ({"break_glass": {"per_day": 1}, "break_glass_limits": {"per_day": 1}}, "once"),
    ]:
        with pytest.raises(ConfigurationError, match=says):
            read(entry)


def test_break_glass_within_the_cooldown_is_refused_saying_when_next():
    policy = limited(cooldown=4)
    last = NOW - timedelta(hours=1)
    with pytest.raises(Forbidden, match=r"next activation may be at 2026-12-01T12:00:00\+00:00"):
        rules.check_break_glass_limits(policy, "pete", [bg(last, "ended")], NOW)
    rules.check_break_glass_limits(policy, "pete", [bg(NOW - timedelta(hours=4))], NOW)
    # another person's, another group's, a failed one and a plain request do not count
    others = [
        bg(last, username="olga"),
        bg(last, group="OtherGroup"),
        bg(last, "failed"),
        {**bg(last), "break_glass": False},
    ]
    rules.check_break_glass_limits(policy, "PETE", others, NOW)
    rules.check_break_glass_limits(LIMITED, "pete", [bg(last)], NOW)  # no limits: as ever


def test_break_glass_beyond_the_days_count_is_refused_saying_when_next():
    policy = limited(per_day=2)
    used = [bg(NOW - timedelta(hours=20)), bg(NOW - timedelta(hours=2))]
    with pytest.raises(Forbidden, match=r"2 time\(s\).*may be at 2026-12-01T13:00:00\+00:00"):
        rules.check_break_glass_limits(policy, "pete", used, NOW)
    rules.check_break_glass_limits(policy, "pete", used[1:], NOW)
    rules.check_break_glass_limits(policy, "pete", used, NOW + timedelta(hours=4))


def test_break_glass_is_not_activated_for_someone_else():
    policy = rules.Policy(**{**POLICY.__dict__, "break_glass": True})
    asked = new(requester="U0BOSS", for_user="pete", person="U0PETE", break_glass=True)
    with pytest.raises(Forbidden, match="activated by the person who needs it"):
        rules.check_request(asked, policy, ACTIVE, {"BreakGlassGroup": policy})


def test_asked_for_someone_with_no_linked_member_keeps_four_eyes_by_a_quorum_only():
    asked = new(requester="U0BOSS", for_user="pete", person="")
    with pytest.raises(Forbidden, match="no linked Slack member"):
        rules.check_request(asked, POLICY, ACTIVE, {"BreakGlassGroup": POLICY})
    rules.check_request(asked, QUORUM, ACTIVE, {"BreakGlassGroup": QUORUM})
