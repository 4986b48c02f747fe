"""Time-bound grants counted per person and group (chalicelib/lifecycle/rules.py): a group goes
only when the last grant covering now has ended."""

from __future__ import annotations

from chalicelib.lifecycle import rules

NOW = "2026-11-25T10:00:00+00:00"
G = "BreakGlassGroup"


def grant(ticket: str, expires_at: str, group: str = G) -> dict:
    return {"group": group, "expires_at": expires_at, "ticket": ticket}


LONG = grant("T-1", "2026-11-25T13:00:00+00:00")
SHORT = grant("T-2", "2026-11-25T10:00:00+00:00")  # its expiry is now


def expired(g: dict) -> bool:
    return g["expires_at"] <= NOW


def test_a_grant_ending_beside_one_that_covers_now_takes_nothing_away():
    kept, ended, lost = rules.ending([LONG, SHORT], expired, [], NOW)
    assert (kept, ended, lost) == ([LONG], [SHORT], [])


def test_the_last_grant_ending_takes_the_group():
    kept, ended, lost = rules.ending([SHORT], expired, [], NOW)
    assert (kept, ended, lost) == ([], [SHORT], [G])


def test_a_membership_without_expiry_keeps_the_group():
    assert rules.ending([SHORT], expired, [G], NOW)[2] == []


def test_an_expired_grant_left_behind_ends_with_the_group_it_no_longer_holds():
    older = grant("T-0", "2026-11-25T09:00:00+00:00")
    kept, ended, lost = rules.ending([older, LONG], lambda g: g["ticket"] == "T-1", [], NOW)
    assert (kept, ended, lost) == ([], [older, LONG], [G])


def test_grants_of_other_groups_are_left_alone():
    other = grant("T-1", "2026-11-25T11:00:00+00:00", "OtherGroup")
    kept, ended, lost = rules.ending([other, SHORT], expired, [], NOW)
    assert (kept, ended, lost) == ([other], [SHORT], [G])


def test_a_caller_sees_each_group_once_until_its_last_grant_ends():
    other = grant("T-3", "2026-11-25T11:00:00+00:00", "AGroup")
    assert rules.shown_grants([SHORT, LONG, other]) == [
        {"group": "AGroup", "expires_at": "2026-11-25T11:00:00+00:00"},
        {"group": G, "expires_at": "2026-11-25T13:00:00+00:00"},
    ]


def test_covering_is_what_holds_the_group_now():
    assert rules.covering([LONG, SHORT], G, NOW) == [LONG]
