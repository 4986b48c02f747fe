"""The revocation document, exactly: conditions, merging, pruning and size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.lifecycle.revocation_policy import (
    SIZE_LIMIT,
    combine,
    cutoff,
    denied_before,
    fit,
    fit_into,
    placeholder_document,
    prune,
    revoke,
    size,
    suspended_user_document,
)

HOUR = timedelta(hours=1)
T0 = datetime(2026, 11, 25, 10, 15, 42, tzinfo=UTC)


def test_one_person_denied_for_sessions_issued_before_the_next_minute():
    document = revoke(None, ["pete"], T0, HOUR)
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RevokeSessionsIssuedBefore20261125T101600Z",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "StringLike": {"aws:userid": ["*:pete"]},
                    "DateLessThan": {"aws:TokenIssueTime": "2026-11-25T10:16:00Z"},
                },
            }
        ],
    }


def test_a_moment_on_the_minute_is_not_moved():
    document = revoke(None, ["pete"], T0.replace(second=0, microsecond=0), HOUR)
    assert (
        document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        == "2026-11-25T10:15:00Z"
    )


def test_people_revoked_in_the_same_minute_share_a_statement():
    document = revoke(revoke(None, ["pete"], T0, HOUR), ["olga"], T0 + timedelta(seconds=10), HOUR)
    assert len(document["Statement"]) == 1
    assert document["Statement"][0]["Condition"]["StringLike"]["aws:userid"] == ["*:olga", "*:pete"]


def test_each_person_appears_once_with_their_latest_moment():
    first = revoke(None, ["pete", "olga"], T0, HOUR)
    later = revoke(first, ["pete"], T0 + timedelta(minutes=20), HOUR)
    by_time = {
        s["Condition"]["DateLessThan"]["aws:TokenIssueTime"]: s["Condition"]["StringLike"][
            "aws:userid"
        ]
        for s in later["Statement"]
    }
    assert by_time == {"2026-11-25T10:16:00Z": ["*:olga"], "2026-11-25T10:36:00Z": ["*:pete"]}


def test_statements_are_pruned_once_every_session_they_deny_has_expired():
    document = revoke(None, ["pete"], T0, HOUR)
    assert prune(document, T0 + timedelta(minutes=59), HOUR) == document
    assert prune(document, T0 + timedelta(minutes=61), HOUR) is None
    # pruning also happens while revoking someone else
    later = revoke(document, ["olga"], T0 + timedelta(hours=2), HOUR)
    assert [s["Condition"]["StringLike"]["aws:userid"] for s in later["Statement"]] == [["*:olga"]]


def test_statements_that_are_not_ours_are_kept():
    foreign = {"Sid": "KeepMe", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    document = revoke({"Version": "2012-10-17", "Statement": [foreign]}, ["pete"], T0, HOUR)
    assert document["Statement"][0] == foreign and len(document["Statement"]) == 2
    assert prune(document, T0 + 2 * HOUR, HOUR) == {"Version": "2012-10-17", "Statement": [foreign]}


def test_a_layoff_of_a_hundred_people_fits_far_below_the_limit():
    people = [f"person.number{i:03d}@example.com" for i in range(100)]
    document = None
    for i, name in enumerate(people):
        document = revoke(document, [name], T0 + timedelta(seconds=i / 2), HOUR)
    assert len(document["Statement"]) <= 2
    assert size(document) < SIZE_LIMIT / 2


# fail closed when room runs out
def _people(count: int, prefix: str = "person") -> list[str]:
    return [f"{prefix}.{n:04d}@example.com" for n in range(count)]


def _layoff(minutes: int, per_minute: int) -> dict | None:
    """``per_minute`` people revoked in each of ``minutes`` distinct minutes, unfitted."""
    document = None
    for minute in range(minutes):
        names = _people(per_minute, f"m{minute:03d}")
        document = revoke(document, names, T0 + timedelta(minutes=minute), 12 * HOUR)
    return document


def test_a_document_that_fits_is_left_as_it_is():
    document = _layoff(3, 2)
    assert fit(document) == (document, False)


def test_merging_moves_people_to_a_later_moment_never_an_earlier_one():
    document = _layoff(60, 3)  # 60 statements of 3 people: over the limit
    assert size(document) > SIZE_LIMIT
    fitted, role_cutoff = fit(document)
    assert not role_cutoff and size(fitted) <= SIZE_LIMIT
    assert len(fitted["Statement"]) < len(document["Statement"])
    for name in {n for m in range(60) for n in _people(3, f"m{m:03d}")}:
        # still denied, and for at least as long as before
        assert denied_before(fitted, name) >= denied_before(document, name)


def test_when_one_statement_cannot_hold_everyone_the_whole_role_is_cut_off():
    document = revoke(None, _people(400), T0, 12 * HOUR)  # one minute, 400 long names
    assert size(document) > SIZE_LIMIT
    fitted, role_cutoff = fit(document)
    assert role_cutoff
    assert fitted == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RevokeAllSessionsIssuedBefore20261125T101600Z",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-25T10:16:00Z"}},
            }
        ],
    }
    assert cutoff(fitted) == datetime(2026, 11, 25, 10, 16, tzinfo=UTC)
    # every person is denied by it, up to their own moment
    assert all(denied_before(fitted, name) == cutoff(fitted) for name in _people(400))
    assert denied_before(fitted, "never.revoked") == cutoff(fitted)  # the whole role's sessions


def test_after_a_cutoff_people_are_denied_one_by_one_again_and_it_is_pruned_in_time():
    fitted, _ = fit(revoke(None, _people(400), T0, HOUR))
    later = revoke(fitted, ["pete"], T0 + timedelta(minutes=5), HOUR)
    assert cutoff(later) is not None
    assert denied_before(later, "pete") == datetime(2026, 11, 25, 10, 21, tzinfo=UTC)
    assert "*:person.0001@example.com" not in json.dumps(later)  # covered by the cutoff
    pruned = prune(later, T0 + timedelta(minutes=61), HOUR)
    assert cutoff(pruned) is None and denied_before(pruned, "pete") is not None
    assert prune(later, T0 + timedelta(minutes=66), HOUR) is None


def test_a_revocation_owed_since_a_moment_keeps_that_moment():
    owed_since = T0 - timedelta(hours=2)
    document = revoke(None, ["pete"], T0, 12 * HOUR, before=owed_since)
    assert denied_before(document, "pete") == datetime(2026, 11, 25, 8, 16, tzinfo=UTC)


def test_the_suspended_users_deny_is_one_statement_denying_everything():
    assert suspended_user_document() == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "SuspendedUserDenyEverything", "Effect": "Deny", "Action": "*", "Resource": "*"}
        ],
    }


# more documents: the inline policy, then the overflow managed policies
def _moments(document: dict | None) -> dict[str, str]:
    """userid pattern -> the moment its sessions are denied before (the latest, if several)."""
    found: dict[str, str] = {}
    for item in (document or {}).get("Statement", []):
        moment = item["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        for userid in item["Condition"]["StringLike"]["aws:userid"]:
            found[userid] = max(moment, found.get(userid, moment))
    return found


def test_a_document_spreads_over_the_overflow_policies_exactly_within_their_room():
    import random

    rng = random.Random(7)
    for trial in range(40):
        document = None
        for minute in range(rng.randint(1, 60)):
            names = [
                f"p{trial}.{minute}.{n}.{'x' * rng.randint(1, 25)}"
                for n in range(rng.randint(1, 12))
            ]
            document = revoke(document, names, T0 + timedelta(minutes=minute), 12 * HOUR)
        rooms = [SIZE_LIMIT, 6_144, 6_144, 6_144]
        packed = fit_into(document, rooms)
        assert all(size(d) <= room for d, room in zip(packed.documents, rooms, strict=True))
        if not packed.role_cutoff:
            # nobody lost, nobody moved earlier
            was, now = _moments(document), _moments(combine(packed.documents))
            assert set(now) == set(was) and all(now[n] >= was[n] for n in was)
        if size(document) <= SIZE_LIMIT:
            assert packed.documents == [document, None, None, None]


def test_a_thousand_people_fit_in_four_documents_one_by_one():
    names = [f"firstname.lastname{n:04d}" for n in range(1000)]  # 22 characters each
    document = None
    for batch in range(50):  # 20 people every 15 minutes for 12 and a half hours
        document = revoke(
            document,
            names[batch * 20 : batch * 20 + 20],
            T0 + timedelta(minutes=15 * batch),
            13 * HOUR,
        )
    packed = fit_into(document, [SIZE_LIMIT, 6_144, 6_144, 6_144, 6_144])
    assert not packed.role_cutoff
    combined = combine(packed.documents)
    assert all(denied_before(combined, n) is not None for n in names)
    assert combine(packed.documents) is not None and cutoff(combined) is None


def test_combine_reads_the_placeholder_as_nothing():
    assert combine([None, placeholder_document(), placeholder_document()]) is None
    one = revoke(None, ["pete"], T0, HOUR)
    assert combine([one, placeholder_document()]) == one


def test_a_role_whose_other_denies_leave_no_room_is_owed_not_crashed():
    import pytest

    from chalicelib.kernel.errors import AppError

    foreign = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Theirs",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{'b' * 1200}",
            }
        ],
    }
    with pytest.raises(AppError):  # the revoker reports the account owed
        fit_into(revoke(foreign, ["pete"], T0, HOUR), [1024])
