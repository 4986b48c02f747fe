"""Extensions as a group's approval policy allows them (chalicelib/approvals/extensions.py) and
their place in the policy (chalicelib/approvals/rules.py): pure rules, no moto."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.approvals import extensions as rules
from chalicelib.approvals.rules import policies_from
from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden

G = "BreakGlassGroup"
NOW = datetime(2026, 11, 25, 9, 40, tzinfo=UTC)
POLICY = rules.Extensions(count=2, hours=2, notice_minutes=30)


def policy(**extensions):
    raw = {G: {"approvers": ["U0LOCAL0001"], "extensions": extensions}}
    return policies_from(raw, {G: 4})[G]


def test_a_policy_holds_its_extensions():
    assert policy(count=2, hours=2).extensions == rules.Extensions(2, 2, 30, False)
    assert policy(count=1, hours=4, notice_minutes=60, approval=True).extensions == (
        rules.Extensions(1, 4, 60, True)
    )
    assert policies_from({G: {"approvers": ["U0LOCAL0001"]}}, {G: 4})[G].extensions is None
    assert policy(max=3, hours=1).extensions == rules.Extensions(3, 1, 30, False)


@pytest.mark.parametrize(
    "extensions, says",
    [
        ({"count": 2}, "must be an object with count and hours"),
        ({"count": 2, "hours": 1, "max": 3}, "must be an object with count and hours"),
        ({"hours": 1, "limit": 3}, "must be an object with count and hours"),
        ({"count": 0, "hours": 1}, "count must be a whole number from 1 to 100"),
        ({"count": True, "hours": 1}, "count must be a whole number"),
        ({"count": 1, "hours": 5}, "hours must be a whole number from 1 to 4"),
        ({"count": 1, "hours": 1, "notice_minutes": 2}, "notice_minutes must be"),
        ({"count": 1, "hours": 1, "approval": "yes"}, "approval must be true or false"),
    ],
)
def test_a_policy_that_cannot_work_names_the_field(extensions, says):
    with pytest.raises(ConfigurationError, match=says) as refused:
        policy(**extensions)
    assert f"APPROVAL_POLICIES['{G}'].extensions" in refused.value.message


def test_an_extension_adds_at_most_the_policys_hours():
    assert rules.hours_of(None, POLICY, G) == 2
    assert rules.hours_of(1, POLICY, G) == 1
    with pytest.raises(BadRequest, match="by at most 2 hours at a time"):
        rules.hours_of(3, POLICY, G)
    with pytest.raises(BadRequest, match="positive"):
        rules.hours_of(0, POLICY, G)


def grant(expires_at: str, group: str = G, **more) -> dict:
    return {"group": group, "expires_at": expires_at, **more}


def test_the_current_grant_is_the_one_covering_now_that_ends_last():
    over, soon, later = (grant(f"2026-11-25T{h}:00:00+00:00") for h in ("09", "10", "12"))
    assert rules.current([over, later, soon], G, NOW) is later
    assert rules.current([over], G, NOW) is None


def record(*grants, member="U0LOCAL0003", status="active") -> dict:
    return {"username": "pete", "status": status, "slack_user": member, "grants": list(grants)}


def test_a_notice_is_due_within_its_minutes_of_the_end():
    soon = grant("2026-11-25T10:00:00+00:00", extensions=1)
    [due] = rules.notices_due([record(soon)], {G: POLICY}, NOW)
    assert due == {
        "username": "pete",
        "slack_user": "U0LOCAL0003",
        "group": G,
        "expires_at": "2026-11-25T10:00:00+00:00",
        "extensions_left": 1,
        "hours": 2,
        "approval": False,
    }
    later = grant("2026-11-25T10:11:00+00:00")  # 31 minutes on
    assert rules.notices_due([record(later)], {G: POLICY}, NOW) == []


def test_no_notice_without_a_member_a_policy_or_an_active_user():
    soon = grant("2026-11-25T10:00:00+00:00")
    assert rules.notices_due([record(soon, member="")], {G: POLICY}, NOW) == []
    assert rules.notices_due([record(soon)], {}, NOW) == []
    assert rules.notices_due([record(soon, status="suspended")], {G: POLICY}, NOW) == []
    # a later grant of the group holds it: the notice waits for that one's end
    held = grant("2026-11-25T13:00:00+00:00")
    assert rules.notices_due([record(soon, held)], {G: POLICY}, NOW) == []


# extensions the approvers decide: asked within the cap, marked, replayed, granted once
def test_an_extension_is_asked_only_within_the_grants_cap():
    held = [grant("2026-11-25T10:00:00+00:00", ticket="req-1", extensions=1)]
    assert rules.check_asked(POLICY, "pete", G, 2, held, NOW) == {
        "expires_at": "2026-11-25T10:00:00+00:00",
        "ticket": "req-1",
    }
    with pytest.raises(Forbidden, match="allows no extensions"):
        rules.check_asked(None, "pete", G, 2, held, NOW)
    with pytest.raises(BadRequest, match="at most 2 hours at a time"):
        rules.check_asked(POLICY, "pete", G, 3, held, NOW)
    with pytest.raises(Conflict, match="holds no time-bound access"):
        rules.check_asked(POLICY, "pete", G, 2, [grant("2026-11-25T09:00:00+00:00")], NOW)
    capped = [grant("2026-11-25T10:00:00+00:00", extensions=2)]
    with pytest.raises(Conflict, match="extended 2 time.s., the most its policy allows"):
        rules.check_asked(POLICY, "pete", G, 2, capped, NOW)


def test_an_extension_request_passes_the_check_of_a_group_already_held():
    from chalicelib.approvals import rules as requests

    held = {"status": "active", "groups": [], "grants": [grant("2026-11-25T10:00:00+00:00")]}
    with pytest.raises(Conflict, match="holds BreakGlassGroup already"):
        requests.check_user("pete", G, held)
    requests.check_user("pete", G, held, extending=True)
    member = {"status": "active", "groups": [G], "grants": []}
    with pytest.raises(Conflict, match="a member of BreakGlassGroup already"):
        requests.check_user("pete", G, member, extending=True)


def test_an_extension_request_says_what_it_extends_and_is_not_a_replay_of_a_request():
    from chalicelib.approvals import rules as requests

    new = requests.NewRequest(
        "pete", G, 2, "more time", "T-1", "slack:U0LOCAL0003", requester="U0LOCAL0003"
    )
    new.extend, new.extends = True, {"expires_at": "2026-11-25T10:00:00+00:00", "ticket": "req-1"}
    made = requests.create(new, policy(count=1, hours=2, approval=True), NOW)
    assert made["extends"] == new.extends
    assert requests.view(made)["extends"] == {"expires_at": "2026-11-25T10:00:00+00:00"}
    assert requests.same_request(made, new)
    new.extend = False
    assert not requests.same_request(made, new)
    new.extend, new.break_glass = True, True
    with pytest.raises(BadRequest, match="leave out break_glass"):
        bg = {G: {"approvers": ["U0LOCAL0001"], "break_glass": True}}
        requests.check_request(new, policies_from(bg, {G: 4})[G], {"status": "active"}, {})


def test_an_approved_extension_made_already_is_found_by_its_request_id():
    from chalicelib.approvals import rules as requests

    request = {"id": "req-2", "group": G}
    extended = grant("2026-11-25T12:00:00+00:00", extended_under=["req-2"])
    assert requests.made_extension(request, {"grants": [extended]}) == extended
    assert requests.made_extension(request, {"grants": [grant("x", extended_under=["r"])]}) is None
    assert requests.made_extension(request, None) is None
