"""What is kept for a person is theirs only while IAM holds them under the name (no moto)."""

from datetime import UTC, datetime

from chalicelib.kernel.identity import same_person
from chalicelib.reviews.leavers import offboarded_item

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_something_kept_for_another_userid_is_not_this_persons():
    assert same_person({"user_id": "AIDAOLD"}, "AIDAOLD")
    assert not same_person({"user_id": "AIDAOLD"}, "AIDANEW")


def test_what_was_kept_before_ids_were_or_while_nobody_holds_the_name_cannot_be_told_apart():
    assert same_person({"username": "pete"}, "AIDANEW")
    assert same_person(None, "AIDANEW")
    assert same_person({"user_id": "AIDAOLD"}, None)


def test_an_undecided_item_is_decided_by_the_offboarding_never_as_a_reviewers():
    item = {"id": "i1", "username": "pete", "group": "G", "reviewer": "U2", "version": 3}
    answer = {"sessions_revoked_in": ["222233334444"]}
    done = offboarded_item(item, "T-off", "hr", NOW, answer)
    assert done["decision"] == "revoke" and done["decided_by"] == "hr"
    assert done["offboarded"] == done["removal_ticket"] == "T-off"
    assert done["sessions_revoked_in"] == ["222233334444"] and done["removed_at"]
    assert "sessions_revocation_pending" not in done and done["version"] == 4


def test_a_reviewers_revoke_is_kept_and_an_owed_revocation_is_named():
    item = {"id": "i1", "username": "pete", "group": "G", "decision": "revoke"}
    item |= {"decided_by": "U2", "decided_at": "2026-12-01T00:00:00+00:00"}
    answer = {"sessions_revoked_in": [], "sessions_revocation_pending": {"2222": "unreachable"}}
    done = offboarded_item(item, "T-off", "hr", NOW, answer)
    assert done["decided_by"] == "U2" and done["decided_at"] == "2026-12-01T00:00:00+00:00"
    assert done["sessions_revocation_pending"] == {"2222": "unreachable"}
