"""What an offboarding writes as its intent before removing anything, and what a later attempt
concludes from it: removed is what was meant to go and is gone now, never what was only tried in
case it was there."""

from __future__ import annotations

from chalicelib.lifecycle.offboarding import gone, known

USER = {"arn": "arn:aws:iam::123456789012:user/managed/pete", "boundary": None}
IDS = {
    "groups": ["ChildDeveloperGroup"],
    "access_keys": ["AKIA1"],
    "deleted_access_keys": ["AKIA1"],
    "login_profile": ["pete"],
    "mfa_devices": [],
    # tried in case the person began enabling a device and never finished
    "virtual_mfa_devices": ["arn:aws:iam::123456789012:mfa/pete"],
    "permissions_boundary": [],
    "user": ["pete"],
}


def test_the_intent_names_only_what_the_reads_showed():
    intent = known(IDS, USER, console=False)
    assert intent == {
        "groups": ["ChildDeveloperGroup"],
        "access_keys": ["AKIA1"],
        "deleted_access_keys": ["AKIA1"],
        "user": ["pete"],
    }
    assert known(IDS, USER, console=True)["login_profile"] == ["pete"]
    assigned = {**IDS, "mfa_devices": ["arn:aws:iam::123456789012:mfa/pete"]}
    assert known(assigned, USER, console=False)["virtual_mfa_devices"] == assigned["mfa_devices"]


def test_a_user_gone_means_all_of_the_intent_was_removed():
    intent = known(IDS, USER, console=True)
    assert known({}, None, console=False) == {}
    assert gone(intent, {}) == intent


def test_what_is_still_there_is_not_counted_removed():
    intent = known(IDS, USER, console=True)
    now = {**intent, "groups": []}  # the crashed attempt removed the membership only
    assert gone(intent, known(now, USER, console=True)) == {"groups": ["ChildDeveloperGroup"]}
