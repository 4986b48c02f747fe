"""The rules of access reviews (chalicelib/reviews/rules.py), without moto: who reviews, who may
decide, what a close does to undecided items, and the evidence's check that revokes hold."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.kernel.errors import BadRequest, ConfigurationError, Conflict, Forbidden
from chalicelib.reviews import rules as rules
from chalicelib.reviews.settings import policy as review_policy
from chalicelib.settings import Settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = rules.Policy(
    owners={"Dev": ("U0OWNER0001", "U0OWNER0002")},
    operators=frozenset({"U0OPS000001"}),
)


SCOPE = rules.Scope("/managed/", frozenset({"break-glass-owner"}))


def user(name, *groups, member="", path="/managed/"):
    tags = {"slack_user": member} if member else {}
    return {"username": name, "groups": list(groups), "path": path, "tags": tags}


def campaign(users, records=None, groups=("Dev", "Ops")):
    return rules.create(
        ticket="T-1",
        requested_by="alice",
        groups=list(groups),
        due=date(2026, 12, 15),
        now=NOW,
        users=users,
        records=records or {},
        policy=POLICY,
        query={"api": rules.QUERY_API},
        scope=SCOPE,
    )


def test_the_reviewer_is_an_owner_never_the_person_under_review():
    assert rules.reviewer_for("Dev", "U0NOBODY001", POLICY) == "U0OWNER0001"
    assert rules.reviewer_for("Dev", "U0OWNER0001", POLICY) == "U0OWNER0002"
    assert rules.reviewer_for("Ops", "", POLICY) == "U0OPS000001"  # no owners: the operators
    assert rules.reviewer_for("Ops", "U0OPS000001", POLICY) == ""


def test_a_campaign_has_one_item_per_member_and_grant_and_counts_its_population():
    records = {
        "ana": {"username": "ana", "groups": [], "grants": [{"group": "Ops", "expires_at": "x"}]},
        "old": {"username": "old", "status": "offboarded"},
    }
    review, items = campaign(
        [user("pete", "Dev", member="U0OWNER0001"), user("ana", "Ops"), user("old", "Dev")],
        records,
    )
    # "old" is still in IAM and in Dev, whatever the record says: a member, reviewed.
    assert [(i["username"], i["group"], i["kind"]) for i in items] == [
        ("old", "Dev", "member"),
        ("pete", "Dev", "member"),
        ("ana", "Ops", "grant"),
    ]
    assert items[1]["reviewer"] == "U0OWNER0002" and items[1]["subject"] == "U0OWNER0001"
    assert review["population"]["count"] == 3 and review["population"]["users"] == 3
    assert review["id"] == rules.review_id("t-1")  # one campaign per ticket, in any case


def test_bad_starts_are_refused():
    today = NOW.date()
    with pytest.raises(BadRequest, match="after today"):
        rules.check_start(None, today, today, ("Dev",))
    with pytest.raises(BadRequest, match="unknown group"):
        rules.check_start(["Nope"], date(2027, 1, 1), today, ("Dev",))
    assert rules.check_start(None, date(2027, 1, 1), today, ("Dev", "Ops")) == ["Dev", "Ops"]
    assert rules.overlapping([{"id": "r", "status": "open", "groups": ["Dev"]}], ["Dev"]) == {
        "Dev": "r"
    }


def test_who_may_decide_and_when():
    review, [item] = campaign([user("pete", "Dev", member="U0PETE00001")], groups=["Dev"])
    with pytest.raises(Forbidden, match="your own access"):
        rules.check_decider(item, "U0PETE00001", POLICY)
    with pytest.raises(Forbidden, match="not yours"):
        rules.check_decider(item, "U0OWNER0002", POLICY)
    rules.check_decider(item, "U0OWNER0001", POLICY)
    rules.check_decider(item, "U0OPS000001", POLICY)  # an operator may decide any item
    decided = rules.decide(review, item, "revoke", "U0OWNER0001", NOW, POLICY)
    assert decided["decided_at"] == "2026-12-01T09:00:00+00:00" and rules.due_to_carry_out(decided)
    removed = rules.carried_out(decided, "review:x:y", NOW)
    with pytest.raises(Conflict, match="was removed"):
        rules.decide(review, removed, "keep", "U0OWNER0001", NOW, POLICY)
    closed = rules.close(review, NOW, "schedule")
    with pytest.raises(Conflict, match="closed"):
        rules.decide(closed, item, "keep", "U0OWNER0001", NOW, POLICY)
    escalated = rules.lapse(item, "escalate", NOW)
    with pytest.raises(Conflict, match="closed"):
        rules.decide(closed, escalated, "keep", "U0OWNER0001", NOW, POLICY)
    assert rules.decide(closed, escalated, "keep", "U0OPS000001", NOW, POLICY)["decision"] == "keep"


@pytest.mark.parametrize("mode", ["keep", "revoke"])
def test_undecided_items_lapse_as_the_setting_says(mode):
    _, [item] = campaign([user("pete", "Dev")], groups=["Dev"])
    lapsed = rules.lapse(item, mode, NOW)
    assert lapsed["decision"] == mode and lapsed["lapsed"] and lapsed["decided_by"] == "schedule"


def test_the_evidence_says_whether_each_revoke_holds_and_by_which_change_it_did_not():
    review, [item] = campaign([user("pete", "Dev")], groups=["Dev"])
    removed = rules.carried_out(
        rules.decide(review, item, "revoke", "U0OWNER0001", NOW, POLICY), "review:r:i", NOW
    )
    events = [
        {
            "at": "2026-12-01T09:00:00.100+00:00",
            "action": "move",
            "ticket": "review:r:i",
            "result": "ok",
        },
    ]
    shown = rules.evidence(review, [removed], {"pete": []}, {"pete": events}, NOW)
    assert (
        shown["check"]["every_revoke_holds"]
        and shown["items"][0]["audit"]["ticket"] == "review:r:i"
    )
    back = [
        *events,
        {"at": "2026-12-02T10:00:00+00:00", "action": "move", "ticket": "T-9", "result": "ok"},
    ]
    shown = rules.evidence(review, [removed], {"pete": ["Dev"]}, {"pete": back}, NOW)
    assert shown["check"]["every_revoke_holds"] is False
    assert "move T-9" in shown["items"][0]["check"]
    drift = rules.evidence(review, [removed], {"pete": ["Dev"]}, {"pete": events}, NOW)
    assert "drift" in drift["items"][0]["check"]
    assert shown["totals"]["revoked"] == shown["totals"]["carried_out"] == 1


def test_the_settings_read_owners_and_modes():
    env = {
        "ALLOWED_GROUPS": "Dev,Ops",
        "ROOT_ACCOUNT_ID": "123456789012",
        "SLACK_ALLOWED_USERS": "U0OPS000001",
        "REVIEW_OWNERS": '{"Dev": ["U0OWNER0001"]}',
        "REVIEW_CARRY_OUT": "at_close",
        "REVIEW_UNDECIDED": "revoke",
        "REVIEW_QUARTERLY": "true",
    }
    policy = review_policy(Settings.from_env(env))
    assert policy.owners == {"Dev": ("U0OWNER0001",)} and policy.operators == {"U0OPS000001"}
    assert (policy.carry_out, policy.undecided, policy.quarterly) == ("at_close", "revoke", True)
    for bad in (
        {"REVIEW_OWNERS": '{"Nope": ["U0OWNER0001"]}'},
        {"REVIEW_OWNERS": '{"Dev": ["pete"]}'},
        {"REVIEW_CARRY_OUT": "later"},
        {"REVIEW_UNDECIDED": "ignore"},
        {"REVIEW_CHANNEL": "#reviews"},
    ):
        with pytest.raises(ConfigurationError):
            review_policy(Settings.from_env({**env, **bad}))


def test_a_revoke_keeps_every_other_group_held_now_but_not_grants():
    record = {"groups": ["Dev"], "grants": [{"group": "Break", "expires_at": "x"}]}
    live = ["Dev", "Ops", "Break", "HandMade"]
    allowed = ("Dev", "Ops", "Break")
    # Ops was added by hand (not in the record): kept. Break is a grant: it ends on its own.
    assert rules.groups_after_revoke(live, record, "Dev", allowed) == ["Ops"]
    assert rules.groups_after_revoke(["Dev"], None, "Dev", allowed) == []


def test_members_outside_management_are_items_for_the_operators():
    backdoor = user("backdoor", "Dev", path="/")
    owner = user("break-glass-owner", "Dev")  # under the path, but protected
    review, items = campaign([backdoor, owner, user("pete", "Dev")], groups=["Dev"])
    shown = {i["username"]: i for i in items}
    assert shown["backdoor"]["outside"] == "path" and shown["backdoor"]["path"] == "/"
    assert shown["break-glass-owner"]["outside"] == "protected"
    assert "outside" not in shown["pete"]
    # Only an operator can remove them: an operator reviews them, not the group's owner.
    assert shown["backdoor"]["reviewer"] == shown["break-glass-owner"]["reviewer"] == "U0OPS000001"
    assert shown["pete"]["reviewer"] == "U0OWNER0001"
    # Unlinked, so a keep takes two: with one operator, the group's owner is the second.
    assert shown["backdoor"]["second_reviewer"] == "U0OWNER0001"
    assert review["population"]["outside"] == 2

    # A revoke of one is owed by hand, named, and the evidence never passes while it is.
    revoked = rules.decide(review, shown["backdoor"], "revoke", "U0OPS000001", NOW, POLICY)
    owed = rules.removal_owed(revoked)
    assert "remove-user-from-group --group-name Dev --user-name backdoor" in owed["removal_owed"]
    assert rules.owed([owed]) == [owed]
    outside_now = rules.outside_members([backdoor, owner], ["Dev"], SCOPE)
    shown_ev = rules.evidence(review, [owed], {"backdoor": ["Dev"]}, {}, NOW, outside_now)
    assert shown_ev["check"]["verdict"] == "ATTENTION"
    assert shown_ev["check"]["every_revoke_carried_out"] is False
    assert shown_ev["totals"]["owed_by_hand"] == 1
    # Recorded removed, the revoke holds; the protected owner kept in the group still is no PASS.
    done = rules.removed_by_hand(owed, "slack:U0OPS000001", "T-9", NOW)
    kept = rules.decide(review, shown["break-glass-owner"], "keep", "U0OPS000001", NOW, POLICY)
    after = rules.evidence(
        review, [done, kept], {"break-glass-owner": ["Dev"]}, {}, NOW, [outside_now[1]]
    )
    assert after["check"]["every_revoke_holds"] and after["check"]["verdict"] == "ATTENTION"
    assert "break-glass-owner in Dev: a protected user" in after["check"]["problems"][0]
    clean = rules.evidence(review, [done], {}, {}, NOW, [])
    assert clean["check"]["verdict"] == "PASS"
    # Only an operator (or the reviewer) records it, only for such a revoke.
    with pytest.raises(Forbidden):
        rules.check_recorder(owed, "U0OWNER0001", POLICY)
    rules.check_recorder(owed, "U0OPS000001", POLICY)
    with pytest.raises(Conflict, match="managed"):
        rules.check_recorder(
            rules.decide(review, shown["pete"], "revoke", "U0OPS000001", NOW, POLICY),
            "U0OPS000001",
            POLICY,
        )


def test_a_reviewer_never_decides_their_own_item_and_an_unlinked_keep_takes_two():
    review, items = campaign([user("olga", "Dev"), user("pete", "Dev", member="U0PETE00001")])
    olga, pete = items
    # The reviewer's own linked user is the item's user (in any spelling): refused.
    with pytest.raises(Forbidden, match="your own access"):
        rules.check_decider(olga, "U0OWNER0001", POLICY, member_user="OLGA")
    rules.check_decider(olga, "U0OWNER0001", POLICY, member_user="someone-else")
    # olga has no linked member: a second reviewer is assigned, and a keep takes both.
    assert (olga["reviewer"], olga["second_reviewer"]) == ("U0OWNER0001", "U0OWNER0002")
    assert "second_reviewer" not in pete
    rules.check_decider(olga, "U0OWNER0002", POLICY)  # the second one may decide
    first = rules.decide(review, olga, "keep", "U0OWNER0001", NOW, POLICY)
    assert "decision" not in first and rules.waits_for_second(first)
    assert rules.decide(review, first, "keep", "U0OWNER0001", NOW, POLICY) is first
    kept = rules.decide(review, first, "keep", "U0OWNER0002", NOW, POLICY)
    assert kept["decision"] == "keep" and kept["decided_by"] == "U0OWNER0002"
    assert rules.decide(review, kept, "keep", "U0OWNER0001", NOW, POLICY) is kept
    # A first keep never undoes a revoke waiting for the close; a revoke takes one reviewer.
    revoked = rules.decide(review, olga, "revoke", "U0OWNER0001", NOW, POLICY)
    assert revoked["decision"] == "revoke"
    assert rules.decide(review, revoked, "keep", "U0OWNER0001", NOW, POLICY)["decision"] == (
        "revoke"
    )
    # A linked user's keep is one reviewer's decision.
    assert rules.decide(review, pete, "keep", "U0OWNER0001", NOW, POLICY)["decision"] == "keep"
