"""The revocation document, exactly: conditions, merging, pruning and size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.revocation_policy import SIZE_LIMIT, prune, revoke, size

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
